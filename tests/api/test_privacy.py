"""Privacy of the residents register (民情台账), on both databases: who may read and write personal data (the full role
matrix), that names and phones never leave through the public interfaces (Open311, OGC API Features, layers, maps,
case exports, another worker's field app), masking, the audit trail, idempotent visits with needs, and due visits."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid

import pytest
from sqlalchemy import func, select

from patrol.core.auth import actor_for
from patrol.core.db import session_factory, transaction
from patrol.core.models import (
    Building,
    Grid,
    Household,
    HouseholdVisit,
    Resident,
    ResidentAudit,
    ResidentNeed,
    User,
    Visit,
)
from patrol.field.patrols import check_in
from patrol.surveys import residents as svc
from tests.api.conftest import ROLE_USERS
from tests.conftest import shared_scope

# distinctive personal data: none of these strings can occur in Monaco's map data or in the code's own texts
HEAD = "欧阳翠花"
NAME = "司马懿霖"
NAME_LATIN = "Quintavia Zelmorovna"
PHONE_HEAD = "13906172845"
PHONE = "15829370461"
HEALTH = "糖尿病需胰岛素注射"
NEED = "孙子入学需要协调学位"
CONTACT = {"first_name": "Evander", "last_name": "Plumtree", "email": "evander.plumtree@example.org",
           "phone": "+1-555-0147-392"}
SECRETS = (HEAD, NAME, NAME_LATIN, PHONE_HEAD, PHONE, PHONE_HEAD[-9:], PHONE[-9:], "139****2845", "158****0461",
           HEALTH, NEED)
# issue 22, mediation: a mediation's party and its staff note (tests/api/test_mediation.py has the rest)
PARTY = "慕容婉清"
PARTY_PHONE = "18672039415"
SESSION_NOTE = "当事人承认擅自改动承重墙"
SECRETS += (PARTY, PARTY_PHONE, PARTY_PHONE[-9:], "186****9415", SESSION_NOTE)
H5_PHONE = "17720486153"  # a resident's call-back number on the H5 report page (/r/)
CONTACT_SECRETS = ("Evander", "Plumtree", "evander.plumtree", "0147-392", "5550147392", H5_PHONE, H5_PHONE[-8:])
ALL_ROLES = (*ROLE_USERS, "open311", "anonymous")
# the grid's worker, the 网格长 leading it and the community's supervisor (bldg_a, a 楼栋长 of grid A, reads only the
# buildings of her micro-grid: not the first buildings of grid A these requests use)
PERSONAL = {"sup", "worker_a", "lead_a"}


def headers(world, role: str) -> dict:
    if role == "anonymous":
        return {}
    if role == "open311":  # an Open311 api_key is not a user's token
        return {"Authorization": f"Bearer {world.api_key}"}
    return world.h(role)


def buildings(world, grid_id: int, n: int = 2) -> list[int]:
    with transaction(session_factory(world.engine)) as s:
        return list(s.scalars(select(Building.id).where(Building.grid_id == grid_id).order_by(Building.id).limit(n)))


def seed(world, *, grid_id: int | None = None, birth_year: int | None = None, with_need: bool = False,
         name: str = NAME) -> dict:
    """A household (room unique) with one resident in the first building of grid A, written straight to the
    database (the API is what the tests look at)."""
    b = buildings(world, grid_id or world.grid_a, 1)[0]
    with transaction(session_factory(world.engine)) as s:
        h = Household(building_id=b, room=f"R{uuid.uuid4().hex[:8]}", head_name=HEAD, phone=PHONE_HEAD, members=2)
        s.add(h)
        s.flush()
        r = Resident(household_id=h.id, name=name, phone=PHONE, birth_year=birth_year, health=HEALTH,
                     disabled=False, lives_alone=True)
        s.add(r)
        s.flush()
        need = None
        if with_need:
            n = ResidentNeed(household_id=h.id, type="education", detail=NEED, status="open")
            s.add(n)
            s.flush()
            need = n.id
        return {"building": b, "household": h.id, "resident": r.id, "need": need}


# ---------------------------------------------------------------------------------------------- (1) role matrix

STAFF_AUDIT = {"sup", "sup_other", "admin"}  # the other supervisor reads her own community's trail (empty here)
# the 街道 reads the counts of her communities (not a name: every personal read above is 403 for her)
REPORT = {"admin", "planner", "sup", "sup_other", "subd", "subd_other", "worker_a", "worker_b", "lead_a"}

MATRIX = [
    # (name, roles allowed, success status, 403 says "limited to the grid's worker, its 网格长, …",
    #  request builder)
    ("list households", PERSONAL, 200, True, lambda w: ("GET", f"/api/v1/households?grid_id={w.grid_a}", None)),
    ("read a household", PERSONAL, 200, True,
     lambda w: ("GET", f"/api/v1/households/{seed(w)['household']}", None)),
    ("add a household", PERSONAL, 201, True, lambda w: ("POST", "/api/v1/households", {
        "building_id": buildings(w, w.grid_a)[1], "room": f"N{uuid.uuid4().hex[:8]}", "head_name": HEAD})),
    ("change a household", PERSONAL, 200, True,
     lambda w: ("PATCH", f"/api/v1/households/{seed(w)['household']}", {"members": 3})),
    ("delete a household", PERSONAL, 204, True,
     lambda w: ("DELETE", f"/api/v1/households/{seed(w)['household']}", None)),
    ("add a resident", PERSONAL, 201, True,
     lambda w: ("POST", f"/api/v1/households/{seed(w)['household']}/residents", {"name": NAME, "phone": PHONE})),
    ("read a resident", PERSONAL, 200, True, lambda w: ("GET", f"/api/v1/residents/{seed(w)['resident']}", None)),
    ("change a resident", PERSONAL, 200, True,
     lambda w: ("PATCH", f"/api/v1/residents/{seed(w)['resident']}", {"disabled": True})),
    ("delete a resident", PERSONAL, 204, True,
     lambda w: ("DELETE", f"/api/v1/residents/{seed(w)['resident']}", None)),
    ("add a need", PERSONAL, 201, True, lambda w: ("POST", f"/api/v1/households/{seed(w)['household']}/needs",
                                                    {"type": "medical", "detail": NEED})),
    ("list needs", PERSONAL, 200, True, lambda w: ("GET", f"/api/v1/needs?grid_id={w.grid_a}", None)),
    ("move a need", PERSONAL, 200, True,
     lambda w: ("PATCH", f"/api/v1/needs/{seed(w, with_need=True)['need']}", {"status": "in_progress"})),
    ("due visits", PERSONAL, 200, True, lambda w: ("GET", f"/api/v1/residents/due?grid_id={w.grid_a}", None)),
    ("export the register", {"sup"}, 200, False,
     lambda w: ("GET", f"/api/v1/residents/export.csv?grid_id={w.grid_a}", None)),
    ("audit trail", STAFF_AUDIT, 200, False, lambda w: ("GET", "/api/v1/residents/audit", None)),
    ("visits report", REPORT, 200, False, lambda w: ("GET", "/api/v1/surveys/report/visits", None)),
    ("visit with needs", {"worker_a"}, 201, False, lambda w: ("POST", "/api/v1/visits", {
        "client_id": str(uuid.uuid4()), "building_id": (x := seed(w))["building"], "household_id": x["household"],
        "needs": [{"type": "jobs", "detail": NEED}]})),
    # issue 22, mediation: a need's answer and its case; a mediation's parties
    ("answer a need", PERSONAL, 200, True,
     lambda w: ("POST", f"/api/v1/needs/{seed(w, with_need=True)['need']}/answer", {"response": "已答复"})),
    ("turn a need into a case", PERSONAL, 201, True,
     lambda w: ("POST", f"/api/v1/needs/{seed(w, with_need=True)['need']}/case", {"category": "C0103"})),
    ("open needs", PERSONAL | {"sup_other", "worker_b", "bldg_a"}, 200, False,
     lambda w: ("GET", "/api/v1/needs/open", None)),
    ("open a mediation", PERSONAL, 201, False,
     lambda w: ("POST", f"/api/v1/cases/{w.report(category='C0115')['id']}/mediation",
                {"parties": [{"name": PARTY, "phone": PARTY_PHONE}]})),
]


@pytest.mark.parametrize("name,allowed,success,personal,build", MATRIX, ids=[m[0] for m in MATRIX])
def test_role_matrix(world, name, allowed, success, personal, build):
    outcome = {}
    for role in ALL_ROLES:
        method, path, body = build(world)
        r = world.client.request(method, path, headers=headers(world, role), json=body)
        outcome[role] = r.status_code
        if role in ("open311", "anonymous"):
            assert r.status_code == 401, (name, role, r.text)
        elif role in allowed:
            assert r.status_code == success, (name, role, r.text)
        else:
            assert r.status_code == 403, (name, role, r.text)
            assert r.json()["code"] == "forbidden"
            if personal:
                assert "limited to the grid's worker, its 网格长, the 楼栋长 of the building and the community's " \
                    "supervisor" in r.json()["message"], r.text
    assert set(outcome) == set(ALL_ROLES)


def test_open311_key_as_a_query_parameter_is_not_a_login(world):
    r = world.client.get("/api/v1/households", params={"api_key": world.api_key})
    assert r.status_code == 401 and r.json()["code"] == "unauthorized"


def test_a_supervisor_reads_a_building_without_a_grid_through_its_community(world):
    """A building in no grid belongs to its community's supervisor (and to no grid worker)."""
    b = buildings(world, world.grid_a, 3)[2]
    with transaction(session_factory(world.engine)) as s:
        building = s.get(Building, b)
        grid_before, community = building.grid_id, building.community_id
        sup = actor_for(s, s.scalars(select(User).where(User.username == "sup")).one())
        other = actor_for(s, s.scalars(select(User).where(User.username == "sup_other")).one())
        worker = actor_for(s, s.scalars(select(User).where(User.username == "worker_a")).one())
        assert svc.can_read_person(sup, building, s) and svc.can_read_person(worker, building, s)
        assert not svc.can_read_person(other, building, s)
        building.grid_id = None
        s.flush()
        assert svc.can_read_person(sup, building, s) == (community == sup.community_id)
        assert not svc.can_read_person(worker, building, s)
        building.grid_id = grid_before


