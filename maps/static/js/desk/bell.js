/* The notification bell of the desk header (ES module): a button with the unread count, a panel with the latest
 * notices (each linking to its case page by case number) and "全部已读". It asks the server every 30 s (not while the
 * tab is hidden). Desk pages call mountBell() once; the labels come from the #bell element's data attributes. */

import { LANG, api, esc, token, when } from '/static/js/desk/api.js';

const EVERY_MS = 30000;
const BELL_SVG = '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9'
  + 'A2.5 2.5 0 0 0 12 22zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1z"/></svg>';
const TEXT = {
  zh: { unread: (n) => `${n} 条未读`, error: '通知暂时无法加载，请稍后刷新页面', dialog: '通知',
        hint: '案件派给您、被退回、升级、督办或即将超期时，会在这里提醒。' },
  en: { unread: (n) => `${n} unread`, error: 'Notices could not be loaded: reload the page in a moment',
        dialog: 'Notices', hint: 'You are told here when a case is dispatched to you, returned, escalated, urged or '
        + 'nears its deadline.' },
};

/** A quiet GET for the periodic refresh: no redirect to the login page from a background poll. */
async function quietGet(path) {
  const t = token();
  if (!t) return null;
  const r = await fetch(path, { headers: { Accept: 'application/json', Authorization: 'Bearer ' + t } });
  return r.ok ? r.json() : null;
}

function caseHref(number) {
  return `/desk/cases/${encodeURIComponent(number)}?lang=${LANG}`;
}

function itemHtml(n) {
  const title = n.case_number
    ? `<a href="${caseHref(n.case_number)}" data-id="${Number(n.id)}">${esc(n.title)}</a>`
    : esc(n.title);
  const body = n.body ? `<div class="body">${esc(n.body.length > 140 ? n.body.slice(0, 140) + '…' : n.body)}</div>` : '';
  return `<li class="${n.read ? 'read' : 'unread'}">${title}${body}<small>${esc(when(n.created_at))}</small></li>`;
}

/** Fill #bell (or ``root``) with the bell; returns {refresh, stop}. */
export function mountBell(root = document.getElementById('bell')) {
  if (!root || !token()) return null;
  const t = TEXT[LANG] || TEXT.zh;
  const label = root.dataset.label || t.dialog;
  root.innerHTML = `<button type="button" aria-haspopup="true" aria-expanded="false" aria-controls="bell-panel">
    ${BELL_SVG} ${esc(label)} <span class="badge" hidden></span></button>
    <div class="panel" id="bell-panel" role="region" aria-label="${esc(label)}" hidden>
      <div class="bell-head"><strong>${esc(label)}</strong>
        <button type="button" class="read-all">${esc(root.dataset.read || '全部已读')}</button></div>
      <ul></ul></div>`;
  const button = root.querySelector('button');
  const badge = root.querySelector('.badge');
  const panel = root.querySelector('.panel');
  const list = panel.querySelector('ul');
  const readAll = panel.querySelector('.read-all');

  function showCount(n) {
    badge.hidden = !n;
    badge.textContent = n > 99 ? '99+' : String(n || '');
    button.setAttribute('aria-label', `${label}: ${t.unread(n || 0)}`);
    readAll.disabled = !n;
  }

  async function refresh() {
    if (document.hidden) return;
    const c = await quietGet('/api/v1/notices/count').catch(() => null);
    if (c) showCount(c.unread);
  }

  async function fill() {
    try {
      const items = await api('/api/v1/notices?limit=15');
      list.innerHTML = items.length ? items.map(itemHtml).join('')
        : `<li class="empty">${esc(root.dataset.empty || '暂无通知')}<small>${esc(t.hint)}</small></li>`;
    } catch (e) {
      list.innerHTML = `<li class="error" role="alert">${esc(t.error)}</li>`;
    }
  }

  function open(yes) {
    panel.hidden = !yes;
    button.setAttribute('aria-expanded', String(yes));
    if (yes) fill();
  }

  button.addEventListener('click', () => open(panel.hidden));
  root.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && !panel.hidden) { open(false); button.focus(); }
  });
  document.addEventListener('click', (e) => { if (!root.contains(e.target)) open(false); });
  readAll.addEventListener('click', async () => {
    const r = await api('/api/v1/notices/read', { method: 'POST', body: { all: true } }).catch(() => null);
    if (r) { showCount(r.unread); fill(); }
  });
  list.addEventListener('click', (e) => {
    const a = e.target.closest('a[data-id]');
    if (!a) return;
    // mark it read on the way to the case page (keepalive: the request outlives the page)
    fetch('/api/v1/notices/read', { method: 'POST', keepalive: true, headers: {
      'Content-Type': 'application/json', Authorization: 'Bearer ' + token() },
    body: JSON.stringify({ ids: [Number(a.dataset.id)] }) });
  });
  document.addEventListener('visibilitychange', refresh);
  refresh();
  const timer = setInterval(refresh, EVERY_MS);
  return { refresh, stop: () => clearInterval(timer) };
}
