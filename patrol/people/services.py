"""What 网格服务专员 and 双报到 members do: pairing with (vulnerable) households of the register (结对帮扶), service
records (a date, a kind, hours, a note, optionally the paired household; a client id makes a retried submission
land once), and the month: per member the services this month, who has none yet (liaison officers visit monthly),
and the paired households without a service this month.

The households are personal data: pairing one needs the register's right to it
(:func:`patrol.surveys.residents.access.household_in_scope`, the community's supervisor); the month view names a
paired household only to those the register allows (audited ``list``) and gives everyone else counts."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from patrol.cases import worktime
from patrol.city.labels import display_label, label_column
from patrol.core.auth import Actor
from patrol.core.errors import Conflict, InvalidInput, NotFound
from patrol.core.models import (
    Building,
    Community,
    Grid,
    Household,
    Resident,
    ServiceMember,
    ServicePairing,
    ServiceRecord,
)
from patrol.core.settings import Settings
from patrol.people.roster import KIND_LABELS, member_in_scope, pledges_of
from patrol.people.volunteer_access import default_community, sees_phones
from patrol.surveys.residents.access import audit, can_read_person, household_in_scope
from patrol.surveys.residents.register import vulnerability

#: the kinds of service a record names
SERVICE_KINDS = {
    "visit": {"zh": "走访慰问", "en": "Visit"},
    "errand": {"zh": "代办帮办", "en": "Errands"},
    "repair": {"zh": "维修", "en": "Repair"},
    "health": {"zh": "健康服务", "en": "Health care"},
    "talk": {"zh": "政策宣讲", "en": "Information talk"},
    "activity": {"zh": "志愿活动", "en": "Volunteer activity"},
    "other": {"zh": "其他", "en": "Other"},
}
NOTE_MAX = 2000


def _community_of_household(session: Session, building: Building) -> int | None:
    if building.grid_id is not None:
        return session.scalar(select(Grid.community_id).where(Grid.id == building.grid_id))
    return building.community_id


def pair(session: Session, actor: Actor, settings: Settings, member_id: int, household_id: int, *,
         since: dt.date | None = None, via: str = "cli") -> dict:
    """Pair a service member with a household of her community (409 when they are paired already)."""
    member = member_in_scope(session, actor, member_id, write=True)
    if not member.active:
        raise InvalidInput(f"{member.name} is no longer active on the roster", field="member_id")
    household, building = household_in_scope(session, actor, household_id)
    if _community_of_household(session, building) != member.community_id:
        raise InvalidInput(f"household {household_id} is not in {member.name}'s community", field="household_id")
    if session.scalar(select(ServicePairing.id).where(ServicePairing.member_id == member.id,
                                                      ServicePairing.household_id == household.id,
                                                      ServicePairing.until.is_(None))) is not None:
        raise Conflict(f"{member.name} is paired with household {household_id} already", field="household_id")
    p = ServicePairing(member_id=member.id, household_id=household.id,
                       since=since or worktime.local_today(settings.timezone))
    session.add(p)
    session.flush()
    audit(session, actor, "update", via, [(household.id, None)])
    return {"id": p.id, "member_id": member.id, "household_id": household.id, "since": p.since, "until": None}


def end_pairing(session: Session, actor: Actor, settings: Settings, pairing_id: int, *,
                until: dt.date | None = None) -> dict:
    p = session.get(ServicePairing, pairing_id)
    if p is None:
        raise NotFound(f"no pairing {pairing_id}", field="pairing_id")
    member_in_scope(session, actor, p.member_id, write=True)
    end = until or worktime.local_today(settings.timezone)
    if end < p.since:
        raise InvalidInput(f"until ({end}) is before the pairing began ({p.since})", field="until")
    if p.until is None:
        p.until = end
        session.flush()
    return {"id": p.id, "member_id": p.member_id, "household_id": p.household_id, "since": p.since,
            "until": p.until}


def _paired_on(session: Session, member_id: int, household_id: int, day: dt.date) -> bool:
    return session.scalar(select(ServicePairing.id).where(
        ServicePairing.member_id == member_id, ServicePairing.household_id == household_id,
        ServicePairing.since <= day, or_(ServicePairing.until.is_(None), ServicePairing.until >= day))) is not None


def record_out(r: ServiceRecord, *, note: bool) -> dict:
    out = {"id": r.id, "client_id": r.client_id, "member_id": r.member_id, "on": r.on, "kind": r.kind,
           "kind_label": SERVICE_KINDS.get(r.kind, SERVICE_KINDS["other"]), "hours": r.hours,
           "household_id": r.household_id}
    if note:
        out["note"] = r.note
    return out


def record_service(session: Session, actor: Actor, settings: Settings, member_id: int, *, on: dt.date, kind: str,
                   hours: float | None = None, note: str | None = None, household_id: int | None = None,
                   client_id: str | None = None) -> tuple[dict, bool]:
    """Record a service; ``(record, created)``. A ``client_id`` seen before returns the record it made (created
    False) so that a retried submission lands once; the same id for another member is a Conflict."""
    member = member_in_scope(session, actor, member_id, write=True)
    shown = sees_phones(actor, member.community_id)
    if client_id:
        found = session.scalars(select(ServiceRecord).where(ServiceRecord.client_id == client_id)).first()
        if found is not None:
            if found.member_id != member.id:
                raise Conflict(f"client_id {client_id!r} was used for another member's record", field="client_id")
            return record_out(found, note=shown), False
    if kind not in SERVICE_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(SERVICE_KINDS)}, got {kind!r}", field="kind")
    today = worktime.local_today(settings.timezone)
    if on > today:
        raise InvalidInput(f"on: {on} is in the future (today is {today})", field="on")
    if hours is not None and not 0 < hours <= 24:
        raise InvalidInput(f"hours: more than 0 and at most 24, got {hours}", field="hours")
    if note is not None and len(note) > NOTE_MAX:
        raise InvalidInput(f"note: at most {NOTE_MAX} characters, got {len(note)}", field="note")
    if household_id is not None and not _paired_on(session, member.id, household_id, on):
        raise InvalidInput(f"household {household_id} was not paired with {member.name} on {on}",
                           field="household_id")
    record = ServiceRecord(client_id=client_id or None, member_id=member.id, household_id=household_id, on=on,
                           kind=kind, hours=hours, note=(note or "").strip() or None, created_by=actor.user_id)
    try:
        with session.begin_nested():
            session.add(record)
            session.flush()
    except IntegrityError:  # the same client id landed meanwhile (a concurrent retry)
        found = session.scalars(select(ServiceRecord).where(ServiceRecord.client_id == client_id)).first()
        if found is None or found.member_id != member.id:
            raise Conflict(f"client_id {client_id!r} was used for another record", field="client_id") from None
        return record_out(found, note=shown), False
    return record_out(record, note=shown), True


# ---------------------------------------------------------------------------------------------- the month


def month_days(settings: Settings, month: str | None) -> tuple[str, dt.date, dt.date]:
    """``("YYYY-MM", first day, first day of the next month)`` in the city's calendar."""
    label, start, end = worktime.month_bounds(month, settings.timezone)
    return label, start.date(), end.date()


