/* /desk: the caller's queues (待办) as tabs with count badges, the table of the selected queue (sorted, filtered and
 * paged by the server), selection with a bulk bar (立案 / 不予立案 / 派遣), per-case results, live counts through
 * Server-Sent Events (GET /api/v1/desk/events) with a 30 s poll when the stream fails. Never shows database ids:
 * a row's id is only the key sent back for an action. */

import { CONFIG, LANG, api, caseLink, errorHtml, esc, hoursText, label, when } from '/static/js/desk/api.js';

const T = CONFIG.text || {};
const EMPTY = CONFIG.empty || {};
const SORTABLE = ['reported_at', 'deadline_at', 'category', 'grid'];
const state = {
  queues: [], filters: {}, tab: null, sort: 'reported_at', order: 'asc', offset: 0, limit: 50,
  rows: [], total: 0, selected: new Set(), units: null, query: {},
};
const $ = (sel) => document.querySelector(sel);
const fmt = (s, vars) => String(s || '').replace(/\{(\w+)\}/g, (_, k) => (k in vars ? vars[k] : ''));
const qlabel = (q) => (LANG === 'en' ? q.label_en : q.label_zh);
const showCommunity = () => ['subdistrict', 'admin'].includes(CONFIG.role);

// ------------------------------------------------------------------------------------------------ tabs and counts

function renderTabs() {
  const tabs = $('#tabs');
  tabs.innerHTML = state.queues.map((q) => {
    const on = q.name === state.tab;
    const hot = q.count > 0 && ['overdue', 'returned', 'escalated', 'escalated_subdistrict', 'rework'].includes(q.name);
    return `<button type="button" role="tab" id="tab-${esc(q.name)}" data-queue="${esc(q.name)}"
      aria-selected="${on}" aria-controls="panel" tabindex="${on ? 0 : -1}">${esc(qlabel(q))}
      <span class="badge${hot ? ' hot' : ''}" data-count="${esc(q.name)}">${esc(q.count)}</span></button>`;
  }).join('');
  $('#panel').setAttribute('aria-labelledby', `tab-${state.tab}`);
}

function setCounts(counts) {
  let changed = false;
  for (const q of state.queues) {
    if (q.name in counts && counts[q.name] !== q.count) {
      if (q.name === state.tab) changed = true;
      q.count = counts[q.name];
      const badge = document.querySelector(`[data-count="${q.name}"]`);
      if (badge) badge.textContent = String(q.count);
    }
  }
  if (changed) loadRows();
}

function onTabKey(e) {
  const names = state.queues.map((q) => q.name);
  const i = names.indexOf(state.tab);
  let j = null;
  if (e.key === 'ArrowRight') j = (i + 1) % names.length;
  else if (e.key === 'ArrowLeft') j = (i - 1 + names.length) % names.length;
  else if (e.key === 'Home') j = 0;
  else if (e.key === 'End') j = names.length - 1;
  if (j === null) return;
  e.preventDefault();
  selectTab(names[j]);
  document.getElementById(`tab-${names[j]}`).focus();
}

function selectTab(name) {
  state.tab = name;
  state.offset = 0;
  state.selected.clear();
  $('#results').innerHTML = '';
  const url = new URL(location.href);
  url.searchParams.set('tab', name);
  history.replaceState(null, '', url);
  renderTabs();
  loadRows();
}

// ------------------------------------------------------------------------------------------------ filters

function fillFilters() {
  const f = state.filters || {};
  const form = $('#filters');
  const opts = (sel, items) => { form.elements[sel].insertAdjacentHTML('beforeend', items.join('')); };
  opts('grid', (f.grids || []).map((g) => `<option value="${esc(g.code)}">${esc(g.name)}</option>`));
  opts('category', (f.categories || []).map((c) => `<option value="${esc(c.code)}">${esc(LANG === 'en' ? c.name_en : c.name_zh)}</option>`));
  opts('channel', Object.entries((CONFIG.labels || {}).channel || {}).map(([k, v]) => `<option value="${esc(k)}">${esc(v)}</option>`));
  if (showCommunity() && (f.communities || []).length) {
    $('#community-filter').hidden = false;
    opts('community', f.communities.map((c) => `<option value="${esc(c.code)}">${esc(c.name)}</option>`));
  }
  if (!(f.grids || []).length) form.elements.grid.closest('label').hidden = true;
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    state.query = Object.fromEntries([...new FormData(form)].filter(([, v]) => v));
    state.offset = 0;
    loadRows();
  });
  form.addEventListener('reset', () => { setTimeout(() => { state.query = {}; state.offset = 0; loadRows(); }); });
}

