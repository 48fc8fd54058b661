"""The register as CSV: the supervisor's export, and the import of a spreadsheet (all or nothing: every bad row is
reported and nothing is written)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from patrol.city.labels import display_label, label_column
from patrol.core.auth import Actor
from patrol.core.columns import key_of
from patrol.core.errors import Forbidden, ImportFailed, InvalidInput
from patrol.core.models import (
    Building,
    Grid,
    Household,
    Resident,
)
from patrol.core.settings import Settings
from patrol.surveys.residents.access import (
    CLI_ROLE,
    audit,
    can_read_person,
    grid_in_scope,
    personal_scope,
    require_personal_role,
)
from patrol.surveys.residents.fields import (
    clean_household,
    clean_resident,
    max_chars,
    number_kind,
    number_range,
)
from patrol.surveys.residents.register import (
    Standing,
    standings,
    vulnerability,
)

EXPORT_COLUMNS = ("household_id", "building_id", "building_osm_id", "building_label", "grid_code", "room", "head_name",
                  "phone",
                  "members", "note", "resident_id", "name", "phone_resident", "birth_year", "disabled", "disability",
                  "lives_alone", "health", "visit_every_days", "vulnerable", "reasons", "last_visit_at",
                  "next_due_on")
IMPORT_COLUMNS = ("building_osm_id", "building_id", "room", "head_name", "phone", "members", "name",
                  "phone_resident", "birth_year", "disabled", "disability", "lives_alone", "health",
                  "visit_every_days", "note")
#: Columns of the export that an import ignores, so that an exported file can be edited and imported again.
EXPORT_ONLY = tuple(c for c in EXPORT_COLUMNS if c not in IMPORT_COLUMNS)


def export_csv(session: Session, actor: Actor, *, today: dt.date, settings: Settings, via: str,
               grid_id: int | None = None) -> str:
    """The supervisor's register of her community as CSV (UTF-8 with BOM for Excel), in full — one row per
    resident, a household without residents on one row. Audited ``export`` (every household and resident)."""
    if actor.role not in ("supervisor", CLI_ROLE):
        require_personal_role(actor)
        raise Forbidden("the register export is for the community's supervisor", field="role")
    where = personal_scope(actor)
    if grid_id is not None:
        grid_in_scope(session, actor, grid_id)
        where.append(Building.grid_id == grid_id)
    rows = session.execute(
        select(Household, Building.osm_id, label_column(), Grid.code)
        .join(Building, Building.id == Household.building_id)
        .outerjoin(Grid, Grid.id == Building.grid_id).where(*where)
        .order_by(Grid.code, Household.building_id, Household.room, Household.id)).all()
    ids = select(Household.id).join(Building, Building.id == Household.building_id).where(*where)
    state = standings(session, ids, today=today, settings=settings)
    residents: dict[int, list[Resident]] = {}
    for person in session.scalars(select(Resident).where(Resident.household_id.in_(ids)).order_by(Resident.id)):
        residents.setdefault(person.household_id, []).append(person)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(EXPORT_COLUMNS)
    pairs: list[tuple[int, int | None]] = []
    for h, osm_id, label, code in rows:
        s = state.get(h.id, Standing())
        head = [h.id, h.building_id, osm_id or "", display_label(label), code or "", h.room, h.head_name or "",
                h.phone or "",
                "" if h.members is None else h.members, h.note or ""]
        tail = [s.last_visit_at.isoformat() if s.last_visit_at else "",
                s.next_due_on.isoformat() if s.next_due_on else ""]
        pairs.append((h.id, None))
        people: list[Resident | None] = list(residents.get(h.id, [])) or [None]
        for r in people:
            if r is None:
                w.writerow([*head, *[""] * 11, *tail])
                continue
            reasons = vulnerability(r, today, settings)
            w.writerow([*head, r.id, r.name, r.phone or "", r.birth_year or "", "yes" if r.disabled else "no",
                        r.disability or "", "yes" if r.lives_alone else "no", r.health or "",
                        r.visit_every_days or "", "yes" if reasons else "no", " ".join(reasons), *tail])
            pairs.append((h.id, r.id))
    audit(session, actor, "export", via, pairs)
    return "\ufeff" + buf.getvalue()


_TRUE = {"1", "true", "yes", "y", "是", "t", "x", "✓"}
_FALSE = {"", "0", "false", "no", "n", "否", "f"}


@dataclass
class ImportSummary:
    households_created: int = 0
    households_updated: int = 0
    residents_created: int = 0
    residents_updated: int = 0
    rows: int = 0

    def lines(self) -> list[str]:
        return [f"read {self.rows} rows",
                f"households 户: {self.households_created} added, {self.households_updated} updated",
                f"residents 居民: {self.residents_created} added, {self.residents_updated} updated"]


def read_csv(path: Path) -> list[dict[str, str]]:
    """The rows of a register CSV as dicts (UTF-8, with or without BOM, or GB18030 as Chinese Excel writes it)."""
    raw = Path(path).read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte string
        raise ImportFailed(f"cannot import {Path(path).name}: not UTF-8 or GB18030 text")
    reader = csv.DictReader(io.StringIO(text))
    # an exported file reads back whatever its headers (?headers=zh|en|keys: patrol.core.columns)
    reader.fieldnames = [key_of(c or "") for c in reader.fieldnames or []]
    columns = [c.strip() for c in reader.fieldnames or []]
    unknown = [c for c in columns if c and c not in IMPORT_COLUMNS and c not in EXPORT_ONLY]
    problems = []
    if unknown:
        problems.append(f"unknown columns: {', '.join(unknown)}; columns: {', '.join(IMPORT_COLUMNS)}")
    if "room" not in columns or not ({"building_id", "building_osm_id"} & set(columns)):
        problems.append("the header needs room and building_id or building_osm_id")
    if problems:
        raise ImportFailed(f"cannot import {Path(path).name}: nothing was written", details=problems)
    return [{(k or "").strip(): _as_typed((v or "").strip()) for k, v in row.items() if k is not None}
            for row in reader]


def _as_typed(cell: str) -> str:
    """A cell as it was before the export shielded it from spreadsheet formulas (api.csv_safe puts ``'`` before a
    cell starting with = + - @, e.g. a phone ``+86…``), so an exported register imports again unchanged."""
    return cell[1:] if cell[:1] == "'" and cell[1:2] in ("=", "+", "-", "@") else cell


def import_rows(session: Session, actor: Actor, rows: list[dict[str, str]], *, source: str, today: dt.date,
                via: str = "cli") -> ImportSummary:
    """Import register rows (one per resident; rows of the same building + room form one household; a row without
    ``name`` is a household alone). All or nothing: every bad row is reported (``row 7: birth_year 'abc' is not a
    year``; row 1 is the header) and nothing is written. A household already in the register is updated with the
    values given, a resident (matched by name within the household) likewise, so importing the same file twice
    changes nothing. Audited ``create`` / ``update``."""
    require_personal_role(actor)
    problems, households = _read_rows(session, actor, rows, today)
    if problems:
        raise ImportFailed(f"cannot import {source}: {len(problems)} problems; nothing was written",
                           details=problems)
    summary = ImportSummary(rows=len(rows))
    now = dt.datetime.now(dt.UTC)
    pairs: dict[str, list[tuple[int, int | None]]] = {"create": [], "update": []}
    for (building_id, room), entry in households.items():
        h = _write_household(session, building_id, room, entry["fields"], now, summary, pairs)
        _write_residents(session, h, entry["residents"], summary, pairs)
    session.flush()
    for action, done in pairs.items():
        audit(session, actor, action, via, done, now)
    return summary


def _read_rows(session: Session, actor: Actor, rows: list[dict[str, str]], today: dt.date
               ) -> tuple[list[str], dict[tuple[int, str], dict]]:
    """Every problem of the rows, and the households they give: (building id, room) → the row that first named
    it, its fields and its residents by name."""
    problems: list[str] = []
    households: dict[tuple[int, str], dict] = {}
    osm_cache: dict[str, list[int]] = {}
    for i, row in enumerate(rows, start=2):
        p, b, household, resident = _check_row(session, actor, row, osm_cache, today)
        if p or b is None:
            problems += [f"row {i}: {x}" for x in p]
            continue
        room = row["room"]
        entry = households.setdefault((b.id, room), {"row": i, "fields": {}, "residents": {}})
        for k, v in household.items():
            if v is None:
                continue
            if k in entry["fields"] and entry["fields"][k] != v:
                problems.append(f"row {i}: {k} {v!r} differs from {entry['fields'][k]!r} given for the same "
                                f"household (building {b.id} room {room}) in row {entry['row']}")
            entry["fields"][k] = v
        if resident is not None:
            if resident["name"] in entry["residents"]:
                problems.append(f"row {i}: {resident['name']} is listed twice in building {b.id} room {room}")
            entry["residents"][resident["name"]] = resident
    return problems, households


def _check_row(session: Session, actor: Actor, row: dict[str, str], cache: dict[str, list[int]], today: dt.date
               ) -> tuple[list[str], Building | None, dict, dict | None]:
    """One row's problems, building, household fields and resident (None for a household alone), checked against
    :data:`~patrol.surveys.residents.fields.FIELD_LIMITS` like the API's input."""
    p: list[str] = []
    b = _row_building(session, row, cache, p)
    if b is not None and not can_read_person(actor, b, session):
        p.append(f"building {b.id} is outside your scope")
    room = row.get("room", "")
    if not room:
        p.append("room: required")
    household = {"head_name": row.get("head_name") or None, "phone": row.get("phone") or None,
                 "members": _row_int(row, "members", p, today), "note": row.get("note") or None}
    resident = None
    if row.get("name"):
        resident = {"name": row["name"], "phone": row.get("phone_resident") or None,
                    "birth_year": _row_int(row, "birth_year", p, today),
                    "disabled": _row_bool(row, "disabled", p), "disability": row.get("disability") or None,
                    "lives_alone": _row_bool(row, "lives_alone", p), "health": row.get("health") or None,
                    "visit_every_days": _row_int(row, "visit_every_days", p, today)}
    else:
        p += [f"{k} given without the resident's name"
              for k in ("phone_resident", "birth_year", "disability", "health", "visit_every_days") if row.get(k)]
    if len(room) > max_chars("room"):
        p.append(f"room: at most {max_chars('room')} characters, got {len(room)}")
    p += _problems(clean_household, {k: v for k, v in household.items() if v is not None}, partial=True)
    if resident is not None:  # the resident's phone is the column phone_resident
        p += [re.sub(r"^phone:", "phone_resident:", x) for x in _problems(clean_resident, resident, today=today)]
    return p, b, household, resident