def month_view(session: Session, actor: Actor, settings: Settings, *, community_id: int | None = None,
               month: str | None = None, via: str = "cli") -> dict:
    """The community's service members this month: per member her services (count, hours, the records), who has
    none yet, and the pairings — the households named only where the register allows (audited), counts else."""
    cid = default_community(session, actor, community_id)
    label, first, after = month_days(settings, month)
    shown = sees_phones(actor, cid)
    members = session.scalars(select(ServiceMember).where(ServiceMember.community_id == cid,
                                                          ServiceMember.active.is_(True))
                              .order_by(ServiceMember.kind, ServiceMember.name, ServiceMember.id)).all()
    ids = [m.id for m in members] or [-1]
    records: dict[int, list[ServiceRecord]] = {}
    for r in session.scalars(select(ServiceRecord).where(ServiceRecord.member_id.in_(ids), ServiceRecord.on >= first,
                                                         ServiceRecord.on < after)
                             .order_by(ServiceRecord.on, ServiceRecord.id)):
        records.setdefault(r.member_id, []).append(r)
    grids = dict(session.execute(select(Grid.id, Grid.name).where(Grid.community_id == cid)).all())
    out_members: list[dict] = []
    for m in members:
        done = records.get(m.id, [])
        row = {"id": m.id, "kind": m.kind, "kind_label": KIND_LABELS[m.kind], "name": m.name,
               "organisation": m.organisation, "grid": grids.get(m.grid_id) if m.grid_id else None,
               "pledges": pledges_of(m.pledges), "services": len(done),
               "hours": round(sum(r.hours or 0 for r in done), 2), "last_on": done[-1].on if done else None,
               "records": [record_out(r, note=shown) for r in done]}
        if shown:
            row["phone"] = m.phone
        out_members.append(row)
    pairings = _pairings(session, actor, settings, ids, first, after, via)
    community = session.get(Community, cid)
    return {"community_id": cid, "community": community.name if community else None, "month": label,
            "members": out_members, "without_service": [m["name"] for m in out_members if not m["services"]],
            "liaison_without_service": [m["name"] for m in out_members if m["kind"] == "liaison"
                                        and not m["services"]],
            "services": sum(m["services"] for m in out_members),
            "hours": round(sum(m["hours"] for m in out_members), 2), "pairings": pairings}


