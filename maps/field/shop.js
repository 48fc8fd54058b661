/* gridpatrol field app — a shop's page (#shop/<code>, what the QR on its door opens, 一户一码): its name, code and
 * building, its inspection history with the findings and their cases (online), and a button to inspect it. */

import { esc } from '/static/js/html.js';
import { localised } from '/static/js/i18n.js';
import { $, S, SHOP_CODE, buildingLabel, buildings, checklists, here, loc, shopByCode, shortDate, t, view } from './state.js';
import { api } from './auth.js';
import { startInspection } from './inspect.js';

let shopSeq = 0;
export async function renderShop() {
  const code = S.shopCode || '';
  const seq = ++shopSeq;
  const cached = shopByCode(code);
  const pane = $('shop-view');
  const head = (sh) => {
    const b = sh.building_id ? buildings().find((x) => x.id === sh.building_id) : null;
    return `<div class="card"><h2>${esc(sh.name)}</h2><div class="muted">${esc(t('shop_code'))} <b class="code">${esc(sh.code)}</b>
      ${sh.kind ? ` · ${esc(localised(sh.kind_name, S.lang) || sh.kind)}` : ''}${b ? ` · ${esc(buildingLabel(b))}` : ''}</div>
      <div class="muted">${esc(sh.last_inspection_at ? t('last_at', shortDate(sh.last_inspection_at)) : t('never'))}
      ${sh.open_findings ? ` · <span class="tag red">${esc(t('open_findings', sh.open_findings))}</span>` : ''}</div>
      <button type="button" class="primary big" id="shop-inspect" data-code="${esc(sh.code)}">${esc(t('inspect_shop'))}</button></div>`;
  };
  if (!SHOP_CODE.test(code) && !cached) {
    pane.innerHTML = `<p class="card problem">${esc(t('shop_not_found', code))}</p>`;
    return;
  }
  pane.innerHTML = (cached ? head(cached) : '') + `<h3 class="section">${esc(t('history'))}</h3>
    <p class="muted" id="shop-history-state">${esc(navigator.onLine ? t('loading') : t('history_offline'))}</p>`;
  if (!navigator.onLine) {
    if (!cached) pane.innerHTML = `<p class="card problem">${esc(t('shop_unknown_offline', code))}</p>`;
    return;
  }
  let r;
  try { r = await api(`/api/v1/shops/${encodeURIComponent(code)}`); } catch (_) { r = null; }
  if (seq !== shopSeq || view.current !== 'shop') return;
  if (!r) {
    if (cached) $('shop-history-state').textContent = t('history_offline');
    else pane.innerHTML = `<p class="card problem">${esc(t('shop_unknown_offline', code))}</p>`;
    return;
  }
  if (r.status === 404 || r.status === 422) {
    pane.innerHTML = `<p class="card problem">${esc(t('shop_not_found', code))}</p>`;
    return;
  }
  if (r.status !== 200) {
    let msg = `HTTP ${r.status}`;
    try { msg = (await r.json()).message || msg; } catch (_) { /* not JSON */ }
    pane.innerHTML = (cached ? head(cached) : '') + `<p class="card problem">${esc(t('refused'))}${esc(msg)}</p>`;
    return;
  }
  const data = await r.json();
  const sh = Object.assign({}, cached || {}, data.shop || data);
  const rows = (data.inspections || []).map((i) => {
    const c = checklists().find((x) => x.code === i.checklist || x.id === i.checklist_id);
    const title = i.title ? loc(i.title) : c ? loc(c.title) : loc(i.checklist);
    const findings = (i.findings || []).map((f) => `<li><span class="grow">✗ ${esc(loc(f.text) || f.item)}</span>
      ${f.case_id ? `<span class="muted">${esc(t('case_n', f.case_id))}</span>` : ''}
      ${f.case_status ? `<span class="tag ${f.case_status === 'closed' ? '' : 'red'}">${esc(t(`st_${f.case_status}`))}</span>` : ''}</li>`).join('');
    return `<li class="card" data-inspection="${i.id}"><div class="row"><b class="grow">${esc(title)}</b>
      <small class="muted">${esc(i.version ? t('version', i.version) : '')}</small></div>
      <div class="row"><span class="muted grow">${esc(new Date(i.at).toLocaleString(here()))}</span>
      <span class="tag ${i.failed ? 'red' : 'ok'}">${esc(i.failed ? t('failing_n', i.failed) : t('all_ok'))}</span></div>
      ${findings ? `<ul class="findings">${findings}</ul>` : ''}</li>`;
  }).join('');
  pane.innerHTML = head(sh) + `<h3 class="section">${esc(t('history'))}</h3>` +
    (rows ? `<ul class="cards" id="shop-history">${rows}</ul>` : `<p class="muted">${esc(t('no_history'))}</p>`);
  S.shopSeen = sh;
}

export async function onShopClick(ev) {
  const b = ev.target.closest('#shop-inspect');
  if (!b) return;
  await startInspection({ type: 'shop', shop_code: b.dataset.code });
}

