/* gridpatrol field app — the shared state: the deployment's configuration, the state S (the day's data, position,
 * patrol, report and inspection drafts …), the translator t, the map datum, the screen on show, and read-only
 * helpers over the day's data. Every other module of the app imports from here; nothing here imports them back:
 * a module that must redraw another screen asks through redraw(name), which app.js wires to the renderers. */

import { datum } from '/static/js/datum.js';
import { locale, localised, translator } from '/static/js/i18n.js';
import { TEXTS } from './texts.js';

export const CONFIG = JSON.parse(document.getElementById('gp-config').textContent || '{}');
export const t = translator(TEXTS, CONFIG.lang);
export const $ = (id) => document.getElementById(id);

export const S = {
  get lang() { return t.lang; },
  set lang(v) { t.setLang(v); },
  tokens: null, today: null, pos: null, patrol: null, pending: {}, visits: { date: null, ids: [] },
  report: { category: null, photos: [], pin: null, pinByHand: false, building: null },
  counts: { waiting: 0, problems: 0 },
};

/** The screen on show ('map', 'tasks', 'inspect', 'shop', 'report', 'visit', 'sync'). */
export const view = { current: 'map' };

const renderers = {};
/** app.js registers the renderers that other modules need ('tasks'); they redraw through redraw(name). */
export function onRedraw(name, fn) { renderers[name] = fn; }
/** Redraw a screen (or 'all'), or only when it is on show with onlyIfShown. */
export function redraw(name, onlyIfShown = false) {
  if (onlyIfShown && view.current !== name) return undefined;
  return renderers[name] ? renderers[name]() : undefined;
}

// ------------------------------------------------------------------------------------------ map datum

// With a GCJ-02 basemap (AMap, Tencent) our WGS-84 data and GPS are drawn shifted, and a dragged pin shifted back.
const DATUM = datum(CONFIG.datum);
export const toMap = DATUM.toMap, fromMap = DATUM.fromMap;

/** Great-circle distance in metres between two {lat, lon} in degrees (mean Earth radius). */
export function metres(a, b) {
  const R = 6371008.8, p = Math.PI / 180;
  const dLat = (b.lat - a.lat) * p, dLon = (b.lon - a.lon) * p;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * p) * Math.cos(b.lat * p) * Math.sin(dLon / 2) ** 2;
  return 2 * R * Math.asin(Math.sqrt(h));
}

// ------------------------------------------------------------------------------------------ the day's data

export function categories() { return (S.today && S.today.categories) || []; }
export function catName(code) {
  const c = categories().find((x) => x.code === code);
  return c ? (S.lang === 'en' ? c.name_en || c.name_zh : c.name_zh) : code;
}
export function buildings() { return (S.today && S.today.buildings) || []; }
/** A building as people name it (its label from the server: address, name, road + nearest number, or its place in
 * its grid), in the current language; never its database id. */
export function buildingLabel(b) {
  const s = (b && (b.label || b.building_label || b.name || b.address)) || (S.lang === 'en' ? 'Unnamed building' : '未命名楼栋');
  return S.lang === 'en' ? labelEn(s) : s;
}
/** A stored (Chinese) label in English, as geo.labels.label_in: "X 12号附近" → "near X 12", "G 第7栋" → "G building 7". */
export function labelEn(s) {
  let m = s.match(/^(.+?)号附近$/);
  if (m) return `near ${m[1]}`;
  m = s.match(/^(.*?) ?第(\d+)栋$/);
  if (m) return m[1] === '未入网格楼栋' ? `Building ${m[2]} (no grid)` : `${m[1]} building ${m[2]}`;
  return s;
}
export function stopKey(s) { return s.kind === 'revisit' ? `r${s.revisit_id}` : `${s.kind}${s.case_id}`; }

/** A bilingual value ({zh, en}) in the current language; plain strings as they are. */
export function loc(v) { return localised(v, S.lang); }
/** The locale of the current language (for toLocaleString). */
export function here() { return locale(S.lang); }
export function shortDate(iso) {
  if (!iso) return '';
  return new Date(iso).toLocaleDateString(here(), { month: 'numeric', day: 'numeric' });
}
export function checklists() { return (S.today && S.today.checklists) || []; }
export function shops() { return (S.today && S.today.shops) || []; }
export function shopByCode(code) { return shops().find((x) => x.code === code) || null; }
export const SHOP_CODE = /^S[0-9A-HJKMNP-TV-Z]{9}$/;
/** The shop code in what a QR holds (…/app/#shop/<code>) or in what was typed, forgiving case, spaces, hyphens
 * and the usual confusions of Crockford's alphabet (O → 0, I/L → 1) as the server does. */
export function codeIn(text) {
  const s = String(text || '').trim();
  const m = s.match(/#shop\/([0-9A-Za-z-]+)/);
  const code = (m ? m[1] : s).toUpperCase().replace(/[\s-]/g, '');
  return code[0] === 'S' ? `S${code.slice(1).replace(/O/g, '0').replace(/[IL]/g, '1')}` : code;
}
export function reasonLabel(r) {
  const key = { age: 'r_age', aged: 'r_age', elderly: 'r_age', old_age: 'r_age', disabled: 'r_disabled',
    disability: 'r_disabled', lives_alone: 'r_lives_alone', alone: 'r_lives_alone' }[r];
  return key ? t(key) : String(r);
}
/** Local marks of what she did today before the server's lists know it (kept across reloads). */
export function doneToday() {
  const day = S.today ? S.today.date : null;
  if (!S.done || (day && S.done.date && S.done.date !== day)) S.done = { date: day, inspected: [], households: [] };
  if (!S.done.date) S.done.date = day;
  return S.done;
}
export function inspKey(code, target) {
  return `${code}|${target.building_id ? `b${target.building_id}` : target.shop_code ? `s${target.shop_code}` : `p${target.place_name}`}`;
}