# ---------------------------------------------------------------------------------------------- (2) no leaks


@pytest.fixture(scope=shared_scope)
def register(world):
    """Personal data in grid A through the API as worker A (a household, a resident, a visit with a need whose note
    names her), a case in grid A, an Open311 request with a resident's contact details, and a resident's report on
    the H5 page with her phone."""
    c, h = world.client, world.h("worker_a")
    b = buildings(world, world.grid_a)[0]
    hh = c.post("/api/v1/households", headers=h, json={"building_id": b, "room": "7-2-1101", "head_name": HEAD,
                                                       "phone": PHONE_HEAD, "members": 2})
    assert hh.status_code == 201, hh.text
    hid = hh.json()["id"]
    res = c.post(f"/api/v1/households/{hid}/residents", headers=h, json={
        "name": NAME, "phone": PHONE, "birth_year": 1938, "lives_alone": True, "health": HEALTH})
    assert res.status_code == 201, res.text
    assert c.post(f"/api/v1/households/{hid}/residents", headers=h,
                  json={"name": NAME_LATIN, "disabled": True}).status_code == 201
    visit = c.post("/api/v1/visits", headers=h, json={
        "client_id": str(uuid.uuid4()), "building_id": b, "household_id": hid, "note": f"{NAME} 独居",
        "needs": [{"type": "education", "detail": NEED}]})
    assert visit.status_code == 201, visit.text
    world.report(description="楼道堆物", point=world.point_a)
    r = c.post("/open311/v2/requests.json", data={"api_key": world.api_key, "service_code": "C0103",
                                                   "lat": world.point_a[1], "long": world.point_a[0], **CONTACT})
    assert r.status_code == 201, r.text
    h5 = c.post("/api/v1/public/reports", data={"client_id": str(uuid.uuid4()), "category": "ebike",
                                                "description": "电动车在楼道充电", "phone": H5_PHONE,
                                                "lon": str(world.point_a[0]), "lat": str(world.point_a[1])})
    assert h5.status_code == 201, h5.text
    # issue 22, mediation: a dispute mediated with a party and a staff note; the visit's need turned into a case
    dispute = world.report(category="C0115", point=world.point_a)["id"]
    m = c.post(f"/api/v1/cases/{dispute}/mediation", headers=h,
               json={"parties": [{"name": PARTY, "phone": PARTY_PHONE, "role": "申请人"}]})
    assert m.status_code == 201, m.text
    assert c.post(f"/api/v1/cases/{dispute}/mediation/sessions", headers=h,
                  json={"note": SESSION_NOTE}).status_code == 200
    need = c.get("/api/v1/needs", params={"household_id": hid}, headers=h).json()[0]["id"]
    made = c.post(f"/api/v1/needs/{need}/case", headers=h, json={"category": "C0103"})
    assert made.status_code == 201, made.text
    return {"household": hid, "resident": res.json()["id"], "building": b, "visit": visit.json()["id"],
            "request": r.json()[0]["service_request_id"]}


