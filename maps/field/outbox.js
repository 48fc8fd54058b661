/* gridpatrol field app — the outbox screen and the sync pill: what waits to be sent (with its attempts and last
 * error), what the server refused (with its reason, dismissable), and the state of the sending engine. */

import { esc } from '/static/js/html.js';
import { $, S, t } from './state.js';
import { store } from './store.js';

function kindLabel(item) {
  if (item.kind === 'fixes') return t('k_fixes', item.fixes ? item.fixes.length : 0);
  if (item.kind === 'action') return t(`act_${item.action}`);
  if (item.kind === 'revisit') return `${t('k_revisit')} · ${t(`act_${item.body.outcome}`)}`;
  return t(`k_${item.kind}`);
}

export function renderSyncPill() {
  const c = S.counts, e = store.engine;
  const pill = $('sync-pill');
  let text, cls;
  if (c.problems) { text = t('problems_n', c.problems); cls = 'red'; }
  else if (c.waiting) { text = t('waiting', c.waiting); cls = navigator.onLine ? 'orange' : 'grey'; }
  else { text = navigator.onLine ? t('synced') : t('offline'); cls = navigator.onLine ? 'green' : 'grey'; }
  if (!navigator.onLine && c.waiting) text = `${t('offline')} · ${text}`;
  pill.textContent = text;
  pill.className = `pill ${cls}`;
  pill.dataset.waiting = c.waiting;
  pill.dataset.problems = c.problems;
  $('sync-badge').hidden = !(c.waiting + c.problems);
  $('sync-badge').textContent = c.waiting + c.problems;
  const st = { idle: navigator.onLine ? t('online_idle') : t('offline_state'), sending: t('sending'),
    offline: t('offline_state'), waiting: t('retry_in', e.lastError || ''), login: t('need_login') }[e.state] || '';
  $('sync-state').textContent = st;
}

export async function renderOutbox() {
  const [queue, problems] = await Promise.all([store.queued(), store.problems()]);
  $('problems-title').hidden = !problems.length;
  $('problem-list').innerHTML = problems.map((p) => {
    const msg = (p.error && (p.error.message || (p.error.error && p.error.error.message))) || `HTTP ${p.status}`;
    return `<li class="card problem"><div class="row"><b class="grow">${esc(kindLabel(p))} · ${esc(p.summary || '')}</b>
      <button type="button" class="small" data-dismiss="${p.seq}">${esc(t('dismiss'))}</button></div>
      ${p.status === 409 && (p.kind === 'action' || p.kind === 'revisit') ? `<div>${esc(t('conflict'))}</div>` : ''}<div class="muted">${esc(t('refused'))}${esc(msg)}</div>
      ${p.error && Array.isArray(p.error.details) ? `<ul class="details">${p.error.details.map((x) => `<li>${esc(x)}</li>`).join('')}</ul>` : ''}</li>`;
  }).join('');
  $('queue-list').innerHTML = queue.map((q) => `<li class="card"><div class="row"><b class="grow">${esc(kindLabel(q))}</b>
    <small class="muted">${esc(new Date(q.created_at).toLocaleTimeString())}</small></div>
    <div class="muted">${esc(q.summary || '')}${q.attempts ? ` · ${esc(t('attempts', q.attempts))}` : ''}${q.last_error ? ` · ${esc(q.last_error)}` : ''}</div></li>`).join('') ||
    (problems.length ? '' : `<li class="empty">${esc(t('queue_empty'))}</li>`);
}

