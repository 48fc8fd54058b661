/* The case page (/desk/cases/{number}): reads the case file (GET /api/v1/desk/cases/{number}) and draws it — header
 * with the working-hours countdown, map (point, grid, building, a dispatch route), photos, timeline, tasks, urges,
 * revisits, duplicates with a side-by-side compare, earlier cases at the building — and an action bar with exactly
 * the actions the server allows this user, each with its form. Actions go through the case API
 * (POST /api/v1/cases/{key}/actions/{action}, …/tasks/{task}/{action}, …/photos); afterwards the page reads the
 * case file again. Case keys are used only in those calls; the page shows case numbers. */

import { api, errorHtml, esc, label, LANG, CONFIG, hoursText, when, caseLink } from '/static/js/desk/api.js';
import { basemap } from '/static/js/basemap.js';
import { datum } from '/static/js/datum.js';
import { renderAssessment } from '/static/js/desk/assess.js';

const T = CONFIG.t || {};
const NUMBER = CONFIG.number;
const $ = (id) => document.getElementById(id);
const state = { data: null, map: null, layers: {}, busy: false };
// the case's geometry is WGS-84; a GCJ-02 basemap (GRIDPATROL_TILES_DATUM) needs it shifted to match
const DATUM = typeof L === 'undefined' ? null : datum(CONFIG.datum);
const c2l = (c) => DATUM.toMap(c[1], c[0]);

const statusText = (s) => label('status', s);
const actionText = (a) => label('action', a);
const stepText = (s) => (LANG === 'en' ? (s.label_en || actionText(s.action)) : s.label_zh);
const who = (s) => (s.system ? T.system : s.actor);
const km = (m) => (m >= 1000 ? `${(m / 1000).toFixed(1)} km` : `${Math.round(m)} m`);
const minutes = (s) => `${T.eta} ${Math.max(1, Math.round(s / 60))} ${T.minutes}`;

// ------------------------------------------------------------------------------------------------ loading

async function load() {
  try {
    state.data = await api(`/api/v1/desk/cases/${encodeURIComponent(NUMBER)}`);
  } catch (e) {
    $('message').innerHTML = errorHtml(e);
    return false;
  }
  render();
  return true;
}

function say(html) {
  $('message').innerHTML = html;
}

function render() {
  const d = state.data;
  document.title = `${T.title} ${d.number}`;
  renderHead(d);
  renderActions(d);
  renderAssessment(d, done);
  renderMap(d);
  renderPlace(d);
  $('description').textContent = d.description || T.none;
  renderGallery(d);
  renderTimeline(d);
  renderTasks(d);
  renderUrges(d);
  renderRevisits(d);
  renderDuplicates(d);
  renderEarlier(d);
  const who = $('who');
  if (who && !who.textContent) who.textContent = `${label('role', CONFIG.role)} · ${CONFIG.user || ''}`;
}

// ------------------------------------------------------------------------------------------------ header

function clockHtml(c) {
  if (c.suspended) {
    return `<span class="clock stopped">${esc(T.stopped)}${c.remaining_hours != null
      ? ` · ${esc(T.remaining)} ${esc(Number(c.remaining_hours).toFixed(1))} ${esc(T.hours)}` : ''}</span>`;
  }
  if (c.finished) {
    const ok = c.closed_on_time === true ? T.on_time : c.closed_on_time === false ? T.late_closed : T.finished;
    return `<span class="clock">${esc(ok)}</span>`;
  }
  if (c.hours_left == null) return '';
  // overdue with no working time gone yet (a weekend, the night): "已超期" alone, not "剩 0.0 工时"
  const text = c.overdue && c.hours_left > -0.05 ? '' : hoursText(c.hours_left);
  const tag = c.overdue ? `${text ? ' · ' : ''}${esc(T.overdue)}` : '';
  return `<span class="clock ${esc(c.colour)}" data-colour="${esc(c.colour)}">${esc(text)}${tag}</span>
    <small class="muted">${esc(T.deadline_at)} ${esc(when(c.deadline_at))}</small>`;
}