def clean(text: str, where: str, secrets=SECRETS + CONTACT_SECRETS) -> None:
    found = [s for s in secrets if s in text]
    assert not found, f"{where} shows {found}"


def test_names_and_phones_never_in_open311(world, register):
    c = world.client
    paths = ["/open311/v2/discovery.json", "/open311/v2/discovery.xml", "/open311/v2/services.json",
             "/open311/v2/services.xml", "/open311/v2/services/C0103.json", "/open311/v2/requests.json",
             "/open311/v2/requests.xml", f"/open311/v2/requests/{register['request']}.json",
             f"/open311/v2/requests/{register['request']}.xml"]
    for path in paths:
        r = c.get(path)
        assert r.status_code == 200, (path, r.text)
        clean(r.text, path)
    # the request filed with the contact details is among those read
    listed = c.get("/open311/v2/requests.json").json()
    assert register["request"] in [x["service_request_id"] for x in listed]


def test_names_and_phones_never_in_ogc_api_features(world, register):
    c = world.client
    collections = c.get("/ogc/collections").json()["collections"]
    ids = [col["id"] for col in collections]
    assert {"communities", "grids", "buildings", "cases"} <= set(ids)
    for cid in ids:
        r = c.get(f"/ogc/collections/{cid}/items", params={"limit": 1000})
        assert r.status_code == 200, (cid, r.text)
        clean(r.text, f"OGC collection {cid}")
        if cid == "cases":
            assert any(f["id"] == int(register["request"]) for f in r.json()["features"])


