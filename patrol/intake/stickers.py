"""What goes on the QR stickers and the grid workers' public cards (网格员公示牌): which buildings, grids and places,
their labels and their links (:func:`patrol.intake.links.report_url`); :mod:`patrol.intake.sheets` draws them.

- a **building** sticker: its label (e.g. 中山路12号), its grid's name and community; the link carries the building,
  its grid code and a point inside its footprint, so the report page locates it without GPS;
- a **grid** sticker: the grid's name, its code and community; the link carries the grid code;
- a **place** sticker: a named point from the user's CSV or GeoJSON (a square, a bus stop); the link carries the
  point, the name and the grid it lies in;
- a **card** per grid: the grid, the community, the grid worker's display name and work phone (``app_user
  .work_phone``, hidden with ``phone=False``), the service hotline and the grid's QR.

A selection is a grid, a community or a subdistrict (by code, or by name for the latter two), or — with none — the
whole scope of the caller. Staff print within their scope: a supervisor her community, a subdistrict user her
subdistrict's communities, a planner and an admin everything; a grid code outside the scope is refused (403).
The cards hold the worker's display name and work phone: both are meant for the public notice board.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from patrol.cases.places import locate
from patrol.city.labels import display_label, label_column
from patrol.core.auth import Actor
from patrol.core.errors import Forbidden, InvalidInput, NotFound
from patrol.core.models import Building, Community, Grid, Subdistrict, User
from patrol.intake.links import ReportPlace, report_url
from patrol.intake.sheets import Card, Sticker, card_sheet, sheet_pdf, sheet_svg, sticker_sheet

KINDS = ("buildings", "grids", "places", "cards")
#: roles that print stickers, and the ones that see every grid
PRINT_ROLES = ("supervisor", "subdistrict", "planner", "admin")
ALL_GRIDS = ("planner", "admin")
SEP = " · "

TEXT = {
    "zh": {"heading": "扫码反映问题 · 无需下载APP", "grid": "网格", "code": "网格编码", "community": "社区",
           "worker": "网格员", "phone": "工作电话", "hotline": "服务热线", "vacant": "（待配备）",
           "footer": "有事找网格员 · 诉求不出网格", "title": "网格员公示牌"},
    "en": {"heading": "Scan to report a problem · no app needed", "grid": "Grid", "code": "Grid code",
           "community": "Community", "worker": "Grid worker", "phone": "Work phone", "hotline": "Service hotline",
           "vacant": "(to be appointed)", "footer": "Your grid worker is here to help", "title": "Your grid worker"},
}


@dataclass(frozen=True)
class Selection:
    """What to print for: at most one of a grid code, a community and a subdistrict (code or name)."""

    grid: str | None = None
    community: str | None = None
    subdistrict: str | None = None

    def describe(self) -> str:
        return self.grid or self.community or self.subdistrict or "all"


@dataclass(frozen=True)
class PlacePoint:
    name: str
    lon: float
    lat: float


# ---------------------------------------------------------------------------------------------- selection


def _scope_communities(actor: Actor) -> set[int] | None:
    """The communities ``actor`` may print for; None: all of them."""
    if actor.role not in PRINT_ROLES:
        raise Forbidden(f"a {actor.role} does not print stickers", field="role")
    if actor.role in ALL_GRIDS:
        return None
    if actor.role == "supervisor":
        return {actor.community_id} if actor.community_id is not None else set()
    return set(actor.community_ids)


def _by_code_or_name(session: Session, model, value: str, field: str):
    row = session.scalars(select(model).where(model.code == value)).first()
    if row is None:
        rows = list(session.scalars(select(model).where(model.name == value).limit(2)))
        if len(rows) > 1:
            raise InvalidInput(f"{value!r} names several {field}s: give the code", field=field)
        row = rows[0] if rows else None
    if row is None:
        raise NotFound(f"no {field} {value!r}", field=field)
    return row


def select_grids(session: Session, actor: Actor, sel: Selection) -> tuple[list[Grid], set[int] | None]:
    """The selected grids in code order, and the communities whose ungridded buildings belong to the selection
    (None: every community). NotFound for an unknown code, Forbidden outside ``actor``'s scope."""
    given = [v for v in (sel.grid, sel.community, sel.subdistrict) if v]
    if len(given) > 1:
        raise InvalidInput("give one of grid, community and subdistrict", field="grid")
    scope = _scope_communities(actor)
    stmt = select(Grid).order_by(Grid.code)
    communities: set[int] | None = scope
    if sel.grid:
        grid = session.scalars(select(Grid).where(Grid.code == sel.grid)).first()
        if grid is None:
            raise NotFound(f"no grid {sel.grid!r}", field="grid")
        stmt, communities = stmt.where(Grid.id == grid.id), set()
        wanted = {grid.community_id}
    elif sel.community:
        com = _by_code_or_name(session, Community, sel.community, "community")
        wanted = communities = {com.id}
    elif sel.subdistrict:
        sub = _by_code_or_name(session, Subdistrict, sel.subdistrict, "subdistrict")
        wanted = communities = set(session.scalars(select(Community.id).where(Community.subdistrict_id == sub.id)))
    else:
        wanted = scope if scope is not None else set()
        if scope is None:
            return list(session.scalars(stmt)), None
    if scope is not None and not wanted <= scope:
        raise Forbidden(f"{sel.describe()} is outside your scope ({actor.role})", field="grid" if sel.grid else
                        "community" if sel.community else "subdistrict")
    grids = list(session.scalars(stmt.where(Grid.community_id.in_(sorted(wanted) or [-1]))))
    return grids, communities


