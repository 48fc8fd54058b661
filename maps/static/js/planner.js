/* gridpatrol planner's grid editor (/planner): works on a draft plan through /api/v1/plans — split a grid along a
 * line, merge grids, move the boundary between two neighbours, rebalance a community; validation with locations,
 * impact before/after with what moves, publish with an effective date, roll back, download and upload.
 * An ES module (maps/planner.py loads it with <script type="module"> after Leaflet's classic script); its labels come
 * from the server in the page's language (maps/planner.py LABELS) and are looked up through the shared translator. */
import { basemap } from './basemap.js';
import { datum } from './datum.js';
import { esc } from './html.js';
import { translator } from './i18n.js';
import { stickerDialog } from './stickers.js';

const CFG = JSON.parse(document.getElementById('cfg').textContent);
const tr = translator({ [CFG.lang]: CFG.labels }, CFG.lang);
/** A label with {0}, {1} … filled in (the server's labels are plain strings). */
const fmt = (key, ...args) => tr(key).replace(/\{(\d+)\}/g, (_, i) => String(args[+i] ?? ''));
const DATUM = datum(CFG.datum);
const $ = (id) => document.getElementById(id);
const token = localStorage.getItem('gridpatrol.token');

const S = { plans: [], plan: null, selected: [], mode: 'select', line: [], impact: null, validation: null,
  lastError: null, busy: 0 };

