/* gridpatrol field app — inspections (#inspect): pick a target (a building nearest first, a shop by name, code or
 * the QR on its door, or a named place where she stands), a checklist for it, then fill in the form, validated live
 * by the rules of checklist.js; queued in the outbox with the photos of its items. The draft is kept in IndexedDB
 * (photos too) so that a reload in a stairwell loses nothing. */

import { esc } from '/static/js/html.js';
import { localised } from '/static/js/i18n.js';
import { $, S, SHOP_CODE, buildingLabel, buildings, catName, checklists, codeIn, doneToday, inspKey, loc, metres,
  shopByCode, shops, shortDate, t } from './state.js';
import { store } from './store.js';
import { downscale, toast } from './ui.js';
import { evaluate, problemsOf } from './checklist.js';

/** The inspection being made: step "target" → "checklist" → "form"; kept in IndexedDB (photos too) so that a
 * reload in a stairwell loses nothing. */
function newDraft(kind) {
  return { step: 'target', kind: kind || 'building', target: null, defn: null, answers: {}, raw: {}, photos: {},
    note: '', tried: false, key: store.uuid() };
}
function draft() { if (!S.insp) S.insp = newDraft(); return S.insp; }
let saveChain = Promise.resolve();
function saveDraft() {
  const d = S.insp;
  saveChain = saveChain.then(() => store.kv.put('inspect', d)).catch((e) => console.error(e));
  return saveChain;
}

function targetLabel(tg) {
  if (!tg) return '';
  if (tg.type === 'building') {
    const b = buildings().find((x) => x.id === tg.building_id);
    return `${t('t_building')} · ${buildingLabel(b)}`;
  }
  if (tg.type === 'shop') {
    const sh = shopByCode(tg.shop_code);
    return `${t('t_shop')} · ${sh ? sh.name : ''} ${tg.shop_code}`.replace(/ {2,}/g, ' ');
  }
  return `${t('t_place')} · ${tg.place_name}`;
}

/** The checklists for a kind of target. applies_to only says which buildings are due (planned) under a building
 * checklist; the worker may still run it at any building she chooses, as the server accepts. */
function fitsTarget(c, tg) { return c.target === tg.type; }

let formKey = null;   // the draft whose form is on screen (re-rendering it would lose the focus)
export function renderInspect() {
  const d = draft();
  $('insp-target').hidden = d.step !== 'target';
  $('insp-checklist').hidden = d.step !== 'checklist';
  $('insp-form').hidden = d.step !== 'form';
  for (const b of document.querySelectorAll('#insp-kinds [data-kind]')) b.classList.toggle('on', b.dataset.kind === d.kind);
  $('insp-pick-building').hidden = d.kind !== 'building';
  $('insp-pick-shop').hidden = d.kind !== 'shop';
  $('insp-pick-place').hidden = d.kind !== 'place';
  $('insp-scan').hidden = !('BarcodeDetector' in window);
  if (d.step === 'target') {
    formKey = null;
    if (d.kind === 'building') renderInspBuildings();
    if (d.kind === 'shop') renderInspShops();
    if (d.kind === 'place') renderPlacePos();
  } else if (d.step === 'checklist') {
    formKey = null;
    $('insp-chosen').innerHTML = chosenBar(targetLabel(d.target), 'target');
    const list = checklists().filter((c) => fitsTarget(c, d.target));
    $('insp-cl-list').innerHTML = list.map((c) => `<li class="card row"><div class="grow"><b>${esc(loc(c.title))}</b>
      <div class="muted">${esc(t('items_n', c.items.length))}${c.frequency_days ? ` · ${esc(t('every_days', c.frequency_days))}` : ''}
      · ${esc(t('version', c.version))}</div></div>
      <button type="button" class="small primary" data-checklist="${c.id}">${esc(t('inspect'))}</button></li>`).join('') ||
      `<li class="empty">${esc(t('no_checklists'))}</li>`;
  } else if (formKey !== d.key) {
    renderInspForm();
  } else {
    updateForm();
  }
}

function chosenBar(label, back) {
  return `<b>${esc(label)}</b><button type="button" class="small" data-back="${back}">${esc(t('change'))}</button>`;
}

