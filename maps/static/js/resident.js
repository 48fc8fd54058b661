/* The residents' report page (/r/): category, up to three photos downscaled here (canvas, ≤1600 px, JPEG — which
 * also drops the camera's EXIF), the place (the sticker's, GPS, or a pin on our basemap — Leaflet and the basemap
 * load only when the map is opened; a GCJ-02 basemap is handled by datum.js and the point sent in WGS-84),
 * description, optional phone. One client_id per report, kept across retries so a resend never duplicates.
 * A network failure says so and keeps everything filled in. */

const cfg = window.GRIDPATROL;
const t = cfg.t;
const $ = (id) => document.getElementById(id);
const MAX_PHOTOS = 3;
const state = { photos: [], point: null, clientId: uuid(), map: null, marker: null, datum: null };

function uuid() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

async function downscale(file, max = 1600, quality = 0.82) {
  let src;
  try {
    src = await createImageBitmap(file, { imageOrientation: 'from-image' });
  } catch (_) {
    src = await new Promise((resolve, reject) => {
      const img = new Image();
      img.onload = () => resolve(img);
      img.onerror = reject;
      img.src = URL.createObjectURL(file);
    });
  }
  const k = Math.min(1, max / Math.max(src.width, src.height));
  const canvas = document.createElement('canvas');
  canvas.width = Math.round(src.width * k);
  canvas.height = Math.round(src.height * k);
  canvas.getContext('2d').drawImage(src, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', quality));
}

function drawThumbs() {
  const box = $('thumbs');
  box.replaceChildren(...state.photos.map((p, i) => {
    const fig = document.createElement('figure');
    const img = document.createElement('img');
    img.src = p.url; img.alt = `${t.photo_n} ${i + 1}`;
    const rm = document.createElement('button');
    rm.type = 'button'; rm.textContent = '×'; rm.title = t.remove;
    rm.addEventListener('click', () => { URL.revokeObjectURL(p.url); state.photos.splice(i, 1); drawThumbs(); });
    fig.append(img, rm);
    return fig;
  }));
  $('add-photo').hidden = state.photos.length >= MAX_PHOTOS;
}

async function addPhotos(ev) {
  for (const f of ev.target.files) {
    if (state.photos.length >= MAX_PHOTOS) break;
    try {
      const blob = await downscale(f);
      if (blob) state.photos.push({ blob, url: URL.createObjectURL(blob) });
    } catch (_) { /* not an image the browser can read: left out */ }
  }
  ev.target.value = '';
  drawThumbs();
}

function say(id, text) { $(id).textContent = text; }

function setPoint(lat, lon, source, accuracy) {
  state.point = { lat, lon };
  say('where-state', source === 'gps' ? t.located.replace('{m}', Math.round(accuracy || 0)) : t.pinned);
  const spot = $('spot');
  if (spot) spot.hidden = true;
  if (state.marker) state.marker.setLatLng(state.datum.toMap(lat, lon));
}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = src; s.onload = resolve; s.onerror = reject;
    document.head.append(s);
  });
}

async function openMap() {
  const el = $('map');
  el.hidden = false;
  say('where-state', t.map_hint);
  if (state.map) return;
  const css = document.createElement('link');
  css.rel = 'stylesheet'; css.href = '/static/vendor/leaflet-1.9.4/leaflet.css';
  document.head.append(css);
  await loadScript('/static/vendor/leaflet-1.9.4/leaflet.js');
  const [{ basemap }, { datum }] = await Promise.all([import('/static/js/basemap.js'), import('/static/js/datum.js')]);
  state.datum = datum(cfg.datum);
  const map = L.map(el, { zoomControl: true, attributionControl: !!(cfg.tiles && cfg.tiles.attribution) });
  const layer = basemap(cfg.tiles);
  if (layer) layer.addTo(map);
  const s = cfg.spot;
  const start = state.point || (s ? { lat: s.lat, lon: s.lon } : cfg.center);
  if (s && s.bounds && !state.point) {
    map.fitBounds([state.datum.toMap(s.bounds[1], s.bounds[0]), state.datum.toMap(s.bounds[3], s.bounds[2])]);
  } else if (start) {
    map.setView(state.datum.toMap(start.lat, start.lon), 17);
  } else {
    map.setView([0, 0], 2);
  }
  state.marker = L.marker(map.getCenter(), { draggable: true, autoPan: true }).addTo(map);
  if (start && !(s && s.bounds && !state.point)) state.marker.setLatLng(state.datum.toMap(start.lat, start.lon));
  const place = (ll) => { const p = state.datum.fromMap(ll); setPoint(p.lat, p.lon, 'pin'); };
  state.marker.on('dragend', () => place(state.marker.getLatLng()));
  map.on('click', (e) => { state.marker.setLatLng(e.latlng); place(e.latlng); });
  state.map = map;
}

