/* gridpatrol field app — building footprints on a small map (the report's pin map): her grids' buildings as they
 * came with the day's data (each with its outline `ring`, so they draw offline too), tap one to pick it, the chosen
 * one highlighted and named in a tooltip. */

import { buildingLabel, buildings, toMap } from './state.js';

const NORMAL = { color: '#8d6e63', weight: 1, fillColor: '#d7ccc8', fillOpacity: 0.35 };
const CHOSEN = { color: '#d84315', weight: 3, fillColor: '#ffab91', fillOpacity: 0.75 };

/** A building's outline as [lon, lat] pairs (the day's data sends offsets in millionths of a degree from its point). */
const outlines = new WeakMap();  // not on the building itself: the day's data is stored as it came
export function outline(b) {
  if (!b.ring) return null;
  if (!outlines.has(b)) outlines.set(b, b.ring.map(([dx, dy]) => [b.lon + dx / 1e6, b.lat + dy / 1e6]));
  return outlines.get(b);
}

/** Is the WGS-84 point {lat, lon} inside a ring of [lon, lat] pairs (even–odd rule)? */
export function inRing(p, ring) {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i], [xj, yj] = ring[j];
    if ((yi > p.lat) !== (yj > p.lat) && p.lon < ((xj - xi) * (p.lat - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** The building whose footprint holds the point, or null. */
export function buildingAt(p) {
  if (!p) return null;
  return buildings().find((b) => b.ring && inRing(p, outline(b))) || null;
}

/** Footprints on ``map``; ``onPick(building, latlng)`` when one is tapped. Returns {redraw(), highlight(id)}. */
export function footprintLayer(map, onPick) {
  const group = L.layerGroup().addTo(map);
  const shapes = new Map();
  let chosen = null;
  function redraw() {
    group.clearLayers();
    shapes.clear();
    for (const b of buildings()) {
      if (!b.ring || b.ring.length < 4) continue;
      const poly = L.polygon(outline(b).map(([lon, lat]) => toMap(lat, lon)),
        { ...(b.id === chosen ? CHOSEN : NORMAL), className: `bld bld-${b.id}`, bubblingMouseEvents: false });
      poly.on('click', (e) => { L.DomEvent.stopPropagation(e); onPick(b, e.latlng); });
      poly.addTo(group);
      shapes.set(b.id, poly);
    }
    highlight(chosen);
  }
  function highlight(id) {
    const before = shapes.get(chosen);
    if (before) { before.setStyle(NORMAL); before.unbindTooltip(); before.getElement()?.classList.remove('bld-chosen'); }
    chosen = id || null;
    const now = shapes.get(chosen);
    if (now) {
      now.setStyle(CHOSEN).bringToFront();
      now.getElement()?.classList.add('bld-chosen');
      const b = buildings().find((x) => x.id === chosen);
      if (b) now.bindTooltip(buildingLabel(b), { permanent: true, direction: 'top', className: 'bld-tip' }).openTooltip();
    }
  }
  return { redraw, highlight };
}
