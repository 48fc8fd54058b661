/* Our own basemap: the vector tiles gridpatrol serves at /tiles/{z}/{x}/{y}.pbf (Mapbox Vector Tile; layers water,
 * green, roads, buildings, communities, grids, labels — see api/routes/tiles.py), drawn on a canvas per tile by a
 * small Leaflet GridLayer, with no internet and no WebGL. Decoding is done by the vendored `pbf` and
 * `@mapbox/vector-tile` (maps/static/vendor/README.md says why not Leaflet.VectorGrid or MapLibre).
 *
 * Style: light and quiet, for Chinese streets — water blue, green areas, roads by class (white streets with grey
 * casings, yellow/orange main roads), building footprints from z15, community and grid outlines faint; labels with
 * canvas fillText in the system CJK fonts: road names along long enough stretches (z15+), house numbers (z17) and
 * building labels (z18) where they fit the building, community names (to z16) and grid names (z16+) from the `labels`
 * layer, each kept clear of the ones placed before it in the same tile (and off the tile's edge, so never cut).
 * HiDPI: the canvas has devicePixelRatio pixels per CSS pixel.
 *
 * Every tile element says what it drew (for tests and for curiosity): data-state (drawn | empty | error | skipped),
 * data-buildings, data-roads, data-areas and data-labels (the label texts, one a line). Needs Leaflet's global L. */

import { PbfReader } from '/static/vendor/pbf-5.2.1/index.js';
import { VectorTile } from '/static/vendor/vector-tile-3.0.0/index.js';

export const FONT = '"PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif';
const BG = '#f4f2ec';
const WATER = '#a9cfe6';
const GREEN = '#cfe6bd';
const BUILDING = '#ded6ca';
const BUILDING_LINE = '#c2b5a3';
const MAJOR = new Set(['motorway', 'trunk', 'motorway_link', 'trunk_link']);
const MAIN = new Set(['primary', 'secondary', 'primary_link', 'secondary_link']);
const MINOR = new Set(['tertiary', 'tertiary_link', 'residential', 'unclassified', 'living_street', 'road']);
const PATHS = new Set(['footway', 'path', 'pedestrian', 'cycleway', 'steps', 'track', 'bridleway', 'corridor']);

/** Width at z16 (CSS px), fill, casing (null: none), dash, lowest zoom drawn. */
function roadStyle(cls) {
  if (MAJOR.has(cls)) return { w: 7, fill: '#ffc46b', casing: '#e0963a', from: 0 };
  if (MAIN.has(cls)) return { w: 6, fill: '#ffe8a3', casing: '#d7b265', from: 0 };
  if (MINOR.has(cls)) return { w: 4.2, fill: '#ffffff', casing: '#cbc4b8', from: cls === 'tertiary' ? 0 : 13 };
  if (PATHS.has(cls)) return { w: 1, fill: '#c2b6a6', casing: null, dash: [4, 3], max: 2, from: 16 };
  return { w: 3, fill: '#ffffff', casing: '#d3cdc3', from: 15 };  // service and anything else
}

function roadWidth(base, z) {
  return z >= 16 ? base * Math.pow(2, (z - 16) * 0.7) : Math.max(0.6, base * Math.pow(2, (z - 16) * 0.8));
}

/** The tile URL of a basemap config ({kind: 'vector', url: '/tiles/{z}/{x}/{y}.pbf?v=N', …}). */
export function tileUrl(cfg, z, x, y) {
  return cfg.url.replace('{z}', z).replace('{x}', x).replace('{y}', y);
}