function renderHead(d) {
  const cat = LANG === 'en' ? d.category.en : d.category.zh;
  const major = LANG === 'en' ? d.category.major_en : d.category.major_zh;
  $('case-category').textContent = `${cat}${major ? ` · ${major}` : ''}`;
  const badges = [`<span class="pill status-${esc(d.status)}">${esc(statusText(d.status))}</span>`,
    `<span class="pill">${esc(T.level)}: ${esc(label('level', d.level))}</span>`,
    `<span class="pill">${esc(T.channel)}: ${esc(label('channel', d.channel))}</span>`];
  if (d.order_no) badges.push(`<span class="pill" id="case-order-no">${esc(T.order_no)}: ${esc(d.order_no)}</span>`);
  if (d.contact) {  // the reporter's contact: full for the community's staff (each read audited), masked otherwise
    const who = [d.contact.name, d.contact.phone].filter(Boolean).join(' ');
    badges.push(`<span class="pill" id="case-contact" data-masked="${d.contact.masked ? 1 : 0}">${esc(T.contact)}: ${esc(who)}</span>`);
  }
  if (d.handler) badges.push(`<span class="pill">${esc(T.handler)}: ${esc(d.handler)}</span>`);
  if (d.urges.count) badges.push(`<span class="pill hot">${esc(T.urges)} ×${d.urges.count}</span>`);
  if (d.duplicate_of) badges.push(`<span class="pill">${esc(T.merged_into)} ${caseLink(d.duplicate_of)}</span>`);
  if (d.recurrence_of) badges.push(`<span class="pill">${esc(T.recurrence_of)} ${caseLink(d.recurrence_of)}</span>`);
  $('case-badges').innerHTML = badges.join(' ');
  $('case-clock').innerHTML = clockHtml(d.clock);
}

// ------------------------------------------------------------------------------------------------ map

function renderMap(d) {
  if (typeof L === 'undefined') return;
  const p = d.place;
  if (!state.map) {
    state.map = L.map('map', { zoomControl: true, keyboard: true }).setView(DATUM.toMap(p.lat, p.lon), 17);
    L.control.scale({ imperial: false }).addTo(state.map);
    const tiles = basemap(CONFIG.tiles);
    if (tiles) tiles.addTo(state.map);
  }
  Object.values(state.layers).forEach((l) => l && state.map.removeLayer(l));
  state.layers = {};
  const grid = p.grid && p.grid.outline;
  if (grid) {
    state.layers.grid = L.geoJSON(grid, { coordsToLatLng: c2l, style: { color: '#1d4ed8', weight: 2, fillColor: '#93c5fd', fillOpacity: 0.15 } })
      .bindTooltip(`${T.grid} ${p.grid.name}`).addTo(state.map);
  }
  if (p.building && p.building.outline) {
    state.layers.building = L.geoJSON(p.building.outline, { coordsToLatLng: c2l, style: { color: '#b45309', weight: 2, fillColor: '#fde68a', fillOpacity: 0.6 } })
      .bindTooltip(p.building.label).addTo(state.map);
  }
  state.layers.point = L.circleMarker(DATUM.toMap(p.lat, p.lon), { radius: 9, color: '#fff', weight: 3, fillColor: '#dc2626', fillOpacity: 1 })
    .bindTooltip(d.number).addTo(state.map);
  const bounds = state.layers.grid ? state.layers.grid.getBounds() : L.latLngBounds([DATUM.toMap(p.lat, p.lon), DATUM.toMap(p.lat, p.lon)]);
  state.map.fitBounds(bounds.pad(0.1), { maxZoom: 18 });
}

async function drawRoute(unitId) {
  if (!state.map) return;
  if (state.layers.route) state.map.removeLayer(state.layers.route);
  state.layers.route = null;
  const info = $('route-info');
  if (!unitId) { if (info) info.textContent = ''; return; }
  try {
    const r = await api(`/api/v1/desk/cases/${encodeURIComponent(NUMBER)}/route?unit=${encodeURIComponent(unitId)}`);
    const start = r.coordinates[0];
    state.layers.route = L.featureGroup([
      L.geoJSON(r, { coordsToLatLng: c2l, style: { color: '#7c3aed', weight: 5, opacity: 0.85, dashArray: r.properties.fallback ? '6 6' : null } }),
      L.circleMarker(c2l(start), { radius: 7, color: '#fff', weight: 2, fillColor: '#7c3aed', fillOpacity: 1 }),
    ]).addTo(state.map);
    state.map.fitBounds(state.layers.route.getBounds().extend(state.layers.point.getLatLng()).pad(0.15), { animate: false });
    if (info) info.textContent = `${T.route}: ${km(r.properties.length_m)} · ${minutes(r.properties.eta_s)}`;
    document.body.dataset.route = 'drawn';
  } catch (e) {
    if (info) info.innerHTML = errorHtml(e);
  }
}

