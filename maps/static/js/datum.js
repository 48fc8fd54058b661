/* WGS-84 ↔ GCJ-02 for Leaflet pages (the offset of AMap / Tencent basemaps). Our data and phone GPS are WGS-84;
 * with a GCJ-02 basemap every layer is drawn shifted (toMap) and what the user draws is shifted back (fromMap).
 * window.GPDatum = datum(name) → {toMap(lat, lon) → L.LatLng, fromMap(latlng) → {lat, lon}}. */
(function () {
  'use strict';
  function outOfChina(lat, lon) { return lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271; }
  function wgsToGcj(lat, lon) {
    if (outOfChina(lat, lon)) return [lat, lon];
    const a = 6378245.0, ee = 0.00669342162296594323, x = lon - 105, y = lat - 35;
    let dLat = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
    dLat += (20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) * 2 / 3;
    dLat += (20 * Math.sin(y * Math.PI) + 40 * Math.sin(y / 3 * Math.PI)) * 2 / 3;
    dLat += (160 * Math.sin(y / 12 * Math.PI) + 320 * Math.sin(y * Math.PI / 30)) * 2 / 3;
    let dLon = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
    dLon += (20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) * 2 / 3;
    dLon += (20 * Math.sin(x * Math.PI) + 40 * Math.sin(x / 3 * Math.PI)) * 2 / 3;
    dLon += (150 * Math.sin(x / 12 * Math.PI) + 300 * Math.sin(x / 30 * Math.PI)) * 2 / 3;
    const rad = lat / 180 * Math.PI;
    let magic = Math.sin(rad);
    magic = 1 - ee * magic * magic;
    const s = Math.sqrt(magic);
    return [lat + (dLat * 180) / ((a * (1 - ee)) / (magic * s) * Math.PI), lon + (dLon * 180) / (a / s * Math.cos(rad) * Math.PI)];
  }
  function datum(name) {
    const gcj = name === 'gcj02';
    return {
      gcj,
      toMap(lat, lon) { return gcj ? L.latLng(...wgsToGcj(lat, lon)) : L.latLng(lat, lon); },
      fromMap(ll) {
        if (!gcj) return { lat: ll.lat, lon: ll.lng };
        let lat = ll.lat, lon = ll.lng;
        for (let i = 0; i < 5; i++) {  // fixed-point inverse, < 1e-7° after a few steps
          const [glat, glon] = wgsToGcj(lat, lon);
          lat -= glat - ll.lat;
          lon -= glon - ll.lng;
        }
        return { lat, lon };
      },
    };
  }
  window.GPDatum = { datum, wgsToGcj };
})();
