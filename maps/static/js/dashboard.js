// The supervisor dashboard: reads /api/v1/analytics/* with the logged-in token and draws cards, a ranking, links.
// A classic script (maps/dashboard.py loads it after its inline configuration); HTML escaping comes from the shared
// ES module /static/js/html.js, imported before anything is drawn or any control is listened to.
(function () {
  "use strict";
  let esc = null;  // html.js esc(text): & < > " ' escaped
  const G = window.GRIDPATROL, T = G.labels;
  const token = localStorage.getItem("gridpatrol.token");
  const form = document.getElementById("filters");
  const status = document.getElementById("status");
  const CARDS = ["received", "closed", "closure_rate", "on_time_rate", "satisfaction_rate", "rework_rate",
                 "overdue_now", "settled_in_grid_rate"];
  const RATES = new Set(["closure_rate", "on_time_rate", "satisfaction_rate", "rework_rate", "settled_in_grid_rate",
                         "response_rate", "resolution_rate", "satisfied_order_rate", "rated_satisfaction_rate"]);
  // 接诉即办: the residents' orders (patrol.analytics.responsiveness); the cards, then the table per community / grid
  const R_CARDS = ["orders", "response_rate", "resolution_rate", "satisfied_order_rate", "rated_satisfaction_rate",
                   "composite"];
  const state = {ready: null, loads: 0};
  let me = {role: null};  // /api/v1/auth/me: a 街道 user (subdistrict) ranks her communities, not grids
  window.gridpatrolDashboard = state;

  async function api(path) {
    const lang = (document.documentElement.lang || "").startsWith("en") ? "en" : "zh";
    const headers = {"Accept-Language": lang};
    if (token) headers.Authorization = "Bearer " + token;
    const r = await fetch(path, {headers: headers});
    if (r.status === 401) { location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search); }
    if (!r.ok) { const j = await r.json().catch(() => ({})); throw new Error(j.message || r.statusText); }
    return r.json();
  }
  function local(d) { return d.toISOString().slice(0, 10); }
  function preset(name) {
    const now = new Date(), y = now.getFullYear(), m = now.getMonth();
    // the default, as on the map pages: the last 30 days, today included (a month's first days say little)
    const start = name === "last_month" ? new Date(Date.UTC(y, m - 1, 1))
      : name === "last_30" ? new Date(Date.UTC(y, m, now.getDate() - 29)) : new Date(Date.UTC(y, m, 1));
    const end = name === "last_month" ? new Date(Date.UTC(y, m, 1)) : new Date(Date.UTC(y, m, now.getDate() + 1));
    form.start.value = local(start); form.end.value = local(end);
  }
  function params(extra) {
    const p = new URLSearchParams();
    for (const k of ["subdistrict", "community", "grid", "category", "channel", "start", "end"]) {
      if (form[k].value) p.set(k, form[k].value);
    }
    for (const [k, v] of Object.entries(extra || {})) p.set(k, v);
    return p;
  }
  function fmt(key, v) {
    if (v === null || v === undefined) return "—";
    if (key === "composite") return Number(v).toFixed(1);
    return RATES.has(key) ? (v * 100).toFixed(1) + "%" : String(v);
  }
  // a trend line needs at least 3 months to say anything (2 points draw a slash): else last month's figure
  function spark(key, values) {
    const xs = values.map((v) => (v === null || v === undefined ? null : Number(v)));
    const ok = xs.filter((v) => v !== null);
    if (ok.length < 3) {
      const prev = xs.length >= 2 ? xs[xs.length - 2] : null;
      return prev === null ? "" : `<small class="prev" data-prev>${esc(T.prev)} ${fmt(key, prev)}</small>`;
    }
    const lo = Math.min(...ok), hi = Math.max(...ok), w = 90, h = 24;
    const pts = xs.map((v, i) => v === null ? null :
      [(i / (xs.length - 1)) * w, h - 2 - ((v - lo) / ((hi - lo) || 1)) * (h - 4)]).filter(Boolean);
    return `<svg class="spark" width="${w}" height="${h}" aria-label="${esc(T.trend)}"><polyline fill="none" ` +
      `stroke="currentColor" stroke-width="1.5" points="${pts.map((p) => p.join(",")).join(" ")}"/></svg>`;
  }

  function drawCards(row, trend) {
    const warn = row.warnings || {};
    document.getElementById("cards").innerHTML = CARDS.map((k) => {
      const colour = warn[k] || "none";
      const sub = RATES.has(k) ? `<small>${fmt("n", row[k + "_num"])} ${T.of} ${fmt("n", row[k + "_den"])}</small>` : "";
      const focus = FOCUS[form.status.value] === k ? " focus" : "";
      return `<div class="card ${colour}${focus}" data-kpi="${k}" title="${esc(T[colour] || "")}"><span>${esc(T[k])}</span>` +
        `<strong>${fmt(k, row[k])}</strong>${sub}${spark(k, trend.map((t) => t[k]))}</div>`;
    }).join("");
  }
  // the ranking: a 街道 user's communities, or the communities of the subdistrict an admin chose; else grids
  function rankBy() {
    const wide = me.role === "subdistrict" || (form.subdistrict.value && !form.community.value);
    return wide && !form.grid.value ? "community" : "grid";
  }
  // the status filter: the ranking lists only the grids (communities) with such cases, the matching card is marked
  const FOCUS = {open: "open_now", overdue: "overdue_now", closed: "closed"};
  const KEEP = {open: (r) => (r.open_now ?? 0) > 0, overdue: (r) => (r.overdue_now ?? 0) > 0,
                closed: (r) => (r.closed ?? 0) > 0};
  function drawTable(all) {
    document.getElementById("ranking").textContent = rankBy() === "community" ? T.communities : T.grids;
    const keep = KEEP[form.status.value];
    const rows = keep ? all.filter(keep) : all;
    const note = document.getElementById("status-note");
    note.hidden = !keep;
    note.textContent = keep ? T["only_" + form.status.value].replace("{n}", rows.length).replace("{of}", all.length)
      : "";
    rows.sort((a, b) => (b.overdue_now ?? 0) - (a.overdue_now ?? 0) ||
      (a.satisfaction_rate ?? 2) - (b.satisfaction_rate ?? 2));
    document.querySelector("#table tbody").innerHTML = rows.map((r) =>
      `<tr class="${r.warning}"><td>${esc(r.code)}</td><td>${esc(r.name)}</td><td>${r.received}</td>` +
      `<td>${r.closed}</td><td>${fmt("on_time_rate", r.on_time_rate)}</td>` +
      `<td>${fmt("satisfaction_rate", r.satisfaction_rate)}</td><td>${r.overdue_now ?? "—"}</td>` +
      `<td>${r.urges ?? 0}</td>` +
      `<td><span class="dot ${r.warning}"></span>${esc(T[r.warning] || r.warning)}</td></tr>`).join("");
  }
  const OPEN = "reported,registered,dispatched,accepted,handled,verified,suspended";
  function drawLinks() {
    const p = params(), cases = new URLSearchParams(p);
    cases.delete("start"); cases.delete("end");
    const st = form.status.value;  // the maps and downloads of cases follow the status filter (KPIs count all)
    if (st === "open") cases.set("status", OPEN);
    else if (st === "closed") cases.set("status", "closed");
    else if (st === "overdue") cases.set("overdue", "true");
    if (p.get("start")) cases.set("since", p.get("start") + "T00:00:00+08:00");
    if (p.get("end")) cases.set("until", p.get("end") + "T00:00:00+08:00");
    const q = (u) => (u.toString() ? "?" + u.toString() : "");
    const lang = new URLSearchParams({lang: G.lang});
    const heat = new URLSearchParams(p);
    if (st) heat.set("status", st);
    const maps = [["cases_map", "/maps/cases", cases], ["heat", "/maps/heat", heat], ["hotspots", "/maps/hotspots", p],
                  ["coverage", "/maps/coverage", p], ["grids_map", "/maps/grids", p]];
    document.querySelector("#links ul").innerHTML = maps.map(([k, path, u]) => {
      const v = new URLSearchParams(u); for (const [a, b] of lang) v.set(a, b);
      return `<li><a href="${path}${q(v)}" data-map="${k}">${esc(T[k])}</a></li>`;
    }).join("");
    const kpi = params({by: rankBy(), format: "csv"});
    const dl = [["kpi_csv", "/api/v1/analytics/kpis" + q(kpi)]];
    const rp = residentParams({by: rankBy(), format: "csv"});
    if (rp) dl.push(["r_csv", "/api/v1/kpis/responsiveness" + q(rp)]);
    for (const f of ["csv", "geojson", "gpkg"]) {
      const u = new URLSearchParams(cases); u.set("format", f);
      dl.push(["cases_" + f, "/api/v1/cases/export" + q(u)]);
    }
    document.getElementById("downloads").innerHTML = dl.map(([k, href]) =>
      `<li><a href="${href}" data-download="${k}" download>${esc(T[k])}</a></li>`).join("");
  }

  // the filters for the 接诉即办 rates: the residents' channels among those chosen (null: none of them chosen)
  function residentParams(extra) {
    const p = params(extra), chosen = (form.channel.value || "").split(",").filter(Boolean);
    if (!chosen.length) return p;
    const kept = chosen.filter((c) => G.resident_channels.includes(c));
    if (!kept.length) return null;
    p.set("channel", kept.join(","));
    return p;
  }
  function cell(k, r) {
    const c = (r.warnings || {})[k];
    return `<td class="${c ? "c-" + c : ""}">${fmt(k, r[k])}</td>`;
  }
  function drawResponsiveness(overall, rows) {
    const rs = document.getElementById("r-status");
    const cards = document.getElementById("r-cards"), body = document.querySelector("#r-table tbody");
    if (!overall) {
      rs.textContent = T.r_none; cards.innerHTML = ""; body.innerHTML = ""; return;
    }
    const w = overall.weights || {};
    document.getElementById("r-note").textContent = T.r_note.replace("{h}", overall.response_hours)
      .replace("{w1}", Math.round((w.response || 0) * 100)).replace("{w2}", Math.round((w.resolution || 0) * 100))
      .replace("{w3}", Math.round((w.satisfaction || 0) * 100))
      .replace("{sat}", overall.satisfaction === "orders" ? T.r_sat_orders : T.r_sat_rated);
    const row = overall.rows[0];
    rs.textContent = row.orders ? "" : T.r_empty;
    cards.innerHTML = R_CARDS.map((k) => {
      const colour = (row.warnings || {})[k] || "none";
      const sub = RATES.has(k) ? `<small>${fmt("n", row[k + "_num"])} ${T.of} ${fmt("n", row[k + "_den"])}</small>` : "";
      return `<div class="card ${colour}" data-rate="${k}" title="${esc(T[colour] || "")}"><span>${esc(T[k])}</span>` +
        `<strong>${fmt(k, row[k])}</strong>${sub}</div>`;
    }).join("");
    const list = rows.filter((r) => r.orders > 0);
    list.sort((a, b) => (a.composite ?? 101) - (b.composite ?? 101) || b.orders - a.orders);
    body.innerHTML = list.map((r) =>
      `<tr class="${r.warning}"><td>${esc(r.code)}</td><td>${esc(r.name)}</td><td>${r.orders}</td>` +
      ["response_rate", "resolution_rate", "satisfied_order_rate", "rated_satisfaction_rate", "composite"]
        .map((k) => cell(k, r)).join("") +
      `<td><span class="dot ${r.warning}"></span>${esc(T[r.warning] || r.warning)}</td></tr>`).join("");
  }
  function drawChannels(rows) {
    document.querySelector("#channel-table tbody").innerHTML = rows.filter((r) => r.received || r.closed).map((r) =>
      `<tr data-channel="${esc(r.key)}"><td>${esc(r.name || r.key)}</td><td>${r.received}</td><td>${r.closed}</td>` +
      `${cell("on_time_rate", r)}${cell("satisfaction_rate", r)}<td>${r.overdue_now ?? "—"}</td></tr>`).join("");
  }
  // the channels table and the 接诉即办 panel, fetched at the same time as the KPI cards
  async function loadResidents() {
    const lang = {lang: G.lang};
    const overallP = residentParams({by: "overall", ...lang});
    const [chans, overall, groups] = await Promise.all([
      api("/api/v1/analytics/kpis?" + params({by: "channel", ...lang})),
      overallP ? api("/api/v1/kpis/responsiveness?" + overallP) : null,
      overallP ? api("/api/v1/kpis/responsiveness?" + residentParams({by: rankBy(), ...lang})) : null,
    ]);
    drawChannels(chans.rows);
    drawResponsiveness(overall, groups ? groups.rows : []);
  }

  async function load() {
    status.textContent = T.loading;
    state.loads += 1;
    try {
      const residents = loadResidents();
      residents.catch(() => {});  // awaited below; a failure shows in the status line
      const [overall, byGrid, trend] = await Promise.all([
        api("/api/v1/analytics/kpis?" + params({by: "overall"})),
        api("/api/v1/analytics/kpis?" + params({by: rankBy()})),
        api("/api/v1/analytics/kpis/trend?" + (() => { const p = params({period: "month", n: 6});
          p.delete("start"); p.delete("end"); return p; })()),
      ]);
      const row = overall.rows[0];
      drawCards(row, trend.rows);
      drawTable(byGrid.rows);
      drawLinks();
      await residents;
      status.textContent = row.received ? "" : T.empty;
      const shown = params({lang: G.lang});
      if (form.status.value) shown.set("status", form.status.value);
      history.replaceState(null, "", "?" + shown);
    } catch (e) {
      status.textContent = T.error + ": " + e.message;
    }
  }
  async function subdistricts() {  // admins and planners: every subdistrict (its code and name from the KPIs)
    if (!["admin", "planner"].includes(me.role)) return;
    const rows = (await api("/api/v1/analytics/kpis?by=subdistrict")).rows.filter((r) => r.code);
    for (const r of rows) {
      const o = new Option(r.name || r.code, r.code);
      o.dataset.id = r.key;
      form.subdistrict.add(o);
    }
    document.getElementById("subdistrict-filter").hidden = rows.length === 0;
  }
  async function communities() {
    const sel = form.community;
    while (sel.options.length > 1) sel.remove(1);
    const chosen = form.subdistrict.selectedOptions[0];
    const sub = me.role === "subdistrict" ? me.subdistrict_id : (chosen && chosen.dataset.id ? chosen.dataset.id : null);
    const coms = await api("/api/v1/communities?limit=5000" + (sub ? "&subdistrict_id=" + sub : ""));
    for (const f of coms.features) {
      const o = new Option(f.properties.name, f.properties.name);
      o.dataset.id = f.properties.id;
      sel.add(o);
    }
  }
  async function options() {
    await subdistricts().catch(() => {});
    if (initial.get("subdistrict")) form.subdistrict.value = initial.get("subdistrict");
    const [cats] = await Promise.all([api("/api/v1/categories"), communities()]);
    for (const c of cats) form.category.add(new Option(`${c.code} ${G.lang === "zh" ? c.name_zh : c.name_en}`, c.code));
  }
  async function grids() {
    const sel = form.grid;
    while (sel.options.length > 1) sel.remove(1);
    const chosen = form.community.selectedOptions[0];
    const id = chosen && chosen.dataset.id ? Number(chosen.dataset.id) : null;
    const data = await api("/api/v1/grids?limit=5000" + (id !== null ? "&community_id=" + id : ""));
    for (const f of data.features) sel.add(new Option(f.properties.code, f.properties.code));
  }
  function listen() {
    form.addEventListener("submit", (e) => { e.preventDefault(); state.ready = load(); });
    form.community.addEventListener("change", () => { grids(); });
    form.subdistrict.addEventListener("change", async () => {
      form.community.value = ""; await communities().catch(() => {}); await grids().catch(() => {}); });
    form.status.addEventListener("change", () => { drawLinks(); state.ready = load(); });
    for (const b of form.querySelectorAll("[data-preset]")) b.addEventListener("click", () => {
      preset(b.dataset.preset); state.ready = load(); });
    // #logout leads to /login, which ends the session (static/js/login.js) and clears the HttpOnly cookie
  }
  const initial = new URLSearchParams(location.search);
  state.ready = (async () => {
    ({esc} = await import("/static/js/html.js"));
    me = await api("/api/v1/auth/me").catch(() => ({role: null}));
    listen();
    await options().catch(() => {});
    await grids().catch(() => {});
    for (const k of ["subdistrict", "community", "grid", "category", "channel", "start", "end", "status"]) {
      if (initial.get(k)) form[k].value = initial.get(k);
    }
    if (!form.start.value) preset("last_30");
    await load();
  })();
})();
