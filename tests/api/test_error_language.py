"""What reaches people in Chinese by default and in English when asked, on both databases: error messages
(domain errors and request validation, by ``Accept-Language`` or ``?lang=``), the CSV downloads' headers
(``?headers=zh|en|keys``), a plan's validation problems (grids by name, places in lon/lat, never projected metres),
shop kinds in words, and the names of derived communities (自动划分, older databases renamed when opened)."""

from __future__ import annotations

import csv
import io
import re
import uuid

from alembic import command
from fastapi.testclient import TestClient
from shapely.geometry import mapping, shape
from sqlalchemy import select, text

from geo.city import DERIVED_LABEL
from patrol.core.columns import LABELS, label
from patrol.core.db import session_factory, transaction
from patrol.core.migrate import alembic_config, upgrade
from patrol.core.models import Building, Community, Grid

CJK = re.compile(r"[\u4e00-\u9fff]")
ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en-GB,en;q=0.8"}


def _csv_header(r) -> list[str]:
    assert r.status_code == 200, r.text
    return next(csv.reader(io.StringIO(r.text.lstrip("\ufeff"))))


def test_errors_in_chinese_by_default_and_english_when_asked(world):
    bare = TestClient(world.client.app)  # no language asked: Chinese
    wrong = {"username": f"nobody-{uuid.uuid4().hex[:6]}", "password": "not the password"}
    r = bare.post("/api/v1/auth/token", data=wrong)
    assert r.status_code == 401 and r.json()["message"] == "用户名或密码错误" and r.json()["field"] == "username"
    r = world.client.post("/api/v1/auth/token", data=wrong, headers=EN)
    assert r.json()["message"] == "wrong username or password"
    r = bare.post("/api/v1/auth/token?lang=en", data=wrong)  # ?lang= wins over a missing header
    assert r.json()["message"] == "wrong username or password"
    # request validation (422): the field named in the reader's language, pydantic's words otherwise
    body = {"client_id": str(uuid.uuid4()), "lon": world.point_a[0], "lat": world.point_a[1]}  # no category
    r = world.client.post("/api/v1/cases", headers={**world.h("worker_a"), **ZH}, json=body)
    assert r.status_code == 422 and r.json()["field"] == "category" and r.json()["message"] == "类别：必填"
    r = world.client.post("/api/v1/cases", headers={**world.h("worker_a"), **EN}, json=body)
    assert r.json()["message"] == "category: Field required"
    # a domain refusal the desk and the phone show: a grid worker may not close another level's case
    case = world.report()
    r = world.client.post(f"/api/v1/cases/{case['id']}/actions/register", headers={**world.h("worker_b"), **ZH},
                          json={})
    assert r.status_code in (403, 409) and CJK.search(r.json()["message"]), r.json()
    assert not re.search(r"[A-Za-z]{3,}", r.json()["message"]), r.json()
    r = world.client.post(f"/api/v1/cases/{case['id']}/actions/register", headers={**world.h("worker_b"), **EN},
                          json={})
    assert r.json()["message"].isascii()
    # an unknown path in Chinese too
    assert CJK.search(world.client.get("/api/v1/no-such-thing", headers=ZH).json()["message"])


def test_csv_headers_chinese_by_default_english_or_keys_when_asked(world):
    world.report()
    h = world.h("admin")
    exports = {"cases": ("/api/v1/cases/export", {"format": "csv"}),
               "kpis": ("/api/v1/analytics/kpis", {"format": "csv", "by": "grid"})}
    for name, (path, params) in exports.items():
        zh = _csv_header(world.client.get(path, headers=h, params=params))
        en = _csv_header(world.client.get(path, headers=h, params={**params, "headers": "en"}))
        keys = _csv_header(world.client.get(path, headers=h, params={**params, "headers": "keys"}))
        assert all(CJK.search(c) for c in zh), (name, [k for k in keys if k not in LABELS])  # all named
        assert len(set(zh)) == len(zh) and len(set(en)) == len(en), name  # and told apart
        assert en == [label(k, "en") for k in keys] and zh == [label(k, "zh") for k in keys]
        assert "reported_at" in keys or "closure_rate" in keys
    register = _csv_header(world.client.get("/api/v1/residents/export.csv", headers=world.h("sup")))
    assert register[:2] == ["住户编号", "楼栋编号"] and all(CJK.search(c) for c in register)
    r = world.client.get("/api/v1/cases/export", headers=h, params={"format": "csv", "headers": "fr"})
    assert r.status_code == 422 and r.json()["field"] == "headers"


