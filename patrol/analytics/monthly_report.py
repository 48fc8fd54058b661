"""月报: the monthly report of a community or a subdistrict — what a 社区书记 hands to the 街道.

:func:`monthly_report` gathers it as plain data (the month's KPIs beside last month's, the workers' and grids'
scorecards ranked with 优秀, the overdue cases by case number, 调解 and 民情 counts when there are any, and the grids'
outlines with their scores for the printable map); :func:`workbook_bytes` writes it as an Excel workbook (openpyxl:
sheets 指标, 排名, 超期, 调解民情, with charts). Readers: admins, the 街道 (her communities), a supervisor (her
community)."""

from __future__ import annotations

import datetime as dt
import io
from zoneinfo import ZoneInfo

import shapely
from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.chart.series import SeriesLabel
from openpyxl.styles import Font, PatternFill
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patrol.analytics import scorecard as SC
from patrol.analytics.scorecard_data import month_of, previous
from patrol.analytics.service import kpi_table, resolve_scope, subdistrict_id
from patrol.cases.overdue import overdue_clause
from patrol.core.auth import Actor
from patrol.core.errors import Forbidden, InvalidInput
from patrol.core.frames import read_frame
from patrol.core.models import (
    Building,
    Case,
    Category,
    Community,
    Grid,
    Household,
    Mediation,
    ResidentNeed,
    Subdistrict,
)
from patrol.core.settings import Settings
from patrol.core.time import now_utc

#: the KPIs of the 指标 sheet: key → (中文, English, is a rate)
REPORT_KPIS: dict[str, tuple[str, str, bool]] = {
    "received": ("受理数", "cases received", False),
    "registered": ("立案数", "cases registered", False),
    "closed": ("结案数", "cases closed", False),
    "self_handled": ("自行处置数", "handled on the spot", False),
    "closure_rate": ("办结率", "closure rate", True),
    "on_time_rate": ("按期结案率", "on-time closure rate", True),
    "rework_rate": ("返工率", "rework rate", True),
    "satisfaction_rate": ("满意率", "satisfaction rate", True),
    "settled_in_grid_rate": ("小事不出网格率", "share handled in the grid", True),
    "overdue_now": ("当前超期数", "overdue now", False),
}
OVERDUE_LIMIT = 500
READERS = ("admin", "cli", "supervisor", "subdistrict")


def _scope(session: Session, actor: Actor, community: str | None, subdistrict: str | None) -> dict:
    """The community or subdistrict of the report, checked against ``actor``'s scope; without either, a
    supervisor's community or a 街道 user's subdistrict."""
    if actor.role not in READERS:
        raise Forbidden(f"the 月报 is for the community and the 街道, not a {actor.role}", field="role")
    if community is None and subdistrict is None:
        if actor.role == "supervisor" and actor.community_id is not None:
            c = session.get(Community, actor.community_id)
            assert c is not None
            return {"kind": "community", "id": c.id, "code": c.code, "name": c.name, "community_ids": [c.id],
                    "community": None, "subdistrict": None}
        if actor.role == "subdistrict" and actor.subdistrict_id is not None:
            sub = session.get(Subdistrict, actor.subdistrict_id)
            assert sub is not None
            return {"kind": "subdistrict", "id": sub.id, "code": sub.code, "name": sub.name,
                    "community_ids": sorted(actor.community_ids), "community": None, "subdistrict": None}
    if (community is None) == (subdistrict is None):
        raise InvalidInput("give a community or a subdistrict (one of them)", field="community")
    inner = actor if actor.role != "cli" else Actor(label=actor.label, role="admin")
    scope = resolve_scope(session, inner, community=community, subdistrict=subdistrict)
    if community is not None:
        c = session.get(Community, scope.community_id)
        assert c is not None
        return {"kind": "community", "id": c.id, "code": c.code, "name": c.name, "community_ids": [c.id],
                "community": community, "subdistrict": None}
    assert subdistrict is not None and scope.community_ids is not None
    sub = session.get(Subdistrict, subdistrict_id(session, subdistrict))
    assert sub is not None
    return {"kind": "subdistrict", "id": sub.id, "code": sub.code, "name": sub.name,
            "community_ids": sorted(scope.community_ids), "community": None, "subdistrict": subdistrict}