export function renderInspBuildings() {
  const q = $('insp-b-search').value.trim().toLowerCase();
  let list = buildings().map((b) => ({ b, d: S.pos && b.lat != null ? metres(S.pos, b) : null }));
  if (q) list = list.filter(({ b }) => `${b.name || ''} ${b.address || ''} ${b.id}`.toLowerCase().includes(q));
  list.sort((a, c) => (a.d ?? 1e12) - (c.d ?? 1e12) || a.b.id - c.b.id);
  $('insp-b-list').innerHTML = list.slice(0, 30).map(({ b, d }) => `<li class="card row" data-building="${b.id}">
    <div class="grow"><b>${esc(buildingLabel(b))}</b><div class="muted">${esc(t('households', b.households || 0))}
    ${d != null ? ` · ${Math.round(d)} m` : ''}</div></div><span class="chev">›</span></li>`).join('') ||
    `<li class="empty">${esc(t('no_buildings'))}</li>`;
  renderInspBuildings.withPos = !!S.pos;
}

function renderInspShops() {
  const raw = $('insp-s-search').value.trim();
  const q = raw.toLowerCase();
  const code = codeIn(raw);
  let list = shops().map((x) => ({ x, d: S.pos && x.lat != null ? metres(S.pos, x) : null }));
  const kindOf = (x) => localised(x.kind_name, S.lang) || x.kind || '';
  if (q) list = list.filter(({ x }) => x.code === code || `${x.name} ${x.code} ${x.kind || ''} ${kindOf(x)}`.toLowerCase().includes(q));
  list.sort((a, c) => (a.d ?? 1e12) - (c.d ?? 1e12) || a.x.name.localeCompare(c.x.name));
  const byCode = SHOP_CODE.test(code) && !shopByCode(code) ?
    `<li class="card row" data-shop-code="${esc(code)}"><b class="grow">${esc(t('use_code', code))}</b><span class="chev">›</span></li>` : '';
  $('insp-s-list').innerHTML = byCode + (list.slice(0, 30).map(({ x, d }) => `<li class="card row" data-shop="${esc(x.code)}">
    <div class="grow"><b>${esc(x.name)}</b> <small class="muted">${esc(x.code)}</small><div class="muted">${esc(kindOf(x))}
    ${d != null ? ` · ${Math.round(d)} m` : ''} · ${esc(x.last_inspection_at ? t('last_at', shortDate(x.last_inspection_at)) : t('never'))}
    ${x.open_findings ? ` · <span class="tag red">${esc(t('open_findings', x.open_findings))}</span>` : ''}</div></div>
    <span class="chev">›</span></li>`).join('') || (byCode ? '' : `<li class="empty">${esc(t('no_shops'))}</li>`));
}

export function renderPlacePos() {
  $('insp-p-pos').textContent = S.pos ? `${t('here')} · ${t('gps_acc', S.pos.acc)}` : t('gps_waiting');
}

async function chooseTarget(tg) {
  const d = draft();
  d.target = tg;
  d.kind = tg.type;
  const fits = checklists().filter((c) => fitsTarget(c, tg));
  d.step = 'checklist';
  renderInspect();
  await saveDraft();
  return fits;
}

async function chooseChecklist(id) {
  const d = draft();
  const c = checklists().find((x) => x.id === id);
  if (!c) return;
  Object.assign(d, { defn: c, answers: {}, raw: {}, photos: {}, note: '', tried: false, step: 'form', key: store.uuid() });
  renderInspect();
  $('screen-inspect').scrollTop = 0;
  await saveDraft();
}

/** Start an inspection of a known target, with its checklist when given (from the due list, a shop's page). */
export async function startInspection(tg, checklistId) {
  S.insp = newDraft(tg.type);
  await chooseTarget(tg);
  if (checklistId != null && checklists().some((c) => c.id === checklistId)) await chooseChecklist(checklistId);
  if (location.hash !== '#inspect') location.hash = '#inspect';
  else renderInspect();
}