def _names(session: Session, grids: Sequence[Grid]) -> dict[int, tuple[str, str]]:
    """community id → (community name, subdistrict name)."""
    ids = sorted({g.community_id for g in grids})
    rows = session.execute(select(Community.id, Community.name, Subdistrict.name)
                           .join(Subdistrict, Subdistrict.id == Community.subdistrict_id)
                           .where(Community.id.in_(ids or [-1]))).all()
    return {int(i): (c, s) for i, c, s in rows}


# ---------------------------------------------------------------------------------------------- stickers


def building_stickers(session: Session, grids: Sequence[Grid], communities: set[int] | None, base: str,
                      lang: str = "zh") -> list[Sticker]:
    """A sticker per building of ``grids`` (and the buildings without a grid of ``communities``; None: of all), in
    grid order then by label."""
    by_id = {g.id: g for g in grids}
    gridded = Building.grid_id.in_(sorted(by_id) or [-1])
    if communities is None:
        gridded = or_(gridded, Building.grid_id.is_(None))
    elif communities:
        gridded = or_(gridded, Building.grid_id.is_(None) & Building.community_id.in_(sorted(communities)))
    inside = func.ST_PointOnSurface(Building.geom)
    rows = session.execute(select(Building.id, Building.grid_id, Building.community_id, label_column(),
                                  func.ST_X(inside), func.ST_Y(inside)).where(gridded)).all()
    com_names = dict(session.execute(select(Community.id, Community.name)).all())
    out = []
    for bid, gid, cid, label, x, y in rows:
        grid = by_id.get(gid) if gid is not None else None
        place = ReportPlace(building_id=int(bid), grid_code=grid.code if grid else None,
                            lon=None if x is None else float(x), lat=None if y is None else float(y))
        com = com_names.get(grid.community_id if grid else cid)
        line = SEP.join(p for p in (grid.name if grid else None, com) if p)
        title = display_label(label, lang)
        out.append((grid.code if grid else "~", title, int(bid),
                    Sticker(report_url(base, place), title, (line,) if line else (), TEXT[lang]["heading"])))
    return [s for *_, s in sorted(out, key=lambda t: t[:3])]


