/* /desk/people (网格力量): every form.api posts its fields as JSON to its data-api path (data-api-member: the path
 * with the chosen member's id), then reloads the page; an error is shown next to the field the server names, and at
 * the top. A service record carries a client id made once per filled form, so a retried submission lands once. */

import { api, CONFIG, errorHtml } from '/static/js/desk/api.js';

function newId() {
  return (crypto.randomUUID && crypto.randomUUID()) || String(Date.now()) + Math.random().toString(16).slice(2);
}

function body(form) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name || el.dataset.path !== undefined) continue;
    const v = el.value.trim();
    if (v === '') continue;
    out[el.name] = el.dataset.type === 'int' ? parseInt(v, 10) : el.dataset.type === 'number' ? parseFloat(v) : v;
  }
  if (form.dataset.clientId !== undefined) {
    if (!form.dataset.clientId) form.dataset.clientId = newId();
    out.client_id = form.dataset.clientId;
  }
  return out;
}

function path(form) {
  if (form.dataset.api) return form.dataset.api;
  const member = form.querySelector('[data-path]');
  return form.dataset.apiMember.replace('{id}', encodeURIComponent(member ? member.value : ''));
}

function clearErrors(form) {
  form.querySelectorAll('.field-error').forEach((e) => { e.textContent = ''; });
  form.querySelectorAll('[aria-invalid]').forEach((e) => e.removeAttribute('aria-invalid'));
}

/** The words of the label around a field (its first text), to name the field as the page does. */
function labelOf(input) {
  const label = input && input.closest && input.closest('label');
  const first = label && label.childNodes[0];
  return first && first.nodeType === Node.TEXT_NODE ? first.textContent.trim() : '';
}

function showError(form, e) {
  const field = e && e.field;
  const input = field && (form.elements[field] || form.elements[field.replace(/_id$/, '')]);
  const words = labelOf(input);
  if (words && e.message) e.message = e.message.replace(field, words);  // the server's key → the page's label
  document.getElementById('message').innerHTML = errorHtml(e);
  const slot = field && (form.querySelector(`.field-error[data-for="${CSS.escape(field)}"]`)
    || form.querySelector(`.field-error[data-for="${CSS.escape(field.replace(/_id$/, ''))}"]`));
  if (slot) slot.textContent = e.detail || e.message;
  if (input && input.setAttribute) { input.setAttribute('aria-invalid', 'true'); input.focus(); }
}

for (const form of document.querySelectorAll('form.api')) {
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const button = form.querySelector('button[type=submit]');
    if (button) button.disabled = true;
    try {
      await api(path(form), { method: 'POST', body: body(form) });
      document.getElementById('message').innerHTML = `<div class="saved" role="status">${(CONFIG.t || {}).saved || 'OK'}</div>`;
      location.reload();
    } catch (e) {
      showError(form, e);
    } finally {
      if (button) button.disabled = false;
    }
  });
  if (form.dataset.clientId !== undefined) {
    form.addEventListener('change', () => { form.dataset.clientId = ''; });
  }
}
document.body.dataset.ready = '1';
