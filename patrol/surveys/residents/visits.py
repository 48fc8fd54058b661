"""Household visits: the register part of a visit check-in, the households due a visit, and the per-grid counts
(the only view of the register for admins, planners and departments)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from patrol.cases import worktime
from patrol.city.labels import display_label, label_column
from patrol.core.auth import Actor
from patrol.core.errors import Forbidden, InvalidInput
from patrol.core.models import (
    Building,
    Grid,
    Household,
    HouseholdVisit,
    Resident,
    ResidentNeed,
    Visit,
)
from patrol.core.settings import Settings, get_settings
from patrol.surveys.residents.access import (
    CLI_ROLE,
    audit,
    grid_in_scope,
    local_today,
    mask_phone,
    personal_scope,
)
from patrol.surveys.residents.fields import (
    clean_need,
    raise_problems,
)
from patrol.surveys.residents.register import (
    REASON_LABELS,
    age,
    end_of_day,
    iso,
    standings,
)


def check_visit_household(session: Session, building: Building, household_id: int | None,
                          needs: list[dict] | None) -> tuple[Household | None, list[dict]]:
    """Validate the register part of a visit check-in before anything is written: the household must be in the
    visited building; needs need a household and each a valid ``{type, detail}``."""
    needs = needs or []
    if household_id is None:
        if needs:
            raise InvalidInput("needs are recorded for a household: give household_id", field="household_id")
        return None, []
    h = session.get(Household, household_id)
    if h is None:
        raise InvalidInput(f"no household {household_id}", field="household_id")
    if h.building_id != building.id:
        raise InvalidInput(f"household {household_id} is in building {h.building_id}, not in the visited building "
                           f"{building.id}", field="household_id")
    problems: list[str] = []
    clean = [clean_need(n if isinstance(n, dict) else {}, problems, f"needs[{i}].") for i, n in enumerate(needs)]
    raise_problems("visit", problems)
    return h, clean


def record_household_visit(session: Session, actor: Actor, visit: Visit, household: Household, needs: list[dict],
                           *, via: str = "/api/v1/visits") -> None:
    """Tie a new visit to its household and record the needs raised at it (once: the caller only gets here when
    the visit itself was created, so a retried check-in adds nothing). Audited ``update``."""
    session.add(HouseholdVisit(visit_id=visit.id, household_id=household.id))
    for n in needs:
        session.add(ResidentNeed(household_id=household.id, visit_id=visit.id, type=n["type"], detail=n["detail"],
                                 status="open", created_by=actor.user_id, created_at=visit.time))
    session.flush()
    audit(session, actor, "update", via, [(household.id, None)])


def visit_register(session: Session, visit_id: int) -> dict:
    """The register part of a visit for its check-in response: its household and the needs raised at it."""
    hid = session.scalar(select(HouseholdVisit.household_id).where(HouseholdVisit.visit_id == visit_id))
    needs = session.scalars(select(ResidentNeed).where(ResidentNeed.visit_id == visit_id).order_by(ResidentNeed.id))
    return {"household_id": hid,
            "needs": [{"id": n.id, "type": n.type, "detail": n.detail, "status": n.status} for n in needs]}




def due_visits(session: Session, actor: Actor, *, today: dt.date, settings: Settings | None = None,
               grid_id: int | None = None, via: str = "/api/v1/field/today") -> list[dict]:
    """The households of ``actor``'s scope due a visit on ``today``, most overdue first, each with its vulnerable
    residents (names, masked phones, reasons) and a point in its building for the map:
    ``[{household_id, building_id, grid_id, room, head_name, lon, lat, due_on, days_overdue, last_visit_at,
    every_days, residents: [{id, name, phone, age, reasons, reason_labels}]}]``. Audited ``due`` (the household and
    each resident returned)."""
    settings = settings or get_settings()
    where = personal_scope(actor)
    if grid_id is not None:
        grid_in_scope(session, actor, grid_id)
        where.append(Building.grid_id == grid_id)
    ids = select(Household.id).join(Building, Building.id == Household.building_id).where(*where)
    state = standings(session, ids, today=today, settings=settings)
    due = {hid: s for hid, s in state.items() if s.due}
    if not due:
        return []
    inside = func.ST_PointOnSurface(Building.geom)
    rows = session.execute(select(Household, Building.grid_id, func.ST_X(inside), func.ST_Y(inside), label_column())
                           .join(Building, Building.id == Household.building_id)
                           .where(Household.id.in_(sorted(due)))).all()
    out = []
    for h, gid, x, y, label in rows:
        s = due[h.id]
        assert s.next_due_on is not None  # a due household has a due date
        out.append({"household_id": h.id, "building_id": h.building_id, "building_label": display_label(label),
                    "grid_id": gid, "room": h.room,
                    "head_name": h.head_name, "lon": None if x is None else round(float(x), 7),
                    "lat": None if y is None else round(float(y), 7), "due_on": s.next_due_on.isoformat(),
                    "days_overdue": s.days_overdue, "last_visit_at": iso(s.last_visit_at),
                    "every_days": s.every_days,
                    "residents": [{"id": r.id, "name": r.name, "phone": mask_phone(r.phone), "age": age(r, today),
                                   "reasons": reasons, "reason_labels": [REASON_LABELS[x] for x in reasons]}
                                  for r, reasons in s.vulnerable]})
    out.sort(key=lambda d: (-d["days_overdue"], d["building_id"], d["room"], d["household_id"]))
    audit(session, actor, "due", via,
           [p for d in out for p in [(d["household_id"], None), *((d["household_id"], r["id"])
                                                                   for r in d["residents"])]])
    return out




def visits_report(session: Session, actor: Actor, *, month: str | None, settings: Settings,
                  today: dt.date | None = None) -> dict:
    """Per grid, counts only — no names: households in the register, vulnerable residents, household visits in the
    month and households due a visit at the month's end (or today, for the current month):
    ``{month, as_of, rows: [{grid_id, grid_code, households, vulnerable, visits, overdue}]}``. Admins and planners
    see every grid, a supervisor her community's, a 街道 her communities', a grid worker hers; departments none."""
    today = today or local_today(settings)
    _, start, end = worktime.month_bounds(month, settings.timezone, today=today)
    first, last = start.date(), (end - dt.timedelta(days=1)).date()
    if first > today:
        raise InvalidInput(f"month {first:%Y-%m} has not begun", field="month")
    as_of = min(last, today)
    if actor.role in ("admin", "planner", CLI_ROLE):
        grid_where = []
    elif actor.role == "supervisor" and actor.community_id is not None:
        grid_where = [Grid.community_id == actor.community_id]
    elif actor.role == "subdistrict":  # counts only: the 街道 sees no names
        grid_where = [Grid.community_id.in_(sorted(actor.community_ids) or [-1])]
    elif actor.role in ("grid_worker", "grid_lead"):  # a 网格长: the grids she leads
        grid_where = [Grid.id.in_(sorted(actor.grid_ids) or [-1])]
    else:
        raise Forbidden(f"the visits report is for admins, planners, supervisors and grid workers, not a {actor.role}",
                        field="role")
    grids = session.execute(select(Grid.id, Grid.code).where(*grid_where).order_by(Grid.code)).all()
    in_grids = select(Grid.id).where(*grid_where)
    base = (select(Building.grid_id, func.count(Household.id)).join(Building, Building.id == Household.building_id)
            .where(Building.grid_id.in_(in_grids)).group_by(Building.grid_id))
    households = dict(session.execute(base).all())
    vulnerable_clause = or_(Resident.disabled, Resident.lives_alone,
                            Resident.birth_year <= as_of.year - settings.vulnerable_age)
    vulnerable = dict(session.execute(
        select(Building.grid_id, func.count(Resident.id)).join(Household, Household.id == Resident.household_id)
        .join(Building, Building.id == Household.building_id)
        .where(Building.grid_id.in_(in_grids), vulnerable_clause).group_by(Building.grid_id)).all())
    zone = ZoneInfo(settings.timezone)
    start = dt.datetime.combine(first, dt.time(), tzinfo=zone)
    visits = dict(session.execute(
        select(Building.grid_id, func.count(HouseholdVisit.id)).join(Visit, Visit.id == HouseholdVisit.visit_id)
        .join(Household, Household.id == HouseholdVisit.household_id)
        .join(Building, Building.id == Household.building_id)
        .where(Building.grid_id.in_(in_grids), Visit.time >= start, Visit.time < end_of_day(last, zone))
        .group_by(Building.grid_id)).all())
    ids = (select(Household.id).join(Building, Building.id == Household.building_id)
           .where(Building.grid_id.in_(in_grids)))
    grid_of = dict(session.execute(select(Household.id, Building.grid_id)
                                   .join(Building, Building.id == Household.building_id)
                                   .where(Household.id.in_(ids))).all())
    overdue: dict[int, int] = {}
    for hid, s in standings(session, ids, today=as_of, settings=settings).items():
        if s.due:
            gid = grid_of[hid]  # in a grid: the households were selected by their building's grid
            assert gid is not None
            overdue[gid] = overdue.get(gid, 0) + 1
    return {"month": f"{first:%Y-%m}", "as_of": as_of.isoformat(),
            "rows": [{"grid_id": gid, "grid_code": code, "households": int(households.get(gid, 0)),
                      "vulnerable": int(vulnerable.get(gid, 0)), "visits": int(visits.get(gid, 0)),
                      "overdue": overdue.get(gid, 0)} for gid, code in grids]}