def _kpis(session: Session, actor: Actor, settings: Settings, scope: dict, m, prev, now: dt.datetime) -> list[dict]:
    inner = actor if actor.role != "cli" else Actor(label=actor.label, role="admin")
    args = {"community": scope["community"], "subdistrict": scope["subdistrict"]}
    this = kpi_table(session, inner, settings, by=None, start=m.first, end=m.end.date(), now=min(now, m.end),
                     **args)[0]
    last = kpi_table(session, inner, settings, by=None, start=prev.first, end=prev.end.date(), now=prev.end,
                     **args)[0]
    return [{"key": k, "label": {"zh": zh, "en": en}, "rate": rate, "value": this.get(k), "previous": last.get(k),
             "num": this.get(f"{k}_num"), "den": this.get(f"{k}_den")} for k, (zh, en, rate) in REPORT_KPIS.items()]


def _local(t: dt.datetime | None, zone: ZoneInfo) -> str | None:
    """A stored instant as local time to the minute (``2026-11-26 10:30``), as a 月报 shows it."""
    if t is None:
        return None
    return (t if t.tzinfo else t.replace(tzinfo=dt.UTC)).astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _overdue(session: Session, scope: dict, m, now: dt.datetime, zone: ZoneInfo) -> list[dict]:
    """Cases of the scope still open past their deadline at the as-of moment, and those closed late in the month,
    by case number; times local."""
    until = min(now, m.end)
    in_scope = Case.community_id.in_(scope["community_ids"] or [-1])
    cols = (Case.number, Case.category_code, Category.name_zh, Category.name_en, Grid.code, Case.status,
            Case.deadline_at, Case.closed_at)
    base = (select(*cols).join(Category, Category.code == Case.category_code)
            .outerjoin(Grid, Grid.id == Case.grid_id))
    open_rows = session.execute(base.where(in_scope, overdue_clause(until)).order_by(Case.number)
                                .limit(OVERDUE_LIMIT)).all()
    late_rows = session.execute(base.where(in_scope, Case.closed_on_time.is_(False), Case.closed_at >= m.start,
                                           Case.closed_at < m.end).order_by(Case.number).limit(OVERDUE_LIMIT)).all()
    out = []
    for kind, rows in (("open", open_rows), ("late", late_rows)):
        for r in rows:
            out.append({"number": r[0], "category": {"zh": r[2], "en": r[3] or r[2]}, "category_code": r[1],
                        "grid": r[4], "status": r[5], "kind": kind,
                        "deadline_at": _local(r[6], zone), "closed_at": _local(r[7], zone)})
    return out


def _mediation_and_needs(session: Session, scope: dict, m, zone: ZoneInfo) -> dict:
    in_scope = Case.community_id.in_(scope["community_ids"] or [-1])
    counts = dict(session.execute(select(Mediation.outcome, func.count(Mediation.id))
                                  .join(Case, Case.id == Mediation.case_id)
                                  .where(in_scope, Mediation.opened_at < m.end,
                                         (Mediation.closed_at.is_(None)) | (Mediation.closed_at >= m.start))
                                  .group_by(Mediation.outcome)).all())
    closed = sum(v for k, v in counts.items() if k != "open")
    needs = session.execute(select(ResidentNeed.due_on, ResidentNeed.responded_at)
                            .join(Household, Household.id == ResidentNeed.household_id)
                            .join(Building, Building.id == Household.building_id)
                            .where(Building.community_id.in_(scope["community_ids"] or [-1]),
                                   ResidentNeed.due_on >= m.first, ResidentNeed.due_on <= m.as_of)).all()
    answered = sum(1 for _, at in needs if at is not None)
    on_time = sum(1 for due, at in needs if at is not None and
                  (at if at.tzinfo else at.replace(tzinfo=dt.UTC)).astimezone(zone).date() <= due)
    return {"mediations": int(sum(counts.values())), "agreed": int(counts.get("agreed", 0)), "closed": int(closed),
            "success_rate": (counts.get("agreed", 0) / closed) if closed else None,
            "needs_due": len(needs), "needs_answered": answered, "needs_on_time": on_time}