// ------------------------------------------------------------------------------------------------ the table

async function loadRows() {
  const params = new URLSearchParams({ ...state.query, sort: state.sort, order: state.order,
    limit: String(state.limit), offset: String(state.offset) });
  const tab = state.tab;
  try {
    const page = await api(`/api/v1/desk/queues/${encodeURIComponent(tab)}?${params}`);
    if (tab !== state.tab) return;
    state.rows = page.rows;
    state.total = page.total;
    state.bulk = page.bulk;
    const keep = new Set(page.rows.map((r) => r.id));
    for (const id of [...state.selected]) if (!keep.has(id)) state.selected.delete(id);
    renderTable();
  } catch (e) {
    $('#table').innerHTML = errorHtml(e);
  }
}

function sortHeader(key, text) {
  const on = state.sort === key;
  const arrow = on ? (state.order === 'asc' ? ' ▲' : ' ▼') : '';
  const aria = on ? (state.order === 'asc' ? 'ascending' : 'descending') : 'none';
  return `<th aria-sort="${aria}"><button type="button" class="sort" data-sort="${key}" title="${esc(T.sort_by)}">${esc(text)}${arrow}</button></th>`;
}

function clock(r) {
  if (r.urgency === 'stopped') return `<span class="clock stopped">${esc(LANG === 'en' ? 'suspended' : '缓办停表')}</span>`;
  if (r.hours_left == null) return '';
  // overdue with no working time gone yet (a weekend, the night): "已超期", not "剩 0.0 工时"
  const text = r.urgency === 'red' && r.hours_left > -0.05 ? (LANG === 'en' ? 'overdue' : '已超期')
    : hoursText(r.hours_left);
  return `<span class="clock ${esc(r.urgency || '')}">${esc(text)}</span>`;
}

function tasksCell(r) {
  if (!r.tasks) return '';
  return r.tasks.map((t) => {
    const st = t.late ? T.late : (t.reported_in ? T.reported_in : T.waiting);
    return `<span class="task ${t.late ? 'late' : (t.reported_in ? 'in' : '')}">${esc(t.unit)}·${esc(st)}</span>`;
  }).join(' ');
}

function rowHtml(r, bulk, tasks) {
  const cat = LANG === 'en' ? r.category_en : r.category_zh;
  const place = [r.grid !== r.address ? r.grid : null, showCommunity() ? r.community : null].filter(Boolean).join(' · ');
  const check = bulk ? `<td><input type="checkbox" class="pick" data-id="${esc(r.id)}" ${state.selected.has(r.id) ? 'checked' : ''}
    aria-label="${esc(T.select)} ${esc(r.number)}"></td>` : '';
  return `<tr>${check}<td class="num">${caseLink(r.number)}</td><td>${esc(cat)}</td>
    <td>${esc(r.address || '')}<br><small>${esc(place)}</small></td>
    <td>${esc(label('status', r.status))}<br><small>${esc(label('level', r.level))}</small></td>
    <td>${esc(label('channel', r.channel))}${r.order_no || r.phone ? `<br><small>${esc(r.order_no || r.phone)}</small>` : ''}</td><td>${esc(when(r.reported_at))}</td>
    <td>${esc(when(r.deadline_at))}<br>${clock(r)}</td><td>${esc(r.unit || '')}</td>
    <td>${r.urges ? `<span class="badge hot">${esc(r.urges)}</span>` : ''}</td>
    ${tasks ? `<td>${tasksCell(r)}</td>` : ''}</tr>`;
}

