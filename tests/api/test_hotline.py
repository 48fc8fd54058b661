"""The 12345 round trip on both databases (issue 18 §2, "Done when"): a file of work orders imported (a bad row refuses
the whole file, the report lists it; fixed, it imports; re-imported as .xlsx with a change, it updates and never
duplicates), 待定位 resolved on the desk through the API, results exported with signed photo links, 回访 imported
(不满意 reopens: 再接单), and the push API with its key (refused without one and with an Open311 key)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image
from sqlalchemy import func, select, update

from api.cli import cli
from patrol.cases.photos import public_copy
from patrol.core.auth import create_api_key
from patrol.core.db import session_factory, transaction
from patrol.core.models import Building, Case, CaseEvent, Grid, HotlineOrder, Photo, Subdistrict
from patrol.core.settings import get_settings
from patrol.intake.hotline.mapping import load_mapping
from patrol.intake.hotline.results import photo_signature
from patrol.intake.hotline.tables import write_table
from tests.api.test_case_cells import mismatches
from tests.conftest import shared_scope

pytestmark = pytest.mark.db

HEADER = ["工单编号", "受理时间", "诉求人", "联系电话", "诉求内容", "诉求分类", "事发地址", "所属街道", "办理时限",
          "紧急程度"]
SHANGHAI = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture(scope=shared_scope)
def hl(world):
    """World's Monaco with addresses on four buildings of grid A (two of them sharing one: ambiguous), a hotline key
    and an Open311 key, and the subdistrict's name (所属街道)."""
    with transaction(session_factory(world.engine)) as s:
        community = s.scalar(select(Grid.community_id).where(Grid.id == world.grid_a))
        in_a = list(s.scalars(select(Building.id).where(Building.grid_id == world.grid_a).order_by(Building.id)
                              .limit(2)))
        others = list(s.scalars(select(Building.id).where(Building.community_id == community,
                                                          Building.grid_id.is_not(None),
                                                          Building.id.not_in(in_a)).order_by(Building.id).limit(2)))
        ids = in_a + others
        assert len(ids) == 4
        for bid, address in zip(ids, ["测试路1号", "测试路2号", "共享路8号", "共享路8号"], strict=True):
            s.execute(update(Building).where(Building.id == bid).values(address=address, label=f"{address} 楼"))
        sub = s.scalar(select(Subdistrict.name).where(Subdistrict.code == world.sub_code))
        key = create_api_key(s, "12345 platform", scope="hotline")
        other = create_api_key(s, "an app", scope="open311")
    return {"buildings": ids, "subdistrict": sub, "community": community, "key": key, "open311": other}


def run(world, *args: str) -> tuple[int, str]:
    r = CliRunner().invoke(cli, [*args, "--database", world.url])
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.output


def rows(sub: str, *, bad: bool = False, change: bool = False) -> list[list[str]]:
    return [
        ["A001", "2026/11/30 09:15" if bad else "2026-11-30 09:15:00", "王女士", "13800138000",
         "楼道里堆满纸箱" + ("，已经一周" if change else ""), "市容环境-楼道堆物", "测试路1号", sub, "72", "一般"],
        ["A002", "2026-11-30 10:00:00", "李先生", "13900139000", "楼道灯不亮", "楼道照明", "测试路2号", sub,
         "2026-12-03 10:00:00", "一般"],
        ["A003", "2026-11-30 11:00:00", "", "", "电动车在楼道充电", "电动车充电", "共享路8号", sub, "3天", "紧急"],
        ["A004", "2026-11-30 12:00:00", "赵女士", "13700137000", "垃圾没人清运", "垃圾清运", "不存在的路99号", sub,
         "", "一般"],
        *([["A005", "昨天", "", "", "x", "", "测试路1号", sub, "三天", ""]] if bad else []),
    ]