def test_names_and_phones_never_in_layers_and_maps(world, register):
    c = world.client
    for path in ("/api/v1/communities", "/api/v1/grids", "/api/v1/buildings?limit=5000",
                 "/api/v1/roads?limit=5000", "/api/v1/summary"):
        r = c.get(path)
        assert r.status_code == 200, (path, r.text)
        clean(r.text, path)
    building = c.get(f"/api/v1/buildings?grid_id={world.grid_a}&limit=5000").json()
    assert register["building"] in [f["properties"]["id"] for f in building["features"]]
    for role in ROLE_USERS:
        r = c.get("/api/v1/cases/map", params={"bbox": "7.40,43.72,7.44,43.76", "zoom": 18}, headers=world.h(role))
        assert r.status_code == 200, (role, r.text)
        clean(r.text, f"cases map for {role}")
    c.cookies.set("gridpatrol_token", world.tokens["sup"])  # map pages opened in a browser use the login cookie
    try:
        for page in ("/", "/maps/grids", "/maps/cases", "/maps/heat"):
            r = c.get(page, follow_redirects=False)
            assert r.status_code == 200 and "<html" in r.text.lower(), (page, r.status_code)
            clean(r.text, page)
    finally:
        c.cookies.clear()


def test_a_need_on_a_meeting_agenda_shows_its_type_not_the_resident(world, register):
    """议事 (issue 22): a 民情台账 need on a meeting's agenda is listed by type and state only — the meeting's answer
    and its pages (the desk's, printed as the minutes) never carry the resident's name, room, phone or words, and
    reading it writes no register audit (it reads nothing personal)."""
    with transaction(session_factory(world.engine)) as s:
        need = s.scalar(select(ResidentNeed.id).where(ResidentNeed.household_id == register["household"]))
        audits = s.scalar(select(func.count(ResidentAudit.id)))
    r = world.client.post("/api/v1/meetings", headers=world.h("sup"), json={
        "kind": "needs", "topic": "问需会", "needs": [need]})
    assert r.status_code == 201, r.text
    number = r.json()["number"]
    assert [n["type"] for n in r.json()["needs"]] == ["education"]
    clean(r.text, "the meeting's answer")
    for path in (f"/api/v1/meetings/{number}", f"/desk/meetings/{number}", "/desk/meetings", "/api/v1/meetings"):
        got = world.client.get(path, headers=world.h("sup"))
        assert got.status_code == 200, (path, got.text)
        clean(got.text, path)
        assert "7-2-1101" not in got.text, path
    assert world.client.get(f"/api/v1/meetings/{number}", headers=world.h("worker_a")).status_code == 403
    with transaction(session_factory(world.engine)) as s:
        assert s.scalar(select(func.count(ResidentAudit.id))) == audits


