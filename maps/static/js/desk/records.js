/* The record forms of the desk's 调解 and 民情诉求 pages (ES module): every <form data-api="/api/v1/…"> posts its
 * fields as JSON with the logged-in token; a field named "parties.0.name" becomes {parties: [{name}]}, an empty field
 * is left out, data-type="int" on an input sends a number, a datetime-local one an instant. A form with data-client-id sends a fresh client_id (kept
 * for a retry of the same submission). On success the page reloads (or goes to data-next); on an error the message
 * is shown next to the field the server named, or above the form's button. The page's <main> gets
 * data-records="ready" once the forms are live. */

import { api, ApiError, LANG } from '/static/js/desk/api.js';

function put(target, path, value) {
  const parts = path.split('.');
  let node = target;
  parts.forEach((part, i) => {
    const last = i === parts.length - 1;
    const nextIsIndex = !last && /^\d+$/.test(parts[i + 1]);
    const key = /^\d+$/.test(part) ? Number(part) : part;
    if (last) { node[key] = value; return; }
    if (node[key] === undefined) node[key] = nextIsIndex ? [] : {};
    node = node[key];
  });
}

function body(form) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name || el.disabled || ((el.type === 'radio' || el.type === 'checkbox') && !el.checked)) continue;
    const raw = (el.value || '').trim();
    if (!raw) continue;
    // a datetime-local field is the browser's local time: sent as an instant (ISO 8601, UTC)
    const value = el.dataset.type === 'int' ? Number(raw) : el.type === 'datetime-local' ? new Date(raw).toISOString()
      : raw;
    put(out, el.name, value);
  }
  for (const key of Object.keys(out)) {  // a list of groups with every field empty is left out
    if (Array.isArray(out[key])) out[key] = out[key].filter((x) => x && Object.keys(x).length);
  }
  if (form.dataset.clientId !== undefined) {
    form.dataset.clientId = form.dataset.clientId || crypto.randomUUID();
    out.client_id = form.dataset.clientId;
  }
  return out;
}

function clear(form) {
  form.querySelectorAll('.field-error').forEach((e) => e.remove());
  form.querySelectorAll('[aria-invalid]').forEach((e) => e.removeAttribute('aria-invalid'));
}

function show(form, err) {
  const msg = document.createElement('div');
  msg.className = 'field-error error';
  msg.setAttribute('role', 'alert');
  const field = err instanceof ApiError && err.field ? form.querySelector(`[name="${CSS.escape(err.field)}"]`) : null;
  // the field by the words of its label on this page (the server names it parties.0.name)
  const words = field && field.closest('label') ? field.closest('label').firstChild.textContent.trim() : '';
  const head = words ? `${err.message.split(/[:：]/)[0]}：${words}` : (err && err.message ? err.message : String(err));
  msg.textContent = err instanceof ApiError && err.detail ? `${head} — ${err.detail}` : head;
  if (field) {
    field.setAttribute('aria-invalid', 'true');
    field.insertAdjacentElement('afterend', msg);
    field.focus();
  } else {
    const button = form.querySelector('button[type=submit]');
    (button || form).insertAdjacentElement('beforebegin', msg);
  }
}

for (const form of document.querySelectorAll('form[data-api]')) {
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clear(form);
    const button = form.querySelector('button[type=submit]');
    if (button) button.disabled = true;
    try {
      await api(form.dataset.api, { method: 'POST', body: body(form) });
      if (form.dataset.next) location.href = form.dataset.next; else location.reload();
    } catch (err) {
      show(form, err);
    } finally {
      if (button) button.disabled = false;
    }
  });
}

document.documentElement.lang = LANG === 'en' ? 'en' : 'zh-CN';
document.querySelector('main').dataset.records = 'ready';  // the forms are live (tests wait for it)