function itemHtml(it, n) {
  const d = S.insp;
  const v = d.answers[it.id];
  let control = '';
  if (it.type === 'yesno') {
    control = `<div class="seg">${[true, false].map((x) => `<button type="button" data-val="${x}"
      class="${v === x ? 'on' : ''}">${esc(t(x ? 'yes' : 'no'))}</button>`).join('')}</div>`;
  } else if (it.type === 'choice') {
    control = `<div class="chips">${(it.options || []).map((o, k) => `<button type="button" class="chip${v === o.value ? ' on' : ''}"
      data-opt="${k}">${esc(loc(o))}</button>`).join('')}</div>`;
  } else if (it.type === 'number') {
    const range = it.min != null && it.max != null ? t('range', it.min, it.max) : it.min != null ? t('at_least', it.min) :
      it.max != null ? t('at_most', it.max) : '';
    control = `<div class="row"><input type="number" class="num-in" data-num inputmode="${it.integer ? 'numeric' : 'decimal'}"
      ${it.min != null ? `min="${it.min}"` : ''} ${it.max != null ? `max="${it.max}"` : ''} step="${it.integer ? 1 : 'any'}"
      value="${esc(d.raw[it.id] || '')}"><span>${esc(loc(it.unit))}</span><small class="muted">${esc(range)}</small></div>`;
  } else if (it.type === 'photo') {
    control = `<label class="button-like"><span>${esc(t('take_photo'))}</span>
      <input type="file" accept="image/*" capture="environment" multiple hidden data-photo></label><div class="thumbs"></div>`;
  } else {
    control = `<textarea rows="2" maxlength="2000" data-note>${esc(v || '')}</textarea>`;
  }
  return `<li class="item" data-item="${esc(it.id)}" data-type="${it.type}"><div class="q"><span class="qn">${n}.</span>
    <span class="grow">${esc(loc(it.text))}</span><b class="req" hidden>*</b></div>${control}
    <div class="fail-msg" hidden></div><div class="item-error error" role="alert"></div></li>`;
}

function renderInspForm() {
  const d = S.insp;
  formKey = d.key;
  $('insp-form-head').innerHTML = `<div class="chosen">${chosenBar(targetLabel(d.target), 'target')}</div>
    <div class="chosen">${chosenBar(loc(d.defn.title), 'checklist')}</div>`;
  $('insp-items').innerHTML = d.defn.items.map((it, k) => itemHtml(it, k + 1)).join('');
  $('insp-note').value = d.note || '';
  $('insp-note-label').hidden = d.defn.items.some((it) => it.type === 'note');   // the checklist asks for remarks itself
  $('insp-error').textContent = '';
  for (const it of d.defn.items) if (it.type === 'photo') renderItemPhotos(it.id);
  updateForm();
}

function renderItemPhotos(id) {
  const li = document.querySelector(`#insp-items [data-item="${id}"]`);
  if (!li) return;
  li.querySelector('.thumbs').innerHTML = (S.insp.photos[id] || []).map((p, k) =>
    `<figure><img alt="" src="${URL.createObjectURL(p.blob)}"><button type="button" class="x" data-rm-photo="${k}">×</button></figure>`).join('');
}

/** Show/hide items, required marks, failing answers and (after a first submit) the problems, live. */
function updateForm() {
  const d = S.insp;
  if (!d || !d.defn) return;
  const ev = evaluate(d.defn, d.answers);
  const problems = d.tried ? problemsOf(d.defn, d, t) : {};
  let failing = 0, n = 0;
  for (const it of d.defn.items) {
    const li = document.querySelector(`#insp-items [data-item="${it.id}"]`);
    const e = ev.items[it.id];
    li.hidden = !e.shown;
    if (e.shown) li.querySelector('.qn').textContent = `${++n}.`;
    li.querySelector('.req').hidden = !e.required;
    li.classList.toggle('fails', e.fails);
    const fm = li.querySelector('.fail-msg');
    fm.hidden = !e.fails;
    if (e.fails) {
      failing += 1;
      const f = it.fail;
      fm.textContent = !f.category ? `⚠ ${t('fail_no_case')}` :
        `⚠ ${f.deadline_days ? t('will_fail', f.deadline_days) : t('will_open_case')} · ${catName(f.category)}`;
    }
    li.classList.toggle('bad', !!problems[it.id]);
    li.querySelector('.item-error').textContent = problems[it.id] || '';
  }
  const bad = Object.keys(problems).length;
  $('insp-error').textContent = bad ? t('fix_items', bad) : '';
  $('insp-summary').textContent = failing ? t('failing_n', failing) : '';
  $('insp-summary').className = failing ? 'tag red' : 'tag';
  return { problems, failing };
}

