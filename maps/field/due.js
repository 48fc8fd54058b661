/* gridpatrol field app — the visits and inspections due, under the tasks: households due a visit (重点人员关怀)
 * with their residents, and inspections due nearest first once she has a position; a tap starts the visit sheet or
 * the inspection with its checklist. */

import { esc } from '/static/js/html.js';
import { $, S, buildingLabel, buildings, checklists, doneToday, inspKey, loc, metres, reasonLabel, shortDate,
  t } from './state.js';
import { visitBuilding } from './visits.js';
import { startInspection } from './inspect.js';

export function renderDue() {
  const d = S.today;
  const done = doneToday();
  const visits = (d && d.visits_due) || [];
  $('due-visits-title').hidden = !visits.length;
  $('due-visits').innerHTML = visits.map((v) => {
    const b = buildings().find((x) => x.id === v.building_id);
    const seen = done.households.includes(v.household_id);
    const people = (v.residents || []).map((r) => `<div class="person"><b>${esc(r.name)}</b>
      ${(r.reasons || []).map((x, k) => `<span class="tag reason">${esc(r.reason_labels && r.reason_labels[k] ?
        loc(r.reason_labels[k]) : reasonLabel(x))}</span>`).join('')}
      ${r.phone ? `<span class="muted">${esc(r.phone)}</span>` : ''}</div>`).join('');
    return `<li class="card due-visit${v.days_overdue > 0 && !seen ? ' overdue' : ''}" data-household="${v.household_id}">
      <div class="row"><b class="grow">${esc(buildingLabel(b || { label: v.building_label }))} · ${esc(v.room)}${S.lang === 'en' ? '' : esc(t('room'))}
      ${v.head_name ? ` · ${esc(v.head_name)}` : ''}</b>
      ${seen ? `<span class="done">✓ ${esc(t('visited_pending'))}</span>` :
        `<span class="tag ${v.days_overdue > 0 ? 'red' : ''}">${esc(t('days_overdue', v.days_overdue || 0))}</span>`}</div>
      ${people}
      ${seen ? '' : `<div class="row actions"><button type="button" class="small primary" data-visit-household="${v.household_id}">${esc(t('act_visit'))}</button></div>`}</li>`;
  }).join('');
  let insp = ((d && d.inspections_due) || []).map((x) => ({ x, dist: S.pos && x.lat != null ? metres(S.pos, x) : null }));
  insp = insp.filter(({ x }) => !done.inspected.includes(inspKey(x.checklist_code,
    { building_id: x.target === 'building' ? x.building_id : null, shop_code: x.shop_code,
      place_name: x.place_name || x.name })));
  if (S.pos) insp.sort((a, c) => (a.dist ?? 1e12) - (c.dist ?? 1e12));   // walking order; else the server's: most overdue
  $('due-insp-title').hidden = !insp.length;
  const shown = insp.slice(0, 20);
  $('due-inspections').innerHTML = shown.map(({ x, dist }, k) => {
    const b = x.building_id ? buildings().find((y) => y.id === x.building_id) : null;
    const name = x.target === 'building' && b ? buildingLabel(b) : x.name || x.shop_code || '';
    const target = x.target === 'building' ? `b${x.building_id}` : x.target === 'shop' ? `s${x.shop_code}` : `p${x.place_name || x.name}`;
    return `<li class="card row due-insp" data-due="${k}" data-target="${esc(target)}" data-checklist-code="${esc(x.checklist_code)}">
      <div class="grow"><b>${esc(name)}</b>
      <div class="muted">${esc(loc(x.title))}${dist != null ? ` · ${Math.round(dist)} m` : ''} ·
      ${esc(x.last_at ? t('last_at', shortDate(x.last_at)) : t('never'))}</div></div>
      ${x.days_overdue > 0 ? `<span class="tag red">${esc(t('days_overdue', x.days_overdue))}</span>` : ''}
      <button type="button" class="small primary" data-due="${k}">${esc(t('inspect'))}</button></li>`;
  }).join('') + (insp.length > shown.length ? `<li class="empty">${esc(t('more_n', insp.length - shown.length))}</li>` : '');
  renderDue.shown = shown.map(({ x }) => x);
  renderDue.withPos = !!S.pos;
}

export async function onDueClick(ev) {
  const hh = ev.target.closest('[data-visit-household]');
  if (hh) {
    const v = ((S.today && S.today.visits_due) || []).find((x) => x.household_id === +hh.dataset.visitHousehold);
    if (v) await visitBuilding(v.building_id, v.household_id);
    return;
  }
  const due = ev.target.closest('[data-due]');
  if (due) {
    const x = (renderDue.shown || [])[+due.dataset.due];
    if (!x) return;
    const tg = x.target === 'shop' ? { type: 'shop', shop_code: x.shop_code } : x.target === 'building' ?
      { type: 'building', building_id: x.building_id } :
      { type: 'place', place_name: x.place_name || x.name, lon: x.lon, lat: x.lat };
    const c = checklists().find((y) => y.id === x.checklist_id) || checklists().find((y) => y.code === x.checklist_code);
    await startInspection(tg, c ? c.id : null);
  }
}