function renderPlace(d) {
  const p = d.place;
  const rows = [];
  const add = (k, v) => { if (v) rows.push(`<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`); };
  add(T.address, p.address);
  // the building's use (OSM building=*) in words; an unknown value is left out of a Chinese page
  const use = p.building && p.building.use &&
    ((CONFIG.labels.building_use || {})[p.building.use] || (LANG === 'en' ? p.building.use : ''));
  add(T.building, p.building && [p.building.label, use].filter(Boolean).join(' · '));
  add(T.floor, [p.floor, p.unit_no].filter(Boolean).join(' · '));
  add(T.grid, p.grid && `${p.grid.name} (${p.grid.code})`);
  add(T.worker, p.grid && p.grid.worker);
  add(T.community, p.community && p.community.name);
  add(T.subdistrict, p.subdistrict && p.subdistrict.name);
  const late = apart(d.reported_at, d.received_at);   // reported offline, sent later: both times
  add(late ? T.occurred_at : T.reported_at, when(d.reported_at));
  if (late) add(T.received_at, when(d.received_at));
  if (d.time_flag) add(T.time_flag, flagText(d));
  if (d.rating) add(T.rating, `${d.rating}/5 ${T['rate_' + d.rating] || ''}`);
  if (d.rework_count) add(T.rework, String(d.rework_count));
  $('place').innerHTML = rows.join('');
}

// ------------------------------------------------------------------------------------------------ photos, history

function thumbs(photos, caption) {
  return photos.map((ph, i) => `<button type="button" class="thumb" data-full="${esc(ph.full)}"
    aria-label="${esc(T.photo_for)} ${i + 1}${caption ? ' · ' + esc(caption) : ''}"><img src="${esc(ph.thumb)}" alt="" loading="lazy"></button>`).join('');
}

function renderGallery(d) {
  const side = (key) => {
    const list = d.gallery[key];
    const body = list.length ? list.map((ph) => `<figure>${thumbs([ph], stepText(ph))}<figcaption>${esc(stepText(ph))}
      · ${esc(when(ph.at))}</figcaption></figure>`).join('') : `<p class="muted">${esc(T.no_photos)}</p>`;
    return `<div class="side" data-side="${key}"><h4>${esc(T[key])} (${list.length})</h4><div class="photos">${body}</div></div>`;
  };
  $('gallery').innerHTML = `<div class="gallery">${side('before')}${side('after')}</div>`;
}

/** Did it reach the server more than a minute after it happened (queued on a phone offline)? */
function apart(at, received) { return !!(at && received && Math.abs(new Date(received) - new Date(at)) > 60000); }

function flagText(x) {
  const skew = x.clock_skew_s ? ` (${T.skew} ${Math.round(x.clock_skew_s / 60)} min)` : '';
  return `${T['flag_' + x.time_flag] || x.time_flag}${x.time_flag === 'skew' ? skew : ''}`;
}

/** When a step happened and, when it was synced later, when it was received; a flag when the device time was off. */
function stepWhen(s) {
  if (!apart(s.at, s.received_at) && !s.time_flag) return `<div class="when">${esc(when(s.at))}</div>`;
  return `<div class="when"><span class="occurred" title="${esc(T.occurred_at)}">${esc(T.occurred_at)} ${esc(when(s.at))}</span>
    <br><small class="muted received">${esc(T.received_at)} ${esc(when(s.received_at))}</small>
    ${s.time_flag ? `<br><span class="pill hot time-flag" data-flag="${esc(s.time_flag)}">${esc(flagText(s))}</span>` : ''}</div>`;
}

