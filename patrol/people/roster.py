"""The 网格服务专员 / 双报到 roster of a community: liaison officers from city departments (1–2 per grid, visiting
monthly: Weihai), party members and units reporting in to the community (双报到), each with the services they pledged
(承诺服务). Added one by one or imported from a CSV (all or nothing, every problem listed). Scope:
:mod:`patrol.people.volunteer_access` (phones for the community's desk only)."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patrol.core.auth import Actor
from patrol.core.errors import GridPatrolError, ImportFailed, InvalidInput, NotFound
from patrol.core.models import (
    SERVICE_MEMBER_KINDS,
    Community,
    Grid,
    ServiceMember,
    ServicePairing,
)
from patrol.people.teams import clean_phone
from patrol.people.volunteer_access import (
    WRITE_ROLES,
    communities_read,
    community_of,
    require_read,
    require_write,
    resolve_community,
    sees_phones,
)

KIND_LABELS = {
    "liaison": {"zh": "网格服务专员", "en": "Grid liaison officer"},
    "party_member": {"zh": "双报到党员", "en": "Party member reporting in"},
    "unit": {"zh": "双报到单位", "en": "Unit reporting in"},
}
#: the kind as a roster may write it: the key, or its Chinese name
KIND_WORDS = {**{k: k for k in SERVICE_MEMBER_KINDS}, **{v["zh"]: k for k, v in KIND_LABELS.items()},
              "服务专员": "liaison", "党员": "party_member", "单位": "unit"}
COLUMNS = ("kind", "name", "organisation", "phone", "community", "grid", "pledges")
#: the Chinese headers a roster may use instead
HEADERS_ZH = {"类别": "kind", "姓名": "name", "名称": "name", "单位": "organisation", "所在单位": "organisation",
              "电话": "phone", "联系电话": "phone", "社区": "community", "网格": "grid", "网格编码": "grid",
              "承诺服务": "pledges", "服务承诺": "pledges"}
LIMITS = {"name": 200, "organisation": 200, "pledge": 200, "pledges": 20}
_SPLIT = re.compile(r"[;；|\n]+")


def pledges_of(text: str | None) -> list[str]:
    return [p.strip() for p in _SPLIT.split(text or "") if p.strip()]


def clean_pledges(value: str | list[str] | None) -> str | None:
    """Pledged services from a list or a text separated by ; ； | or new lines, stored one a line."""
    items = pledges_of("\n".join(value)) if isinstance(value, list) else pledges_of(value)
    if len(items) > LIMITS["pledges"]:
        raise InvalidInput(f"pledges: at most {LIMITS['pledges']}, got {len(items)}", field="pledges")
    long = [p for p in items if len(p) > LIMITS["pledge"]]
    if long:
        raise InvalidInput(f"pledges: each at most {LIMITS['pledge']} characters", field="pledges")
    return "\n".join(items) or None


def clean_member(session: Session, data: dict) -> dict:
    """The fields of a roster member from ``data`` (kind, name, organisation, phone, community_id or community,
    grid_id or grid (a code), pledges), checked; every problem in one InvalidInput."""
    problems: list[str] = []
    kind = KIND_WORDS.get(str(data.get("kind") or "").strip())
    if kind is None:
        problems.append(f"kind: one of {', '.join(SERVICE_MEMBER_KINDS)} (网格服务专员, 双报到党员, 双报到单位), "
                        f"got {data.get('kind')!r}")
    fields: dict = {"kind": kind}
    for name in ("name", "organisation"):
        text = str(data.get(name) or "").strip()
        if name == "name" and not text:
            problems.append("name: required")
        if len(text) > LIMITS[name]:
            problems.append(f"{name}: at most {LIMITS[name]} characters, got {len(text)}")
        fields[name] = text or None
    for name, check in (("phone", clean_phone), ("pledges", clean_pledges)):
        try:
            fields[name] = check(data.get(name))
        except InvalidInput as exc:
            problems.append(exc.message)
    fields["community_id"], fields["grid_id"] = _place(session, data, problems)
    if problems:
        raise InvalidInput(problems[0] if len(problems) == 1 else f"the member has {len(problems)} problems",
                           field=problems[0].split(":")[0], details=problems)
    return fields


def _place(session: Session, data: dict, problems: list[str]) -> tuple[int | None, int | None]:
    community_id = data.get("community_id")
    try:
        if community_id is None:
            community_id = resolve_community(session, data.get("community"))
        elif session.get(Community, community_id) is None:
            problems.append(f"community: no community {community_id}")
    except InvalidInput as exc:
        problems.append(f"community: {exc.message}")
    grid_id, grid = data.get("grid_id"), None
    if grid_id is not None:
        grid = session.get(Grid, grid_id)
    elif data.get("grid"):
        grid = session.scalars(select(Grid).where(Grid.code == str(data["grid"]).strip())).first()
    if (grid_id is not None or data.get("grid")) and grid is None:
        problems.append(f"grid: no grid {data.get('grid') or grid_id}")
    if grid is not None:
        if community_id is None:
            community_id = grid.community_id
        elif grid.community_id != community_id:
            problems.append(f"grid: {grid.code} is not in the community")
    if community_id is None and not any(p.startswith(("community", "grid")) for p in problems):
        problems.append("community: required (its code or name, or a grid of it)")
    return community_id, grid.id if grid is not None else None


def create_member(session: Session, actor: Actor, data: dict) -> dict:
    fields = clean_member(session, data)
    require_write(session, actor, fields["community_id"])
    member = ServiceMember(**fields, active=True)
    session.add(member)
    session.flush()
    return member_out(session, actor, member)


def member_in_scope(session: Session, actor: Actor, member_id: int, *, write: bool = False) -> ServiceMember:
    member = session.get(ServiceMember, member_id)
    if member is None:
        raise NotFound(f"no service member {member_id}", field="member_id")
    (require_write if write else require_read)(session, actor, member.community_id)
    return member


def set_active(session: Session, actor: Actor, member_id: int, active: bool) -> dict:
    member = member_in_scope(session, actor, member_id, write=True)
    member.active = active
    session.flush()
    return member_out(session, actor, member)


def member_out(session: Session, actor: Actor, m: ServiceMember) -> dict:
    grid = session.get(Grid, m.grid_id) if m.grid_id is not None else None
    pairings = session.scalar(select(func.count()).select_from(ServicePairing).where(
        ServicePairing.member_id == m.id, ServicePairing.until.is_(None)))
    out = {"id": m.id, "kind": m.kind, "kind_label": KIND_LABELS[m.kind], "name": m.name,
           "organisation": m.organisation, "community_id": m.community_id, "grid_id": m.grid_id,
           "grid": {"code": grid.code, "name": grid.name} if grid is not None else None,
           "pledges": pledges_of(m.pledges), "active": m.active, "pairings": pairings or 0}
    if sees_phones(actor, m.community_id):
        out["phone"] = m.phone
    return out


def list_members(session: Session, actor: Actor, *, community_id: int | None = None, kind: str | None = None,
                 active: bool | None = True) -> list[dict]:
    allowed = communities_read(session, actor)
    q = select(ServiceMember)
    if community_id is not None:
        community_of(session, community_id)
        require_read(session, actor, community_id)
        q = q.where(ServiceMember.community_id == community_id)
    elif allowed is not None:
        q = q.where(ServiceMember.community_id.in_(allowed))
    if kind is not None:
        if kind not in SERVICE_MEMBER_KINDS:
            raise InvalidInput(f"kind must be one of {', '.join(SERVICE_MEMBER_KINDS)}", field="kind")
        q = q.where(ServiceMember.kind == kind)
    if active is not None:
        q = q.where(ServiceMember.active.is_(active))
    order = (ServiceMember.community_id, ServiceMember.kind, ServiceMember.name, ServiceMember.id)
    return [member_out(session, actor, m) for m in session.scalars(q.order_by(*order))]


# ---------------------------------------------------------------------------------------------- the CSV roster


@dataclass
class RosterSummary:
    rows: int = 0
    created: int = 0
    updated: int = 0

    def lines(self) -> list[str]:
        return [f"read {self.rows} rows", f"service members 服务成员: {self.created} added, {self.updated} updated"]


def read_roster(raw: bytes, source: str) -> list[dict[str, str]]:
    """The rows of a roster CSV (UTF-8 with or without BOM, or GB18030), headers in English or Chinese."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte string
        raise ImportFailed(f"cannot import {source}: not UTF-8 or GB18030 text")
    reader = csv.DictReader(io.StringIO(text))
    names = [HEADERS_ZH.get((c or "").strip(), (c or "").strip()) for c in reader.fieldnames or []]
    unknown = [c for c in names if c and c not in COLUMNS]
    problems = [f"unknown columns: {', '.join(unknown)}; columns: {', '.join(COLUMNS)}"] if unknown else []
    if "kind" not in names or "name" not in names:
        problems.append(f"the header needs kind and name (columns: {', '.join(COLUMNS)})")
    if problems:
        raise ImportFailed(f"cannot import {source}: nothing was written", details=problems)
    reader.fieldnames = names
    return [{k: (v or "").strip() for k, v in row.items() if k} for row in reader]