def _write_household(session: Session, building_id: int, room: str, fields: dict, now: dt.datetime,
                     summary: ImportSummary, pairs: dict[str, list]) -> Household:
    """The household of (building, room), added or updated with ``fields``."""
    h = session.scalars(select(Household).where(Household.building_id == building_id,
                                                Household.room == room)).first()
    if h is None:
        h = Household(building_id=building_id, room=room, created_at=now, updated_at=now, **fields)
        session.add(h)
        session.flush()
        summary.households_created += 1
        pairs["create"].append((h.id, None))
    elif any(getattr(h, k) != v for k, v in fields.items()):
        for k, v in fields.items():
            setattr(h, k, v)
        h.updated_at = now
        summary.households_updated += 1
        pairs["update"].append((h.id, None))
    return h


def _write_residents(session: Session, h: Household, residents: dict[str, dict], summary: ImportSummary,
                     pairs: dict[str, list]) -> None:
    """The household's residents, matched by name: added or updated with the fields given."""
    known = {r.name: r for r in session.scalars(select(Resident).where(Resident.household_id == h.id))}
    for name, fields in residents.items():
        r = known.get(name)
        if r is None:
            r = Resident(household_id=h.id, **fields)
            session.add(r)
            session.flush()
            summary.residents_created += 1
            pairs["create"].append((h.id, r.id))
        elif any(getattr(r, k) != v for k, v in fields.items()):
            for k, v in fields.items():
                setattr(r, k, v)
            summary.residents_updated += 1
            pairs["update"].append((h.id, r.id))


