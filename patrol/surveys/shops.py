"""Street-front shops (沿街商户) and their codes (一户一码): the QR on a shop's door opens its inspection on the phone.

A shop code is ``S`` + 8 random Crockford base-32 characters + 1 check character (see :func:`check_char`), e.g.
``S7KQ2M9XDM``. It is random, never derived from the grid or the building, so it stays valid on the printed sticker
when grids are redrawn; the check character turns a mistyped code into "not a shop code" (422) instead of a
confusing "no such shop" (404). Crockford's alphabet has no I, L, O or U, and reading a code back forgives the
usual confusions (O → 0, I/L → 1) and lower case.

A shop belongs to a building; its grid and community are the building's, so a grid worker sees the shops of her
grids and a supervisor those of her community. Shops hold no personal data (no owner names, no phone numbers).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import secrets
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

import geopandas as gpd
import numpy as np
import pandas as pd
import pyrosm
import segno
import shapely
from pyproj import Transformer
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from patrol.cases.lifecycle import OPEN
from patrol.cases.places import locate, to_point
from patrol.core.auth import Actor
from patrol.core.errors import Forbidden, ImportFailed, InvalidInput, NotFound
from patrol.core.frames import ewkt, read_frame
from patrol.core.models import Building, Case, Checklist, City, Grid, Inspection, InspectionFinding, Shop
from patrol.core.time import iso
from patrol.surveys.shop_kinds import kind_name, kind_zh

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base 32
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_ALIASES = str.maketrans({"O": "0", "I": "1", "L": "1"})
BODY_LENGTH = 8
CODE_LENGTH = 1 + BODY_LENGTH + 1
NEAR_M = 30.0
OSM_AMENITIES = ("restaurant", "cafe", "fast_food", "pharmacy")


# ---------------------------------------------------------------------------------------------- codes


def _times_x(v: int) -> int:
    """``v`` times x in GF(32) = GF(2)[x] / (x⁵ + x² + 1)."""
    v <<= 1
    return v ^ 0b100101 if v & 0b100000 else v


def check_char(body: str) -> str:
    """The check character of a code body: Σ xⁿ⁻ⁱ·cᵢ in GF(32) (x a primitive element), i.e. Damm's totally
    anti-symmetric quasigroup c∘v = x·c + v. It catches every single wrong character and every swap of two
    neighbouring ones, the two common typing mistakes (a Luhn mod 32 check misses the swap of 0 and Z)."""
    acc = 0
    for ch in body:
        acc = _times_x(acc) ^ _VALUE[ch]
    return ALPHABET[_times_x(acc)]


def new_shop_code() -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY_LENGTH))
    return f"S{body}{check_char(body)}"


def normalise_shop_code(text: str | None) -> str | None:
    """The canonical form of a code as typed (case, spaces, hyphens and O/I/L forgiven), or None when it is not a
    shop code."""
    if not isinstance(text, str):
        return None
    code = text.strip().upper().replace("-", "").replace(" ", "")
    if len(code) != CODE_LENGTH or code[0] != "S":
        return None
    rest = code[1:].translate(_ALIASES)
    if any(c not in _VALUE for c in rest) or check_char(rest[:-1]) != rest[-1]:
        return None
    return "S" + rest


def valid_shop_code(code: str | None) -> bool:
    return normalise_shop_code(code) is not None


def parse_shop_code(text: str | None, *, field: str = "code") -> str:
    code = normalise_shop_code(text)
    if code is None:
        raise InvalidInput(f"{text!r} is not a shop code (S + 9 characters, e.g. {new_shop_code()}): check the "
                           "code on the sticker", field=field)
    return code


# ---------------------------------------------------------------------------------------------- scope


def building_place(session: Session, building_id: int) -> tuple[Building, int | None, int | None]:
    """A building with its grid and community (the grid's, else the building's own)."""
    b = session.get(Building, building_id)
    if b is None:
        raise InvalidInput(f"no building {building_id}", field="building_id")
    community = session.scalar(select(Grid.community_id).where(Grid.id == b.grid_id)) if b.grid_id else None
    return b, b.grid_id, community if community is not None else b.community_id


def may_read(actor: Actor, grid_id: int | None, community_id: int | None) -> bool:
    """Whether ``actor`` may read shops and inspections of a grid: her grids, her community, or all (admin,
    planner), her subdistrict's communities (街道, read only); departments and Open311 clients never."""
    if actor.role in ("admin", "planner"):
        return True
    if actor.role == "supervisor":
        return community_id is not None and community_id == actor.community_id
    if actor.role == "subdistrict":
        return community_id is not None and community_id in actor.community_ids
    if actor.role in ("grid_worker", "grid_lead"):  # a 网格长: the grids she leads (patrol.people.scope)
        return grid_id is not None and grid_id in actor.grid_ids
    return False


