/* gridpatrol field app — the report screen: a category (searchable by pinyin initials), camera photos, the position
 * (GPS, or a pin she drags on a small map), the building nearby, entrance, floor and a note; queued as a case and
 * its photos in the outbox. */

import { esc } from '/static/js/html.js';
import { $, S, buildingLabel, buildings, categories, catName, fromMap, metres, t, toMap, view } from './state.js';
import { store } from './store.js';
import { downscale, toast } from './ui.js';
import { tileLayer } from './map.js';
import { confirmReport } from './mine.js';
import { offerDuplicates, queueSupplement } from './dupes.js';
import { resetSelfHandle, selfHandled } from './selfhandle.js';
import { buildingAt, footprintLayer } from './footprints.js';

let pinMap = null, pinMarker = null, footprints = null;
export function initPinMap() {
  if (pinMap) { pinMap.invalidateSize(); footprints.redraw(); return; }
  pinMap = L.map('pin-map', { zoomControl: true, attributionControl: false });
  window.gridpatrolPinMap = pinMap;
  const tiles = tileLayer();
  if (tiles) tiles.addTo(pinMap);
  if (S.today) L.geoJSON(S.today.grids, { style: { color: '#1565c0', weight: 2, fillOpacity: 0.03 },
    coordsToLatLng: (c) => toMap(c[1], c[0]) }).addTo(pinMap);
  footprints = footprintLayer(pinMap, pickBuilding);
  footprints.redraw();
  const start = S.report.pin || S.pos || gridCentre();
  pinMarker = L.marker(start ? toMap(start.lat, start.lon) : [0, 0], { draggable: true, autoPan: true }).addTo(pinMap);
  pinMap.setView(pinMarker.getLatLng(), start ? 18 : 2);
  pinMarker.on('dragend', () => movePin(pinMarker.getLatLng()));
  pinMap.on('click', (e) => movePin(e.latlng));
}

/** The pin moved by hand (dragged, or a tap outside any footprint): the building it now stands in is chosen. */
function movePin(latlng) {
  pinMarker.setLatLng(latlng);
  S.report.pinByHand = true;
  S.report.pin = fromMap(latlng);
  const b = buildingAt(S.report.pin);
  if (b) S.report.building = b.id;
  renderPinInfo();
  renderNearBuildings();
}

/** A footprint tapped: the pin goes where she tapped (inside it) and the building is chosen in the picker. */
function pickBuilding(b, latlng) {
  S.report.building = b.id;
  movePin(latlng);
  pinMap.panTo(latlng);
}

function gridCentre() {
  if (!S.today || !S.today.grids.features.length) return null;
  const b = L.geoJSON(S.today.grids).getBounds().getCenter();
  return { lat: b.lat, lon: b.lng };
}

export function setPin(p, byHand) {
  S.report.pin = { lat: p.lat, lon: p.lon };
  S.report.pinByHand = byHand;
  if (pinMarker) {
    pinMarker.setLatLng(toMap(p.lat, p.lon));
    if (view.current === 'report') pinMap.setView(pinMarker.getLatLng(), Math.max(pinMap.getZoom(), 17));
  }
  if (view.current === 'report') { renderPinInfo(); renderNearBuildings(); }
}

function renderPinInfo() {
  const info = $('pin-info');
  if (!S.report.pin) info.textContent = t('gps_waiting');
  else if (S.report.pinByHand) info.textContent = t('pin_moved');
  else info.textContent = S.pos ? t('gps_acc', S.pos.acc) : '';
}

export function renderCategories() {
  const q = $('cat-search').value.trim().toLowerCase();
  const chosen = S.report.category;
  $('cat-chosen').hidden = !chosen;
  if (chosen) {
    $('cat-chosen').innerHTML = `<b>${esc(catName(chosen))}</b> <small class="muted">${esc(chosen)}</small>
      <button type="button" class="small" id="cat-change">${esc(t('change'))}</button>`;
    $('cat-search').hidden = true;
    $('cat-list').innerHTML = '';
    return;
  }
  $('cat-search').hidden = false;
  let cats = categories();
  if (q) {
    cats = cats.filter((c) => (c.name_zh || '').includes(q) || (c.name_en || '').toLowerCase().includes(q) ||
      (c.initials || '').startsWith(q) || (c.pinyin || '').startsWith(q) || (c.major_zh || '').includes(q) ||
      c.code.toLowerCase() === q);
  }
  cats = cats.slice(0, q ? 30 : 12);
  $('cat-list').innerHTML = cats.map((c) => `<button type="button" class="chip" data-cat="${esc(c.code)}"
    title="${esc(c.initials || '')}">${esc(S.lang === 'en' ? c.name_en || c.name_zh : c.name_zh)}</button>`).join('') ||
    `<span class="muted">—</span>`;
}

function nearest(p, n, within) {
  if (!p) return [];
  return buildings().map((b) => ({ b, d: metres(p, b) })).filter((x) => x.d <= within)
    .sort((a, c) => a.d - c.d).slice(0, n);
}

