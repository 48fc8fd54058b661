/* gridpatrol field app — household visits (走访): the buildings nearest first (those with households due a visit
 * before them), and the check-in sheet with the household visited and the needs raised (民情台账), queued in the
 * outbox and marked visited on the phone. */

import { esc } from '/static/js/html.js';
import { $, S, buildingLabel, buildings, doneToday, metres, redraw, t, view } from './state.js';
import { store } from './store.js';
import { api } from './auth.js';
import { sheet, toast } from './ui.js';

export async function renderVisits() {
  const q = $('visit-search').value.trim().toLowerCase();
  const today = S.today ? S.today.date : null;
  if (S.visits.date !== today) S.visits = { date: today, ids: [] };
  $('visit-count').textContent = t('visited_today', S.visits.ids.length);
  let list = buildings().map((b) => ({ b, d: S.pos ? metres(S.pos, b) : null }));
  if (q) list = list.filter(({ b }) => `${b.name || ''} ${b.address || ''} ${b.id}`.toLowerCase().includes(q));
  list.sort((a, c) => (a.d ?? 1e12) - (c.d ?? 1e12) || a.b.id - c.b.id);
  // buildings with households due a visit first (重点人员关怀), then nearest
  const dueHere = {};
  const done = doneToday();
  for (const v of (S.today && S.today.visits_due) || []) {
    if (!done.households.includes(v.household_id)) dueHere[v.building_id] = (dueHere[v.building_id] || 0) + 1;
  }
  list.sort((a, c) => (dueHere[c.b.id] ? 1 : 0) - (dueHere[a.b.id] ? 1 : 0));
  list = list.slice(0, 40);
  $('visit-list').innerHTML = list.map(({ b, d }) => {
    const seen = S.visits.ids.includes(b.id);
    return `<li class="card row"><div class="grow"><b>${esc(buildingLabel(b))}</b><div class="muted">${esc(t('households', b.households || 0))}
      ${d != null ? ` · ${Math.round(d)} m` : ''}${dueHere[b.id] ? ` · <span class="tag red">${esc(t('due_here', dueHere[b.id]))}</span>` : ''}</div></div>
      ${seen ? `<span class="done">✓ ${esc(t('visited'))}</span>` : ''}
      <button type="button" class="small primary" data-visit="${b.id}">${esc(t('act_visit'))}</button></li>`;
  }).join('') || `<li class="empty">${esc(t('no_buildings'))}</li>`;
}

async function onVisitClick(ev) {
  const btn = ev.target.closest('[data-visit]');
  if (btn) await visitBuilding(+btn.dataset.visit, null);
}

/** The visit check-in sheet for a building, with the household visited (optional) and the needs raised. */
export async function visitBuilding(id, householdId) {
  const b = buildings().find((x) => x.id === id);
  if (!b) return;
  const res = await sheet({ title: `${t('act_visit')} · ${buildingLabel(b)}`, text: t('households', b.households || 0),
    note: true, notePlaceholder: t('note_ph'), photos: false, extra: visitExtra(id, householdId) });
  if (!res) return;
  const { household_id, needs } = res.extra;
  const client_id = store.uuid();
  const body = { client_id, building_id: id, time: new Date().toISOString(), note: res.note || null };
  if (household_id) body.household_id = household_id;
  if (needs.length) body.needs = needs;
  if (S.pos) Object.assign(body, { lat: S.pos.lat, lon: S.pos.lon });
  const due = household_id && ((S.today && S.today.visits_due) || []).find((v) => v.household_id === household_id);
  const summary = [buildingLabel(b), due ? `${due.room} ${due.head_name || ''}`.trim() : '',
    needs.length ? t('needs_n', needs.length) : ''].filter(Boolean).join(' · ');
  await store.enqueue({ kind: 'visit', client_id, body, patrol: S.patrol ? S.patrol.client_id : null, summary });
  if (S.visits.date !== (S.today ? S.today.date : null)) S.visits = { date: S.today ? S.today.date : null, ids: [] };
  S.visits.ids.push(id);
  await store.kv.put('visits', S.visits);
  if (household_id) {
    doneToday().households.push(household_id);
    await store.kv.put('done', S.done);
  }
  toast(navigator.onLine ? t('saved') : t('saved_offline'));
  if (view.current === 'visit') renderVisits();
  redraw('tasks', true);
}