function renderTimeline(d) {
  $('timeline').innerHTML = d.timeline.map((s) => `<li data-action="${esc(s.action)}">
    ${stepWhen(s)}
    <div><strong>${esc(stepText(s))}</strong>${s.auto ? ` <span class="pill auto">${esc(T.auto)}</span>` : ''}
     · ${esc(who(s))}${s.unit ? ` · ${esc(s.unit)}` : ''}
     ${s.to && s.from !== s.to ? ` <span class="muted">→ ${esc(statusText(s.to))}</span>` : ''}
     ${s.note ? `<div class="note">${esc(s.note)}</div>` : ''}
     ${s.photos.length ? `<div class="photos">${thumbs(s.photos, stepText(s))}</div>` : ''}</div></li>`).join('');
}

function renderTasks(d) {
  $('tasks-card').hidden = !d.tasks.length;
  if (!d.tasks.length) return;
  const ta = T.task_actions || {};
  $('tasks').innerHTML = `<table><thead><tr><th>${esc(T.department)}</th><th>${esc(T.status)}</th>
    <th>${esc(T.report_in_by)}</th><th>${esc(T.reported_in)}</th><th></th></tr></thead><tbody>${d.tasks.map((t) => `
    <tr data-task="${esc(t.id)}"><td>${esc(t.unit)}</td><td>${esc((T.task_status || {})[t.status] || t.status)}</td>
    <td>${esc(when(t.report_in_by))}</td>
    <td>${t.reported_in_at ? esc(when(t.reported_in_at)) : esc(T.not_reported)}${t.late ? ` <span class="pill hot">${esc(T.late)}</span>` : ''}</td>
    <td>${t.actions.map((a) => `<button type="button" data-task-action="${esc(a.name)}" data-task-id="${esc(t.id)}">${esc(ta[a.name] || a.name)}</button>`).join(' ')}</td>
    </tr>`).join('')}</tbody></table>`;
}

function renderUrges(d) {
  $('urges').innerHTML = d.urges.count ? `<ol class="plain">${d.urges.items.map((u) => `<li>${esc(when(u.at))} · ${esc(who(u))}
    — ${esc(u.note || '')}</li>`).join('')}</ol>` : `<p class="muted">${esc(T.no_urges)}</p>`;
}

function renderRevisits(d) {
  $('revisits').innerHTML = d.revisits.length ? `<table><thead><tr><th>${esc(T.due_on)}</th><th>${esc(T.done)}</th>
    <th>${esc(T.outcome)}</th></tr></thead><tbody>${d.revisits.map((r) => `<tr><td>${esc(r.due_on)}</td>
    <td>${esc(r.done_at ? when(r.done_at) : T.pending)}</td><td>${esc(r.outcome ? (T[r.outcome] || r.outcome) : '')}</td></tr>`).join('')}
    </tbody></table>` : `<p class="muted">${esc(T.none)}</p>`;
}

function renderDuplicates(d) {
  if (!d.duplicates.length) {
    $('duplicates').innerHTML = `<p class="muted">${esc(T.no_duplicates)}</p>`;
    return;
  }
  $('duplicates').innerHTML = `<table><thead><tr><th>${esc(T.number)}</th><th>${esc(T.status)}</th><th>${esc(T.distance)}</th>
    <th>${esc(T.reported_at)}</th><th>${esc(T.description)}</th><th></th></tr></thead><tbody>${d.duplicates.map((x, i) => `
    <tr><td>${caseLink(x.number)}</td><td>${esc(statusText(x.status))}</td><td>${esc(km(x.distance_m))}</td>
    <td>${esc(when(x.reported_at))}</td><td>${esc(x.description || '')}</td>
    <td><button type="button" data-compare="${i}" aria-expanded="false">${esc(T.compare)}</button></td></tr>`).join('')}
    </tbody></table><div id="compare"></div>`;
}