function renderTable() {
  const q = state.queues.find((x) => x.name === state.tab) || {};
  const bulk = (state.bulk || []).length > 0;
  const tasks = state.rows.some((r) => r.tasks);
  if (!state.rows.length) {
    const filtered = Object.keys(state.query).length > 0;
    $('#table').innerHTML = `<div class="empty" role="status"><strong>${esc(qlabel(q))}</strong>：${esc(EMPTY[state.tab] || '')}
      ${filtered ? `<br>${esc(LANG === 'en' ? 'Filters are on: clear them to see every case of this queue.' : '已设置筛选条件：清除筛选可查看本队列全部案件。')}` : ''}</div>`;
    $('#pager').innerHTML = '';
    renderBulk();
    return;
  }
  const allOn = state.rows.every((r) => state.selected.has(r.id));
  $('#table').innerHTML = `<table><caption class="sr">${esc(qlabel(q))}</caption><thead><tr>
    ${bulk ? `<th><input type="checkbox" id="pick-all" aria-label="${esc(T.select_all)}" ${allOn ? 'checked' : ''}></th>` : ''}
    <th>${esc(T.number)}</th>${sortHeader('category', T.category)}${sortHeader('grid', T.address)}
    <th>${esc(T.status)}</th><th>${esc(T.channel)}</th>${sortHeader('reported_at', T.reported_at)}
    ${sortHeader('deadline_at', T.deadline_at)}<th>${esc(T.unit)}</th><th>${esc(T.urges)}</th>
    ${tasks ? `<th>${esc(T.tasks)}</th>` : ''}</tr></thead>
    <tbody>${state.rows.map((r) => rowHtml(r, bulk, tasks)).join('')}</tbody></table>`;
  const from = state.offset + 1;
  const to = state.offset + state.rows.length;
  $('#pager').innerHTML = `<button type="button" data-page="-1" ${state.offset <= 0 ? 'disabled' : ''}>${esc(T.prev)}</button>
    <span>${esc(fmt(T.page, { from, to, total: state.total }))}</span>
    <button type="button" data-page="1" ${to >= state.total ? 'disabled' : ''}>${esc(T.next)}</button>`;
  renderBulk();
}

// ------------------------------------------------------------------------------------------------ bulk actions

function renderBulk() {
  const bar = $('#bulkbar');
  const actions = state.bulk || [];
  if (!actions.length || !state.rows.length) { bar.hidden = true; bar.innerHTML = ''; return; }
  bar.hidden = false;
  const n = state.selected.size;
  const parts = [`<span class="count" aria-live="polite">${esc(fmt(T.selected, { n }))}</span>`];
  for (const a of actions) {
    if (a === 'reject') {
      parts.push(`<label>${esc(T.reason)} <input id="reject-note" maxlength="2000" size="18"></label>`);
    }
    if (a === 'dispatch') {
      const units = (state.units || []).map((u) => `<option value="${esc(u.id)}">${esc(u.name)}</option>`).join('');
      parts.push(`<label>${esc(T.to)} <select id="dispatch-unit"><option value="">${esc(T.auto_unit)}</option>${units}</select></label>`);
    }
    parts.push(`<button type="button" class="${a === 'reject' ? '' : 'primary'}" data-bulk="${esc(a)}" ${n ? '' : 'disabled'}>${esc(label('action', a))}</button>`);
  }
  bar.innerHTML = parts.join(' ');
  if (actions.includes('dispatch') && state.units === null) loadUnits();
}

async function loadUnits() {
  state.units = [];
  try { state.units = await api('/api/v1/desk/units'); } catch (e) { state.units = []; }
  renderBulk();
}

async function runBulk(action) {
  const body = { action, cases: [...state.selected] };
  if (action === 'reject') {
    const note = ($('#reject-note') || {}).value || '';
    if (!note.trim()) {
      $('#results').innerHTML = `<div class="error" role="alert">${esc(T.reason_needed)}</div>`;
      $('#reject-note').focus();
      return;
    }
    body.note = note.trim();
  }
  if (action === 'dispatch') {
    const unit = ($('#dispatch-unit') || {}).value;
    if (unit) body.unit_id = Number(unit);
  }
  for (const b of document.querySelectorAll('[data-bulk]')) b.disabled = true;
  try {
    const out = await api('/api/v1/desk/bulk', { method: 'POST', body });
    showResults(action, out);
    state.selected.clear();
  } catch (e) {
    $('#results').innerHTML = errorHtml(e);
  }
  await refreshCounts();
  await loadRows();
}

