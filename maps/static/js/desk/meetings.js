/* The 研判议事 pages (ES module; maps/desk/meetings.py renders them): send each form (data-post) to the API as JSON,
 * then reload (or open the new meeting); an error is said next to the field the server names. */

import { api, CONFIG, errorHtml, label } from '/static/js/desk/api.js';

function value(el) {
  const type = el.dataset.type;
  const raw = el.value.trim();
  if (type === 'int') return raw === '' ? null : Number(raw);
  if (type === 'list') return raw ? raw.split(/[,，\s]+/).filter(Boolean) : [];
  if (type === 'lines') return raw ? raw.split('\n').map((s) => s.trim()).filter(Boolean) : null;
  return raw === '' ? null : raw;
}

function body(form) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name) continue;
    const v = value(el);
    if (v !== null) out[el.name] = v;
  }
  if (out.held_at && out.held_at.length === 16) out.held_at += ':00';
  if ('follow_category' in out || 'follow_description' in out) {  // the decision's one follow-up case
    if (out.follow_category) out.follow_ups = [{ category: out.follow_category, description: out.follow_description || null }];
    delete out.follow_category;
    delete out.follow_description;
  }
  return out;
}

function clearErrors(form) {
  form.querySelectorAll('.field-error').forEach((e) => e.remove());
  form.querySelectorAll('[aria-invalid]').forEach((e) => e.removeAttribute('aria-invalid'));
}

function showError(form, e) {
  const names = { votes: 'votes_for', follow_ups: 'follow_category', category: 'follow_category' };
  const el = e.field && (form.elements[e.field] || form.elements[names[e.field]]);
  const box = document.createElement('div');
  box.className = 'field-error';
  box.setAttribute('role', 'alert');
  box.innerHTML = errorHtml(e);
  if (el) {
    el.setAttribute('aria-invalid', 'true');
    el.closest('label').appendChild(box);
    el.focus();
  } else {
    form.appendChild(box);
  }
}

for (const form of document.querySelectorAll('form[data-post]')) {
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      const answer = await api(form.dataset.post, { method: 'POST', body: body(form) });
      if (form.dataset.then === 'meeting' && answer && answer.number) {
        location.href = `/desk/meetings/${encodeURIComponent(answer.number)}?lang=${CONFIG.lang}`;
      } else {
        location.reload();
      }
    } catch (e) {
      showError(form, e);
      button.disabled = false;
    }
  });
}

const who = document.getElementById('who');
if (who && CONFIG.role) who.textContent = `${label('role', CONFIG.role)} · ${CONFIG.who || ''}`;

const print = document.getElementById('print');
if (print) print.addEventListener('click', () => window.print());

document.body.dataset.ready = '1';  // the forms are live (tests/browser/test_csp.py waits for it)
