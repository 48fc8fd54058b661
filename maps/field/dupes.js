/* gridpatrol field app — before a report is sent (online only): the open cases of the same category near the pin
 * (the server's duplicate rule, GET /api/v1/field/duplicates). She chooses 仍要上报 (send it as a new case) or
 * 补充到该案件 (her photos and note go to that case as a 补充 step, through the outbox like any action). */

import { esc } from '/static/js/html.js';
import { S, shortDate, t } from './state.js';
import { store } from './store.js';
import { api } from './auth.js';

const WAIT_MS = 4000;   // a slow network must not hold the report back: without an answer, it is sent as it is

async function nearbyCases(category, pin) {
  const q = new URLSearchParams({ category, lat: pin.lat.toFixed(7), lon: pin.lon.toFixed(7) });
  const timeout = new Promise((resolve) => setTimeout(() => resolve(null), WAIT_MS));
  try {
    const r = await Promise.race([api(`/api/v1/field/duplicates?${q}`), timeout]);
    if (!r || r.status !== 200) return [];
    return (await r.json()).cases || [];
  } catch (_) {
    return [];
  }
}

function dialog() {
  let dlg = document.getElementById('dupes');
  if (!dlg) {
    dlg = document.createElement('dialog');
    dlg.id = 'dupes';
    document.body.appendChild(dlg);
  }
  return dlg;
}

function caseItem(c) {
  const thumbs = c.photos.map((p) => `<img alt="" data-thumb="${esc(p.thumb)}">`).join('');
  return `<li class="card dupe"><div class="row"><b class="grow case-no">${esc(c.number)}</b>
      <span class="tag">${esc(t(`st_${c.status}`))}</span></div>
    <div class="muted">${esc(t('metres_away', Math.round(c.distance_m)))} · ${esc(shortDate(c.reported_at))}</div>
    ${c.description ? `<div class="desc">${esc(c.description)}</div>` : ''}
    ${thumbs ? `<div class="thumbs">${thumbs}</div>` : ''}
    ${c.can_supplement ? `<button type="button" class="primary" data-supplement="${c.id}">${esc(t('supplement_to'))}</button>`
    : `<div class="muted">${esc(t('not_your_grid'))}</div>`}</li>`;
}

/** The photos need her token: fetched, then shown from memory. */
async function showThumbs(el) {
  for (const img of el.querySelectorAll('img[data-thumb]')) {
    try {
      const r = await api(img.dataset.thumb);
      if (r.status === 200) img.src = URL.createObjectURL(await r.blob());
    } catch (_) { /* no picture: the number and the note say enough */ }
  }
}

/** Resolve with {action: 'report'} (send as a new case), {action: 'supplement', case} or null (back to the form).
 * Resolves at once with 'report' when offline or when nothing is near. */
export async function offerDuplicates(category, pin) {
  if (!navigator.onLine || !pin) return { action: 'report' };
  const cases = await nearbyCases(category, pin);
  if (!cases.length) return { action: 'report' };
  const dlg = dialog();
  dlg.innerHTML = `<h3>${esc(t('dupes_title', cases.length))}</h3><p class="muted">${esc(t('dupes_text'))}</p>
    <ul class="cards">${cases.map(caseItem).join('')}</ul>
    <div class="row two"><button type="button" data-back>${esc(t('back'))}</button>
    <button type="button" data-report>${esc(t('report_anyway'))}</button></div>`;
  return new Promise((resolve) => {
    const finish = (v) => { dlg.close(); resolve(v); };
    dlg.onclick = (ev) => {
      const b = ev.target.closest('button');
      if (!b) return;
      if (b.hasAttribute('data-back')) finish(null);
      else if (b.hasAttribute('data-report')) finish({ action: 'report' });
      else if (b.dataset.supplement) finish({ action: 'supplement', case: cases.find((c) => String(c.id) === b.dataset.supplement) });
    };
    dlg.oncancel = () => resolve(null);
    dlg.showModal();
    showThumbs(dlg);
  });
}

/** Queue a 补充 to an existing case: the action with its client id, then each photo attached to that step. */
export async function queueSupplement(target, note, photos) {
  const client_id = store.uuid();
  const summary = `${t('act_supplement')} · ${target.number}`;
  await store.enqueue({ kind: 'action', case_id: target.id, action: 'supplement', client_id,
    body: { note: note || null, client_id }, summary });
  for (const blob of photos) {
    await store.enqueue({ kind: 'photo', case_id: target.id, event_client_id: client_id, blob, name: 'supplement.jpg', summary });
  }
  S.lastSupplement = target.number;
}
