/* gridpatrol field app (网格通) — the grid worker's phone: map of her grid and tasks, patrol with GPS, report with
 * photo, tasks in walking order with verify / rework, revisits, household visit check-in with the household and its
 * needs (民情台账), the visits and inspections due; inspections (#inspect) of a building, a shop (一户一码: #shop/<code>
 * is what the QR on its door opens) or a named place against a checklist defined as data, validated on the phone as
 * the server will. Offline first: the day's data is kept in IndexedDB (store.kv "today"), an inspection being
 * filled in too ("inspect"), and every change goes through the outbox in store.js.
 *
 * This is the entry module (index.html loads it with <script type="module">, after Leaflet's classic script): the
 * screens, login and logout, the day's data, the GPS, and the wiring of the modules, one per concern:
 *   state.js (configuration, state, texts, day's data helpers)  texts.js (zh/en texts)  auth.js (tokens)
 *   store.js (IndexedDB and the outbox)  ui.js (sheet, toast, photos)  map.js  patrol.js  tasks.js  due.js
 *   report.js  visits.js  inspect.js  checklist.js (the checklist rules)  shop.js  outbox.js
 *   mine.js (我的上报, the case number after a report)  dupes.js (possible duplicates, 补充)  selfhandle.js (自行处置)
 * Shared with the other pages: /static/js/datum.js, html.js, i18n.js. No build step. */

import { $, S, codeIn, onRedraw, stopKey, t, view } from './state.js';
import { store } from './store.js';
import { api } from './auth.js';
import { toast } from './ui.js';
import { centreOn, renderMap, renderPosition, showMap } from './map.js';
import { endPatrol, recordFix, startPatrol } from './patrol.js';
import { onTaskClick, renderTasks } from './tasks.js';
import { onDueClick, renderDue } from './due.js';
import { initPinMap, renderReport, setPin, wireReport } from './report.js';
import { renderVisits, wireVisits } from './visits.js';
import { forgetForm, renderInspBuildings, renderInspect, renderPlacePos, wireInspect } from './inspect.js';
import { onShopClick, renderShop } from './shop.js';
import { renderOutbox, renderSyncPill } from './outbox.js';
import { renderMine } from './mine.js';
import { wireSelfHandle } from './selfhandle.js';
import { prefetchTiles } from './offline.js';

// ------------------------------------------------------------------------------------------ screens

function route() {
  const raw = (location.hash || '#map').slice(1);
  const name = raw.split('/')[0];
  if (name === 'shop') S.shopCode = codeIn(decodeURIComponent(raw.slice(5)));
  view.current = ['map', 'tasks', 'report', 'visit', 'sync', 'inspect', 'shop', 'mine'].includes(name) ? name : 'map';
  const tab = { shop: 'inspect', mine: 'report' }[view.current] || view.current;
  for (const s of document.querySelectorAll('.screen')) s.hidden = s.id !== `screen-${view.current}`;
  for (const a of document.querySelectorAll('.tabs a')) a.classList.toggle('active', a.dataset.tab === tab);
  if (view.current === 'inspect') renderInspect();
  if (view.current === 'shop') renderShop();
  if (view.current === 'map') showMap();
  if (view.current === 'report') { setTimeout(initPinMap, 0); renderReport(); }
  if (view.current === 'visit') renderVisits();
  if (view.current === 'sync') renderOutbox();
  if (view.current === 'tasks') renderTasks();
  if (view.current === 'mine') renderMine();
}

function renderTexts() {
  document.documentElement.lang = S.lang === 'en' ? 'en' : 'zh-CN';
  for (const el of document.querySelectorAll('[data-t]')) el.textContent = t(el.dataset.t);
  for (const el of document.querySelectorAll('[data-tp]')) el.placeholder = t(el.dataset.tp);
  for (const el of document.querySelectorAll('[data-ta]')) el.setAttribute('aria-label', t(el.dataset.ta));
  document.title = t('app_name');
  if (window.gridpatrolLeafletLang) window.gridpatrolLeafletLang(S.lang);
  for (const el of document.querySelectorAll('.lang-toggle')) el.textContent = S.lang === 'en' ? '中' : 'EN';
  document.querySelector('#login .lang-toggle').textContent = t('lang_other');
}