def _grid_map(session: Session, scope: dict, grid_rows: list[dict]) -> list[dict]:
    frame = read_frame(session, [Grid.id, Grid.code, Grid.name], Grid.geom,
                       where=[Grid.community_id.in_(scope["community_ids"] or [-1])], order_by=[Grid.code])
    score = {r["code"]: r for r in grid_rows}
    out = []
    for code, name, geom in zip(frame["code"], frame["name"], frame.geometry, strict=True):
        if geom is None or geom.is_empty:
            continue
        polys = list(geom.geoms) if isinstance(geom, shapely.MultiPolygon) else [geom]
        r = score.get(code)
        inside = geom.representative_point()
        out.append({"code": code, "name": name, "rings": [[list(map(list, p.exterior.coords))] for p in polys],
                    "label_at": [inside.x, inside.y],
                    "total": r["total"] if r else None, "excellent": bool(r and r["excellent"]),
                    "grade": r["grade"] if r else None})
    return out


def monthly_report(session: Session, actor: Actor, settings: Settings, *, month: str | None = None,
                   community: str | None = None, subdistrict: str | None = None, with_map: bool = False,
                   now: dt.datetime | None = None) -> dict:
    """The 月报 of a community or a subdistrict (exactly one) for ``month`` as plain data: ``{month, as_of, scope,
    kpis: [{key, label, rate, value, previous}], workers, grids (ranked scorecards), overdue, mediation_needs,
    rules, map (with_map: the grids' rings with their totals)}``."""
    now = now or now_utc()
    scope = _scope(session, actor, community, subdistrict)
    m = month_of(month, settings, now.astimezone(ZoneInfo(settings.timezone)).date())
    prev = previous(m, settings)
    rules = SC.rules_for(settings)
    grid_ids = list(session.scalars(select(Grid.id).where(Grid.community_id.in_(scope["community_ids"] or [-1]))))
    cards = SC.score_groupings(session, settings, rules, ("worker", "grid"), grid_ids, m, now=now)
    workers, grids = cards["worker"], cards["grid"]
    zone = ZoneInfo(settings.timezone)
    out = {"month": m.label, "previous_month": prev.label, "as_of": m.as_of.isoformat(),
           "scope": {k: scope[k] for k in ("kind", "code", "name")}, "rules": rules.to_dict(),
           "kpis": _kpis(session, actor, settings, scope, m, prev, now), "workers": workers, "grids": grids,
           "overdue": _overdue(session, scope, m, now, zone),
           "mediation_needs": _mediation_and_needs(session, scope, m, zone),
           "query": {"community": community, "subdistrict": subdistrict}}
    if with_map:
        out["map"] = _grid_map(session, scope, grids)
    return out


# ---------------------------------------------------------------------------------------------- the workbook

BOLD = Font(bold=True)
HEAD_FILL = PatternFill("solid", fgColor="DDE7F0")
GOLD = PatternFill("solid", fgColor="FFF2CC")


def _header(ws, values: list[str]) -> None:
    ws.append(values)
    for cell in ws[ws.max_row]:
        cell.font, cell.fill = BOLD, HEAD_FILL