async function onItemEvent(ev) {
  const d = S.insp;
  const li = ev.target.closest('[data-item]');
  if (!li || !d || !d.defn) return;
  const it = d.defn.items.find((x) => x.id === li.dataset.item);
  if (ev.type === 'click') {
    const val = ev.target.closest('[data-val]'), opt = ev.target.closest('[data-opt]'), rm = ev.target.closest('[data-rm-photo]');
    if (val) {
      d.answers[it.id] = val.dataset.val === 'true';
      for (const b of li.querySelectorAll('[data-val]')) b.classList.toggle('on', b === val);
    } else if (opt) {
      d.answers[it.id] = it.options[+opt.dataset.opt].value;
      for (const b of li.querySelectorAll('[data-opt]')) b.classList.toggle('on', b === opt);
    } else if (rm) {
      d.photos[it.id].splice(+rm.dataset.rmPhoto, 1);
      renderItemPhotos(it.id);
    } else return;
  } else if (ev.type === 'input' && ev.target.matches('[data-num]')) {
    const raw = ev.target.value;
    d.raw[it.id] = raw;
    const num = raw.trim() === '' ? undefined : Number(raw);
    if (num === undefined || Number.isNaN(num) || ev.target.validity.badInput) delete d.answers[it.id];
    else d.answers[it.id] = num;
    if (ev.target.validity.badInput) d.raw[it.id] = raw || '?';
  } else if (ev.type === 'input' && ev.target.matches('[data-note]')) {
    const v = ev.target.value;
    if (v.trim()) d.answers[it.id] = v; else delete d.answers[it.id];
  } else if (ev.type === 'change' && ev.target.matches('[data-photo]')) {
    const input = ev.target;
    const list = d.photos[it.id] || (d.photos[it.id] = []);
    for (const f of input.files) list.push({ client_id: store.uuid(), blob: await downscale(f) });
    input.value = '';
    renderItemPhotos(it.id);
  } else return;
  updateForm();
  await saveDraft();
}

async function submitInspection(ev) {
  ev.preventDefault();
  const d = S.insp;
  if (!d || !d.defn) return;
  d.tried = true;
  const { problems } = updateForm();
  const first = Object.keys(problems)[0];
  if (first) {
    const li = document.querySelector(`#insp-items [data-item="${first}"]`);
    li.scrollIntoView({ block: 'center' });
    await saveDraft();
    return;
  }
  const ev2 = evaluate(d.defn, d.answers);
  const answers = {};
  const photos = [];
  for (const it of d.defn.items) {
    if (!ev2.items[it.id].shown) continue;   // hidden items must not be answered
    if (it.type === 'photo') {
      const ps = d.photos[it.id] || [];
      if (ps.length) answers[it.id] = ps.map((p) => p.client_id);
      for (const p of ps) photos.push({ item: it.id, p });
    } else if (d.answers[it.id] !== undefined) {
      answers[it.id] = it.type === 'note' ? String(d.answers[it.id]).trim() : d.answers[it.id];
    }
  }
  const failing = d.defn.items.filter((it) => ev2.items[it.id].fails);
  const failed = failing.length, cases = failing.filter((it) => it.fail.category).length;
  const client_id = store.uuid();
  const tg = d.target;
  const body = { client_id, checklist_id: d.defn.id, time: new Date().toISOString(), answers };
  if (tg.type === 'building') body.building_id = tg.building_id;
  if (tg.type === 'shop') body.shop_code = tg.shop_code;
  if (tg.type === 'place') Object.assign(body, { place_name: tg.place_name, lon: tg.lon, lat: tg.lat, crs: 'wgs84' });
  else if (S.pos) Object.assign(body, { lon: +S.pos.lon.toFixed(7), lat: +S.pos.lat.toFixed(7), crs: 'wgs84' });  // where she stood
  const note = $('insp-note').value.trim();
  if (note) body.note = note;
  const summary = `${loc(d.defn.title)} · ${targetLabel(tg)}`;
  await store.enqueue({ kind: 'inspection', client_id, body, summary });
  for (const { item, p } of photos) {
    await store.enqueue({ kind: 'inspection_photo', inspection_client_id: client_id, item, client_id: p.client_id,
      blob: p.blob, name: `${item}.jpg`, summary });
  }
  const done = doneToday();
  done.inspected.push(inspKey(d.defn.code, tg));
  await store.kv.put('done', done);
  S.insp = newDraft(tg.type);
  await saveDraft();
  renderInspect();
  $('screen-inspect').scrollTop = 0;
  toast(t('insp_saved', failed, cases));
}