function renderAll() {
  renderTexts();
  const d = S.today;
  if (d) {
    const g = d.grids.features.map((f) => f.properties.name || f.properties.code).join('、');
    $('grid-name').textContent = g || t('app_name');
    // a 楼栋长's post beside her name (her "grids" are her 微网格)
    $('user-name').textContent = d.user ? (d.user.display_name || d.user.username) + (d.user.post ? ` · ${d.user.post}` : '') : '';
  }
  renderMap(!renderAll.fitted);
  if (d && !renderAll.fitted) renderAll.fitted = true;
  renderTasks();
  renderSyncPill();
  if (view.current === 'report') renderReport();
  if (view.current === 'visit') renderVisits();
  if (view.current === 'sync') renderOutbox();
  if (view.current === 'inspect') renderInspect();
}

// ------------------------------------------------------------------------------------------ login and the day's data

function showLogin() {
  $('shell').hidden = true;
  $('login').hidden = false;
  renderTexts();
}

async function loadToday(fromNetwork) {
  if (!S.today) S.today = await store.kv.get('today');
  if (S.today) renderAll();
  if (!fromNetwork || !navigator.onLine) return;
  const q = S.pos ? `?lat=${S.pos.lat.toFixed(7)}&lon=${S.pos.lon.toFixed(7)}` : '';
  try {
    const r = await api(`/api/v1/field/today${q}`);
    if (r.status === 200) {
      S.today = await r.json();
      await store.kv.put('today', S.today);
      // an action made offline stays marked until the day's data no longer lists it as open
      const open = new Set((S.today.tasks.stops || []).map((s) => stopKey(s)));
      for (const k of Object.keys(S.pending)) if (!open.has(k)) delete S.pending[k];
      await store.kv.put('pending', S.pending);
      renderAll();
      loadToday.failures = 0;
      prefetchTiles();   // her grids' map for offline use, in the background
    } else if (r.status === 401) {
      showLogin();
    } else if (r.status >= 500 && (loadToday.failures = (loadToday.failures || 0) + 1) <= 3) {
      setTimeout(() => loadToday(true), 2000 * loadToday.failures);   // a server hiccup: the day is worth a retry
    }
  } catch (_) { /* offline: keep the cached day */ }
}

async function login(ev) {
  ev.preventDefault();
  const user = $('login-user').value.trim(), pass = $('login-pass').value;
  $('login-error').textContent = '';
  const owner = await store.kv.get('owner');
  const c = await store.counts();
  if (owner && owner !== user && c.waiting > 0) { $('login-error').textContent = t('other_user', c.waiting); return; }
  let r;
  try {
    r = await fetch('/api/v1/auth/token', { method: 'POST', body: new URLSearchParams({ username: user, password: pass }) });
  } catch (_) { $('login-error').textContent = t('no_network'); return; }
  if (r.status !== 200) { $('login-error').textContent = t('wrong_login'); return; }
  const data = await r.json();
  // a grid worker, or a 楼栋长 (building_lead: her 微网格 only — no patrol, no inspections, no self-handling)
  if (!FIELD_ROLES.includes(data.role)) { $('login-error').textContent = t('not_worker'); return; }
  if (owner && owner !== user) { await store.clear(); S.pending = {}; }
  S.tokens = Object.assign(data, { got_at: Date.now() });   // auth.js counts the token's life from here
  await store.kv.put('tokens', data);
  await store.kv.put('owner', user);
  $('login-pass').value = '';
  await startShell();
}

async function logout() {
  const c = await store.counts();
  if (c.waiting > 0 && !window.confirm(t('logout_pending', c.waiting))) return;
  if (S.patrol) await endPatrol();
  if (S.tokens && navigator.onLine) {  // end the session on the server too (best effort: offline, it just expires)
    fetch('/api/v1/auth/logout', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ refresh_token: S.tokens.refresh_token }) }).catch(() => {});
  }
  S.tokens = null;
  await store.kv.del('tokens');
  await store.kv.del('today');  // the day's data names residents due a visit: never left behind on the phone
  if (c.waiting === 0) { await store.clear(); await store.kv.put('lang', S.lang); }
  S.today = null;
  location.hash = '';
  showLogin();
}


// ------------------------------------------------------------------------------------------ GPS

function onPosition(p) {
  const fix = { lat: p.coords.latitude, lon: p.coords.longitude, acc: p.coords.accuracy || 0, t: p.timestamp || Date.now() };
  S.pos = fix;
  renderPosition();
  if (S.patrol) recordFix(fix);
  if (!S.report.pinByHand) setPin(fix, false);
  if (view.current === 'visit') renderVisits();
  if (view.current === 'tasks' && !renderDue.withPos) renderDue();   // nearest first once she has a position
  if (view.current === 'inspect' && S.insp && S.insp.step === 'target') {
    if (S.insp.kind === 'place') renderPlacePos();
    else if (S.insp.kind === 'building' && !renderInspBuildings.withPos) renderInspBuildings();  // nearest first, once
  }
}

