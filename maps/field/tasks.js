/* gridpatrol field app — the tasks screen: today's stops in walking order (handle, verify, revisit) with their
 * actions, each queued in the outbox with its photos and marked done on the phone until the day's data drops it;
 * below them the visits and inspections due (due.js). */

import { esc } from '/static/js/html.js';
import { $, S, buildingLabel, buildings, catName, here, stopKey, t } from './state.js';
import { store } from './store.js';
import { sheet, toast } from './ui.js';
import { centreOn, renderMap } from './map.js';
import { renderDue } from './due.js';
import { km } from './texts.js';

const ACT_KIND = { handle: ['accept', 'handle', 'persuade_fail'], verify: ['verify', 'rework'], revisit: ['still_fixed', 'reopen'] };

function stopActions(s) {
  if (s.kind === 'revisit') return ['still_fixed', 'reopen'];
  if (Array.isArray(s.actions)) return s.actions.filter((a) => ACT_KIND[s.kind].includes(a));
  if (s.kind === 'handle') return [s.status === 'accepted' ? 'handle' : 'accept'];
  return ['verify', 'rework'];
}

export function renderTasks() {
  const list = $('task-list');
  const d = S.today;
  const stops = (d && d.tasks && d.tasks.stops) || [];
  $('task-badge').hidden = !stops.length;
  $('task-badge').textContent = stops.length;
  renderDue();
  if (!d) { list.innerHTML = `<li class="empty">${esc(t('no_data'))}</li>`; return; }
  const r = d.tasks;
  $('route-info').textContent = r && r.length_m ? t('route', r.length_m, Math.max(1, Math.round((r.eta_s || 0) / 60))) : '';
  if (!stops.length) {
    const dueToo = (d.visits_due || []).length + (d.inspections_due || []).length;
    list.innerHTML = dueToo ? '' : `<li class="empty">${esc(t('no_tasks'))}</li>`;
    return;
  }
  list.innerHTML = stops.map((s) => {
    const key = stopKey(s);
    const done = S.pending[key];
    const due = s.deadline_at && s.kind !== 'revisit' ? new Date(s.deadline_at) : null;
    const dueText = due ? `${t('due')} ${due.toLocaleString(here(), { month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit' })}` : '';
    const b = s.building_id ? buildings().find((x) => x.id === s.building_id) : null;
    const buttons = done ? `<span class="done">✓ ${esc(t('pending'))}</span>` : stopActions(s).map((a) =>
      `<button type="button" class="small ${a === 'rework' || a === 'reopen' || a === 'persuade_fail' ? 'warn' : 'primary'}" data-act="${a}" data-key="${key}">${esc(t(`act_${a}`))}</button>`).join('');
    return `<li class="card stop-card kind-${s.kind}${s.overdue ? ' overdue' : ''}" data-key="${key}">
      <div class="row"><span class="num">${s.order || ''}</span>
        <span class="tag tag-${s.kind}">${esc(t(`kind_${s.kind}`))}</span>
        <b class="grow">${esc(catName(s.category))}</b>
        ${s.overdue ? `<span class="tag red">${esc(t('overdue'))}</span>` : ''}</div>
      <div class="muted">${esc(t('case_n', s.case_id))}${b || s.building_label ? ` · ${esc(buildingLabel(b || { label: s.building_label }))}` : ''}${s.address ? ` · ${esc(s.address)}` : ''}
        ${s.leg_m ? ` · ${esc(km(s.leg_m))}` : ''}</div>
      ${s.description ? `<div class="desc">${esc(s.description)}</div>` : ''}
      <div class="muted">${esc(dueText)}</div>
      <div class="row actions"><button type="button" class="small" data-show="${key}">${esc(t('show_on_map'))}</button>${buttons}</div>
    </li>`;
  }).join('');
}

function findStop(key) { return ((S.today && S.today.tasks.stops) || []).find((s) => stopKey(s) === key); }

export async function onTaskClick(ev) {
  const show = ev.target.closest('[data-show]');
  if (show) {
    const s = findStop(show.dataset.show);
    location.hash = '#map';
    setTimeout(() => centreOn(s.lat, s.lon, 18), 50);
    return;
  }
  const btn = ev.target.closest('[data-act]');
  if (!btn) return;
  const s = findStop(btn.dataset.key);
  const action = btn.dataset.act;
  const needNote = action === 'rework' || action === 'reopen';
  const res = await sheet({ title: `${t(`act_${action}`)} · ${t('case_n', s.case_id)}`, text: catName(s.category),
    note: true, noteRequired: needNote, notePlaceholder: needNote ? t('rework_note') : t('note_ph'),
    photos: action !== 'accept' });
  if (!res) return;
  const client_id = store.uuid();
  const where = S.pos ? { lat: S.pos.lat, lon: S.pos.lon } : {};
  if (s.kind === 'revisit') {
    await store.enqueue({ kind: 'revisit', revisit_id: s.revisit_id, case_id: s.case_id, client_id,
      body: Object.assign({ outcome: action, note: res.note || null, client_id }, where), summary: t('case_n', s.case_id) });
  } else {
    await store.enqueue({ kind: 'action', case_id: s.case_id, action, client_id,
      body: Object.assign({ note: res.note || null, client_id }, where), summary: t('case_n', s.case_id) });
  }
  for (const blob of res.photos) {
    await store.enqueue({ kind: 'photo', case_id: s.case_id, event_client_id: s.kind === 'revisit' ? null : client_id,
      blob, name: 'after.jpg', summary: t('case_n', s.case_id) });
  }
  S.pending[stopKey(s)] = action;
  await store.kv.put('pending', S.pending);
  toast(navigator.onLine ? t('saved') : t('saved_offline'));
  renderTasks();
  renderMap(false);
}

