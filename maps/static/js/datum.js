/* WGS-84 ↔ GCJ-02, the one copy for every page (ES module; the formulas and the inverse of geo/crs.py).
 *
 * GCJ-02 is the offset datum of AMap / Tencent basemaps. Our data and phone GPS are WGS-84; with a GCJ-02 basemap
 * every layer is drawn shifted (toMap) and what the user draws or drags is shifted back (fromMap). Angles in degrees.
 * tests/browser/test_js_modules.py checks both directions against geo.crs. */

// Krasovsky 1940 ellipsoid, which the GCJ-02 algorithm is built on (geo/crs.py _GCJ_A, _GCJ_EE).
const A = 6378245.0;
const EE = 0.00669342162296594323;
// Iterative inverse as in geo/crs.py: stop once the forward transform reproduces the input to 1e-8° (≈1 mm).
const INVERSE_TOL_DEG = 1e-8;
const INVERSE_MAX_ITER = 30;

/** The rough box where the offset applies (includes parts of neighbouring countries, as every implementation). */
export function outOfChina(lat, lon) {
  return lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271;
}

/** WGS-84 → GCJ-02: [lat, lon] in degrees; unchanged outside China. */
export function wgsToGcj(lat, lon) {
  if (outOfChina(lat, lon)) return [lat, lon];
  const x = lon - 105, y = lat - 35, PI = Math.PI;
  const common = (20 * Math.sin(6 * x * PI) + 20 * Math.sin(2 * x * PI)) * 2 / 3;
  const sqrtAbsX = Math.sqrt(Math.abs(x));
  let dLat = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrtAbsX + common;
  dLat += (20 * Math.sin(y * PI) + 40 * Math.sin(y / 3 * PI)) * 2 / 3;
  dLat += (160 * Math.sin(y / 12 * PI) + 320 * Math.sin(y * PI / 30)) * 2 / 3;
  let dLon = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrtAbsX + common;
  dLon += (20 * Math.sin(x * PI) + 40 * Math.sin(x / 3 * PI)) * 2 / 3;
  dLon += (150 * Math.sin(x / 12 * PI) + 300 * Math.sin(x / 30 * PI)) * 2 / 3;
  const rad = lat / 180 * PI;
  const magic = 1 - EE * Math.sin(rad) ** 2;
  const s = Math.sqrt(magic);
  return [lat + (dLat * 180) / ((A * (1 - EE)) / (magic * s) * PI), lon + (dLon * 180) / (A / s * Math.cos(rad) * PI)];
}

/** GCJ-02 → WGS-84: [lat, lon] in degrees, by fixed-point iteration of the forward transform (to ≈1 mm). */
export function gcjToWgs(lat, lon) {
  let y = lat, x = lon;
  for (let i = 0; i < INVERSE_MAX_ITER; i++) {
    const [glat, glon] = wgsToGcj(y, x);
    const ey = glat - lat, ex = glon - lon;
    y -= ey;
    x -= ex;
    if (Math.abs(ex) < INVERSE_TOL_DEG && Math.abs(ey) < INVERSE_TOL_DEG) break;
  }
  return [y, x];
}

/** The basemap's datum ('gcj02' or anything else for WGS-84) as {gcj, toMap(lat, lon) → L.LatLng,
 * fromMap(latlng) → {lat, lon}}; needs Leaflet's global L (loaded by a classic script before the modules run). */
export function datum(name) {
  const gcj = name === 'gcj02';
  return {
    gcj,
    toMap(lat, lon) { return gcj ? L.latLng(...wgsToGcj(lat, lon)) : L.latLng(lat, lon); },
    fromMap(ll) {
      if (!gcj) return { lat: ll.lat, lon: ll.lng };
      const [lat, lon] = gcjToWgs(ll.lat, ll.lng);
      return { lat, lon };
    },
  };
}