function watchGps() {
  if (!navigator.geolocation) return;
  navigator.geolocation.watchPosition(onPosition, (e) => {
    if (e.code === 1) toast(t('gps_denied'));
  }, { enableHighAccuracy: true, maximumAge: 5000, timeout: 30000 });
}

// ------------------------------------------------------------------------------------------ start

let shellStarted = false;
const FIELD_ROLES = ['grid_worker', 'building_lead'];

async function startShell() {
  document.body.classList.toggle('lead', !!(S.tokens && S.tokens.role === 'building_lead'));
  $('login').hidden = true;
  $('shell').hidden = false;
  S.pending = (await store.kv.get('pending')) || {};
  S.visits = (await store.kv.get('visits')) || { date: null, ids: [] };
  S.patrol = (await store.kv.get('patrol')) || null;
  S.insp = (await store.kv.get('inspect')) || null;
  S.done = (await store.kv.get('done')) || null;
  renderTexts();
  route();
  await loadToday(true);
  if (!shellStarted) {
    shellStarted = true;
    watchGps();
  }
  store.engine.kick();
}

function wire() {
  $('login-form').addEventListener('submit', login);
  for (const el of document.querySelectorAll('.lang-toggle')) {
    el.addEventListener('click', async () => {
      S.lang = S.lang === 'en' ? 'zh' : 'en';
      await store.kv.put('lang', S.lang);
      forgetForm();   // the inspection form is drawn again in the other language, answers kept
      renderAll();
      if (view.current === 'shop') renderShop();
      renderOutbox();
    });
  }
  $('menu-btn').addEventListener('click', () => { $('menu').hidden = !$('menu').hidden; });
  $('logout-btn').addEventListener('click', () => { $('menu').hidden = true; logout(); });
  $('refresh-btn').addEventListener('click', () => { $('menu').hidden = true; loadToday(true); });
  $('sync-pill').addEventListener('click', () => { location.hash = '#sync'; });
  $('sync-now').addEventListener('click', () => { store.engine.failures = 0; store.engine.kick(); });
  $('patrol-btn').addEventListener('click', () => (S.patrol ? endPatrol() : startPatrol()));
  $('locate-btn').addEventListener('click', () => { if (S.pos) centreOn(S.pos.lat, S.pos.lon, 18); });
  $('task-list').addEventListener('click', onTaskClick);
  $('due-visits').addEventListener('click', onDueClick);
  $('due-inspections').addEventListener('click', onDueClick);
  $('shop-view').addEventListener('click', onShopClick);
  wireInspect();
  wireReport();
  wireSelfHandle();
  wireVisits();
  $('problem-list').addEventListener('click', async (ev) => {
    const b = ev.target.closest('[data-dismiss]');
    if (b) { await store.dismiss(+b.dataset.dismiss); renderOutbox(); }
  });
  window.addEventListener('hashchange', route);
  window.addEventListener('online', () => { renderSyncPill(); loadToday(true); });
  window.addEventListener('offline', renderSyncPill);
  let wasBusy = false;
  store.onChange((c) => {
    if (c) S.counts = c;
    renderSyncPill();
    if (view.current === 'sync') renderOutbox();
    const busy = S.counts.waiting > 0;
    if (wasBusy && !busy && store.engine.state === 'idle') loadToday(true);  // all sent: fetch the new day
    if (view.current === 'mine') renderMine();
    wasBusy = busy;
    if (store.engine.state === 'login') toast(t('need_login'));
  });
}

async function main() {
  S.lang = (await store.kv.get('lang')) || S.lang;
  wire();
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/app/sw.js', { scope: '/app/' }).catch((e) => console.warn('service worker', e));
  }
  S.counts = await store.counts();
  S.tokens = await store.kv.get('tokens');
  if (S.tokens) await startShell();
  else showLogin();
}

onRedraw('tasks', renderTasks);

window.gridpatrolApp = {
  ready: null,
  state: S,
  store,
  counts: () => store.counts(),
  syncNow: () => { store.engine.failures = 0; return store.engine.run(); },
  engineState: () => store.engine.state,
};
window.gridpatrolApp.ready = main();