def require_reader(actor: Actor) -> None:
    if actor.role not in ("admin", "planner", "supervisor", "subdistrict", "grid_worker", "grid_lead"):
        raise Forbidden(f"a {actor.role} has no access to shops and inspections", field="role")


def grid_scope(session: Session, actor: Actor) -> list[int] | None:
    """The grids whose shops and inspections ``actor`` may read: None for all (admin, planner)."""
    require_reader(actor)
    if actor.role in ("admin", "planner"):
        return None
    if actor.role == "supervisor":
        return list(session.scalars(select(Grid.id).where(Grid.community_id == actor.community_id)))
    if actor.role == "subdistrict":
        return list(session.scalars(select(Grid.id).where(Grid.community_id.in_(sorted(actor.community_ids) or [-1]))))
    return sorted(actor.grid_ids)


def _may_write(actor: Actor, grid_id: int | None, community_id: int | None, what: str) -> None:
    if actor.role == "admin":
        return
    if actor.role == "grid_worker":
        if grid_id is None or grid_id not in actor.grid_ids:
            raise Forbidden(f"the {what} lies outside your grids", field="building_id")
        return
    if actor.role == "supervisor":
        if community_id is None or community_id != actor.community_id:
            raise Forbidden(f"the {what} lies outside your community", field="building_id")
        return
    raise Forbidden(f"a {actor.role} cannot register shops", field="role")


# ---------------------------------------------------------------------------------------------- creating


def _metric(session: Session) -> Transformer:
    city = session.scalars(select(City).limit(1)).first()
    epsg = city.metric_epsg if city else 3857
    return Transformer.from_crs(4326, epsg, always_xy=True)


def _building_geom(session: Session, building_id: int) -> shapely.Geometry:
    wkb = session.scalar(select(func.ST_AsBinary(Building.geom)).where(Building.id == building_id))
    return shapely.from_wkb(bytes(wkb))


def shop_point(session: Session, building_id: int, grid_id: int | None, lon: float | None,
               lat: float | None) -> tuple[float, float]:
    """Where a shop is drawn and where the cases of its inspections go: the point given, if within 30 m of the
    building and in the building's grid (a point across a grid boundary would put those cases in another
    worker's grid), else the building's representative point."""
    geom = _building_geom(session, building_id)
    inside = geom.representative_point()
    if lon is None or lat is None:
        return inside.x, inside.y
    x, y = to_point(lon, lat)
    tr = _metric(session)
    metric = shapely.transform(geom, lambda c: _xy(tr, c))
    d = shapely.Point(tr.transform(x, y)).distance(metric)
    if d > NEAR_M:
        raise InvalidInput(f"the point is {d:.0f} m from building {building_id}; a shop lies within {NEAR_M:.0f} m "
                           "of its building", field="lat")
    if grid_id is not None and locate(session, x, y).grid_id != grid_id:
        return inside.x, inside.y
    return x, y


def _xy(tr: Transformer, coords: np.ndarray) -> np.ndarray:
    x, y = tr.transform(coords[:, 0], coords[:, 1])
    return np.column_stack([x, y])


def unused_shop_code(session: Session) -> str:
    for _ in range(20):
        code = new_shop_code()
        if session.scalar(select(Shop.id).where(Shop.code == code)) is None:
            return code
    raise RuntimeError("could not draw an unused shop code")  # 32^8 codes: never in practice