def grid_stickers(session: Session, grids: Sequence[Grid], base: str, lang: str = "zh") -> list[Sticker]:
    """A sticker per grid: its name, code and community."""
    names = _names(session, grids)
    return [Sticker(report_url(base, ReportPlace(grid_code=g.code)), g.name,
                    (g.code, SEP.join(n for n in names.get(g.community_id, ("", "")) if n)), TEXT[lang]["heading"])
            for g in grids]


def place_stickers(session: Session, places: Sequence[PlacePoint], base: str, lang: str = "zh") -> list[Sticker]:
    """A sticker per named place: the point, its name and the grid it lies in (none outside every grid)."""
    out = []
    for p in places:
        grid_id = locate(session, p.lon, p.lat).grid_id
        grid = session.get(Grid, grid_id) if grid_id is not None else None
        url = report_url(base, ReportPlace(grid_code=grid.code if grid else None, lon=p.lon, lat=p.lat,
                                           name=p.name))
        out.append(Sticker(url, p.name, (grid.name,) if grid else (), TEXT[lang]["heading"]))
    return out


def cards(session: Session, grids: Sequence[Grid], base: str, *, hotline: str, phone: bool = True,
          title: str | None = None, lang: str = "zh") -> list[Card]:
    """A public card per grid: grid, community, the worker's display name and work phone, the hotline, the QR."""
    t = TEXT[lang]
    names = _names(session, grids)
    workers = {u.id: u for u in session.scalars(
        select(User).where(User.id.in_(sorted({g.worker_id for g in grids if g.worker_id is not None}) or [-1])))}
    out = []
    for g in grids:
        worker = workers.get(g.worker_id) if g.worker_id is not None else None
        com, sub = names.get(g.community_id, ("", ""))
        rows = [(t["grid"], g.name), (t["code"], g.code), (t["community"], f"{com}（{sub}）" if sub else com),
                (t["worker"], worker.display_name if worker and worker.active else t["vacant"])]
        if phone and worker is not None and worker.active and worker.work_phone:
            rows.append((t["phone"], worker.work_phone))
        if hotline:
            rows.append((t["hotline"], hotline))
        # the default title in the card's language; a title of one's own as written
        shown = t["title"] if not title or title == TEXT["zh"]["title"] else title
        out.append(Card(report_url(base, ReportPlace(grid_code=g.code)), shown, tuple(rows),
                        TEXT[lang]["heading"], t["footer"]))
    return out


# ---------------------------------------------------------------------------------------------- places file


def _number(value: object) -> float | None:
    try:
        v = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _check_place(where: str, name: object, lon: object, lat: object, problems: list[str]) -> PlacePoint | None:
    text = str(name or "").strip()
    x, y = _number(lon), _number(lat)
    if not text:
        problems.append(f"{where}: no name")
    if x is None or y is None or not (-180 <= x <= 180 and -90 <= y <= 90):
        problems.append(f"{where}: lon/lat must be WGS-84 degrees, got {lon!r}, {lat!r}")
        return None
    return PlacePoint(text[:100], x, y) if text else None


def _pick(row: dict, *names: str) -> object:
    for n in names:
        if n in row:
            return row[n]
    return None


def read_places(data: bytes, filename: str) -> list[PlacePoint]:
    """Named points from a CSV (columns name/名称, lon/lng/经度, lat/纬度) or a GeoJSON of points (property name);
    every problem reported at once."""
    problems: list[str] = []
    out: list[PlacePoint | None] = []
    text = data.decode("utf-8-sig", errors="replace")
    if filename.lower().endswith((".geojson", ".json")):
        try:
            features = json.loads(text).get("features") or []
        except (ValueError, AttributeError):
            raise InvalidInput(f"{filename}: not GeoJSON", field="places") from None
        for i, f in enumerate(features, 1):
            geom = (f or {}).get("geometry") or {}
            props = (f or {}).get("properties") or {}
            if geom.get("type") != "Point":
                problems.append(f"feature {i}: not a Point")
                continue
            lon, lat = (list(geom.get("coordinates") or []) + [None, None])[:2]
            out.append(_check_place(f"feature {i}", _pick(props, "name", "名称"), lon, lat, problems))
    else:
        reader = csv.DictReader(io.StringIO(text))
        for i, row in enumerate(reader, 2):
            row = {(k or "").strip().lower(): v for k, v in row.items()}
            out.append(_check_place(f"line {i}", _pick(row, "name", "名称"), _pick(row, "lon", "lng", "longitude",
                                    "经度"), _pick(row, "lat", "latitude", "纬度"), problems))
    if problems:
        raise InvalidInput(f"{filename}: {len(problems)} problem{'s' * (len(problems) != 1)} in the places",
                           field="places", details=problems)
    places = [p for p in out if p is not None]
    if not places:
        raise InvalidInput(f"{filename}: nothing to print: no places in the file", field="places")
    return places


