"""Server-rendered HTML pages: Jinja2 templates from ``maps/templates/`` with autoescape always on, and
:func:`esc`, the one HTML-escaping helper for HTML that map modules assemble in Python (legends, tooltips).

A value put into a template with ``{{ value }}`` is escaped unless it is explicitly marked safe
(``markupsafe.Markup`` or ``|safe`` for markup of our own, never user data), so a name a user typed cannot
become markup on a page.
"""

from __future__ import annotations

import html
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

__all__ = ["TEMPLATE_DIR", "environment", "esc", "render"]

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
"""Where the page templates live (shipped as package data)."""


def esc(text: Any) -> str:
    """``text`` as HTML text, quotes included (safe inside an attribute value too).

    For HTML built in Python outside a template, e.g. folium legends and tooltips, which Leaflet inserts with
    ``innerHTML``. Templates need no call to it: autoescape does the same.
    """
    return html.escape(str(text), quote=True)


@cache
def environment() -> jinja2.Environment:
    """The page templates' environment: autoescape on for every template, undefined names are errors."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def render(name: str, /, **context: Any) -> str:
    """The HTML of template ``name`` (in :data:`TEMPLATE_DIR`) with ``context``, every value escaped."""
    return environment().get_template(name).render(**context)