/** Tile x/y at zoom z of a WGS-84 lon/lat (Web Mercator, as Leaflet and the tile server count them). */
export function lonLatToTile(lon, lat, z) {
  const n = Math.pow(2, z);
  const r = Math.max(-85.0511, Math.min(85.0511, lat)) * Math.PI / 180;
  const x = Math.floor((lon + 180) / 360 * n);
  const y = Math.floor((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2 * n);
  return [Math.min(n - 1, Math.max(0, x)), Math.min(n - 1, Math.max(0, y))];
}

/** Every tile URL covering the box [west, south, east, north] at zooms z0..z1 (smallest zoom first). */
export function tilesOfBox(cfg, box, z0 = 15, z1 = 18) {
  const urls = [];
  for (let z = z0; z <= z1; z++) {
    const [x0, y0] = lonLatToTile(box[0], box[3], z);
    const [x1, y1] = lonLatToTile(box[2], box[1], z);
    for (let x = x0; x <= x1; x++) for (let y = y0; y <= y1; y++) urls.push(tileUrl(cfg, z, x, y));
  }
  return urls;
}

function layerFeatures(tile, name) {
  const layer = tile.layers[name];
  const out = [];
  if (!layer) return out;
  for (let i = 0; i < layer.length; i++) out.push(layer.feature(i));
  return out;
}

function tracePaths(ctx, geom, k) {
  for (const ring of geom) {
    for (let i = 0; i < ring.length; i++) {
      const p = ring[i];
      if (i === 0) ctx.moveTo(p.x * k, p.y * k); else ctx.lineTo(p.x * k, p.y * k);
    }
  }
}

function fillAreas(ctx, features, k, fill, stroke) {
  if (!features.length) return;
  ctx.beginPath();
  for (const f of features) if (f.type === 3) tracePaths(ctx, f.loadGeometry(), k);
  ctx.fillStyle = fill;
  ctx.fill('evenodd');
  if (stroke) { ctx.strokeStyle = stroke; ctx.lineWidth = 0.8; ctx.stroke(); }
}

function outlines(ctx, features, k, color, width, dash) {
  if (!features.length) return;
  ctx.beginPath();
  for (const f of features) if (f.type === 3) tracePaths(ctx, f.loadGeometry(), k);
  ctx.setLineDash(dash);
  ctx.strokeStyle = color;
  ctx.lineWidth = width;
  ctx.stroke();
  ctx.setLineDash([]);
}

function drawRoads(ctx, roads, k, z) {
  const styled = roads.filter((f) => f.type === 2)
    .map((f) => ({ f, s: roadStyle(String(f.properties.class || '')), g: f.loadGeometry() }))
    .filter((r) => z >= r.s.from);
  ctx.lineCap = 'round';
  ctx.lineJoin = 'round';
  const rank = (r) => (MAJOR.has(r.f.properties.class) ? 3 : MAIN.has(r.f.properties.class) ? 2 : r.s.casing ? 1 : 0);
  styled.sort((a, b) => rank(a) - rank(b));
  for (const pass of ['casing', 'fill']) {
    for (const r of styled) {
      const color = pass === 'casing' ? r.s.casing : r.s.fill;
      if (!color) continue;
      const w = Math.min(roadWidth(r.s.w, z), r.s.max || 99);
      ctx.beginPath();
      tracePaths(ctx, r.g, k);
      ctx.setLineDash(pass === 'fill' && r.s.dash ? r.s.dash : []);
      ctx.strokeStyle = color;
      ctx.lineWidth = pass === 'casing' ? w + 2 : w;
      ctx.stroke();
    }
  }
  ctx.setLineDash([]);
  return styled;
}

/* ---- labels ---- */

class Placer {
  constructor(size) { this.size = size; this.boxes = []; this.texts = []; }
  fits(box) {
    const m = 2;
    if (box[0] < m || box[1] < m || box[2] > this.size - m || box[3] > this.size - m) return false;
    return !this.boxes.some((b) => box[0] < b[2] && box[2] > b[0] && box[1] < b[3] && box[3] > b[1]);
  }
  take(box, text) { this.boxes.push(box); this.texts.push(text); }
}

function halo(ctx, text, x, y, color, haloColor = 'rgba(255,255,255,0.92)') {
  ctx.strokeStyle = haloColor;
  ctx.lineWidth = 3;
  ctx.strokeText(text, x, y);
  ctx.fillStyle = color;
  ctx.fillText(text, x, y);
}

function pointLabel(ctx, placer, text, x, y, font, color) {
  ctx.font = font;
  const w = ctx.measureText(text).width;
  const h = parseFloat(font.match(/(\d+(?:\.\d+)?)px/)[1]);
  const box = [x - w / 2 - 2, y - h / 2 - 2, x + w / 2 + 2, y + h / 2 + 2];
  if (!placer.fits(box)) return false;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  halo(ctx, text, x, y, color);
  placer.take(box, text);
  return true;
}

/** The point at distance d along a polyline of CSS-pixel points, and the length of the line. */
function along(pts, d) {
  for (let i = 1; i < pts.length; i++) {
    const seg = Math.hypot(pts[i].x - pts[i - 1].x, pts[i].y - pts[i - 1].y);
    if (d <= seg && seg > 0) {
      const t = d / seg;
      return { x: pts[i - 1].x + t * (pts[i].x - pts[i - 1].x), y: pts[i - 1].y + t * (pts[i].y - pts[i - 1].y) };
    }
    d -= seg;
  }
  return pts[pts.length - 1];
}

function lineLength(pts) {
  let n = 0;
  for (let i = 1; i < pts.length; i++) n += Math.hypot(pts[i].x - pts[i - 1].x, pts[i].y - pts[i - 1].y);
  return n;
}

function roadLabel(ctx, placer, name, lines, size, font) {
  ctx.font = font;
  const w = ctx.measureText(name).width;
  let best = null;
  for (const pts of lines) {
    const len = lineLength(pts);
    if (len >= w + 24 && (!best || len > best.len)) best = { pts, len };
  }
  if (!best) return false;
  const mid = along(best.pts, best.len / 2);
  if (mid.x < 0 || mid.y < 0 || mid.x > size || mid.y > size) return false;
  const a = along(best.pts, best.len / 2 - w / 2);
  const b = along(best.pts, best.len / 2 + w / 2);
  let angle = Math.atan2(b.y - a.y, b.x - a.x);
  if (angle > Math.PI / 2) angle -= Math.PI; else if (angle < -Math.PI / 2) angle += Math.PI;
  const h = 12;
  const c = Math.abs(Math.cos(angle)), s = Math.abs(Math.sin(angle));
  const hw = (w * c + h * s) / 2 + 2, hh = (w * s + h * c) / 2 + 2;
  const box = [mid.x - hw, mid.y - hh, mid.x + hw, mid.y + hh];
  if (!placer.fits(box)) return false;
  ctx.save();
  ctx.translate(mid.x, mid.y);
  ctx.rotate(angle);
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  halo(ctx, name, 0, 0, '#4a4540');
  ctx.restore();
  placer.take(box, name);
  return true;
}

function ringCentre(ring, k) {
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (const p of ring) {
    minX = Math.min(minX, p.x); maxX = Math.max(maxX, p.x); minY = Math.min(minY, p.y); maxY = Math.max(maxY, p.y);
  }
  return { x: (minX + maxX) / 2 * k, y: (minY + maxY) / 2 * k, w: (maxX - minX) * k };
}

function drawLabels(ctx, parts, k, z, size) {
  const placer = new Placer(size);
  const inside = (p) => p.x >= 0 && p.y >= 0 && p.x < size && p.y < size;
  for (const f of parts.labels) {              // community and grid names first: they matter most
    const kind = f.properties.kind, name = f.properties.name;
    if (!name || f.type !== 1) continue;
    const p = f.loadGeometry()[0][0];
    const pt = { x: p.x * k, y: p.y * k };
    if (!inside(pt)) continue;
    if (kind === 'community' && z <= 16) pointLabel(ctx, placer, String(name), pt.x, pt.y, `bold 13px ${FONT}`, '#6a4c93');
    else if (kind === 'grid' && z >= 16) pointLabel(ctx, placer, String(name), pt.x, pt.y, `12px ${FONT}`, '#2f6db5');
  }
  if (z >= 15) {
    const named = new Map();
    for (const r of parts.roads) {
      const name = r.f.properties.name;
      if (!name) continue;
      const lines = r.g.map((ring) => ring.map((p) => ({ x: p.x * k, y: p.y * k })));
      if (!named.has(name)) named.set(name, []);
      named.get(name).push(...lines);
    }
    const order = [...named.entries()].sort((a, b) => b[1].reduce((n, l) => n + lineLength(l), 0)
      - a[1].reduce((n, l) => n + lineLength(l), 0));
    for (const [name, lines] of order) roadLabel(ctx, placer, String(name), lines, size, `12px ${FONT}`);
  }
  if (z >= 17) {
    for (const f of parts.buildings) {
      const p = f.properties;
      const text = z >= 18 ? p.label || p.name || p.housenumber : p.housenumber || p.name;
      if (!text || f.type !== 3) continue;
      const c = ringCentre(f.loadGeometry()[0], k);
      if (!inside(c)) continue;
      ctx.font = `11px ${FONT}`;
      if (ctx.measureText(String(text)).width > c.w * (z >= 18 ? 1.5 : 1.2)) continue;
      pointLabel(ctx, placer, String(text), c.x, c.y, `11px ${FONT}`, '#7a6e60');
    }
  }
  return placer.texts;
}

/** Draw one decoded tile on a 2D context whose unit is a CSS pixel of a size×size tile; ``areas: false`` leaves out
 * the grid and community outlines and names (for pages that draw those themselves). */
export function drawTile(ctx, tile, z, size, { areas = true } = {}) {
  const get = (name) => layerFeatures(tile, name);
  const extent = (Object.values(tile.layers)[0] || { extent: 4096 }).extent;
  const k = size / extent;
  ctx.fillStyle = BG;
  ctx.fillRect(0, 0, size, size);
  const water = get('water'), green = get('green');
  fillAreas(ctx, green, k, GREEN, null);
  fillAreas(ctx, water, k, WATER, null);
  if (areas) {
    outlines(ctx, get('communities'), k, 'rgba(106,76,147,0.45)', z >= 15 ? 2 : 1.4, [6, 4]);
    outlines(ctx, get('grids'), k, 'rgba(47,109,181,0.28)', 1, [3, 3]);
  }
  const buildings = z >= 15 ? get('buildings') : [];
  fillAreas(ctx, buildings, k, BUILDING, z >= 16 ? BUILDING_LINE : null);
  const roads = drawRoads(ctx, get('roads'), k, z);
  const texts = drawLabels(ctx, { labels: areas ? get('labels') : [], roads, buildings }, k, z, size);
  return { buildings: buildings.length, roads: roads.length, areas: water.length + green.length, labels: texts };
}

function blank(ctx, size) {
  ctx.fillStyle = BG;
  ctx.fillRect(0, 0, size, size);
}

/** The Leaflet layer of our basemap: cfg = {url, attribution, minzoom, maxzoom} (the page's config); options are
 * Leaflet GridLayer options plus ``areas: false`` (no grid/community outlines and names: the page draws them). */
export function basemapLayer(cfg, options = {}) {
  const Basemap = L.GridLayer.extend({
    createTile(coords, done) {
      const size = this.getTileSize().x;
      const dpr = window.devicePixelRatio || 1;
      const canvas = document.createElement('canvas');
      canvas.width = Math.round(size * dpr);
      canvas.height = Math.round(size * dpr);
      const ctx = canvas.getContext('2d');
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      const finish = (state, drawn) => {
        canvas.dataset.state = state;
        canvas.dataset.z = coords.z;
        if (drawn) {
          canvas.dataset.buildings = drawn.buildings;
          canvas.dataset.roads = drawn.roads;
          canvas.dataset.areas = drawn.areas;
          canvas.dataset.labels = drawn.labels.join('\n');
        }
        done(null, canvas);
      };
      if (coords.z < (cfg.minzoom || 0)) { blank(ctx, size); setTimeout(() => finish('skipped'), 0); return canvas; }
      const abort = new AbortController();
      canvas._abort = abort;
      fetch(tileUrl(cfg, coords.z, coords.x, coords.y), { signal: abort.signal, credentials: 'same-origin' })
        .then((res) => {
          if (res.status === 204) return null;
          if (!res.ok) throw new Error(`tile ${res.status}`);
          return res.arrayBuffer();
        })
        .then((buf) => {
          if (!buf || !buf.byteLength) { blank(ctx, size); finish('empty'); return; }
          const tile = new VectorTile(new PbfReader(new Uint8Array(buf)));
          finish('drawn', drawTile(ctx, tile, coords.z, size, { areas: this.options.areas !== false }));
        })
        .catch((err) => { if (err.name !== 'AbortError') { blank(ctx, size); finish('error'); } });
      return canvas;
    },
  });
  const layer = new Basemap({
    maxNativeZoom: cfg.maxzoom || 18, maxZoom: 20, attribution: cfg.attribution || '', className: 'gp-basemap',
    ...options,
  });
  layer.on('tileunload', (e) => { if (e.tile._abort) e.tile._abort.abort(); });
  return layer;
}

/** The basemap a page's config asks for: ours ({kind: 'vector'}), an external raster URL, or none (null). */
export function basemap(tiles, options = {}) {
  if (!tiles || !tiles.url) return null;
  if (tiles.kind === 'vector') return basemapLayer(tiles, options);
  return L.tileLayer(tiles.url, { maxZoom: 19, attribution: tiles.attribution || '', ...options });
}
