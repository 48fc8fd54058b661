"""The FastAPI application: OpenAPI docs at /docs, health, GeoJSON layers, and the overview map at /."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI, Query
from fastapi.responses import HTMLResponse
from sqlalchemy import text

from api.basemap import tile_attribution
from api.compression import Compress, ContentETag
from api.deps import ReadSessionDep, SessionDep, SettingsDep
from api.docs_pages import install_docs
from api.errors import install_error_handlers
from api.middleware import BodyLimit, ReadYourWrites, SecurityHeaders
from api.routes import (
    analytics,
    assessment,
    auth,
    casefile,
    cases,
    desk,
    field,
    hotline,
    layers,
    maps,
    mediation,
    meetings,
    needs,
    notices,
    ogc,
    open311,
    patrols,
    people,
    photos,
    public,
    residents,
    responsiveness,
    routing,
    stickers,
    survey_pages,
    surveys,
    tasks,
    tiles,
    volunteers,
)
from api.routes import mine as mine_routes
from api.routes import plans as plan_routes
from api.schemas.bounds import check_bounds
from api.schemas.meta import HealthOut, SummaryOut
from api.static import AssetLinks, HashedStaticFiles
from maps.assets import STATIC_DIR
from maps.field import tiles_config
from maps.overview import overview_map
from patrol.city.households import grid_households
from patrol.city.osm_import import summarize
from patrol.city.read_models import layer
from patrol.city.zone import with_city_timezone
from patrol.core.db import make_engine, session_factory
from patrol.core.migrate import current_revision
from patrol.core.replica import ReadReplica
from patrol.core.settings import Settings, get_settings
from patrol.publication.policy import worker_names_public

#: every router, in the order they are matched
ROUTERS = (
    layers.router,
    auth.router,
    auth.pages,
    cases.router,
    photos.router,
    patrols.router,
    tasks.router,
    notices.router,
    open311.router,
    analytics.router,
    responsiveness.router,
    routing.router,
    field.router,
    mine_routes.router,
    field.shell,
    maps.router,
    ogc.router,
    plan_routes.router,
    surveys.router,
    residents.router,
    stickers.router,  # QR stickers and public cards (issue 18)
    survey_pages.router,
    desk.router,
    desk.pages,
    casefile.router,
    tiles.router,
    public.router,  # h5: the residents' pages /r/ and /api/v1/public/
    hotline.router,
    hotline.desk,
    hotline.pages,
    # the people of the grid and how their work is judged (issue 22)
    people.router,
    volunteers.router,
    meetings.router,
    meetings.pages,
    mediation.router,
    needs.router,
    assessment.router,
)


def tile_origins(settings: Settings) -> tuple[str, ...]:
    """The origins (scheme://host[:port]) of the configured basemap, which the pages' policy lets them fetch from
    (the phone app keeps tiles for offline use); a URL template's ``{s}`` subdomains become a wildcard."""
    tiles = tiles_config(settings.tiles, settings.tile_attribution)
    if not tiles:
        return ()
    url = urlsplit(tiles["url"].replace("{s}", "*"))
    return (f"{url.scheme}://{url.netloc}",) if url.scheme in ("http", "https") and url.netloc else ()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="gridpatrol",
        version="0.1.0",
        description="City grid governance (网格化管理): communities, grids, buildings, and the patrol case loop.",
        dependencies=[Depends(check_bounds)],
        docs_url=None, redoc_url=None,  # served by api.docs_pages, with their assets from here
    )
    engine = make_engine(settings.database_url, spatialite_library=settings.spatialite_library)
    sessions = session_factory(engine)
    settings = with_city_timezone(settings, sessions)
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = sessions
    # the same pool; a transaction on it begins IMMEDIATE on SQLite (takes the write lock when it starts)
    app.state.writing_engine = engine.execution_options(sqlite_immediate=True)
    # issue 23: read-only work on a streaming replica (api.deps.get_read_session), a user's own writes excepted
    app.state.replica = ReadReplica(settings.read_database_url, engine) if settings.read_database_url else None
    install_error_handlers(app)
    app.add_middleware(BodyLimit, settings=settings)
    app.add_middleware(AssetLinks)  # hashed asset URLs in every page, before its scripts are hashed for the policy
    app.add_middleware(SecurityHeaders, tile_origins=tile_origins(settings))
    app.add_middleware(ContentETag)  # outside the policy: a 304 carries the page's own policy
    if app.state.replica is not None:
        app.add_middleware(ReadYourWrites, secure=settings.cookie_secure)
    app.add_middleware(Compress)  # outermost: compresses what the others produced
    app.mount("/static", HashedStaticFiles(directory=STATIC_DIR), name="static")
    install_docs(app)
    for router in ROUTERS:
        app.include_router(router)
    open311.install(app)

    @app.get("/health", tags=["meta"], summary="Liveness and database state", response_model=HealthOut)
    def health(session: SessionDep) -> dict:
        session.execute(text("SELECT 1"))
        return {"status": "ok", "database": engine.dialect.name, "revision": current_revision(engine)}

    @app.get("/api/v1/summary", tags=["meta"], summary="What the database holds", response_model=SummaryOut)
    def summary(session: ReadSessionDep) -> dict:
        return summarize(session).__dict__

    @app.get("/", response_class=HTMLResponse, tags=["maps"], summary="Overview map of communities, grids, buildings")
    def overview(session: ReadSessionDep, cfg: SettingsDep,
                 lang: Annotated[Literal["zh", "en"] | None, Query(description="zh (default) or en")] = None
                 ) -> HTMLResponse:
        m = overview_map(
            layer(session, "communities"), layer(session, "grids", worker_names=worker_names_public(cfg)),
            lang=lang or cfg.lang, tiles=cfg.tiles or None, tile_attribution=tile_attribution(session, cfg),
            buildings_url="/api/v1/buildings", households_range=grid_households(session, cfg),
        )
        return HTMLResponse(m.get_root().render())

    return app