async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${token}`, 'Accept-Language': CFG.lang === 'en' ? 'en' : 'zh' };
  const form = body instanceof FormData;
  if (body !== undefined && !form) headers['Content-Type'] = 'application/json';
  const r = await fetch(path, { method, headers, body: form ? body : body === undefined ? undefined : JSON.stringify(body) });
  if (r.status === 401) { location.href = '/login?next=/planner'; throw new Error('log in'); }
  if (r.status === 204) return null;
  const type = r.headers.get('content-type') || '';
  const data = type.includes('json') ? await r.json() : await r.blob();
  if (!r.ok) throw Object.assign(new Error((data && data.message) || `HTTP ${r.status}`), { data, status: r.status });
  return data;
}

function say(text, error) {
  const m = $('message');
  m.textContent = text || '';
  m.className = error ? 'error' : '';
  if (error) S.lastError = text;
}

async function busy(fn) {
  S.busy += 1;
  document.body.classList.add('busy');
  try { return await fn(); } catch (e) { say(e.message, true); return null; } finally {
    S.busy -= 1;
    if (!S.busy) document.body.classList.remove('busy');
  }
}

// ------------------------------------------------------------------------------------------ map

const map = L.map('map', { zoomControl: true }).setView([0, 0], 2);
L.control.scale({ imperial: false }).addTo(map);
const tiles = basemap(CFG.tiles, { areas: false });  // the plan's grids are what the planner edits
if (tiles) tiles.addTo(map);
const c2l = (c) => DATUM.toMap(c[1], c[0]);
const gridLayer = L.geoJSON(null, { coordsToLatLng: c2l, style: gridStyle, onEachFeature: bindGrid }).addTo(map);
const movedLayer = L.geoJSON(null, { coordsToLatLng: c2l,
  pointToLayer: (f, ll) => L.circleMarker(ll, { radius: 4, color: '#7b1fa2', weight: 1, fillOpacity: 0.8 }),
  style: { color: '#7b1fa2', weight: 2, dashArray: '4 4', fillOpacity: 0.05 } }).addTo(map);
const problemLayer = L.layerGroup().addTo(map);
const drawLayer = L.polyline([], { color: '#d32f2f', weight: 3, dashArray: '6 4' }).addTo(map);
L.control.layers(null, { [tr('moved')]: movedLayer, [tr('validation')]: problemLayer }, { collapsed: false }).addTo(map);
window.gridpatrolPlanner = { state: S, map, ready: null };

function households(code) {
  const g = S.impact && S.impact.grids.find((x) => x.code === code);
  return g && g.after ? g.after.households : null;
}
function gridStyle(f) {
  const code = f.properties.code;
  const h = households(code);
  const [lo, hi] = CFG.range;
  const bad = h != null && (h < lo || h > hi);
  const sel = S.selected.includes(code);
  return { color: sel ? '#ef6c00' : '#1565c0', weight: sel ? 4 : 2, fillColor: bad ? '#e53935' : '#43a047',
    fillOpacity: bad ? 0.28 : 0.12 };
}
function bindGrid(f, layer) {
  const code = f.properties.code;
  const h = households(code);
  layer.bindTooltip(`${esc(code.slice(-3))}${h != null ? ` · ${h}` : ''}`, { permanent: true, direction: 'center', className: 'grid-label' });
  layer.on('click', (ev) => {
    if (S.mode === 'split' || S.mode === 'boundary') {
      if ((S.mode === 'split' && S.selected.length < 1) || (S.mode === 'boundary' && S.selected.length < 2)) toggle(code);
      else addVertex(ev.latlng);
      L.DomEvent.stopPropagation(ev);
      return;
    }
    toggle(code);
    L.DomEvent.stopPropagation(ev);
  });
}
function toggle(code) {
  const multi = S.mode === 'merge' || S.mode === 'boundary';
  if (S.selected.includes(code)) S.selected = S.selected.filter((c) => c !== code);
  else S.selected = multi ? [...S.selected, code] : [code];
  if (S.mode === 'boundary' && S.selected.length > 2) S.selected = S.selected.slice(-2);
  gridLayer.setStyle(gridStyle);
  renderSelected();
}
function addVertex(ll) {
  S.line.push(ll);
  drawLayer.setLatLngs(S.line);
  $('finish').disabled = S.line.length < 2;
}
map.on('click', (ev) => { if (S.mode === 'split' || S.mode === 'boundary') addVertex(ev.latlng); });

function renderSelected() {
  const feats = S.plan ? S.plan.features.filter((f) => S.selected.includes(f.properties.code)) : [];
  $('selected').innerHTML = feats.map((f) => {
    const h = households(f.properties.code);
    return `<b>${esc(f.properties.code)}</b> ${esc(f.properties.name || '')}${h != null ? ` · ${h} ${esc(tr('households'))}` : ''}${f.properties.worker ? ` · ${esc(f.properties.worker)}` : ''}`;
  }).join('<br>');
}

function setMode(mode) {
  S.mode = mode;
  S.line = [];
  drawLayer.setLatLngs([]);
  if (mode === 'select' || mode === 'split') S.selected = S.selected.slice(0, 1);
  for (const b of document.querySelectorAll('[data-mode]')) b.classList.toggle('active', b.dataset.mode === mode);
  $('hint').textContent = tr(`hint_${mode}`);
  $('finish').hidden = !(mode === 'split' || mode === 'boundary');
  $('finish').disabled = true;
  $('do-merge').hidden = mode !== 'merge';
  $('cancel').hidden = mode === 'select';
  gridLayer.setStyle(gridStyle);
  renderSelected();
}

// ------------------------------------------------------------------------------------------ plans

function isDraft() { return S.plan && S.plan.plan.status === 'draft'; }

async function loadPlans(selectId) {
  S.plans = await api('GET', '/api/v1/plans');
  const sel = $('plan-select');
  sel.innerHTML = S.plans.map((p) => `<option value="${p.id}">#${p.id} ${esc(p.name || '')} · ${esc(tr(p.status))}${p.effective_from ? ` · ${esc(p.effective_from)}` : ''}</option>`).join('');
  if (!S.plans.length) { say(tr('no_plans')); return; }
  const pick = selectId || (S.plans.find((p) => p.status === 'draft') || S.plans.find((p) => p.status === 'published') || S.plans[0]).id;
  sel.value = String(pick);
  await loadPlan(pick, true);
}

async function loadPlan(id, fit) {
  S.plan = await api('GET', `/api/v1/plans/${id}`);
  S.selected = S.selected.filter((c) => S.plan.features.some((f) => f.properties.code === c));
  await Promise.all([loadImpact(), loadValidation()]);
  // the view first: permanent labels need a map that has one
  const bounds = L.geoJSON(S.plan, { coordsToLatLng: c2l }).getBounds();
  if ((fit || !map._loaded) && bounds.isValid()) map.fitBounds(bounds, { padding: [10, 10], animate: false });
  gridLayer.clearLayers();
  gridLayer.addData(S.plan);
  const draft = isDraft();
  for (const el of document.querySelectorAll('#tools button, #tools select, #publish, #upload, #delete-draft')) el.disabled = !draft;
  $('hint').textContent = draft ? (tr(`hint_${S.mode}`)) : tr('readonly');
  const communities = [...new Set(S.plan.features.map((f) => f.properties.community_id).filter((c) => c != null))].sort((a, b) => a - b);
  const names = S.communities || {};
  $('community').innerHTML = communities.map((c) => `<option value="${c}">${esc(names[c] || c)}</option>`).join('');
  renderSelected();
}

