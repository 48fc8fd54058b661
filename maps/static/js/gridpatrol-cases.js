/*
 * gridpatrol-cases.js — the cases layer of maps.analytics.cases_map.
 *
 * L.gridpatrolCases(options) is a Leaflet layer that, when added to a map and after every move or zoom,
 * fetches  dataUrl + "?bbox=minlon,minlat,maxlon,maxlat&zoom=Z"  (WGS-84; appended with "&" when dataUrl
 * already has a query string) and draws the JSON answer:
 *
 *   {"clusters": [{"lon", "lat", "count", "overdue", "statuses": {"dispatched": 3, ...}}],
 *    "cases": [{"id", "lon", "lat", "status", "overdue", "category", "category_name", "deadline_at",
 *               "thumbnail", "number", "url" (the case page, /desk/cases/{number})}],
 *    "total": N}
 *
 * Clusters become round divIcon markers sized by count, labelled with it and coloured by the share overdue;
 * cases become circle markers coloured by status, ringed red when overdue, with a popup. At most one request
 * is in flight: a new view aborts the previous request, and an answer that is not the latest is dropped.
 * A bearer token is read from localStorage[options.tokenKey] ("gridpatrol.token") and sent when present.
 * With options.datum === "gcj02" the answer is shifted WGS-84 -> GCJ-02 before drawing and the bbox sent
 * is shifted back. Deadlines are shown in options.timeZone (an IANA name), or the browser's zone when null.
 *
 * For tests and other scripts: window.gridpatrolCases = {layer, lastAnswer, drawnCount(), drawn(), ready,
 * draws, requests}; `ready` is a Promise resolved (with the answer, or null after an error) once the latest
 * requested view is drawn — already resolved when nothing is pending.
 *
 * Needs Leaflet 1.9 and, for GCJ-02, the ES module datum.js beside this file (imported when first needed). No build
 * step; plain ES5 plus fetch, Promise, AbortController and import().
 */