def write_csv(path: Path, data: list[list[str]], encoding: str) -> Path:
    buf = io.StringIO()
    csv.writer(buf).writerows([HEADER, *data])
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def read_report(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


def _orders(world) -> dict[str, HotlineOrder]:
    with session_factory(world.engine)() as s:
        return {o.order_no: o for o in s.scalars(select(HotlineOrder).where(HotlineOrder.order_no.like("A00%")))}


def _case(world, order_no: str) -> Case:
    with session_factory(world.engine)() as s:
        case = s.scalar(select(Case).where(Case.source == "12345", Case.source_ref == order_no))
        assert case is not None
        s.expunge(case)
        return case


def test_import_refuse_fix_update_place_export_feedback(world, hl, tmp_path, monkeypatch):
    c = world.client
    # 1. a file with a bad row (GB18030, as Chinese Excel saves it): refused whole, the report lists the row
    bad = write_csv(tmp_path / "orders_bad.csv", rows(hl["subdistrict"], bad=True), "gb18030")
    code, out = run(world, "hotline", "import", str(bad), "--report", str(tmp_path / "r1.csv"))
    assert code != 0 and "nothing was written" in out, out
    assert "row 6 (A005)" in out and "受理时间" in out and "办理时限" in out, out
    report = read_report(tmp_path / "r1.csv")
    assert {r["result"] for r in report} == {"refused"} and len(report) == 5
    assert "repeats" not in report[4]["why"] and "受理时间: '昨天'" in report[4]["why"], report[4]
    assert "row 2" not in out and report[0]["why"].startswith("file refused"), report[0]  # 2026/11/30 09:15 is fine
    assert _orders(world) == {}

    # 2. fixed (UTF-8 with a BOM): two placed at once, one ambiguous and one unknown address wait in 待定位
    good = write_csv(tmp_path / "orders.csv", rows(hl["subdistrict"]), "utf-8-sig")
    code, out = run(world, "hotline", "import", str(good), "--report", str(tmp_path / "r2.csv"))
    assert code == 0, out
    assert {r["工单编号"]: r["result"] for r in read_report(tmp_path / "r2.csv")} == {
        "A001": "created", "A002": "created", "A003": "pending", "A004": "pending"}
    case = _case(world, "A001")
    assert case.channel == "12345" and case.building_id == hl["buildings"][0] and case.status == "reported"
    assert case.reported_at == dt.datetime(2026, 11, 30, 9, 15, tzinfo=SHANGHAI)
    assert case.deadline_at == case.reported_at + dt.timedelta(hours=72)
    assert case.category_code == "C0102" and case.contact_phone == "13800138000" and case.address == "测试路1号"
    assert mismatches(world.engine) == []  # the bulk path stored each case's H3 cell (issue 23)
    assert _case(world, "A002").deadline_at == dt.datetime(2026, 12, 3, 10, tzinfo=SHANGHAI)
    orders = _orders(world)
    assert orders["A003"].state == "pending" and orders["A003"].community_id == hl["community"]
    assert orders["A004"].community_id is None and orders["A004"].subdistrict_id is not None

    # 3. re-imported as .xlsx with A001's description changed: updated, the rest unchanged, no second case
    xlsx = tmp_path / "orders.xlsx"
    write_table(xlsx, HEADER, rows(hl["subdistrict"], change=True))
    code, out = run(world, "hotline", "import", str(xlsx), "--report", str(tmp_path / "r3.csv"))
    assert code == 0, out
    assert {r["工单编号"]: r["result"] for r in read_report(tmp_path / "r3.csv")} == {
        "A001": "updated", "A002": "unchanged", "A003": "unchanged", "A004": "unchanged"}
    assert _case(world, "A001").description == "楼道里堆满纸箱，已经一周"
    with session_factory(world.engine)() as s:
        assert s.scalar(select(func.count()).select_from(Case).where(Case.source_ref == "A001")) == 1

    # 4. 待定位 on the desk: the supervisor sees the ambiguous order (not the one of unknown place), picks a candidate
    sup = c.get("/api/v1/desk/unlocated", headers=world.h("sup")).json()
    assert [r["order_no"] for r in sup["rows"] if r["order_no"].startswith("A00")] == ["A003"]
    a003 = next(r for r in sup["rows"] if r["order_no"] == "A003")
    assert {x["label"] for x in a003["candidates"]} == {"共享路8号 楼"} and len(a003["candidates"]) == 2
    assert "contact_phone" not in a003 and "13" not in str(a003)  # no personal data in the queue
    subd = [r["order_no"] for r in c.get("/api/v1/desk/unlocated", headers=world.h("subd")).json()["rows"]]
    assert {"A003", "A004"} <= set(subd)
    assert not [r for r in c.get("/api/v1/desk/unlocated", headers=world.h("sup_other")).json()["rows"]
                if r["order_no"].startswith("A00")]
    assert c.post("/api/v1/hotline/orders/A003/place", headers=world.h("sup_other"),
                  json={"building_id": a003["candidates"][0]["building_id"]}).status_code == 404
    assert c.get("/api/v1/desk/unlocated", headers=world.h("worker_a")).status_code == 403
    placed = c.post("/api/v1/hotline/orders/A003/place", headers=world.h("sup"),
                    json={"building_id": a003["candidates"][1]["building_id"]})
    assert placed.status_code == 201, placed.text
    assert placed.json()["case_number"]
    again = c.post("/api/v1/hotline/orders/A003/place", headers=world.h("sup"), json={"lon": 7.42, "lat": 43.73})
    assert again.status_code == 409 and "placed already" in again.json()["message"]  # it left the queue
    lon, lat = world.point_a
    by_point = c.post("/api/v1/hotline/orders/A004/place", headers=world.h("subd"), json={"lon": lon, "lat": lat})
    assert by_point.status_code == 201, by_point.text
    assert _case(world, "A004").building_id is None or _case(world, "A004").grid_id == world.grid_a
    assert not [r for r in c.get("/api/v1/desk/unlocated", headers=world.h("admin")).json()["rows"]
                if r["order_no"].startswith("A00")]
    assert _case(world, "A003").channel == "12345" and _case(world, "A003").building_id == \
        a003["candidates"][1]["building_id"]

    # 5. the loop closes A001 with an after-photo; the 办理结果 file carries the handle note and a signed link
    cid = _case(world, "A001").id
    world.act("sup", cid, "register")
    world.act("sup", cid, "dispatch", unit_id=world.units[0])
    world.act("dept1", cid, "accept")
    handle_id = str(uuid.uuid4())
    world.act("dept1", cid, "handle", note="纸箱已清走", client_id=handle_id)
    img = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 160, 60)).save(img, "JPEG")
    up = c.post(f"/api/v1/cases/{cid}/photos", headers=world.h("dept1"), data={"event_client_id": handle_id},
                files={"file": ("after.jpg", img.getvalue(), "image/jpeg")})
    assert up.status_code == 201, up.text
    world.act("sup", cid, "verify")
    world.act("sup", cid, "close", note="居民确认")
    monkeypatch.setenv("GRIDPATROL_SECRET_KEY", world.settings.secret_key or "")
    monkeypatch.setenv("GRIDPATROL_PUBLIC_URL", "https://grid.example.cn")
    get_settings.cache_clear()
    try:
        today = dt.datetime.now(SHANGHAI).date()
        code, out = run(world, "hotline", "export", "--since", str(today - dt.timedelta(days=1)), "--out",
                        str(tmp_path / "results.csv"))
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert code == 0, out
    result = [r for r in read_report(tmp_path / "results.csv") if r["工单编号"] == "A001"]
    assert len(result) == 1 and result[0]["办理结果"] == "处置: 纸箱已清走; 结案: 居民确认", result
    assert result[0]["办理单位"] == "城管中队" and result[0]["办结时间"].startswith(str(today)[:4])
    link = result[0]["现场照片"]
    photo_id = up.json()["id"]
    assert link == (f"https://grid.example.cn/api/v1/hotline/photos/{photo_id}?s="
                    f"{photo_signature(world.settings, photo_id)}")
    served = c.get(link.removeprefix("https://grid.example.cn"))  # public: no login, the signature opens it
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    with session_factory(world.engine)() as s:  # stamped anew, time and case number only: the stored copy's stamp
        stored = s.get(Photo, photo_id)        # names the worker, and the link may be forwarded to the resident
        number = s.scalar(select(Case.number).where(Case.id == stored.case_id))
        assert served.content != stored.data
        assert served.content == public_copy(stored, number, world.settings.timezone)
    assert c.get(f"/api/v1/hotline/photos/{photo_id}?s=0000").status_code == 404
    with transaction(session_factory(world.engine)) as s:  # a sensitive category's photo: never by a link
        s.execute(update(Case).where(Case.id == cid).values(category_code="C0116"))
    assert c.get(link.removeprefix("https://grid.example.cn")).status_code == 404
    with transaction(session_factory(world.engine)) as s:
        s.execute(update(Case).where(Case.id == cid).values(category_code="C0102"))
    assert world.client.get("/api/v1/hotline/results", params={"since": str(today)},
                            headers={"X-API-Key": hl["key"]}).json()[-1]["order_no"] == "A001"

    # 6. 回访: 不满意 reopens (再接单) and is counted once; the same file again rates nothing new
    fb = tmp_path / "feedback.csv"
    fb.write_text("工单编号,回访结果,是否解决,回访时间\nA001,不满意,否,2026-12-05 10:00:00\n", encoding="utf-8")
    code, out = run(world, "hotline", "feedback", str(fb), "--report", str(tmp_path / "r4.csv"))
    assert code == 0 and "1 reopened" in out, out
    case = _case(world, "A001")
    assert case.status == "dispatched" and case.reopened_count == 1 and case.rating == 2
    assert case.resident_solved is False
    code, out = run(world, "hotline", "feedback", str(fb))  # no --report: next to the file
    assert code == 0 and "1 unchanged" in out, out
    assert read_report(tmp_path / "feedback.report.csv")[0]["result"] == "unchanged"
    assert _case(world, "A001").reopened_count == 1
    bad_fb = tmp_path / "feedback_bad.csv"
    bad_fb.write_text("工单编号,回访结果,是否解决,回访时间\nA002,很好,是,\nZ999,满意,是,\n", encoding="utf-8")
    code, out = run(world, "hotline", "feedback", str(bad_fb))
    assert code != 0 and "回访结果: '很好'" in out, out

    # 7. KPIs by channel: the 12345 orders are counted under their channel, and the 回访 counts in 接诉即办
    with session_factory(world.engine)() as s:
        hotline_cases = s.scalar(select(func.count(Case.id)).where(Case.channel == "12345"))
    period = {"start": "2020-01-01", "end": "2030-01-01"}
    by_channel = c.get("/api/v1/analytics/kpis", headers=world.h("admin"),
                 params={"by": "channel", "lang": "zh", **period}).json()["rows"]
    row = next(r for r in by_channel if r["key"] == "12345")
    assert row["name"] == "12345热线" and row["received"] == hotline_cases >= 3
    assert row["rated"] >= 1 and row["dissatisfied"] >= 1  # A001's 不满意 from the 回访 file
    resp = c.get("/api/v1/kpis/responsiveness", headers=world.h("admin"),
                 params={"by": "channel", **period}).json()
    hot = next(r for r in resp["rows"] if r["key"] == "12345")
    assert hot["orders"] == hotline_cases and hot["rated"] >= 1 and hot["answered"] >= 1


