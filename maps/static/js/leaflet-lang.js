/* Leaflet's own words (zoom buttons, the layers button, its credit line, a marker's alt text, the basemap's name and
 * "© OpenStreetMap contributors") in the page's language, Chinese unless <html lang> is English. A classic script
 * loaded right after leaflet.js and before any map is made (maps.assets.use_local_assets adds it to folium's pages): it changes Leaflet's defaults, so every map of the page
 * (folium's, the planner's, the phone app's) says them in Chinese. window.gridpatrolLeafletLang(lang) re-words the
 * controls already on the page (the phone app calls it when its language changes). */
(function () {
  "use strict";
  if (typeof L === "undefined") return;
  var WORDS = {
    zh: {zoomIn: "放大", zoomOut: "缩小", layers: "图层", marker: "位置标记", basemap: "底图",
         contributors: "贡献者", leaflet: "Leaflet 地图库"},
    en: {zoomIn: "Zoom in", zoomOut: "Zoom out", layers: "Layers", marker: "Marker", basemap: "Basemap",
         contributors: "contributors", leaflet: "A JavaScript library for interactive maps"}
  };
  // <html lang>, else the page's ?lang= (folium's pages have no lang attribute)
  function lang() {
    var l = document.documentElement.lang || new URLSearchParams(location.search).get("lang") || "zh";
    return l.slice(0, 2) === "en" ? "en" : "zh";
  }
  function w() { return WORDS[lang()]; }

  L.Control.Zoom.prototype.options.zoomInTitle = w().zoomIn;
  L.Control.Zoom.prototype.options.zoomOutTitle = w().zoomOut;
  L.Marker.prototype.options.alt = w().marker;
  L.Control.Scale.prototype.options.imperial = false;  // metres only: feet mean nothing here
  L.Control.Attribution.prototype.options.prefix =
    '<a href="https://leafletjs.com" title="' + w().leaflet + '">Leaflet</a>';
  L.TileLayer.addInitHook(function () {
    var a = this.options.attribution;
    if (a && lang() === "zh") this.options.attribution = a.replace(/\bcontributors\b/g, WORDS.zh.contributors);
  });
  var initLayout = L.Control.Layers.prototype._initLayout;
  L.Control.Layers.prototype._initLayout = function () {
    initLayout.call(this);
    if (this._layersLink) this._layersLink.title = w().layers;
  };
  // a basemap named by its provider id (folium names it "openstreetmap", "cartodbpositron" …) is "the basemap"
  var addItem = L.Control.Layers.prototype._addItem;
  L.Control.Layers.prototype._addItem = function (obj) {
    if (!obj.overlay && /^[a-z0-9_.]+$/.test(obj.name)) obj = L.extend({}, obj, {name: w().basemap});
    return addItem.call(this, obj);
  };

  window.gridpatrolLeafletLang = function (l) {
    var words = WORDS[l === "en" ? "en" : "zh"];
    var set = function (sel, text) {
      document.querySelectorAll(sel).forEach(function (el) {
        el.title = text;
        el.setAttribute("aria-label", text);
      });
    };
    set(".leaflet-control-zoom-in", words.zoomIn);
    set(".leaflet-control-zoom-out", words.zoomOut);
    document.querySelectorAll(".leaflet-control-layers-toggle").forEach(function (el) { el.title = words.layers; });
    document.querySelectorAll("img.leaflet-marker-icon").forEach(function (el) { el.alt = words.marker; });
  };
})();
