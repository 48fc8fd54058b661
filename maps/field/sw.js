/* gridpatrol field app — service worker. The app shell (page, scripts, styles, Leaflet, icons) is served from the
 * cache first, so the app opens in a stairwell with no signal; map tiles seen once are kept too. Our own basemap's
 * vector tiles (/tiles/{z}/{x}/{y}.pbf?v=N) are answered from the cache of their map version N first (the app puts
 * her grids' tiles there after each sync, offline.js); a tile of a newer version drops the older versions' caches. API calls are not
 * touched here: the app keeps the day's data and its outbox in IndexedDB (store.js), where it can tell what is sent.
 * SHELL names the files by their content-hashed URLs (…/app.js?v=1a2b3c4d, as the page and its import map ask for
 * them): a release changes this file, the browser installs it, and only the files whose hash changed are downloaded
 * (the others come from the HTTP cache, where they are immutable). The page and plain URLs are always re-fetched. */
const VERSION = '__VERSION__';
const SHELL_CACHE = `gridpatrol-shell-${VERSION}`;
const TILE_CACHE = 'gridpatrol-tiles';
const TILE_MAX = 3000;
const OWN_TILES = 'gridpatrol-basemap-';   // + the map version (offline.js TILE_CACHE_PREFIX)
const OWN_TILE_MAX = 6000;                 // her grids' tiles (≤ 1,500) and what she browsed online
let ownPuts = 0;
const SHELL = __SHELL__;

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(SHELL_CACHE);
    await cache.addAll(SHELL.map((u) => new Request(u, { cache: u.includes('?v=') ? 'default' : 'reload' })));
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (key.startsWith('gridpatrol-shell-') && key !== SHELL_CACHE) await caches.delete(key);
    }
    await self.clients.claim();
  })());
});

async function trimTiles() {
  const cache = await caches.open(TILE_CACHE);
  const keys = await cache.keys();
  for (let i = 0; i < keys.length - TILE_MAX; i++) await cache.delete(keys[i]);
}

async function ownTile(req, url) {
  const name = OWN_TILES + (url.searchParams.get('v') || '0');
  const cache = await caches.open(name);
  const hit = await cache.match(req, { ignoreVary: true });
  if (hit) return hit;
  const res = await fetch(req);
  if (res.ok) {
    await cache.put(req, res.clone());
    for (const key of await caches.keys()) {
      if (key.startsWith(OWN_TILES) && key !== name) await caches.delete(key);
    }
    if (++ownPuts % 100 === 0) {                 // now and then: the oldest go first
      const keys = await cache.keys();
      for (let i = 0; i < keys.length - OWN_TILE_MAX; i++) await cache.delete(keys[i]);
    }
  }
  return res;
}

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin === self.location.origin) {
    if (url.pathname.startsWith('/tiles/') && url.pathname.endsWith('.pbf')) {
      event.respondWith(ownTile(req, url));
      return;
    }
    if (url.pathname.startsWith('/api/')) return;               // data: the app's own business
    const path = req.mode === 'navigate' && url.pathname.startsWith('/app') ? '/app/' : url.pathname + url.search;
    if (!SHELL.includes(path)) return;
    event.respondWith((async () => {
      const cache = await caches.open(SHELL_CACHE);
      const hit = await cache.match(path);
      if (hit) return hit;
      const res = await fetch(req);
      if (res.ok) cache.put(path, res.clone());
      return res;
    })());
    return;
  }
  if (req.destination === 'image') {                             // basemap tiles: cache first, keep the newest
    event.respondWith((async () => {
      const cache = await caches.open(TILE_CACHE);
      const hit = await cache.match(req);
      if (hit) return hit;
      const res = await fetch(req);
      if (res.ok || res.type === 'opaque') {
        await cache.put(req, res.clone());
        trimTiles();
      }
      return res;
    })());
  }
});