async function loadImpact() {
  S.impact = await api('GET', `/api/v1/plans/${S.plan.plan.id}/impact`);
  const rows = S.impact.grids.slice().sort((a, b) => (a.status === 'unchanged') - (b.status === 'unchanged') || a.code.localeCompare(b.code));
  const cell = (g, k) => {
    const a = g.before ? g.before[k] : null, b = g.after ? g.after[k] : null;
    if (a === b || a == null || b == null) return esc(b ?? a ?? '');
    return `${esc(a)} → <b>${esc(b)}</b>`;
  };
  $('impact').querySelector('tbody').innerHTML = rows.map((g) => `<tr class="st-${g.status}" data-code="${esc(g.code)}">
    <td>${esc(g.code)}</td><td>${esc(tr(g.status))}</td><td>${cell(g, 'households')}</td><td>${cell(g, 'buildings')}</td>
    <td>${cell(g, 'street_m')}</td><td>${cell(g, 'open_cases')}</td><td>${cell(g, 'cases_90d')}</td><td>${cell(g, 'worker')}</td></tr>`).join('');
  const t = S.impact.totals;
  $('impact-summary').textContent = t ? `${t.grids.before} → ${t.grids.after} · ${t.changed} ${tr('changed')} · ${t.buildings_moving} ${tr('buildings')} · ${t.open_cases_moving} ${tr('open_cases')}` : '';
  movedLayer.clearLayers();
  if (S.impact.moved) movedLayer.addData(S.impact.moved);
}

async function loadValidation() {
  S.validation = await api('GET', `/api/v1/plans/${S.plan.plan.id}/validation`);
  const v = S.validation;
  $('valid-summary').textContent = v.ok && !v.warnings ? `✓ ${tr('ok')}` : `${v.errors} ${tr('errors')} · ${v.warnings} ${tr('warnings')}`;
  $('valid-summary').className = v.ok ? 'good' : 'bad';
  problemLayer.clearLayers();
  $('problems').innerHTML = v.problems.map((p, i) => {
    if (p.lat != null) {
      L.circleMarker(DATUM.toMap(p.lat, p.lon), { radius: 7, color: p.severity === 'error' ? '#c62828' : '#f9a825', weight: 3, fillOpacity: 0.3 })
        .bindPopup(esc(p.message)).addTo(problemLayer);
    }
    return `<li class="${p.severity}"><b>${esc(p.label || p.kind)}</b> ${esc(p.message)}${p.lat != null ? ` <button type="button" class="link" data-locate="${i}">${esc(tr('locate'))}</button>` : ''}</li>`;
  }).join('');
}

/** What 自动平衡 did, as a sentence: grids before/after, the households range reached, codes added and retired,
 * grids still out of range (the answer's stats; never shown raw). */
function proposalSummary(out) {
  const st = (out && out.stats) || {};
  const list = (codes) => (codes || []).join(tr('list_sep'));
  const parts = [fmt('proposal_done', out.community || '', st.grids, st.grids_changed, st.grids_kept),
    fmt('proposal_households', Math.round(st.households_min), Math.round(st.households_max),
      Math.round(st.households_mean), Math.round((st.in_range_share || 0) * 100))];
  if ((st.codes_new || []).length) parts.push(fmt('proposal_new', list(st.codes_new)));
  if ((st.codes_retired || []).length) parts.push(fmt('proposal_retired', list(st.codes_retired)));
  parts.push((st.out_of_range || []).length ? fmt('proposal_out', list(st.out_of_range)) : tr('proposal_all_in'));
  return parts.join(tr('sentence_sep'));
}

async function reload() { await loadPlan(S.plan.plan.id, false); }

const lineGeo = () => ({ type: 'LineString', coordinates: S.line.map((ll) => { const p = DATUM.fromMap(ll); return [p.lon, p.lat]; }) });

async function finishLine() {
  if (S.line.length < 2) return;
  await busy(async () => {
    const id = S.plan.plan.id;
    if (S.mode === 'split') {
      if (S.selected.length !== 1) throw new Error(tr('hint_split'));
      await api('POST', `/api/v1/plans/${id}/split`, { code: S.selected[0], line: lineGeo() });
    } else {
      if (S.selected.length !== 2) throw new Error(tr('hint_boundary'));
      await api('POST', `/api/v1/plans/${id}/move-boundary`, { codes: S.selected, line: lineGeo() });
    }
    say(tr('saved'));
    setMode('select');
    await reload();
  });
}

