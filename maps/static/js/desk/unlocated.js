/* /desk/unlocated (待定位): the 12345 orders whose address matched no single building, each with its candidates.
 * Select an order: its candidates are drawn on the map (numbered markers); pick one ("选此楼栋"), or click the place
 * on the map and locate the order there. Either posts /api/v1/hotline/orders/{order_no}/place, which creates the case;
 * the order leaves the list and the page links the new case by its number. Building keys are only sent back, never
 * shown; the page shows order numbers, addresses and the candidates' labels. */

import { CONFIG, LANG, api, caseLink, errorHtml, esc, when } from '/static/js/desk/api.js';
import { basemap } from '/static/js/basemap.js';
import { datum } from '/static/js/datum.js';

const T = CONFIG.t || {};
const $ = (sel) => document.querySelector(sel);
const DATUM = typeof L === 'undefined' ? null : datum(CONFIG.datum);
const state = { rows: [], selected: null, map: null, layer: null, point: null, pointMarker: null, busy: false };
const fmt = (s, vars) => String(s || '').replace(/\{(\w+)\}/g, (_, k) => (k in vars ? vars[k] : ''));

function orderHtml(o) {
  const on = state.selected === o.order_no;
  const cands = o.candidates.length
    ? `<ol>${o.candidates.map((c, i) => `<li>${esc(c.label || T.candidate + ' ' + (i + 1))}
        <small>${esc(T.score)} ${Math.round(c.score * 100)}%</small>
        <button type="button" data-pick="${i}" data-order="${esc(o.order_no)}">${esc(T.pick)}</button></li>`).join('')}</ol>`
    : `<p><small>${esc(T.no_candidates)}</small></p>`;
  const cat = o.category_text ? esc(o.category_text) + (o.category ? ` <small>(${esc(o.category)})</small>` : '') : esc(o.category || '');
  return `<article class="order" data-order="${esc(o.order_no)}" aria-current="${on}">
    <h3>${esc(T.order_no)} ${esc(o.order_no)}</h3>
    <dl><dt>${esc(T.received_at)}</dt><dd>${esc(when(o.received_at))}</dd>
    ${o.deadline_at ? `<dt>${esc(T.deadline_at)}</dt><dd>${esc(when(o.deadline_at))}</dd>` : ''}
    <dt>${esc(T.category)}</dt><dd>${cat}</dd>
    <dt>${esc(T.address)}</dt><dd>${esc(o.address || '')}</dd>
    ${o.subdistrict_text ? `<dt>${esc(T.subdistrict)}</dt><dd>${esc(o.subdistrict_text)}</dd>` : ''}
    ${o.description ? `<dt>${esc(T.description)}</dt><dd>${esc(o.description)}</dd>` : ''}</dl>
    <strong>${esc(T.candidates)}</strong>${cands}
    ${on ? `<p><small>${esc(T.click_map)}</small></p>` : `<button type="button" data-select="${esc(o.order_no)}">${esc(T.select)}</button>`}
  </article>`;
}

function render() {
  $('#total').textContent = fmt(T.total, { n: state.total });
  $('#orders').innerHTML = state.rows.length ? state.rows.map(orderHtml).join('')
    : `<p class="empty">${esc(T.empty)}</p>`;
  drawCandidates();
}

function drawCandidates() {
  if (!state.map) return;
  if (state.layer) state.map.removeLayer(state.layer);
  const o = state.rows.find((r) => r.order_no === state.selected);
  state.layer = L.featureGroup();
  if (o) {
    o.candidates.forEach((c, i) => {
      if (c.lat == null) return;
      L.marker(DATUM.toMap(c.lat, c.lon), { title: c.label, icon: L.divIcon({ className: 'cand', iconSize: [24, 24], html: `<b class="candno">${i + 1}</b>` }) })
        .bindTooltip(`${esc(c.label)} · ${Math.round(c.score * 100)}%`).addTo(state.layer);
    });
  }
  state.layer.addTo(state.map);
  if (state.layer.getLayers().length) state.map.fitBounds(state.layer.getBounds().pad(0.5), { maxZoom: 18 });
}

function setupMap() {
  if (typeof L === 'undefined' || state.map) return;
  const b = CONFIG.bounds;
  state.map = L.map('map', { zoomControl: true, keyboard: true });
  L.control.scale({ imperial: false }).addTo(state.map);
  const tiles = basemap(CONFIG.tiles);
  if (tiles) tiles.addTo(state.map);
  if (b) state.map.fitBounds(L.latLngBounds(DATUM.toMap(b[1], b[0]), DATUM.toMap(b[3], b[2])));
  else state.map.setView([0, 0], 2);
  state.map.on('click', (e) => {
    if (!state.selected) return;
    state.point = DATUM.fromMap(e.latlng);
    if (state.pointMarker) state.map.removeLayer(state.pointMarker);
    state.pointMarker = L.circleMarker(e.latlng, { radius: 9, color: '#fff', weight: 3, fillColor: '#dc2626', fillOpacity: 1 })
      .bindTooltip(T.point).addTo(state.map);
    $('#pointtext').textContent = `${T.point}: ${state.point.lon.toFixed(5)}, ${state.point.lat.toFixed(5)} · ${T.order_no} ${state.selected}`;
    $('#placebar').hidden = false;
  });
}

async function load() {
  try {
    const d = await api(`/api/v1/desk/unlocated?limit=200&lang=${LANG}`);
    state.rows = d.rows;
    state.total = d.total;
    if (!state.rows.some((r) => r.order_no === state.selected)) state.selected = state.rows.length ? state.rows[0].order_no : null;
    render();
  } catch (e) {
    $('#orders').innerHTML = errorHtml(e);
  }
}

async function place(orderNo, body) {
  if (state.busy) return;
  state.busy = true;
  try {
    const r = await api(`/api/v1/hotline/orders/${encodeURIComponent(orderNo)}/place`, { method: 'POST', body });
    $('#message').innerHTML = `<p class="ok">${esc(T.order_no)} ${esc(orderNo)}: ${esc(T.placed)} ${caseLink(r.case_number)}</p>`;
    state.point = null;
    if (state.pointMarker) state.map.removeLayer(state.pointMarker);
    $('#placebar').hidden = true;
    await load();
  } catch (e) {
    $('#message').innerHTML = errorHtml(e);
  } finally {
    state.busy = false;
  }
}

document.addEventListener('click', (ev) => {
  const t = ev.target;
  if (!(t instanceof HTMLElement)) return;
  if (t.dataset.select) {
    state.selected = t.dataset.select;
    state.point = null;
    $('#placebar').hidden = true;
    render();
  } else if (t.dataset.pick !== undefined) {
    const o = state.rows.find((r) => r.order_no === t.dataset.order);
    if (o) place(o.order_no, { building_id: o.candidates[Number(t.dataset.pick)].building_id });
  } else if (t.id === 'placehere' && state.point && state.selected) {
    place(state.selected, { lon: state.point.lon, lat: state.point.lat });
  }
});

setupMap();
load();
