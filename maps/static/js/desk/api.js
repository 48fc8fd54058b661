/* What every desk page script shares (ES module): the logged-in token, calls to the API that turn an error answer
 * into one readable message, the page's labels (window.GRIDPATROL), working-hour clocks and links by case number. */

import { esc } from '/static/js/html.js';

export const CONFIG = window.GRIDPATROL || { lang: 'zh', labels: {} };
export const LANG = CONFIG.lang === 'en' ? 'en' : 'zh';

export function token() {
  return localStorage.getItem('gridpatrol.token');
}

/** Log in again (and come back here) when the token is missing or expired. */
export function toLogin() {
  location.href = '/login?next=' + encodeURIComponent(location.pathname + location.search);
}

export class ApiError extends Error {
  constructor(status, body) {
    const d = (body && body.detail) || body || {};
    const text = typeof d === 'string' ? d : (d.message || d.msg || JSON.stringify(d));
    super(text);
    this.status = status;
    this.field = d.field || null;
    this.body = body;
  }
}

/** fetch(path) with the token; JSON in and out. Throws ApiError (the server's message in the page's language). */
export async function api(path, { method = 'GET', body = undefined, headers = {} } = {}) {
  const h = { 'Accept': 'application/json', 'Accept-Language': LANG, ...headers };
  const t = token();
  if (t) h.Authorization = 'Bearer ' + t;
  let payload = body;
  if (body !== undefined && !(body instanceof FormData)) {
    h['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const r = await fetch(path, { method, headers: h, body: payload });
  if (r.status === 401) { toLogin(); throw new ApiError(401, { detail: { message: 'login' } }); }
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = text; }
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

export function label(table, key) {
  const t = (CONFIG.labels || {})[table] || {};
  return t[key] || key || '';
}

/** A link to a case page by its number (never its id). */
export function caseLink(number) {
  return `<a href="/desk/cases/${encodeURIComponent(number)}?lang=${LANG}">${esc(number)}</a>`;
}

/** "3.5 h" / "剩 3.5 工时" style text of working hours left (negative: overdue). */
export function hoursText(hours) {
  if (hours == null) return '';
  const h = Math.abs(hours) < 10 ? Math.abs(hours).toFixed(1) : Math.round(Math.abs(hours));
  if (LANG === 'en') return hours >= 0 ? `${h} working h left` : `${h} working h overdue`;
  return hours >= 0 ? `剩 ${h} 工时` : `超期 ${h} 工时`;
}

export function when(iso) {
  if (!iso) return '';
  return new Date(iso).toLocaleString(LANG === 'en' ? 'en-GB' : 'zh-CN', { dateStyle: 'short', timeStyle: 'short' });
}

export { esc };