@pytest.mark.parametrize("fmt", ["csv", "geojson"])
def test_names_and_phones_never_in_case_exports_and_lists(world, register, fmt):
    c = world.client
    for role in ROLE_USERS:
        r = c.get("/api/v1/cases/export", params={"format": fmt}, headers=world.h(role))
        assert r.status_code == 200, (role, r.text)
        clean(r.text, f"case export ({fmt}) for {role}")
        if role in ("admin", "sup"):
            assert str(register["request"]) in r.text
        listing = c.get("/api/v1/cases", headers=world.h(role))
        assert listing.status_code == 200
        clean(listing.text, f"case list for {role}")
    detail = c.get(f"/api/v1/cases/{register['request']}", headers=world.h("sup"))
    assert detail.status_code == 200
    clean(detail.text, "case detail")


def test_another_workers_field_app_shows_nothing_of_grid_a(world, register):
    r = world.client.get("/api/v1/field/today", headers=world.h("worker_b"))
    assert r.status_code == 200, r.text
    clean(r.text, "worker B's field app")
    mine = world.client.get("/api/v1/field/today", headers=world.h("worker_a"))
    assert mine.status_code == 200, mine.text
    # her own field app lists her due households (masked) — the register's household was visited today: not due
    due = {d["household_id"]: d for d in mine.json()["visits_due"]}
    assert register["household"] not in due
    assert PHONE not in mine.text and PHONE_HEAD not in mine.text


# ---------------------------------------------------------------------------------------------- (3) masking


def test_phones_masked_in_lists_and_full_in_the_detail(world, register):
    c, h = world.client, world.h("worker_a")
    rows = c.get("/api/v1/households", params={"grid_id": world.grid_a}, headers=h).json()
    row = next(x for x in rows if x["id"] == register["household"])
    assert row["phone"] == "139****2845" and row["head_name"] == HEAD
    assert row["residents"] == 2 and row["vulnerable"] == 2
    assert PHONE_HEAD not in str(rows) and PHONE not in str(rows)
    detail = c.get(f"/api/v1/households/{register['household']}", headers=h).json()
    assert detail["phone"] == PHONE_HEAD
    assert {r["name"]: r["phone"] for r in detail["residents"]} == {NAME: PHONE, NAME_LATIN: None}
    assert [n["detail"] for n in detail["needs"]] == [NEED]
    assert c.get(f"/api/v1/residents/{register['resident']}", headers=h).json()["phone"] == PHONE
    # a due list is a list: masked (a household never visited is due, as of a day before the visit)
    before = (dt.date.today() - dt.timedelta(days=3)).isoformat()
    due = c.get("/api/v1/residents/due", params={"grid_id": world.grid_a, "today": before}, headers=h).json()
    mine = next(d for d in due if d["household_id"] == register["household"])
    assert {r["name"]: r["phone"] for r in mine["residents"]} == {NAME: "158****0461", NAME_LATIN: None}
    assert PHONE not in str(due)
    # the supervisor's export is complete
    export = c.get("/api/v1/residents/export.csv", headers=world.h("sup"), params={"headers": "keys"})
    rows = list(csv.DictReader(io.StringIO(export.text.lstrip("\ufeff"))))
    mine = [x for x in rows if x["household_id"] == str(register["household"])]
    assert {x["name"]: x["phone_resident"] for x in mine} == {NAME: PHONE, NAME_LATIN: ""}
    assert {x["phone"] for x in mine} == {PHONE_HEAD}


