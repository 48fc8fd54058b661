/* The "打印二维码" dialog of the desk and the planner (ES module): what to print (building or grid QR stickers, the
 * grid workers' public cards), for which grid or community, PDF or SVG; downloads GET /api/v1/stickers and says in
 * the page's language what went wrong when the server refuses. */
import { esc } from './html.js';

const T = {
  zh: { title: '打印二维码', kind: '内容', buildings: '楼栋二维码（每栋一张）', grids: '网格二维码（每个网格一张）',
    cards: '网格员公示牌', scope: '范围', format: '格式', pdf: 'PDF（A4，含裁切线）', svg: 'SVG（每页一个文件）',
    download: '下载', cancel: '取消', working: '正在生成…', done: '已下载：{0} 页，{1} 张',
    hint: '二维码指向居民上报页面，扫码即可反映问题，无需下载APP。', error: '无法生成' },
  en: { title: 'Print QR codes', kind: 'What', buildings: 'Building stickers (one per building)',
    grids: 'Grid stickers (one per grid)', cards: "Grid workers' public cards", scope: 'For', format: 'Format',
    pdf: 'PDF (A4, with cut marks)', svg: 'SVG (a file per page)', download: 'Download', cancel: 'Cancel',
    working: 'Preparing…', done: 'Downloaded: {0} pages, {1} items',
    hint: 'The codes open the residents\' report page: scan and report, no app needed.', error: 'Could not print' },
};

function filename(response, fallback) {
  const m = /filename="([^"]+)"/.exec(response.headers.get('content-disposition') || '');
  return m ? m[1] : fallback;
}

/** Open the dialog. ``scopes``: [{query: 'grid=…' | 'community=…' | '', label}], the first one chosen. */
export function stickerDialog({ lang = 'zh', scopes = [{ query: '', label: '' }], kind = 'buildings' } = {}) {
  const t = T[lang === 'en' ? 'en' : 'zh'];
  const old = document.getElementById('sticker-dialog');
  if (old) old.remove();
  const d = document.createElement('dialog');
  d.id = 'sticker-dialog';
  d.className = 'sticker-dialog';
  d.setAttribute('aria-labelledby', 'sticker-title');
  const options = (items) => items.map(([v, l]) => `<option value="${esc(v)}">${esc(l)}</option>`).join('');
  d.innerHTML = `<form method="dialog">
    <h2 id="sticker-title">${esc(t.title)}</h2>
    <p class="muted">${esc(t.hint)}</p>
    <label>${esc(t.kind)} <select name="kind">${options([['buildings', t.buildings], ['grids', t.grids], ['cards', t.cards]])}</select></label>
    <label>${esc(t.scope)} <select name="scope">${options(scopes.map((s) => [s.query, s.label]))}</select></label>
    <fieldset><legend>${esc(t.format)}</legend>
      <label><input type="radio" name="format" value="pdf" checked> ${esc(t.pdf)}</label>
      <label><input type="radio" name="format" value="svg"> ${esc(t.svg)}</label></fieldset>
    <p class="sticker-status" role="status" aria-live="polite"></p>
    <div class="sticker-buttons"><button type="submit" value="download" class="primary">${esc(t.download)}</button>
      <button type="submit" value="cancel" formnovalidate>${esc(t.cancel)}</button></div></form>`;
  document.body.appendChild(d);
  const form = d.querySelector('form');
  form.elements.kind.value = kind;
  const status = d.querySelector('.sticker-status');
  form.addEventListener('submit', async (ev) => {
    if (!ev.submitter || ev.submitter.value !== 'download') return;  // cancel closes the dialog
    ev.preventDefault();
    const q = new URLSearchParams({ kind: form.elements.kind.value, format: form.elements.format.value, lang });
    for (const [k, v] of new URLSearchParams(form.elements.scope.value)) q.set(k, v);
    status.textContent = t.working;
    status.className = 'sticker-status';
    const headers = { 'Accept-Language': lang };
    const token = localStorage.getItem('gridpatrol.token');
    if (token) headers.Authorization = `Bearer ${token}`;
    try {
      const r = await fetch(`/api/v1/stickers?${q}`, { headers, credentials: 'same-origin' });
      if (!r.ok) {
        const body = await r.json().catch(() => ({}));
        throw new Error(body.message || `HTTP ${r.status}`);
      }
      const link = document.createElement('a');
      link.href = URL.createObjectURL(await r.blob());
      link.download = filename(r, `stickers.${q.get('format')}`);
      document.body.appendChild(link);
      link.click();
      link.remove();
      status.textContent = t.done.replace('{0}', r.headers.get('x-pages') || '?').replace('{1}', r.headers.get('x-items') || '?');
    } catch (e) {
      status.textContent = `${t.error}: ${e.message}`;
      status.className = 'sticker-status error';
    }
  });
  d.showModal();
  return d;
}