function showResults(action, out) {
  const items = out.results.map((r) => `<li class="${r.ok ? 'ok' : 'refused'}">${r.number ? caseLink(r.number) : '—'}
    ${esc(r.ok ? `${T.ok}：${label('status', r.status)}` : `${T.refused}：${r.message || r.code}`)}</li>`).join('');
  $('#results').innerHTML = `<div class="results" role="status"><strong>${esc(T.results)} · ${esc(label('action', action))}</strong>
    ${esc(`${T.ok} ${out.done} / ${T.refused} ${out.refused}`)}<ul>${items}</ul></div>`;
}

// ------------------------------------------------------------------------------------------------ live counts

async function refreshCounts() {
  try {
    const data = await api('/api/v1/desk/queues');
    setCounts(Object.fromEntries(data.queues.map((q) => [q.name, q.count])));
  } catch (e) { /* the next poll tries again */ }
}

let polling = null;
function startPolling() {
  if (polling) return;
  $('#live').textContent = T.polling;
  polling = setInterval(refreshCounts, 30000);
}

function live() {
  if (!('EventSource' in window)) { startPolling(); return; }
  const es = new EventSource('/api/v1/desk/events');
  es.addEventListener('counts', (e) => {
    $('#live').textContent = `● ${T.live}`;
    try { setCounts(JSON.parse(e.data)); } catch (err) { /* ignore a malformed event */ }
  });
  es.onerror = () => {
    // the server ends the stream every few minutes and EventSource reconnects; a refused stream stays closed
    if (es.readyState === EventSource.CLOSED) startPolling();
  };
  window.gridpatrolDesk.events = es;
}

// ------------------------------------------------------------------------------------------------ start

function wire() {
  $('#tabs').addEventListener('click', (e) => {
    const b = e.target.closest('[data-queue]');
    if (b) selectTab(b.dataset.queue);
  });
  $('#tabs').addEventListener('keydown', onTabKey);
  $('#table').addEventListener('click', (e) => {
    const s = e.target.closest('[data-sort]');
    if (!s) return;
    const key = s.dataset.sort;
    state.order = state.sort === key && state.order === 'asc' ? 'desc' : 'asc';
    state.sort = key;
    state.offset = 0;
    loadRows().then(() => { const b = document.querySelector(`[data-sort="${key}"]`); if (b) b.focus(); });
  });
  $('#table').addEventListener('change', (e) => {
    if (e.target.id === 'pick-all') {
      for (const r of state.rows) { if (e.target.checked) state.selected.add(r.id); else state.selected.delete(r.id); }
      for (const c of document.querySelectorAll('.pick')) c.checked = e.target.checked;
    } else if (e.target.classList.contains('pick')) {
      const id = Number(e.target.dataset.id);
      if (e.target.checked) state.selected.add(id); else state.selected.delete(id);
    } else return;
    renderBulk();
  });
  $('#pager').addEventListener('click', (e) => {
    const b = e.target.closest('[data-page]');
    if (!b) return;
    state.offset = Math.max(0, state.offset + Number(b.dataset.page) * state.limit);
    loadRows();
  });
  $('#bulkbar').addEventListener('click', (e) => {
    const b = e.target.closest('[data-bulk]');
    if (b) runBulk(b.dataset.bulk);
  });
}

async function start() {
  window.gridpatrolDesk = { state, ready: false };
  const who = $('#who');
  if (who) who.textContent = `${label('role', CONFIG.role)} · ${CONFIG.who || ''}`;
  wire();
  try {
    const data = await api('/api/v1/desk/queues');
    state.queues = data.queues;
    state.filters = data.filters;
  } catch (e) {
    $('#table').innerHTML = errorHtml(e);
    return;
  }
  fillFilters();
  const asked = new URL(location.href).searchParams.get('tab');
  const first = state.queues.find((q) => q.name === asked) || state.queues.find((q) => q.count > 0) || state.queues[0];
  state.tab = first ? first.name : null;
  renderTabs();
  if (state.tab) await loadRows();
  live();
  window.gridpatrolDesk.ready = true;
}

start();
