/* The desk's "打印二维码" button (ES module): the sticker dialog (static/js/stickers.js) for the caller's scope, one of
 * her communities or one of her grids — the choices are the queue filters' own (filled by queues.js). */
import { stickerDialog } from '/static/js/stickers.js';

const CONFIG = window.GRIDPATROL || { lang: 'zh' };
const LANG = CONFIG.lang === 'en' ? 'en' : 'zh';
const ALL = { zh: '我的辖区（全部）', en: 'My whole area' };
const COMMUNITY = { zh: '社区', en: 'Community' };
const GRID = { zh: '网格', en: 'Grid' };

function scopes() {
  const form = document.getElementById('filters');
  const out = [{ query: '', label: ALL[LANG] }];
  const add = (select, key, word) => {
    for (const o of (select ? select.options : [])) {
      if (o.value) out.push({ query: `${key}=${encodeURIComponent(o.value)}`, label: `${word[LANG]} · ${o.textContent}` });
    }
  };
  add(form && form.elements.community, 'community', COMMUNITY);
  add(form && form.elements.grid, 'grid', GRID);
  const chosen = form && form.elements.grid && form.elements.grid.value;
  if (chosen) out.unshift(...out.splice(out.findIndex((s) => s.query === `grid=${encodeURIComponent(chosen)}`), 1));
  return out;
}

const button = document.getElementById('print-qr');
if (button) button.addEventListener('click', () => stickerDialog({ lang: LANG, scopes: scopes() }));
