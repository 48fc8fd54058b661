"""The route × role matrix, generated from the app's routes, on both databases: every (method, path) the app serves —
the API, the HTML pages, the docs, the static files — must have an entry in ROUTES below with its expected answer for
an anonymous caller, an Open311 API key, and every role of the world (tests/api/conftest.py ROLE_USERS: in scope and
out of scope is which user: sup / sup_other, worker_a / worker_b, dept1 / dept2, subd / subd_other). A new route
without an entry fails, and so does an entry for a route that is gone.

Answers are classes: "ok" (2xx), "away" (a redirect elsewhere than to /login), "denied" (401 for anonymous callers
and API keys, 403 for a logged-in role, a redirect to /login for a page opened without a login), "hidden" (404, where
the service answers out-of-scope like not found), or a specific status. Requests that change something are built afresh
for every caller (a new case, household, plan, ... per call)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from patrol.cases import service as svc
from patrol.core.auth import SYSTEM
from patrol.core.db import session_factory, transaction
from patrol.core.models import Building, Community, Grid, HotlineOrder, Revisit
from patrol.surveys.checklists import load_builtin_checklists
from tests.api.conftest import PASSWORD, ROLE_USERS
from tests.api.test_resident_pages import resident_case
from tests.api.test_roles import PATH, case_in, fresh_refresh_token, number_of, tile_at

CALLERS = ("anon", "key", *ROLE_USERS)
ANONYMOUS = ("anon", "key")


# ---------------------------------------------------------------------------------------------- the routes of the app


def app_routes(app) -> set[tuple[str, str]]:
    """Every (method, path) the app serves (HEAD left out: it answers as GET does), the routes of included routers
    too (FastAPI ≥ 0.16x keeps them behind an included-router entry listing them through
    ``effective_route_contexts``, see tests/api/test_publication.py), and a mount as ``GET <path>/{path}``."""
    out = set()
    for route in app.routes:
        for r in (route.effective_route_contexts() if hasattr(route, "effective_route_contexts") else [route]):
            methods = getattr(r, "methods", None)
            if methods:
                out |= {(m, r.path) for m in methods if m != "HEAD"}
            elif hasattr(r, "app"):  # a Mount (static files)
                out.add(("GET", r.path + "/{path}"))
    return out


# ---------------------------------------------------------------------------------------------- requests


@dataclasses.dataclass
class Req:
    method: str
    path: str
    json: Any = None
    data: dict | None = None
    files: dict | None = None
    content: bytes | None = None
    headers: dict = dataclasses.field(default_factory=dict)
    params: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Things:
    """What the read-only requests point at, built once per module (never changed by the matrix)."""
    case: int            # a grid-level case in grid A, dispatched to unit 1
    number: str          # its case number
    open311: int         # a case filed through Open311 (published by the Open311 reads)
    photo: int           # a photo of ``case``
    patrol: int          # worker A's patrol
    plan: int            # a draft plan
    grid_code: str       # a grid code of that plan
    grid_a_code: str     # grid A's code
    building: int        # a building in grid A
    stair: int           # the stairwell checklist in force
    inspection: int      # worker A's inspection in grid A
    inspection_client: str
    inspection_photo: int
    shop: str            # a shop code in grid A
    household: int       # a household in grid A with a resident and a need
    resident: int
    need: int


PASS = {"clutter": True, "ebike_charging": True, "ebikes_indoor": 0, "extinguisher": True,
        "extinguisher_state": "ok", "hydrant_box": "ok", "emergency_light": True, "exits_clear": True}


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (30, 120, 200)).save(out, "JPEG")
    return out.getvalue()


def _ok(r, what: str) -> dict:
    assert 200 <= r.status_code < 300, (what, r.status_code, r.text)
    return r.json()


def household_in_a(w, t: Things | None = None, building: int | None = None) -> int:
    return _ok(w.client.post("/api/v1/households", headers=w.h("worker_a"), json={
        "building_id": building or (t.building if t else 0), "room": f"{uuid.uuid4().hex[:6]}室"}),
        "household")["id"]


def resident_in_a(w, t: Things) -> int:
    return _ok(w.client.post(f"/api/v1/households/{household_in_a(w, t)}/residents", headers=w.h("worker_a"),
                             json={"name": "矩阵测试", "birth_year": 1950}), "resident")["id"]


def draft(w) -> int:
    return _ok(w.client.post("/api/v1/plans", headers=w.h("planner"), json={"name": f"matrix {uuid.uuid4().hex[:6]}"}),
               "plan")["id"]


def whistled_task(w) -> tuple[int, int]:
    """A fresh community-level case whistled to units 1 and 2: (case id, unit 1's task id)."""
    with transaction(session_factory(w.engine)) as s:
        c = svc.create_case(s, SYSTEM, w.settings, client_id=None, category="C0104", lon=w.point_a[0],
                            lat=w.point_a[1]).case
        svc.transition(s, SYSTEM, w.settings, c.id, "register")
        svc.transition(s, SYSTEM, w.settings, c.id, "whistle", units=w.units[:2], hours=8)
        case_id = c.id
    tasks = w.client.get(f"/api/v1/cases/{case_id}", headers=w.h("admin")).json()["tasks"]
    return case_id, next(x["id"] for x in tasks if x["unit_id"] == w.units[0])


def revisit_in_a(w) -> int:
    """A fresh closed case in grid A and its pending 回头看."""
    cid = case_in(w, "verified")
    with transaction(session_factory(w.engine)) as s:
        svc.transition(s, SYSTEM, w.settings, cid, "close")
    with transaction(session_factory(w.engine)) as s:
        return s.scalar(select(Revisit.id).where(Revisit.case_id == cid))


def closed_open311(w) -> int:
    """A fresh Open311 request, closed (so that it can be rated)."""
    r = w.client.post("/open311/v2/requests.json", data={"api_key": w.api_key, "service_code": "C0103",
                                                         "lat": w.point_a[1], "long": w.point_a[0]})
    cid = int(r.json()[0]["service_request_id"])
    with transaction(session_factory(w.engine)) as s:
        for action in [*PATH["verified"], "close"]:
            svc.transition(s, SYSTEM, w.settings, cid, action, unit_id=w.units[0] if action == "dispatch" else None)
    return cid


@pytest.fixture(scope="module")
def things(world) -> Things:
    c = world.client
    with transaction(session_factory(world.engine)) as s:
        load_builtin_checklists(s)
        grid_a_code = s.scalar(select(Grid.code).where(Grid.id == world.grid_a))
        building = s.scalar(select(Building.id).where(Building.grid_id == world.grid_a, Building.households > 0)
                            .order_by(Building.id))
    case = case_in(world, "dispatched")
    photo = _ok(c.post(f"/api/v1/cases/{case}/photos", headers=world.h("worker_a"),
                       files={"file": ("a.jpg", jpeg(), "image/jpeg")}), "photo")["id"]
    patrol = _ok(c.post("/api/v1/patrols", headers=world.h("worker_a"), json={"client_id": str(uuid.uuid4())}),
                 "patrol")["id"]
    open311 = _ok(c.post("/open311/v2/requests.json", data={
        "api_key": world.api_key, "service_code": "B0109", "lat": world.point_a[1], "long": world.point_a[0],
        "description": "路灯不亮"}), "open311")[0]["service_request_id"]
    plan = draft(world)
    grid_code = c.get(f"/api/v1/plans/{plan}", headers=world.h("planner")).json()["features"][0]["properties"]["code"]
    stair = next(x["id"] for x in c.get("/api/v1/checklists", headers=world.h("admin")).json()
                 if x["code"] == "stairwell_fire")
    client_id = str(uuid.uuid4())
    inspection = _ok(c.post("/api/v1/inspections", headers=world.h("worker_a"), json={
        "client_id": client_id, "checklist_id": stair, "building_id": building,
        "answers": {**PASS, "clutter": False, "clutter_photo": [str(uuid.uuid4())]}}), "inspection")["id"]
    inspection_photo = _ok(c.post(f"/api/v1/inspections/{client_id}/photos", headers=world.h("worker_a"),
                                  data={"item": "clutter_photo", "client_id": str(uuid.uuid4())},
                                  files={"file": ("p.jpg", jpeg(), "image/jpeg")}), "inspection photo")["id"]
    shop = _ok(c.post("/api/v1/shops", headers=world.h("worker_a"), json={
        "name": "矩阵店", "kind": "restaurant", "building_id": building}), "shop")["code"]
    household = household_in_a(world, building=building)
    resident = _ok(c.post(f"/api/v1/households/{household}/residents", headers=world.h("worker_a"),
                          json={"name": "矩阵测试", "birth_year": 1950}), "resident")["id"]
    need = _ok(c.post(f"/api/v1/households/{household}/needs", headers=world.h("worker_a"),
                      json={"type": "medical", "detail": "送药"}), "need")["id"]
    return Things(case, number_of(world, case), int(open311), photo, patrol, plan, grid_code, grid_a_code, building,
                  stair, inspection, client_id, inspection_photo, shop, household, resident, need)


# ---------------------------------------------------------------------------------------------- expected answers


def answers(ok: set[str] | frozenset[str] = frozenset(), *, anon: str | int = "denied", key: str | int | None = None,
            other: str | int = "denied", **special: str | int) -> dict[str, str | int]:
    """``ok`` for the roles in ``ok``, ``other`` for the other roles, ``anon`` for anonymous callers (and API keys
    unless ``key`` says otherwise); ``special`` overrides single callers."""
    out: dict[str, str | int] = {"anon": anon, "key": anon if key is None else key}
    out |= {r: ("ok" if r in ok else other) for r in ROLE_USERS}
    return out | special


ALL = frozenset(ROLE_USERS)
PUBLIC = answers(ALL, anon="ok")
# lead_a: grid A's 网格长 (acts on and reads grid A like its worker, has desk queues, walks no patrol); bldg_a: a
# 楼栋长 of a micro-grid of grid A that does not hold t.building (reports and visits only there, no desk, no figures)
STAFF_A = {"admin", "sup", "subd", "worker_a", "lead_a"}
DESK_A = {"admin", "sup", "subd"}
DESK = {"admin", "sup", "sup_other", "subd", "subd_other", "dept1", "dept2", "lead_a"}
# who reads a case of grid A dispatched to unit 1
READ_A = {"admin", "sup", "subd", "worker_a", "dept1", "planner", "lead_a"}
PLANNERS = {"admin", "planner"}
DISPATCHERS = {"admin", "sup", "sup_other", "subd", "subd_other", "lead_a"}  # the desk's bulk actions and units
NO_DEPT = ALL - {"dept1", "dept2", "bldg_a"}
FIGURES = ALL - {"bldg_a"}  # a 楼栋长 reads no figures, maps or analytics
SURVEY_READ_A = {"admin", "planner", "sup", "subd", "worker_a", "lead_a"}
WORKERS = {"worker_a", "worker_b"}
# personal data: the grid's worker, its 网格长 and the community's supervisor (and a 楼栋长 in her buildings only)
REGISTER_A = {"sup", "worker_a", "lead_a"}
REGISTER = {"sup", "sup_other", "worker_a", "worker_b", "lead_a", "bldg_a"}  # lists in scope (empty for B's)
GRID_A_FIGURES = ALL - {"sup_other", "subd_other", "worker_b", "bldg_a"}  # the figures of grid A (?grid=<its code>)
# teams and roster lists (in scope; a 网格长 her community's)
VOLUNTEER_READ = {"admin", "sup", "sup_other", "subd", "subd_other", "lead_a"}
# 考核: a worker gets her own row, the others their scope (a 楼栋长 none)
SCORECARDS = ALL - {"dept1", "dept2", "planner", "bldg_a"}
NO_GRID = "000000000000000"  # a grid code no plan has: a plan edit refused after the caller is let through

Build = Callable[[Any, Things], Req]
# (method, path) → (expected answer per caller, request builder)
ROUTES: dict[tuple[str, str], tuple[dict[str, str | int], Build]] = {
    # ------------------------------------------------------------------ docs, static, meta, public layers
    ("GET", "/openapi.json"): (PUBLIC, lambda w, t: Req("GET", "/openapi.json")),
    ("GET", "/docs"): (PUBLIC, lambda w, t: Req("GET", "/docs")),
    ("GET", "/docs/oauth2-redirect"): (PUBLIC, lambda w, t: Req("GET", "/docs/oauth2-redirect")),
    ("GET", "/redoc"): (PUBLIC, lambda w, t: Req("GET", "/redoc")),
    ("GET", "/static/{path}"): (PUBLIC, lambda w, t: Req("GET", "/static/css/desk.css")),
    ("GET", "/docs-assets/{path}"): (PUBLIC, lambda w, t: Req("GET", "/docs-assets/swagger/swagger-ui.css")),
    ("GET", "/health"): (PUBLIC, lambda w, t: Req("GET", "/health")),
    ("GET", "/api/v1/summary"): (PUBLIC, lambda w, t: Req("GET", "/api/v1/summary")),
    ("GET", "/"): (PUBLIC, lambda w, t: Req("GET", "/")),
    ("GET", "/api/v1/communities"): (PUBLIC, lambda w, t: Req("GET", "/api/v1/communities")),
    ("GET", "/api/v1/grids"): (PUBLIC, lambda w, t: Req("GET", "/api/v1/grids", params={"limit": 5})),
    ("GET", "/api/v1/buildings"): (PUBLIC, lambda w, t: Req("GET", "/api/v1/buildings", params={"limit": 5})),
    ("GET", "/api/v1/roads"): (PUBLIC, lambda w, t: Req("GET", "/api/v1/roads", params={"limit": 5})),
    ("GET", "/api/v1/categories"): (PUBLIC, lambda w, t: Req("GET", "/api/v1/categories")),
    ("GET", "/tiles/meta.json"): (PUBLIC, lambda w, t: Req("GET", "/tiles/meta.json")),
    ("GET", "/tiles/{z}/{x}/{y}.pbf"): (PUBLIC, lambda w, t: Req("GET", tile_at(w.point_a, 16))),
    # ------------------------------------------------------------------ sessions
    ("POST", "/api/v1/auth/token"): (PUBLIC, lambda w, t: Req("POST", "/api/v1/auth/token", data={
        "username": "planner", "password": PASSWORD})),
    ("POST", "/login"): (PUBLIC, lambda w, t: Req("POST", "/login", data={
        "username": "planner", "password": PASSWORD, "next": "/dashboard"})),
    ("GET", "/login"): (PUBLIC, lambda w, t: Req("GET", "/login")),
    ("POST", "/api/v1/auth/refresh"): (PUBLIC, lambda w, t: Req("POST", "/api/v1/auth/refresh", json={
        "refresh_token": fresh_refresh_token(w)})),
    ("POST", "/api/v1/auth/logout"): (PUBLIC, lambda w, t: Req("POST", "/api/v1/auth/logout", json={
        "refresh_token": fresh_refresh_token(w)})),
    ("GET", "/api/v1/auth/me"): (answers(ALL), lambda w, t: Req("GET", "/api/v1/auth/me")),
    # ------------------------------------------------------------------ cases
    ("POST", "/api/v1/cases"): (answers(STAFF_A), lambda w, t: Req("POST", "/api/v1/cases", json={
        "client_id": str(uuid.uuid4()), "category": "C0103", "lon": w.point_a[0], "lat": w.point_a[1]})),
    ("POST", "/api/v1/cases/batch"): (answers(ALL - {"planner", "dept1", "dept2"}), lambda w, t: Req(
        "POST", "/api/v1/cases/batch", json={"cases": [{"client_id": str(uuid.uuid4()), "category": "C0103",
                                                        "lon": w.point_a[0], "lat": w.point_a[1]}]})),
    ("GET", "/api/v1/cases"): (answers(ALL), lambda w, t: Req("GET", "/api/v1/cases", params={"limit": 5})),
    ("GET", "/api/v1/cases/export"): (answers(ALL), lambda w, t: Req("GET", "/api/v1/cases/export")),
    ("GET", "/api/v1/cases/map"): (answers(ALL), lambda w, t: Req("GET", "/api/v1/cases/map", params={
        "bbox": f"{w.point_a[0] - 0.01},{w.point_a[1] - 0.01},{w.point_a[0] + 0.01},{w.point_a[1] + 0.01}",
        "zoom": 16})),
    ("GET", "/api/v1/cases/{case_id}"): (answers(READ_A), lambda w, t: Req("GET", f"/api/v1/cases/{t.case}")),
    ("POST", "/api/v1/cases/{case_id}/actions/{action}"): (answers(STAFF_A), lambda w, t: Req(
        "POST", f"/api/v1/cases/{case_in(w, 'reported')}/actions/register", json={})),
    ("POST", "/api/v1/cases/{case_id}/tasks/{task_id}/{action}"): (answers(DESK_A | {"dept1"}), lambda w, t: Req(
        "POST", "/api/v1/cases/{}/tasks/{}/report_in".format(*whistled_task(w)))),
    ("POST", "/api/v1/escalations/run"): (answers({"admin"}), lambda w, t: Req("POST", "/api/v1/escalations/run")),
    ("POST", "/api/v1/cases/{case_id}/photos"): (answers(STAFF_A | {"dept1"}), lambda w, t: Req(
        "POST", f"/api/v1/cases/{t.case}/photos", files={"file": ("a.jpg", jpeg(), "image/jpeg")})),
    ("GET", "/api/v1/photos/{photo_id}"): (answers(READ_A), lambda w, t: Req("GET", f"/api/v1/photos/{t.photo}")),
    ("GET", "/api/v1/photos/{photo_id}/thumbnail"): (answers(READ_A), lambda w, t: Req(
        "GET", f"/api/v1/photos/{t.photo}/thumbnail")),
    # the upload as received (EXIF: position, phone): staff of the case's scope only — not its worker, unit, planner
    ("GET", "/api/v1/photos/{photo_id}/original"): (answers(DESK_A), lambda w, t: Req(
        "GET", f"/api/v1/photos/{t.photo}/original")),
    # ------------------------------------------------------------------ patrols, visits, revisits, tasks, notices
    ("POST", "/api/v1/patrols"): (answers(WORKERS), lambda w, t: Req("POST", "/api/v1/patrols", json={
        "client_id": str(uuid.uuid4())})),
    ("POST", "/api/v1/patrols/{patrol_id}/fixes"): (answers({"worker_a"}), lambda w, t: Req(
        "POST", f"/api/v1/patrols/{t.patrol}/fixes", json={"fixes": [{
            "time": (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).isoformat(),
            "lon": w.point_a[0], "lat": w.point_a[1]}]})),
    ("POST", "/api/v1/patrols/{patrol_id}/end"): (answers({"worker_a"}), lambda w, t: Req(
        "POST", "/api/v1/patrols/{}/end".format(_ok(w.client.post("/api/v1/patrols", headers=w.h("worker_a"), json={
            "client_id": str(uuid.uuid4())}), "patrol")["id"]))),
    ("GET", "/api/v1/patrols/{patrol_id}"): (answers({"admin", "sup", "subd", "worker_a"}),
                                            lambda w, t: Req("GET", f"/api/v1/patrols/{t.patrol}")),
    ("POST", "/api/v1/visits"): (answers({"worker_a"}), lambda w, t: Req("POST", "/api/v1/visits", json={
        "client_id": str(uuid.uuid4()), "building_id": t.building})),
    ("GET", "/api/v1/revisits"): (answers(ALL), lambda w, t: Req("GET", "/api/v1/revisits")),
    ("POST", "/api/v1/revisits/{revisit_id}"): (answers({"admin", "sup", "worker_a"}), lambda w, t: Req(
        "POST", f"/api/v1/revisits/{revisit_in_a(w)}", json={"outcome": "still_fixed"})),
    ("GET", "/api/v1/tasks"): (answers(ALL - {"planner", "bldg_a"}), lambda w, t: Req("GET", "/api/v1/tasks")),
    ("GET", "/api/v1/notices"): (answers(ALL), lambda w, t: Req("GET", "/api/v1/notices", params={"limit": 5})),
    ("GET", "/api/v1/notices/count"): (answers(ALL), lambda w, t: Req("GET", "/api/v1/notices/count")),
    ("POST", "/api/v1/notices/read"): (answers(ALL), lambda w, t: Req("POST", "/api/v1/notices/read",
                                                                      json={"all": True})),
    # ------------------------------------------------------------------ Open311 (public reads, writes with a key)
    ("GET", "/open311/v2/discovery.{fmt}"): (PUBLIC, lambda w, t: Req("GET", "/open311/v2/discovery.json")),
    ("GET", "/open311/v2/services.{fmt}"): (PUBLIC, lambda w, t: Req("GET", "/open311/v2/services.xml")),
    ("GET", "/open311/v2/services/{code}.{fmt}"): (PUBLIC, lambda w, t: Req(
        "GET", "/open311/v2/services/B0109.json")),
    ("GET", "/open311/v2/requests.{fmt}"): (PUBLIC, lambda w, t: Req("GET", "/open311/v2/requests.json")),
    ("GET", "/open311/v2/requests/{request_id}.{fmt}"): (PUBLIC, lambda w, t: Req(
        "GET", f"/open311/v2/requests/{t.open311}.json")),
    ("POST", "/open311/v2/requests.{fmt}"): (answers(key="ok", other=401), lambda w, t: Req(
        "POST", "/open311/v2/requests.json", data={"service_code": "B0109", "lat": w.point_a[1],
                                                   "long": w.point_a[0], "description": "路灯不亮"})),
    ("POST", "/open311/v2/requests/{request_id}/rating.{fmt}"): (answers(key="ok", other=401), lambda w, t: Req(
        "POST", f"/open311/v2/requests/{closed_open311(w)}/rating.json", data={"rating": "5"})),
    # ------------------------------------------------------------------ h5: the residents' public pages (no login)
    ("GET", "/api/v1/public/categories"): (PUBLIC, lambda w, t: Req("GET", "/api/v1/public/categories")),
    ("POST", "/api/v1/public/reports"): (PUBLIC, lambda w, t: Req("POST", "/api/v1/public/reports", data={
        "client_id": str(uuid.uuid4()), "category": "streetlight", "description": "路灯不亮了",
        "lon": str(w.point_a[0]), "lat": str(w.point_a[1])})),
    ("GET", "/api/v1/public/follow/{token}"): (PUBLIC, lambda w, t: Req(
        "GET", f"/api/v1/public/follow/{resident_case(w)}")),
    ("POST", "/api/v1/public/follow/{token}/rating"): (PUBLIC, lambda w, t: Req(
        "POST", f"/api/v1/public/follow/{resident_case(w, closed=True)}/rating", json={"rating": 4})),
    ("GET", "/api/v1/public/follow/{token}/photos/{n}"): (PUBLIC, lambda w, t: Req(
        "GET", f"/api/v1/public/follow/{resident_case(w, closed=True, photo=True)}/photos/1")),
    ("GET", "/r/"): (PUBLIC, lambda w, t: Req("GET", "/r/", params={"b": str(t.building), "g": t.grid_a_code})),
    ("GET", "/r/f/{token}"): (PUBLIC, lambda w, t: Req("GET", f"/r/f/{resident_case(w)}")),
    # ------------------------------------------------------------------ analytics and routing
    ("GET", "/api/v1/analytics/kpis"): (answers(FIGURES), lambda w, t: Req("GET", "/api/v1/analytics/kpis", params={
        "by": "overall", "start": "2026-01-01", "end": "2026-01-02"})),
    ("GET", "/api/v1/kpis/responsiveness"): (answers(FIGURES), lambda w, t: Req(
        "GET", "/api/v1/kpis/responsiveness", params={"by": "overall", "start": "2026-01-01", "end": "2026-01-02"})),
    ("GET", "/api/v1/analytics/kpis/trend"): (answers(GRID_A_FIGURES), lambda w, t: Req(
        "GET", "/api/v1/analytics/kpis/trend", params={"period": "week", "n": 1, "grid": t.grid_a_code})),
    ("GET", "/api/v1/analytics/hotspots"): (answers(FIGURES), lambda w, t: Req(
        "GET", "/api/v1/analytics/hotspots", params={"start": "2026-01-01", "end": "2026-01-02"})),
    ("GET", "/api/v1/analytics/emerging"): (answers(FIGURES), lambda w, t: Req(
        "GET", "/api/v1/analytics/emerging", params={"step": "day", "steps": 2})),
    ("GET", "/api/v1/analytics/coverage"): (answers(GRID_A_FIGURES), lambda w, t: Req(
        "GET", "/api/v1/analytics/coverage", params={"start": "2026-01-01", "end": "2026-01-02",
                                                     "grid": t.grid_a_code})),
    ("GET", "/api/v1/routing/responsible"): (answers(FIGURES), lambda w, t: Req(
        "GET", "/api/v1/routing/responsible", params={"lat": w.point_a[1], "lon": w.point_a[0],
                                                      "category": "C0103"})),
    ("GET", "/api/v1/workers/{worker_id}/route"): (answers({"admin", "sup", "subd", "worker_a", "lead_a"}),
                                                  lambda w, t: Req(
        "GET", f"/api/v1/workers/{w.users['worker_a']}/route")),
    # ------------------------------------------------------------------ the field app
    ("GET", "/api/v1/field/today"): (answers(WORKERS | {"bldg_a"}), lambda w, t: Req("GET", "/api/v1/field/today")),
    ("GET", "/api/v1/field/my-reports"): (answers(ALL), lambda w, t: Req("GET", "/api/v1/field/my-reports")),
    ("GET", "/api/v1/field/duplicates"): (answers(ALL), lambda w, t: Req("GET", "/api/v1/field/duplicates", params={
        "category": "C0103", "lon": w.point_a[0], "lat": w.point_a[1]})),
    ("POST", "/api/v1/field/self-handled"): (answers({"worker_a"}), lambda w, t: Req(
        "POST", "/api/v1/field/self-handled", files={"file": ("a.jpg", jpeg(), "image/jpeg")}, data={
            "report": json.dumps({"client_id": str(uuid.uuid4()), "category": "C0103", "lon": w.point_a[0],
                                  "lat": w.point_a[1]})})),
    ("GET", "/app"): (answers(anon="away", other="away"), lambda w, t: Req("GET", "/app")),
    ("GET", "/app/"): (PUBLIC, lambda w, t: Req("GET", "/app/")),
    ("GET", "/app/sw.js"): (PUBLIC, lambda w, t: Req("GET", "/app/sw.js")),
    ("GET", "/app/manifest.webmanifest"): (PUBLIC, lambda w, t: Req("GET", "/app/manifest.webmanifest")),
    ("GET", "/app/{name}"): (PUBLIC, lambda w, t: Req("GET", "/app/app.js")),
    # ------------------------------------------------------------------ pages
    ("GET", "/maps/cases"): (answers(FIGURES), lambda w, t: Req("GET", "/maps/cases")),
    ("GET", "/maps/heat"): (answers(FIGURES), lambda w, t: Req("GET", "/maps/heat")),
    ("GET", "/maps/hotspots"): (answers(FIGURES), lambda w, t: Req("GET", "/maps/hotspots", params={
        "start": "2026-01-01", "end": "2026-01-02"})),
    # with worker A's track of a day: only who may read her route (not a department, not a planner)
    ("GET", "/maps/coverage"): (answers({"admin", "sup", "subd", "worker_a", "lead_a"}), lambda w, t: Req(
        "GET", "/maps/coverage", params={"start": "2026-01-01", "end": "2026-01-02", "grid": t.grid_a_code,
                                         "worker_id": w.users["worker_a"], "day": "2026-01-01"})),
    ("GET", "/maps/grids"): (answers(FIGURES), lambda w, t: Req("GET", "/maps/grids")),
    ("GET", "/dashboard"): (answers(FIGURES, other="away"), lambda w, t: Req("GET", "/dashboard")),
    # the desk and the planner send the roles they are not for elsewhere (workers to /app/, others to /dashboard)
    ("GET", "/planner"): (answers(PLANNERS, other="away"), lambda w, t: Req("GET", "/planner")),
    ("GET", "/surveys"): (answers(NO_DEPT), lambda w, t: Req("GET", "/surveys")),
    ("GET", "/desk"): (answers(DESK, other="away"), lambda w, t: Req("GET", "/desk")),
    ("GET", "/desk/cases/{number}"): (answers(READ_A), lambda w, t: Req("GET", f"/desk/cases/{t.number}")),
    ("GET", "/desk/cases/{number}/print"): (answers(READ_A), lambda w, t: Req(
        "GET", f"/desk/cases/{t.number}/print")),
    # ------------------------------------------------------------------ OGC API Features (public)
    ("GET", "/ogc"): (PUBLIC, lambda w, t: Req("GET", "/ogc")),
    ("GET", "/ogc/api"): (PUBLIC, lambda w, t: Req("GET", "/ogc/api")),
    ("GET", "/ogc/conformance"): (PUBLIC, lambda w, t: Req("GET", "/ogc/conformance")),
    ("GET", "/ogc/collections"): (PUBLIC, lambda w, t: Req("GET", "/ogc/collections")),
    ("GET", "/ogc/collections/{collectionId}"): (PUBLIC, lambda w, t: Req("GET", "/ogc/collections/cases")),
    # OGC API Features refuses parameters it does not know (the key's api_key)
    ("GET", "/ogc/collections/{collectionId}/items"): ({**PUBLIC, "key": 400}, lambda w, t: Req(
        "GET", "/ogc/collections/cases/items", params={"limit": 5})),
    ("GET", "/ogc/collections/{collectionId}/items/{featureId}"): (PUBLIC, lambda w, t: Req(
        "GET", f"/ogc/collections/cases/items/{t.case}")),
    # ------------------------------------------------------------------ plans (planners and admins only)
    ("POST", "/api/v1/plans"): (answers(PLANNERS), lambda w, t: Req("POST", "/api/v1/plans", json={
        "name": f"matrix {uuid.uuid4().hex[:6]}"})),
    ("GET", "/api/v1/plans"): (answers(PLANNERS), lambda w, t: Req("GET", "/api/v1/plans")),
    # a rollback or a publish would change the grids in force under the other requests: the body is refused
    # (422) once the caller is let through, which is what the matrix checks
    ("POST", "/api/v1/plans/rollback"): (answers(other="denied", admin=409, planner=409), lambda w, t: Req(
        "POST", "/api/v1/plans/rollback", json={})),
    ("GET", "/api/v1/plans/cases/{case_id}/grid"): (answers(PLANNERS), lambda w, t: Req(
        "GET", f"/api/v1/plans/cases/{t.case}/grid")),
    ("GET", "/api/v1/plans/{plan_id}"): (answers(PLANNERS), lambda w, t: Req("GET", f"/api/v1/plans/{t.plan}")),
    ("DELETE", "/api/v1/plans/{plan_id}"): (answers(PLANNERS), lambda w, t: Req(
        "DELETE", f"/api/v1/plans/{draft(w)}")),
    ("PUT", "/api/v1/plans/{plan_id}/grids/{code}"): (answers(other="denied", admin=422, planner=422),
                                                      lambda w, t: Req(
        "PUT", f"/api/v1/plans/{t.plan}/grids/{t.grid_code}", json={"geometry": {"type": "Point",
                                                                                 "coordinates": [0, 0]}})),
    ("PATCH", "/api/v1/plans/{plan_id}/grids/{code}"): (answers(PLANNERS), lambda w, t: Req(
        "PATCH", f"/api/v1/plans/{t.plan}/grids/{t.grid_code}", json={})),
    ("DELETE", "/api/v1/plans/{plan_id}/grids/{code}"): (answers(admin="hidden", planner="hidden"), lambda w, t: Req(
        "DELETE", f"/api/v1/plans/{t.plan}/grids/{NO_GRID}")),
    ("POST", "/api/v1/plans/{plan_id}/split"): (answers(admin="hidden", planner="hidden"), lambda w, t: Req(
        "POST", f"/api/v1/plans/{t.plan}/split", json={"code": NO_GRID, "line": {
            "type": "LineString", "coordinates": [[0, 0], [0.001, 0.001]]}})),
    ("POST", "/api/v1/plans/{plan_id}/merge"): (answers(admin="hidden", planner="hidden"), lambda w, t: Req(
        "POST", f"/api/v1/plans/{t.plan}/merge", json={"codes": [NO_GRID, t.grid_code]})),
    ("POST", "/api/v1/plans/{plan_id}/reshape"): (answers(other="denied", admin=422, planner=422), lambda w, t: Req(
        "POST", f"/api/v1/plans/{t.plan}/reshape", json={"code": NO_GRID, "geometry": {
            "type": "Point", "coordinates": [0, 0]}})),
    ("POST", "/api/v1/plans/{plan_id}/move-boundary"): (answers(admin="hidden", planner="hidden"),
                                                        lambda w, t: Req(
        "POST", f"/api/v1/plans/{t.plan}/move-boundary", json={"codes": [NO_GRID, t.grid_code], "line": {
            "type": "LineString", "coordinates": [[0, 0], [0.001, 0.001]]}})),
    ("POST", "/api/v1/plans/{plan_id}/propose"): (answers(PLANNERS), lambda w, t: Req(
        "POST", f"/api/v1/plans/{draft(w)}/propose", params={"community": community_a(w)})),
    ("GET", "/api/v1/plans/{plan_id}/validation"): (answers(PLANNERS), lambda w, t: Req(
        "GET", f"/api/v1/plans/{t.plan}/validation")),
    ("GET", "/api/v1/plans/{plan_id}/impact"): (answers(PLANNERS), lambda w, t: Req(
        "GET", f"/api/v1/plans/{t.plan}/impact")),
    ("POST", "/api/v1/plans/{plan_id}/publish"): (answers(other="denied", admin=422, planner=422), lambda w, t: Req(
        "POST", f"/api/v1/plans/{t.plan}/publish", json={"effective_from": "2100-01-01T00:00:00Z"})),
    ("GET", "/api/v1/stickers"): (answers({"admin", "planner", "sup", "subd"}), lambda w, t: Req(
        "GET", "/api/v1/stickers", params={"kind": "grids", "grid": t.grid_a_code})),
    ("GET", "/api/v1/plans/{plan_id}/download"): (answers(PLANNERS), lambda w, t: Req(
        "GET", f"/api/v1/plans/{t.plan}/download", params={"format": "geojson"})),
    ("POST", "/api/v1/plans/{plan_id}/upload"): (answers(other="denied", admin=422, planner=422), lambda w, t: Req(
        "POST", f"/api/v1/plans/{t.plan}/upload", files={"file": ("grids.txt", b"{}")})),
    # ------------------------------------------------------------------ checklists, inspections, shops
    ("GET", "/api/v1/checklists"): (answers(ALL), lambda w, t: Req("GET", "/api/v1/checklists")),
    ("GET", "/api/v1/checklists/{code}"): (answers(ALL), lambda w, t: Req("GET", "/api/v1/checklists/stairwell_fire")),
    ("POST", "/api/v1/checklists"): (answers({"admin"}), lambda w, t: Req(
        "POST", "/api/v1/checklists", headers={"Content-Type": "text/yaml"}, content=(
            f"code: matrix_{uuid.uuid4().hex[:6]}\ntitle: {{zh: 矩阵, en: Matrix}}\ntarget: building\nitems:\n"
            "  - {id: door, type: yesno, text: {zh: 单元门完好, en: Entrance door intact}, fail: {}}\n").encode())),
    ("POST", "/api/v1/inspections"): (answers({"worker_a", "sup"}), lambda w, t: Req(
        "POST", "/api/v1/inspections", json={"client_id": str(uuid.uuid4()), "checklist_id": t.stair,
                                             "building_id": t.building, "answers": PASS})),
    ("POST", "/api/v1/inspections/{inspection_client_id}/photos"): (answers({"worker_a", "sup"}), lambda w, t: Req(
        "POST", f"/api/v1/inspections/{t.inspection_client}/photos",
        data={"item": "clutter_photo", "client_id": str(uuid.uuid4())},
        files={"file": ("p.jpg", jpeg(), "image/jpeg")})),
    ("GET", "/api/v1/inspections"): (answers(NO_DEPT), lambda w, t: Req("GET", "/api/v1/inspections")),
    ("GET", "/api/v1/inspections/{inspection_id}"): (answers(SURVEY_READ_A), lambda w, t: Req(
        "GET", f"/api/v1/inspections/{t.inspection}")),
    ("GET", "/api/v1/inspection-photos/{photo_id}"): (answers(SURVEY_READ_A), lambda w, t: Req(
        "GET", f"/api/v1/inspection-photos/{t.inspection_photo}")),
    ("GET", "/api/v1/shops"): (answers(NO_DEPT), lambda w, t: Req("GET", "/api/v1/shops")),
    ("POST", "/api/v1/shops"): (answers({"admin", "sup", "worker_a"}), lambda w, t: Req("POST", "/api/v1/shops", json={
        "name": "矩阵店", "building_id": t.building})),
    ("GET", "/api/v1/shops/{code}"): (answers(SURVEY_READ_A), lambda w, t: Req("GET", f"/api/v1/shops/{t.shop}")),
    ("GET", "/api/v1/shops/{code}/qr.svg"): (answers(SURVEY_READ_A), lambda w, t: Req(
        "GET", f"/api/v1/shops/{t.shop}/qr.svg")),
    ("GET", "/api/v1/surveys/report/inspections"): (answers(NO_DEPT), lambda w, t: Req(
        "GET", "/api/v1/surveys/report/inspections", params={"month": "2026-01"})),
    ("GET", "/api/v1/surveys/report/findings"): (answers(NO_DEPT), lambda w, t: Req(
        "GET", "/api/v1/surveys/report/findings", params={"month": "2026-01"})),
    # ------------------------------------------------------------------ the residents register (民情台账)
    ("GET", "/api/v1/households"): (answers(REGISTER), lambda w, t: Req("GET", "/api/v1/households")),
    ("POST", "/api/v1/households"): (answers(REGISTER_A), lambda w, t: Req(
        "POST", "/api/v1/households", json={"building_id": t.building, "room": f"{uuid.uuid4().hex[:6]}室"})),
    ("GET", "/api/v1/households/{household_id}"): (answers(REGISTER_A), lambda w, t: Req(
        "GET", f"/api/v1/households/{t.household}")),
    ("PATCH", "/api/v1/households/{household_id}"): (answers(REGISTER_A), lambda w, t: Req(
        "PATCH", f"/api/v1/households/{t.household}", json={"members": 2})),
    ("DELETE", "/api/v1/households/{household_id}"): (answers(REGISTER_A), lambda w, t: Req(
        "DELETE", f"/api/v1/households/{household_in_a(w, t)}")),
    ("POST", "/api/v1/households/{household_id}/residents"): (answers(REGISTER_A),
                                                             lambda w, t: Req(
        "POST", f"/api/v1/households/{household_in_a(w, t)}/residents", json={"name": "矩阵", "birth_year": 1980})),
    ("POST", "/api/v1/households/{household_id}/needs"): (answers(REGISTER_A), lambda w, t: Req(
        "POST", f"/api/v1/households/{household_in_a(w, t)}/needs", json={"type": "medical", "detail": "送药"})),
    ("GET", "/api/v1/residents/due"): (answers(REGISTER), lambda w, t: Req("GET", "/api/v1/residents/due")),
    ("GET", "/api/v1/residents/export.csv"): (answers({"sup", "sup_other"}), lambda w, t: Req(
        "GET", "/api/v1/residents/export.csv")),
    ("GET", "/api/v1/residents/audit"): (answers({"admin", "sup", "sup_other"}), lambda w, t: Req(
        "GET", "/api/v1/residents/audit")),
    ("GET", "/api/v1/residents/{resident_id}"): (answers(REGISTER_A), lambda w, t: Req(
        "GET", f"/api/v1/residents/{t.resident}")),
    ("PATCH", "/api/v1/residents/{resident_id}"): (answers(REGISTER_A), lambda w, t: Req(
        "PATCH", f"/api/v1/residents/{t.resident}", json={"lives_alone": False})),
    ("DELETE", "/api/v1/residents/{resident_id}"): (answers(REGISTER_A), lambda w, t: Req(
        "DELETE", f"/api/v1/residents/{resident_in_a(w, t)}")),
    ("GET", "/api/v1/needs"): (answers(REGISTER), lambda w, t: Req("GET", "/api/v1/needs")),
    ("PATCH", "/api/v1/needs/{need_id}"): (answers(REGISTER_A), lambda w, t: Req(
        "PATCH", f"/api/v1/needs/{t.need}", json={"status": "in_progress"})),
    ("GET", "/api/v1/surveys/report/visits"): (answers(NO_DEPT), lambda w, t: Req(
        "GET", "/api/v1/surveys/report/visits", params={"month": "2026-01"})),
    # ------------------------------------------------------------------ the case desk
    ("GET", "/api/v1/desk/queues"): (answers(DESK), lambda w, t: Req("GET", "/api/v1/desk/queues")),
    ("GET", "/api/v1/desk/queues/{queue}"): (answers({"admin", "sup", "sup_other", "lead_a"}), lambda w, t: Req(
        "GET", "/api/v1/desk/queues/to_register")),
    # a supervisor of another community gets 200 with the case refused in its result (the scope is per case)
    ("POST", "/api/v1/desk/bulk"): (answers(DISPATCHERS), lambda w, t: Req(
        "POST", "/api/v1/desk/bulk", json={"action": "register", "cases": [case_in(w, "reported")]})),
    ("GET", "/api/v1/desk/units"): (answers(DISPATCHERS), lambda w, t: Req(
        "GET", "/api/v1/desk/units")),
    ("GET", "/api/v1/desk/events"): (answers(DESK), lambda w, t: Req("GET", "/api/v1/desk/events",
                                                                    params={"seconds": 0.1})),
    ("GET", "/api/v1/desk/cases/{number}"): (answers(READ_A), lambda w, t: Req(
        "GET", f"/api/v1/desk/cases/{t.number}")),
    ("GET", "/api/v1/desk/cases/{number}/route"): (answers(READ_A), lambda w, t: Req(
        "GET", f"/api/v1/desk/cases/{t.number}/route", params={"unit": w.units[0]})),
    # ------------------------------------------------------------------ the 12345 exchange (X-API-Key of scope hotline:
    # no caller here has one, so every push is refused; tests/api/test_hotline.py goes through with it)
    ("POST", "/api/v1/hotline/orders"): (answers(other=401), lambda w, t: Req("POST", "/api/v1/hotline/orders", json={
        "order_no": "M1", "received_at": "2026-12-01T08:00:00+08:00", "address": "矩阵路1号"})),
    ("GET", "/api/v1/hotline/results"): (answers(other=401), lambda w, t: Req(
        "GET", "/api/v1/hotline/results", params={"since": "2026-12-01"})),
    ("POST", "/api/v1/hotline/feedback"): (answers(other=401), lambda w, t: Req(
        "POST", "/api/v1/hotline/feedback", json={"order_no": "M1", "satisfaction": "满意"})),
    # a signed link opens an after-photo of a 12345 case; none other, and nothing without the signature
    ("GET", "/api/v1/hotline/photos/{photo_id}"): (answers(anon="hidden", other="hidden"), lambda w, t: Req(
        "GET", f"/api/v1/hotline/photos/{t.photo}")),
    ("GET", "/api/v1/desk/unlocated"): (answers({"admin", "sup", "sup_other", "subd", "subd_other"}), lambda w, t: Req(
        "GET", "/api/v1/desk/unlocated")),
    ("POST", "/api/v1/hotline/orders/{order_no}/place"): (
        answers({"admin", "sup", "subd"}, sup_other="hidden", subd_other="hidden"), lambda w, t: Req(
            "POST", f"/api/v1/hotline/orders/{pending_order(w)}/place", json={"lon": w.point_a[0],
                                                                               "lat": w.point_a[1]})),
    ("GET", "/desk/unlocated"): (answers({"admin", "sup", "sup_other", "subd", "subd_other"}, other="away"),
                                 lambda w, t: Req("GET", "/desk/unlocated")),
    # ------------------------------------------------------------ 微网格 (people): read in scope, drawn by planners
    ("GET", "/api/v1/microgrids"): (answers(ALL - {"dept1", "dept2"}), lambda w, t: Req("GET", "/api/v1/microgrids")),
    ("POST", "/api/v1/microgrids/generate"): (answers(PLANNERS), lambda w, t: Req(
        "POST", "/api/v1/microgrids/generate", json={"grids": [t.grid_code], "plan_id": t.plan})),
    ("POST", "/api/v1/microgrids/{code}/buildings"): (answers(PLANNERS), lambda w, t: Req(
        "POST", f"/api/v1/microgrids/{w.micro_code}/buildings", json={"building_id": t.building, "plan_id": t.plan})),
    ("PUT", "/api/v1/microgrids/{code}/leader"): (answers({"admin", "planner", "sup"}), lambda w, t: Req(
        "PUT", f"/api/v1/microgrids/{w.micro_code}/leader", json={"username": "bldg_a"})),
    # ------------------------------------------------------------------ volunteers (issue 22): teams, roster, month
    ("GET", "/api/v1/volunteers/teams"): (answers(VOLUNTEER_READ), lambda w, t: Req("GET", "/api/v1/volunteers/teams")),
    ("POST", "/api/v1/volunteers/teams"): (answers(DESK_A), lambda w, t: Req("POST", "/api/v1/volunteers/teams", json={
        "community_id": community_a(w), "name": f"队{uuid.uuid4().hex[:8]}", "kind": "safety"})),
    ("POST", "/api/v1/volunteers/teams/{team_id}/members"): (answers(DESK_A), lambda w, t: Req(
        "POST", f"/api/v1/volunteers/teams/{team_in_a(w)[0]}/members", json={"name": "矩阵队员"})),
    ("PATCH", "/api/v1/volunteers/teams/{team_id}/members/{member_id}"): (answers(DESK_A), lambda w, t: Req(
        "PATCH", "/api/v1/volunteers/teams/{}/members/{}".format(*team_in_a(w)), json={"active": False})),
    ("POST", "/api/v1/volunteers/teams/{team_id}/tasks"): (answers(DESK_A), lambda w, t: Req(
        "POST", f"/api/v1/volunteers/teams/{team_in_a(w)[0]}/tasks", json={"title": "矩阵任务"})),
    ("POST", "/api/v1/volunteers/tasks/{task_id}/done"): (answers(DESK_A), lambda w, t: Req(
        "POST", f"/api/v1/volunteers/tasks/{team_in_a(w)[2]}/done")),
    ("GET", "/api/v1/volunteers/members"): (answers(VOLUNTEER_READ), lambda w, t: Req(
        "GET", "/api/v1/volunteers/members")),
    ("POST", "/api/v1/volunteers/members"): (answers(DESK_A), lambda w, t: Req("POST", "/api/v1/volunteers/members",
                                                                               json={"kind": "unit", "name": "矩阵单位",
                                                                                     "community_id": community_a(w)})),
    # a supervisor or subdistrict of elsewhere is let in, and every row (outside her scope) is a listed problem
    ("POST", "/api/v1/volunteers/members/import"): (answers(DESK_A, sup_other=422, subd_other=422), lambda w, t: Req(
        "POST", "/api/v1/volunteers/members/import", headers={"Content-Type": "text/csv"},
        content=f"kind,name,grid\nunit,矩阵{uuid.uuid4().hex[:6]},{t.grid_a_code}\n".encode())),
    ("PATCH", "/api/v1/volunteers/members/{member_id}"): (answers(DESK_A), lambda w, t: Req(
        "PATCH", f"/api/v1/volunteers/members/{service_member_in_a(w)}", json={"active": True})),
    # pairing with a household is personal data: the community's supervisor only (the register's rule)
    ("POST", "/api/v1/volunteers/members/{member_id}/pairings"): (answers({"sup"}), lambda w, t: Req(
        "POST", f"/api/v1/volunteers/members/{service_member_in_a(w)}/pairings",
        json={"household_id": household_in_a(w, t)})),
    ("POST", "/api/v1/volunteers/pairings/{pairing_id}/end"): (answers(DESK_A), lambda w, t: Req(
        "POST", f"/api/v1/volunteers/pairings/{pairing_in_a(w, t)}/end", json={})),
    ("POST", "/api/v1/volunteers/members/{member_id}/services"): (answers(DESK_A), lambda w, t: Req(
        "POST", f"/api/v1/volunteers/members/{service_member_in_a(w)}/services",
        json={"on": "2026-01-05", "kind": "visit", "client_id": str(uuid.uuid4())})),
    ("GET", "/api/v1/volunteers/month"): (answers(DESK_A | {"lead_a"}), lambda w, t: Req(
        "GET", "/api/v1/volunteers/month", params={"community_id": community_a(w)})),
    ("GET", "/desk/people"): (answers(VOLUNTEER_READ, other="away"), lambda w, t: Req("GET", "/desk/people")),
    # ------------------------------------------------------------------ 研判 and 议事 (issue 22, deliberation)
    ("POST", "/api/v1/cases/{case_id}/assessments"): (answers(DESK_A | {"lead_a"}), lambda w, t: Req(
        "POST", f"/api/v1/cases/{case_in(w, 'registered')}/assessments",
        json={"reason": "矩阵研判", "level": "community"})),
    ("GET", "/api/v1/cases/{case_id}/assessments"): (answers(READ_A), lambda w, t: Req(
        "GET", f"/api/v1/cases/{t.case}/assessments")),
    ("GET", "/api/v1/meetings/lists"): (answers(ALL), lambda w, t: Req("GET", "/api/v1/meetings/lists")),
    ("GET", "/api/v1/meetings"): (answers(DESK - {"dept1", "dept2"}), lambda w, t: Req("GET", "/api/v1/meetings")),
    ("POST", "/api/v1/meetings"): (answers(DESK_A), lambda w, t: Req("POST", "/api/v1/meetings", json={
        "kind": "grid_council", "topic": "矩阵议事", "community": community_code_a(w)})),
    ("GET", "/api/v1/meetings/{number}"): (answers(DESK_A | {"lead_a"}), lambda w, t: Req(
        "GET", f"/api/v1/meetings/{meeting_in_a(w)}")),
    ("POST", "/api/v1/meetings/{number}/links"): (answers(DESK_A), lambda w, t: Req(
        "POST", f"/api/v1/meetings/{meeting_in_a(w)}/links", json={"case": number_of(w, case_in(w, 'registered'))})),
    ("POST", "/api/v1/meetings/{number}/held"): (answers(DESK_A), lambda w, t: Req(
        "POST", f"/api/v1/meetings/{meeting_in_a(w)}/held", json={"participants": 9})),
    ("POST", "/api/v1/meetings/{number}/decision"): (answers(DESK_A), lambda w, t: Req(
        "POST", f"/api/v1/meetings/{meeting_in_a(w)}/decision", json={
            "decision": "同意", "participants": 9, "votes_for": 8})),
    ("POST", "/api/v1/meetings/{number}/follow-ups"): (answers(DESK_A), lambda w, t: Req(
        "POST", f"/api/v1/meetings/{meeting_in_a(w, decided=True)}/follow-ups", json={"category": "C0105"})),
    ("POST", "/api/v1/meetings/{number}/cancel"): (answers(DESK_A), lambda w, t: Req(
        "POST", f"/api/v1/meetings/{meeting_in_a(w)}/cancel", json={"reason": "改期"})),
    ("GET", "/desk/meetings"): (answers(DESK - {"dept1", "dept2"}), lambda w, t: Req("GET", "/desk/meetings")),
    ("GET", "/desk/meetings/{number}"): (answers(DESK_A | {"lead_a"}), lambda w, t: Req(
        "GET", f"/desk/meetings/{meeting_in_a(w)}")),
    # ------------------------------------------------------------------ 考核 and the 月报 (issue 22, assessment)
    ("GET", "/api/v1/scorecards"): (answers(SCORECARDS), lambda w, t: Req("GET", "/api/v1/scorecards", params={
        "month": "2026-03", "trend": "false"})),
    ("GET", "/api/v1/scorecards/rules"): (answers(SCORECARDS), lambda w, t: Req("GET", "/api/v1/scorecards/rules")),
    ("GET", "/api/v1/scorecards/workers/{username}"): (answers(STAFF_A), lambda w, t: Req(
        "GET", "/api/v1/scorecards/workers/worker_a", params={"month": "2026-03"})),
    ("GET", "/api/v1/reports/monthly.xlsx"): (answers(DESK_A), lambda w, t: Req(
        "GET", "/api/v1/reports/monthly.xlsx", params={"community": community_a(w), "month": "2026-03"})),
    ("GET", "/desk/scorecards"): (answers(SCORECARDS, other="away"), lambda w, t: Req(
        "GET", "/desk/scorecards", params={"month": "2026-03"})),
    ("GET", "/desk/reports/monthly"): (answers(DESK_A, other="away", sup_other="denied", subd_other="denied"),
                                       lambda w, t: Req("GET", "/desk/reports/monthly", params={
                                           "community": community_a(w), "month": "2026-03"})),
}


def team_in_a(w) -> tuple[int, int, int]:
    """A new volunteer team in grid A's community with a member and an open task: (team, member, task) ids."""
    from patrol.core.models import TeamMember, TeamTask, VolunteerTeam

    with transaction(session_factory(w.engine)) as s:
        team = VolunteerTeam(community_id=s.scalar(select(Grid.community_id).where(Grid.id == w.grid_a)),
                             name=f"矩阵队{uuid.uuid4().hex[:8]}", kind="service")
        s.add(team)
        s.flush()
        member, task = TeamMember(team_id=team.id, name="矩阵队员"), TeamTask(team_id=team.id, title="矩阵任务")
        s.add_all([member, task])
        s.flush()
        return team.id, member.id, task.id


def service_member_in_a(w) -> int:
    """A new 网格服务专员 of grid A."""
    from patrol.core.models import ServiceMember

    with transaction(session_factory(w.engine)) as s:
        m = ServiceMember(kind="liaison", name="矩阵专员", community_id=s.scalar(
            select(Grid.community_id).where(Grid.id == w.grid_a)), grid_id=w.grid_a)
        s.add(m)
        s.flush()
        return m.id


def pairing_in_a(w, t: Things) -> int:
    """A new pairing of a new service member with a new household of grid A (made by the supervisor)."""
    return _ok(w.client.post(f"/api/v1/volunteers/members/{service_member_in_a(w)}/pairings", headers=w.h("sup"),
                             json={"household_id": household_in_a(w, t)}), "pairing")["id"]


def community_code_a(w) -> str:
    with transaction(session_factory(w.engine)) as s:
        return str(s.scalar(select(Community.code).join(Grid, Grid.community_id == Community.id)
                            .where(Grid.id == w.grid_a)))


def meeting_in_a(w, *, decided: bool = False) -> str:
    """A new 议事 meeting of grid A's community with a case of grid A on its agenda (decided when asked); its
    number."""
    from patrol.cases import meetings

    case = number_of(w, case_in(w, "registered"))
    with transaction(session_factory(w.engine)) as s:
        m = meetings.plan_meeting(s, SYSTEM, w.settings, kind="grid_council", topic="矩阵议事",
                                  community=community_code_a(w), cases=[case])
        if decided:
            meetings.decide(s, SYSTEM, w.settings, str(m.number), decision="同意")
        return str(m.number)
# ------------------------------------------------------------------ issue 22, mediation: 调解 and needs in the loop


def mediated_in_a(w) -> int:
    """A fresh case of grid A (dispatched to unit 1) with an open mediation opened by worker A: its id."""
    cid = case_in(w, "dispatched")
    _ok(w.client.post(f"/api/v1/cases/{cid}/mediation", headers=w.h("worker_a"), json={
        "parties": [{"name": "矩阵当事人", "phone": "13800000000"}]}), "mediation")
    return cid


def need_in_a(w, t: Things, *, answered: bool = False) -> int:
    """A fresh need of a household of grid A (answered when asked): its id."""
    need = _ok(w.client.post(f"/api/v1/households/{household_in_a(w, t)}/needs", headers=w.h("worker_a"),
                             json={"type": "other", "detail": "矩阵诉求"}), "need")["id"]
    if answered:
        _ok(w.client.post(f"/api/v1/needs/{need}/answer", headers=w.h("worker_a"), json={"response": "已答复"}),
            "answer")
    return need


ROUTES |= {
    ("GET", "/api/v1/mediations"): (answers(ALL), lambda w, t: Req("GET", "/api/v1/mediations")),
    ("POST", "/api/v1/cases/{case_id}/mediation"): (answers(REGISTER_A), lambda w, t: Req(
        "POST", f"/api/v1/cases/{case_in(w, 'dispatched')}/mediation", json={"parties": [{"name": "矩阵"}]})),
    ("GET", "/api/v1/cases/{case_id}/mediation"): (answers(READ_A), lambda w, t: Req(
        "GET", f"/api/v1/cases/{mediated_in_a(w)}/mediation")),
    ("POST", "/api/v1/cases/{case_id}/mediation/parties"): (answers(REGISTER_A), lambda w, t: Req(
        "POST", f"/api/v1/cases/{mediated_in_a(w)}/mediation/parties", json={"name": "矩阵"})),
    ("POST", "/api/v1/cases/{case_id}/mediation/sessions"): (answers(REGISTER_A), lambda w, t: Req(
        "POST", f"/api/v1/cases/{mediated_in_a(w)}/mediation/sessions", json={"place": "调解室"})),
    ("POST", "/api/v1/cases/{case_id}/mediation/close"): (answers(REGISTER_A), lambda w, t: Req(
        "POST", f"/api/v1/cases/{mediated_in_a(w)}/mediation/close", json={"outcome": "failed"})),
    ("GET", "/api/v1/kpis/mediation"): (answers(ALL - {"bldg_a"}), lambda w, t: Req("GET", "/api/v1/kpis/mediation")),
    ("GET", "/desk/mediation"): (answers(ALL), lambda w, t: Req("GET", "/desk/mediation")),
    ("GET", "/api/v1/needs/open"): (answers(REGISTER), lambda w, t: Req("GET", "/api/v1/needs/open")),
    ("POST", "/api/v1/needs/{need_id}/assign"): (answers(REGISTER_A), lambda w, t: Req(
        "POST", f"/api/v1/needs/{t.need}/assign", json={"due_on": "2030-01-31"})),
    ("POST", "/api/v1/needs/{need_id}/answer"): (answers(REGISTER_A), lambda w, t: Req(
        "POST", f"/api/v1/needs/{need_in_a(w, t)}/answer", json={"response": "已答复"})),
    ("POST", "/api/v1/needs/{need_id}/feedback"): (answers(REGISTER_A), lambda w, t: Req(
        "POST", f"/api/v1/needs/{need_in_a(w, t, answered=True)}/feedback", json={"feedback": "satisfied"})),
    ("POST", "/api/v1/needs/{need_id}/case"): (answers(REGISTER_A), lambda w, t: Req(
        "POST", f"/api/v1/needs/{need_in_a(w, t)}/case", json={"category": "C0103"})),
    ("POST", "/api/v1/needs/{need_id}/link"): (answers(REGISTER_A), lambda w, t: Req(
        "POST", f"/api/v1/needs/{need_in_a(w, t)}/link", json={"case_id": t.case})),
    ("GET", "/api/v1/kpis/needs"): (answers(ALL - {"dept1", "dept2", "bldg_a"}),
                                    lambda w, t: Req("GET", "/api/v1/kpis/needs")),
    ("GET", "/desk/needs"): (answers(ALL), lambda w, t: Req("GET", "/desk/needs")),
}


def pending_order(w) -> str:
    """A new 12345 order waiting in 待定位 in grid A's community (and subdistrict); its number."""
    no = f"M-{uuid.uuid4().hex[:12]}"
    with transaction(session_factory(w.engine)) as s:
        com = s.scalar(select(Grid.community_id).where(Grid.id == w.grid_a))
        s.add(HotlineOrder(order_no=no, state="pending", received_at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
                           category_code="C0102", address="矩阵路9号", community_id=com,
                           subdistrict_id=s.scalar(select(Community.subdistrict_id).where(Community.id == com))))
    return no


def community_a(w) -> int:
    with transaction(session_factory(w.engine)) as s:
        return int(s.scalar(select(Grid.community_id).where(Grid.id == w.grid_a)))


# ---------------------------------------------------------------------------------------------- the test


def _send(w, caller: str, req: Req):
    headers = dict(req.headers)
    params = dict(req.params)
    data = dict(req.data) if req.data is not None else None
    if caller == "key":  # the key as the Open311 routes take it: a form field of a form, else a query parameter
        if data is not None:
            data["api_key"] = w.api_key
        else:
            params["api_key"] = w.api_key
    elif caller != "anon":
        headers["Authorization"] = f"Bearer {w.tokens[caller]}"
    kw: dict[str, Any] = {"headers": headers, "params": params, "follow_redirects": False}
    if req.json is not None:
        kw["json"] = req.json
    if data is not None:
        kw["data"] = data
    if req.files is not None:
        kw["files"] = req.files
    if req.content is not None:
        kw["content"] = req.content
    return w.client.request(req.method, req.path, **kw)


def classify(caller: str, r) -> str | int:
    code = r.status_code
    if code in (301, 302, 303, 307, 308) and r.headers.get("location", "").startswith("/login"):
        return "denied" if caller in ANONYMOUS else code
    if 300 <= code < 400:
        return "away"
    if 200 <= code < 300:
        return "ok"
    if code == 401 and caller in ANONYMOUS:
        return "denied"
    if code == 403 and caller not in ANONYMOUS:
        return "denied"
    if code == 404:
        return "hidden"
    return code


def test_every_route_has_an_entry_and_every_entry_a_route(world):
    served = app_routes(world.client.app)
    missing = sorted(served - set(ROUTES), key=lambda x: (x[1], x[0]))
    gone = sorted(set(ROUTES) - served, key=lambda x: (x[1], x[0]))
    assert not missing, ("routes without an entry — add them to ROUTES in tests/api/test_route_matrix.py with their "
                         "expected answers: " + ", ".join(f"{m} {p}" for m, p in missing))
    assert not gone, "entries of ROUTES for routes the app no longer serves: " + ", ".join(f"{m} {p}" for m, p in gone)
    assert len(served) > 130


def test_route_matrix(world, things):
    wrong = []
    for (method, path), (expected, build) in ROUTES.items():
        assert set(expected) == set(CALLERS), (method, path)
        shared: Req | None = None  # the callers who must not get through share one request (nothing changes)
        for caller in CALLERS:
            if expected[caller] == "ok" or shared is None:
                req = build(world, things)
                shared = shared if expected[caller] == "ok" else req
            else:
                req = shared
            assert req.method == method, (method, path, req.method)
            r = _send(world, caller, req)
            got = classify(caller, r)
            if got != expected[caller]:
                wrong.append(f"{method} {path} as {caller}: expected {expected[caller]}, got {got} "
                             f"({r.status_code} {r.text[:160]!r})")
    assert not wrong, f"{len(wrong)} answers differ:\n" + "\n".join(wrong)