@pytest.mark.parametrize("phone,masked", [("13812345678", "138****5678"), ("+8613812345678", "+86*******5678"),
                                          ("12345", "***45"), ("110", "*10"), ("7", "7"), (None, None)])
def test_mask_phone(phone, masked):
    assert svc.mask_phone(phone) == masked


# ---------------------------------------------------------------------------------------------- (4) audit


def test_audit_holds_exactly_the_reads_with_the_readers_id(world, register):
    c = world.client
    with transaction(session_factory(world.engine)) as s:
        mark = s.scalar(select(func.max(ResidentAudit.id))) or 0
    listed = c.get("/api/v1/households", params={"grid_id": world.grid_a}, headers=world.h("worker_a"))
    assert listed.status_code == 200 and len(listed.json()) >= 1
    one = c.get(f"/api/v1/residents/{register['resident']}", headers=world.h("worker_a"))
    assert one.status_code == 200
    with transaction(session_factory(world.engine)) as s:
        rows = s.scalars(select(ResidentAudit).where(ResidentAudit.id > mark).order_by(ResidentAudit.id)).all()
        got = [(a.actor_id, a.actor, a.action, a.household_id, a.resident_id, a.via) for a in rows]
    me = world.users["worker_a"]
    expected = [(me, "grid_worker:worker_a", "list", x["id"], None, "/api/v1/households") for x in listed.json()]
    expected.append((me, "grid_worker:worker_a", "read", register["household"], register["resident"],
                     f"/api/v1/residents/{register['resident']}"))
    assert got == expected
    # the supervisor of the community reads the trail of her household (no personal data in it); worker A cannot
    trail = c.get("/api/v1/residents/audit", params={"household_id": register["household"]},
                  headers=world.h("sup"))
    assert trail.status_code == 200
    reads = [a for a in trail.json() if a["actor_id"] == me and a["resident_id"] == register["resident"]
             and a["action"] == "read"]
    assert reads and reads[0]["via"] == f"/api/v1/residents/{register['resident']}"
    clean(trail.text, "the audit trail")
    assert c.get("/api/v1/residents/audit", headers=world.h("worker_a")).status_code == 403
    # the other community's supervisor sees none of it; the admin sees it all
    other = c.get("/api/v1/residents/audit", params={"household_id": register["household"]},
                  headers=world.h("sup_other"))
    assert other.status_code == 200 and other.json() == []
    admin = c.get("/api/v1/residents/audit", params={"household_id": register["household"]},
                  headers=world.h("admin"))
    assert {a["id"] for a in admin.json()} == {a["id"] for a in trail.json()}


def test_a_refused_read_is_neither_returned_nor_logged_as_a_read(world, register):
    with transaction(session_factory(world.engine)) as s:
        mark = s.scalar(select(func.max(ResidentAudit.id))) or 0
    for role in ("worker_b", "sup_other", "admin", "planner"):
        r = world.client.get(f"/api/v1/households/{register['household']}", headers=world.h(role))
        assert r.status_code == 403 and NAME not in r.text
    with transaction(session_factory(world.engine)) as s:
        assert s.scalar(select(func.count(ResidentAudit.id)).where(ResidentAudit.id > mark)) == 0


