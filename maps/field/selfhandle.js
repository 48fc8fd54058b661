/* gridpatrol field app — 自行处置 (小事网格办) on the report form: for a category the rules leave to the grid
 * (category level "grid"), she can say she handled it on the spot, with an after-photo (required) and what she did.
 * Such a report is sent in one request with its after-photo (POST /api/v1/field/self-handled, store.js sender
 * "self_handled") and ends 已处置 at grid level, waiting for the community's check. */

import { esc } from '/static/js/html.js';
import { $, S, categories, t } from './state.js';
import { downscale } from './ui.js';

const state = { on: false, after: null };

function gridLevel(code) {
  const c = categories().find((x) => x.code === code);
  return Boolean(c && c.level === 'grid');
}

/** Show the 自行处置 part when the chosen category allows it (else hide it and forget what was in it). */
export function renderSelfHandle() {
  const el = $('self-handle');
  if (!el) return;
  const allowed = Boolean(S.report.category) && gridLevel(S.report.category);
  if (!allowed) { state.on = false; state.after = null; }
  el.hidden = !allowed;
  if (!allowed) { el.innerHTML = ''; return; }
  el.innerHTML = `<fieldset><legend>${esc(t('self_handle'))}</legend>
    <label class="radio"><input type="checkbox" id="sh-on" ${state.on ? 'checked' : ''}><span>${esc(t('self_handle_check'))}</span></label>
    <div id="sh-more" ${state.on ? '' : 'hidden'}>
      <label class="button-like"><span>${esc(t('after_photo_required'))}</span>
        <input id="sh-photo" type="file" accept="image/*" capture="environment" hidden></label>
      <div class="thumbs">${state.after ? `<img alt="" src="${URL.createObjectURL(state.after)}">` : ''}</div>
      <label><span>${esc(t('self_handle_note'))}</span><input id="sh-note" maxlength="2000"></label>
    </div></fieldset>`;
}

/** What the form says about 自行处置: null (a plain report), {error} or {after: Blob, note}. */
export function selfHandled() {
  if (!state.on || !gridLevel(S.report.category)) return null;
  if (!state.after) return { error: t('after_photo_needed') };
  return { after: state.after, note: ($('sh-note') && $('sh-note').value.trim()) || null };
}

export function resetSelfHandle() {
  state.on = false;
  state.after = null;
  renderSelfHandle();
}

export function wireSelfHandle() {
  const form = $('report-form');
  // the category is chosen or changed by clicks on the form (report.js): follow it
  form.addEventListener('click', () => setTimeout(() => {
    if ((S.report.category || null) !== (wireSelfHandle.shown || null)) {
      wireSelfHandle.shown = S.report.category;
      renderSelfHandle();
    }
  }, 0));
  form.addEventListener('change', async (ev) => {
    if (ev.target.id === 'sh-on') {
      state.on = ev.target.checked;
      $('sh-more').hidden = !state.on;
    } else if (ev.target.id === 'sh-photo' && ev.target.files.length) {
      state.after = await downscale(ev.target.files[0]);
      $('report-error').textContent = '';
      const note = $('sh-note').value;
      renderSelfHandle();
      $('sh-note').value = note;
    }
  });
}