function compare(i) {
  const d = state.data;
  const o = d.duplicates[i];
  const mine = d.gallery.before.concat(d.gallery.after);
  const cat = LANG === 'en' ? d.category.en : d.category.zh;
  const row = (k, a, b) => `<tr><th>${esc(k)}</th><td>${a}</td><td>${b}</td></tr>`;
  const canMerge = d.actions.some((a) => a.name === 'merge');
  $('compare').innerHTML = `<table class="compare"><thead><tr><th></th><th>${esc(T.this_case)} ${esc(d.number)}</th>
    <th>${esc(T.other_case)} ${caseLink(o.number)}</th></tr></thead><tbody>
    ${row(T.category, esc(cat), esc(cat))}
    ${row(T.status, esc(statusText(d.status)), esc(statusText(o.status)))}
    ${row(T.reported_at, esc(when(d.reported_at)), esc(when(o.reported_at)))}
    ${row(T.distance, '0 m', esc(km(o.distance_m)))}
    ${row(T.description, esc(d.description || ''), esc(o.description || ''))}
    ${row(T.photos, `<div class="photos">${thumbs(mine.slice(0, 4))}</div>`, `<div class="photos">${thumbs(o.photos)}</div>`)}
    </tbody></table>${canMerge ? `<button type="button" class="primary" data-merge="${i}">${esc(T.merge)} ${esc(o.number)}</button>` : ''}`;
  document.querySelectorAll('[data-compare]').forEach((b) => b.setAttribute('aria-expanded', String(b.dataset.compare === String(i))));
}

function renderEarlier(d) {
  $('earlier').innerHTML = d.earlier.length ? `<table><tbody>${d.earlier.map((e) => `<tr><td>${caseLink(e.number)}</td>
    <td>${esc(LANG === 'en' ? e.category.en : e.category.zh)}</td><td>${esc(statusText(e.status))}</td>
    <td>${esc(when(e.reported_at))}</td></tr>`).join('')}</tbody></table>` : `<p class="muted">${esc(T.no_earlier)}</p>`;
}

// ------------------------------------------------------------------------------------------------ actions

function renderActions(d) {
  const forms = d.actions.filter((a) => !a.one_click && a.name !== 'assess');  // 研判: its own panel (assess.js)
  const clicks = d.actions.filter((a) => a.one_click);
  if (!d.actions.length && !d.tasks.some((t) => t.actions.length)) {
    $('actions').innerHTML = `<p class="muted">${esc(T.no_actions)}</p>`;
    return;
  }
  if (!d.actions.length) {
    $('actions').innerHTML = `<p class="muted">${esc(T.use_tasks)}</p>`;
    return;
  }
  $('actions').innerHTML = `<span class="label">${esc(T.actions)}:</span>
    ${clicks.map((a) => `<button type="button" class="primary" data-act="${esc(a.name)}" data-one="1">${esc(actionText(a.name))}</button>`).join(' ')}
    ${clicks.length ? `<input id="quick-note" type="text" placeholder="${esc(T.note)}" aria-label="${esc(T.note)}" maxlength="4000">` : ''}
    ${forms.map((a) => `<button type="button" data-act="${esc(a.name)}">${esc(actionText(a.name))}</button>`).join(' ')}`;
}

const field = (id, text, inner) => `<label for="${id}">${esc(text)}</label>${inner}`;

function noteField(spec) {
  return field('f-note', spec.note_required ? T.reason : T.note,
    `<textarea id="f-note" rows="2" maxlength="4000" aria-required="${spec.note_required ? 'true' : 'false'}"></textarea>`);
}

function dispatchFields(spec) {
  const dsp = spec.dispatch || { candidates: [] };
  const auto = dsp.worker ? `${T.auto_choice} (${T.grid_worker_choice} ${dsp.worker.name})` : T.auto_choice;
  const ranked = dsp.candidates.map((c, i) => `<label class="choice"><input type="radio" name="unit" value="${esc(c.unit_id)}"
    ${i === 0 ? 'data-first="1"' : ''}> <strong>${esc(c.name)}</strong> · ${esc(km(c.distance_m))} · ${esc(minutes(c.eta_s))}
    ${c.straight_line ? `<span class="muted">(${esc(T.straight)})</span>` : ''}</label>`).join('');
  const all = (spec.units || []).map((u) => `<option value="${esc(u.unit_id)}">${esc(u.name)}</option>`).join('');
  return `<fieldset><legend>${esc(T.candidates)}</legend>
    <label class="choice"><input type="radio" name="unit" value="" checked> ${esc(auto)}</label>${ranked}
    ${dsp.problem ? `<p class="muted">${esc(T.nobody)}</p>` : ''}
    <label class="choice"><input type="radio" name="unit" value="free"> ${esc(T.free_choice)}</label>
    <select id="f-free" aria-label="${esc(T.free_choice)}"><option value="">— ${esc(T.free_choice)} —</option>${all}</select>
    <p id="route-info" class="muted" aria-live="polite"></p></fieldset>
    ${field('f-hours', T.hours_label, '<input id="f-hours" type="number" min="0.5" max="2000" step="0.5">')}`;
}

