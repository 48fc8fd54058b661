/* gridpatrol field app — 我的上报 (#mine): the reports she made, each with its case number, its state in plain words
 * and its latest step (what and when). Read from /api/v1/field/my-reports when online and kept in IndexedDB
 * (store.kv "mine") for offline use; reports still in the outbox are listed first as 待发送. Also the confirmation
 * after a report: the case number as soon as the server has given one. */

import { esc } from '/static/js/html.js';
import { $, S, catName, here, t, view } from './state.js';
import { store } from './store.js';
import { api } from './auth.js';

const PAGE = 50;

/** "12/5 09:30": the day and time of a step, in her language. */
function when(iso) {
  if (!iso) return '';
  return new Date(iso).toLocaleString(here(), { month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}
const REPORT_KINDS = new Set(['case', 'self_handled']);

function stepLabel(latest) {
  const key = `step_${latest.action}`;
  const own = t(key);
  return own && own !== key ? own : latest.label_zh;
}

function card(item) {
  const self = item.self_handled ? `<span class="tag ok">${esc(t('self_handled'))}</span>` : '';
  return `<li class="card mine" data-number="${esc(item.number || '')}"><div class="row">
      <b class="grow case-no">${esc(item.number || '—')}</b>
      <span class="tag st-${esc(item.status)}">${esc(t(`st_${item.status}`))}</span></div>
    <div>${esc(S.lang === 'en' ? item.category.en || item.category.zh : item.category.zh)} ${self}</div>
    <div class="muted">${esc(t('latest_step'))}${esc(stepLabel(item.latest))} · ${esc(when(item.latest.at))}</div>
    ${item.description ? `<div class="desc muted">${esc(item.description)}</div>` : ''}</li>`;
}

function queuedCard(q) {
  const self = q.kind === 'self_handled' ? ` <span class="tag ok">${esc(t('self_handled'))}</span>` : '';
  return `<li class="card mine queued"><div class="row"><b class="grow">${esc(t('not_sent'))}</b>
      <span class="tag">${esc(t('not_sent'))}</span></div>
    <div>${esc(catName(q.body.category))}${self}</div>
    <div class="muted">${esc(t('saved_at'))}${esc(when(q.created_at))}</div></li>`;
}

/** Draw the list from what the phone has: the queue (待发送) and the last list the server gave. */
export async function drawMine() {
  const [queued, kept] = await Promise.all([store.queued(), store.kv.get('mine')]);
  const waiting = queued.filter((q) => REPORT_KINDS.has(q.kind));
  const items = (kept && kept.items) || [];
  $('mine-list').innerHTML = waiting.map(queuedCard).join('') + items.map(card).join('') ||
    `<li class="empty">${esc(t('mine_empty'))}</li>`;
  $('mine-state').textContent = kept && kept.at ? t('mine_as_of', when(kept.at)) : '';
}

/** Fetch her reports (first page) and keep them; false when offline or the server did not answer. */
export async function refreshMine() {
  if (!navigator.onLine) return false;
  try {
    const r = await api(`/api/v1/field/my-reports?limit=${PAGE}`);
    if (r.status !== 200) return false;
    const data = await r.json();
    await store.kv.put('mine', { items: data.items, total: data.total, at: new Date().toISOString() });
    return true;
  } catch (_) {
    return false;
  }
}

export async function renderMine() {
  await drawMine();
  if (await refreshMine() && view.current === 'mine') await drawMine();
}

// ------------------------------------------------------------------------------------------ the confirmation

function showDone(html) {
  const el = $('report-done');
  el.innerHTML = `${html}<div class="row"><a href="#mine" class="grow">${esc(t('mine'))} ›</a>
    <button type="button" class="small" data-close>${esc(t('dismiss'))}</button></div>`;
  el.hidden = false;
  el.scrollIntoView({ block: 'start' });
  el.querySelector('[data-close]').onclick = () => { el.hidden = true; };
}

/** After a report was queued: say so, and once the server has numbered the case (online: within seconds), show
 * its number. Offline the number comes in 我的上报 after the sync. */
export async function confirmReport(clientId, { selfHandled = false, supplementTo = null } = {}) {
  if (supplementTo) {
    showDone(`<b>${esc(t('supplemented', supplementTo))}</b>`);
    return;
  }
  const what = selfHandled ? t('self_handled_saved') : t('saved');
  if (!navigator.onLine) {
    showDone(`<b>${esc(what)}</b><div class="muted">${esc(t('number_after_sync'))}</div>`);
    return;
  }
  showDone(`<b>${esc(what)}</b><div class="muted" id="done-number">${esc(t('number_waiting'))}</div>`);
  for (let i = 0; i < 60; i++) {
    if (await store.ids.get(clientId) !== undefined) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  await refreshMine();
  const kept = await store.kv.get('mine');
  const item = kept && kept.items.find((x) => x.client_id === clientId);
  const el = $('done-number');
  if (!el) return;
  if (item) {
    el.outerHTML = `<div class="case-number">${esc(t('case_number'))}<b class="case-no" id="done-number-value">${esc(item.number)}</b></div>`;
  } else {
    el.textContent = t('number_after_sync');
  }
}