(function () {
    "use strict";

    // --- WGS-84 <-> GCJ-02: the one copy of every page, the ES module datum.js next to this script --------------
    // Loaded (dynamic import) before the first request of a GCJ-02 layer; a WGS-84 layer never needs it.
    var DATUM_URL = document.currentScript ? new URL("datum.js", document.currentScript.src).href : null;
    var datum = null, datumLoading = null;

    function loadDatum() {
        if (!datumLoading) {
            datumLoading = import(DATUM_URL).then(function (module) { datum = module; return module; });
        }
        return datumLoading;
    }

    function wgs84ToGcj02(lon, lat) {
        var p = datum.wgsToGcj(lat, lon);
        return [p[1], p[0]];
    }

    function gcj02ToWgs84(lon, lat) {
        var p = datum.gcjToWgs(lat, lon);
        return [p[1], p[0]];
    }

    // --- helpers -----------------------------------------------------------------------------------------
    function safeUrl(value) {
        // Only http(s) and same-site paths go into href/src: never javascript: or data: from the server.
        // Browsers drop tabs and newlines anywhere in a URL and leading control characters: do the same first.
        if (typeof value !== "string") { return null; }
        var clean = value.replace(/[\t\n\r]/g, "").replace(/^[\u0000-\u0020]+/, "");
        if (!clean) { return null; }
        var scheme = /^([a-z][a-z0-9+.-]*):/i.exec(clean);
        return !scheme || /^https?$/i.test(scheme[1]) ? clean : null;
    }

    function token(key) {
        try {
            var value = window.localStorage && window.localStorage.getItem(key);
            if (!value) { return null; }
            return /^bearer\s/i.test(value) ? value : "Bearer " + value;
        } catch (error) {
            return null;  // storage disabled (file:// pages, privacy settings)
        }
    }

    function withQuery(url, query) {
        var hash = url.indexOf("#"), fragment = "";
        if (hash >= 0) { fragment = url.slice(hash); url = url.slice(0, hash); }
        var joiner = url.indexOf("?") < 0 ? "?" : (/[?&]$/.test(url) ? "" : "&");
        return url + joiner + query + fragment;
    }

    function shortCount(n, locale) {
        if (locale.indexOf("zh") === 0 && n >= 10000) { return (n / 10000).toFixed(n < 100000 ? 1 : 0) + "万"; }
        if (n >= 10000) { return Math.round(n / 1000) + "k"; }
        if (n >= 1000) { return (n / 1000).toFixed(1) + "k"; }
        return String(n);
    }

    function formatDate(iso, locale, timeZone) {
        if (!iso) { return null; }
        var date = new Date(iso);
        if (isNaN(date.getTime())) { return String(iso); }
        var options = {year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit"};
        if (timeZone) { options.timeZone = timeZone; }
        return date.toLocaleString(locale, options);
    }

    // --- the layer ---------------------------------------------------------------------------------------
    L.GridpatrolCases = L.Layer.extend({
        options: {
            dataUrl: null,
            datum: "wgs84",
            locale: "zh-CN",
            timeZone: null,
            labels: {},
            statusLabels: {},
            statusColors: {},
            overdueColor: "#dc2626",
            shareColors: [[0, "#16a34a"], [0.1, "#ca8a04"], [0.3, "#ea580c"], [1, "#dc2626"]],
            tokenKey: "gridpatrol.token",
            caseRadius: 7
        },

        initialize: function (options) {
            L.setOptions(this, options);
            this._group = L.layerGroup();
            this._seq = 0;            // id of the latest request; answers of older ones are dropped
            this._controller = null;  // AbortController of the request in flight
            this._timer = null;
            this._clusters = 0;
            this._cases = 0;
            this.lastAnswer = null;
            this.draws = 0;
            this.requests = 0;
            this._settle(null);
            var layer = this;
            window.gridpatrolCases = {
                layer: layer,
                get lastAnswer() { return layer.lastAnswer; },
                get ready() { return layer.ready; },
                get draws() { return layer.draws; },
                get requests() { return layer.requests; },
                drawnCount: function () { return layer._clusters + layer._cases; },
                drawn: function () { return {clusters: layer._clusters, cases: layer._cases}; },
                wgs84ToGcj02: wgs84ToGcj02,
                gcj02ToWgs84: gcj02ToWgs84
            };
        },

        onAdd: function (map) {
            this._group.addTo(map);
            this._status = L.control({position: "bottomleft"});
            this._status.onAdd = function () {
                return L.DomUtil.create("div", "gp-cases-status leaflet-control");
            };
            this._status.addTo(map);
            map.on("moveend zoomend", this._schedule, this);
            this._schedule();
        },

        onRemove: function (map) {
            map.off("moveend zoomend", this._schedule, this);
            if (this._timer) { clearTimeout(this._timer); this._timer = null; }
            if (this._controller) { this._controller.abort(); this._controller = null; }
            this._seq++;
            this._group.clearLayers();
            this._group.remove();
            this._clusters = this._cases = 0;
            if (this._status) { this._status.remove(); this._status = null; }
            this._showEmpty(false);
            this._settle(null);
        },

        // One request per view: moveend and zoomend of the same change coalesce into one fetch.
        _schedule: function () {
            if (!this._pending) {
                var layer = this;
                this._pending = true;
                this.ready = new Promise(function (resolve) { layer._resolve = resolve; });
            }
            if (this._timer) { return; }
            var self = this;
            this._timer = setTimeout(function () { self._timer = null; self._fetch(); }, 0);
        },

        _settle: function (value) {
            this._pending = false;
            if (this._resolve) {
                this._resolve(value);
                this._resolve = null;
            } else if (!this.ready) {
                this.ready = Promise.resolve(value);
            }
        },

        _bbox: function () {
            var b = this._map.getBounds();
            var sw = [b.getWest(), b.getSouth()], ne = [b.getEast(), b.getNorth()];
            if (this.options.datum === "gcj02") {
                sw = gcj02ToWgs84(sw[0], sw[1]);
                ne = gcj02ToWgs84(ne[0], ne[1]);
            }
            var clamp = function (v, limit) { return Math.max(-limit, Math.min(limit, v)); };
            return [clamp(sw[0], 180), clamp(sw[1], 90), clamp(ne[0], 180), clamp(ne[1], 90)]
                .map(function (v) { return v.toFixed(6); }).join(",");
        },

        _fetch: function () {
            var map = this._map;
            if (!map) { this._settle(null); return; }
            if (this.options.datum === "gcj02" && !datum) {   // the bbox and the drawing need the conversion
                var layer = this;
                loadDatum().then(function () { layer._fetch(); }, function (error) {
                    layer._setStatus((layer.options.labels.load_failed || "loading failed") + " (datum.js)", "error");
                    if (window.console) { console.warn("gridpatrol cases:", error); }
                    layer._settle(null);
                });
                return;
            }
            if (map._animatingZoom) { return; }  // the moveend at the end of the animation asks again
            if (this._controller) { this._controller.abort(); }
            var seq = ++this._seq, controller = this._controller = new AbortController();
            var url = withQuery(this.options.dataUrl, "bbox=" + this._bbox() + "&zoom=" + map.getZoom());
            var headers = {Accept: "application/json"};
            var auth = token(this.options.tokenKey);
            if (auth) { headers.Authorization = auth; }
            this.requests++;
            this._setStatus(this.options.labels.loading || "loading…", "loading");
            var self = this;
            fetch(url, {signal: controller.signal, headers: headers, credentials: "same-origin"})
                .then(function (response) {
                    if (!response.ok) {
                        var error = new Error("HTTP " + response.status);
                        error.status = response.status;
                        throw error;
                    }
                    return response.json();
                })
                .then(function (answer) {
                    if (seq !== self._seq || !self._map) { return; }  // a newer view was asked for meanwhile
                    self._controller = null;
                    self._draw(answer || {});
                    self.draws++;
                    self._settle(answer);
                })
                .catch(function (error) {
                    if (seq !== self._seq || error.name === "AbortError") { return; }
                    self._controller = null;
                    self._setStatus((self.options.labels.load_failed || "loading failed") +
                                    (error.status ? " (HTTP " + error.status + ")" : ""), "error");
                    if (window.console) { console.warn("gridpatrol cases:", error); }
                    self._settle(null);
                });
        },

        _setStatus: function (text, state) {
            if (!this._status) { return; }
            var div = this._status.getContainer();
            div.textContent = text;
            div.className = "gp-cases-status leaflet-control gp-cases-" + state;
        },

        _showEmpty: function (empty) {
            var container = this._map && this._map.getContainer();
            if (!container) { return; }
            var notice = container.querySelector(".gp-cases-empty");
            if (empty && !notice) {
                notice = L.DomUtil.create("div", "gp-notice gp-cases-empty", container);
                notice.setAttribute("role", "status");
                notice.textContent = this.options.labels.empty || "no data";
            } else if (!empty && notice) {
                L.DomUtil.remove(notice);
            }
        },

        _latLng: function (item) {
            var lon = +item.lon, lat = +item.lat;
            if (!isFinite(lon) || !isFinite(lat)) { return null; }
            if (this.options.datum === "gcj02") {
                var p = wgs84ToGcj02(lon, lat);
                lon = p[0];
                lat = p[1];
            }
            return L.latLng(lat, lon);
        },

        _draw: function (answer) {
            var clusters = Array.isArray(answer.clusters) ? answer.clusters : [];
            var cases = Array.isArray(answer.cases) ? answer.cases : [];
            this.lastAnswer = answer;
            this._group.clearLayers();
            this._clusters = this._cases = 0;
            var i, marker;
            for (i = 0; i < clusters.length; i++) {
                marker = this._clusterMarker(clusters[i]);
                if (marker) { this._group.addLayer(marker); this._clusters++; }
            }
            for (i = 0; i < cases.length; i++) {
                marker = this._caseMarker(cases[i]);
                if (marker) { this._group.addLayer(marker); this._cases++; }
            }
            var total = typeof answer.total === "number" ? answer.total : clusters.reduce(function (sum, c) {
                return sum + (+c.count || 0);
            }, 0) + cases.length;
            var text = (this.options.labels.total || "{n}").replace("{n}", total.toLocaleString(this.options.locale));
            this._setStatus(text, "done");
            this._showEmpty(total === 0 && this._clusters + this._cases === 0);
        },

        _shareColor: function (share) {
            var colors = this.options.shareColors;
            if (!(share > 0)) { return colors[0][1]; }
            for (var i = 1; i < colors.length; i++) {
                if (share < colors[i][0]) { return colors[i][1]; }
            }
            return colors[colors.length - 1][1];
        },

        _clusterMarker: function (cluster) {
            var latlng = this._latLng(cluster);
            var count = Math.max(0, Math.round(+cluster.count || 0));
            if (!latlng || !count) { return null; }
            var overdue = Math.max(0, +cluster.overdue || 0);
            var size = Math.round(28 + 9 * Math.log(count) / Math.LN10);
            var html = L.DomUtil.create("div", "gp-cluster-dot");
            html.style.width = html.style.height = size + "px";
            html.style.background = this._shareColor(overdue / count);
            html.textContent = shortCount(count, this.options.locale);
            var marker = L.marker(latlng, {
                icon: L.divIcon({className: "gp-cluster", html: html, iconSize: [size, size]}),
                keyboard: false,
                riseOnHover: true
            });
            marker.bindTooltip(this._clusterDetails(cluster, count, overdue), {className: "gp-tooltip", direction: "top"});
            var map = this._map;
            marker.on("click", function () { map.setView(latlng, Math.min(map.getZoom() + 2, map.getMaxZoom())); });
            return marker;
        },

        _clusterDetails: function (cluster, count, overdue) {
            var o = this.options, table = L.DomUtil.create("table");
            var row = function (label, value) {
                var tr = L.DomUtil.create("tr", "", table);
                L.DomUtil.create("th", "", tr).textContent = label;
                L.DomUtil.create("td", "", tr).textContent = value;
            };
            row(o.labels.cases || "cases", count.toLocaleString(o.locale));
            row(o.labels.overdue || "overdue", overdue.toLocaleString(o.locale) +
                " (" + Math.round(100 * overdue / count) + "%)");
            var statuses = cluster.statuses || {};
            Object.keys(statuses).sort(function (a, b) { return statuses[b] - statuses[a]; })
                .forEach(function (status) {
                    row(o.statusLabels[status] || status, (+statuses[status] || 0).toLocaleString(o.locale));
                });
            return table;
        },

        _caseMarker: function (item) {
            var latlng = this._latLng(item);
            if (!latlng) { return null; }
            var o = this.options, overdue = item.overdue === true;
            var fill = o.statusColors[item.status] || o.statusColors[""] || "#374151";
            var marker = L.circleMarker(latlng, {
                radius: o.caseRadius,
                fillColor: fill,
                fillOpacity: 0.95,
                color: overdue ? o.overdueColor : "#ffffff",
                weight: overdue ? 3 : 1.5,
                opacity: 1,
                className: "gp-case" + (overdue ? " gp-case-overdue" : "")
            });
            var self = this;
            marker.bindPopup(function () { return self._popup(item); }, {className: "gp-case-popup", maxWidth: 260});
            marker.bindTooltip(String(item.category_name || item.category || ""), {direction: "top", offset: [0, -6]});
            marker.caseId = item.id;
            return marker;
        },

        _popup: function (item) {
            var o = this.options, labels = o.labels;
            var div = L.DomUtil.create("div", "gp-case-card");
            L.DomUtil.create("div", "gp-case-title", div).textContent =
                (item.number ? String(item.number) + " · " : "") + String(item.category_name || item.category || "—");
            var table = L.DomUtil.create("table", "", div);
            var row = function (label, value, className) {
                var tr = L.DomUtil.create("tr", className || "", table);
                L.DomUtil.create("th", "", tr).textContent = label;
                L.DomUtil.create("td", "", tr).textContent = value;
            };
            row(labels.status || "status", o.statusLabels[item.status] || String(item.status || "—"));
            row(labels.deadline || "deadline", formatDate(item.deadline_at, o.locale, o.timeZone) || "—");
            row(labels.overdue || "overdue", item.overdue === true ? (labels.yes || "yes") : (labels.no || "no"),
                item.overdue === true ? "gp-overdue" : "");
            var thumbnail = safeUrl(item.thumbnail);
            if (thumbnail) {
                var img = L.DomUtil.create("img", "gp-case-thumb", div);
                img.src = thumbnail;
                img.alt = "";
                img.loading = "lazy";
            }
            var url = safeUrl(item.url);
            if (url && o.locale.indexOf("en") === 0) { url += (url.indexOf("?") < 0 ? "?" : "&") + "lang=en"; }
            if (url) {
                var link = L.DomUtil.create("a", "gp-case-link", div);
                link.href = url;
                link.target = "_blank";
                link.rel = "noopener";
                link.textContent = (labels.timeline || "timeline") + " →";
            }
            return div;
        }
    });

    L.gridpatrolCases = function (options) { return new L.GridpatrolCases(options); };
    L.gridpatrolCases.wgs84ToGcj02 = wgs84ToGcj02;
    L.gridpatrolCases.gcj02ToWgs84 = gcj02ToWgs84;
})();
