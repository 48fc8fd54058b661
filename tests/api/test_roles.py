"""The role matrix: every endpoint of the case loop × every role, allowed (2xx) or 403, on both databases."""

from __future__ import annotations

import uuid

import pytest

from geo.tiles import tile_of
from patrol.cases import service as svc
from patrol.core.auth import SYSTEM
from patrol.core.db import session_factory, transaction
from patrol.core.models import Case, Grid
from tests.api.conftest import PASSWORD, ROLE_USERS

PATH = {
    "reported": [], "registered": ["register"], "dispatched": ["register", "dispatch"],
    "accepted": ["register", "dispatch", "accept"], "handled": ["register", "dispatch", "accept", "handle"],
    "verified": ["register", "dispatch", "accept", "handle", "verify"],
}


def case_in(world, state: str) -> int:
    """A fresh grid-level case in grid A, dispatched (when it gets that far) to unit 1."""
    with transaction(session_factory(world.engine)) as s:
        c = svc.create_case(s, SYSTEM, world.settings, client_id=None, category="C0103", lon=world.point_a[0],
                            lat=world.point_a[1]).case
        for action in PATH[state]:
            svc.transition(s, SYSTEM, world.settings, c.id, action,
                           unit_id=world.units[0] if action == "dispatch" else None)
        return c.id


def number_of(world, case_id: int) -> str:
    """The case number (what the desk's addresses use) of a case."""
    with transaction(session_factory(world.engine)) as s:
        return str(s.get(Case, case_id).number)


def grid_code(world, grid_id: int) -> str:
    with transaction(session_factory(world.engine)) as s:
        return str(s.get(Grid, grid_id).code)


def fresh_refresh_token(world) -> str:
    """The refresh token of a new login of the planner (refreshing or logging out with it ends nobody's session
    that the matrix uses)."""
    r = world.client.post("/api/v1/auth/token", data={"username": "planner", "password": PASSWORD})
    assert r.status_code == 200, r.text
    return r.json()["refresh_token"]


def tile_at(point: tuple[float, float], z: int) -> str:
    """The URL of the basemap tile at zoom ``z`` holding ``point``."""
    x, y = tile_of(point[0], point[1], z)
    return f"/tiles/{z}/{x}/{y}.pbf"


