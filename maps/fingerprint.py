"""Content-hashed URLs of the site's own files, so that a browser may keep them for a year and still never run a stale
one.

A file served at ``/static/…`` (``maps/static``) or ``/app/…`` (``maps/field``, the phone app) gets the URL
``/static/js/html.js?v=<the first 8 hex digits of its SHA-256>``; the server answers such a URL with
``Cache-Control: public, max-age=31536000, immutable`` (``api/static.py``), and a changed file gets a new URL.

:func:`rewrite_html` applies this to a page as it is sent: every ``src="/static/…"`` / ``href="/app/…"`` of a known
file becomes its hashed URL, and the page gets an import map (``<script type="importmap">``) that sends each JavaScript
module the page can reach — through ``import … from``, ``import()``, or a ``'….js'`` string such as
``new URL('datum.js', …)`` — to its hashed URL. The modules themselves keep plain imports
(``import { esc } from '/static/js/html.js'``): the browser resolves them through the page's map, so a changed
dependency is fetched anew even though the module importing it did not change (and kept its URL). Modules the page's
module scripts import statically are also announced with ``<link rel="modulepreload">``, so the browser fetches the
whole graph at once instead of one import level per round trip. Files referenced from CSS (Leaflet's images) keep
their plain URLs and are revalidated (ETag) instead.

Hashes are kept per (file, modification time, size), so an edited file gets its new URL on the next page.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from stat import S_ISREG

from maps.assets import STATIC_DIR
from maps.field import FIELD_DIR

__all__ = ["BARE", "IMMUTABLE", "SITE", "AssetIndex"]

BARE: dict[str, str] = {"@mapbox/point-geometry": "/static/vendor/point-geometry-1.1.0/index.js"}
"""Bare specifiers of vendored packages (``maps/static/vendor``, imported as published) -> the file they name; a
page reaching such an import gets the specifier in its import map."""

IMMUTABLE = "public, max-age=31536000, immutable"
"""The Cache-Control of a URL that carries its file's hash."""