def read_places_file(path: Path) -> list[PlacePoint]:
    if not path.is_file():
        raise NotFound(f"no file {path}", field="places")
    return read_places(path.read_bytes(), path.name)


# ---------------------------------------------------------------------------------------------- the sheet


@dataclass
class Printed:
    """A rendered sheet: the PDF, or one SVG document per page; its pages and stickers (or cards)."""

    kind: str
    format: str
    pages: int
    items: int
    pdf: bytes | None = None
    svgs: tuple[str, ...] = ()

    def filename(self, sel: Selection) -> str:
        what = "".join(c for c in sel.describe() if c.isascii() and (c.isalnum() or c in "-_")) or "selection"
        return f"stickers-{self.kind}-{what}.{self.format}"

    def summary(self, out: str) -> str:
        noun = "card" if self.kind == "cards" else "sticker"
        return (f"wrote {self.pages} page{'s' * (self.pages != 1)}, {self.items} {noun}{'s' * (self.items != 1)} "
                f"to {out}")


@dataclass(frozen=True)
class PrintOptions:
    base: str
    format: str = "pdf"
    per_page: int | None = None
    hotline: str = "12345"
    title: str = "网格员公示牌"
    phone: bool = True
    lang: str = "zh"
    max_items: int | None = None


DEFAULT_PER_PAGE = {"buildings": 12, "grids": 4, "places": 4, "cards": 2}


def print_sheet(session: Session, actor: Actor, kind: str, sel: Selection, opts: PrintOptions,
                places: Sequence[PlacePoint] = ()) -> Printed:
    """Stickers (or cards) of ``kind`` for the selection, rendered as ``opts.format``."""
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}", field="kind")
    if opts.format not in ("pdf", "svg"):
        raise InvalidInput("format must be pdf or svg", field="format")
    lang = "en" if opts.lang == "en" else "zh"
    per_page = opts.per_page or DEFAULT_PER_PAGE[kind]
    if kind == "places":
        _scope_communities(actor)
        items: list = place_stickers(session, places, opts.base, lang)
    else:
        grids, communities = select_grids(session, actor, sel)
        if not grids and kind != "buildings":
            raise InvalidInput(f"nothing to print: {sel.describe()} has no grids", field="selection")
        if kind == "buildings":
            items = building_stickers(session, grids, communities, opts.base, lang)
        elif kind == "grids":
            items = grid_stickers(session, grids, opts.base, lang)
        else:
            items = cards(session, grids, opts.base, hotline=opts.hotline, phone=opts.phone, title=opts.title,
                          lang=lang)
    if not items:
        raise InvalidInput(f"nothing to print: {sel.describe()} has no {kind}", field="selection")
    if opts.max_items is not None and len(items) > opts.max_items:
        raise InvalidInput(f"{len(items)} {kind} are more than {opts.max_items} at once: choose a grid or a "
                           "community, or use the command line", field="selection")
    sheet = card_sheet(items, per_page) if kind == "cards" else sticker_sheet(items, per_page)
    title = f"{kind} {sel.describe()}"
    out = Printed(kind, opts.format, len(sheet.pages), sheet.items)
    if opts.format == "pdf":
        out.pdf = sheet_pdf(sheet, title)
    else:
        out.svgs = tuple(sheet_svg(sheet, title))
    return out