// ------------------------------------------------------------------------------------------ wiring

for (const b of document.querySelectorAll('[data-mode]')) b.addEventListener('click', () => setMode(b.dataset.mode));
$('finish').addEventListener('click', finishLine);
$('cancel').addEventListener('click', () => setMode('select'));
$('do-merge').addEventListener('click', () => busy(async () => {
  await api('POST', `/api/v1/plans/${S.plan.plan.id}/merge`, { codes: S.selected });
  say(tr('saved'));
  setMode('select');
  await reload();
}));
$('propose').addEventListener('click', () => busy(async () => {
  const out = await api('POST', `/api/v1/plans/${S.plan.plan.id}/propose?community=${encodeURIComponent($('community').value)}`);
  say(proposalSummary(out));
  await reload();
}));
$('plan-select').addEventListener('change', (ev) => busy(() => loadPlan(+ev.target.value, true)));
$('new-draft').addEventListener('click', () => busy(async () => {
  const p = await api('POST', '/api/v1/plans', {});
  await loadPlans(p.id || (p.plan && p.plan.id));
}));
$('delete-draft').addEventListener('click', () => busy(async () => {
  await api('DELETE', `/api/v1/plans/${S.plan.plan.id}`);
  await loadPlans();
}));
$('publish').addEventListener('click', () => busy(async () => {
  if (!window.confirm(tr('confirm_publish'))) return;
  const body = $('effective').value ? { effective_from: $('effective').value } : {};
  await api('POST', `/api/v1/plans/${S.plan.plan.id}/publish`, body);
  say(tr('published_ok'));
  await loadPlans(S.plan.plan.id);
}));
$('rollback').addEventListener('click', () => busy(async () => {
  if (!window.confirm(tr('confirm_rollback'))) return;
  const p = await api('POST', '/api/v1/plans/rollback', {});
  say(tr('published_ok'));
  await loadPlans(p && (p.id || (p.plan && p.plan.id)));
}));
for (const a of document.querySelectorAll('[data-format]')) {
  a.addEventListener('click', (ev) => {
    ev.preventDefault();
    busy(async () => {
      const blob = await api('GET', `/api/v1/plans/${S.plan.plan.id}/download?format=${a.dataset.format}`);
      const link = document.createElement('a');
      link.href = URL.createObjectURL(blob);
      link.download = `plan-${S.plan.plan.id}.${a.dataset.format === 'shp' ? 'zip' : a.dataset.format}`;
      document.body.appendChild(link);
      link.click();
      link.remove();
    });
  });
}
$('upload').addEventListener('change', (ev) => busy(async () => {
  const f = ev.target.files[0];
  if (!f) return;
  const form = new FormData();
  form.append('file', f, f.name);
  ev.target.value = '';
  await api('POST', `/api/v1/plans/${S.plan.plan.id}/upload`, form);
  say(tr('saved'));
  await reload();
}));
$('print-qr').addEventListener('click', () => {
  const feats = S.plan ? S.plan.features.filter((f) => S.selected.includes(f.properties.code)) : [];
  if (!feats.length) { say(tr('hint_print'), true); return; }
  stickerDialog({ lang: CFG.lang, kind: 'cards', scopes: feats.map((f) => ({
    query: `grid=${encodeURIComponent(f.properties.code)}`, label: `${f.properties.code} ${f.properties.name || ''}` })) });
});
$('problems').addEventListener('click', (ev) => {
  const b = ev.target.closest('[data-locate]');
  if (!b) return;
  const p = S.validation.problems[+b.dataset.locate];
  map.setView(DATUM.toMap(p.lat, p.lon), Math.max(map.getZoom(), 17));
});
$('impact').addEventListener('click', (ev) => {
  const tr = ev.target.closest('tr[data-code]');
  if (!tr) return;
  const layer = gridLayer.getLayers().find((l) => l.feature.properties.code === tr.dataset.code);
  if (layer) map.fitBounds(layer.getBounds(), { maxZoom: 18 });
});

window.gridpatrolPlanner.ready = busy(async () => {
  try {
    const coms = await fetch('/api/v1/communities?limit=5000').then((r) => r.json());
    S.communities = Object.fromEntries(coms.features.map((f) => [f.properties.id ?? f.id, f.properties.name]));
  } catch (_) { S.communities = {}; }
  setMode('select');
  await loadPlans();
});