function whistleFields(spec) {
  const boxes = (spec.units || []).map((u) => `<label class="choice"><input type="checkbox" name="units" value="${esc(u.unit_id)}"> ${esc(u.name)}</label>`).join('');
  return `<fieldset><legend>${esc(T.departments)}</legend><div class="boxes">${boxes}</div></fieldset>
    ${field('f-report', T.report_in_hours, '<input id="f-report" type="number" min="0.5" max="2000" step="0.5" value="1">')}
    ${field('f-hours', T.hours_label, '<input id="f-hours" type="number" min="0.5" max="2000" step="0.5">')}`;
}

function formHtml(spec, title) {
  let body = '';
  if (spec.name === 'dispatch') body += dispatchFields(spec);
  if (spec.name === 'whistle') body += whistleFields(spec);
  if (spec.name === 'urge') body += field('f-hours', T.new_deadline, '<input id="f-hours" type="number" min="0.5" max="2000" step="0.5">');
  if (spec.rating) {
    body += `<fieldset><legend>${esc(T.rating_label)}</legend>${[5, 4, 3, 2, 1].map((r) => `<label class="choice"><input type="radio" name="rating"
      value="${r}"${r === 5 ? ' checked' : ''}> ${r} · ${esc(T['rate_' + r])}</label>`).join('')}</fieldset>`;
  }
  if (spec.duplicate_of) {
    body += field('f-dup', T.merge, `<select id="f-dup">${state.data.duplicates.map((x, i) => `<option value="${i}"${x === spec.other
      ? ' selected' : ''}>${esc(x.number)} · ${esc(km(x.distance_m))} · ${esc(x.description || '')}</option>`).join('')}</select>`);
  }
  body += noteField(spec);
  if (spec.photo) body += field('f-photo', T.photo_label, '<input id="f-photo" type="file" accept="image/jpeg,image/png,image/webp" multiple>');
  return `<form id="action-form" novalidate><h3>${esc(title)}</h3>${body}<div id="form-error"></div>
    <div class="buttons"><button type="submit" class="primary">${esc(T.submit)}</button>
    <button type="button" id="form-cancel">${esc(T.cancel)}</button></div></form>`;
}

function openForm(spec, title, submit) {
  const panel = $('form');
  panel.innerHTML = formHtml(spec, title);
  panel.hidden = false;
  const first = panel.querySelector('input:not([type=hidden]), textarea, select');
  if (first) first.focus({ preventScroll: true });
  if (spec.name === 'dispatch') $('map').scrollIntoView({ block: 'nearest' });
  $('form-cancel').addEventListener('click', closeForm);
  panel.querySelectorAll('input[name=unit]').forEach((r) => r.addEventListener('change', () => {
    const v = r.value === 'free' ? $('f-free').value : r.value;
    drawRoute(v);
  }));
  const free = $('f-free');
  if (free) free.addEventListener('change', () => {
    panel.querySelector('input[name=unit][value=free]').checked = true;
    drawRoute(free.value);
  });
  $('action-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    $('form-error').innerHTML = '';
    try {
      await submit(readForm(panel));
    } catch (e) {
      $('form-error').innerHTML = errorHtml(e);
    }
  });
}

function closeForm() {
  $('form').hidden = true;
  $('form').innerHTML = '';
  if (state.layers.route) { state.map.removeLayer(state.layers.route); state.layers.route = null; }
}

function readForm(panel) {
  const v = {};
  const note = panel.querySelector('#f-note');
  if (note && note.value.trim()) v.note = note.value.trim();
  const hours = panel.querySelector('#f-hours');
  if (hours && hours.value) v.hours = Number(hours.value);
  const report = panel.querySelector('#f-report');
  if (report && report.value) v.report_in_hours = Number(report.value);
  const unit = panel.querySelector('input[name=unit]:checked');
  if (unit && unit.value) v.unit_id = Number(unit.value === 'free' ? panel.querySelector('#f-free').value : unit.value) || null;
  const units = [...panel.querySelectorAll('input[name=units]:checked')].map((b) => Number(b.value));
  if (panel.querySelector('input[name=units]')) v.units = units;
  const rating = panel.querySelector('input[name=rating]:checked');
  if (rating) v.rating = Number(rating.value);
  const photo = panel.querySelector('#f-photo');
  v.files = photo ? [...photo.files] : [];
  return v;
}

