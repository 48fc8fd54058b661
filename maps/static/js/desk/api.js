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

// The server answers every error as {code, message, field, details} with an English message: the page says in its
// own language what went wrong with which field, and keeps the server's words as the detail.
const FIELD = {
  zh: { note: '原因/说明', unit_id: '责任单位', units: '部门', hours: '期限(工时)', rating: '评价', duplicate_of: '合并到',
        action: '操作', case_id: '案件', photo: '照片', file: '照片', report_in_hours: '报到时限',
        reason: '理由', meeting: '议事', demand_list: '诉求清单', level: '层级', topic: '议题', decision: '决定',
        participants: '参会人数', representatives: '居民代表人数', votes_for: '赞成票', case: '案件', kind: '类型' },
  en: { note: 'note', unit_id: 'unit', units: 'departments', hours: 'deadline (working hours)', rating: 'rating',
        duplicate_of: 'merge into', action: 'action', case_id: 'case', photo: 'photo', file: 'photo',
        report_in_hours: 'report-in time' },
};
const CODE = {
  zh: { invalid: '填写有误', conflict: '案件状态已变化，请刷新后再试', forbidden: '无权进行此操作', not_found: '未找到',
        too_large: '文件太大', unauthorized: '请重新登录' },
  en: { invalid: 'Please check', conflict: 'The case has changed: reload and try again', forbidden: 'Not allowed',
        not_found: 'Not found', too_large: 'File too large', unauthorized: 'Please log in again' },
};

export class ApiError extends Error {
  constructor(status, body) {
    const b = (body && typeof body === 'object') ? body : { message: String(body || '') };
    const code = b.code || (status === 409 ? 'conflict' : status === 403 ? 'forbidden' : status === 404 ? 'not_found'
      : status === 422 ? 'invalid' : 'error');
    const head = (CODE[LANG] || CODE.zh)[code] || (LANG === 'en' ? 'Error' : '出错了');
    const field = b.field ? ((FIELD[LANG] || FIELD.zh)[b.field] || b.field) : '';
    super(field ? `${head}：${field}` : head);
    this.status = status;
    this.code = code;
    this.field = b.field || null;
    this.detail = b.message || '';
    this.body = body;
  }
}

/** The error as HTML for the page: what went wrong in the page's language, the server's words after it. */
export function errorHtml(e) {
  const detail = e && e.detail ? ` <small>(${esc(e.detail)})</small>` : '';
  return `<div class="error" role="alert">${esc(e && e.message ? e.message : String(e))}${detail}</div>`;
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

/** A moment as the city's clock shows it (CONFIG.timezone, e.g. Asia/Shanghai), whatever the browser's zone. */
export function when(iso) {
  if (!iso) return '';
  const options = { dateStyle: 'short', timeStyle: 'short' };
  if (CONFIG.timezone) options.timeZone = CONFIG.timezone;
  return new Date(iso).toLocaleString(LANG === 'en' ? 'en-GB' : 'zh-CN', options);
}

export { esc };