def _kpi_sheet(wb: Workbook, report: dict) -> None:
    ws = wb.active
    ws.title = "指标"
    ws.append([f"{report['scope']['name']} 月报 {report['month']}（截至 {report['as_of']}）"])
    ws["A1"].font = Font(bold=True, size=14)
    _header(ws, ["指标", "本月", "上月", "变化"])
    for k in report["kpis"]:
        v, p = k["value"], k["previous"]
        delta = None if v is None or p is None else v - p
        ws.append([k["label"]["zh"], v, p, delta])
        if k["rate"]:
            for cell in ws[ws.max_row][1:]:
                cell.number_format = "0.0%"
    ws.column_dimensions["A"].width = 22
    rate_rows = [i for i, k in enumerate(report["kpis"], start=3) if k["rate"]]
    if rate_rows:
        chart = BarChart()
        chart.title, chart.y_axis.title = "本月与上月（比率）", "比率"
        lo, hi = min(rate_rows), max(rate_rows)
        chart.add_data(Reference(ws, min_col=2, max_col=3, min_row=lo, max_row=hi), titles_from_data=False)
        for series, name in zip(chart.series, ("本月", "上月"), strict=True):
            series.tx = SeriesLabel(v=name)
        chart.set_categories(Reference(ws, min_col=1, min_row=lo, max_row=hi))
        ws.add_chart(chart, "F2")


def _ranking_sheet(wb: Workbook, title: str, rows: list[dict], items: list[dict]) -> None:
    ws = wb.create_sheet(title)
    _header(ws, ["名次", "编码", "名称", "网格", *[i["label"]["zh"] for i in items], "总分", "等次", "优秀"])
    for r in rows:
        ws.append([r["rank"], r["code"], r["name"], " ".join(r["grids"]), *[i["points"] for i in r["items"]],
                   r["total"], r["grade_label"]["zh"], "优秀" if r["excellent"] else ""])
        if r["excellent"]:
            for cell in ws[ws.max_row]:
                cell.fill = GOLD
    ws.column_dimensions["C"].width = 18
    if rows:
        total_col = 5 + len(items)
        chart = BarChart()
        chart.title, chart.y_axis.title = f"{title}总分", "分"
        chart.add_data(Reference(ws, min_col=total_col, min_row=1, max_row=len(rows) + 1), titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=3, min_row=2, max_row=len(rows) + 1))
        ws.add_chart(chart, f"A{len(rows) + 4}")


def _overdue_sheet(wb: Workbook, report: dict) -> None:
    ws = wb.create_sheet("超期")
    _header(ws, ["案件编号", "类别", "网格", "状态", "时限", "结案时间", "情形"])
    for o in report["overdue"]:
        ws.append([o["number"], o["category"]["zh"], o["grid"], o["status"], o["deadline_at"], o["closed_at"],
                   "超期未结" if o["kind"] == "open" else "超期结案"])
    if not report["overdue"]:
        ws.append(["本月无超期案件"])
    ws.column_dimensions["A"].width = 16


def _mediation_sheet(wb: Workbook, report: dict) -> None:
    mn = report["mediation_needs"]
    if not (mn["mediations"] or mn["needs_due"]):
        return
    ws = wb.create_sheet("调解民情")
    _header(ws, ["项目", "数量"])
    for label, key in (("调解数", "mediations"), ("调解结束数", "closed"), ("达成协议数", "agreed"),
                       ("调解成功率", "success_rate"), ("本月到期诉求", "needs_due"), ("已答复", "needs_answered"),
                       ("按期答复", "needs_on_time")):
        ws.append([label, mn[key]])
        if key == "success_rate":
            ws[ws.max_row][1].number_format = "0.0%"


def workbook_bytes(report: dict) -> bytes:
    """The 月报 ``report`` (of :func:`monthly_report`) as an .xlsx file."""
    wb = Workbook()
    _kpi_sheet(wb, report)
    items = report["rules"]["items"]
    _ranking_sheet(wb, "排名", report["workers"], items)
    _ranking_sheet(wb, "网格排名", report["grids"], items)
    _overdue_sheet(wb, report)
    _mediation_sheet(wb, report)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
