"""Shops (一户一码) on both databases: codes with a check character, registration in a building, the history of
inspections and the cases they opened, the QR sticker, the OpenStreetMap import, and who may see them."""

from __future__ import annotations

import datetime as dt
import uuid
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import func, select

from api.cli import main as cli_main
from patrol.core.db import session_factory, transaction
from patrol.core.models import Building, Grid, Shop
from patrol.surveys import shops as sh
from patrol.surveys.checklists import load_builtin_checklists
from tests.api.conftest import ROLE_USERS
from tests.conftest import shared_file, shared_scope

SVG = "{http://www.w3.org/2000/svg}"


# ---------------------------------------------------------------------------------------------- codes (no database)


def test_codes_have_a_check_character_that_catches_typing_mistakes():
    codes = {sh.new_shop_code() for _ in range(300)} | {"SZ0000000" + sh.check_char("Z0000000")}
    assert len(codes) == 301
    for code in codes:
        assert len(code) == 10 and code[0] == "S" and sh.valid_shop_code(code)
        assert set(code[1:]) <= set(sh.ALPHABET)
        for i in range(1, 10):  # every single wrong character
            for c in sh.ALPHABET.replace(code[i], ""):
                assert not sh.valid_shop_code(code[:i] + c + code[i + 1:]), (code, i, c)
        for j in range(1, 9):  # every swap of neighbours (0 and Z included, which Luhn mod 32 misses)
            swapped = code[:j] + code[j + 1] + code[j] + code[j + 2:]
            assert swapped == code or not sh.valid_shop_code(swapped), (code, swapped)
    code = next(iter(codes))
    typed = code.lower().replace("0", "o").replace("1", "l")
    assert sh.normalise_shop_code(f" {typed[:5]}-{typed[5:]} ") == code  # case, O/0, l/1, spaces and hyphens
    for bad in ("", "S123", "X" + code[1:], code + "0", None, 12345):
        assert not sh.valid_shop_code(bad)


# ---------------------------------------------------------------------------------------------- with the world


@pytest.fixture(scope=shared_scope)
def shop_checklist(world) -> int:
    with transaction(session_factory(world.engine)) as s:
        load_builtin_checklists(s)
    listed = world.client.get("/api/v1/checklists", headers=world.h("worker_a")).json()
    return next(c["id"] for c in listed if c["code"] == "shop_safety")


def building_of(world, grid_id: int) -> int:
    with transaction(session_factory(world.engine)) as s:
        return s.scalar(select(Building.id).where(Building.grid_id == grid_id).order_by(Building.id).limit(1))


def new_shop(world, who="worker_a", grid_id=None, expect=201, **body) -> dict:
    body = {"name": "老王牛肉面", "kind": "restaurant", "building_id": building_of(world, grid_id or world.grid_a),
            **body}
    r = world.client.post("/api/v1/shops", headers=world.h(who), json=body)
    assert r.status_code == expect, r.text
    return r.json()


SHOP_ANSWERS = {"licence_displayed": False, "outside_trading": False, "signboard": "loose", "gas_used": True,
                "gas_smell": True, "gas_alarm": True, "gas_hose": "ok", "extinguishers": 2, "ebike_charging": True}


