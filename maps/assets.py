"""Serve folium's browser assets from files vendored in ``maps/static/vendor`` instead of CDNs.

Folium's ``Map`` lists Leaflet plus jQuery, Bootstrap, Font Awesome and Leaflet.awesome-markers in its class
attributes ``default_js`` / ``default_css``, whether the map uses them or not; with no internet the page
stays blank. :func:`use_local_assets` points one map (and the plugins on it) at the vendored copies by
setting instance attributes, so other maps and folium's classes are left alone. An app mounts
:data:`STATIC_DIR` (for instance at ``/static``) so that ``/static/vendor/...`` resolves.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import TypeVar

import folium
from branca.colormap import ColorMap
from branca.element import Element, Figure
from folium import plugins
from folium.elements import JSCSSMixin

__all__ = ["LOCAL_ASSETS", "STATIC_DIR", "OnlineAssetWarning", "local_url", "use_local_assets"]

STATIC_DIR: Path = Path(__file__).resolve().parent / "static"
"""The folder to serve as static files; ``prefix`` in :func:`use_local_assets` is where its ``vendor`` is."""

_LEAFLET = "vendor/leaflet-1.9.4"
_MARKERCLUSTER = "vendor/leaflet.markercluster-1.5.3"
_HEAT = "vendor/leaflet.heat-0.2.0"

LOCAL_ASSETS: dict[str, str] = {
    # Keys are the names folium gives these resources in default_js / default_css.
    "leaflet": f"{_LEAFLET}/leaflet.js",
    "leaflet_css": f"{_LEAFLET}/leaflet.css",
    "markerclusterjs": f"{_MARKERCLUSTER}/leaflet.markercluster.js",
    "markerclustercss": f"{_MARKERCLUSTER}/MarkerCluster.css",
    "markerclusterdefaultcss": f"{_MARKERCLUSTER}/MarkerCluster.Default.css",
    "leaflet-heat.js": f"{_HEAT}/leaflet-heat.js",
}
"""Logical name of each vendored JS/CSS file -> its path relative to :data:`STATIC_DIR` (POSIX separators)."""

# Resources folium.Map loads for every map "just in case", grouped by the feature that really needs them.
# Bootstrap is needed by nothing: no folium 0.20 feature calls it; it only restyles fonts and user popup HTML.
_SPECULATIVE: dict[str, frozenset[str]] = {
    "jquery": frozenset({"jquery"}),
    "awesome_markers": frozenset(
        {
            "awesome_markers",
            "awesome_markers_css",
            "awesome_markers_font_css",
            "glyphicons_css",
            "awesome_rotate_css",
        }
    ),
    "font_awesome": frozenset({"awesome_markers_font_css"}),
    "bootstrap": frozenset({"bootstrap", "bootstrap_css"}),
}

E = TypeVar("E", bound=Element)


class OnlineAssetWarning(UserWarning):
    """A map still loads a script or stylesheet from the internet, so it will not work offline."""


def local_url(name: str, *, prefix: str = "/static/vendor") -> str:
    """URL of the file ``LOCAL_ASSETS[name]`` when ``STATIC_DIR / "vendor"`` is served at ``prefix``."""
    relative = PurePosixPath(LOCAL_ASSETS[name]).relative_to("vendor")
    return f"{prefix.rstrip('/')}/{relative}"


def use_local_assets(m: E, *, prefix: str = "/static/vendor") -> E:
    """Make ``m`` and every element under it load Leaflet and plugins from ``prefix`` instead of CDNs.

    Call it after the last layer or plugin has been added (elements added later keep their CDN links).
    jQuery, Bootstrap, Font Awesome and awesome-markers are dropped from a ``folium.Map`` when nothing on it
    uses them (see ``_features_in_use``); when something does, or a plugin needs a file that is not vendored,
    its CDN link is kept and an :class:`OnlineAssetWarning` says which element needs the internet.

    Parameters
    ----------
    m
        A ``folium.Map`` (or any branca element: a ``Figure``, a plugin).
    prefix
        URL path under which ``maps/static/vendor`` is served, e.g. ``"/static/vendor"``, or ``"vendor"``
        for a page saved next to a copy of that folder.

    Returns
    -------
    The same object, changed in place (instance attributes only), for chaining.
    """
    if not isinstance(m, Element):
        raise TypeError(f"'m' should be a folium Map or branca Element, got {type(m)}")
    in_use = _features_in_use(m)
    dropped: set[str] = set()
    online: list[str] = []
    for element in _walk(m):
        if isinstance(element, JSCSSMixin):
            drop = _droppable(in_use) if isinstance(element, folium.Map) else frozenset()
            dropped |= drop
            element.default_js = _localise(element.default_js, drop, prefix)
            element.default_css = _localise(element.default_css, drop, prefix)
            online += [
                f"{type(element).__name__}: {name} ({url})"
                for name, url in [*element.default_js, *element.default_css]
                if _is_remote(url)
            ]
        if isinstance(element, ColorMap):
            online.append(f"{type(element).__name__}: d3 (loaded by branca when the colormap renders)")
    _forget_rendered_links(m, dropped)
    if isinstance(m, folium.Map):
        _add_leaflet_words(m, prefix)
    if online:
        warnings.warn(
            "this map still loads from the internet and will not work offline: " + "; ".join(online),
            OnlineAssetWarning,
            stacklevel=2,
        )
    return m


def _add_leaflet_words(m: folium.Map, prefix: str) -> None:
    """Leaflet's own words in the page's language (``static/js/leaflet-lang.js``): a script in the body, after
    leaflet.js in the head and before the map's script at the end of the body."""
    root = m.get_root()
    if "gridpatrol_leaflet_lang" in getattr(root, "html", Element())._children:
        return
    static = prefix.rstrip("/").removesuffix("/vendor")
    root.html.add_child(Element(f'<script src="{static}/js/leaflet-lang.js"></script>'),  # type: ignore[attr-defined]
                        name="gridpatrol_leaflet_lang")
    if any(type(child).__name__ == "OwnBasemap" for child in m._children.values()):
        # our own basemap (maps.leaflet.OwnBasemap): a module, run after the map's script has made the map
        root.html.add_child(Element(  # type: ignore[attr-defined]
            f'<script type="module" src="{static}/js/basemap-folium.js"></script>'), name="gridpatrol_basemap")


