/*
 * gridpatrol-heat.js — helpers for the Leaflet.heat layers of maps.analytics.heatmap_map.
 *
 * L.gridpatrolHeat.autoMax(layer, floor): before every redraw, set the layer's `max` to the heaviest spot in
 *   view (the sum of weights in one of Leaflet.heat's cells, scaled for the zoom as Leaflet.heat does), but
 *   at least `floor` heaviest cases at the map's maximum zoom. So the hottest spot in view is red at any zoom
 *   (the vendored Leaflet.heat 0.2.0 caps intensities at a fixed `max`, which leaves a few cases faint blue
 *   when zoomed in and saturates everything when zoomed out), while a lone light case stays faint.
 *
 * L.gridpatrolHeat.filter(map, layers, open, closed, overdueOnly): `layers` is a list of [heatLayer, flags]
 *   where flags has one digit per point (1 if the case is open, + 2 if overdue); the three switches are
 *   (empty) layers in the layer control. Shows the points whose status is switched on.
 *
 * Needs Leaflet 1.9 and Leaflet.heat 0.2.0 (L.HeatLayer).
 */
(function () {
    "use strict";

    function heaviestCell(layer) {
        var map = layer._map, heat = layer._heat;
        if (!map || !heat) { return null; }
        var r = heat._r, size = map.getSize(), cellSize = r / 2;
        var bounds = new L.Bounds(L.point([-r, -r]), size.add([r, r]));
        var maxZoom = layer.options.maxZoom === undefined ? map.getMaxZoom() : layer.options.maxZoom;
        var v = 1 / Math.pow(2, Math.max(0, Math.min(maxZoom - map.getZoom(), 12)));
        var pane = map._getMapPanePos(), offsetX = pane.x % cellSize, offsetY = pane.y % cellSize;
        var cells = {}, heaviest = 0;
        for (var i = 0; i < layer._latlngs.length; i++) {
            var latlng = layer._latlngs[i], p = map.latLngToContainerPoint(latlng);
            if (!bounds.contains(p)) { continue; }
            var key = Math.floor((p.x - offsetX) / cellSize) + ":" + Math.floor((p.y - offsetY) / cellSize);
            var weight = latlng.alt !== undefined ? latlng.alt : (latlng[2] !== undefined ? +latlng[2] : 1);
            var sum = (cells[key] || 0) + weight * v;
            cells[key] = sum;
            if (sum > heaviest) { heaviest = sum; }
        }
        return {heaviest: heaviest, scale: v};
    }

    function autoMax(layer, floor) {
        var redraw = layer._redraw;
        layer._redraw = function () {
            var found = heaviestCell(this);
            if (found) {
                this.options.max = Math.max(found.heaviest, (floor || 1) * found.scale);
                this._heat.max(this.options.max);
            }
            return redraw.apply(this, arguments);
        };
        return layer;
    }

    function filter(map, layers, open, closed, overdueOnly) {
        layers.forEach(function (entry) { entry[0].gpAll = entry[0]._latlngs.slice(); });
        function refresh() {
            var showOpen = map.hasLayer(open), showClosed = map.hasLayer(closed);
            var onlyOverdue = map.hasLayer(overdueOnly);
            layers.forEach(function (entry) {
                var flags = entry[1];
                entry[0].setLatLngs(entry[0].gpAll.filter(function (p, i) {
                    var flag = flags.charCodeAt(i) - 48;
                    return ((flag & 1) ? showOpen : showClosed) && (!onlyOverdue || (flag & 2));
                }));
            });
        }
        [open, closed, overdueOnly].forEach(function (group) { group.on("add remove", refresh); });
        refresh();
    }

    L.gridpatrolHeat = {autoMax: autoMax, filter: filter};
})();