function renderNearBuildings() {
  const near = nearest(S.report.pin, 5, 200);
  const chosen = S.report.building && buildings().find((b) => b.id === S.report.building);
  if (chosen && !near.some((x) => x.b.id === chosen.id)) {  // picked on the map: a large one's point may lie further
    const d = metres(S.report.pin, chosen);
    if (d <= 200 || buildingAt(S.report.pin) === chosen) near.unshift({ b: chosen, d });
  }
  if (S.report.building && !near.some((x) => x.b.id === S.report.building)) S.report.building = null;
  if (footprints) footprints.highlight(S.report.building);
  $('near-buildings').innerHTML = near.map(({ b, d }) => `<label class="radio"><input type="radio" name="bld" value="${b.id}"
    ${S.report.building === b.id ? 'checked' : ''}><span>${esc(buildingLabel(b))}</span><small class="muted">${Math.round(d)} m</small></label>`).join('') +
    `<label class="radio"><input type="radio" name="bld" value="" ${S.report.building ? '' : 'checked'}><span>${esc(t('no_building'))}</span></label>`;
}

function renderPhotos() {
  $('photo-previews').innerHTML = S.report.photos.map((b, i) =>
    `<figure><img alt="" src="${URL.createObjectURL(b)}"><button type="button" class="x" data-rm="${i}">×</button></figure>`).join('');
}

async function submitReport(ev) {
  ev.preventDefault();
  const err = $('report-error');
  err.textContent = '';
  $('report-done').hidden = true;   // the confirmation of the report before
  if (!S.report.category) { err.textContent = t('choose_category'); return; }
  if (!S.report.pin) { err.textContent = t('need_location'); return; }
  const self = selfHandled();   // 自行处置 (selfhandle.js): null, {error} or {after, note}
  if (self && self.error) { err.textContent = self.error; return; }
  $('report-submit').disabled = true;
  try {
    const choice = self ? { action: 'report' } : await offerDuplicates(S.report.category, S.report.pin);
    if (!choice) return;   // back to the form
    if (choice.action === 'supplement') {
      await queueSupplement(choice.case, $('report-note').value.trim(), S.report.photos);
      await afterSubmit();
      confirmReport(null, { supplementTo: choice.case.number });
      return;
    }
    await queueReport(self);
  } finally {
    $('report-submit').disabled = false;
  }
}

async function queueReport(self) {
  const client_id = store.uuid();
  const body = { client_id, category: S.report.category, lat: +S.report.pin.lat.toFixed(7), lon: +S.report.pin.lon.toFixed(7),
    crs: 'wgs84', description: $('report-note').value.trim() || null, building_id: S.report.building || null,
    floor: $('floor').value.trim() || null, unit_no: $('unit-no').value.trim() || null };
  const summary = catName(S.report.category);
  const before = self ? store.uuid() : null;   // the report's step: its photos attach there, the after-photo to 处置
  if (self) {
    await store.enqueue({ kind: 'self_handled', client_id, body: { ...body, note: self.note, report_event_client_id: before },
      blob: self.after, summary });
  } else {
    await store.enqueue({ kind: 'case', client_id, body, summary });
  }
  for (const blob of S.report.photos) {
    await store.enqueue({ kind: 'photo', case_client_id: client_id, event_client_id: before || undefined, blob, name: 'report.jpg', summary });
  }
  const used = categories().find((c) => c.code === S.report.category);
  if (used && S.today) {  // most used first, also offline
    used.uses = (used.uses || 0) + 1;
    S.today.categories.sort((a, b) => (b.uses || 0) - (a.uses || 0));
    await store.kv.put('today', S.today);
  }
  await afterSubmit();
  toast(navigator.onLine ? t('saved') : t('saved_offline'));
  confirmReport(client_id, { selfHandled: Boolean(self) });
}

async function afterSubmit() {
  S.report = { category: null, photos: [], pin: S.pos ? { lat: S.pos.lat, lon: S.pos.lon } : null, pinByHand: false, building: null };
  $('report-form').reset();
  resetSelfHandle();
  renderReport();
}

export function renderReport() {
  renderCategories();
  renderPhotos();
  renderPinInfo();
  renderNearBuildings();
}


/** Listen to the report form's controls. */
export function wireReport() {
  $('cat-search').addEventListener('input', renderCategories);
  $('cat-list').addEventListener('click', (ev) => {
    const b = ev.target.closest('[data-cat]');
    if (!b) return;
    S.report.category = b.dataset.cat;
    $('cat-search').value = '';
    renderCategories();
  });
  $('cat-chosen').addEventListener('click', (ev) => {
    if (ev.target.id === 'cat-change') { S.report.category = null; renderCategories(); $('cat-search').focus(); }
  });
  $('photo-input').addEventListener('change', async (ev) => {
    for (const f of ev.target.files) S.report.photos.push(await downscale(f));
    ev.target.value = '';
    renderPhotos();
  });
  $('photo-previews').addEventListener('click', (ev) => {
    const b = ev.target.closest('[data-rm]');
    if (b) { S.report.photos.splice(+b.dataset.rm, 1); renderPhotos(); }
  });
  $('near-buildings').addEventListener('change', (ev) => {
    S.report.building = ev.target.value ? +ev.target.value : null;
    if (footprints) footprints.highlight(S.report.building);
  });
  $('pin-gps').addEventListener('click', () => { if (S.pos) setPin(S.pos, false); });
  $('report-form').addEventListener('submit', submitReport);
}