async function act(name, body, files = []) {
  const { files: _f, ...payload } = body;
  if (name === 'dispatch' && payload.unit_id === null) throw new Error(T.choose_unit);
  const answer = await api(`/api/v1/cases/${state.data.id}/actions/${encodeURIComponent(name)}`, { method: 'POST', body: payload });
  await uploadAfter(answer, files, ['handle', 'verify', name]);
  done(actionText(name));
}

async function uploadAfter(answer, files, actions) {
  if (!files.length) return;
  const steps = (answer.timeline || []).filter((s) => actions.includes(s.action));
  const event = steps.length ? steps[steps.length - 1].id : null;
  say(`<p class="muted">${esc(T.upload)}</p>`);
  for (const f of files) {
    const form = new FormData();
    form.append('file', f);
    if (event) form.append('event_id', String(event));
    await api(`/api/v1/cases/${state.data.id}/photos`, { method: 'POST', body: form });
  }
}

async function taskAct(taskId, name, body) {
  const answer = await api(`/api/v1/cases/${state.data.id}/tasks/${encodeURIComponent(taskId)}/${encodeURIComponent(name)}`,
    { method: 'POST', body: body.note ? { note: body.note } : {} });
  await uploadAfter(answer, body.files || [], ['task_handle', 'handle']);
  done((T.task_actions || {})[name] || name);
}

async function done(what) {
  closeForm();
  const ok = `<div class="ok" role="status">✓ ${esc(T.done_ok)}${esc(what)}</div>`;
  if (await load()) {
    say(ok);
    return;
  }
  // e.g. a unit returned the case: it is no longer the unit's to read
  $('actions').innerHTML = '';
  say(`${ok}<p class="empty">${esc(T.left_scope)} <a href="/desk?lang=${LANG}">${esc(T.back)}</a></p>`);
}

function onAction(name, one) {
  const spec = state.data.actions.find((a) => a.name === name);
  if (!spec) return;
  if (one) {
    const note = $('quick-note') && $('quick-note').value.trim();
    act(name, note ? { note } : {}).catch((e) => say(errorHtml(e)));
    return;
  }
  if (name === 'merge') {
    if (!state.data.duplicates.length) { say(`<p class="muted">${esc(T.no_duplicates)}</p>`); return; }
    return mergeForm(0);
  }
  openForm(spec, actionText(name), (v) => act(name, v, v.files));
}

function mergeForm(i) {
  const spec = state.data.actions.find((a) => a.name === 'merge');
  const other = state.data.duplicates[i];
  openForm({ ...spec, other }, actionText('merge'), (v) => {
    const chosen = state.data.duplicates[Number($('f-dup').value)] || other;
    return act('merge', { ...v, duplicate_of: chosen.id });
  });
}

function onTask(taskId, name) {
  const spec = { name, note_required: name === 'return', photo: name === 'handle' };
  openForm(spec, (T.task_actions || {})[name] || name, (v) => taskAct(taskId, name, v));
}

// ------------------------------------------------------------------------------------------------ events

document.addEventListener('click', (ev) => {
  const b = ev.target.closest('button');
  if (!b) return;
  if (b.dataset.act) onAction(b.dataset.act, b.dataset.one === '1');
  else if (b.dataset.taskAction) onTask(b.dataset.taskId, b.dataset.taskAction);
  else if (b.dataset.compare !== undefined) compare(Number(b.dataset.compare));
  else if (b.dataset.merge !== undefined) mergeForm(Number(b.dataset.merge));
  else if (b.dataset.full) {
    $('viewer-img').src = b.dataset.full;
    $('viewer').showModal();
  }
});
document.addEventListener('keydown', (ev) => {
  if (ev.key === 'Escape' && !$('form').hidden) closeForm();
});

load();
