"""Field surveys in the grid worker's phone app (/app/), in Debian's Chromium as a phone (360×740, touch, GPS).

On a simulated Monaco city with the shipped checklists, a shop and a household with an 85-year-old resident in her grid:
the worker logs in and sees the visit that is due; the network goes; she runs the stairwell checklist at the building
she stands at with one failing item (no extinguisher: the landing photo becomes required, and submitting without it
is refused at the item), opens the shop from its QR link (cached: no history offline) and runs the shop checklist
(a choice that fails; a show_if item answered and then hidden again), records the visit to the due household with two
needs; reloads offline; the network returns. The server then holds one inspection per run with exactly the answers
given, findings with cases of the mapped categories and deadlines, the photo, the visit with its household and
exactly two needs — and nothing more after a second attempt to send the same items. The shop's page then shows the
inspection in its history. Screenshots: test-output/field/surveys-*.png.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import shapely
from PIL import Image
from sqlalchemy import func, select

from patrol.core.auth import SYSTEM
from patrol.core.db import session_factory, transaction
from patrol.core.models import (
    Building,
    Case,
    Checklist,
    Grid,
    Household,
    HouseholdVisit,
    Inspection,
    InspectionFinding,
    InspectionPhoto,
    Resident,
    ResidentNeed,
    User,
    Visit,
)
from patrol.simulate.month import DEMO_PASSWORD
from patrol.surveys.checklists import load_builtin_checklists
from tests.browser.conftest import phone_page, serve, simulated_city

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "field"
SHOP_NAME = "测试便利店"
HEAD = "王秀英"
PHONE_NO = "13812345678"


def _point_in(s, model, row_id: int) -> tuple[float, float]:
    """A point inside a footprint (lon, lat)."""
    wkb = s.scalar(select(func.ST_AsBinary(model.geom)).where(model.id == row_id))
    p = shapely.from_wkb(bytes(wkb)).representative_point()
    return p.x, p.y


@pytest.fixture(scope="module")
def surveys(tmp_path_factory, monaco_model) -> Iterator[dict]:
    from patrol.surveys.shops import create_shop

    url = f"sqlite:///{tmp_path_factory.mktemp('surveys') / 'surveys.db'}"
    settings, engine = simulated_city(url, monaco_model, cases=40)
    factory = session_factory(engine)
    with transaction(factory) as s:
        load_builtin_checklists(s)
        stairwell = s.scalars(select(Checklist).where(Checklist.code == "stairwell_fire", Checklist.active)).one()
        uses = json.loads(stairwell.definition)["applies_to"]["building_use"]
        chosen = None
        for grid in s.scalars(select(Grid).where(Grid.worker_id.is_not(None)).order_by(Grid.id)):
            homes = s.scalars(select(Building).where(Building.grid_id == grid.id, Building.use.in_(uses),
                                                     Building.households > 0).order_by(Building.id).limit(2)).all()
            if len(homes) == 2:
                chosen = (grid, homes)
                break
        assert chosen, "no grid of Monaco has two residential buildings"
        grid, (b1, b2) = chosen
        worker = s.get(User, grid.worker_id)
        shop = create_shop(s, SYSTEM, name=SHOP_NAME, kind="便利店", building_id=b2.id)
        home = Household(building_id=b2.id, room="302", head_name=HEAD, phone=PHONE_NO, members=1)
        s.add(home)
        s.flush()
        today = dt.date.today()
        s.add(Resident(household_id=home.id, name=HEAD, phone=PHONE_NO, birth_year=today.year - 85, lives_alone=True))
        info = {"worker": worker.username, "worker_id": worker.id, "grid_id": grid.id, "b1": b1.id, "b2": b2.id,
                "at_b1": _point_in(s, Building, b1.id), "shop_code": shop.code, "shop_id": shop.id,
                "household": home.id}
    with serve(settings) as base:
        yield dict(info, base=base, engine=engine, factory=factory, settings=settings)
    engine.dispose()


@pytest.fixture(scope="module")
def phone(surveys) -> Iterator[Any]:
    lon, lat = surveys["at_b1"]
    with phone_page(lon, lat) as page:
        yield page


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"surveys-{name}.png"))


def _waiting(page: Any) -> int:
    return page.evaluate("window.gridpatrolApp.counts()")["waiting"]


def _wait_sent(page: Any, timeout: float = 60) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function("window.gridpatrolApp.state.counts.waiting === 0 && "
                               "window.gridpatrolApp.engineState() === 'idle'", timeout=timeout * 1000)
    except PlaywrightTimeout:
        state = page.evaluate("""async () => ({engine: window.gridpatrolApp.engineState(),
            error: window.gridpatrolApp.store.engine.lastError,
            queue: (await window.gridpatrolApp.store.queued()).map(q => [q.kind, q.attempts, q.last_error])})""")
        pytest.fail(f"the outbox did not empty: {state}")
    problems = page.evaluate("window.gridpatrolApp.store.problems()")
    assert not problems, [(p["kind"], p["status"], p["error"]) for p in problems]


def _camera_jpeg(w: int = 2400, h: int = 1800) -> dict:
    img = Image.effect_noise((w, h), 40).convert("RGB")
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90)
    return {"name": "IMG_0042.jpg", "mimeType": "image/jpeg", "buffer": out.getvalue()}


def _item(item_id: str) -> str:
    return f"#insp-items [data-item='{item_id}']"


def _yes(page: Any, item_id: str, value: bool = True) -> None:
    page.tap(f"{_item(item_id)} [data-val='{'true' if value else 'false'}']")


def _choose(page: Any, item_id: str, label: str) -> None:
    page.tap(f"{_item(item_id)} [data-opt] >> text={label}")


def test_inspections_and_a_visit_made_offline_reach_the_server_once(phone, surveys):
    page, base, factory = phone, surveys["base"], surveys["factory"]
    code, hid = surveys["shop_code"], surveys["household"]

    # -- log in; the household with an 85-year-old living alone is due a visit
    page.goto(f"{base}/app/")
    page.wait_for_selector("#login:not([hidden])")
    page.fill("#login-user", surveys["worker"])
    page.fill("#login-pass", DEMO_PASSWORD)
    page.tap("#login-form button[type=submit]")
    page.wait_for_selector("#shell:not([hidden])")
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    page.wait_for_function("window.gridpatrolApp.state.today && window.gridpatrolApp.state.today.checklists")
    today = page.evaluate("window.gridpatrolApp.state.today")
    assert {c["code"] for c in today["checklists"]} == {"stairwell_fire", "shop_safety", "construction_site",
                                                         "fire_lane"}
    assert code in {x["code"] for x in today["shops"]}
    page.tap("a[data-tab=tasks]")
    card = page.wait_for_selector(f"#due-visits [data-household='{hid}']")
    text = card.inner_text()
    assert "302" in text and HEAD in text and "高龄" in text and "独居" in text
    assert "138****5678" in text and PHONE_NO not in page.content()  # masked on the phone, never the full number
    due = {(x["checklist_code"], x["building_id"] if x["target"] == "building" else x["shop_code"])
           for x in today["inspections_due"]}
    assert {("stairwell_fire", surveys["b1"]), ("shop_safety", code)} <= due  # never inspected
    page.wait_for_selector(f"#due-inspections [data-target='b{surveys['b1']}']")  # she stands there: listed first
    _shot(page, "01-tasks-due")

    # the visit list puts the building with a household due first
    page.tap("a[data-tab=visit]")
    page.wait_for_selector("#visit-list [data-visit]")
    assert int(page.get_attribute("#visit-list [data-visit] >> nth=0", "data-visit")) == surveys["b2"]
    assert "1 户到期走访" in page.inner_text("#visit-list li >> nth=0")

    # -- offline from here on
    page.context.set_offline(True)
    page.wait_for_function("!navigator.onLine")

    # -- the stairwell checklist at the building she stands at (nearest first)
    page.tap("a[data-tab=inspect]")
    page.wait_for_selector("#screen-inspect:not([hidden])")
    page.wait_for_selector(f"#insp-b-list [data-building='{surveys['b1']}']")
    first = page.get_attribute("#insp-b-list li[data-building] >> nth=0", "data-building")
    assert int(first) == surveys["b1"]
    _shot(page, "02-pick-building")
    page.tap(f"#insp-b-list [data-building='{surveys['b1']}']")
    page.wait_for_selector("#insp-cl-list [data-checklist]")
    offered = page.eval_on_selector_all("#insp-cl-list [data-checklist]", "els => els.map(e => +e.dataset.checklist)")
    stairwell = next(c for c in today["checklists"] if c["code"] == "stairwell_fire")
    assert offered == [stairwell["id"]]  # the only building checklist
    page.tap(f"[data-checklist='{stairwell['id']}']")
    page.wait_for_selector("#insp-form:not([hidden])")
    assert page.is_hidden(_item("extinguisher_state"))  # show_if: only when an extinguisher is there
    _shot(page, "03-form-top")
    _yes(page, "clutter")
    _yes(page, "ebike_charging")
    page.fill(f"{_item('ebikes_indoor')} input", "0")
    _yes(page, "extinguisher")
    assert page.is_visible(_item("extinguisher_state"))
    _choose(page, "extinguisher_state", "压力正常、在有效期内")
    _yes(page, "extinguisher", False)  # it is missing after all: the state is hidden again, the photo required
    assert page.is_hidden(_item("extinguisher_state"))
    assert page.is_visible(f"{_item('extinguisher_photo')} .req")
    fail = page.inner_text(f"{_item('extinguisher')} .fail-msg")
    assert "将生成整改案件（7 天内整改）" in fail
    _choose(page, "hydrant_box", "完好、水带水枪齐全")
    _yes(page, "emergency_light")
    _yes(page, "exits_clear")
    page.fill(f"{_item('remarks')} textarea", "三楼平台无灭火器")
    before = _waiting(page)
    page.tap("#insp-submit")
    page.wait_for_selector(f"{_item('extinguisher_photo')}.bad")
    assert page.inner_text(f"{_item('extinguisher_photo')} .item-error") == "必须拍照"
    assert page.inner_text("#insp-error") == "还有 1 项需要处理"
    assert _waiting(page) == before  # nothing queued
    _shot(page, "04-photo-required")
    page.set_input_files(f"{_item('extinguisher_photo')} input[type=file]", _camera_jpeg())
    page.wait_for_selector(f"{_item('extinguisher_photo')} .thumbs img")
    page.wait_for_selector(f"{_item('extinguisher_photo')}:not(.bad)")
    _shot(page, "05-stairwell-form")
    page.tap("#insp-submit")
    page.wait_for_selector("#insp-target:not([hidden])")
    assert _waiting(page) == before + 2  # the inspection and its photo

    # -- other targets: a shop found by its code as typed (lower case, a hyphen, O for 0 forgiven), a named place
    page.tap("#insp-kinds [data-kind=shop]")
    typed = f"{code[:5]}-{code[5:]}".lower().replace("0", "o")
    page.fill("#insp-s-search", typed)
    assert page.eval_on_selector_all("#insp-s-list li", "els => els.map(e => e.dataset.shop)") == [code]
    page.tap("#insp-kinds [data-kind=place]")
    page.tap("#insp-p-go")
    assert page.inner_text("#insp-p-error") == "请填写地点名称"
    page.fill("#insp-p-name", "海港路工地")
    page.tap("#insp-p-go")
    page.wait_for_selector("#insp-cl-list [data-checklist]")
    places = {c["id"] for c in today["checklists"] if c["target"] == "place"}
    assert set(page.eval_on_selector_all("#insp-cl-list [data-checklist]", "els => els.map(e => +e.dataset.checklist)")
               ) == places and len(places) == 2
    page.tap("#insp-chosen [data-back=target]")
    page.tap("#insp-kinds [data-kind=building]")

    # -- the shop: its QR opens the cached shop offline, without history
    page.evaluate(f"location.hash = '#shop/{code}'")
    page.wait_for_selector("#shop-inspect")
    assert SHOP_NAME in page.inner_text("#shop-view") and "历史记录需联网" in page.inner_text("#shop-view")
    _shot(page, "06-shop-offline")
    page.tap("#shop-inspect")
    page.wait_for_selector("#insp-checklist:not([hidden])")
    assert code in page.inner_text("#insp-chosen")
    shop_cl = next(c for c in today["checklists"] if c["code"] == "shop_safety")
    page.tap(f"[data-checklist='{shop_cl['id']}']")
    page.wait_for_selector("#insp-form:not([hidden])")
    _yes(page, "licence_displayed")
    _yes(page, "outside_trading")
    _choose(page, "signboard", "松动、破损或有坠落风险")
    assert "3 天内整改" in page.inner_text(f"{_item('signboard')} .fail-msg")
    _yes(page, "gas_used")
    _yes(page, "gas_smell")
    _yes(page, "gas_used", False)  # no gas after all: the gas questions and their answers go
    assert page.is_hidden(_item("gas_smell")) and page.is_hidden(_item("gas_hose"))
    page.fill(f"{_item('extinguishers')} input", "2")
    _yes(page, "ebike_charging")
    page.locator(_item("signboard")).scroll_into_view_if_needed()
    _shot(page, "07-shop-form")
    page.tap("#insp-submit")
    page.wait_for_selector("#insp-target:not([hidden])")
    assert _waiting(page) == before + 3

    # -- the due visit, with two needs
    page.tap("a[data-tab=tasks]")
    page.tap(f"[data-visit-household='{hid}']")
    page.wait_for_selector("#sheet[open]")
    assert page.is_checked(f"#vx-hh input[value='{hid}']")
    page.tap("#vx-types [data-need=medical]")
    page.fill("#vx-detail", "需要上门测血压")
    page.tap("#vx-add")
    page.tap("#vx-types [data-need=elderly_care]")
    page.fill("#vx-detail", "希望申请助餐服务")  # not added by hand: OK takes it too
    _shot(page, "08-visit-needs")
    page.tap("#sheet-ok")
    page.wait_for_selector(f"#due-visits [data-household='{hid}'] .done")
    queued = page.evaluate("window.gridpatrolApp.store.queued()")
    assert [q["kind"] for q in queued][-4:] == ["inspection", "inspection_photo", "inspection", "visit"]
    visit_body = queued[-1]["body"]
    assert visit_body["household_id"] == hid and visit_body["building_id"] == surveys["b2"]
    assert visit_body["needs"] == [{"type": "medical", "detail": "需要上门测血压"},
                                   {"type": "elderly_care", "detail": "希望申请助餐服务"}]
    insp_cids = [q["client_id"] for q in queued if q["kind"] == "inspection"]

    # a construction site inspection half done when the phone is reloaded: the draft survives
    site = next(c for c in today["checklists"] if c["code"] == "construction_site")
    page.tap("a[data-tab=inspect]")
    page.tap("#insp-kinds [data-kind=place]")
    page.fill("#insp-p-name", "海港路工地")
    page.tap("#insp-p-go")
    page.tap(f"[data-checklist='{site['id']}']")
    _yes(page, "hoarding")
    page.fill(f"{_item('noise_complaints')} input", "4")
    assert "3 天内整改" in page.inner_text(f"{_item('noise_complaints')} .fail-msg")  # fail_if ge 3
    page.tap("a[data-tab=tasks]")

    # -- reopened offline: the outbox is still there
    n = _waiting(page)
    page.reload()
    page.wait_for_selector("#shell:not([hidden])")
    page.wait_for_function(f"window.gridpatrolApp.state.counts.waiting === {n}")
    # what she did stays marked: the visit as made, the two targets off the due list
    page.wait_for_selector(f"#due-visits [data-household='{hid}'] .done")
    for target in (f"b{surveys['b1']}", f"s{code}"):
        assert page.query_selector(f"#due-inspections [data-target='{target}']") is None
    page.tap("a[data-tab=inspect]")
    page.wait_for_selector(f"{_item('hoarding')} [data-val=true].on")
    assert page.input_value(f"{_item('noise_complaints')} input") == "4"
    assert page.is_visible(f"{_item('noise_complaints')} .fail-msg")
    assert "海港路工地" in page.inner_text("#insp-form-head")
    page.tap("#insp-form-head [data-back=target]")  # not today after all
    page.wait_for_selector("#insp-target:not([hidden])")
    page.tap("a[data-tab=tasks]")
    # copies of what is queued (photo included), to send a second time once everything went through
    page.evaluate("async () => { window.__copies = await window.gridpatrolApp.store.queued(); }")
    _shot(page, "09-reopened-offline")
    with transaction(factory) as s:
        assert s.scalar(select(func.count(Inspection.id)).where(Inspection.client_id.in_(insp_cids))) == 0

    # -- online: everything goes once
    page.context.set_offline(False)
    _wait_sent(page)

    def check_server() -> None:
        with transaction(factory) as s:
            runs = s.scalars(select(Inspection).where(Inspection.worker_id == surveys["worker_id"])
                             .order_by(Inspection.id)).all()
            assert [r.client_id for r in runs] == insp_cids
            stair, shop = runs
            stair_photo = s.scalars(select(InspectionPhoto).where(InspectionPhoto.inspection_id == stair.id)).one()
            assert stair.building_id == surveys["b1"] and stair.checklist_id == stairwell["id"]
            assert json.loads(stair.answers) == {
                "clutter": True, "ebike_charging": True, "ebikes_indoor": 0, "extinguisher": False,
                "extinguisher_photo": [stair_photo.client_id], "hydrant_box": "ok", "emergency_light": True,
                "exits_clear": True, "remarks": "三楼平台无灭火器"}
            assert stair_photo.item_id == "extinguisher_photo" and max(stair_photo.width, stair_photo.height) == 1600
            assert shop.shop_id == surveys["shop_id"] and shop.checklist_id == shop_cl["id"]
            assert json.loads(shop.answers) == {"licence_displayed": True, "outside_trading": True,
                                                "signboard": "loose", "gas_used": False, "extinguishers": 2,
                                                "ebike_charging": True}
            assert (stair.failed, shop.failed) == (1, 1)
            for run, item, category, days in ((stair, "extinguisher", "E0601", 7), (shop, "signboard", "B0304", 3)):
                finding = s.scalars(select(InspectionFinding).where(InspectionFinding.inspection_id == run.id)).one()
                assert (finding.item_id, finding.category_code) == (item, category)
                case = s.get(Case, finding.case_id)
                assert case.category_code == category and case.channel == "inspection"
                assert finding.deadline_at == run.at + dt.timedelta(days=days)
                assert case.deadline_at == finding.deadline_at
            assert s.scalar(select(func.count(InspectionPhoto.id)).join(Inspection).where(
                Inspection.worker_id == surveys["worker_id"])) == 1
            visits = s.scalars(select(Visit).where(Visit.worker_id == surveys["worker_id"],
                                                   Visit.client_id == visit_body["client_id"])).all()
            assert len(visits) == 1 and visits[0].building_id == surveys["b2"]
            links = s.scalars(select(HouseholdVisit).where(HouseholdVisit.household_id == hid)).all()
            assert [x.visit_id for x in links] == [visits[0].id]
            needs = s.scalars(select(ResidentNeed).where(ResidentNeed.household_id == hid)
                              .order_by(ResidentNeed.id)).all()
            assert [(x.type, x.detail, x.visit_id) for x in needs] == [
                ("medical", "需要上门测血压", visits[0].id), ("elderly_care", "希望申请助餐服务", visits[0].id)]
            cases = s.scalar(select(func.count(Case.id)).where(Case.channel == "inspection"))
            assert cases == 2

    check_server()
    # the visit was made: today's data, fetched again after sending, no longer lists the household as due
    page.wait_for_function(f"!(window.gridpatrolApp.state.today.visits_due || []).some(v => v.household_id === {hid})")

    # -- a second attempt to send the same items (answers lost on the way) changes nothing
    page.evaluate("""async () => {
        for (const item of window.__copies) {
            const copy = Object.assign({}, item);
            delete copy.seq;
            await window.gridpatrolApp.store.enqueue(copy);
        }
    }""")
    _wait_sent(page)
    check_server()

    # -- an inspection the server refuses (a wrong answer) is shown with the server's reasons; its photo is refused
    # with it instead of waiting for an inspection that will never exist
    bad = page.evaluate("""async ([checklist, building]) => {
        const st = window.gridpatrolApp.store, cid = st.uuid(), pid = st.uuid();
        await st.enqueue({kind: 'inspection', client_id: cid, summary: 'bad', body: {client_id: cid,
            checklist_id: checklist, building_id: building, answers: {clutter: 'maybe'}}});
        const blob = await (await fetch('/app/icon-192.png')).blob();
        await st.enqueue({kind: 'inspection_photo', inspection_client_id: cid, item: 'extinguisher_photo',
            client_id: pid, blob, name: 'x.png', summary: 'bad'});
        return cid;
    }""", [stairwell["id"], surveys["b1"]])
    page.wait_for_function("window.gridpatrolApp.state.counts.problems === 2")
    page.tap("#sync-pill")
    page.wait_for_selector("#problem-list li.problem >> nth=1")
    problems = page.inner_text("#problem-list")
    assert "answers.clutter: expected true or false" in problems and "answers.ebike_charging: required" in problems
    assert "the inspection it belongs to was refused" in problems
    _shot(page, "10-refused")
    with transaction(factory) as s:
        assert s.scalar(select(func.count(Inspection.id)).where(Inspection.client_id == bad)) == 0
    page.tap("#problem-list [data-dismiss] >> nth=0")
    page.tap("#problem-list [data-dismiss] >> nth=0")
    page.wait_for_function("window.gridpatrolApp.state.counts.problems === 0")

    # -- the shop's page (the QR on its door) shows the inspection, online
    page.evaluate(f"location.hash = '#shop/{code}'")
    page.wait_for_selector("#shop-history [data-inspection]")
    history = page.inner_text("#shop-history")
    assert "沿街商户安全检查" in history and "1 项不合格" in history and "广告牌匾" in history
    _shot(page, "11-shop-history")
    page.evaluate("location.hash = '#shop/S000000000'")
    page.wait_for_selector("#shop-view .problem")
    assert "没有找到编码为 S000000000 的商户" in page.inner_text("#shop-view")
    _shot(page, "12-shop-unknown")

    # -- a phone with BarcodeDetector (Chromium on Android): the camera reads the QR on the door and opens the shop.
    # Desktop Chromium has no detector and headless no camera: both stand-ins go through the app's real code path.
    page.evaluate("location.hash = '#inspect'")
    page.evaluate("""(qr) => {
        window.BarcodeDetector = class {
            constructor(opts) { this.calls = 0; window.__formats = opts.formats; }
            async detect(video) { this.calls += 1; return this.calls < 3 ? [] : [{rawValue: qr}]; }
        };
        navigator.mediaDevices.getUserMedia = async () => {
            const canvas = document.createElement('canvas');
            canvas.width = 320; canvas.height = 240;
            canvas.getContext('2d').fillRect(0, 0, 320, 240);
            return canvas.captureStream(5);
        };
    }""", f"{base}/app/#shop/{code}")
    page.tap("#insp-kinds [data-kind=shop]")
    page.tap("#insp-scan")
    page.wait_for_function(f"location.hash === '#shop/{code}'")
    page.wait_for_selector("#shop-history [data-inspection]")
    assert page.evaluate("window.__formats") == ["qr_code"] and not page.is_visible("#scan")

    # -- English
    page.tap("header .lang-toggle")
    page.evaluate(f"location.hash = '#shop/{code}'")
    page.wait_for_selector("#shop-history >> text=Street-front shop safety")
    assert page.inner_text("#shop-inspect") == "Inspect this shop"
    _shot(page, "13-shop-en")
    page.tap("a[data-tab=tasks]")
    assert page.inner_text("#due-insp-title") == "Inspections due"
    _shot(page, "14-tasks-en")
    assert not page.errors, page.errors

    # -- logging out with work unsent keeps the work, never the day's data (it names residents due a visit)
    assert page.evaluate("window.gridpatrolApp.store.kv.get('today').then((d) => Array.isArray(d.visits_due))")
    page.context.set_offline(True)
    page.evaluate("""() => window.gridpatrolApp.store.enqueue({kind: 'visit', client_id: crypto.randomUUID(),
                                                              building_id: 1, time: new Date().toISOString()})""")
    page.once("dialog", lambda d: d.accept())
    page.tap("#menu-btn")
    page.tap("#logout-btn")
    page.wait_for_selector("#login:not([hidden])")
    assert page.evaluate("window.gridpatrolApp.store.kv.get('today')") is None
    assert page.evaluate("window.gridpatrolApp.store.counts().then((c) => c.waiting)") == 1
    page.context.set_offline(False)