def _localise(links: list[tuple[str, str]], drop: frozenset[str], prefix: str) -> list[tuple[str, str]]:
    return [
        (name, local_url(name, prefix=prefix) if name in LOCAL_ASSETS else url)
        for name, url in links
        if name not in drop
    ]


def _droppable(in_use: dict[str, str]) -> frozenset[str]:
    keep = frozenset().union(*(names for feature, names in _SPECULATIVE.items() if feature in in_use))
    return frozenset().union(*_SPECULATIVE.values()) - keep


def _features_in_use(root: Element) -> dict[str, str]:
    """Speculative dependencies that something under ``root`` needs -> the first element found needing it.

    Found by reading folium 0.20's templates: ``$(...)`` appears only in Popup, GeoJson(embed=False), Map's
    keep_in_front and two plugins; ``L.AwesomeMarkers`` only in Icon, GeoJson(marker=Marker(icon=Icon)) and
    FastMarkerCluster's default callback; ``fa-`` classes in BeautifyIcon and TagFilterButton.
    """
    found: dict[str, str] = {}
    for element in _walk(root):
        for feature in _needs(element):
            found.setdefault(feature, type(element).__name__)
    return found


def _needs(element: Element) -> set[str]:
    needs: set[str] = set()
    if (
        isinstance(element, (folium.Popup, plugins.HeatMapWithTime, plugins.TimeSliderChoropleth))
        or (isinstance(element, folium.GeoJson) and not element.embed)
        or (isinstance(element, folium.Map) and element.objects_to_stay_in_front)
    ):
        needs.add("jquery")
    marker = getattr(element, "marker", None) if isinstance(element, folium.GeoJson) else None
    if (
        (isinstance(element, folium.Icon) and not isinstance(element, folium.CustomIcon))
        or (marker is not None and getattr(marker, "icon", None) is not None and marker.icon._name == "Icon")
        or (isinstance(element, plugins.FastMarkerCluster) and "L.AwesomeMarkers" in element.callback)
    ):
        needs.add("awesome_markers")
    if isinstance(element, (plugins.BeautifyIcon, plugins.TagFilterButton)):
        needs.add("font_awesome")
    return needs


def _walk(root: Element) -> Iterator[Element]:
    """``root`` and every element below it, including the header/html/script parts of Figures and Popups."""
    stack = [root]
    seen: set[int] = set()
    while stack:
        element = stack.pop()
        if id(element) in seen:
            continue
        seen.add(id(element))
        yield element
        stack.extend(reversed(list(element._children.values())))
        stack.extend(
            part
            for attr in ("header", "html", "script")
            if isinstance(part := getattr(element, attr, None), Element)
        )


def _forget_rendered_links(m: Element, names: set[str]) -> None:
    # A map rendered before this call has already put CDN <script>/<link> tags, keyed by name, in its Figure.
    root = m.get_root()
    if isinstance(root, Figure):
        for name in names:
            root.header._children.pop(name, None)


def _is_remote(url: str) -> bool:
    return url.startswith(("http://", "https://", "//"))