function locate() {
  if (!navigator.geolocation) { say('where-state', t.no_gps); openMap(); return; }
  say('where-state', t.locating);
  navigator.geolocation.getCurrentPosition(
    (pos) => {   // the phone's GPS is WGS-84
      setPoint(pos.coords.latitude, pos.coords.longitude, 'gps', pos.coords.accuracy);
      if (state.map) state.map.setView(state.datum.toMap(pos.coords.latitude, pos.coords.longitude), 18);
    },
    () => { say('where-state', t.no_gps); openMap(); },
    { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
}

function chosen(name) {
  const el = document.querySelector(`input[name="${name}"]:checked`);
  return el ? el.value : null;
}

function body() {
  const fd = new FormData();
  fd.append('client_id', state.clientId);
  fd.append('category', chosen('category'));
  fd.append('description', $('description').value.trim());
  fd.append('phone', $('phone').value.trim());
  fd.append('website', $('website').value);
  if (state.point) {
    fd.append('lon', state.point.lon.toFixed(7));
    fd.append('lat', state.point.lat.toFixed(7));
    fd.append('crs', 'wgs84');
  } else {
    for (const [k, v] of Object.entries(cfg.sticker || {})) fd.append(k, v);
  }
  state.photos.forEach((p, i) => fd.append('photo', p.blob, `photo-${i + 1}.jpg`));
  return fd;
}

async function submit(ev) {
  ev.preventDefault();
  say('error', '');
  if (!chosen('category')) { say('error', t.need_category); return; }
  const stickerPlace = cfg.spot && cfg.spot.kind !== 'grid';
  if (!state.point && !stickerPlace) { say('error', t.need_place); return; }
  const button = $('submit');
  button.disabled = true;
  button.textContent = t.sending;
  let res;
  try {
    res = await fetch(`/api/v1/public/reports?lang=${cfg.lang}`, {
      method: 'POST', body: body(), headers: { 'Accept-Language': cfg.lang }, credentials: 'omit' });
  } catch (_) {
    say('error', t.offline);   // the form stays as it is; the same client_id is sent again
    return;
  } finally {
    button.disabled = false;
    button.textContent = t.submit;
  }
  let data = {};
  try { data = await res.json(); } catch (_) { /* no JSON: a proxy's page */ }
  if (!res.ok) { say('error', data.message || `${t.failed} (${res.status})`); return; }
  done(data);
}

function done(data) {
  const url = new URL(data.follow_path, location.origin).href + (cfg.lang === 'en' ? '?lang=en' : '');
  $('report').hidden = true;
  $('done').hidden = false;
  say('done-number', data.number);
  $('done-link').href = url;
  say('done-link', url);
  $('done-open').href = url;
  $('done').scrollIntoView();
}

async function copy() {
  const url = $('done-link').href;
  try {
    await navigator.clipboard.writeText(url);
  } catch (_) {
    const range = document.createRange();
    range.selectNodeContents($('done-link'));
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    document.execCommand('copy');
  }
  say('copy', t.copied);
}

function again() {
  state.clientId = uuid();
  state.photos = [];
  drawThumbs();
  $('report').reset();
  $('report').hidden = false;
  $('done').hidden = true;
  $('copy').textContent = t.copy_link;
  window.scrollTo(0, 0);
}

function init() {
  const other = $('other-lang');
  const q = new URLSearchParams(location.search);
  q.set('lang', cfg.lang === 'en' ? 'zh' : 'en');
  other.href = `?${q}`;
  $('photo').addEventListener('change', addPhotos);
  $('gps').addEventListener('click', locate);
  $('pick').addEventListener('click', openMap);
  $('report').addEventListener('submit', submit);
  $('copy').addEventListener('click', copy);
  $('again').addEventListener('click', again);
  if (cfg.spot && cfg.spot.kind === 'grid') openMap();
  document.body.dataset.ready = '1';
}

init();
