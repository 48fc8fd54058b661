"""考核 scorecards: a grid worker's month (and a grid's, a community's, a 网格长's grids') scored by the 考核细则
(:mod:`patrol.analytics.scorecard_rules`), ranked within the scope, with 优秀 marks and the trend of the last months.

The figures are per grid (:mod:`patrol.analytics.scorecard_data`); a group sums the numerators and denominators of
its grids: a worker's grids are those she walks (``Grid.worker_id``), a 网格长's those she leads (``Grid.lead_id``),
a community's all of its grids.

Who sees what (:func:`visible_grids`): an admin (and the command line) every grid, a 街道 user the grids of her
communities, a supervisor her community's, a 网格长 the grids she leads; a grid worker sees her own card only — the
list gives her her own row (ranked among her community's workers, the others left out). Departments, planners and
building leads are refused.

Ranking: by total, highest first; equal totals share a rank. The trend: the totals of the last 6 months, None for
a month before the grids' first patrol, case or inspection. 优秀: a row whose total reaches the 优秀 score and whose
rank is within ``excellent_top`` (every row reaching the score when it is null).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patrol.analytics.scorecard_data import Figures, Month, grid_figures, month_of, previous
from patrol.analytics.scorecard_rules import GRADES, MEASURES, Rules, load_rules
from patrol.analytics.service import resolve_scope, subdistrict_id
from patrol.core.auth import Actor
from patrol.core.errors import Forbidden, InvalidInput, NotFound
from patrol.core.models import Case, Community, Grid, Inspection, Patrol, Subdistrict, User
from patrol.core.settings import Settings
from patrol.core.time import now_utc

BY = ("worker", "grid", "community", "grid_lead")
BY_LABELS = {"worker": ("网格员", "grid worker"), "grid": ("网格", "grid"), "community": ("社区", "community"),
             "grid_lead": ("网格长", "grid lead")}
TREND_MONTHS = 6
READERS = ("admin", "cli", "subdistrict", "supervisor", "grid_lead", "grid_worker")


@dataclass
class Group:
    key: int
    code: str
    name: str
    grids: list[int]
    username: str | None = None


def rules_for(settings: Settings, path: str | None = None) -> Rules:
    return load_rules(path if path else settings.assessment_rules)


def visible_grids(session: Session, actor: Actor, *, community: str | None = None,
                  subdistrict: str | None = None) -> tuple[list[int], int | None]:
    """(grids whose scorecards ``actor`` may list with the filters, the worker she is when she sees only her own
    row); 403 outside her scope, 422 for an unknown community or subdistrict."""
    if actor.role not in READERS:
        raise Forbidden(f"scorecards are for the community, the 街道, grid leads and grid workers, not a "
                        f"{actor.role}", field="role")
    where = []
    if actor.role in ("grid_lead", "grid_worker"):
        if community is not None or subdistrict is not None:
            raise Forbidden("a grid worker or grid lead sees her own grids' scorecards", field="community")
        if actor.role == "grid_lead":
            return sorted(actor.grid_ids), None
        com = session.scalar(select(Grid.community_id).where(Grid.id.in_(sorted(actor.grid_ids) or [-1])))
        return list(session.scalars(select(Grid.id).where(Grid.community_id == com))), actor.user_id
    scope_actor = actor if actor.role != "cli" else Actor(label=actor.label, role="admin")
    scope = resolve_scope(session, scope_actor, community=community, subdistrict=subdistrict)
    where = scope.community_clauses(Grid.community_id)
    return list(session.scalars(select(Grid.id).where(*where).order_by(Grid.id))), None


def groups(session: Session, by: str, grid_ids: list[int]) -> list[Group]:
    """The groups ``by`` of the given grids (each with the grids it holds among them), in code order."""
    if by not in BY:
        raise InvalidInput(f"by must be one of {', '.join(BY)}, got {by!r}", field="by")
    rows = session.execute(select(Grid.id, Grid.code, Grid.name, Grid.community_id, Grid.worker_id, Grid.lead_id)
                           .where(Grid.id.in_(grid_ids or [-1])).order_by(Grid.code)).all()
    if by == "grid":
        return [Group(r.id, r.code, r.name, [r.id]) for r in rows]
    col = {"worker": 4, "grid_lead": 5, "community": 3}[by]
    held: dict[int, list[int]] = {}
    for r in rows:
        if r[col] is not None:
            held.setdefault(r[col], []).append(r.id)
    if by == "community":
        names = {c.id: c for c in session.scalars(select(Community).where(Community.id.in_(sorted(held) or [-1])))}
        return sorted((Group(k, names[k].code, names[k].name, g) for k, g in held.items()), key=lambda x: x.code)
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(sorted(held) or [-1])))}
    return sorted((Group(k, users[k].username, users[k].display_name, g, users[k].username)
                   for k, g in held.items()), key=lambda x: x.code)


def _card(group: Group, figs: Figures, rules: Rules, month: Month, grid_codes: dict[int, str]) -> dict:
    items, total = [], 0.0
    for it in rules.items:
        num = sum(figs[g][it.measure][0] for g in group.grids if it.measure in figs[g])
        den = sum(figs[g][it.measure][1] for g in group.grids if it.measure in figs[g])
        value = num / den if den else None
        points = it.points(value, month.share)
        total += points
        zh, en, kind = MEASURES[it.measure]
        items.append({"id": it.id, "label": {"zh": it.label_zh, "en": it.label_en}, "measure": it.measure,
                      "kind": kind, "num": round(num, 2), "den": round(den, 2),
                      "value": None if value is None else round(value, 4), "points": points, "weight": it.weight})
    total = round(total, 2)
    grade = rules.grade(total)
    return {"key": group.key, "code": group.code, "name": group.name, "username": group.username,
            "grids": [grid_codes[g] for g in group.grids], "items": items, "total": total, "grade": grade,
            "grade_label": {"zh": GRADES[grade][0], "en": GRADES[grade][1]}}


def _rank(rows: list[dict], rules: Rules) -> None:
    rows.sort(key=lambda r: (-r["total"], r["code"]))
    rank, last = 0, None
    for i, r in enumerate(rows, 1):
        if r["total"] != last:
            rank, last = i, r["total"]
        r["rank"], r["of"] = rank, len(rows)
        r["excellent"] = r["grade"] == "excellent" and (rules.excellent_top is None or rank <= rules.excellent_top)


def score_month(session: Session, settings: Settings, rules: Rules, by: str, grid_ids: list[int], month: Month,
                *, now: dt.datetime) -> list[dict]:
    """The ranked cards ``by`` of the grids ``grid_ids`` for ``month`` (no trend)."""
    return score_groupings(session, settings, rules, (by,), grid_ids, month, now=now)[by]


def score_groupings(session: Session, settings: Settings, rules: Rules, bys: tuple[str, ...], grid_ids: list[int],
                    month: Month, *, now: dt.datetime) -> dict[str, list[dict]]:
    """The ranked cards of each grouping in ``bys`` for ``month``, from one reading of the grids' figures."""
    grouped = {by: [g for g in groups(session, by, grid_ids) if g.grids] for by in bys}
    used = sorted({g for gs in grouped.values() for grp in gs for g in grp.grids})
    figs = grid_figures(session, settings, used, month, now=now, measures={i.measure for i in rules.items})
    codes = dict(session.execute(select(Grid.id, Grid.code).where(Grid.id.in_(used or [-1]))).all())
    out = {}
    for by, gs in grouped.items():
        rows = [_card(g, figs, rules, month, codes) for g in gs]
        _rank(rows, rules)
        out[by] = rows
    return out


