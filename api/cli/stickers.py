"""Printable QR stickers and grid workers' public cards (网格员公示牌):
``gridpatrol stickers buildings|grids|places|cards [--community CODE | --grid CODE | --subdistrict CODE]
[--places FILE] [--format pdf|svg] --out FILE [--per-page N]``.

A PDF is one file of A4 pages; SVG is one document per page: ``--out sheet.svg`` writes ``sheet.svg`` for a single
page and ``sheet-01.svg``, ``sheet-02.svg``, … for more.
"""

from __future__ import annotations

from pathlib import Path

import click

from api.cli.context import Group, open_database
from patrol.core.auth import SYSTEM
from patrol.intake.stickers import Printed, PrintOptions, Selection, print_sheet, read_places_file


@click.group(cls=Group, help="printable QR stickers (A4, PDF or SVG) and the grid workers' public cards")
def stickers() -> None:
    pass


def svg_paths(out: Path, pages: int) -> list[Path]:
    """Where the SVG pages go: ``out`` for one page, ``out-01.svg`` … for more."""
    if pages == 1:
        return [out]
    width = max(2, len(str(pages)))
    return [out.with_name(f"{out.stem}-{i:0{width}d}{out.suffix or '.svg'}") for i in range(1, pages + 1)]


def write(printed: Printed, out: Path) -> str:
    out.parent.mkdir(parents=True, exist_ok=True)
    if printed.pdf is not None:
        out.write_bytes(printed.pdf)
        return str(out)
    paths = svg_paths(out, printed.pages)
    for path, svg in zip(paths, printed.svgs, strict=True):
        path.write_text(svg, encoding="utf-8")
    return str(out) if len(paths) == 1 else f"{paths[0]} … {paths[-1].name}"


def _selection_options(f):
    f = click.option("--subdistrict", help="a subdistrict's (街道) code or name")(f)
    f = click.option("--community", help="a community's code or name")(f)
    return click.option("--grid", help="a grid's code")(f)


def _common_options(f):
    f = click.option("--per-page", type=int, help="stickers (cards) to an A4 page")(f)
    f = click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)(f)
    f = click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
                     help="the file to write (.pdf, or .svg: one file per page)")(f)
    return click.option("--format", "fmt", type=click.Choice(["pdf", "svg"]),
                        help="default: from --out's suffix, else pdf")(f)


def _run(kind: str, sel: Selection, out: Path, fmt: str | None, per_page: int | None, lang: str,
         places_file: Path | None = None, *, title: str | None = None, hotline: str | None = None,
         phone: bool = True) -> None:
    fmt = fmt or ("svg" if out.suffix.lower() == ".svg" else "pdf")
    database = open_database()
    settings = database.settings
    places = read_places_file(places_file) if places_file is not None else []
    opts = PrintOptions(base=settings.public_url, format=fmt, per_page=per_page, lang=lang,
                        hotline=settings.sticker_hotline if hotline is None else hotline,
                        title=title or settings.sticker_card_title, phone=phone)
    with database.sessions() as session:
        printed = print_sheet(session, SYSTEM, kind, sel, opts, places)
    print(printed.summary(write(printed, out)))


@stickers.command("buildings", help="a QR sticker per building (its label, grid and a point inside it)")
@_selection_options
@_common_options
def buildings(grid: str | None, community: str | None, subdistrict: str | None, out: Path, fmt: str | None,
              per_page: int | None, lang: str) -> None:
    _run("buildings", Selection(grid, community, subdistrict), out, fmt, per_page, lang)


@stickers.command("grids", help="a QR sticker per grid (its name, code and community)")
@_selection_options
@_common_options
def grids(grid: str | None, community: str | None, subdistrict: str | None, out: Path, fmt: str | None,
          per_page: int | None, lang: str) -> None:
    _run("grids", Selection(grid, community, subdistrict), out, fmt, per_page, lang)


@stickers.command("places", help="a QR sticker per named place of a CSV (name, lon, lat) or GeoJSON of points")
@click.option("--places", "places_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="CSV with columns name, lon, lat (WGS-84), or GeoJSON points with a name property")
@_common_options
def places(places_file: Path, out: Path, fmt: str | None, per_page: int | None, lang: str) -> None:
    _run("places", Selection(), out, fmt, per_page, lang, places_file)


@stickers.command("cards", help="the grid worker's public card (网格员公示牌) per grid: grid, worker, work phone, QR")
@_selection_options
@_common_options
@click.option("--title", help="the card's title (default: GRIDPATROL_STICKER_CARD_TITLE, 网格员公示牌)")
@click.option("--hotline", help="the service hotline printed (default: GRIDPATROL_STICKER_HOTLINE, 12345; '' none)")
@click.option("--no-phone", is_flag=True, help="leave the worker's work phone off")
def cards(grid: str | None, community: str | None, subdistrict: str | None, out: Path, fmt: str | None,
          per_page: int | None, lang: str, title: str | None, hotline: str | None, no_phone: bool) -> None:
    _run("cards", Selection(grid, community, subdistrict), out, fmt, per_page, lang, title=title, hotline=hotline,
         phone=not no_phone)

