"""The API's documentation pages, /docs (Swagger UI) and /redoc (ReDoc), with every asset served from here.

FastAPI's own pages load Swagger UI and ReDoc from a CDN: offline (a 街道 office's intranet, a laptop in the field) they
are blank. The same pages here take their scripts, styles and icon from the ``fastapi-standalone-docs`` package (a
pip dependency that ships Swagger UI's and ReDoc's builds; we use only its files), mounted at ``/docs-assets``; the
pages' policy (api.middleware.page_policy) allows this site only. ReDoc is told not to fetch Google's fonts.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

_PACKAGE = importlib.util.find_spec("fastapi_standalone_docs")  # its files only: nothing of it is imported
if _PACKAGE is None or _PACKAGE.origin is None:  # pragma: no cover - a dependency of the project
    raise ImportError("fastapi-standalone-docs is missing: pip install fastapi-standalone-docs")
ASSETS = Path(_PACKAGE.origin).with_name("static")
PREFIX = "/docs-assets"
DOCS_PATHS = ("/docs", "/redoc", "/docs/oauth2-redirect")


def install_docs(app: FastAPI) -> None:
    """Serve /docs, /redoc and their assets (create the app with ``docs_url=None, redoc_url=None``)."""
    app.mount(PREFIX, StaticFiles(directory=ASSETS), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url, title=f"{app.title} · API",
            oauth2_redirect_url="/docs/oauth2-redirect",
            swagger_js_url=f"{PREFIX}/swagger/swagger-ui-bundle.js",
            swagger_css_url=f"{PREFIX}/swagger/swagger-ui.css",
            swagger_favicon_url=f"{PREFIX}/fastapi/favicon.png")

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url, title=f"{app.title} · API",
            redoc_js_url=f"{PREFIX}/redoc/redoc.standalone.js",
            redoc_favicon_url=f"{PREFIX}/fastapi/favicon.png", with_google_fonts=False)