def scorecards(session: Session, actor: Actor, settings: Settings, *, month: str | None = None, by: str = "worker",
               community: str | None = None, subdistrict: str | None = None, rules: Rules | None = None,
               trend: bool = True, now: dt.datetime | None = None) -> dict:
    """The month's ranked scorecards ``by`` worker / grid / community / grid_lead in ``actor``'s scope, each with
    its items (figure, points), total, grade, rank, 优秀 mark and (``trend``) the totals of the last 6 months:
    ``{month, as_of, by, rules, rows}``."""
    now = now or now_utc()
    rules = rules or rules_for(settings)
    today = now.astimezone(ZoneInfo(settings.timezone)).date()
    m = month_of(month, settings, today)
    if by not in BY:
        raise InvalidInput(f"by must be one of {', '.join(BY)}, got {by!r}", field="by")
    grid_ids, only = visible_grids(session, actor, community=community, subdistrict=subdistrict)
    if only is not None and by not in ("worker", "grid"):
        raise Forbidden("a grid worker sees her own card: by=worker or by=grid", field="by")
    rows = score_month(session, settings, rules, by, grid_ids, m, now=now)
    if only is not None:
        mine = set(actor.grid_ids)
        rows = [r for r in rows if (r["key"] == only if by == "worker" else r["key"] in mine)]
    if trend:
        _add_trend(session, settings, rules, by, grid_ids, m, rows, now)
    return {"month": m.label, "as_of": m.as_of.isoformat(), "by": by, "rules": rules.to_dict(), "rows": rows}