# ---------------------------------------------------------------------------------------------- (5) visits


def test_a_visit_with_needs_creates_them_once_even_when_retried(world):
    x = seed(world)
    c, h = world.client, world.h("worker_a")
    body = {"client_id": str(uuid.uuid4()), "building_id": x["building"], "household_id": x["household"],
            "needs": [{"type": "medical", "detail": "需要上门体检"}, {"type": "elderly_care", "detail": "助餐"}]}
    first = c.post("/api/v1/visits", headers=h, json=body)
    assert first.status_code == 201, first.text
    assert first.json()["household_id"] == x["household"] and len(first.json()["needs"]) == 2
    again = c.post("/api/v1/visits", headers=h, json=body)
    more = c.post("/api/v1/visits", headers=h, json={**body, "needs": [*body["needs"], {"type": "jobs",
                                                                                        "detail": "就业"}]})
    assert again.status_code == 200 and more.status_code == 200
    assert again.json() == first.json() == more.json()
    with transaction(session_factory(world.engine)) as s:
        needs = s.scalars(select(ResidentNeed).where(ResidentNeed.household_id == x["household"])).all()
        assert sorted(n.type for n in needs) == ["elderly_care", "medical"]
        assert {n.visit_id for n in needs} == {first.json()["id"]}
        assert s.scalar(select(func.count(HouseholdVisit.id))
                        .where(HouseholdVisit.household_id == x["household"])) == 1
    listed = c.get("/api/v1/needs", params={"household_id": x["household"]}, headers=h).json()
    assert sorted(n["type"] for n in listed) == ["elderly_care", "medical"]


def test_a_visit_to_a_household_of_another_building_is_refused_and_writes_nothing(world):
    x = seed(world)
    other = buildings(world, world.grid_a)[1]
    c, h = world.client, world.h("worker_a")
    cid = str(uuid.uuid4())
    r = c.post("/api/v1/visits", headers=h, json={"client_id": cid, "building_id": other,
                                                  "household_id": x["household"],
                                                  "needs": [{"type": "housing", "detail": "漏水"}]})
    assert r.status_code == 422 and r.json()["field"] == "household_id", r.text
    bad = c.post("/api/v1/visits", headers=h, json={"client_id": cid, "building_id": x["building"],
                                                    "household_id": x["household"],
                                                    "needs": [{"type": "money", "detail": "?"}]})
    assert bad.status_code == 422 and "education, medical, housing, jobs, elderly_care, other" in bad.text
    alone = c.post("/api/v1/visits", headers=h, json={"client_id": cid, "building_id": x["building"],
                                                      "needs": [{"type": "housing", "detail": "漏水"}]})
    assert alone.status_code == 422 and alone.json()["field"] == "household_id"
    with transaction(session_factory(world.engine)) as s:
        assert s.scalar(select(func.count(Visit.id)).where(Visit.client_id == cid)) == 0
        assert s.scalar(select(func.count(ResidentNeed.id)).where(ResidentNeed.household_id == x["household"])) == 0


# ---------------------------------------------------------------------------------------------- (6) due visits


