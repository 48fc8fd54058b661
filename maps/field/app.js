/* gridpatrol field app (网格通) — the grid worker's phone: map of her grid and tasks, patrol with GPS, report with
 * photo, tasks in walking order with verify / rework, revisits, household visit check-in. Offline first: the day's
 * data is kept in IndexedDB (GP.store.kv "today"), every change goes through the outbox in store.js.
 */
(function () {
  'use strict';
  const GP = window.GP;
  const store = GP.store;
  const CONFIG = JSON.parse(document.getElementById('gp-config').textContent || '{}');

  // ------------------------------------------------------------------------------------------ text

  const T = {
    zh: {
      app_name: '网格通', app_sub: '网格员巡查 · 上报 · 任务', username: '用户名', password: '密码', login: '登录',
      logout: '退出登录', refresh: '刷新今日数据', start_patrol: '开始巡查', end_patrol: '结束巡查',
      tasks: '今日任务', report: '上报事件', category: '类别', photo: '照片', take_photo: '拍照',
      location: '位置', use_gps: '用当前位置', building: '楼栋', unit_no: '单元', floor: '楼层', note: '说明',
      submit: '提交上报', visits: '入户走访', outbox: '待发送', send_now: '立即发送', problems: '未能提交（请处理）',
      tab_map: '地图', tab_tasks: '任务', tab_report: '上报', tab_visit: '走访', tab_sync: '发送',
      after_photo: '拍照（现场照片）', cancel: '取消', confirm: '确定',
      cat_search: '搜索类别：中文或拼音首字母，如 hlzc', note_ph: '现场情况（可选）', building_search: '搜索楼栋名称或地址',
      lang_other: 'English', waiting: (n) => `${n} 条待发送`, synced: '已同步', offline: '离线',
      problems_n: (n) => `${n} 个问题`, sending: '正在发送…', retry_in: (e) => `发送失败，稍后重试（${e}）`,
      need_login: '登录已过期，请重新登录后发送', online_idle: '已连接，全部已发送', offline_state: '离线：恢复网络后自动发送',
      walked: (m) => `已走 ${km(m)}`, fixes: (n) => `${n} 个定位点`, covered_today: '今日已巡街道',
      kind_handle: '待处置', kind_verify: '待核查', kind_revisit: '回头看', overdue: '已超期', due: '期限',
      route: (m, min) => `步行路线 ${km(m)} · 约 ${min} 分钟`, no_tasks: '今天没有任务。可以开始巡查，发现问题随时上报。',
      act_accept: '接单', act_handle: '处置完成', act_verify: '核查通过', act_rework: '不通过（返工）',
      act_close: '结案', act_still_fixed: '仍已解决', act_reopen: '问题复发', act_visit: '走访签到',
      rework_note: '请写明不通过的原因', pending: '已提交，待发送', show_on_map: '地图',
      choose_category: '请选择类别', need_location: '还没有位置：请等待定位或在地图上放置图钉',
      saved_offline: '已保存，联网后自动发送', saved: '已提交', change: '更改', no_building: '不在楼内',
      gps_waiting: '正在定位…', gps_acc: (a) => `定位精度 ±${Math.round(a)} 米`, pin_moved: '已手动调整位置',
      gps_denied: '无法获取定位：请允许本应用使用位置', households: (n) => `${n} 户`,
      visited_today: (n) => `今日已走访 ${n} 栋`, visited: '今日已走访', no_buildings: '没有找到楼栋',
      queue_empty: '没有待发送的内容', dismiss: '知道了', conflict: '案件状态已变化（可能已被他人处理或结案），本次操作未生效。',
      refused: '服务器未接受：', attempts: (n) => `已尝试 ${n} 次`,
      k_case: '上报', k_photo: '照片', k_action: '案件操作', k_revisit: '回头看', k_patrol_start: '开始巡查',
      k_fixes: (n) => `定位点 ×${n}`, k_patrol_end: '结束巡查', k_visit: '走访签到',
      logout_pending: (n) => `还有 ${n} 条未发送。退出后它们会保留在本机，同一账号再次登录后继续发送。确定退出？`,
      other_user: (n) => `本机还有上一位用户的 ${n} 条未发送内容，请先用该账号登录发送。`,
      wrong_login: '用户名或密码错误', no_network: '没有网络，无法登录', not_worker: '本应用供网格员使用',
      no_data: '还没有今日数据：请联网后刷新', case_n: (id) => `案件 #${id}`, new_case: '新上报',
      photos_n: (n) => `${n} 张照片`, stop_n: (n) => `第 ${n} 站`,
    },
    en: {
      app_name: 'Grid Patrol', app_sub: 'Patrol · report · tasks for grid workers', username: 'Username',
      password: 'Password', login: 'Log in', logout: 'Log out', refresh: "Refresh today's data",
      start_patrol: 'Start patrol', end_patrol: 'End patrol', tasks: "Today's tasks", report: 'Report a problem',
      category: 'Category', photo: 'Photo', take_photo: 'Take photo', location: 'Location', use_gps: 'Use my position',
      building: 'Building', unit_no: 'Entrance', floor: 'Floor', note: 'Note', submit: 'Submit report',
      visits: 'Household visits', outbox: 'Outbox', send_now: 'Send now', problems: 'Not accepted (please check)',
      tab_map: 'Map', tab_tasks: 'Tasks', tab_report: 'Report', tab_visit: 'Visits', tab_sync: 'Outbox',
      after_photo: 'Take photo (on site)', cancel: 'Cancel', confirm: 'OK',
      cat_search: 'Search: name or pinyin initials, e.g. hlzc', note_ph: 'What you see (optional)',
      building_search: 'Search building name or address', lang_other: '中文',
      waiting: (n) => `${n} waiting to send`, synced: 'All sent', offline: 'Offline',
      problems_n: (n) => `${n} problem${n > 1 ? 's' : ''}`, sending: 'Sending…',
      retry_in: (e) => `Sending failed, retrying soon (${e})`, need_login: 'Session expired: log in again to send',
      online_idle: 'Online, everything sent', offline_state: 'Offline: will send when the network is back',
      walked: (m) => `Walked ${km(m)}`, fixes: (n) => `${n} fixes`, covered_today: 'Streets covered today',
      kind_handle: 'To handle', kind_verify: 'To verify', kind_revisit: 'Revisit', overdue: 'Overdue', due: 'Due',
      route: (m, min) => `Walking route ${km(m)} · about ${min} min`,
      no_tasks: 'No tasks today. Start a patrol and report what you find.',
      act_accept: 'Accept', act_handle: 'Handled', act_verify: 'Verified OK', act_rework: 'Not fixed (rework)',
      act_close: 'Close', act_still_fixed: 'Still fixed', act_reopen: 'Problem is back', act_visit: 'Check in',
      rework_note: 'Say why it is not fixed', pending: 'Done, waiting to send', show_on_map: 'Map',
      choose_category: 'Choose a category', need_location: 'No location yet: wait for GPS or place the pin',
      saved_offline: 'Saved; it will be sent when online', saved: 'Submitted', change: 'Change',
      no_building: 'Not in a building', gps_waiting: 'Locating…', gps_acc: (a) => `GPS accuracy ±${Math.round(a)} m`,
      pin_moved: 'Position set by hand', gps_denied: 'No GPS: allow this app to use your location',
      households: (n) => `${n} households`, visited_today: (n) => `${n} buildings visited today`,
      visited: 'Visited today', no_buildings: 'No building found', queue_empty: 'Nothing waiting to send',
      dismiss: 'Dismiss', conflict: 'The case changed meanwhile (handled or closed by someone else); this action did not apply.',
      refused: 'Not accepted: ', attempts: (n) => `${n} attempt${n > 1 ? 's' : ''}`,
      k_case: 'Report', k_photo: 'Photo', k_action: 'Case action', k_revisit: 'Revisit', k_patrol_start: 'Patrol start',
      k_fixes: (n) => `GPS fixes ×${n}`, k_patrol_end: 'Patrol end', k_visit: 'Visit check-in',
      logout_pending: (n) => `${n} items are not sent yet. They stay on this phone and are sent when this account logs in again. Log out?`,
      other_user: (n) => `This phone still holds ${n} unsent items of the previous user; log in as that user first.`,
      wrong_login: 'Wrong username or password', no_network: 'No network: cannot log in', not_worker: 'This app is for grid workers',
      no_data: "No data for today yet: refresh when online", case_n: (id) => `Case #${id}`, new_case: 'New report',
      photos_n: (n) => `${n} photo${n > 1 ? 's' : ''}`, stop_n: (n) => `Stop ${n}`,
    },
  };
  function km(m) { return m >= 1000 ? `${(m / 1000).toFixed(2)} km` : `${Math.round(m)} m`; }
  function t(key, ...args) {
    const v = (T[S.lang] || T.zh)[key];
    return typeof v === 'function' ? v(...args) : (v === undefined ? key : v);
  }
  function esc(s) {
    return String(s == null ? '' : s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
  }
  const $ = (id) => document.getElementById(id);

  // ------------------------------------------------------------------------------------------ state

  const S = {
    lang: CONFIG.lang === 'en' ? 'en' : 'zh',
    tokens: null, today: null, pos: null, patrol: null, pending: {}, visits: { date: null, ids: [] },
    report: { category: null, photos: [], pin: null, pinByHand: false, building: null },
    counts: { waiting: 0, problems: 0 },
  };

  // ------------------------------------------------------------------------------------------ map datum

  // With a GCJ-02 basemap (AMap, Tencent) our WGS-84 data and GPS are drawn shifted, and a dragged pin shifted back.
  const DATUM = window.GPDatum.datum(CONFIG.datum);
  const toMap = DATUM.toMap, fromMap = DATUM.fromMap;
  function metres(a, b) {
    const R = 6371008.8, p = Math.PI / 180;
    const dLat = (b.lat - a.lat) * p, dLon = (b.lon - a.lon) * p;
    const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * p) * Math.cos(b.lat * p) * Math.sin(dLon / 2) ** 2;
    return 2 * R * Math.asin(Math.sqrt(h));
  }

  // ------------------------------------------------------------------------------------------ auth

  function jwtExp(token) {
    try {
      const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      return JSON.parse(atob(part)).exp * 1000;
    } catch (_) { return 0; }
  }

  GP.auth = {
    async accessToken() {
      if (!S.tokens) S.tokens = await store.kv.get('tokens');
      if (!S.tokens) return null;
      if (jwtExp(S.tokens.access_token) - Date.now() < 60000 && navigator.onLine) await GP.auth.refresh();
      return S.tokens && S.tokens.access_token;
    },
    /** A new access token from the refresh token (kept for days): true when it worked, false when it was refused. */
    async refresh() {
      if (!S.tokens) return false;
      let r;
      try {
        r = await fetch('/api/v1/auth/refresh', { method: 'POST', headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ refresh_token: S.tokens.refresh_token }) });
      } catch (_) { return true; }  // no network: keep the tokens, the queue retries later
      if (r.status === 200) {
        const data = await r.json();
        S.tokens = Object.assign({}, S.tokens, data);
        await store.kv.put('tokens', S.tokens);
        return true;
      }
      if (r.status === 401 || r.status === 403) return false;
      return true;
    },
  };

  async function api(path) {
    const token = await GP.auth.accessToken();
    const r = await fetch(path, { headers: { Authorization: `Bearer ${token}` } });
    if (r.status === 401 && await GP.auth.refresh()) {
      return fetch(path, { headers: { Authorization: `Bearer ${S.tokens.access_token}` } });
    }
    return r;
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
    if (data.role !== 'grid_worker') { $('login-error').textContent = t('not_worker'); return; }
    if (owner && owner !== user) { await store.clear(); S.pending = {}; }
    S.tokens = data;
    await store.kv.put('tokens', data);
    await store.kv.put('owner', user);
    $('login-pass').value = '';
    await startShell();
  }

  async function logout() {
    const c = await store.counts();
    if (c.waiting > 0 && !window.confirm(t('logout_pending', c.waiting))) return;
    if (S.patrol) await endPatrol();
    S.tokens = null;
    await store.kv.del('tokens');
    if (c.waiting === 0) { await store.clear(); await store.kv.put('lang', S.lang); }
    S.today = null;
    location.hash = '';
    showLogin();
  }

  // ------------------------------------------------------------------------------------------ the day's data

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
      } else if (r.status === 401) {
        showLogin();
      }
    } catch (_) { /* offline: keep the cached day */ }
  }

  function categories() { return (S.today && S.today.categories) || []; }
  function catName(code) {
    const c = categories().find((x) => x.code === code);
    return c ? (S.lang === 'en' ? c.name_en || c.name_zh : c.name_zh) : code;
  }
  function buildings() { return (S.today && S.today.buildings) || []; }
  function buildingLabel(b) {
    return b.name || b.address || `${S.lang === 'en' ? 'Building' : '楼栋'} #${b.id}`;
  }
  function stopKey(s) { return s.kind === 'revisit' ? `r${s.revisit_id}` : `${s.kind}${s.case_id}`; }

  // ------------------------------------------------------------------------------------------ map

  let map = null, layers = {};
  function tileLayer() {
    if (!CONFIG.tiles || !CONFIG.tiles.url) return null;
    return L.tileLayer(CONFIG.tiles.url, { maxZoom: 19, attribution: CONFIG.tiles.attribution || '' });
  }

  function initMap() {
    if (map) return;
    map = L.map('map', { zoomControl: false, attributionControl: true });
    L.control.zoom({ position: 'topright' }).addTo(map);
    L.control.scale({ imperial: false, position: 'topleft' }).addTo(map);
    const tiles = tileLayer();
    if (tiles) tiles.addTo(map);
    layers.grid = L.geoJSON(null, { style: { color: '#1565c0', weight: 3, fill: true, fillOpacity: 0.04 },
      coordsToLatLng: (c) => toMap(c[1], c[0]) }).addTo(map);
    layers.covered = L.geoJSON(null, { style: { color: '#2e7d32', weight: 7, opacity: 0.45 },
      coordsToLatLng: (c) => toMap(c[1], c[0]) }).addTo(map);
    layers.route = L.polyline([], { color: '#6a1b9a', weight: 4, dashArray: '8 8', opacity: 0.8 }).addTo(map);
    layers.track = L.polyline([], { color: '#2e7d32', weight: 5, opacity: 0.9 }).addTo(map);
    layers.tasks = L.layerGroup().addTo(map);
    layers.accuracy = L.circle([0, 0], { radius: 1, color: '#1e88e5', weight: 1, fillOpacity: 0.12 });
    layers.me = L.circleMarker([0, 0], { radius: 8, color: '#fff', weight: 3, fillColor: '#1e88e5', fillOpacity: 1 });
    map.setView([0, 0], 2);
    window.gridpatrolMap = map;
  }

  function renderMap(fit) {
    initMap();
    const d = S.today;
    if (!d) return;
    layers.grid.clearLayers();
    layers.grid.addData(d.grids);
    layers.covered.clearLayers();
    if (d.covered) layers.covered.addData(d.covered);
    const route = d.tasks && d.tasks.route;
    layers.route.setLatLngs(route && route.coordinates ? route.coordinates.map((c) => toMap(c[1], c[0])) : []);
    layers.tasks.clearLayers();
    const colors = { handle: '#ef6c00', verify: '#1565c0', revisit: '#6a1b9a' };
    for (const s of (d.tasks && d.tasks.stops) || []) {
      const done = S.pending[stopKey(s)];
      const icon = L.divIcon({ className: `stop stop-${s.kind}${done ? ' stop-done' : ''}${s.overdue ? ' stop-overdue' : ''}`,
        html: `<span style="background:${colors[s.kind] || '#555'}">${s.order || ''}</span>`, iconSize: [28, 28] });
      L.marker(toMap(s.lat, s.lon), { icon, title: catName(s.category) })
        .bindPopup(`<b>${esc(t(`kind_${s.kind}`))} · ${esc(catName(s.category))}</b><br>${esc(t('case_n', s.case_id))}` +
          (s.address ? `<br>${esc(s.address)}` : ''))
        .addTo(layers.tasks);
    }
    renderTrack();
    if (fit) fitGrid();
  }

  let needFit = false;
  /** Show the whole grid; a hidden map has no size, so it is done when the map is shown. */
  function fitGrid() {
    if (!layers.grid.getLayers().length) return;
    if (!map.getContainer().offsetWidth) { needFit = true; return; }
    needFit = false;
    map.fitBounds(layers.grid.getBounds(), { padding: [12, 12] });
  }

  function renderTrack() {
    if (!map) return;
    const pts = S.patrol ? S.patrol.points : [];
    layers.track.setLatLngs(pts.map((p) => toMap(p[0], p[1])));
    const stats = $('patrol-stats');
    if (S.patrol) {
      stats.hidden = false;
      stats.textContent = `${t('walked', S.patrol.walked_m)} · ${t('fixes', S.patrol.n || 0)}`;
      $('patrol-btn').textContent = t('end_patrol');
      $('patrol-btn').classList.add('danger');
    } else {
      const walked = S.today ? S.today.walked_m || 0 : 0;
      stats.hidden = !walked;
      stats.textContent = walked ? `${t('covered_today')} · ${t('walked', walked)}` : '';
      $('patrol-btn').textContent = t('start_patrol');
      $('patrol-btn').classList.remove('danger');
    }
  }

  function renderPosition() {
    if (!map || !S.pos) return;
    const ll = toMap(S.pos.lat, S.pos.lon);
    layers.me.setLatLng(ll).addTo(map);
    layers.accuracy.setLatLng(ll).setRadius(S.pos.acc || 1).addTo(map);
  }

  // ------------------------------------------------------------------------------------------ GPS and patrol

  function onPosition(p) {
    const fix = { lat: p.coords.latitude, lon: p.coords.longitude, acc: p.coords.accuracy || 0, t: p.timestamp || Date.now() };
    S.pos = fix;
    renderPosition();
    if (S.patrol) recordFix(fix);
    if (!S.report.pinByHand) setPin(fix, false);
    if (current === 'visit') renderVisits();
  }

  function watchGps() {
    if (!navigator.geolocation) return;
    navigator.geolocation.watchPosition(onPosition, (e) => {
      if (e.code === 1) toast(t('gps_denied'));
    }, { enableHighAccuracy: true, maximumAge: 5000, timeout: 30000 });
  }

  async function startPatrol() {
    const client_id = store.uuid();
    const started_at = new Date().toISOString();
    const grids = S.today ? S.today.grids.features : [];
    const patrol = { client_id, started_at, points: [], walked_m: 0, n: 0, last: null };
    // queued before any fix of it can be: the outbox sends in order, and fixes need the patrol's server id
    await store.enqueue({ kind: 'patrol_start', client_id, summary: started_at,
      body: { client_id, started_at, grid_id: grids.length === 1 ? grids[0].properties.id : null } });
    S.patrol = patrol;
    await store.kv.put('patrol', patrol);
    if (S.pos) recordFix(Object.assign({}, S.pos, { t: Date.now() }));
    renderTrack();
  }

  async function endPatrol() {
    const p = S.patrol;
    if (!p) return;
    S.patrol = null;
    await store.kv.del('patrol');
    await store.enqueue({ kind: 'patrol_end', patrol: p.client_id, body: { ended_at: new Date().toISOString() },
      summary: km(p.walked_m) });
    if (S.today) {
      S.today.walked_m = (S.today.walked_m || 0) + p.walked_m;
      await store.kv.put('today', S.today);
    }
    renderTrack();
  }

  let fixChain = Promise.resolve();
  function recordFix(fix) {
    const p = S.patrol;
    const last = p.last;
    if (fix.acc > 100) return;                                     // too vague to keep
    if (last) {
      const d = metres(last, fix), dt = (fix.t - last.t) / 1000;
      if (dt <= 0) return;
      if (dt < 3 && d < 5) return;                                 // standing still: one fix per few seconds
      if (d / dt < 8 && fix.acc <= 50) p.walked_m += d;             // a walking step, not a GPS jump
    }
    p.last = fix;
    p.n = (p.n || 0) + 1;
    p.points.push([fix.lat, fix.lon]);
    const body = { time: new Date(fix.t).toISOString(), lat: fix.lat, lon: fix.lon, accuracy: fix.acc };
    const cid = p.client_id;
    fixChain = fixChain.then(() => store.appendFix(cid, body)).then(() => store.kv.put('patrol', S.patrol || p))
      .catch((e) => console.error(e));
    renderTrack();
  }

  // ------------------------------------------------------------------------------------------ tasks

  const ACT_KIND = { handle: ['accept', 'handle'], verify: ['verify', 'rework'], revisit: ['still_fixed', 'reopen'] };

  function stopActions(s) {
    if (s.kind === 'revisit') return ['still_fixed', 'reopen'];
    if (Array.isArray(s.actions)) return s.actions.filter((a) => ACT_KIND[s.kind].includes(a));
    if (s.kind === 'handle') return [s.status === 'accepted' ? 'handle' : 'accept'];
    return ['verify', 'rework'];
  }

  function renderTasks() {
    const list = $('task-list');
    const d = S.today;
    const stops = (d && d.tasks && d.tasks.stops) || [];
    $('task-badge').hidden = !stops.length;
    $('task-badge').textContent = stops.length;
    if (!d) { list.innerHTML = `<li class="empty">${esc(t('no_data'))}</li>`; return; }
    const r = d.tasks;
    $('route-info').textContent = r && r.length_m ? t('route', r.length_m, Math.max(1, Math.round((r.eta_s || 0) / 60))) : '';
    if (!stops.length) { list.innerHTML = `<li class="empty">${esc(t('no_tasks'))}</li>`; return; }
    list.innerHTML = stops.map((s) => {
      const key = stopKey(s);
      const done = S.pending[key];
      const due = s.deadline_at && s.kind !== 'revisit' ? new Date(s.deadline_at) : null;
      const dueText = due ? `${t('due')} ${due.toLocaleString(S.lang === 'en' ? 'en-GB' : 'zh-CN', { month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit' })}` : '';
      const b = s.building_id ? buildings().find((x) => x.id === s.building_id) : null;
      const buttons = done ? `<span class="done">✓ ${esc(t('pending'))}</span>` : stopActions(s).map((a) =>
        `<button type="button" class="small ${a === 'rework' || a === 'reopen' ? 'warn' : 'primary'}" data-act="${a}" data-key="${key}">${esc(t(`act_${a}`))}</button>`).join('');
      return `<li class="card stop-card kind-${s.kind}${s.overdue ? ' overdue' : ''}" data-key="${key}">
        <div class="row"><span class="num">${s.order || ''}</span>
          <span class="tag tag-${s.kind}">${esc(t(`kind_${s.kind}`))}</span>
          <b class="grow">${esc(catName(s.category))}</b>
          ${s.overdue ? `<span class="tag red">${esc(t('overdue'))}</span>` : ''}</div>
        <div class="muted">${esc(t('case_n', s.case_id))}${b ? ` · ${esc(buildingLabel(b))}` : ''}${s.address ? ` · ${esc(s.address)}` : ''}
          ${s.leg_m ? ` · ${esc(km(s.leg_m))}` : ''}</div>
        ${s.description ? `<div class="desc">${esc(s.description)}</div>` : ''}
        <div class="muted">${esc(dueText)}</div>
        <div class="row actions"><button type="button" class="small" data-show="${key}">${esc(t('show_on_map'))}</button>${buttons}</div>
      </li>`;
    }).join('');
  }

  function findStop(key) { return ((S.today && S.today.tasks.stops) || []).find((s) => stopKey(s) === key); }

  async function onTaskClick(ev) {
    const show = ev.target.closest('[data-show]');
    if (show) {
      const s = findStop(show.dataset.show);
      location.hash = '#map';
      setTimeout(() => { map.setView(toMap(s.lat, s.lon), 18); }, 50);
      return;
    }
    const btn = ev.target.closest('[data-act]');
    if (!btn) return;
    const s = findStop(btn.dataset.key);
    const action = btn.dataset.act;
    const needNote = action === 'rework' || action === 'reopen';
    const res = await sheet({ title: `${t(`act_${action}`)} · ${t('case_n', s.case_id)}`, text: catName(s.category),
      note: true, noteRequired: needNote, notePlaceholder: needNote ? t('rework_note') : t('note_ph'),
      photos: action !== 'accept' });
    if (!res) return;
    const client_id = store.uuid();
    const where = S.pos ? { lat: S.pos.lat, lon: S.pos.lon } : {};
    if (s.kind === 'revisit') {
      await store.enqueue({ kind: 'revisit', revisit_id: s.revisit_id, case_id: s.case_id, client_id,
        body: Object.assign({ outcome: action, note: res.note || null, client_id }), summary: t('case_n', s.case_id) });
    } else {
      await store.enqueue({ kind: 'action', case_id: s.case_id, action, client_id,
        body: Object.assign({ note: res.note || null, client_id }, where), summary: t('case_n', s.case_id) });
    }
    for (const blob of res.photos) {
      await store.enqueue({ kind: 'photo', case_id: s.case_id, event_client_id: s.kind === 'revisit' ? null : client_id,
        blob, name: 'after.jpg', summary: t('case_n', s.case_id) });
    }
    S.pending[stopKey(s)] = action;
    await store.kv.put('pending', S.pending);
    toast(navigator.onLine ? t('saved') : t('saved_offline'));
    renderTasks();
    renderMap(false);
  }

  // ------------------------------------------------------------------------------------------ the sheet (dialog)

  function sheet(opts) {
    const dlg = $('sheet');
    $('sheet-title').textContent = opts.title;
    $('sheet-text').textContent = opts.text || '';
    $('sheet-note-label').hidden = !opts.note;
    $('sheet-note').value = '';
    $('sheet-note').placeholder = opts.notePlaceholder || '';
    $('sheet-photo-label').hidden = !opts.photos;
    $('sheet-error').textContent = '';
    const photos = [];
    $('sheet-thumbs').innerHTML = '';
    return new Promise((resolve) => {
      const input = $('sheet-photo');
      input.value = '';
      input.onchange = async () => {
        for (const f of input.files) {
          const blob = await downscale(f);
          photos.push(blob);
          $('sheet-thumbs').insertAdjacentHTML('beforeend', `<img alt="" src="${URL.createObjectURL(blob)}">`);
        }
        input.value = '';
      };
      const finish = (v) => { dlg.close(); $('sheet-form').onsubmit = null; $('sheet-cancel').onclick = null; resolve(v); };
      $('sheet-cancel').onclick = () => finish(null);
      $('sheet-form').onsubmit = (ev) => {
        ev.preventDefault();
        const note = $('sheet-note').value.trim();
        if (opts.noteRequired && !note) { $('sheet-error').textContent = opts.notePlaceholder; return; }
        finish({ note, photos });
      };
      dlg.showModal();
    });
  }

  /** Downscale a camera photo in the browser (longest side ≤ 1600 px, JPEG 0.82) before it is queued. */
  async function downscale(file, max = 1600, quality = 0.82) {
    let src;
    try {
      src = await createImageBitmap(file, { imageOrientation: 'from-image' });
    } catch (_) {
      src = await new Promise((resolve, reject) => {
        const img = new Image();
        img.onload = () => resolve(img);
        img.onerror = reject;
        img.src = URL.createObjectURL(file);
      });
    }
    const w = src.width, h = src.height, k = Math.min(1, max / Math.max(w, h));
    const canvas = document.createElement('canvas');
    canvas.width = Math.round(w * k);
    canvas.height = Math.round(h * k);
    canvas.getContext('2d').drawImage(src, 0, 0, canvas.width, canvas.height);
    return new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', quality));
  }

  // ------------------------------------------------------------------------------------------ report

  let pinMap = null, pinMarker = null;
  function initPinMap() {
    if (pinMap) { pinMap.invalidateSize(); return; }
    pinMap = L.map('pin-map', { zoomControl: true, attributionControl: false });
    const tiles = tileLayer();
    if (tiles) tiles.addTo(pinMap);
    if (S.today) L.geoJSON(S.today.grids, { style: { color: '#1565c0', weight: 2, fillOpacity: 0.03 },
      coordsToLatLng: (c) => toMap(c[1], c[0]) }).addTo(pinMap);
    const start = S.report.pin || S.pos || gridCentre();
    pinMarker = L.marker(start ? toMap(start.lat, start.lon) : [0, 0], { draggable: true, autoPan: true }).addTo(pinMap);
    pinMap.setView(pinMarker.getLatLng(), start ? 18 : 2);
    pinMarker.on('dragend', () => {
      S.report.pinByHand = true;
      S.report.pin = fromMap(pinMarker.getLatLng());
      renderPinInfo();
      renderNearBuildings();
    });
    pinMap.on('click', (e) => {
      pinMarker.setLatLng(e.latlng);
      S.report.pinByHand = true;
      S.report.pin = fromMap(e.latlng);
      renderPinInfo();
      renderNearBuildings();
    });
  }

  function gridCentre() {
    if (!S.today || !S.today.grids.features.length) return null;
    const b = L.geoJSON(S.today.grids).getBounds().getCenter();
    return { lat: b.lat, lon: b.lng };
  }

  function setPin(p, byHand) {
    S.report.pin = { lat: p.lat, lon: p.lon };
    S.report.pinByHand = byHand;
    if (pinMarker) {
      pinMarker.setLatLng(toMap(p.lat, p.lon));
      if (current === 'report') pinMap.setView(pinMarker.getLatLng(), Math.max(pinMap.getZoom(), 17));
    }
    if (current === 'report') { renderPinInfo(); renderNearBuildings(); }
  }

  function renderPinInfo() {
    const info = $('pin-info');
    if (!S.report.pin) info.textContent = t('gps_waiting');
    else if (S.report.pinByHand) info.textContent = t('pin_moved');
    else info.textContent = S.pos ? t('gps_acc', S.pos.acc) : '';
  }

  function renderCategories() {
    const q = $('cat-search').value.trim().toLowerCase();
    const chosen = S.report.category;
    $('cat-chosen').hidden = !chosen;
    if (chosen) {
      $('cat-chosen').innerHTML = `<b>${esc(catName(chosen))}</b> <small class="muted">${esc(chosen)}</small>
        <button type="button" class="small" id="cat-change">${esc(t('change'))}</button>`;
      $('cat-search').hidden = true;
      $('cat-list').innerHTML = '';
      return;
    }
    $('cat-search').hidden = false;
    let cats = categories();
    if (q) {
      cats = cats.filter((c) => (c.name_zh || '').includes(q) || (c.name_en || '').toLowerCase().includes(q) ||
        (c.initials || '').startsWith(q) || (c.pinyin || '').startsWith(q) || (c.major_zh || '').includes(q) ||
        c.code.toLowerCase() === q);
    }
    cats = cats.slice(0, q ? 30 : 12);
    $('cat-list').innerHTML = cats.map((c) => `<button type="button" class="chip" data-cat="${esc(c.code)}"
      title="${esc(c.initials || '')}">${esc(S.lang === 'en' ? c.name_en || c.name_zh : c.name_zh)}</button>`).join('') ||
      `<span class="muted">—</span>`;
  }

  function nearest(p, n, within) {
    if (!p) return [];
    return buildings().map((b) => ({ b, d: metres(p, b) })).filter((x) => x.d <= within)
      .sort((a, c) => a.d - c.d).slice(0, n);
  }

  function renderNearBuildings() {
    const near = nearest(S.report.pin, 5, 200);
    if (S.report.building && !near.some((x) => x.b.id === S.report.building)) S.report.building = null;
    $('near-buildings').innerHTML = near.map(({ b, d }) => `<label class="radio"><input type="radio" name="bld" value="${b.id}"
      ${S.report.building === b.id ? 'checked' : ''}><span>${esc(buildingLabel(b))}</span><small class="muted">${Math.round(d)} m</small></label>`).join('') +
      `<label class="radio"><input type="radio" name="bld" value="" ${S.report.building ? '' : 'checked'}><span>${esc(t('no_building'))}</span></label>`;
  }

  function renderPhotos() {
    $('photo-previews').innerHTML = S.report.photos.map((b, i) =>
      `<figure><img alt="" src="${URL.createObjectURL(b)}"><button type="button" class="x" data-rm="${i}">×</button></figure>`).join('');
  }

  async function submitReport(ev) {
    ev.preventDefault();
    const err = $('report-error');
    err.textContent = '';
    if (!S.report.category) { err.textContent = t('choose_category'); return; }
    if (!S.report.pin) { err.textContent = t('need_location'); return; }
    const client_id = store.uuid();
    const body = { client_id, category: S.report.category, lat: +S.report.pin.lat.toFixed(7), lon: +S.report.pin.lon.toFixed(7),
      crs: 'wgs84', description: $('report-note').value.trim() || null, building_id: S.report.building || null,
      floor: $('floor').value.trim() || null, unit_no: $('unit-no').value.trim() || null };
    await store.enqueue({ kind: 'case', client_id, body, summary: catName(S.report.category) });
    for (const blob of S.report.photos) {
      await store.enqueue({ kind: 'photo', case_client_id: client_id, blob, name: 'report.jpg', summary: catName(S.report.category) });
    }
    const used = categories().find((c) => c.code === S.report.category);
    if (used && S.today) {  // most used first, also offline
      used.uses = (used.uses || 0) + 1;
      S.today.categories.sort((a, b) => (b.uses || 0) - (a.uses || 0));
      await store.kv.put('today', S.today);
    }
    S.report = { category: null, photos: [], pin: S.pos ? { lat: S.pos.lat, lon: S.pos.lon } : null, pinByHand: false, building: null };
    $('report-form').reset();
    renderReport();
    toast(navigator.onLine ? t('saved') : t('saved_offline'));
  }

  function renderReport() {
    renderCategories();
    renderPhotos();
    renderPinInfo();
    renderNearBuildings();
  }

  // ------------------------------------------------------------------------------------------ visits

  async function renderVisits() {
    const q = $('visit-search').value.trim().toLowerCase();
    const today = S.today ? S.today.date : null;
    if (S.visits.date !== today) S.visits = { date: today, ids: [] };
    $('visit-count').textContent = t('visited_today', S.visits.ids.length);
    let list = buildings().map((b) => ({ b, d: S.pos ? metres(S.pos, b) : null }));
    if (q) list = list.filter(({ b }) => `${b.name || ''} ${b.address || ''} ${b.id}`.toLowerCase().includes(q));
    list.sort((a, c) => (a.d ?? 1e12) - (c.d ?? 1e12) || a.b.id - c.b.id);
    list = list.slice(0, 40);
    $('visit-list').innerHTML = list.map(({ b, d }) => {
      const seen = S.visits.ids.includes(b.id);
      return `<li class="card row"><div class="grow"><b>${esc(buildingLabel(b))}</b><div class="muted">${esc(t('households', b.households || 0))}
        ${d != null ? ` · ${Math.round(d)} m` : ''}</div></div>${seen ? `<span class="done">✓ ${esc(t('visited'))}</span>` : ''}
        <button type="button" class="small primary" data-visit="${b.id}">${esc(t('act_visit'))}</button></li>`;
    }).join('') || `<li class="empty">${esc(t('no_buildings'))}</li>`;
  }

  async function onVisitClick(ev) {
    const btn = ev.target.closest('[data-visit]');
    if (!btn) return;
    const id = +btn.dataset.visit;
    const b = buildings().find((x) => x.id === id);
    const res = await sheet({ title: `${t('act_visit')} · ${buildingLabel(b)}`, text: t('households', b.households || 0),
      note: true, notePlaceholder: t('note_ph'), photos: false });
    if (!res) return;
    const client_id = store.uuid();
    const body = { client_id, building_id: id, time: new Date().toISOString(), note: res.note || null };
    if (S.pos) Object.assign(body, { lat: S.pos.lat, lon: S.pos.lon });
    await store.enqueue({ kind: 'visit', client_id, body, patrol: S.patrol ? S.patrol.client_id : null, summary: buildingLabel(b) });
    S.visits.ids.push(id);
    await store.kv.put('visits', S.visits);
    toast(navigator.onLine ? t('saved') : t('saved_offline'));
    renderVisits();
  }

  // ------------------------------------------------------------------------------------------ outbox

  function kindLabel(item) {
    if (item.kind === 'fixes') return t('k_fixes', item.fixes ? item.fixes.length : 0);
    if (item.kind === 'action') return t(`act_${item.action}`);
    if (item.kind === 'revisit') return `${t('k_revisit')} · ${t(`act_${item.body.outcome}`)}`;
    return t(`k_${item.kind}`);
  }

  function renderSyncPill() {
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

  async function renderOutbox() {
    const [queue, problems] = await Promise.all([store.queued(), store.problems()]);
    $('problems-title').hidden = !problems.length;
    $('problem-list').innerHTML = problems.map((p) => {
      const msg = (p.error && (p.error.message || (p.error.error && p.error.error.message))) || `HTTP ${p.status}`;
      return `<li class="card problem"><div class="row"><b class="grow">${esc(kindLabel(p))} · ${esc(p.summary || '')}</b>
        <button type="button" class="small" data-dismiss="${p.seq}">${esc(t('dismiss'))}</button></div>
        ${p.status === 409 ? `<div>${esc(t('conflict'))}</div>` : ''}<div class="muted">${esc(t('refused'))}${esc(msg)}</div></li>`;
    }).join('');
    $('queue-list').innerHTML = queue.map((q) => `<li class="card"><div class="row"><b class="grow">${esc(kindLabel(q))}</b>
      <small class="muted">${esc(new Date(q.created_at).toLocaleTimeString())}</small></div>
      <div class="muted">${esc(q.summary || '')}${q.attempts ? ` · ${esc(t('attempts', q.attempts))}` : ''}${q.last_error ? ` · ${esc(q.last_error)}` : ''}</div></li>`).join('') ||
      (problems.length ? '' : `<li class="empty">${esc(t('queue_empty'))}</li>`);
  }

  // ------------------------------------------------------------------------------------------ screens

  let current = 'map';
  function route() {
    const name = (location.hash || '#map').slice(1);
    current = ['map', 'tasks', 'report', 'visit', 'sync'].includes(name) ? name : 'map';
    for (const s of document.querySelectorAll('.screen')) s.hidden = s.id !== `screen-${current}`;
    for (const a of document.querySelectorAll('.tabs a')) a.classList.toggle('active', a.dataset.tab === current);
    if (current === 'map' && map) setTimeout(() => { map.invalidateSize(); if (needFit) fitGrid(); }, 0);
    if (current === 'report') { setTimeout(initPinMap, 0); renderReport(); }
    if (current === 'visit') renderVisits();
    if (current === 'sync') renderOutbox();
    if (current === 'tasks') renderTasks();
  }

  function renderTexts() {
    document.documentElement.lang = S.lang === 'en' ? 'en' : 'zh-CN';
    for (const el of document.querySelectorAll('[data-t]')) el.textContent = t(el.dataset.t);
    for (const el of document.querySelectorAll('[data-tp]')) el.placeholder = t(el.dataset.tp);
    for (const el of document.querySelectorAll('.lang-toggle')) el.textContent = S.lang === 'en' ? '中' : 'EN';
    document.querySelector('#login .lang-toggle').textContent = t('lang_other');
  }

  function renderAll() {
    renderTexts();
    const d = S.today;
    if (d) {
      const g = d.grids.features.map((f) => f.properties.name || f.properties.code).join('、');
      $('grid-name').textContent = g || t('app_name');
      $('user-name').textContent = d.user ? d.user.display_name || d.user.username : '';
    }
    renderMap(!renderAll.fitted);
    if (d && !renderAll.fitted) renderAll.fitted = true;
    renderTasks();
    renderSyncPill();
    if (current === 'report') renderReport();
    if (current === 'visit') renderVisits();
    if (current === 'sync') renderOutbox();
  }

  let toastTimer = null;
  function toast(text) {
    const el = $('toast');
    el.textContent = text;
    el.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { el.hidden = true; }, 2500);
  }

  function showLogin() {
    $('shell').hidden = true;
    $('login').hidden = false;
    renderTexts();
  }

  let shellStarted = false;
  async function startShell() {
    $('login').hidden = true;
    $('shell').hidden = false;
    S.pending = (await store.kv.get('pending')) || {};
    S.visits = (await store.kv.get('visits')) || { date: null, ids: [] };
    S.patrol = (await store.kv.get('patrol')) || null;
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
        renderAll();
        renderOutbox();
      });
    }
    $('menu-btn').addEventListener('click', () => { $('menu').hidden = !$('menu').hidden; });
    $('logout-btn').addEventListener('click', () => { $('menu').hidden = true; logout(); });
    $('refresh-btn').addEventListener('click', () => { $('menu').hidden = true; loadToday(true); });
    $('sync-pill').addEventListener('click', () => { location.hash = '#sync'; });
    $('sync-now').addEventListener('click', () => { store.engine.failures = 0; store.engine.kick(); });
    $('patrol-btn').addEventListener('click', () => (S.patrol ? endPatrol() : startPatrol()));
    $('locate-btn').addEventListener('click', () => { if (S.pos) map.setView(toMap(S.pos.lat, S.pos.lon), 18); });
    $('task-list').addEventListener('click', onTaskClick);
    $('visit-list').addEventListener('click', onVisitClick);
    $('visit-search').addEventListener('input', renderVisits);
    $('cat-search').addEventListener('input', renderCategories);
    $('cat-list').addEventListener('click', (ev) => {
      const b = ev.target.closest('[data-cat]');
      if (!b) return;
      S.report.category = b.dataset.cat;
      $('cat-search').value = '';
      renderCategories();
    });
    $('cat-chosen').addEventListener('click', (ev) => {
      if (ev.target.id === 'cat-change') { S.report.category = null; renderCategories(); $('cat-search').focus(); }
    });
    $('photo-input').addEventListener('change', async (ev) => {
      for (const f of ev.target.files) S.report.photos.push(await downscale(f));
      ev.target.value = '';
      renderPhotos();
    });
    $('photo-previews').addEventListener('click', (ev) => {
      const b = ev.target.closest('[data-rm]');
      if (b) { S.report.photos.splice(+b.dataset.rm, 1); renderPhotos(); }
    });
    $('near-buildings').addEventListener('change', (ev) => { S.report.building = ev.target.value ? +ev.target.value : null; });
    $('pin-gps').addEventListener('click', () => { if (S.pos) setPin(S.pos, false); });
    $('report-form').addEventListener('submit', submitReport);
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
      if (current === 'sync') renderOutbox();
      const busy = S.counts.waiting > 0;
      if (wasBusy && !busy && store.engine.state === 'idle') loadToday(true);  // all sent: fetch the new day
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

  window.gridpatrolApp = {
    ready: null,
    state: S,
    store,
    counts: () => store.counts(),
    syncNow: () => { store.engine.failures = 0; return store.engine.run(); },
    engineState: () => store.engine.state,
  };
  window.gridpatrolApp.ready = main();
})();