def import_roster(session: Session, actor: Actor, rows: list[dict[str, str]], *, source: str) -> RosterSummary:
    """Import roster rows, all or nothing: every bad row is reported (``row 3: grid: no grid …``; row 1 is the
    header) and nothing is written. A member already on the roster (same community, kind, name and organisation)
    is updated with the values given, so importing the same file twice changes nothing."""
    if actor.role not in WRITE_ROLES:
        require_write(session, actor, None)  # 403 before any row is read
    problems: list[str] = []
    checked: list[dict] = []
    seen: dict[tuple, int] = {}
    for i, row in enumerate(rows, start=2):
        try:
            fields = clean_member(session, row)
            require_write(session, actor, fields["community_id"])
        except InvalidInput as exc:
            problems += [f"row {i}: {p}" for p in (exc.details or [exc.message])]
            continue
        except GridPatrolError as exc:
            problems.append(f"row {i}: {exc.message}")
            continue
        key = (fields["community_id"], fields["kind"], fields["name"], fields["organisation"])
        if key in seen:
            problems.append(f"row {i}: {fields['name']} is listed twice (row {seen[key]})")
        seen[key] = i
        checked.append(fields)
    if not rows:
        problems.append("the file has no rows")
    if problems:
        raise ImportFailed(f"cannot import {source}: {len(problems)} problems; nothing was written",
                           details=problems)
    summary = RosterSummary(rows=len(rows))
    for fields in checked:
        found = session.scalars(select(ServiceMember).where(
            ServiceMember.community_id == fields["community_id"], ServiceMember.kind == fields["kind"],
            ServiceMember.name == fields["name"],
            ServiceMember.organisation.is_(None) if fields["organisation"] is None
            else ServiceMember.organisation == fields["organisation"])).first()
        if found is None:
            session.add(ServiceMember(**fields, active=True))
            summary.created += 1
        elif any(getattr(found, k) != v for k, v in fields.items()) or not found.active:
            for k, v in fields.items():
                setattr(found, k, v)
            found.active = True
            summary.updated += 1
    session.flush()
    return summary


def import_roster_file(session: Session, actor: Actor, path: Path) -> RosterSummary:
    return import_roster(session, actor, read_roster(Path(path).read_bytes(), Path(path).name),
                         source=Path(path).name)