def test_an_85_year_old_is_due_unvisited_not_after_a_visit_and_again_after_8_days(world):
    day = dt.date(2026, 3, 10)
    x = seed(world, birth_year=day.year - 85, name="令狐冲霄")
    with transaction(session_factory(world.engine)) as s:
        s.execute(Resident.__table__.update().where(Resident.id == x["resident"]).values(lives_alone=False))
        worker = actor_for(s, s.scalars(select(User).where(User.username == "worker_a")).one())

    def due_on(today: dt.date) -> dict | None:
        with transaction(session_factory(world.engine)) as s:
            found = [d for d in svc.due_visits(s, worker, today=today, settings=world.settings)
                     if d["household_id"] == x["household"]]
        return found[0] if found else None

    never = due_on(day)
    assert never is not None and never["due_on"] == day.isoformat() and never["days_overdue"] == 0
    assert [r["reasons"] for r in never["residents"]] == [["elderly"]] and never["residents"][0]["age"] == 85
    with transaction(session_factory(world.engine)) as s:
        noon = dt.datetime.combine(day, dt.time(12), tzinfo=dt.timezone(dt.timedelta(hours=8)))
        check_in(s, worker, client_id=None, building_id=x["building"], time=noon, household_id=x["household"])
    assert due_on(day) is None
    assert due_on(day + dt.timedelta(days=6)) is None
    assert due_on(day + dt.timedelta(days=7))["days_overdue"] == 0
    late = due_on(day + dt.timedelta(days=8))
    assert late["days_overdue"] == 1 and late["due_on"] == (day + dt.timedelta(days=7)).isoformat()
    # a day before the visit, it was due already (visits after `today` do not count)
    assert due_on(day - dt.timedelta(days=1))["days_overdue"] == 0
    # someone a year younger than the threshold is not vulnerable: nothing is due
    with transaction(session_factory(world.engine)) as s:
        s.execute(Resident.__table__.update().where(Resident.id == x["resident"])
                  .values(birth_year=day.year - world.settings.vulnerable_age + 1))
    assert due_on(day + dt.timedelta(days=30)) is None
    # the due read was audited with the worker's id
    with transaction(session_factory(world.engine)) as s:
        actions = set(s.scalars(select(ResidentAudit.action).where(ResidentAudit.household_id == x["household"],
                                                                   ResidentAudit.actor_id == worker.user_id)))
    assert "due" in actions


# ---------------------------------------------------------------------------------------------- volunteers (issue 22)

VOLUNTEER_PHONE = "18604729135"  # a team member's and a service member's phone: the community's desk only


def test_volunteers_phones_and_paired_households_only_for_the_communitys_desk(world, register):
    """A team member's phone, a service member's phone and the household paired with her (the register's head of
    household): on every volunteers route and /desk/people only the community's supervisor sees them; the other
    roles are refused or see names and counts, and the anonymous and Open311 callers are refused."""
    c, sup = world.client, world.h("sup")
    with transaction(session_factory(world.engine)) as s:  # the register's building is in grid A
        community = s.scalar(select(Grid.community_id).where(Grid.id == world.grid_a))
    team = c.post("/api/v1/volunteers/teams", headers=sup, json={
        "community_id": community, "name": f"隐私队{uuid.uuid4().hex[:6]}", "kind": "safety"}).json()["id"]
    assert c.post(f"/api/v1/volunteers/teams/{team}/members", headers=sup,
                  json={"name": "志愿者甲", "phone": VOLUNTEER_PHONE}).status_code == 201
    member = c.post("/api/v1/volunteers/members", headers=sup, json={
        "kind": "liaison", "name": "专员乙", "phone": VOLUNTEER_PHONE, "grid_id": world.grid_a}).json()["id"]
    assert c.post(f"/api/v1/volunteers/members/{member}/pairings", headers=sup,
                  json={"household_id": register["household"]}).status_code == 201
    paths = ["/api/v1/volunteers/teams", "/api/v1/volunteers/members",
             f"/api/v1/volunteers/month?community_id={community}", f"/desk/people?community_id={community}"]
    secrets = (VOLUNTEER_PHONE, VOLUNTEER_PHONE[-8:], HEAD, PHONE_HEAD)
    for role in ALL_ROLES:
        for path in paths:
            r = c.get(path, headers=headers(world, role), follow_redirects=False)
            shown = [x for x in secrets if x in r.text]
            if role == "sup":
                assert r.status_code == 200 and VOLUNTEER_PHONE in r.text, (role, path)
                assert HEAD in r.text or "teams" in path or "members" in path, (role, path)
            elif role == "lead_a":  # grid A's 网格长 reads grid A's register (the paired household), no volunteer phone
                assert not set(shown) - {HEAD, PHONE_HEAD}, (role, path, r.status_code, shown)
            else:
                assert not shown, (role, path, r.status_code, shown)
                assert r.status_code in (200, 303, 401, 403), (role, path, r.status_code)