def _pairings(session: Session, actor: Actor, settings: Settings, member_ids: list[int], first: dt.date,
              after: dt.date, via: str) -> dict:
    rows = session.execute(
        select(ServicePairing, ServiceMember.name, Building, label_column())
        .join(ServiceMember, ServiceMember.id == ServicePairing.member_id)
        .join(Household, Household.id == ServicePairing.household_id)
        .join(Building, Building.id == Household.building_id)
        .where(ServicePairing.member_id.in_(member_ids), ServicePairing.since < after,
               or_(ServicePairing.until.is_(None), ServicePairing.until >= first))
        .order_by(ServiceMember.name, ServicePairing.id)).all()
    served = {(m, h) for m, h in session.execute(
        select(ServiceRecord.member_id, ServiceRecord.household_id).where(
            ServiceRecord.member_id.in_(member_ids), ServiceRecord.household_id.is_not(None),
            ServiceRecord.on >= first, ServiceRecord.on < after))}
    households: list[dict] = []
    readable: dict[int, bool] = {}
    for p, member_name, building, label in rows:
        ok = readable.setdefault(building.id, can_read_person(actor, building, session))
        if ok:
            households.append({"pairing_id": p.id, "member_id": p.member_id, "member": member_name,
                               "household_id": p.household_id, "building": display_label(label),
                               "since": p.since, "until": p.until,
                               "served": (p.member_id, p.household_id) in served})
    if households:
        _add_household_details(session, settings, households, after - dt.timedelta(days=1))
        audit(session, actor, "list", via, [(h["household_id"], None) for h in households])
    unserved = sum(1 for p, *_ in rows if (p.member_id, p.household_id) not in served)
    out: dict = {"count": len(rows), "without_service": unserved}
    if households:
        out["households"] = households
    return out


def _add_household_details(session: Session, settings: Settings, households: list[dict], day: dt.date) -> None:
    ids = sorted({h["household_id"] for h in households})
    rooms = dict(session.execute(select(Household.id, Household.room).where(Household.id.in_(ids))).all())
    heads = dict(session.execute(select(Household.id, Household.head_name).where(Household.id.in_(ids))).all())
    reasons: dict[int, set[str]] = {}
    for r in session.scalars(select(Resident).where(Resident.household_id.in_(ids))):
        reasons.setdefault(r.household_id, set()).update(vulnerability(r, day, settings))
    for h in households:
        hid = h["household_id"]
        h.update(room=rooms.get(hid), head_name=heads.get(hid), vulnerable=sorted(reasons.get(hid, set())))


def pairing_candidates(session: Session, actor: Actor, settings: Settings, community_id: int, *, via: str,
                       limit: int = 300) -> list[dict]:
    """The households of the community with a vulnerable resident, for the page's pairing form: only for a caller
    the register lets read them (the community's supervisor; an empty list for everyone else), audited ``list``."""
    if not sees_phones(actor, community_id):
        return []
    grids = select(Grid.id).where(Grid.community_id == community_id)
    rows = session.execute(
        select(Household.id, Household.room, Household.head_name, label_column())
        .join(Building, Building.id == Household.building_id)
        .where(Building.grid_id.in_(grids), Household.id.in_(select(Resident.household_id)))
        .order_by(label_column(), Household.room, Household.id).limit(limit * 3)).all()
    today = worktime.local_today(settings.timezone)
    reasons: dict[int, set[str]] = {}
    for r in session.scalars(select(Resident).where(Resident.household_id.in_([h for h, *_ in rows] or [-1]))):
        reasons.setdefault(r.household_id, set()).update(vulnerability(r, today, settings))
    out = [{"household_id": h, "label": f"{display_label(label)} {room}" + (f" · {head}" if head else ""),
            "vulnerable": sorted(reasons[h])} for h, room, head, label in rows if reasons.get(h)][:limit]
    if out:
        audit(session, actor, "list", via, [(x["household_id"], None) for x in out])
    return out