def test_a_shop_is_registered_and_its_history_shows_inspections_and_cases(world, shop_checklist):
    shop = new_shop(world, licence_no="91370100MA3C5XXXX", address="幸福路12号")
    code = shop["code"]
    assert sh.valid_shop_code(code) and shop["building_id"] == building_of(world, world.grid_a)
    assert shop["grid_id"] == world.grid_a and shop["inspections"] == [] and shop["cases"] == []
    assert shop["last_inspection_at"] is None and shop["open_findings"] == 0
    c, h = world.client, world.h("worker_a")
    # the code as typed from the sticker, a typo, and a well-formed code of no shop
    assert c.get(f"/api/v1/shops/{code.lower()}", headers=h).json()["id"] == shop["id"]
    typo = code[:4] + ("X" if code[4] != "X" else "Y") + code[5:]
    r = c.get(f"/api/v1/shops/{typo}", headers=h)
    assert r.status_code == 422 and "not a shop code" in r.json()["message"]
    unknown = next(x for x in (sh.new_shop_code() for _ in range(10)) if x != code)
    assert c.get(f"/api/v1/shops/{unknown}", headers=h).status_code == 404

    t = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)).replace(microsecond=0)
    body = {"client_id": str(uuid.uuid4()), "checklist_id": shop_checklist, "shop_code": code, "time": t.isoformat(),
            "answers": {**SHOP_ANSWERS, "outside_photo": [str(uuid.uuid4())]}}
    r = c.post("/api/v1/inspections", headers=h, json=body)
    assert r.status_code == 201, r.text
    result = r.json()
    assert result["failed"] == 3
    by_item = {f["item"]: f for f in result["findings"]}
    assert by_item["licence_displayed"]["case_id"] is None  # recorded, no case
    assert (by_item["outside_trading"]["category"], by_item["signboard"]["category"]) == ("E0502", "B0304")
    assert dt.datetime.fromisoformat(by_item["signboard"]["deadline_at"]) == t + dt.timedelta(days=3)

    history = c.get(f"/api/v1/shops/{code}", headers=h).json()
    (insp,) = history["inspections"]
    assert insp["id"] == result["id"] and insp["checklist"] == "shop_safety" and insp["version"] == 1
    assert insp["checklist_id"] == shop_checklist and insp["title"]["zh"] == "沿街商户安全检查"
    assert insp["failed"] == 3 and dt.datetime.fromisoformat(insp["at"]) == t
    assert {f["item"]: (f["case_id"], f["case_status"]) for f in insp["findings"]} == {
        "licence_displayed": (None, None), "outside_trading": (by_item["outside_trading"]["case_id"], "reported"),
        "signboard": (by_item["signboard"]["case_id"], "reported")}
    assert insp["findings"][1]["text"] == {"zh": "无店外经营、占道经营", "en": "No trading outside the premises"}
    assert sorted(x["id"] for x in history["cases"]) == sorted(
        f["case_id"] for f in result["findings"] if f["case_id"])
    assert history["open_findings"] == 2 and dt.datetime.fromisoformat(history["last_inspection_at"]) == t
    case = c.get(f"/api/v1/cases/{by_item['outside_trading']['case_id']}", headers=h).json()
    assert case["description"] == "沿街商户安全检查 · 无店外经营、占道经营" and "老王牛肉面" in case["address"]

    # the shop's case closed: its status shows in the history, it is no longer an open finding
    cid = by_item["outside_trading"]["case_id"]
    for action in ("register", "dispatch", "accept", "handle", "verify", "close"):
        world.act("worker_a", cid, action)
    history = c.get(f"/api/v1/shops/{code}", headers=h).json()
    assert {x["id"]: x["status"] for x in history["cases"]}[cid] == "closed" and history["open_findings"] == 1

    listed = c.get("/api/v1/shops", headers=h, params={"grid_id": world.grid_a, "q": "牛肉面"}).json()
    assert [x["code"] for x in listed] == [code] and listed[0]["open_findings"] == 1
    assert c.get("/api/v1/shops", headers=h, params={"q": code}).json()[0]["code"] == code
    assert c.get("/api/v1/shops", headers=h, params={"grid_id": world.grid_b}).status_code == 403
    by_shop = c.get("/api/v1/inspections", headers=h, params={"shop_code": code}).json()
    assert [i["id"] for i in by_shop] == [result["id"]] and by_shop[0]["shop_name"] == "老王牛肉面"
    with transaction(session_factory(world.engine)) as s:
        field_list = sh.shops_of(s, [world.grid_a])
    assert code in {x["code"] for x in field_list} and all(x["grid_id"] == world.grid_a for x in field_list)


def test_shop_registration_checks(world):
    far = new_shop(world, expect=422, lon=world.point_b[0] + 0.01, lat=world.point_b[1])
    assert far["field"] == "lat" and "m from building" in far["message"]
    assert new_shop(world, expect=422, building_id=99999999)["field"] == "building_id"
    assert new_shop(world, expect=422, name="")["field"] == "name"
    assert new_shop(world, "worker_a", grid_id=world.grid_b, expect=403)["field"] == "building_id"
    # a point at the door, inside the building's grid, is kept
    with transaction(session_factory(world.engine)) as s:
        bid = building_of(world, world.grid_a)
        wkb = s.scalar(select(func.ST_AsBinary(Building.geom)).where(Building.id == bid))
    import shapely

    p = shapely.from_wkb(bytes(wkb)).representative_point()
    shop = new_shop(world, name="便利店", lon=p.x, lat=p.y)
    assert shop["lon"] == pytest.approx(p.x) and shop["lat"] == pytest.approx(p.y)