async function onInspectClick(ev) {
  const d = draft();
  const kind = ev.target.closest('[data-kind]');
  if (kind) { d.kind = kind.dataset.kind; renderInspect(); await saveDraft(); return; }
  const back = ev.target.closest('[data-back]');
  if (back) { d.step = back.dataset.back; if (d.step === 'target') d.target = null; renderInspect(); await saveDraft(); return; }
  const b = ev.target.closest('[data-building]');
  if (b) { await chooseTarget({ type: 'building', building_id: +b.dataset.building }); return; }
  const sh = ev.target.closest('[data-shop]');
  if (sh) { await chooseTarget({ type: 'shop', shop_code: sh.dataset.shop }); return; }
  const code = ev.target.closest('[data-shop-code]');
  if (code) { location.hash = `#shop/${code.dataset.shopCode}`; return; }
  const cl = ev.target.closest('[data-checklist]');
  if (cl) { await chooseChecklist(+cl.dataset.checklist); return; }
  if (ev.target.closest('#insp-p-go')) {
    const name = $('insp-p-name').value.trim();
    if (!name) { $('insp-p-error').textContent = t('need_place'); return; }
    if (!S.pos) { $('insp-p-error').textContent = t('need_location'); return; }
    $('insp-p-error').textContent = '';
    await chooseTarget({ type: 'place', place_name: name, lon: +S.pos.lon.toFixed(7), lat: +S.pos.lat.toFixed(7) });
    $('insp-p-name').value = '';
  }
}


/** The code of the QR on a shop's door, read with the camera (BarcodeDetector); null when cancelled. */
async function scanShopCode() {
  const dlg = $('scan');
  const video = $('scan-video');
  let stream = null, stop = false;
  const end = () => {
    stop = true;
    if (stream) for (const tr of stream.getTracks()) tr.stop();
    video.srcObject = null;
    if (dlg.open) dlg.close();
  };
  try {
    const detector = new window.BarcodeDetector({ formats: ['qr_code'] });
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
    video.srcObject = stream;
    dlg.showModal();
    await video.play();
    return await new Promise((resolve) => {
      $('scan-cancel').onclick = () => { end(); resolve(null); };
      dlg.oncancel = () => { end(); resolve(null); };
      const tick = async () => {
        if (stop) return;
        try {
          const found = await detector.detect(video);
          const code = found.map((f) => codeIn(f.rawValue)).find((c) => SHOP_CODE.test(c));
          if (code) { end(); resolve(code); return; }
        } catch (_) { /* a frame not ready yet */ }
        setTimeout(tick, 250);
      };
      tick();
    });
  } catch (e) {
    end();
    toast(t('scan_fail'));
    $('insp-s-search').focus();
    return null;
  }
}


/** The form is drawn again on the next renderInspect (after a change of language; the answers are kept). */
export function forgetForm() { formKey = null; }

/** Listen to the inspect screen's controls. */
export function wireInspect() {
  $('screen-inspect').addEventListener('click', onInspectClick);
  $('insp-b-search').addEventListener('input', renderInspBuildings);
  $('insp-s-search').addEventListener('input', renderInspShops);
  $('insp-s-search').addEventListener('keydown', (ev) => {
    const code = codeIn(ev.target.value);
    if (ev.key === 'Enter' && SHOP_CODE.test(code)) {
      ev.preventDefault();
      if (shopByCode(code)) chooseTarget({ type: 'shop', shop_code: code });
      else location.hash = `#shop/${code}`;
    }
  });
  $('insp-scan').addEventListener('click', async () => {
    const code = await scanShopCode();
    if (code) location.hash = `#shop/${code}`;
  });
  for (const type of ['click', 'input', 'change']) $('insp-items').addEventListener(type, onItemEvent);
  $('insp-note').addEventListener('input', () => { if (S.insp) { S.insp.note = $('insp-note').value; saveDraft(); } });
  $('insp-form').addEventListener('submit', submitInspection);
}
