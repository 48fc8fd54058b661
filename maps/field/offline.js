/* gridpatrol field app — her map offline. After the day's data arrives, the tiles of our own basemap covering her
 * grids at z15–z18 (at most MAX_TILES, smallest zoom first) are put in the cache the service worker answers tiles
 * from (sw.js: cache first for the current map version, older versions dropped), so that in a stairwell the map still
 * shows buildings and street names. Done from the page with the Cache API, so it works before the service worker
 * controls the page; quietly: one line on the sync screen ("离线地图 已缓存 123/140 图块"). */

import { tilesOfBox } from '/static/js/basemap.js';
import { $, CONFIG, S, t } from './state.js';

export const MAX_TILES = 1500;
export const TILE_CACHE_PREFIX = 'gridpatrol-basemap-';
const PARALLEL = 4;

/** [west, south, east, north] of a GeoJSON FeatureCollection, or null when it has no coordinates. */
export function bbox(fc) {
  const box = [Infinity, Infinity, -Infinity, -Infinity];
  const walk = (c) => {
    if (typeof c[0] === 'number') {
      box[0] = Math.min(box[0], c[0]); box[1] = Math.min(box[1], c[1]);
      box[2] = Math.max(box[2], c[0]); box[3] = Math.max(box[3], c[1]);
    } else c.forEach(walk);
  };
  for (const f of (fc && fc.features) || []) if (f.geometry) walk(f.geometry.coordinates);
  return box[0] <= box[2] ? box : null;
}

/** The cache of the map version in a tile URL (…pbf?v=7 → gridpatrol-basemap-7). */
export function tileCacheName(url) {
  return TILE_CACHE_PREFIX + (new URL(url, location.href).searchParams.get('v') || '0');
}

const status = { key: null, done: 0, total: 0, failed: 0, finished: false, running: null };
window.gridpatrolOfflineMap = status;

function show() {
  const el = $('offline-map');
  if (!el) return;
  el.hidden = !status.total;
  el.textContent = t('offline_map', status.done, status.total)
    + (status.failed ? ` · ${t('offline_map_failed', status.failed)}` : '');
}

async function fill(urls, cache) {
  let next = 0;
  const worker = async () => {
    while (next < urls.length) {
      const url = urls[next++];
      try {
        const req = new Request(url, { credentials: 'same-origin' });
        if (!(await cache.match(req, { ignoreVary: true }))) await cache.add(req);
        status.done++;
      } catch (err) {
        status.failed++;
      }
      if ((status.done + status.failed) % 10 === 0) show();
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  show();
}

/** Fetch the tiles of her grids into the tile cache once per map version and grid extent (a promise; null when
 * there is nothing to do: an external basemap, no grids, no network, no Cache API). */
export function prefetchTiles() {
  const tiles = CONFIG.tiles;
  if (!tiles || tiles.kind !== 'vector' || !S.today || !navigator.onLine || !('caches' in window)) return null;
  const box = bbox(S.today.grids);
  if (!box) return null;
  const key = `${tiles.url}|${box.map((v) => v.toFixed(5)).join(',')}`;
  // once per map version and extent; again after a run that could not fetch every tile (the network came and went)
  if (status.key === key && status.running && (!status.finished || !status.failed)) return status.running;
  const urls = tilesOfBox(tiles, box, 15, 18).slice(0, MAX_TILES);
  const name = tileCacheName(tiles.url);
  Object.assign(status, { key, done: 0, total: urls.length, failed: 0, finished: false });
  show();
  status.running = (async () => {
    for (const old of await caches.keys()) {
      if (old.startsWith(TILE_CACHE_PREFIX) && old !== name) await caches.delete(old);
    }
    await fill(urls, await caches.open(name));
    status.finished = true;
    return { done: status.done, total: status.total, failed: status.failed };
  })();
  return status.running;
}