def test_qr_sticker_is_an_svg_with_the_code_and_name(world):
    shop = new_shop(world, name="张记<水果>&鲜花")
    r = world.client.get(f"/api/v1/shops/{shop['code']}/qr.svg", headers=world.h("worker_a"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(r.content)
    assert root.tag == f"{SVG}svg"
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts == ["张记<水果>&鲜花", shop["code"]]  # escaped in the XML, intact once parsed
    assert root.find(f"{SVG}g/{SVG}svg/{SVG}path") is not None  # the QR modules drawn by segno
    # the encoded URL is the field app's shop page on this server
    assert sh.shop_url("http://testserver/", shop["code"]) == f"http://testserver/app/#shop/{shop['code']}"


def test_shops_from_openstreetmap_are_imported_once(world, capsys):
    path = shared_file("osm/monaco.osm.pbf")

    def run() -> tuple[int, list[str]]:
        code = cli_main(["--database", world.url, "shops", "import-osm", str(path)])
        return code, capsys.readouterr().out.splitlines()

    code, first = run()
    assert code == 0, first
    read = int(first[0].split()[1])
    created = int(first[1].split()[1].rstrip(","))
    assert read > 200 and 0 < created <= read
    with transaction(session_factory(world.engine)) as s:
        rows = s.execute(select(Shop.osm_id, Shop.code, Building.grid_id)
                         .join(Building, Building.id == Shop.building_id)
                         .where(Shop.osm_id.is_not(None))).all()
    assert len(rows) == created and len({r[0] for r in rows}) == created
    assert all(g is not None for _, _, g in rows) and all(sh.valid_shop_code(c) for _, c, _ in rows)
    code, again = run()
    assert code == 0 and again[1] == f"created 0, updated 0, unchanged {created}"
    with transaction(session_factory(world.engine)) as s:
        assert s.scalar(select(func.count(Shop.id)).where(Shop.osm_id.is_not(None))) == created
        grid_code = s.scalar(select(Grid.code).where(Grid.id == world.grid_a))
        in_a = s.scalar(select(func.count(Shop.id)).join(Building, Building.id == Shop.building_id)
                        .where(Building.grid_id == world.grid_a, Shop.active))
    assert cli_main(["--database", world.url, "shops", "list", "--grid", grid_code]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0].startswith("code\tname\tkind\tgrid") and listed[-1] == f"{in_a} shops" and len(listed) == in_a + 2
    assert all(f"grid {grid_code}" in line for line in listed[1:-1])


def test_shops_qr_command_writes_the_sticker(world, tmp_path, capsys):
    shop = new_shop(world, name="五金店")
    out = tmp_path / "sticker.svg"
    code = cli_main(["--database", world.url, "shops", "qr", shop["code"].lower(), str(out),
                     "--base-url", "https://grid.example.cn"])
    assert code == 0
    assert f"https://grid.example.cn/app/#shop/{shop['code']}" in capsys.readouterr().out
    root = ET.fromstring(out.read_bytes())
    assert [t.text for t in root.iter(f"{SVG}text")] == ["五金店", shop["code"]]
    assert cli_main(["--database", world.url, "shops", "qr", "S123", str(out)]) == 1
    assert "not a shop code" in capsys.readouterr().err


def test_role_matrix_of_shops(world, shop_checklist):
    shop_a = new_shop(world, name="角色测试店")
    building_a = building_of(world, world.grid_a)
    # the 街道 reads her communities' shops, registers none; grid A's 网格长 reads them; a 楼栋长 has no shops
    readers = {"admin", "planner", "sup", "subd", "worker_a", "lead_a"}
    matrix = [
        ("list shops", set(ROLE_USERS) - {"dept1", "dept2", "bldg_a"}, ("GET", "/api/v1/shops", None)),
        ("register a shop in grid A", {"admin", "sup", "worker_a"},
         ("POST", "/api/v1/shops", {"name": "矩阵店", "building_id": building_a})),
        ("read a shop of grid A", readers, ("GET", f"/api/v1/shops/{shop_a['code']}", None)),
        ("QR of a shop of grid A", readers, ("GET", f"/api/v1/shops/{shop_a['code']}/qr.svg", None)),
    ]
    for name, allowed, (method, path, body) in matrix:
        for role in ROLE_USERS:
            r = world.client.request(method, path, headers=world.h(role), json=body)
            if role in allowed:
                assert 200 <= r.status_code < 300, (name, role, r.text)
            else:
                assert r.status_code == 403, (name, role, r.text)
                assert r.json()["code"] == "forbidden"
        assert world.client.request(method, path, params={"api_key": world.api_key}, json=body).status_code == 401
        assert world.client.request(method, path, json=body).status_code == 401
    # lists are scoped: worker B and the other community's supervisor do not see grid A's shops
    for role, sees in (("worker_b", False), ("sup_other", False), ("subd_other", False), ("sup", True),
                       ("subd", True), ("planner", True)):
        codes = {s["code"] for s in world.client.get("/api/v1/shops", headers=world.h(role)).json()}
        assert (shop_a["code"] in codes) is sees, role