def _first_activity(session: Session, grid_ids: list[int]) -> dt.datetime | None:
    """The earliest patrol, case or inspection in the grids (None: nothing yet): months before it have no card."""
    ids = grid_ids or [-1]
    found = [session.scalar(select(func.min(Patrol.started_at)).where(Patrol.grid_id.in_(ids))),
             session.scalar(select(func.min(Case.reported_at)).where(Case.grid_id.in_(ids))),
             session.scalar(select(func.min(Inspection.at)).where(Inspection.grid_id.in_(ids)))]
    times = [t if t.tzinfo else t.replace(tzinfo=dt.UTC) for t in found if t is not None]
    return min(times) if times else None


def _add_trend(session: Session, settings: Settings, rules: Rules, by: str, grid_ids: list[int], m: Month,
               rows: list[dict], now: dt.datetime) -> None:
    """Each row's totals of the last 6 months (oldest first); a month before anything was recorded in the grids
    has no total (None), rather than the points an empty month would give."""
    months = [previous(m, settings, k) for k in range(TREND_MONTHS - 1, 0, -1)] + [m]
    keys = {r["key"] for r in rows}
    first = _first_activity(session, grid_ids)
    totals: dict[int, list[dict]] = {k: [] for k in keys}
    for mm in months:
        if mm is m:
            past: dict = {r["key"]: r["total"] for r in rows}
        elif first is None or mm.end <= first:
            past = {}
        else:
            past = {r["key"]: r["total"] for r in score_month(session, settings, rules, by, grid_ids, mm, now=now)}
        for k in keys:
            totals[k].append({"month": mm.label, "total": past.get(k)})
    for r in rows:
        r["trend"] = totals[r["key"]]


def worker_card(session: Session, actor: Actor, settings: Settings, username: str, *, month: str | None = None,
                rules: Rules | None = None, now: dt.datetime | None = None) -> dict:
    """One grid worker's card for the month, ranked among the workers of her community, with the trend: the
    worker herself, her 网格长, her community, her 街道 and admins may read it."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None or user.role != "grid_worker":
        raise NotFound(f"no grid worker {username!r}", field="username")
    grids = list(session.scalars(select(Grid.id).where(Grid.worker_id == user.id)))
    com = session.scalar(select(Grid.community_id).where(Grid.id.in_(grids or [-1])))
    if actor.role == "grid_worker" and actor.user_id != user.id:
        raise Forbidden("a grid worker sees her own card only", field="username")
    if actor.role == "grid_lead" and not set(grids) & set(actor.grid_ids):
        raise Forbidden("she does not work in a grid you lead", field="username")
    if actor.role in ("admin", "cli", "supervisor", "subdistrict"):
        visible, _ = visible_grids(session, actor)
        if not set(grids) & set(visible):
            raise Forbidden("she works outside your scope", field="username")
    elif actor.role not in ("grid_worker", "grid_lead"):
        visible_grids(session, actor)  # refuses the other roles
    now = now or now_utc()
    rules = rules or rules_for(settings)
    m = month_of(month, settings, now.astimezone(ZoneInfo(settings.timezone)).date())
    universe = list(session.scalars(select(Grid.id).where(Grid.community_id == com))) if com is not None else []
    rows = [r for r in score_month(session, settings, rules, "worker", universe, m, now=now) if r["key"] == user.id]
    if not rows:
        raise NotFound(f"{username} walks no grid", field="username")
    _add_trend(session, settings, rules, "worker", universe, m, rows, now)
    return {"month": m.label, "as_of": m.as_of.isoformat(), "by": "worker", "rules": rules.to_dict(), "rows": rows,
            "card": rows[0]}


def scope_label(session: Session, community: str | None, subdistrict: str | None) -> str | None:
    """The community's or subdistrict's name for a title (None: the whole scope)."""
    if community:
        return session.scalar(select(Community.name).where((Community.code == community)
                                                           | (Community.name == community)))
    if subdistrict:
        return session.scalar(select(Subdistrict.name).where(Subdistrict.id == subdistrict_id(session, subdistrict)))
    return None