def test_push_api_with_a_hotline_key(world, hl):
    c = world.client
    order = {"order_no": "P001", "received_at": "2026-12-01T08:30:00", "address": "测试路2号",
             "description": "路灯不亮", "category": "路灯不亮", "deadline": "48小时", "contact_phone": "13600136000"}
    assert c.post("/api/v1/hotline/orders", json=order).status_code == 401
    wrong = c.post("/api/v1/hotline/orders", json=order, headers={"X-API-Key": hl["open311"]})
    assert wrong.status_code == 403 and wrong.json()["field"] == "api_key"
    key = {"X-API-Key": hl["key"]}
    first = c.post("/api/v1/hotline/orders", json=order, headers=key)
    assert first.status_code == 200, first.text
    assert first.json()["results"] == [{"order_no": "P001", "result": "created", "why": ""}]
    again = c.post("/api/v1/hotline/orders", json=[order], headers=key).json()
    assert again["counts"] == {"unchanged": 1}
    changed = c.post("/api/v1/hotline/orders", json={**order, "description": "路灯不亮，已三天"}, headers=key).json()
    assert changed["results"][0]["result"] == "updated" and "description" in changed["results"][0]["why"]
    with session_factory(world.engine)() as s:
        steps = list(s.scalars(select(CaseEvent.actor).where(
            CaseEvent.case_id == _case(world, "P001").id, CaseEvent.action == "supplement")))
    assert steps == ["hotline:12345 platform"]  # the update is a step of the case, by the platform
    case = _case(world, "P001")
    assert case.category_code == "B0109" and case.reported_at == dt.datetime(2026, 12, 1, 8, 30, tzinfo=SHANGHAI)
    assert case.deadline_at == case.reported_at + dt.timedelta(hours=48)
    # a list is all or nothing, every problem named
    bad = c.post("/api/v1/hotline/orders", headers=key, json=[
        {**order, "order_no": "P002"}, {**order, "order_no": "P003", "deadline": "soon"}])
    assert bad.status_code == 422 and bad.json()["field"] == "deadline", bad.text
    assert "orders[1].deadline" in bad.json()["details"][0]
    missing = c.post("/api/v1/hotline/orders", headers=key, json={"order_no": "P004", "address": "x"})
    assert missing.status_code == 422 and "received_at" in missing.text
    assert "P002" not in _orders_like(world, "P")
    # the hotline key opens nothing else: not Open311 filing, not the staff API
    assert c.post("/open311/v2/requests.json", data={"api_key": hl["key"], "service_code": "C0102",
                                                      "lat": 43.73, "long": 7.42}).status_code == 403
    assert c.get("/api/v1/desk/unlocated", headers={"X-API-Key": hl["key"]}).status_code == 401
    assert c.get("/api/v1/cases", headers={"Authorization": f"Bearer {hl['key']}"}).status_code == 401
    # 回访 pushed: the case is not closed yet, so the rating is refused and said so
    fb = c.post("/api/v1/hotline/feedback", headers=key, json={"order_no": "P001", "satisfaction": "满意"})
    assert fb.status_code == 200 and fb.json()["results"][0]["result"] == "refused", fb.text


def _orders_like(world, prefix: str) -> set[str]:
    with session_factory(world.engine)() as s:
        return set(s.scalars(select(HotlineOrder.order_no).where(HotlineOrder.order_no.like(f"{prefix}%"))))


def test_mapping_reports_every_problem_at_once(tmp_path):
    assert load_mapping().category_of("城市管理-噪音扰民") == "E0301"
    path = tmp_path / "bad.yaml"
    path.write_text("columns: {order_no: 编号, phone: 电话}\nformats: {received_at: 'yyyy-mm-dd'}\n"
                    "categories: {default: X1, map: {噪音: Z999}}\ndefaults: {level: city}\ncolour: red\n",
                    encoding="utf-8")
    r = CliRunner().invoke(cli, ["hotline", "import", str(tmp_path / "x.csv"), "--mapping", str(path)])
    assert r.exit_code != 0
    for expected in ("colour: unknown key", "columns.phone: unknown key", "columns.received_at: required",
                     "columns.address: required", "'yyyy-mm-dd' is not a date format", "categories.default",
                     "categories.map.噪音: unknown category code 'Z999'", "defaults.level"):
        assert expected in r.output, (expected, r.output)
