/* gridpatrol field app — the map screen: the worker's grid, the streets covered today, the walking route and the
 * stops of her tasks, her track while on patrol and her position (Leaflet, the global L; datum-shifted by toMap). */

import { basemap } from '/static/js/basemap.js';
import { esc } from '/static/js/html.js';
import { $, CONFIG, S, catName, stopKey, t, toMap } from './state.js';

export let map = null;
const layers = {};
/** The basemap of the deployment: our own vector tiles (kept offline by the service worker) or an external one. */
export function tileLayer() {
  return basemap(CONFIG.tiles);
}

export function initMap() {
  if (map) return;
  map = L.map('map', { zoomControl: false, attributionControl: true });
  L.control.zoom({ position: 'topright' }).addTo(map);
  L.control.scale({ imperial: false, position: 'topleft' }).addTo(map);
  const tiles = tileLayer();
  if (tiles) tiles.addTo(map);
  layers.grid = L.geoJSON(null, { style: { color: '#1565c0', weight: 3, fill: true, fillOpacity: 0.04 },
    coordsToLatLng: (c) => toMap(c[1], c[0]) }).addTo(map);
  layers.covered = L.geoJSON(null, { style: { color: '#2e7d32', weight: 7, opacity: 0.45 },
    coordsToLatLng: (c) => toMap(c[1], c[0]) }).addTo(map);
  layers.route = L.polyline([], { color: '#6a1b9a', weight: 4, dashArray: '8 8', opacity: 0.8 }).addTo(map);
  layers.track = L.polyline([], { color: '#2e7d32', weight: 5, opacity: 0.9 }).addTo(map);
  layers.tasks = L.layerGroup().addTo(map);
  layers.accuracy = L.circle([0, 0], { radius: 1, color: '#1e88e5', weight: 1, fillOpacity: 0.12 });
  layers.me = L.circleMarker([0, 0], { radius: 8, color: '#fff', weight: 3, fillColor: '#1e88e5', fillOpacity: 1 });
  map.setView([0, 0], 2);
  window.gridpatrolMap = map;
}

export function renderMap(fit) {
  initMap();
  const d = S.today;
  if (!d) return;
  layers.grid.clearLayers();
  layers.grid.addData(d.grids);
  layers.covered.clearLayers();
  if (d.covered) layers.covered.addData(d.covered);
  const route = d.tasks && d.tasks.route;
  layers.route.setLatLngs(route && route.coordinates ? route.coordinates.map((c) => toMap(c[1], c[0])) : []);
  layers.tasks.clearLayers();
  const colors = { handle: '#ef6c00', verify: '#1565c0', revisit: '#6a1b9a' };
  for (const s of (d.tasks && d.tasks.stops) || []) {
    const done = S.pending[stopKey(s)];
    const icon = L.divIcon({ className: `stop stop-${s.kind}${done ? ' stop-done' : ''}${s.overdue ? ' stop-overdue' : ''}`,
      html: `<span style="background:${colors[s.kind] || '#555'}">${s.order || ''}</span>`, iconSize: [28, 28] });
    L.marker(toMap(s.lat, s.lon), { icon, title: catName(s.category) })
      .bindPopup(`<b>${esc(t(`kind_${s.kind}`))} · ${esc(catName(s.category))}</b><br>${esc(t('case_n', s.case_id))}` +
        (s.address ? `<br>${esc(s.address)}` : ''))
      .addTo(layers.tasks);
  }
  renderTrack();
  if (fit) fitGrid();
}

let needFit = false;
/** Show the whole grid; a hidden map has no size, so it is done when the map is shown. */
function fitGrid() {
  if (!layers.grid.getLayers().length) return;
  if (!map.getContainer().offsetWidth) { needFit = true; return; }
  needFit = false;
  // at most z18, where the basemap has its own tiles: a 楼栋长's micro-grid of a few buildings keeps its streets around it
  map.fitBounds(layers.grid.getBounds(), { padding: [12, 12], maxZoom: 18 });
}

export function renderTrack() {
  if (!map) return;
  const pts = S.patrol ? S.patrol.points : [];
  layers.track.setLatLngs(pts.map((p) => toMap(p[0], p[1])));
  const stats = $('patrol-stats');
  if (S.patrol) {
    stats.hidden = false;
    stats.textContent = `${t('walked', S.patrol.walked_m)} · ${t('fixes', S.patrol.n || 0)}`;
    $('patrol-btn').textContent = t('end_patrol');
    $('patrol-btn').classList.add('danger');
  } else {
    const walked = S.today ? S.today.walked_m || 0 : 0;
    stats.hidden = !walked;
    stats.textContent = walked ? `${t('covered_today')} · ${t('walked', walked)}` : '';
    $('patrol-btn').textContent = t('start_patrol');
    $('patrol-btn').classList.remove('danger');
  }
}

export function renderPosition() {
  if (!map || !S.pos) return;
  const ll = toMap(S.pos.lat, S.pos.lon);
  layers.me.setLatLng(ll).addTo(map);
  layers.accuracy.setLatLng(ll).setRadius(S.pos.acc || 1).addTo(map);
}


/** The map screen is shown: Leaflet measures its size again and fits the grid if that waited for a size. */
export function showMap() {
  if (!map) return;
  setTimeout(() => { map.invalidateSize(); if (needFit) fitGrid(); }, 0);
}

/** Centre the map on a WGS-84 position (zoom 18: a few buildings). */
export function centreOn(lat, lon, zoom = 18) {
  if (map) map.setView(toMap(lat, lon), zoom);
}