def _problems(check, *args, **kwargs) -> list[str]:
    """The problems ``check(*args, **kwargs)`` raises, one line each (none when it passes)."""
    try:
        check(*args, **kwargs)
    except InvalidInput as exc:
        return exc.details or [exc.message]
    return []


def import_csv(session: Session, actor: Actor, path: Path, *, today: dt.date, via: str = "cli") -> ImportSummary:
    """:func:`import_rows` of a CSV file (columns: see :data:`IMPORT_COLUMNS`)."""
    return import_rows(session, actor, read_csv(path), source=Path(path).name, today=today, via=via)


def _row_building(session: Session, row: dict, cache: dict[str, list[int]], p: list[str]) -> Building | None:
    if row.get("building_id"):
        raw = row["building_id"]
        if not raw.isdigit():
            p.append(f"building_id {raw!r} is not a building id")
            return None
        b = session.get(Building, int(raw))
        if b is None:
            p.append(f"building_id {raw}: no such building")
        return b
    raw = row.get("building_osm_id", "")
    if not raw:
        p.append("building_id or building_osm_id: required")
        return None
    if not raw.lstrip("-").isdigit():
        p.append(f"building_osm_id {raw!r} is not an OpenStreetMap id")
        return None
    if raw not in cache:
        cache[raw] = list(session.scalars(select(Building.id).where(Building.osm_id == int(raw)).limit(2)))
    found = cache[raw]
    if len(found) != 1:
        p.append(f"building_osm_id {raw}: " + ("no such building" if not found else
                                               "several buildings have it; give building_id"))
        return None
    return session.get(Building, found[0])


def _row_int(row: dict, name: str, p: list[str], today: dt.date) -> int | None:
    lo, hi = number_range(name, today)
    what = number_kind(name)
    raw = row.get(name, "")
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        p.append(f"{name} {raw!r} is not {what}")
        return None
    if not lo <= value <= hi:
        p.append(f"{name} {raw!r} is not {what} from {lo} to {hi}")
        return None
    return value


def _row_bool(row: dict, name: str, p: list[str]) -> bool:
    raw = row.get(name, "").lower()
    if raw in _TRUE:
        return True
    if raw not in _FALSE:
        p.append(f"{name} {row.get(name)!r} is not yes or no")
    return False