def create_shop(session: Session, actor: Actor, *, name: str, building_id: int, kind: str | None = None,
                lon: float | None = None, lat: float | None = None, licence_no: str | None = None,
                address: str | None = None, now: dt.datetime | None = None) -> Shop:
    """Register a shop in a building (grid worker in her grids, supervisor in her community, admin) with a new
    random code."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("name: the shop's name (店名) is required", field="name")
    b, grid_id, community_id = building_place(session, building_id)
    _may_write(actor, grid_id, community_id, "building")
    x, y = shop_point(session, b.id, grid_id, lon, lat)
    shop = Shop(code=unused_shop_code(session), name=name.strip()[:200], kind=kind, building_id=b.id,
                address=address or b.address, licence_no=licence_no, active=True,
                created_at=now or dt.datetime.now(dt.UTC), geom=ewkt([shapely.Point(x, y)])[0])
    session.add(shop)
    session.flush()
    return shop


# ---------------------------------------------------------------------------------------------- reading


def get_shop(session: Session, actor: Actor, code: str) -> Shop:
    """A shop by code: 422 for something that is not a shop code, 404 for an unknown one, 403 outside the actor's
    scope."""
    require_reader(actor)
    canonical = parse_shop_code(code)
    shop = session.scalars(select(Shop).where(Shop.code == canonical)).first()
    if shop is None:
        raise NotFound(f"no shop {canonical}", field="code")
    _, grid_id, community_id = building_place(session, shop.building_id)
    if not may_read(actor, grid_id, community_id):
        raise Forbidden(f"shop {canonical} is outside your scope ({actor.role})", field="code")
    return shop


def _rows(session: Session, where: list, q: str | None = None) -> list[dict]:
    stmt = (select(Shop, Building.grid_id, func.ST_X(Shop.geom), func.ST_Y(Shop.geom))
            .join(Building, Building.id == Shop.building_id).where(*where).order_by(Shop.name, Shop.id))
    if q:
        like = f"%{q.strip()}%"
        stmt = stmt.where(or_(Shop.name.ilike(like), Shop.code == (normalise_shop_code(q) or ""),
                              Shop.address.ilike(like), Shop.kind.ilike(like)))
    rows = session.execute(stmt).all()
    ids = [r[0].id for r in rows] or [-1]
    last = dict(session.execute(select(Inspection.shop_id, func.max(Inspection.at))
                                .where(Inspection.shop_id.in_(ids)).group_by(Inspection.shop_id)).all())
    open_ = dict(session.execute(
        select(Inspection.shop_id, func.count(InspectionFinding.id))
        .join(InspectionFinding, InspectionFinding.inspection_id == Inspection.id)
        .join(Case, Case.id == InspectionFinding.case_id)
        .where(Inspection.shop_id.in_(ids), Case.status.in_(tuple(OPEN))).group_by(Inspection.shop_id)).all())
    return [{"id": s.id, "code": s.code, "name": s.name, "kind": s.kind, "kind_name": kind_name(s.kind),
             "building_id": s.building_id,
             "grid_id": g, "address": s.address, "active": s.active, "lon": x, "lat": y,
             "last_inspection_at": iso(last.get(s.id)), "open_findings": int(open_.get(s.id, 0))}
            for s, g, x, y in rows]


def shops_of(session: Session, grid_ids) -> list[dict]:
    """The active shops of some grids, for the field app: ``[{id, code, name, kind, building_id, lon, lat,
    last_inspection_at, open_findings}]`` (open findings: findings whose case is still open)."""
    return _rows(session, [Building.grid_id.in_(list(grid_ids) or [-1]), Shop.active])


def list_shops(session: Session, actor: Actor, *, grid_id: int | None = None, q: str | None = None,
               include_inactive: bool = False) -> list[dict]:
    """The shops the actor may read, optionally of one grid and matching ``q`` (name, address, kind or code)."""
    grids = grid_scope(session, actor)
    where = [] if include_inactive else [Shop.active]
    if grids is not None:
        if grid_id is not None and grid_id not in grids:
            raise Forbidden(f"grid {grid_id} is outside your scope", field="grid_id")
        where.append(Building.grid_id.in_(grids or [-1]))
    if grid_id is not None:
        where.append(Building.grid_id == grid_id)
    return _rows(session, where, q)


def shop_detail(session: Session, shop: Shop) -> dict:
    """A shop with its inspections (newest first, with their findings and the status of the cases they opened) and
    those cases."""
    out = _rows(session, [Shop.id == shop.id])[0]
    out["licence_no"], out["osm_id"] = shop.licence_no, shop.osm_id
    out["created_at"] = iso(shop.created_at)
    inspections = session.execute(
        select(Inspection, Checklist.code, Checklist.version, Checklist.definition, Checklist.title_zh,
               Checklist.title_en)
        .join(Checklist, Checklist.id == Inspection.checklist_id)
        .where(Inspection.shop_id == shop.id).order_by(Inspection.at.desc(), Inspection.id.desc())).all()
    findings = session.execute(
        select(InspectionFinding, Case).outerjoin(Case, Case.id == InspectionFinding.case_id)
        .where(InspectionFinding.inspection_id.in_([i.id for i, *_ in inspections] or [-1]))
        .order_by(InspectionFinding.id)).all()
    by_insp: dict[int, list] = {}
    for f, c in findings:
        by_insp.setdefault(f.inspection_id, []).append((f, c))
    out["inspections"], cases = [], []
    for insp, code, version, definition, title_zh, title_en in inspections:
        texts = {i["id"]: i["text"] for i in json.loads(definition)["items"]}
        out["inspections"].append({
            "id": insp.id, "at": iso(insp.at), "checklist": code, "version": version,
            "checklist_id": insp.checklist_id, "title": {"zh": title_zh, "en": title_en}, "failed": insp.failed,
            "findings": [{"item": f.item_id, "text": texts.get(f.item_id), "category": f.category_code,
                          "case_id": f.case_id, "case_status": c.status if c else None,
                          "deadline_at": iso(f.deadline_at)} for f, c in by_insp.get(insp.id, [])]})
        cases += [{"id": c.id, "status": c.status, "category": c.category_code, "item": f.item_id,
                   "inspection_id": insp.id, "reported_at": iso(c.reported_at),
                   "deadline_at": iso(c.deadline_at), "closed_at": iso(c.closed_at)}
                  for f, c in by_insp.get(insp.id, []) if c is not None]
    out["cases"] = cases
    return out


# ---------------------------------------------------------------------------------------------- QR code


def shop_url(base_url: str, code: str) -> str:
    return f"{base_url.rstrip('/')}/app/#shop/{code}"


def shop_qr_svg(shop: Shop, base_url: str, *, scale: int = 8) -> str:
    """A printable SVG: the QR code of the shop's page in the field app, with the shop's name and code under it
    (for people, and for typing the code when a camera cannot read the sticker)."""
    qr = segno.make(shop_url(base_url, shop.code), error="m")
    buf = io.BytesIO()
    qr.save(buf, kind="svg", scale=scale, border=4, xmldecl=False, svgns=True, title=shop.code)
    inner = buf.getvalue().decode("utf-8")
    width, height = qr.symbol_size(scale=scale, border=4)
    width = max(width, 240)
    text_h = 64
    x = width / 2
    qr_x = (width - qr.symbol_size(scale=scale, border=4)[0]) / 2
    return (f'<?xml version="1.0" encoding="utf-8"?>\n'
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + text_h}" '
            f'viewBox="0 0 {width} {height + text_h}">'
            f'<rect width="100%" height="100%" fill="#fff"/>'
            f'<g transform="translate({qr_x:g},0)">{inner}</g>'
            f'<text x="{x:g}" y="{height + 20}" text-anchor="middle" font-family="sans-serif" font-size="18" '
            f'fill="#000">{escape(shop.name)}</text>'
            f'<text x="{x:g}" y="{height + 48}" text-anchor="middle" font-family="monospace" font-size="20" '
            f'font-weight="bold" fill="#000" letter-spacing="2">{escape(shop.code)}</text></svg>\n')


# ---------------------------------------------------------------------------------------------- OSM import


@dataclass
class ShopImport:
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped_far: int = 0
    skipped_outside: int = 0
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [f"read {self.read} OSM shops and restaurants (shop=*, amenity={'/'.join(OSM_AMENITIES)})",
                f"created {self.created}, updated {self.updated}, unchanged {self.unchanged}",
                (f"skipped {self.skipped_far} with no building within {NEAR_M:.0f} m, "
                 f"{self.skipped_outside} in buildings outside every grid"), *[f"note: {n}" for n in self.notes]]


def read_osm_shops(path: str | Path):
    """POIs with a shop=* tag or an amenity of :data:`OSM_AMENITIES`, as a GeoDataFrame (WGS-84) with osm_id
    (nodes positive, ways negative), name, kind, address and a point."""
    path = Path(path)
    if not path.is_file():
        raise ImportFailed(f"no such file: {path}", field="file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pois = pyrosm.OSM(str(path)).get_pois(custom_filter={"shop": True, "amenity": list(OSM_AMENITIES)})
    except Exception as exc:  # pyrosm raises plain exceptions for unreadable files
        raise ImportFailed(f"cannot read {path.name} as an OpenStreetMap .osm.pbf file: {exc}", field="file") from exc
    columns = ["osm_id", "name", "kind", "address", "geometry"]
    if pois is None or len(pois) == 0:
        return gpd.GeoDataFrame({c: [] for c in columns[:-1]}, geometry=[], crs=4326)

    def col(name):
        return pois[name] if name in pois else pd.Series([None] * len(pois), index=pois.index)

    shop, amenity = col("shop"), col("amenity")
    keep = shop.notna() | amenity.isin(OSM_AMENITIES)
    keep &= col("osm_type").isin(["node", "way"])
    p = pois[keep]
    kind = shop[keep].where(shop[keep].notna(), amenity[keep])
    ids = [int(i) if t == "node" else -int(i) for i, t in zip(p["id"], col("osm_type")[keep], strict=True)]
    street, number = col("addr:street")[keep], col("addr:housenumber")[keep]
    address = [" ".join(str(v) for v in (s, n) if isinstance(v, str) and v) or None
               for s, n in zip(street, number, strict=True)]
    points = [g.representative_point() if g.geom_type != "Point" else g for g in p.geometry]
    return gpd.GeoDataFrame({"osm_id": ids, "name": list(col("name")[keep]), "kind": list(kind),
                             "address": address}, geometry=points, crs=4326)


def import_osm_shops(session: Session, path: str | Path, *, max_m: float = NEAR_M) -> ShopImport:
    """Shops from OpenStreetMap: each POI goes to the building containing it, else the nearest within ``max_m``;
    POIs near no building, or whose building is in no grid, are skipped. Idempotent by OSM id: a shop imported
    before keeps its code and is updated (name, kind, building, point)."""
    pois = read_osm_shops(path)
    result = ShopImport(read=len(pois))
    if pois.empty:
        return result
    city = session.scalars(select(City).limit(1)).first()
    if city is None:
        raise ImportFailed("import a city first (gridpatrol import CITY.osm.pbf): shops go into its buildings")
    buildings = read_frame(session, [Building.id, Building.grid_id], Building.geom)
    grids = read_frame(session, [Grid.id], Grid.geom)
    metric = city.metric_epsg
    b_m = buildings.to_crs(metric)
    p_m = pois.to_crs(metric).reset_index(drop=True)
    joined = gpd.sjoin_nearest(p_m, b_m[["id", "grid_id", "geometry"]], how="left", max_distance=max_m,
                               distance_col="dist_m")
    joined = joined[~joined.index.duplicated(keep="first")]  # ties: the lowest building
    point_grid = gpd.sjoin(pois.reset_index(drop=True), grids.rename(columns={"id": "point_grid"}), how="left",
                           predicate="within")
    point_grid = point_grid[~point_grid.index.duplicated(keep="first")]["point_grid"]
    inside = buildings.set_index("id").geometry.representative_point()
    existing = {s.osm_id: s for s in session.scalars(select(Shop).where(Shop.osm_id.in_(
        [int(i) for i in pois["osm_id"]])))}
    for i, poi in pois.reset_index(drop=True).iterrows():
        bid, grid = joined.at[i, "id"], joined.at[i, "grid_id"]
        if bid is None or (isinstance(bid, float) and math.isnan(bid)):
            result.skipped_far += 1
            continue
        if grid is None or (isinstance(grid, float) and math.isnan(grid)):
            result.skipped_outside += 1
            continue
        bid, grid = int(bid), int(grid)
        pg = point_grid.get(i)
        pt = poi.geometry if pg is not None and not (isinstance(pg, float) and math.isnan(pg)) and int(pg) == grid \
            else inside[bid]
        kind = str(poi["kind"]).split(";")[0][:60] if isinstance(poi["kind"], str) else None
        unnamed = f"未命名商户（{kind_zh(kind) or '商户'}）"
        name = poi["name"] if isinstance(poi["name"], str) and poi["name"].strip() else unnamed
        values = {"name": name.strip()[:200], "kind": kind, "building_id": bid,
                  "address": poi["address"][:300] if isinstance(poi["address"], str) else None}
        shop = existing.get(int(poi["osm_id"]))
        geom = ewkt([pt])[0]
        if shop is None:
            session.add(Shop(code=unused_shop_code(session), osm_id=int(poi["osm_id"]), active=True,
                             geom=geom, **values))
            session.flush()
            result.created += 1
            continue
        old = session.scalar(select(func.ST_AsBinary(Shop.geom)).where(Shop.id == shop.id))
        moved = not shapely.equals_exact(shapely.from_wkb(bytes(old)), pt, tolerance=1e-9)
        if moved or any(getattr(shop, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(shop, k, v)
            if moved:
                shop.geom = geom
            result.updated += 1
        else:
            result.unchanged += 1
    session.flush()
    return result
