/* gridpatrol planner: the 微网格 layer (/planner, issue 22). With "show micro-grids" ticked it draws the micro-grids
 * of the plan on screen (a draft's own copy, GET /api/v1/microgrids?plan=) and, zoomed in, their buildings coloured
 * by micro-grid; clicking a micro-grid picks it as the target, clicking a building then moves it there
 * (POST /api/v1/microgrids/{code}/buildings with the draft's id). Works beside planner.js through the map and state
 * it exposes (window.gridpatrolPlanner). An ES module: no inline script (tests/browser/test_csp.py). */
import { datum } from './datum.js';
import { esc } from './html.js';

const CFG = JSON.parse(document.getElementById('cfg').textContent);
const L10N = CFG.labels;
const fmt = (key, ...args) => (L10N[key] || key).replace(/\{(\d+)\}/g, (_, i) => String(args[+i] ?? ''));
const DATUM = datum(CFG.datum);
const c2l = (c) => DATUM.toMap(c[1], c[0]);
const $ = (id) => document.getElementById(id);
const COLOURS = ['#1b9e77', '#d95f02', '#7570b3', '#e7298a', '#66a61e', '#e6ab02', '#a6761d', '#1f78b4'];
const MIN_ZOOM = 16;

const M = { features: [], target: null, byBuilding: new Map(), colour: new Map() };

function planner() { return window.gridpatrolPlanner; }
function plan() { const p = planner(); return p && p.state.plan ? p.state.plan.plan : null; }
function isDraft() { const p = plan(); return !!p && p.status === 'draft'; }

async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${localStorage.getItem('gridpatrol.token')}`,
    'Accept-Language': CFG.lang === 'en' ? 'en' : 'zh' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await r.json();
  if (!r.ok) throw new Error(data.message || `HTTP ${r.status}`);
  return data;
}

function state(text) { $('micro-state').textContent = text; }

let microLayer = null;
let buildingLayer = null;

function layers() {
  if (microLayer) return;
  const map = planner().map;
  microLayer = L.geoJSON(null, { coordsToLatLng: c2l, style: microStyle, onEachFeature: bindMicro }).addTo(map);
  buildingLayer = L.geoJSON(null, { coordsToLatLng: c2l, style: buildingStyle, onEachFeature: bindBuilding })
    .addTo(map);
  map.on('moveend', () => { if ($('micro-show').checked) loadBuildings(); });
}

function microStyle(f) {
  const chosen = M.target === f.properties.code;
  return { color: M.colour.get(f.properties.code), weight: chosen ? 4 : 2, dashArray: chosen ? null : '5 4',
    fillOpacity: chosen ? 0.2 : 0.06 };
}

function buildingStyle(f) {
  const code = M.byBuilding.get(f.properties.id);
  return { color: code ? M.colour.get(code) : '#777', weight: 1, fillOpacity: code ? 0.6 : 0.15 };
}

function bindMicro(f, layer) {
  const p = f.properties;
  layer.bindTooltip(`${esc(p.code)} ${esc(p.name)} · ${p.households} 户${p.leader ? ` · ${esc(L10N.micro_leader)} ${esc(p.leader)}` : ''}`);
  layer.on('click', () => {
    M.target = p.code;
    microLayer.setStyle(microStyle);
    state(fmt('micro_target', `${p.code} ${p.name}`));
  });
}

function bindBuilding(f, layer) {
  layer.on('click', async (ev) => {
    L.DomEvent.stopPropagation(ev);
    if (!M.target) return;
    if (!isDraft()) { state(L10N.micro_readonly); return; }
    try {
      await api('POST', `/api/v1/microgrids/${encodeURIComponent(M.target)}/buildings`,
        { building_id: f.properties.id, plan_id: plan().id });
      await refresh();
      state(fmt('micro_moved', f.properties.label || f.properties.id, M.target));
    } catch (err) { state(err.message); }
  });
}

async function refresh() {
  layers();
  microLayer.clearLayers();
  buildingLayer.clearLayers();
  if (!$('micro-show').checked || !plan()) return;
  const p = plan();
  const fc = await api('GET', p.status === 'draft' ? `/api/v1/microgrids?plan=${p.id}` : '/api/v1/microgrids');
  M.features = fc.features;
  M.byBuilding = new Map();
  M.colour = new Map();
  fc.features.forEach((f, i) => {
    M.colour.set(f.properties.code, COLOURS[i % COLOURS.length]);
    for (const b of f.properties.buildings) M.byBuilding.set(b, f.properties.code);
  });
  microLayer.addData(fc);
  if (!fc.features.length) state(L10N.micro_none);
  await loadBuildings();
}

async function loadBuildings() {
  const map = planner().map;
  buildingLayer.clearLayers();
  if (map.getZoom() < MIN_ZOOM) { if (M.features.length) state(L10N.micro_zoom); return; }
  const b = map.getBounds();
  const sw = DATUM.fromMap(b.getSouthWest());
  const ne = DATUM.fromMap(b.getNorthEast());
  const fc = await api('GET', `/api/v1/buildings?bbox=${sw.lon},${sw.lat},${ne.lon},${ne.lat}&limit=2000`);
  buildingLayer.addData(fc);
}

$('micro-show').addEventListener('change', () => refresh().catch((err) => state(err.message)));
$('plan-select').addEventListener('change', () => setTimeout(() => refresh().catch((err) => state(err.message)), 500));
