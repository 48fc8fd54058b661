/* gridpatrol field app (网格通) — the grid worker's phone: map of her grid and tasks, patrol with GPS, report with
 * photo, tasks in walking order with verify / rework, revisits, household visit check-in with the household and its
 * needs (民情台账), the visits and inspections due; inspections (#inspect) of a building, a shop (一户一码: #shop/<code>
 * is what the QR on its door opens) or a named place against a checklist defined as data, validated on the phone as
 * the server will. Offline first: the day's data is kept in IndexedDB (GP.store.kv "today"), an inspection being
 * filled in too ("inspect"), and every change goes through the outbox in store.js.
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
      // field surveys: inspections (隐患排查), shops (一户一码), household visits (走访) with needs (民情台账)
      tab_inspect: '检查', inspect: '检查', t_building: '楼栋', t_shop: '商户', t_place: '地点',
      pick_target: '检查对象', pick_checklist: '选择检查表', shop_search: '搜索商户名称或编码', scan: '扫码',
      scan_title: '扫描门口的二维码', scan_fail: '无法打开相机：请输入商户编码', place_name: '地点名称',
      place_ph: '如：XX 路工地、X 号楼消防通道', here: '当前位置', next: '下一步', need_place: '请填写地点名称',
      use_code: (c) => `按编码 ${c} 查找`, no_shops: '没有找到商户', no_checklists: '没有适用于此对象的检查表',
      items_n: (n) => `${n} 项`, every_days: (n) => `每 ${n} 天`, yes: '是', no: '否',
      will_fail: (n) => `将生成整改案件（${n} 天内整改）`, will_open_case: '将生成整改案件',
      fail_no_case: '不合格：记入检查记录（不生成案件）', required: '必填', photo_required: '必须拍照',
      not_number: '请输入数字', whole_number: '请输入整数', at_least: (v) => `不能小于 ${v}`, at_most: (v) => `不能大于 ${v}`,
      range: (a, b) => `范围 ${a}–${b}`, too_long: '内容过长', fix_items: (n) => `还有 ${n} 项需要处理`,
      submit_inspection: '提交检查', insp_note: '整体说明（可选）', insp_saved: (n, c) => (n ? `已提交：${n} 项不合格${c ? `，将生成 ${c} 个整改案件` : ''}` : '已提交：全部合格'),
      failing_n: (n) => `${n} 项不合格`, all_ok: '全部合格', last_at: (d) => `上次 ${d}`, never: '从未检查',
      k_inspection: '检查', k_inspection_photo: '检查照片', shop_code: '编码',
      inspect_shop: '开始检查', history: '检查记录', history_offline: '历史记录需联网', no_history: '还没有检查记录',
      shop_not_found: (c) => `没有找到编码为 ${c} 的商户：请核对门口二维码下的编码`,
      shop_unknown_offline: (c) => `本机没有编码为 ${c} 的商户，联网后再试`, open_findings: (n) => `${n} 个问题未整改`,
      loading: '加载中…', version: (v) => `第 ${v} 版`,
      visits_due: '走访到期', inspections_due: '待检查', days_overdue: (n) => (n > 0 ? `超期 ${n} 天` : '今天到期'),
      more_n: (n) => `还有 ${n} 项`, r_age: '高龄', r_disabled: '残疾', r_lives_alone: '独居', room: '室',
      household: '住户（可选）', no_household: '不指定住户', needs: '诉求（民情台账）', need_detail: '具体情况',
      add: '添加', need_type_first: '请先选择诉求类型', need_detail_first: '请填写诉求的具体情况',
      needs_need_household: '记录诉求需要选择住户', need_education: '教育', need_medical: '医疗', need_housing: '住房',
      need_jobs: '就业', need_elderly_care: '养老', need_other: '其他', needs_n: (n) => `${n} 条诉求`,
      visited_pending: '已走访，待发送', due_here: (n) => `${n} 户到期走访`, back: '返回', members: (n) => `${n} 人`,
      st_reported: '已上报', st_registered: '已立案', st_dispatched: '已派遣', st_accepted: '处置中', st_handled: '已处置',
      st_verified: '已核查', st_closed: '已结案', st_rejected: '不予立案', st_suspended: '缓办', st_duplicate: '重复',
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
      tab_inspect: 'Inspect', inspect: 'Inspect', t_building: 'Building', t_shop: 'Shop', t_place: 'Place',
      pick_target: 'What to inspect', pick_checklist: 'Choose a checklist', shop_search: 'Search shop name or code',
      scan: 'Scan', scan_title: 'Scan the QR code on the door', scan_fail: 'No camera: type the shop code',
      place_name: 'Place name', place_ph: 'e.g. building site on X road, fire lane of block 3', here: 'Current position',
      next: 'Next', need_place: 'Give the place a name',
      use_code: (c) => `Look up code ${c}`, no_shops: 'No shop found', no_checklists: 'No checklist fits this target',
      items_n: (n) => `${n} items`, every_days: (n) => `every ${n} days`, yes: 'Yes', no: 'No',
      will_fail: (n) => `will open a case, rectify within ${n} day${n > 1 ? 's' : ''}`, will_open_case: 'will open a case',
      fail_no_case: 'fails: recorded in the inspection, no case', required: 'Required',
      photo_required: 'A photo is required', not_number: 'Enter a number', whole_number: 'Enter a whole number',
      at_least: (v) => `At least ${v}`, at_most: (v) => `At most ${v}`, range: (a, b) => `Range ${a}–${b}`,
      too_long: 'Too long', fix_items: (n) => `${n} item${n > 1 ? 's' : ''} to complete`,
      submit_inspection: 'Submit inspection', insp_note: 'Overall note (optional)',
      insp_saved: (n, c) => (n ? `Submitted: ${n} failed${c ? `, ${c} case${c > 1 ? 's' : ''} will be opened` : ''}` : 'Submitted: all passed'),
      failing_n: (n) => `${n} failed`, all_ok: 'All passed', last_at: (d) => `Last ${d}`, never: 'Never inspected',
      k_inspection: 'Inspection', k_inspection_photo: 'Inspection photo', shop_code: 'Code',
      inspect_shop: 'Inspect this shop', history: 'Inspections', history_offline: 'History needs the network',
      no_history: 'No inspections yet',
      shop_not_found: (c) => `No shop has the code ${c}: check the code under the QR on the door`,
      shop_unknown_offline: (c) => `This phone knows no shop ${c}; try again when online`,
      open_findings: (n) => `${n} finding${n > 1 ? 's' : ''} not rectified`, loading: 'Loading…', version: (v) => `v${v}`,
      visits_due: 'Visits due', inspections_due: 'Inspections due',
      days_overdue: (n) => (n > 0 ? `${n} day${n > 1 ? 's' : ''} overdue` : 'due today'),
      more_n: (n) => `${n} more`, r_age: 'aged 80+', r_disabled: 'disabled', r_lives_alone: 'lives alone', room: 'Room',
      household: 'Household (optional)', no_household: 'No particular household', needs: 'Needs (register)',
      need_detail: 'Details', add: 'Add', need_type_first: 'Choose the type of need first',
      need_detail_first: 'Describe the need', needs_need_household: 'Choose a household to record needs',
      need_education: 'Education', need_medical: 'Medical', need_housing: 'Housing', need_jobs: 'Jobs',
      need_elderly_care: 'Elderly care', need_other: 'Other', needs_n: (n) => `${n} need${n > 1 ? 's' : ''}`,
      visited_pending: 'Visited, waiting to send', due_here: (n) => `${n} household${n > 1 ? 's' : ''} due`, back: 'Back', members: (n) => `${n} people`,
      st_reported: 'Reported', st_registered: 'Registered', st_dispatched: 'Dispatched', st_accepted: 'In hand',
      st_handled: 'Handled', st_verified: 'Verified', st_closed: 'Closed', st_rejected: 'Rejected',
      st_suspended: 'Suspended', st_duplicate: 'Duplicate',
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
    await store.kv.del('today');  // the day's data names residents due a visit: never left behind on the phone
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
        loadToday.failures = 0;
      } else if (r.status === 401) {
        showLogin();
      } else if (r.status >= 500 && (loadToday.failures = (loadToday.failures || 0) + 1) <= 3) {
        setTimeout(() => loadToday(true), 2000 * loadToday.failures);   // a server hiccup: the day is worth a retry
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
    if (current === 'tasks' && !renderDue.withPos) renderDue();   // nearest first once she has a position
    if (current === 'inspect' && S.insp && S.insp.step === 'target') {
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
    renderDue();
    if (!d) { list.innerHTML = `<li class="empty">${esc(t('no_data'))}</li>`; return; }
    const r = d.tasks;
    $('route-info').textContent = r && r.length_m ? t('route', r.length_m, Math.max(1, Math.round((r.eta_s || 0) / 60))) : '';
    if (!stops.length) {
      const dueToo = (d.visits_due || []).length + (d.inspections_due || []).length;
      list.innerHTML = dueToo ? '' : `<li class="empty">${esc(t('no_tasks'))}</li>`;
      return;
    }
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
    $('sheet-extra').innerHTML = '';
    $('sheet-extra').hidden = !opts.extra;
    if (opts.extra) opts.extra.render($('sheet-extra'));
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
        let extra = null;
        if (opts.extra) {
          const r = opts.extra.collect();
          if (r.error) { $('sheet-error').textContent = r.error; return; }
          extra = r.value;
        }
        finish({ note, photos, extra });
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
    // buildings with households due a visit first (重点人员关怀), then nearest
    const dueHere = {};
    const done = doneToday();
    for (const v of (S.today && S.today.visits_due) || []) {
      if (!done.households.includes(v.household_id)) dueHere[v.building_id] = (dueHere[v.building_id] || 0) + 1;
    }
    list.sort((a, c) => (dueHere[c.b.id] ? 1 : 0) - (dueHere[a.b.id] ? 1 : 0));
    list = list.slice(0, 40);
    $('visit-list').innerHTML = list.map(({ b, d }) => {
      const seen = S.visits.ids.includes(b.id);
      return `<li class="card row"><div class="grow"><b>${esc(buildingLabel(b))}</b><div class="muted">${esc(t('households', b.households || 0))}
        ${d != null ? ` · ${Math.round(d)} m` : ''}${dueHere[b.id] ? ` · <span class="tag red">${esc(t('due_here', dueHere[b.id]))}</span>` : ''}</div></div>
        ${seen ? `<span class="done">✓ ${esc(t('visited'))}</span>` : ''}
        <button type="button" class="small primary" data-visit="${b.id}">${esc(t('act_visit'))}</button></li>`;
    }).join('') || `<li class="empty">${esc(t('no_buildings'))}</li>`;
  }

  async function onVisitClick(ev) {
    const btn = ev.target.closest('[data-visit]');
    if (btn) await visitBuilding(+btn.dataset.visit, null);
  }

  /** The visit check-in sheet for a building, with the household visited (optional) and the needs raised. */
  async function visitBuilding(id, householdId) {
    const b = buildings().find((x) => x.id === id);
    if (!b) return;
    const res = await sheet({ title: `${t('act_visit')} · ${buildingLabel(b)}`, text: t('households', b.households || 0),
      note: true, notePlaceholder: t('note_ph'), photos: false, extra: visitExtra(id, householdId) });
    if (!res) return;
    const { household_id, needs } = res.extra;
    const client_id = store.uuid();
    const body = { client_id, building_id: id, time: new Date().toISOString(), note: res.note || null };
    if (household_id) body.household_id = household_id;
    if (needs.length) body.needs = needs;
    if (S.pos) Object.assign(body, { lat: S.pos.lat, lon: S.pos.lon });
    const due = household_id && ((S.today && S.today.visits_due) || []).find((v) => v.household_id === household_id);
    const summary = [buildingLabel(b), due ? `${due.room} ${due.head_name || ''}`.trim() : '',
      needs.length ? t('needs_n', needs.length) : ''].filter(Boolean).join(' · ');
    await store.enqueue({ kind: 'visit', client_id, body, patrol: S.patrol ? S.patrol.client_id : null, summary });
    if (S.visits.date !== (S.today ? S.today.date : null)) S.visits = { date: S.today ? S.today.date : null, ids: [] };
    S.visits.ids.push(id);
    await store.kv.put('visits', S.visits);
    if (household_id) {
      doneToday().households.push(household_id);
      await store.kv.put('done', S.done);
    }
    toast(navigator.onLine ? t('saved') : t('saved_offline'));
    if (current === 'visit') renderVisits();
    if (current === 'tasks') renderTasks();
  }

  // ------------------------------------------------------------------------------------------ field surveys: helpers

  /** A bilingual value ({zh, en}) in the current language; plain strings as they are. */
  function loc(v) {
    if (v == null) return '';
    if (typeof v === 'object') return (S.lang === 'en' ? v.en || v.zh : v.zh || v.en) || '';
    return String(v);
  }
  function shortDate(iso) {
    if (!iso) return '';
    return new Date(iso).toLocaleDateString(S.lang === 'en' ? 'en-GB' : 'zh-CN', { month: 'numeric', day: 'numeric' });
  }
  function checklists() { return (S.today && S.today.checklists) || []; }
  function shops() { return (S.today && S.today.shops) || []; }
  function shopByCode(code) { return shops().find((x) => x.code === code) || null; }
  const SHOP_CODE = /^S[0-9A-HJKMNP-TV-Z]{9}$/;
  /** The shop code in what a QR holds (…/app/#shop/<code>) or in what was typed, forgiving case, spaces, hyphens
   * and the usual confusions of Crockford's alphabet (O → 0, I/L → 1) as the server does. */
  function codeIn(text) {
    const s = String(text || '').trim();
    const m = s.match(/#shop\/([0-9A-Za-z-]+)/);
    const code = (m ? m[1] : s).toUpperCase().replace(/[\s-]/g, '');
    return code[0] === 'S' ? `S${code.slice(1).replace(/O/g, '0').replace(/[IL]/g, '1')}` : code;
  }
  function reasonLabel(r) {
    const key = { age: 'r_age', aged: 'r_age', elderly: 'r_age', old_age: 'r_age', disabled: 'r_disabled',
      disability: 'r_disabled', lives_alone: 'r_lives_alone', alone: 'r_lives_alone' }[r];
    return key ? t(key) : String(r);
  }
  /** Local marks of what she did today before the server's lists know it (kept across reloads). */
  function doneToday() {
    const day = S.today ? S.today.date : null;
    if (!S.done || (day && S.done.date && S.done.date !== day)) S.done = { date: day, inspected: [], households: [] };
    if (!S.done.date) S.done.date = day;
    return S.done;
  }
  function inspKey(code, target) {
    return `${code}|${target.building_id ? `b${target.building_id}` : target.shop_code ? `s${target.shop_code}` : `p${target.place_name}`}`;
  }

  // ------------------------------------------------------------------------------------------ checklist logic
  // Mirrors patrol/checklists.py so the worker sees a problem at the item before anything is queued.

  function condHolds(c, answers) {
    if (!c) return true;
    const v = answers[c.item];
    if (v === undefined) return false;
    if (Object.prototype.hasOwnProperty.call(c, 'equals')) return v === c.equals;
    if (Array.isArray(c.in)) return c.in.includes(v);
    return false;
  }

  /** An answer the server accepts for its item (only those count for the conditions of later items). */
  function validAnswer(it, v) {
    if (v === undefined || v === null || v === '') return false;
    if (it.type === 'yesno') return typeof v === 'boolean';
    if (it.type === 'choice') return (it.options || []).some((o) => o.value === v);
    if (it.type === 'number') {
      return typeof v === 'number' && Number.isFinite(v) && (!it.integer || Number.isInteger(v)) &&
        (it.min == null || v >= it.min) && (it.max == null || v <= it.max);
    }
    return true;
  }

  /** Which items show and which are required with the answers given; answers to hidden items are dropped. */
  function evaluate(defn, answers) {
    const out = {}, kept = {};
    for (const it of defn.items) {
      const shown = !it.show_if || condHolds(it.show_if, kept);
      const base = typeof it.required === 'boolean' ? it.required : ['yesno', 'choice', 'number'].includes(it.type);
      const required = shown && (base || (!!it.required_if && condHolds(it.required_if, kept)));
      if (shown && validAnswer(it, answers[it.id])) kept[it.id] = answers[it.id];
      out[it.id] = { shown, required, fails: shown && itemFails(it, answers[it.id]) };
    }
    return { items: out, answers: kept };
  }

  function itemFails(it, v) {
    if (!it.fail || !validAnswer(it, v)) return false;
    if (it.type === 'yesno') return v !== (it.pass === undefined ? true : it.pass);
    if (it.type === 'choice') return (it.fail_values || []).includes(v);
    if (it.type === 'number' && it.fail_if && typeof v === 'number') {
      const f = it.fail_if;
      return (f.gt != null && v > f.gt) || (f.ge != null && v >= f.ge) || (f.lt != null && v < f.lt) || (f.le != null && v <= f.le);
    }
    return false;
  }

  /** {item id: problem} — missing required answers and photos, numbers that are no numbers or out of range. */
  function problemsOf(defn, draft) {
    const ev = evaluate(defn, draft.answers);
    const out = {};
    for (const it of defn.items) {
      const e = ev.items[it.id];
      if (!e.shown) continue;
      const v = draft.answers[it.id];
      if (it.type === 'number') {
        const raw = (draft.raw[it.id] || '').trim();
        if (raw && typeof v !== 'number') { out[it.id] = t('not_number'); continue; }
        if (typeof v === 'number') {
          if (it.integer && !Number.isInteger(v)) { out[it.id] = t('whole_number'); continue; }
          if (it.min != null && v < it.min) { out[it.id] = t('at_least', it.min); continue; }
          if (it.max != null && v > it.max) { out[it.id] = t('at_most', it.max); continue; }
        }
      }
      if (it.type === 'note' && typeof v === 'string' && v.length > 2000) { out[it.id] = t('too_long'); continue; }
      if (!e.required) continue;
      if (it.type === 'photo') {
        if (!(draft.photos[it.id] || []).length) out[it.id] = t('photo_required');
      } else if (v === undefined || v === '') {
        out[it.id] = t('required');
      }
    }
    return out;
  }

  // ------------------------------------------------------------------------------------------ inspect screen

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
      return b && (b.name || b.address) ? `${t('t_building')} · ${buildingLabel(b)}` : buildingLabel(b || { id: tg.building_id });
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
  function renderInspect() {
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

  function renderInspBuildings() {
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
    if (q) list = list.filter(({ x }) => x.code === code || `${x.name} ${x.code} ${x.kind || ''}`.toLowerCase().includes(q));
    list.sort((a, c) => (a.d ?? 1e12) - (c.d ?? 1e12) || a.x.name.localeCompare(c.x.name));
    const byCode = SHOP_CODE.test(code) && !shopByCode(code) ?
      `<li class="card row" data-shop-code="${esc(code)}"><b class="grow">${esc(t('use_code', code))}</b><span class="chev">›</span></li>` : '';
    $('insp-s-list').innerHTML = byCode + (list.slice(0, 30).map(({ x, d }) => `<li class="card row" data-shop="${esc(x.code)}">
      <div class="grow"><b>${esc(x.name)}</b> <small class="muted">${esc(x.code)}</small><div class="muted">${esc(x.kind || '')}
      ${d != null ? ` · ${Math.round(d)} m` : ''} · ${esc(x.last_inspection_at ? t('last_at', shortDate(x.last_inspection_at)) : t('never'))}
      ${x.open_findings ? ` · <span class="tag red">${esc(t('open_findings', x.open_findings))}</span>` : ''}</div></div>
      <span class="chev">›</span></li>`).join('') || (byCode ? '' : `<li class="empty">${esc(t('no_shops'))}</li>`));
  }

  function renderPlacePos() {
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
  async function startInspection(tg, checklistId) {
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
    const problems = d.tried ? problemsOf(d.defn, d) : {};
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

  // ------------------------------------------------------------------------------------------ QR scanning

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

  // ------------------------------------------------------------------------------------------ a shop (#shop/<code>)

  let shopSeq = 0;
  async function renderShop() {
    const code = S.shopCode || '';
    const seq = ++shopSeq;
    const cached = shopByCode(code);
    const view = $('shop-view');
    const head = (sh) => {
      const b = sh.building_id ? buildings().find((x) => x.id === sh.building_id) : null;
      return `<div class="card"><h2>${esc(sh.name)}</h2><div class="muted">${esc(t('shop_code'))} <b class="code">${esc(sh.code)}</b>
        ${sh.kind ? ` · ${esc(sh.kind)}` : ''}${b ? ` · ${esc(buildingLabel(b))}` : ''}</div>
        <div class="muted">${esc(sh.last_inspection_at ? t('last_at', shortDate(sh.last_inspection_at)) : t('never'))}
        ${sh.open_findings ? ` · <span class="tag red">${esc(t('open_findings', sh.open_findings))}</span>` : ''}</div>
        <button type="button" class="primary big" id="shop-inspect" data-code="${esc(sh.code)}">${esc(t('inspect_shop'))}</button></div>`;
    };
    if (!SHOP_CODE.test(code) && !cached) {
      view.innerHTML = `<p class="card problem">${esc(t('shop_not_found', code))}</p>`;
      return;
    }
    view.innerHTML = (cached ? head(cached) : '') + `<h3 class="section">${esc(t('history'))}</h3>
      <p class="muted" id="shop-history-state">${esc(navigator.onLine ? t('loading') : t('history_offline'))}</p>`;
    if (!navigator.onLine) {
      if (!cached) view.innerHTML = `<p class="card problem">${esc(t('shop_unknown_offline', code))}</p>`;
      return;
    }
    let r;
    try { r = await api(`/api/v1/shops/${encodeURIComponent(code)}`); } catch (_) { r = null; }
    if (seq !== shopSeq || current !== 'shop') return;
    if (!r) {
      if (cached) $('shop-history-state').textContent = t('history_offline');
      else view.innerHTML = `<p class="card problem">${esc(t('shop_unknown_offline', code))}</p>`;
      return;
    }
    if (r.status === 404 || r.status === 422) {
      view.innerHTML = `<p class="card problem">${esc(t('shop_not_found', code))}</p>`;
      return;
    }
    if (r.status !== 200) {
      let msg = `HTTP ${r.status}`;
      try { msg = (await r.json()).message || msg; } catch (_) { /* not JSON */ }
      view.innerHTML = (cached ? head(cached) : '') + `<p class="card problem">${esc(t('refused'))}${esc(msg)}</p>`;
      return;
    }
    const data = await r.json();
    const sh = Object.assign({}, cached || {}, data.shop || data);
    const rows = (data.inspections || []).map((i) => {
      const c = checklists().find((x) => x.code === i.checklist || x.id === i.checklist_id);
      const title = i.title ? loc(i.title) : c ? loc(c.title) : loc(i.checklist);
      const findings = (i.findings || []).map((f) => `<li><span class="grow">✗ ${esc(loc(f.text) || f.item)}</span>
        ${f.case_id ? `<span class="muted">${esc(t('case_n', f.case_id))}</span>` : ''}
        ${f.case_status ? `<span class="tag ${f.case_status === 'closed' ? '' : 'red'}">${esc(t(`st_${f.case_status}`))}</span>` : ''}</li>`).join('');
      return `<li class="card" data-inspection="${i.id}"><div class="row"><b class="grow">${esc(title)}</b>
        <small class="muted">${esc(i.version ? t('version', i.version) : '')}</small></div>
        <div class="row"><span class="muted grow">${esc(new Date(i.at).toLocaleString(S.lang === 'en' ? 'en-GB' : 'zh-CN'))}</span>
        <span class="tag ${i.failed ? 'red' : 'ok'}">${esc(i.failed ? t('failing_n', i.failed) : t('all_ok'))}</span></div>
        ${findings ? `<ul class="findings">${findings}</ul>` : ''}</li>`;
    }).join('');
    view.innerHTML = head(sh) + `<h3 class="section">${esc(t('history'))}</h3>` +
      (rows ? `<ul class="cards" id="shop-history">${rows}</ul>` : `<p class="muted">${esc(t('no_history'))}</p>`);
    S.shopSeen = sh;
  }

  async function onShopClick(ev) {
    const b = ev.target.closest('#shop-inspect');
    if (!b) return;
    await startInspection({ type: 'shop', shop_code: b.dataset.code });
  }

  // ------------------------------------------------------------------------------------------ due lists (tasks)

  function renderDue() {
    const d = S.today;
    const done = doneToday();
    const visits = (d && d.visits_due) || [];
    $('due-visits-title').hidden = !visits.length;
    $('due-visits').innerHTML = visits.map((v) => {
      const b = buildings().find((x) => x.id === v.building_id);
      const seen = done.households.includes(v.household_id);
      const people = (v.residents || []).map((r) => `<div class="person"><b>${esc(r.name)}</b>
        ${(r.reasons || []).map((x, k) => `<span class="tag reason">${esc(r.reason_labels && r.reason_labels[k] ?
          loc(r.reason_labels[k]) : reasonLabel(x))}</span>`).join('')}
        ${r.phone ? `<span class="muted">${esc(r.phone)}</span>` : ''}</div>`).join('');
      return `<li class="card due-visit${v.days_overdue > 0 && !seen ? ' overdue' : ''}" data-household="${v.household_id}">
        <div class="row"><b class="grow">${esc(b ? buildingLabel(b) : `#${v.building_id}`)} · ${esc(v.room)}${S.lang === 'en' ? '' : esc(t('room'))}
        ${v.head_name ? ` · ${esc(v.head_name)}` : ''}</b>
        ${seen ? `<span class="done">✓ ${esc(t('visited_pending'))}</span>` :
          `<span class="tag ${v.days_overdue > 0 ? 'red' : ''}">${esc(t('days_overdue', v.days_overdue || 0))}</span>`}</div>
        ${people}
        ${seen ? '' : `<div class="row actions"><button type="button" class="small primary" data-visit-household="${v.household_id}">${esc(t('act_visit'))}</button></div>`}</li>`;
    }).join('');
    let insp = ((d && d.inspections_due) || []).map((x) => ({ x, dist: S.pos && x.lat != null ? metres(S.pos, x) : null }));
    insp = insp.filter(({ x }) => !done.inspected.includes(inspKey(x.checklist_code,
      { building_id: x.target === 'building' ? x.building_id : null, shop_code: x.shop_code,
        place_name: x.place_name || x.name })));
    if (S.pos) insp.sort((a, c) => (a.dist ?? 1e12) - (c.dist ?? 1e12));   // walking order; else the server's: most overdue
    $('due-insp-title').hidden = !insp.length;
    const shown = insp.slice(0, 20);
    $('due-inspections').innerHTML = shown.map(({ x, dist }, k) => {
      const b = x.building_id ? buildings().find((y) => y.id === x.building_id) : null;
      const name = x.target === 'building' && b ? buildingLabel(b) : x.name || x.shop_code || '';
      const target = x.target === 'building' ? `b${x.building_id}` : x.target === 'shop' ? `s${x.shop_code}` : `p${x.place_name || x.name}`;
      return `<li class="card row due-insp" data-due="${k}" data-target="${esc(target)}" data-checklist-code="${esc(x.checklist_code)}">
        <div class="grow"><b>${esc(name)}</b>
        <div class="muted">${esc(loc(x.title))}${dist != null ? ` · ${Math.round(dist)} m` : ''} ·
        ${esc(x.last_at ? t('last_at', shortDate(x.last_at)) : t('never'))}</div></div>
        ${x.days_overdue > 0 ? `<span class="tag red">${esc(t('days_overdue', x.days_overdue))}</span>` : ''}
        <button type="button" class="small primary" data-due="${k}">${esc(t('inspect'))}</button></li>`;
    }).join('') + (insp.length > shown.length ? `<li class="empty">${esc(t('more_n', insp.length - shown.length))}</li>` : '');
    renderDue.shown = shown.map(({ x }) => x);
    renderDue.withPos = !!S.pos;
  }

  async function onDueClick(ev) {
    const hh = ev.target.closest('[data-visit-household]');
    if (hh) {
      const v = ((S.today && S.today.visits_due) || []).find((x) => x.household_id === +hh.dataset.visitHousehold);
      if (v) await visitBuilding(v.building_id, v.household_id);
      return;
    }
    const due = ev.target.closest('[data-due]');
    if (due) {
      const x = (renderDue.shown || [])[+due.dataset.due];
      if (!x) return;
      const tg = x.target === 'shop' ? { type: 'shop', shop_code: x.shop_code } : x.target === 'building' ?
        { type: 'building', building_id: x.building_id } :
        { type: 'place', place_name: x.place_name || x.name, lon: x.lon, lat: x.lat };
      const c = checklists().find((y) => y.id === x.checklist_id) || checklists().find((y) => y.code === x.checklist_code);
      await startInspection(tg, c ? c.id : null);
    }
  }

  // ------------------------------------------------------------------------------------------ visit: household, needs

  const NEED_TYPES = ['education', 'medical', 'housing', 'jobs', 'elderly_care', 'other'];

  /** The household and needs part of the visit sheet: households due here (known offline), all of the building's
   * households when online; needs as {type, detail} items, several per visit. */
  function visitExtra(buildingId, householdId) {
    const st = { household: householdId || null, needs: [], type: null, list: [] };
    for (const v of (S.today && S.today.visits_due) || []) {
      if (v.building_id === buildingId) st.list.push({ id: v.household_id, room: v.room, head_name: v.head_name, due: v });
    }
    let el = null;
    const draw = () => {
      el.querySelector('#vx-hh').innerHTML = [{ id: null }, ...st.list].map((h) => `<label class="radio">
        <input type="radio" name="vx-hh" value="${h.id == null ? '' : h.id}" ${st.household === h.id ? 'checked' : ''}>
        <span>${h.id == null ? esc(t('no_household')) : `${esc(h.room)}${S.lang === 'en' ? '' : esc(t('room'))}${h.head_name ? ` · ${esc(h.head_name)}` : ''}`}</span>
        ${h.due ? `<small class="tag red">${esc(t('days_overdue', h.due.days_overdue || 0))}</small>` : ''}</label>`).join('');
      el.querySelector('#vx-types').innerHTML = NEED_TYPES.map((x) => `<button type="button" class="chip${st.type === x ? ' on' : ''}"
        data-need="${x}">${esc(t(`need_${x}`))}</button>`).join('');
      el.querySelector('#vx-needs').innerHTML = st.needs.map((n, k) => `<li class="row"><span class="tag">${esc(t(`need_${n.type}`))}</span>
        <span class="grow">${esc(n.detail)}</span><button type="button" class="small" data-rm-need="${k}">×</button></li>`).join('');
    };
    const add = () => {
      const detail = el.querySelector('#vx-detail').value.trim();
      if (!st.type) return t('need_type_first');
      if (!detail) return t('need_detail_first');
      st.needs.push({ type: st.type, detail });
      st.type = null;
      el.querySelector('#vx-detail').value = '';
      draw();
      return null;
    };
    return {
      render(container) {
        el = container;
        const owner = store.uuid();   // a later sheet reuses the container: a late answer must not draw into it
        container.dataset.owner = owner;
        el.innerHTML = `<fieldset><legend>${esc(t('household'))}</legend><div id="vx-hh" class="radios"></div></fieldset>
          <fieldset><legend>${esc(t('needs'))}</legend><div id="vx-types" class="chips"></div>
          <div class="row"><input id="vx-detail" class="grow" maxlength="2000" placeholder="${esc(t('need_detail'))}">
          <button type="button" class="small" id="vx-add">${esc(t('add'))}</button></div><ul id="vx-needs" class="needs"></ul></fieldset>`;
        el.onclick = (ev) => {
          const ty = ev.target.closest('[data-need]');
          if (ty) { st.type = ty.dataset.need; draw(); return; }
          const rm = ev.target.closest('[data-rm-need]');
          if (rm) { st.needs.splice(+rm.dataset.rmNeed, 1); draw(); return; }
          if (ev.target.closest('#vx-add')) $('sheet-error').textContent = add() || '';
        };
        el.onchange = (ev) => {
          if (ev.target.name === 'vx-hh') st.household = ev.target.value ? +ev.target.value : null;
        };
        draw();
        if (navigator.onLine) {
          api(`/api/v1/households?building_id=${buildingId}`).then(async (r) => {
            if (r.status !== 200 || container.dataset.owner !== owner) return;
            for (const h of await r.json()) {
              if (!st.list.some((x) => x.id === h.id)) st.list.push({ id: h.id, room: h.room, head_name: h.head_name });
            }
            if (container.dataset.owner === owner) draw();
          }).catch(() => { /* offline after all: the due households are enough */ });
        }
      },
      collect() {
        if (el.querySelector('#vx-detail').value.trim() || st.type) {
          const err = add();
          if (err) return { error: err };
        }
        if (st.needs.length && !st.household) return { error: t('needs_need_household') };
        return { value: { household_id: st.household, needs: st.needs.slice() } };
      },
    };
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
        ${p.status === 409 && (p.kind === 'action' || p.kind === 'revisit') ? `<div>${esc(t('conflict'))}</div>` : ''}<div class="muted">${esc(t('refused'))}${esc(msg)}</div>
        ${p.error && Array.isArray(p.error.details) ? `<ul class="details">${p.error.details.map((x) => `<li>${esc(x)}</li>`).join('')}</ul>` : ''}</li>`;
    }).join('');
    $('queue-list').innerHTML = queue.map((q) => `<li class="card"><div class="row"><b class="grow">${esc(kindLabel(q))}</b>
      <small class="muted">${esc(new Date(q.created_at).toLocaleTimeString())}</small></div>
      <div class="muted">${esc(q.summary || '')}${q.attempts ? ` · ${esc(t('attempts', q.attempts))}` : ''}${q.last_error ? ` · ${esc(q.last_error)}` : ''}</div></li>`).join('') ||
      (problems.length ? '' : `<li class="empty">${esc(t('queue_empty'))}</li>`);
  }

  // ------------------------------------------------------------------------------------------ screens

  let current = 'map';
  function route() {
    const raw = (location.hash || '#map').slice(1);
    const name = raw.split('/')[0];
    if (name === 'shop') S.shopCode = codeIn(decodeURIComponent(raw.slice(5)));
    current = ['map', 'tasks', 'report', 'visit', 'sync', 'inspect', 'shop'].includes(name) ? name : 'map';
    const tab = current === 'shop' ? 'inspect' : current;
    for (const s of document.querySelectorAll('.screen')) s.hidden = s.id !== `screen-${current}`;
    for (const a of document.querySelectorAll('.tabs a')) a.classList.toggle('active', a.dataset.tab === tab);
    if (current === 'inspect') renderInspect();
    if (current === 'shop') renderShop();
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
    if (current === 'inspect') renderInspect();
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
        formKey = null;   // the inspection form is drawn again in the other language, answers kept
        renderAll();
        if (current === 'shop') renderShop();
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
    $('due-visits').addEventListener('click', onDueClick);
    $('due-inspections').addEventListener('click', onDueClick);
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
    $('shop-view').addEventListener('click', onShopClick);
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
