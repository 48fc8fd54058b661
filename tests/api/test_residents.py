"""The residents register (民情台账) end to end on both databases: households and residents over HTTP with their
validation, needs and their status, due visits and frequencies, the monthly visits report, and the command line
(import all-or-nothing, due list, audit: the first command as a real process, the others in process)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import subprocess
import sys
import uuid

from sqlalchemy import func, select

from patrol.core.db import session_factory, transaction
from patrol.core.models import Building, Grid, Household, Resident, ResidentAudit
from tests.api.test_cli import run

CN = dt.timezone(dt.timedelta(hours=8))


def gridpatrol(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "GRIDPATROL_DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "api.cli", *args], capture_output=True, text=True, env=env,
                          timeout=300, check=False)


def buildings(world, grid_id: int, n: int = 3) -> list[int]:
    with transaction(session_factory(world.engine)) as s:
        return list(s.scalars(select(Building.id).where(Building.grid_id == grid_id).order_by(Building.id).limit(n)))


def room() -> str:
    return f"{uuid.uuid4().hex[:6]}室"


def new_household(world, building: int, who: str = "worker_a", **extra) -> dict:
    r = world.client.post("/api/v1/households", headers=world.h(who),
                          json={"building_id": building, "room": room(), **extra})
    assert r.status_code == 201, r.text
    return r.json()


def add_resident(world, household: int, who: str = "worker_a", **body) -> dict:
    r = world.client.post(f"/api/v1/households/{household}/residents", headers=world.h(who), json=body)
    assert r.status_code == 201, r.text
    return r.json()


# ---------------------------------------------------------------------------------------------- households, residents


def test_households_and_residents_are_created_changed_and_removed(world):
    c, h = world.client, world.h("worker_a")
    b1, b2, _ = buildings(world, world.grid_a)
    hh = new_household(world, b1, head_name="  王建国 ", phone="13912345678", members=3, note="二楼东户")
    assert hh["head_name"] == "王建国" and hh["phone"] == "13912345678" and hh["grid_id"] == world.grid_a
    assert hh["residents"] == [] and hh["needs"] == [] and hh["visits"] == [] and hh["vulnerable"] == 0
    assert hh["next_due_on"] is None and hh["due"] is False
    dup = c.post("/api/v1/households", headers=h, json={"building_id": b1, "room": hh["room"]})
    assert dup.status_code == 409 and dup.json()["field"] == "room"
    assert c.post("/api/v1/households", headers=h, json={"building_id": 10**9, "room": "1"}).status_code == 422
    bad = c.post("/api/v1/households", headers=h, json={"building_id": b1, "room": "  ", "phone": "call me"})
    assert bad.status_code == 422 and len(bad.json()["details"]) == 2
    assert any(d.startswith("phone:") for d in bad.json()["details"])
    typo = c.post("/api/v1/households", headers=h, json={"building_id": b1, "room": "9", "hed_name": "x"})
    assert typo.status_code == 422

    grandma = add_resident(world, hh["id"], name="李秀英", phone="13700001111", birth_year=1940, lives_alone=False,
                           health="高血压")
    assert grandma["vulnerable"] and grandma["reasons"] == ["elderly"] and grandma["every_days"] == 7
    kid = add_resident(world, hh["id"], name="王小明", birth_year=2015)
    assert not kid["vulnerable"] and kid["every_days"] is None
    future = c.post(f"/api/v1/households/{hh['id']}/residents", headers=h,
                    json={"name": "未来人", "birth_year": dt.date.today().year + 1})
    assert future.status_code == 422 and future.json()["field"] == "birth_year"
    assert c.post(f"/api/v1/households/{hh['id']}/residents", headers=h,
                  json={"name": "x", "visit_every_days": 0}).status_code == 422

    # change: fields given only; null clears; moving to a taken room conflicts
    other = new_household(world, b2)
    moved = c.patch(f"/api/v1/households/{hh['id']}", headers=h, json={"building_id": b2, "room": other["room"]})
    assert moved.status_code == 409
    patched = c.patch(f"/api/v1/households/{hh['id']}", headers=h, json={"members": 4, "note": None}).json()
    assert patched["members"] == 4 and patched["note"] is None and patched["head_name"] == "王建国"
    r = c.patch(f"/api/v1/residents/{kid['id']}", headers=h, json={"disabled": True, "disability": "听力残疾"})
    assert r.status_code == 200 and r.json()["reasons"] == ["disabled"] and r.json()["name"] == "王小明"
    detail = c.get(f"/api/v1/households/{hh['id']}", headers=h).json()
    assert detail["vulnerable"] == 2 and [x["name"] for x in detail["residents"]] == ["李秀英", "王小明"]

    assert c.delete(f"/api/v1/residents/{kid['id']}", headers=h).status_code == 204
    assert c.get(f"/api/v1/residents/{kid['id']}", headers=h).status_code == 404
    assert c.delete(f"/api/v1/households/{hh['id']}", headers=h).status_code == 204
    assert c.get(f"/api/v1/households/{hh['id']}", headers=h).status_code == 404
    assert c.get(f"/api/v1/residents/{grandma['id']}", headers=h).status_code == 404
    with transaction(session_factory(world.engine)) as s:
        assert s.scalar(select(func.count(Resident.id)).where(Resident.household_id == hh["id"])) == 0
        trail = s.execute(select(ResidentAudit.action, ResidentAudit.resident_id)
                          .where(ResidentAudit.household_id == hh["id"]).order_by(ResidentAudit.id)).all()
    actions = [a for a, _ in trail]
    assert actions[0] == "create" and actions[-1] == "delete" and "update" in actions and "read" in actions
    assert (("delete", grandma["id"]) in trail) and (("delete", kid["id"]) in trail)


def test_the_supervisor_writes_too_and_lists_filter(world):
    c = world.client
    b1, b2, _ = buildings(world, world.grid_b)
    hh = new_household(world, b1, who="sup", head_name="赵大海")
    add_resident(world, hh["id"], who="sup", name="钱多多", lives_alone=True)
    plain = new_household(world, b2, who="worker_b", head_name="孙悟")
    add_resident(world, plain["id"], who="worker_b", name="孙小圣", birth_year=1990)
    h = world.h("worker_b")

    def ids(**params) -> set[int]:
        r = c.get("/api/v1/households", headers=h, params=params)
        assert r.status_code == 200, r.text
        return {x["id"] for x in r.json()}

    assert {hh["id"], plain["id"]} <= ids()
    assert ids(q="钱多") == {hh["id"]} and ids(q="孙悟") == {plain["id"]} and ids(q=plain["room"]) == {plain["id"]}
    assert hh["id"] in ids(building_id=b1) and plain["id"] not in ids(building_id=b1)
    assert hh["id"] in ids(due="true") and plain["id"] not in ids(due="true") and plain["id"] in ids(due="false")
    assert c.get("/api/v1/households", headers=h, params={"building_id": buildings(world, world.grid_a)[0]}
                 ).status_code == 403
    assert c.get("/api/v1/households", headers=h, params={"q": "100%_"}).json() == []


# ---------------------------------------------------------------------------------------------- needs


def test_needs_register_and_status(world):
    c, h = world.client, world.h("worker_a")
    hh = new_household(world, buildings(world, world.grid_a)[0], head_name="周芳")
    bad = c.post(f"/api/v1/households/{hh['id']}/needs", headers=h, json={"type": "money", "detail": "补贴"})
    assert bad.status_code == 422 and bad.json()["field"] == "type"
    assert "education, medical, housing, jobs, elderly_care, other" in bad.json()["message"]
    empty = c.post(f"/api/v1/households/{hh['id']}/needs", headers=h, json={"type": "jobs", "detail": " "})
    assert empty.status_code == 422 and empty.json()["field"] == "detail"
    need = c.post(f"/api/v1/households/{hh['id']}/needs", headers=h, json={"type": "jobs", "detail": "失业求职"})
    assert need.status_code == 201 and need.json()["status"] == "open" and need.json()["resolved_at"] is None
    n = need.json()
    assert n["type_label"] == {"zh": "就业", "en": "Jobs"} and n["grid_id"] == world.grid_a
    c.post(f"/api/v1/households/{hh['id']}/needs", headers=h, json={"type": "housing", "detail": "屋顶漏水"})

    def listed(**params) -> list[str]:
        r = c.get("/api/v1/needs", headers=h, params={"household_id": hh["id"], **params})
        assert r.status_code == 200, r.text
        return [x["detail"] for x in r.json()]

    assert listed() == ["屋顶漏水", "失业求职"]  # newest first
    assert listed(type="jobs") == ["失业求职"] and listed(status="resolved") == []
    assert n["id"] in [x["id"] for x in c.get("/api/v1/needs", headers=h, params={"grid_id": world.grid_a}).json()]
    assert c.get("/api/v1/needs", headers=h, params={"status": "done"}).status_code == 422
    assert c.get("/api/v1/needs", headers=world.h("worker_b"), params={"household_id": hh["id"]}).status_code == 403

    step = c.patch(f"/api/v1/needs/{n['id']}", headers=h, json={"status": "in_progress"})
    assert step.status_code == 200 and step.json()["status"] == "in_progress" and step.json()["resolved_at"] is None
    done = c.patch(f"/api/v1/needs/{n['id']}", headers=world.h("sup"), json={"status": "resolved"}).json()
    assert done["status"] == "resolved" and done["resolved_at"] is not None
    again = c.patch(f"/api/v1/needs/{n['id']}", headers=h, json={"status": "resolved"})
    assert again.status_code == 200 and again.json()["resolved_at"] == done["resolved_at"]
    back = c.patch(f"/api/v1/needs/{n['id']}", headers=h, json={"status": "open"})
    assert back.status_code == 409
    assert c.patch(f"/api/v1/needs/{n['id']}", headers=h, json={"status": "closed"}).status_code == 422
    assert listed(status="resolved") == ["失业求职"] and listed(status="open") == ["屋顶漏水"]


# ---------------------------------------------------------------------------------------------- due visits


def visit(world, building: int, household: int, when: dt.datetime, who: str = "worker_a") -> dict:
    r = world.client.post("/api/v1/visits", headers=world.h(who), json={
        "client_id": str(uuid.uuid4()), "building_id": building, "household_id": household,
        "time": when.isoformat()})
    assert r.status_code == 201, r.text
    return r.json()


def test_the_smallest_frequency_of_the_vulnerable_residents_sets_the_due_date(world):
    c, h = world.client, world.h("worker_a")
    b = buildings(world, world.grid_a)[1]
    hh = new_household(world, b, head_name="吴刚")
    add_resident(world, hh["id"], name="吴小弟", disabled=True, visit_every_days=3)  # every 3 days
    add_resident(world, hh["id"], name="吴老太", birth_year=1930)                    # every 7 days (default)
    add_resident(world, hh["id"], name="吴大哥", birth_year=1980, visit_every_days=1)  # not vulnerable: ignored
    day = dt.date(2026, 5, 4)
    visit(world, b, hh["id"], dt.datetime.combine(day, dt.time(23, 30), tzinfo=CN))  # late evening, local day

    def due(today: dt.date) -> dict | None:
        r = c.get("/api/v1/residents/due", headers=h, params={"today": today.isoformat(), "grid_id": world.grid_a})
        assert r.status_code == 200, r.text
        return next((d for d in r.json() if d["household_id"] == hh["id"]), None)

    assert due(day + dt.timedelta(days=2)) is None
    d = due(day + dt.timedelta(days=3))
    assert d["due_on"] == "2026-05-07" and d["days_overdue"] == 0 and d["every_days"] == 3
    assert {r["name"]: r["reasons"] for r in d["residents"]} == {"吴老太": ["elderly"], "吴小弟": ["disabled"]}
    assert d["lon"] is not None and d["lat"] is not None and d["building_id"] == b
    row = next(x for x in c.get("/api/v1/households", headers=h,
                                params={"building_id": b, "today": "2026-05-10"}).json() if x["id"] == hh["id"])
    assert row["next_due_on"] == "2026-05-07" and row["days_overdue"] == 3 and row["vulnerable"] == 2
    assert row["last_visit_at"].startswith("2026-05-04T15:30")  # stored in UTC
    # without the disabled son, the grandmother's 7 days rule
    son = next(r for r in c.get(f"/api/v1/households/{hh['id']}", headers=h).json()["residents"]
               if r["name"] == "吴小弟")
    c.patch(f"/api/v1/residents/{son['id']}", headers=h, json={"disabled": False})
    assert due(day + dt.timedelta(days=6)) is None
    assert due(day + dt.timedelta(days=9))["days_overdue"] == 2


def test_monthly_visits_report_counts_per_grid_without_names(world):
    c = world.client
    b = buildings(world, world.grid_b)[2]

    def report(who: str, month: str = "2026-02") -> dict:
        r = c.get("/api/v1/surveys/report/visits", headers=world.h(who), params={"month": month})
        assert r.status_code == 200, r.text
        return {row["grid_id"]: row for row in r.json()["rows"]}

    before = report("admin")
    hh = new_household(world, b, who="worker_b", head_name="郑和平")
    add_resident(world, hh["id"], who="worker_b", name="郑奶奶", birth_year=1940)
    add_resident(world, hh["id"], who="worker_b", name="郑孙", birth_year=2010)
    quiet = new_household(world, b, who="worker_b")
    add_resident(world, quiet["id"], who="worker_b", name="郑独居", lives_alone=True)
    visit(world, b, hh["id"], dt.datetime(2026, 2, 20, 10, tzinfo=CN), who="worker_b")
    visit(world, b, hh["id"], dt.datetime(2026, 2, 26, 10, tzinfo=CN), who="worker_b")
    visit(world, b, hh["id"], dt.datetime(2026, 3, 1, 0, 30, tzinfo=CN), who="worker_b")  # March, local time
    after = report("admin")
    delta = {k: after[world.grid_b][k] - before[world.grid_b][k] for k in ("households", "vulnerable", "visits",
                                                                          "overdue")}
    # both households are new; as of 28 February the visited one was seen on the 26th, the other never
    assert delta == {"households": 2, "vulnerable": 2, "visits": 2, "overdue": 1}
    assert after[world.grid_a] == before[world.grid_a]
    assert "郑" not in str(after)
    assert set(report("worker_b")) == {world.grid_b}
    assert set(report("sup")) >= {world.grid_a, world.grid_b} and world.grid_a not in report("sup_other")
    assert set(report("planner")) == set(after)
    assert c.get("/api/v1/surveys/report/visits", headers=world.h("dept1")).status_code == 403
    assert c.get("/api/v1/surveys/report/visits", headers=world.h("admin"),
                 params={"month": "2026-13"}).status_code == 422
    assert c.get("/api/v1/surveys/report/visits", headers=world.h("admin"),
                 params={"month": "2999-01"}).status_code == 422


# ---------------------------------------------------------------------------------------------- command line


def write_csv(path, rows: list[dict]) -> None:
    columns = ["building_osm_id", "building_id", "room", "head_name", "phone", "members", "name", "phone_resident",
               "birth_year", "disabled", "disability", "lives_alone", "health", "visit_every_days"]
    with open(path, "w", newline="", encoding="utf-8-sig") as f:
        w = csv.DictWriter(f, fieldnames=columns)
        w.writeheader()
        for r in rows:
            w.writerow(r)


def test_command_line_import_due_and_audit(world, tmp_path):
    with transaction(session_factory(world.engine)) as s:
        bs = s.execute(select(Building.id, Building.osm_id).where(Building.grid_id == world.grid_a,
                                                                  Building.osm_id.is_not(None))
                       .order_by(Building.id).limit(2)).all()
        code = s.scalar(select(Grid.code).where(Grid.id == world.grid_a))
        count = s.scalar(select(func.count(Household.id)))
    (b1, osm1), (b2, _) = bs
    good = [
        {"building_osm_id": osm1, "room": "1-101", "head_name": "陈静", "phone": "13655556666", "members": "3",
         "name": "陈爷爷", "phone_resident": "13511112222", "birth_year": "1936", "disabled": "否",
         "lives_alone": "否"},
        {"building_osm_id": osm1, "room": "1-101", "head_name": "陈静", "name": "陈静", "birth_year": "1975"},
        {"building_id": b2, "room": "2-202", "head_name": "林海", "name": "林海", "disabled": "是",
         "disability": "肢体残疾", "visit_every_days": "14"},
        {"building_id": b2, "room": "2-203", "head_name": "空户"},
    ]
    bad = [*good,
           {"building_id": b2, "room": "2-204", "name": "甲", "birth_year": "abc"},
           {"building_id": "999999999", "room": "1", "name": "乙"},
           {"building_id": b2, "room": "2-205", "name": "丙", "lives_alone": "maybe", "phone_resident": "打电话"},
           {"building_osm_id": osm1, "room": "1-101", "head_name": "别人"}]
    write_csv(tmp_path / "bad.csv", bad)
    r = gridpatrol(world.url, "residents", "import", str(tmp_path / "bad.csv"))
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert lines[0].startswith("gridpatrol: error: cannot import bad.csv:") and "nothing was written" in lines[0]
    assert "  - row 6: birth_year 'abc' is not a year" in lines
    assert "  - row 7: building_id 999999999: no such building" in lines
    assert any(x.startswith("  - row 8: lives_alone 'maybe'") for x in lines)
    assert any(x.startswith("  - row 8: phone_resident:") for x in lines)
    assert any(x.startswith("  - row 9: head_name '别人' differs") for x in lines)
    with transaction(session_factory(world.engine)) as s:
        assert s.scalar(select(func.count(Household.id))) == count

    write_csv(tmp_path / "good.csv", good)
    r = run(world.url, "residents", "import", str(tmp_path / "good.csv"))
    assert r.exit_code == 0, r.stderr
    assert "households 户: 3 added, 0 updated" in r.stdout and "residents 居民: 3 added, 0 updated" in r.stdout
    again = run(world.url, "residents", "import", str(tmp_path / "good.csv"))
    assert "households 户: 0 added, 0 updated" in again.stdout and "residents 居民: 0 added, 0 updated" in again.stdout
    with transaction(session_factory(world.engine)) as s:
        chen = s.scalars(select(Household).where(Household.building_id == b1, Household.room == "1-101")).one()
        assert (chen.head_name, chen.phone, chen.members) == ("陈静", "13655556666", 3)
        people = {r.name: r for r in s.scalars(select(Resident).where(Resident.household_id == chen.id))}
        assert people["陈爷爷"].birth_year == 1936 and people["陈爷爷"].phone == "13511112222"
        lin = s.scalars(select(Resident).where(Resident.name == "林海")).one()
        assert lin.disabled and lin.disability == "肢体残疾" and lin.visit_every_days == 14
        created = s.scalar(select(func.count(ResidentAudit.id)).where(ResidentAudit.household_id == chen.id,
                                                                      ResidentAudit.action == "create",
                                                                      ResidentAudit.via == "cli"))
        assert created == 3  # the household and its two residents

    # the supervisor's export imports back unchanged (an edited export is how a register is corrected)
    export = world.client.get("/api/v1/residents/export.csv", headers=world.h("sup"),
                              params={"grid_id": world.grid_a, "headers": "keys"})
    assert export.status_code == 200 and export.text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(export.text.lstrip("\ufeff"))))
    assert {"陈爷爷", "陈静", "林海"} <= {x["name"] for x in rows}
    assert any(x["room"] == "2-203" and x["name"] == "" for x in rows)
    (tmp_path / "export.csv").write_text(export.text, encoding="utf-8")
    back = run(world.url, "residents", "import", str(tmp_path / "export.csv"))
    assert back.exit_code == 0, back.stderr
    assert "0 added, 0 updated" in back.stdout.splitlines()[1] and "0 added, 0 updated" in back.stdout.splitlines()[2]

    due = run(world.url, "residents", "due", "--grid", code, "--today", "2026-06-01")
    assert due.exit_code == 0, due.stderr
    assert "陈爷爷 135****2222 (高龄)" in due.stdout and "林海 - (残疾)" in due.stdout
    assert "13511112222" not in due.stdout and "2-203" not in due.stdout
    assert f"households due a visit on 2026-06-01 in grid {code} (" in due.stdout.splitlines()[0]
    assert run(world.url, "residents", "due", "--grid", "nope").exit_code == 1

    audit = run(world.url, "residents", "audit", "--household", str(chen.id))
    assert audit.exit_code == 0, audit.stderr
    out = audit.stdout.splitlines()
    assert any("\tdue\t" in x and x.endswith("\tcli") for x in out)
    assert any("\tsupervisor:sup\texport\t" in x and x.endswith("/api/v1/residents/export.csv") for x in out)
    assert any("\tcreate\t" in x and x.endswith("\tcli") for x in out)
    assert "陈" not in audit.stdout and "13511112222" not in audit.stdout
