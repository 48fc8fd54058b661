/* Our own basemap under a folium map (maps/leaflet.py OwnBasemap): folium's script has made the map as a global
 * named by the hidden .gp-basemap-config element; the current map version comes from /tiles/meta.json (so a cached
 * page still asks for the newest tiles). An ES module: it runs after the page's classic scripts. */

import { basemapLayer } from '/static/js/basemap.js';

async function meta() {
  try {
    const res = await fetch('/tiles/meta.json', { credentials: 'same-origin' });
    return res.ok ? await res.json() : {};
  } catch (err) {
    return {};
  }
}

const configs = [...document.querySelectorAll('.gp-basemap-config[data-map]')];
if (configs.length) {
  const m = await meta();
  for (const el of configs) {
    const map = window[el.dataset.map];
    if (!(map instanceof L.Map)) continue;
    const layer = basemapLayer({ url: `/tiles/{z}/{x}/{y}.pbf?v=${m.version || 1}`, attribution: el.dataset.attribution,
      minzoom: m.minzoom ?? 10, maxzoom: m.maxzoom ?? 18 }, { areas: false });  // folium pages draw grids themselves
    layer.addTo(map);
    layer.bringToBack();
    window.gridpatrolBasemap = layer;
  }
}