const NEED_TYPES = ['education', 'medical', 'housing', 'jobs', 'elderly_care', 'other'];

/** The household and needs part of the visit sheet: households due here (known offline), all of the building's
 * households when online; needs as {type, detail} items, several per visit. */
function visitExtra(buildingId, householdId) {
  const st = { household: householdId || null, needs: [], type: null, list: [] };
  for (const v of (S.today && S.today.visits_due) || []) {
    if (v.building_id === buildingId) st.list.push({ id: v.household_id, room: v.room, head_name: v.head_name, due: v });
  }
  let el = null;
  const draw = () => {
    el.querySelector('#vx-hh').innerHTML = [{ id: null }, ...st.list].map((h) => `<label class="radio">
      <input type="radio" name="vx-hh" value="${h.id == null ? '' : h.id}" ${st.household === h.id ? 'checked' : ''}>
      <span>${h.id == null ? esc(t('no_household')) : `${esc(h.room)}${S.lang === 'en' ? '' : esc(t('room'))}${h.head_name ? ` · ${esc(h.head_name)}` : ''}`}</span>
      ${h.due ? `<small class="tag red">${esc(t('days_overdue', h.due.days_overdue || 0))}</small>` : ''}</label>`).join('');
    el.querySelector('#vx-types').innerHTML = NEED_TYPES.map((x) => `<button type="button" class="chip${st.type === x ? ' on' : ''}"
      data-need="${x}">${esc(t(`need_${x}`))}</button>`).join('');
    el.querySelector('#vx-needs').innerHTML = st.needs.map((n, k) => `<li class="row"><span class="tag">${esc(t(`need_${n.type}`))}</span>
      <span class="grow">${esc(n.detail)}</span><button type="button" class="small" data-rm-need="${k}">×</button></li>`).join('');
  };
  const add = () => {
    const detail = el.querySelector('#vx-detail').value.trim();
    if (!st.type) return t('need_type_first');
    if (!detail) return t('need_detail_first');
    st.needs.push({ type: st.type, detail });
    st.type = null;
    el.querySelector('#vx-detail').value = '';
    draw();
    return null;
  };
  return {
    render(container) {
      el = container;
      const owner = store.uuid();   // a later sheet reuses the container: a late answer must not draw into it
      container.dataset.owner = owner;
      el.innerHTML = `<fieldset><legend>${esc(t('household'))}</legend><div id="vx-hh" class="radios"></div></fieldset>
        <fieldset><legend>${esc(t('needs'))}</legend><div id="vx-types" class="chips"></div>
        <div class="row"><input id="vx-detail" class="grow" maxlength="2000" placeholder="${esc(t('need_detail'))}">
        <button type="button" class="small" id="vx-add">${esc(t('add'))}</button></div><ul id="vx-needs" class="needs"></ul></fieldset>`;
      el.onclick = (ev) => {
        const ty = ev.target.closest('[data-need]');
        if (ty) { st.type = ty.dataset.need; draw(); return; }
        const rm = ev.target.closest('[data-rm-need]');
        if (rm) { st.needs.splice(+rm.dataset.rmNeed, 1); draw(); return; }
        if (ev.target.closest('#vx-add')) $('sheet-error').textContent = add() || '';
      };
      el.onchange = (ev) => {
        if (ev.target.name === 'vx-hh') st.household = ev.target.value ? +ev.target.value : null;
      };
      draw();
      if (navigator.onLine) {
        api(`/api/v1/households?building_id=${buildingId}`).then(async (r) => {
          if (r.status !== 200 || container.dataset.owner !== owner) return;
          for (const h of await r.json()) {
            if (!st.list.some((x) => x.id === h.id)) st.list.push({ id: h.id, room: h.room, head_name: h.head_name });
          }
          if (container.dataset.owner === owner) draw();
        }).catch(() => { /* offline after all: the due households are enough */ });
      }
    },
    collect() {
      if (el.querySelector('#vx-detail').value.trim() || st.type) {
        const err = add();
        if (err) return { error: err };
      }
      if (st.needs.length && !st.household) return { error: t('needs_need_household') };
      return { value: { household_id: st.household, needs: st.needs.slice() } };
    },
  };
}


/** Listen to the visit screen's controls. */
export function wireVisits() {
  $('visit-list').addEventListener('click', onVisitClick);
  $('visit-search').addEventListener('input', renderVisits);
}