_TAG = re.compile(r"<(?:script|link|img|source)\b[^>]*>", re.IGNORECASE)
_LINK = re.compile(r"""(\s(?:src|href)\s*=\s*)(["'])(/[^"'?#\s<>]+)\2""", re.IGNORECASE)
_SCRIPT_OPEN = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
_SCRIPT_CLOSE = re.compile(r"</script\s*>", re.IGNORECASE)
_SRC = re.compile(r"""\bsrc\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_MODULE = re.compile(r"""\btype\s*=\s*["']?module\b""", re.IGNORECASE)
_IMPORTMAP = re.compile(r"""<script\b[^>]*\btype\s*=\s*["']?importmap""", re.IGNORECASE)
_FIRST_SCRIPT = re.compile(r"<script\b", re.IGNORECASE)
# static imports and re-exports: import x from '…'; import '…'; export { x } from '…'
# a bare specifier (a package's name) as vendored npm modules import each other: import Point from '@mapbox/…'
_BARE_IMPORT = re.compile(r"""(?:^|[;\s])import\s*[\w$*{}\s,]*?\bfrom\s*["']((?:@[\w.-]+/)?[\w.-]+)["']""")
_STATIC_IMPORT = re.compile(r"""(?:^|[;\s])(?:import|export)\s*(?:[\w$*{}\s,]*?\bfrom\s*)?["']([^"'\n]+\.js)["']""")
# any string naming a .js file: dynamic import('…'), new URL('datum.js', …)
_JS_STRING = re.compile(r"""["']((?:\.{0,2}/)?[\w./-]+\.js)["']""")


class AssetIndex:
    """The files under URL prefixes (``{"/static/": folder}``): their hashes, hashed URLs and module graph."""

    def __init__(self, roots: Mapping[str, Path], *, hidden: Iterable[str] = ()) -> None:
        self.roots = {prefix: folder.resolve() for prefix, folder in roots.items()}
        self.hidden = frozenset(hidden)
        self._imports: dict[tuple[str, int, int], tuple[frozenset[str], frozenset[str]]] = {}

    def _found(self, url_path: str) -> tuple[Path, os.stat_result] | None:
        if url_path in self.hidden:
            return None
        for prefix, folder in self.roots.items():
            if url_path.startswith(prefix):
                relative = posixpath.normpath(url_path.removeprefix(prefix))
                if relative.startswith(("../", "/")) or relative in ("..", "."):
                    return None
                candidate = folder / relative
                try:
                    stat = os.stat(candidate)
                except (OSError, ValueError):
                    continue
                if S_ISREG(stat.st_mode):
                    return candidate, stat
        return None

    def file(self, url_path: str) -> Path | None:
        """The file served at ``url_path`` (no query), or None when it is no file of a root."""
        found = self._found(url_path)
        return found[0] if found else None

    def digest(self, url_path: str) -> str | None:
        """The first 8 hex digits of the SHA-256 of the file at ``url_path``; None for no file."""
        found = self._found(url_path)
        if found is None:
            return None
        path, stat = found
        return _digest(path, stat.st_mtime_ns, stat.st_size)

    def url(self, url_path: str) -> str:
        """``url_path?v=<hash>`` for a file of the index; anything else unchanged."""
        if "?" in url_path or "#" in url_path:
            return url_path
        found = self.digest(url_path)
        return f"{url_path}?v={found}" if found else url_path

    def imports(self, url_path: str) -> tuple[frozenset[str], frozenset[str]]:
        """What the JavaScript file at ``url_path`` imports statically, and every ``.js`` file it names at all
        (static imports included), as URL paths of files of the index (worked out once per version of the file)."""
        found = self._found(url_path)
        if found is None:
            return frozenset(), frozenset()
        path, stat = found
        key = (url_path, stat.st_mtime_ns, stat.st_size)
        if key not in self._imports:
            static, named = _scan(path, stat.st_mtime_ns, stat.st_size)
            base = posixpath.dirname(url_path) + "/"

            def resolved(specs: Iterable[str]) -> frozenset[str]:
                paths = (posixpath.normpath(s if s.startswith("/") else posixpath.join(base, s))
                         for s in (BARE.get(s, s) for s in specs))
                return frozenset(p for p in paths if self._found(p) is not None)

            self._imports[key] = (resolved(static), resolved(named))
        return self._imports[key]

    def graph(self, entries: Iterable[str]) -> tuple[list[str], list[str]]:
        """From the scripts ``entries``: every module reachable (sorted), and those reachable by static imports."""
        reachable: set[str] = set()
        statically: set[str] = set()
        todo = [(e, True) for e in entries]
        while todo:
            path, static = todo.pop()
            if path in reachable and (not static or path in statically):
                continue
            reachable.add(path)
            if static:
                statically.add(path)
            fixed, named = self.imports(path)
            todo += [(p, static) for p in fixed] + [(p, False) for p in named - fixed]
        return sorted(reachable), sorted(statically)

    def _hashed(self, link: re.Match[str]) -> str:
        return f"{link.group(1)}{link.group(2)}{self.url(link.group(3))}{link.group(2)}"

    def rewrite_html(self, html: str) -> str:
        """``html`` with hashed URLs, an import map and module preloads (see the module's docstring)."""
        if "/static/" not in html and "/app/" not in html:
            return html
        html = _TAG.sub(lambda tag: _LINK.sub(self._hashed, tag.group(0)), html)
        if _IMPORTMAP.search(html):
            return html
        modules: list[str] = []
        classic: list[str] = []
        for opening in _SCRIPT_OPEN.finditer(html):
            attrs = opening.group(1)
            src = _SRC.search(attrs)
            is_module = bool(_MODULE.search(attrs))
            if src:
                plain = src.group(1).partition("?")[0]
                if self.file(plain) is not None:
                    (modules if is_module else classic).append(plain)
            elif is_module:  # an inline module: its imports
                close = _SCRIPT_CLOSE.search(html, opening.end())
                body = html[opening.end():close.start() if close else len(html)]
                modules += [s for s in _STATIC_IMPORT.findall(body) if s.startswith("/")]
        if not modules and not classic:
            return html
        reachable, statically = self.graph(modules)
        more, _ = self.graph(classic)
        mapped = {p: self.url(p) for p in sorted(set(reachable) | set(more)) if p not in classic}
        mapped = {p: u for p, u in mapped.items() if u != p}
        mapped |= {spec: self.url(path) for spec, path in BARE.items() if path in reachable or path in more}
        if not mapped:
            return html
        tags = ('<script type="importmap">' + json.dumps({"imports": mapped}, separators=(",", ":"))
                + "</script>\n" + "".join(f'<link rel="modulepreload" href="{mapped[p]}">\n'
                                         for p in statically if p in mapped and p not in modules))
        first = _FIRST_SCRIPT.search(html)
        at = first.start() if first else len(html)
        return html[:at] + tags + html[at:]


@lru_cache(maxsize=1024)
def _digest(path: Path, mtime_ns: int, size: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:8]


@lru_cache(maxsize=1024)
def _scan(path: Path, mtime_ns: int, size: int) -> tuple[frozenset[str], frozenset[str]]:
    if path.suffix != ".js":
        return frozenset(), frozenset()
    text = path.read_text(encoding="utf-8", errors="replace")
    static = frozenset(_STATIC_IMPORT.findall(text)) | frozenset(b for b in _BARE_IMPORT.findall(text) if b in BARE)
    return static, static | frozenset(_JS_STRING.findall(text))


SITE = AssetIndex({"/static/": STATIC_DIR, "/app/": FIELD_DIR}, hidden=("/app/index.html", "/app/sw.js"))
"""This site's files: ``maps/static`` at /static/ and the phone app's at /app/ (its page and service worker are
served by routes of their own, never under a hash)."""