def test_plan_validation_names_grids_and_places_in_lon_lat(world):
    r = world.client.post("/api/v1/plans", headers=world.h("planner"), json={"name": f"i18n {uuid.uuid4().hex[:6]}"})
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    features = world.client.get(f"/api/v1/plans/{pid}", headers=world.h("planner")).json()["features"]
    first = features[0]["properties"]["code"]
    grown = shape(features[0]["geometry"]).buffer(0.002)  # over its neighbours and out of its community
    r = world.client.put(f"/api/v1/plans/{pid}/grids/{first}", headers=world.h("planner"),
                         json={"geometry": mapping(grown)})
    assert r.status_code == 200, r.text
    zh = world.client.get(f"/api/v1/plans/{pid}/validation", headers={**world.h("planner"), **ZH}).json()
    assert zh["problems"], zh
    for p in zh["problems"]:
        assert CJK.search(p["message"]) and CJK.search(p["label"]), p
        assert not re.search(r"\(\s*-?\d{4,}(\.\d+)?,\s*-?\d{4,}", p["message"]), p  # no projected metres
        if p["lat"] is not None and p["kind"] != "households_out_of_range":
            assert f"纬度 {p['lat']:.5f}" in p["message"], p
    named = [p for p in zh["problems"] if p["feature"] == first]
    name = features[0]["properties"]["name"]
    assert named and all(f"网格「{name}」" in p["message"] for p in named if "{grid}" not in p["message"])
    en = world.client.get(f"/api/v1/plans/{pid}/validation", headers={**world.h("planner"), **EN}).json()
    assert [p["kind"] for p in en["problems"]] == [p["kind"] for p in zh["problems"]]
    names = sorted((f["properties"]["name"] or "" for f in features), key=len, reverse=True)

    def without_names(message: str) -> str:
        for n in names:
            message = message.replace(n, "")
        return message
    assert all(not CJK.search(without_names(p["message"])) for p in en["problems"]), en["problems"]
    assert world.client.delete(f"/api/v1/plans/{pid}", headers=world.h("planner")).status_code == 204


def test_shop_kinds_in_words(world):
    with transaction(session_factory(world.engine)) as s:
        building = s.scalar(select(Building.id).where(Building.grid_id == world.grid_a).order_by(Building.id))
    r = world.client.post("/api/v1/shops", headers=world.h("worker_a"),
                          json={"name": "小李理发", "kind": "hairdresser", "building_id": building})
    assert r.status_code == 201, r.text
    assert r.json()["kind"] == "hairdresser" and r.json()["kind_name"] == {"zh": "理发店", "en": "Hairdresser"}
    shops = world.client.get("/api/v1/shops", headers=world.h("worker_a")).json()
    mine = next(x for x in shops if x["code"] == r.json()["code"])
    assert mine["kind_name"]["zh"] == "理发店"


def test_derived_names_say_zidong_huafen_and_old_ones_are_renamed_when_opened(world):
    with transaction(session_factory(world.engine)) as s:
        grid = s.scalar(select(Grid).where(Grid.id == world.grid_b))
        community = s.get(Community, grid.community_id)
        old_grid, old_community = grid.name, community.name
    cfg = alembic_config()  # a database of an older version: the rename is migration 0010
    with world.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0009")
    with transaction(session_factory(world.engine)) as s:
        s.execute(text("UPDATE community SET name = :n WHERE id = :i"),
                  {"n": "社区 77 (derived)", "i": community.id})
        s.execute(text("UPDATE grid SET name = :n WHERE id = :i"), {"n": "社区 77 (derived) 第1网格", "i": grid.id})
    try:
        upgrade(world.engine)  # what every command and the server's start do: 0009 → head
        with transaction(session_factory(world.engine)) as s:
            assert s.get(Community, community.id).name == f"社区 77{DERIVED_LABEL}"
            assert s.get(Grid, grid.id).name == f"社区 77{DERIVED_LABEL} 第1网格"
        upgrade(world.engine)  # idempotent
        with transaction(session_factory(world.engine)) as s:
            assert s.get(Community, community.id).name == f"社区 77{DERIVED_LABEL}"
    finally:
        with transaction(session_factory(world.engine)) as s:
            s.execute(text("UPDATE community SET name = :n WHERE id = :i"), {"n": old_community, "i": community.id})
            s.execute(text("UPDATE grid SET name = :n WHERE id = :i"), {"n": old_grid, "i": grid.id})
