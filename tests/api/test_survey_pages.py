"""The supervisor's field-survey report page (/surveys) on both databases: its three tables show exactly what the
report API returns for the same reader and month, colours and totals are right, it is scoped and private (no
resident names, departments 403, anonymous readers sent to log in), it speaks English on request, and table 1
downloads as CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from maps.dashboard import dashboard_page
from maps.login import login_page
from maps.surveys import surveys_page
from maps.templating import render
from patrol.core.db import session_factory, transaction
from patrol.core.models import Building, Grid
from patrol.surveys.checklists import load_builtin_checklists
from tests.conftest import shared_scope

CN = dt.timezone(dt.timedelta(hours=8))
MONTH = "2026-03"  # a past month: the data below are dated in it, so nothing depends on the clock
STAIRWELL_USES = ("residential", "apartments", "house", "dormitory", "yes")
PASS = {"clutter": True, "ebike_charging": True, "ebikes_indoor": 0, "extinguisher": True,
        "extinguisher_state": "ok", "hydrant_box": "ok", "emergency_light": True, "exits_clear": True}
NAMES = ("页面测试长者", "页面测试青年", "页面测试户主")  # must never appear on the page
COOKIE = "gridpatrol_token"


class Page(HTMLParser):
    """The numbers of the page: cells carrying data-k, keyed (table id, grid, checklist, item, k) → (text, class);
    the class of each visits row by grid; and the visible text."""

    def __init__(self, text: str):
        super().__init__()
        self.cells: dict[tuple, tuple[str, str]] = {}
        self.row_class: dict[str, str] = {}
        self.order: list[tuple[str, str]] = []
        self._table = self._tr = None
        self._cell: tuple | None = None
        self._buf: list[str] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self._table = a.get("id")
        elif tag == "tr":
            self._tr = a.get("class") or ""
        elif tag == "td" and "data-k" in a:
            self._cell = (self._table, a.get("data-grid"), a.get("data-checklist"), a.get("data-item"), a["data-k"],
                          a.get("class") or "")
            self._buf = []
            if self._table == "visits-table":
                self.row_class[a["data-grid"]] = self._tr
            if self._table == "findings-table" and a["data-k"] == "failed":
                self.order.append((a["data-checklist"], a["data-item"]))

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            *key, cls = self._cell
            self.cells[tuple(key)] = ("".join(self._buf).strip(), cls)
            self._cell = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._buf.append(data)

    def value(self, *key) -> str:
        return self.cells[key][0]

    def cls(self, *key) -> str:
        return self.cells[key][1]

    def keys(self, table: str) -> set[tuple]:
        return {k for k in self.cells if k[0] == table}


def pct(planned: int, done: int) -> int | None:
    return None if planned == 0 else (100 * done) // planned


def colour(p: int | None) -> str | None:
    return None if p is None else "green" if p >= 100 else "orange" if p >= 70 else "red"


def get_page(world, who: str | None, expect: int = 200, **params):
    headers = {"Cookie": f"{COOKIE}={world.tokens[who]}"} if who else {}  # a browser sends the login cookie
    r = world.client.get("/surveys", params=params, headers=headers, follow_redirects=False)
    assert r.status_code == expect, r.text
    return r


def api(world, who: str, report: str, **params) -> dict:
    r = world.client.get(f"/api/v1/surveys/report/{report}", headers=world.h(who), params=params)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture(scope=shared_scope)
def data(world) -> dict:
    """Checklists loaded; in March 2026 worker A inspects two stairwells of grid A (one fails clutter and e-bike
    charging, the other clutter), worker B one of grid B (passes); worker A registers two households in grid A: one
    with an 85-year-old never visited, one with a young resident visited once in March."""
    with transaction(session_factory(world.engine)) as s:
        load_builtin_checklists(s)
        blds = {g: list(s.scalars(select(Building.id).where(Building.grid_id == g, Building.households > 0,
                                                             Building.use.in_(STAIRWELL_USES))
                                  .order_by(Building.id).limit(2))) for g in (world.grid_a, world.grid_b)}
    lists = {c["code"]: c for c in world.client.get("/api/v1/checklists", headers=world.h("worker_a")).json()}
    stair = lists["stairwell_fire"]["id"]
    (a1, a2), b1 = blds[world.grid_a], blds[world.grid_b][0]
    photo = [str(uuid.uuid4())]
    for who, building, day, answers in (
            ("worker_a", a1, 10, {**PASS, "clutter": False, "clutter_photo": photo, "ebike_charging": False}),
            ("worker_a", a2, 12, {**PASS, "clutter": False, "clutter_photo": photo}),
            ("worker_b", b1, 15, PASS)):
        r = world.client.post("/api/v1/inspections", headers=world.h(who), json={
            "client_id": str(uuid.uuid4()), "checklist_id": stair, "building_id": building,
            "time": dt.datetime(2026, 3, day, 10, tzinfo=CN).isoformat(), "answers": answers})
        assert r.status_code == 201, r.text
    h = world.h("worker_a")
    households = []
    for head, resident, born in ((NAMES[2], NAMES[0], 1941), (None, NAMES[1], 1995)):
        r = world.client.post("/api/v1/households", headers=h, json={
            "building_id": a1, "room": f"{uuid.uuid4().hex[:6]}室", **({"head_name": head} if head else {})})
        assert r.status_code == 201, r.text
        households.append(r.json()["id"])
        r = world.client.post(f"/api/v1/households/{households[-1]}/residents", headers=h,
                              json={"name": resident, "birth_year": born})
        assert r.status_code == 201, r.text
    r = world.client.post("/api/v1/visits", headers=h, json={
        "client_id": str(uuid.uuid4()), "building_id": a1, "household_id": households[1],
        "time": dt.datetime(2026, 3, 20, 15, tzinfo=CN).isoformat()})
    assert r.status_code == 201, r.text
    return {"lists": lists}


def test_the_page_shows_exactly_what_the_report_api_returns(world, data):
    page = get_page(world, "sup", month=MONTH)
    assert page.headers["content-type"].startswith("text/html")
    p = Page(page.text)
    text = "".join(p.text)
    assert '<html lang="zh"' in page.text and "各网格检查完成情况" in text  # Chinese by default
    assert f'name="month" value="{MONTH}"' in page.text

    # (1) inspections per grid and checklist, with completion colours and a totals row
    rows = api(world, "sup", "inspections", month=MONTH)["rows"]
    assert {r["grid_id"] for r in rows} >= {world.grid_a, world.grid_b}
    mine = {(r["grid_id"], r["checklist"]): r for r in rows}
    assert (mine[(world.grid_a, "stairwell_fire")]["done"], mine[(world.grid_a, "stairwell_fire")]["failed"]) == (2, 2)
    assert (mine[(world.grid_b, "stairwell_fire")]["done"], mine[(world.grid_b, "stairwell_fire")]["failed"]) == (1, 0)
    for r in rows:
        key = ("inspections-table", str(r["grid_id"]), r["checklist"], None)
        for k in ("planned", "done", "failed"):
            assert p.value(*key, k) == str(r[k]), (key, k)
        want = pct(r["planned"], r["done"])
        assert p.value(*key, "completion") == ("—" if want is None else f"{want}%")
        assert colour_of(p.cls(*key, "completion")) == colour(want)
    assert {k[1:3] for k in p.keys("inspections-table") if k[1] != "total"} == {
        (str(g), c) for g, c in mine}  # no row more, none less
    lists = {r["checklist"] for r in rows}
    assert lists == set(data["lists"])
    for c in lists:
        total = {k: sum(r[k] for r in rows if r["checklist"] == c) for k in ("planned", "done", "failed")}
        for k, v in total.items():
            assert p.value("inspections-table", "total", c, None, k) == str(v)
        want = pct(total["planned"], total["done"])
        assert p.value("inspections-table", "total", c, None, "completion") == ("—" if want is None else f"{want}%")
    assert "本月暂无检查记录" not in text

    # (2) failed items by type, most frequent first, with their open cases
    findings = api(world, "sup", "findings", month=MONTH)["rows"]
    assert [(f["item"], f["failed"], f["open_cases"]) for f in findings] == [("clutter", 2, 2),
                                                                            ("ebike_charging", 1, 1)]
    assert p.order == [(f["checklist"], f["item"]) for f in findings]
    for f in findings:
        for k in ("failed", "open_cases"):
            assert p.value("findings-table", None, f["checklist"], f["item"], k) == str(f[k])
        assert f["text"]["zh"] in text

    # (3) households, vulnerable residents, visits and overdue households per grid; overdue rows highlighted
    visits = api(world, "sup", "visits", month=MONTH)
    by_grid = {r["grid_id"]: r for r in visits["rows"]}
    assert {k: by_grid[world.grid_a][k] for k in ("households", "vulnerable", "visits", "overdue")} == {
        "households": 2, "vulnerable": 1, "visits": 1, "overdue": 1}
    for r in visits["rows"]:
        for k in ("households", "vulnerable", "visits", "overdue"):
            assert p.value("visits-table", str(r["grid_id"]), None, None, k) == str(r[k])
        assert ("overdue" in p.row_class[str(r["grid_id"])].split()) == (r["overdue"] > 0)
    assert {k[1] for k in p.keys("visits-table")} - {"total"} == {str(g) for g in by_grid}
    for k in ("households", "vulnerable", "visits", "overdue"):
        assert p.value("visits-table", "total", None, None, k) == str(sum(r[k] for r in visits["rows"]))
    assert visits["as_of"] in text

    # counts only: no resident or household head is ever named
    for name in NAMES:
        assert name not in page.text


def test_english_csv_scope_empty_months_and_access(world, data):
    c = world.client
    en = get_page(world, "sup", month=MONTH, lang="en")
    text = "".join(Page(en.text).text)
    assert '<html lang="en"' in en.text and "Inspections per grid" in text and "各网格" not in text
    assert data["lists"]["stairwell_fire"]["title"]["en"] in text
    clutter = next(f for f in api(world, "sup", "findings", month=MONTH)["rows"] if f["item"] == "clutter")
    assert clutter["text"]["en"] in text and clutter["text"]["zh"] not in text

    # table 1 as CSV: one row per grid and checklist, the API's numbers
    r = c.get("/surveys", params={"month": MONTH, "format": "csv", "lang": "en", "headers": "keys"},
              headers={"Cookie": f"{COOKIE}={world.tokens['sup']}"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert f"inspections_{MONTH}.csv" in r.headers["content-disposition"]
    assert r.text.startswith("\ufeff")
    table = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert list(table[0]) == ["month", "grid_code", "grid_name", "checklist", "title", "targets", "planned",
                              "done", "completion_pct", "failed"]
    rows = api(world, "sup", "inspections", month=MONTH)["rows"]
    assert [(t["grid_code"], t["checklist"], t["title"], t["targets"], t["planned"], t["done"], t["failed"])
            for t in table] == [(x["grid_code"], x["checklist"], x["title"]["en"], str(x["targets"]),
                                 str(x["planned"]), str(x["done"]), str(x["failed"])) for x in rows]
    assert all(t["month"] == MONTH and t["grid_name"] for t in table)
    assert [t["completion_pct"] for t in table] == ["" if pct(x["planned"], x["done"]) is None
                                                    else str(pct(x["planned"], x["done"])) for x in rows]

    # scope: a grid worker sees her grid only; departments are refused, anonymous readers sent to log in
    worker = Page(get_page(world, "worker_a", month=MONTH).text)
    assert {k[1] for k in worker.keys("inspections-table")} - {"total"} == {str(world.grid_a)}
    assert {k[1] for k in worker.keys("visits-table")} - {"total"} == {str(world.grid_a)}
    assert get_page(world, "dept1", 403, month=MONTH).json()["code"]
    assert get_page(world, "dept1", 403, month=MONTH, format="csv").status_code == 403
    anon = get_page(world, None, 303, month=MONTH)
    assert anon.headers["location"] == f"/login?next=/surveys%3Fmonth%3D{MONTH}"
    assert get_page(world, None, 303).headers["location"] == "/login?next=/surveys"
    assert get_page(world, "sup", 422, month="2026-3").json()["field"] == "month"

    # the default month is this month in the city's timezone, as the API's; a month not begun has no visits
    current = api(world, "sup", "inspections")["month"]
    assert f'value="{current}" max="{current}"' in get_page(world, "sup").text
    year, mon = map(int, current.split("-"))
    later = f"{year + mon // 12:04d}-{mon % 12 + 1:02d}"
    future = get_page(world, "sup", month=later).text
    assert "该月尚未开始" in future and 'id="next"' not in future and "visits-table" not in future
    # a month without inspections says so, and shows no failed items
    quiet = "".join(Page(get_page(world, "sup", month="2026-01").text).text)
    assert "本月暂无检查记录" in quiet and "本月没有不合格项" in quiet

    # the dashboard links to the page, in its language
    dash = c.get("/dashboard", params={"lang": "en"}, headers={"Cookie": f"{COOKIE}={world.tokens['sup']}"})
    assert 'href="/surveys?lang=en"' in dash.text


def test_the_renderer_explains_empty_states_colours_and_escapes():
    """Without a database: the hint to load checklists, the three completion colours at their bounds, escaping."""
    empty = surveys_page(inspections={"month": "2026-03", "rows": []}, findings={"month": "2026-03", "rows": []},
                         visits={"month": "2026-03", "as_of": "2026-03-31", "rows": [
                             {"grid_id": 1, "grid_code": "G1", "households": 0, "vulnerable": 0, "visits": 0,
                              "overdue": 0}]}, current_month="2026-11", checklists_loaded=False)
    assert "gridpatrol checklists load" in empty and "inspections-table" not in empty
    assert "尚未登记住户" in empty and 'id="next"' in empty

    def row(grid, planned, done):
        return {"grid_id": grid, "grid_code": f"<G{grid}>", "checklist": "x", "title": {"zh": "甲", "en": "A"},
                "targets": planned, "planned": planned, "done": done, "failed": 0}

    cases = {1: (10, 10), 2: (10, 12), 3: (10, 7), 4: (10, 6), 5: (3, 2), 6: (0, 4)}
    html = surveys_page(inspections={"month": "2026-03", "rows": [row(g, *v) for g, v in cases.items()]},
                        findings={"month": "2026-03", "rows": []}, visits=None, current_month="2026-03",
                        grid_names={1: "<script>alert(1)</script>"}, lang="en")
    p = Page(html)
    got = {g: (p.value("inspections-table", str(g), "x", None, "completion"),
               colour_of(p.cls("inspections-table", str(g), "x", None, "completion"))) for g in cases}
    assert got == {1: ("100%", "green"), 2: ("120%", "green"), 3: ("70%", "orange"), 4: ("60%", "red"),
                   5: ("66%", "red"), 6: ("—", None)}
    assert p.value("inspections-table", "total", "x", None, "planned") == str(sum(v[0] for v in cases.values()))
    assert "<script>alert" not in html and "&lt;script&gt;" in html and "&lt;G1&gt;" in html
    assert "has not begun" in html and 'id="next"' not in html


def test_a_grid_name_typed_as_markup_shows_as_text_on_the_page(world, data):
    """A planner may name a grid anything: /surveys shows the name as text (escaped), never as markup."""
    evil = '<script>alert("grid")</script><b>'
    with transaction(session_factory(world.engine)) as s:
        grid = s.get(Grid, world.grid_a)
        old, grid.name = grid.name, evil
    try:
        r = get_page(world, "sup", month=MONTH)
    finally:
        with transaction(session_factory(world.engine)) as s:
            s.get(Grid, world.grid_a).name = old
    assert evil not in r.text and "<script>" not in r.text and "<b>" not in r.text
    assert "&lt;script&gt;alert(&#34;grid&#34;)&lt;/script&gt;&lt;b&gt;" in r.text
    assert "".join(Page(r.text).text).count(evil) == 2  # as typed, in table 1 and table 3


def test_every_value_on_the_report_page_is_escaped():
    """Checklist codes and titles, item codes and texts, category codes and names, grid codes and names."""
    evil = "<i>x</i>"
    row = {"grid_id": 1, "grid_code": evil, "checklist": evil, "title": {"en": evil}, "targets": 1, "planned": 1,
           "done": 1, "failed": 1}
    finding = {"checklist": evil, "item": evil, "text": {"en": evil}, "category": evil, "failed": 1,
               "open_cases": 1}
    html = surveys_page(inspections={"month": "2026-03", "rows": [row]},
                        findings={"month": "2026-03", "rows": [finding]}, current_month="2026-03", lang="en",
                        visits={"month": "2026-03", "as_of": evil, "rows": [
                            {"grid_id": 1, "grid_code": evil, "households": 1, "vulnerable": 0, "visits": 0,
                             "overdue": 0}]}, grid_names={1: evil}, category_labels={evil: evil})
    assert "<i>" not in html
    assert html.count("&lt;i&gt;x&lt;/i&gt;") >= 12
    # only the label that is markup of our own stays markup
    hint = surveys_page(inspections={"month": "2026-03", "rows": []}, findings={"month": "2026-03", "rows": []},
                        visits=None, current_month="2026-03", checklists_loaded=False, lang="en")
    assert "<code>gridpatrol checklists load</code>" in hint


def test_templates_escape_what_they_are_given_and_scripts_get_json():
    assert render("base.html", lang='"><script>').startswith('<!doctype html>\n<html lang="&#34;&gt;&lt;script&gt;"')
    login = login_page(lang="en", next_url='/x"><script>alert(1)//')
    assert "<script>alert" not in login and 'data-next="/x&#34;&gt;&lt;script&gt;alert(1)//"' in login
    assert "gridpatrol_token" not in login  # the server sets the cookie (HttpOnly), no script of the page
    dash = dashboard_page(lang="en", timezone="</script>")
    assert "</script>\"" not in dash and '"timezone": "\\u003c/script\\u003e"' in dash


def colour_of(cls: str) -> str | None:
    found = [c for c in cls.split() if c in ("green", "orange", "red")]
    assert len(found) <= 1
    return found[0] if found else None
