"""The role matrix: every endpoint of the case loop × every role, allowed (2xx) or 403, on both databases."""

from __future__ import annotations

import uuid

import pytest

from patrol.cases import service as svc
from patrol.core.auth import SYSTEM
from patrol.core.db import session_factory, transaction
from tests.api.conftest import ROLE_USERS

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


STAFF_A = {"admin", "sup", "worker_a"}
MATRIX = [
    # (name, allowed roles, request builder)
    ("list cases", set(ROLE_USERS), lambda w: ("GET", "/api/v1/cases", None)),
    ("report a case", STAFF_A, lambda w: ("POST", "/api/v1/cases", {
        "client_id": str(uuid.uuid4()), "category": "C0103", "lon": w.point_a[0], "lat": w.point_a[1]})),
    ("read a case", {"admin", "sup", "worker_a", "dept1", "planner"},
     lambda w: ("GET", f"/api/v1/cases/{case_in(w, 'dispatched')}", None)),
    ("register", STAFF_A, lambda w: ("POST", f"/api/v1/cases/{case_in(w, 'reported')}/actions/register", {})),
    ("reject", {"admin", "sup"}, lambda w: ("POST", f"/api/v1/cases/{case_in(w, 'reported')}/actions/reject",
                                             {"note": "不属实"})),
    ("dispatch", STAFF_A, lambda w: ("POST", f"/api/v1/cases/{case_in(w, 'registered')}/actions/dispatch",
                                     {"unit_id": w.units[0]})),
    ("accept", {"admin", "sup", "dept1"},
     lambda w: ("POST", f"/api/v1/cases/{case_in(w, 'dispatched')}/actions/accept", {})),
    ("handle", {"admin", "sup", "dept1"},
     lambda w: ("POST", f"/api/v1/cases/{case_in(w, 'accepted')}/actions/handle", {})),
    ("verify", STAFF_A, lambda w: ("POST", f"/api/v1/cases/{case_in(w, 'handled')}/actions/verify", {})),
    ("close", STAFF_A, lambda w: ("POST", f"/api/v1/cases/{case_in(w, 'verified')}/actions/close", {})),
    ("suspend", {"admin", "sup"}, lambda w: ("POST", f"/api/v1/cases/{case_in(w, 'dispatched')}/actions/suspend",
                                             {"note": "待材料"})),
    ("start patrol", {"worker_a", "worker_b"}, lambda w: ("POST", "/api/v1/patrols",
                                                          {"client_id": str(uuid.uuid4())})),
    ("task list", set(ROLE_USERS) - {"planner"}, lambda w: ("GET", "/api/v1/tasks", None)),
    ("run escalation", {"admin"}, lambda w: ("POST", "/api/v1/escalations/run", None)),
    ("my notices", set(ROLE_USERS), lambda w: ("GET", "/api/v1/notices?unread=true&limit=5", None)),
    ("my unread count", set(ROLE_USERS), lambda w: ("GET", "/api/v1/notices/count", None)),
    ("mark my notices read", set(ROLE_USERS), lambda w: ("POST", "/api/v1/notices/read", {"all": True})),
]


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