# subd: the 街道 of grid A's community; subd_other another one; lead_a: grid A's 网格长 (acts on its grid-level cases
# as its worker would, short of accepting and handling; has desk queues); bldg_a: a 楼栋长 in grid A (reports only in
# her micro-grid, which point_a is not in; reads her own reports; no desk, no figures)
STAFF_A = {"admin", "sup", "subd", "worker_a", "lead_a"}
DESK_A = {"admin", "sup", "subd"}
DESK = {"admin", "sup", "sup_other", "subd", "subd_other", "dept1", "dept2", "lead_a"}  # the roles with desk queues
READ_A = {"admin", "sup", "subd", "worker_a", "dept1", "planner", "lead_a"}
DISPATCHERS = {"admin", "sup", "sup_other", "subd", "subd_other", "lead_a"}
MATRIX = [
    # (name, allowed roles, request builder)
    ("list cases", set(ROLE_USERS), lambda w: ("GET", "/api/v1/cases", None)),
    ("report a case", STAFF_A, lambda w: ("POST", "/api/v1/cases", {
        "client_id": str(uuid.uuid4()), "category": "C0103", "lon": w.point_a[0], "lat": w.point_a[1]})),
    ("read a case", READ_A,
     lambda w: ("GET", f"/api/v1/cases/{case_in(w, 'dispatched')}", None)),
    ("register", STAFF_A, lambda w: ("POST", f"/api/v1/cases/{case_in(w, 'reported')}/actions/register", {})),
    ("reject", DESK_A, lambda w: ("POST", f"/api/v1/cases/{case_in(w, 'reported')}/actions/reject",
                                             {"note": "不属实"})),
    ("dispatch", STAFF_A, lambda w: ("POST", f"/api/v1/cases/{case_in(w, 'registered')}/actions/dispatch",
                                     {"unit_id": w.units[0]})),
    ("accept", DESK_A | {"dept1"},
     lambda w: ("POST", f"/api/v1/cases/{case_in(w, 'dispatched')}/actions/accept", {})),
    ("handle", DESK_A | {"dept1"},
     lambda w: ("POST", f"/api/v1/cases/{case_in(w, 'accepted')}/actions/handle", {})),
    ("verify", STAFF_A, lambda w: ("POST", f"/api/v1/cases/{case_in(w, 'handled')}/actions/verify", {})),
    ("close", STAFF_A, lambda w: ("POST", f"/api/v1/cases/{case_in(w, 'verified')}/actions/close", {})),
    ("suspend", DESK_A, lambda w: ("POST", f"/api/v1/cases/{case_in(w, 'dispatched')}/actions/suspend",
                                             {"note": "待材料"})),
    ("start patrol", {"worker_a", "worker_b"}, lambda w: ("POST", "/api/v1/patrols",
                                                          {"client_id": str(uuid.uuid4())})),
    ("task list", set(ROLE_USERS) - {"planner", "bldg_a"}, lambda w: ("GET", "/api/v1/tasks", None)),
    ("urge", {"admin", "subd"}, lambda w: ("POST", f"/api/v1/cases/{case_in(w, 'dispatched')}/actions/urge",
                                           {"note": "请加快办理"})),
    ("kpis by subdistrict", {"admin", "subd", "sup", "planner", "dept1", "dept2"},
     lambda w: ("GET", f"/api/v1/analytics/kpis?by=subdistrict&subdistrict={w.sub_code}", None)),
    ("接诉即办 rates by channel", {"admin", "subd", "sup", "planner", "dept1", "dept2"},
     lambda w: ("GET", f"/api/v1/kpis/responsiveness?by=channel&subdistrict={w.sub_code}", None)),
    ("run escalation", {"admin"}, lambda w: ("POST", "/api/v1/escalations/run", None)),
    ("who am I", set(ROLE_USERS), lambda w: ("GET", "/api/v1/auth/me", None)),
    ("refresh", set(ROLE_USERS), lambda w: ("POST", "/api/v1/auth/refresh",
                                            {"refresh_token": fresh_refresh_token(w)})),
    ("log out a session by its refresh token", set(ROLE_USERS),
     lambda w: ("POST", "/api/v1/auth/logout", {"refresh_token": fresh_refresh_token(w)})),
    ("desk queues", DESK, lambda w: ("GET", "/api/v1/desk/queues", None)),
    ("desk queue rows", {"admin", "sup", "sup_other", "lead_a"},
     lambda w: ("GET", "/api/v1/desk/queues/to_register", None)),
    ("desk department queue", {"dept1", "dept2"}, lambda w: ("GET", "/api/v1/desk/queues/to_accept", None)),
    # a supervisor of another community gets 200 with the case refused in its result (the scope is per case)
    ("desk bulk register", DISPATCHERS,
     lambda w: ("POST", "/api/v1/desk/bulk", {"action": "register", "cases": [case_in(w, "reported")]})),
    ("desk units", DISPATCHERS, lambda w: ("GET", "/api/v1/desk/units", None)),
    ("desk live counts", DESK, lambda w: ("GET", "/api/v1/desk/events?seconds=0.1", None)),
    ("case page file", READ_A,
     lambda w: ("GET", f"/api/v1/desk/cases/{number_of(w, case_in(w, 'dispatched'))}", None)),
    ("case page route", READ_A,
     lambda w: ("GET", f"/api/v1/desk/cases/{number_of(w, case_in(w, 'dispatched'))}/route?unit={w.units[0]}",
                None)),
    ("my notices", set(ROLE_USERS), lambda w: ("GET", "/api/v1/notices?unread=true&limit=5", None)),
    ("my unread count", set(ROLE_USERS), lambda w: ("GET", "/api/v1/notices/count", None)),
    ("mark my notices read", set(ROLE_USERS), lambda w: ("POST", "/api/v1/notices/read", {"all": True})),
    ("my reports (我的上报)", set(ROLE_USERS), lambda w: ("GET", "/api/v1/field/my-reports?limit=5", None)),
    ("possible duplicates before a report", set(ROLE_USERS),
     lambda w: ("GET", f"/api/v1/field/duplicates?category=C0103&lon={w.point_a[0]}&lat={w.point_a[1]}", None)),
    ("basemap tile (public)", set(ROLE_USERS), lambda w: ("GET", tile_at(w.point_a, 16), None)),
    ("basemap meta (public)", set(ROLE_USERS), lambda w: ("GET", "/tiles/meta.json", None)),
    ("supplement (补充)", STAFF_A, lambda w: ("POST", f"/api/v1/cases/{case_in(w, 'dispatched')}/actions/supplement",
                                           {"note": "补充照片"})),
    ("12345 待定位 queue", {"admin", "sup", "sup_other", "subd", "subd_other"},
     lambda w: ("GET", "/api/v1/desk/unlocated", None)),
    ("volunteer teams (网格力量)", {"admin", "sup", "sup_other", "subd", "subd_other", "lead_a"},
     lambda w: ("GET", "/api/v1/volunteers/teams", None)),
    ("a community's services this month", {"admin", "sup", "subd", "lead_a"},
     lambda w: ("GET", f"/api/v1/volunteers/month?community_id={community_of_a(w)}", None)),
    ("研判 (assess)", DESK_A | {"lead_a"}, lambda w: ("POST", f"/api/v1/cases/{case_in(w, 'registered')}/assessments",
                                       {"reason": "需社区协调", "level": "community"})),
    ("议事 meetings list", {"admin", "sup", "sup_other", "subd", "subd_other", "lead_a"},
     lambda w: ("GET", "/api/v1/meetings", None)),
    ("考核 scorecards", set(ROLE_USERS) - {"dept1", "dept2", "planner", "bldg_a"},
     lambda w: ("GET", "/api/v1/scorecards?month=2026-03&trend=false", None)),
    ("a worker's 考核 card", STAFF_A, lambda w: ("GET", "/api/v1/scorecards/workers/worker_a?month=2026-03", None)),
    # issue 22, mediation: a mediation's parties are recorded by the case's grid worker and community only
    ("open a mediation (调解)", {"sup", "worker_a", "lead_a"},
     lambda w: ("POST", f"/api/v1/cases/{case_in(w, 'dispatched')}/mediation", {"parties": [{"name": "矩阵"}]})),
    ("open needs (民情诉求)", {"sup", "sup_other", "worker_a", "worker_b", "lead_a", "bldg_a"},
     lambda w: ("GET", "/api/v1/needs/open", None)),
    ("needs figures", set(ROLE_USERS) - {"dept1", "dept2", "bldg_a"}, lambda w: ("GET", "/api/v1/kpis/needs", None)),
]


def community_of_a(w) -> int:
    with transaction(session_factory(w.engine)) as s:
        return int(s.get(Grid, w.grid_a).community_id)


@pytest.mark.parametrize("name,allowed,build", MATRIX, ids=[m[0] for m in MATRIX])
def test_role_matrix(world, name, allowed, build):
    outcome = {}
    for role in ROLE_USERS:
        method, path, body = build(world)
        r = world.client.request(method, path, headers=world.h(role), json=body)
        outcome[role] = r.status_code
        if role in allowed:
            assert 200 <= r.status_code < 300, (name, role, r.text)
        else:
            assert r.status_code == 403, (name, role, r.text)
            assert r.json()["code"] == "forbidden"
    assert len(outcome) == len(ROLE_USERS)
