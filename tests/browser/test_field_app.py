"""The grid worker's phone app (/app/) in Debian's Chromium as a phone: 360×740, touch, geolocation granted.

One worker's day on a simulated Monaco month: log in; patrol with the position moved along a real street of her grid;
report with a camera photo (downscaled in the browser); then the network goes: GPS keeps recording, three reports, a
verify with an after-photo, a verify of a case the supervisor closes meanwhile, a household visit; the page is
reloaded while offline (the service worker serves it, the outbox survives); the network comes back. The server then
holds exactly those cases, events, fixes, photos and the visit, once each, in the order they were made; the conflict is
shown to the worker. Access tokens live 36 s here, so the app must keep itself logged in with its refresh token.
Screenshots of each screen: test-output/field/.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from PIL import Image
from pyproj import Transformer
from sqlalchemy import func, select

from patrol.cases import service as svc
from patrol.core.auth import actor_for
from patrol.core.db import session_factory, transaction
from patrol.core.frames import read_frame
from patrol.core.models import (
    Building,
    Case,
    CaseEvent,
    City,
    GpsFix,
    Grid,
    Patrol,
    Photo,
    RoadSegment,
    User,
    Visit,
)
from patrol.simulate.month import DEMO_PASSWORD
from tests.browser.conftest import PHONE, phone_page, serve, simulated_city

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "field"


def _street_walk(s, grid: Grid, epsg: int) -> list[tuple[float, float]] | None:
    """Points every 10 m along the longest piece of a real street inside the grid (lon, lat), or None."""
    to_m = Transformer.from_crs(4326, epsg, always_xy=True)
    to_ll = Transformer.from_crs(epsg, 4326, always_xy=True)
    area = shapely.from_wkb(bytes(s.scalar(select(func.ST_AsBinary(Grid.geom)).where(Grid.id == grid.id))))
    roads = read_frame(s, [RoadSegment.id], RoadSegment.geom)
    roads = roads[roads.intersects(area)]
    best = None
    for line in roads.geometry:
        piece = line.intersection(area.buffer(-1e-5))
        for part in getattr(piece, "geoms", [piece]):
            if part.geom_type != "LineString" or part.is_empty:
                continue
            m = shapely.transform(part, lambda c: np.column_stack(to_m.transform(c[:, 0], c[:, 1])))
            if best is None or m.length > best.length:
                best = m
    if best is None or best.length < 80:
        return None
    pts = [best.interpolate(d) for d in range(0, 80, 10)]
    return [to_ll.transform(p.x, p.y) for p in pts]


def _handled_case(s, settings, worker: User, sup: User, point: tuple[float, float], code: str) -> int:
    """A case in the worker's grid taken to 'handled', so that her app lists it to verify on site."""
    w = actor_for(s, worker)
    sup_actor = actor_for(s, sup)
    case = svc.create_case(s, w, settings, client_id=str(uuid.uuid4()), category=code, lon=point[0],
                           lat=point[1], description="测试：待核查").case
    svc.transition(s, w, settings, case.id, "register")
    svc.transition(s, sup_actor, settings, case.id, "dispatch", assignee_id=worker.id)
    svc.transition(s, w, settings, case.id, "accept")
    svc.transition(s, w, settings, case.id, "handle", note="已清理")
    return case.id


@pytest.fixture(scope="module")
def field(tmp_path_factory, monaco_model) -> Iterator[dict]:
    url = f"sqlite:///{tmp_path_factory.mktemp('field') / 'field.db'}"
    settings, engine = simulated_city(url, monaco_model, cases=120, token_hours=0.01)
    factory = session_factory(engine)
    with transaction(factory) as s:
        epsg = s.scalar(select(City.metric_epsg))
        chosen = None
        for grid in s.scalars(select(Grid).where(Grid.worker_id.is_not(None)).order_by(Grid.id)):
            walk = _street_walk(s, grid, epsg)
            n_buildings = s.scalar(select(func.count(Building.id)).where(Building.grid_id == grid.id))
            if walk and n_buildings >= 3:
                chosen = (grid, walk)
                break
        assert chosen, "no grid of Monaco has an 80 m street and buildings"
        grid, walk = chosen
        worker = s.get(User, grid.worker_id)
        sup = s.scalars(select(User).where(User.role == "supervisor", User.community_id == grid.community_id)).first()
        code = "C0103"
        c1 = _handled_case(s, settings, worker, sup, walk[2], code)
        c2 = _handled_case(s, settings, worker, sup, walk[5], code)
        info = {"worker": worker.username, "worker_id": worker.id, "sup_id": sup.id, "grid_id": grid.id,
                "walk": walk, "c1": c1, "c2": c2}
    with serve(settings) as base:
        yield dict(info, base=base, engine=engine, factory=factory, settings=settings)
    engine.dispose()


@pytest.fixture(scope="module")
def phone(field) -> Iterator[Any]:
    lon, lat = field["walk"][0]
    with phone_page(lon, lat) as page:
        yield page


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def _counts(page: Any) -> dict:
    return page.evaluate("window.gridpatrolApp.counts()")


def _wait_sent(page: Any, timeout: float = 60) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function("window.gridpatrolApp.state.counts.waiting === 0 && "
                               "window.gridpatrolApp.engineState() === 'idle'", timeout=timeout * 1000)
    except PlaywrightTimeout:
        state = page.evaluate("""async () => ({engine: window.gridpatrolApp.engineState(),
            error: window.gridpatrolApp.store.engine.lastError,
            queue: (await window.gridpatrolApp.store.queued()).map(q => [q.kind, q.attempts, q.last_error]),
            problems: (await window.gridpatrolApp.store.problems()).map(p => [p.kind, p.status, p.error])})""")
        pytest.fail(f"the outbox did not empty: {state}")


def _camera_jpeg(w: int = 3000, h: int = 2000) -> dict:
    """What a phone camera hands over: a large JPEG with detail (gradient + noise), not a flat colour."""
    img = Image.effect_noise((w, h), 40).convert("RGB")
    img.paste((120, 160, 90), (0, 0, w // 2, h // 3))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90)
    return {"name": "IMG_0001.jpg", "mimeType": "image/jpeg", "buffer": out.getvalue()}


def _walk(page: Any, points: list[tuple[float, float]]) -> None:
    """Move the phone along the street at a walking pace (the app drops GPS jumps faster than 8 m/s)."""
    for lon, lat in points:
        page.context.set_geolocation({"latitude": lat, "longitude": lon, "accuracy": 6})
        time.sleep(1.6)


def _report(page: Any, category: dict, *, search: str, photo: dict | None = None, building: bool = True,
            note: str | None = None, floor: str | None = None) -> None:
    page.tap("a[data-tab=report]")
    page.wait_for_selector("#screen-report:not([hidden])")
    page.fill("#cat-search", search)
    page.tap(f"#cat-list [data-cat='{category['code']}']")
    assert category["code"] in page.inner_text("#cat-chosen") or page.is_visible("#cat-chosen")
    if photo:
        page.set_input_files("#photo-input", photo)
        page.wait_for_selector("#photo-previews img")
    if building:
        page.wait_for_selector("#near-buildings input[value]:not([value=''])")
        page.check("#near-buildings input[value]:not([value=''])")
    if floor:
        page.fill("#floor", floor)
        page.fill("#unit-no", "2")
    if note:
        page.fill("#report-note", note)
    before = _counts(page)["waiting"]
    page.tap("#report-submit")
    # online, open cases of the category nearby are offered first (dupes.js): this worker reports anyway
    page.wait_for_function("document.querySelector('#cat-chosen').hidden || document.querySelector('#dupes[open]')")
    if page.is_visible("#dupes[open]"):
        page.tap("#dupes [data-report]")
    page.wait_for_function("document.querySelector('#cat-chosen').hidden")
    assert _counts(page)["waiting"] >= before or page.evaluate("navigator.onLine")


def _act(page: Any, case_id: int, action: str, photo: dict | None = None, shot: str | None = None) -> None:
    page.tap("a[data-tab=tasks]")
    page.tap(f"[data-key='verify{case_id}'][data-act='{action}']")
    page.wait_for_selector("#sheet[open]")
    if photo:
        page.set_input_files("#sheet-photo", photo)
        page.wait_for_selector("#sheet-thumbs img")
    if shot:
        _shot(page, shot)
    page.tap("#sheet-ok")
    page.wait_for_selector(f"li[data-key='verify{case_id}'] .done")


def test_a_workers_day_online_then_offline_reaches_the_server_exactly_once(phone, field):
    page, base, factory = phone, field["base"], field["factory"]
    started = dt.datetime.now(dt.UTC)

    # -- log in (Chinese by default); the service worker takes over the page
    page.goto(f"{base}/app")
    assert page.url == f"{base}/app/"
    page.wait_for_selector("#login:not([hidden])")
    assert page.inner_text("#login h1") == "网格通"
    _shot(page, "01-login")
    page.fill("#login-user", field["worker"])
    page.fill("#login-pass", DEMO_PASSWORD)
    page.tap("#login-form button[type=submit]")
    page.wait_for_selector("#shell:not([hidden])")
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    page.wait_for_function("document.querySelectorAll('#task-list .stop-card').length >= 2")
    first_token = page.evaluate("window.gridpatrolApp.state.tokens.access_token")
    today = page.evaluate("window.gridpatrolApp.state.today")
    assert [f["properties"]["id"] for f in today["grids"]["features"]] == [field["grid_id"]]
    keys = page.eval_on_selector_all("#task-list .stop-card", "els => els.map(e => e.dataset.key)")
    assert f"verify{field['c1']}" in keys and f"verify{field['c2']}" in keys
    assert page.evaluate("window.gridpatrolMap.hasLayer !== undefined")

    # -- patrol along a real street
    page.tap("a[data-tab=map]")
    page.tap("#patrol-btn")
    page.wait_for_function("window.gridpatrolApp.state.patrol !== null")
    _walk(page, field["walk"][1:5])
    page.wait_for_function("window.gridpatrolApp.state.patrol.walked_m > 20")
    assert "已走" in page.inner_text("#patrol-stats")
    _shot(page, "02-patrol")

    # -- a report with a camera photo, online
    cats = today["categories"]
    assert cats and all(c["initials"] for c in cats)
    first = next(c for c in cats if c["code"] == "C0103")
    _report(page, first, search=first["initials"][:4], photo=_camera_jpeg(), note="楼道里有电动车充电", floor="3")
    _shot(page, "03-report-sent")
    _wait_sent(page)
    with transaction(factory) as s:
        mine = (Case.reporter_id == field["worker_id"], Case.reported_at >= started)
        online = s.scalars(select(Case).where(*mine)).all()
        assert len(online) == 1 and online[0].category_code == "C0103" and online[0].floor == "3"
        assert online[0].building_id is not None
        photo = s.scalars(select(Photo).where(Photo.case_id == online[0].id)).one()
        assert photo.mime == "image/jpeg" and max(photo.width, photo.height) == 1600  # 3000×2000 downscaled
        assert photo.height == round(2000 * 1600 / 3000)

    # -- the network goes; GPS keeps recording into the outbox
    page.context.set_offline(True)
    page.wait_for_function("!navigator.onLine")
    _walk(page, field["walk"][5:8])
    fixes_made = page.evaluate("window.gridpatrolApp.state.patrol.n")
    page.tap("a[data-tab=map]")
    page.tap("#patrol-btn")  # end the patrol, offline
    page.wait_for_function("window.gridpatrolApp.state.patrol === null")

    # three reports: searched by pinyin initials, by Chinese name, by initials again
    others = [c for c in cats if c["code"] != "C0103"]
    second, third = others[0], others[1]
    _report(page, first, search=first["initials"][:3], building=True, note="离线上报一")
    _report(page, second, search=second["name_zh"][:2], building=False, note="离线上报二")
    _report(page, third, search=third["initials"], photo=_camera_jpeg(2000, 3000), note="离线上报三")

    # a verify with an after-photo, and a verify of a case the supervisor closes before the phone is back online
    _act(page, field["c1"], "verify", photo=_camera_jpeg(1200, 900), shot="04-verify-sheet")
    _act(page, field["c2"], "verify")
    with transaction(factory) as s:
        sup = actor_for(s, s.get(User, field["sup_id"]))
        svc.transition(s, sup, field["settings"], field["c2"], "verify")
        svc.transition(s, sup, field["settings"], field["c2"], "close")
    _shot(page, "05-tasks-offline")

    # a household visit check-in
    page.tap("a[data-tab=visit]")
    page.tap("#visit-list [data-visit] >> nth=0")
    visited = int(page.get_attribute("#visit-list [data-visit] >> nth=0", "data-visit"))
    page.tap("#sheet-ok")
    page.wait_for_selector("#visit-list .done")

    queued = page.evaluate("window.gridpatrolApp.store.queued()")
    kinds = [q["kind"] for q in queued]
    offline_cids = [q["client_id"] for q in queued if q["kind"] == "case"]
    offline_bodies = [q["body"] for q in queued if q["kind"] == "case"]
    assert len(offline_cids) == 3
    assert kinds.count("action") == 2 and kinds.count("photo") == 2 and kinds.count("visit") == 1
    assert "patrol_end" in kinds and "fixes" in kinds
    n = _counts(page)["waiting"]
    assert n == len(queued)
    page.tap("#sync-pill")
    page.wait_for_selector("#screen-sync:not([hidden])")
    assert page.inner_text("#sync-pill") == f"离线 · {n} 条待发送"
    assert page.locator("#queue-list li.card").count() == n
    _shot(page, "06-outbox-offline")

    # -- closed and reopened while offline: the service worker serves the app, the outbox is still there
    page.reload()
    page.wait_for_selector("#shell:not([hidden])")
    page.wait_for_function(f"window.gridpatrolApp.state.counts.waiting === {n}")
    assert page.inner_text("#sync-pill") == f"离线 · {n} 条待发送"
    _shot(page, "07-reopened-offline")
    with transaction(factory) as s:
        assert s.scalar(select(func.count(Case.id)).where(Case.client_id.in_(offline_cids))) == 0

    # -- back online: everything goes, in order, once
    time.sleep(1)  # let the 36 s access token come closer to its end; the app refreshes it itself
    page.context.set_offline(False)
    page.wait_for_function("window.gridpatrolApp.state.counts.problems === 1", timeout=60_000)
    _wait_sent(page)
    assert page.evaluate("window.gridpatrolApp.state.tokens.access_token") != first_token

    with transaction(factory) as s:
        made = s.scalars(select(Case).where(Case.client_id.in_(offline_cids))).all()
        by_cid = {c.client_id: c for c in made}
        assert sorted(by_cid) == sorted(offline_cids)  # exactly the three, once each
        ids = [by_cid[c].id for c in offline_cids]
        assert ids == sorted(ids)  # sent in the order they were made
        assert [by_cid[c].category_code for c in offline_cids] == [first["code"], second["code"], third["code"]]
        assert by_cid[offline_cids[1]].building_id is None
        for c in made:
            events = s.scalars(select(CaseEvent.action).where(CaseEvent.case_id == c.id)).all()
            assert events == ["report"]
        assert s.scalar(select(func.count(Photo.id)).where(Photo.case_id == by_cid[offline_cids[2]].id)) == 1
        mine = s.scalar(select(func.count(Case.id)).where(Case.reporter_id == field["worker_id"],
                                                          Case.reported_at >= started))
        assert mine == 4  # one online, three offline
        # the verify landed once, with its after-photo on that event
        verify = s.scalars(select(CaseEvent).where(CaseEvent.case_id == field["c1"],
                                                   CaseEvent.action == "verify")).all()
        assert len(verify) == 1 and s.get(Case, field["c1"]).status == "verified"
        after = s.scalars(select(Photo).where(Photo.case_id == field["c1"])).all()
        assert [p.event_id for p in after] == [verify[0].id]
        # the conflict did not apply: only the supervisor verified case 2
        v2 = s.scalars(select(CaseEvent).where(CaseEvent.case_id == field["c2"], CaseEvent.action == "verify")).all()
        assert len(v2) == 1 and v2[0].actor_id == field["sup_id"]
        # the patrol: every fix recorded, the offline ones too, and its end
        patrol = s.scalars(select(Patrol).where(Patrol.worker_id == field["worker_id"], Patrol.started_at >= started)
                           ).one()
        assert patrol.ended_at is not None
        assert s.scalar(select(func.count(GpsFix.id)).where(GpsFix.patrol_id == patrol.id)) == fixes_made
        assert s.scalars(select(Visit.building_id).where(Visit.worker_id == field["worker_id"],
                                                         Visit.time >= started)).all() == [visited]

    # the conflict is shown to the worker, not swallowed
    page.tap("#sync-pill")
    page.wait_for_selector("#problem-list li.problem")
    text = page.inner_text("#problem-list")
    assert "案件状态已变化" in text and "已结案" in text  # the server's refusal in the app's language
    assert page.inner_text("#sync-pill") == "1 个问题"
    _shot(page, "08-conflict")
    page.tap("#problem-list [data-dismiss]")
    page.wait_for_function("window.gridpatrolApp.state.counts.problems === 0")

    # a retry of what was already sent (a lost answer) does not duplicate anything
    page.evaluate("""async (bodies) => {
        const st = window.gridpatrolApp.store;
        for (const body of bodies) await st.enqueue({kind: 'case', client_id: body.client_id, body});
    }""", offline_bodies)
    _wait_sent(page)
    with transaction(factory) as s:
        assert s.scalar(select(func.count(Case.id)).where(Case.client_id.in_(offline_cids))) == 3
    assert _counts(page) == {"waiting": 0, "problems": 0}

    # the day's data was fetched again after sending: the verified case left the task list
    page.tap("a[data-tab=tasks]")
    page.wait_for_function(f"!document.querySelector(\"li[data-key='verify{field['c1']}']\")")
    _shot(page, "09-tasks-after-sync")
    page.tap("a[data-tab=map]")
    _shot(page, "10-map-after-sync")
    assert page.evaluate("window.gridpatrolApp.state.today.walked_m") > 20

    # English, then log out explicitly
    page.tap("header .lang-toggle")
    page.tap("a[data-tab=tasks]")
    assert page.inner_text("#screen-tasks h2") == "Today's tasks"
    assert page.inner_text("#sync-pill") == "All sent"
    _shot(page, "11-tasks-en")
    page.tap("#menu-btn")
    page.tap("#logout-btn")
    page.wait_for_selector("#login:not([hidden])")
    assert page.evaluate("window.gridpatrolApp.store.kv.get('tokens')") is None
    assert not page.errors, page.errors


def test_manifest_and_service_worker_make_it_installable(field):
    import httpx

    base = field["base"]
    m = httpx.get(f"{base}/app/manifest.webmanifest").json()
    assert m["start_url"] == "/app/" and m["scope"] == "/app/" and m["display"] == "standalone"
    sizes = {i["sizes"] for i in m["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in m["icons"]:
        r = httpx.get(f"{base}{icon['src']}")
        w, h = Image.open(io.BytesIO(r.content)).size
        assert f"{w}x{h}" == icon["sizes"]
    sw = httpx.get(f"{base}/app/sw.js")
    assert sw.headers["content-type"].startswith("text/javascript")
    assert "__VERSION__" not in sw.text and "__SHELL__" not in sw.text
    for path in ("/app/", "/app/app.js", "/app/store.js", "/static/vendor/leaflet-1.9.4/leaflet.js"):
        assert path in sw.text
        assert httpx.get(f"{base}{path}").status_code == 200  # everything the worker caches exists
    assert httpx.get(f"{base}/app/nothing.js").status_code == 404


def _accepted_case(s, settings, worker: User, sup: User, point: tuple[float, float], at: dt.datetime) -> int:
    """A case in the worker's grid reported, dispatched to her and accepted at ``at``: hers to handle (处置)."""
    w, sup_actor = actor_for(s, worker), actor_for(s, sup)
    case = svc.create_case(s, w, settings, client_id=str(uuid.uuid4()), category="C0103", lon=point[0],
                           lat=point[1], description="测试：待处置", now=at).case
    svc.transition(s, w, settings, case.id, "register", now=at)
    svc.transition(s, sup_actor, settings, case.id, "dispatch", assignee_id=worker.id, now=at)
    svc.transition(s, w, settings, case.id, "accept", now=at)
    return case.id


@contextlib.contextmanager
def _another_phone(browser: Any, lon: float, lat: float) -> Iterator[Any]:
    """A second phone (a context of its own) in the browser of the module's phone: one Playwright per process."""
    context = browser.new_context(bypass_csp=True, **PHONE, locale="zh-CN", service_workers="allow",
                                  geolocation={"latitude": lat, "longitude": lon, "accuracy": 6},
                                  permissions=["geolocation"])
    try:
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.errors = []
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        yield page
    finally:
        context.close()


def test_offline_work_keeps_its_time_a_wrong_clock_is_flagged_and_photos_are_watermarked(phone, field):
    """The phone's clock says 8 hours ago (the worker's "09:00"): a report with a photo and a 处置完成 made offline
    then, synced at "17:00" (now, for the server too), keep 09:00 as when they happened — the report's deadline
    counts from it and the handle is on time against a deadline that passed while it sat in the outbox. A phone
    whose clock runs 2 days ahead is flagged and corrected. The served photo carries the watermark."""
    import hashlib

    from patrol.cases.images import strip_metadata
    from patrol.cases.worktime import calendar
    from patrol.core.models import Category

    factory, settings = field["factory"], field["settings"]
    now = dt.datetime.now(dt.UTC)
    nine = now - dt.timedelta(hours=8)
    with transaction(factory) as s:
        worker, sup = s.get(User, field["worker_id"]), s.get(User, field["sup_id"])
        handle_id = _accepted_case(s, settings, worker, sup, field["walk"][3], now - dt.timedelta(hours=10))
        s.execute(Case.__table__.update().where(Case.id == handle_id).values(deadline_at=now + dt.timedelta(days=3)))
    lon, lat = field["walk"][0]
    with _another_phone(phone.context.browser, lon, lat) as page:
        page.clock.install(time=nine)  # the phone's clock: 09:00 of the worker's day, running
        page.goto(f"{field['base']}/app")
        page.fill("#login-user", field["worker"])
        page.fill("#login-pass", DEMO_PASSWORD)
        page.tap("#login-form button[type=submit]")
        page.wait_for_selector("#shell:not([hidden])")
        page.wait_for_selector(f"[data-key='handle{handle_id}'][data-act='handle']", state="attached")
        today = page.evaluate("window.gridpatrolApp.state.today")
        cat = next(c for c in today["categories"] if c["code"] == "C0103")

        # -- 09:00, no network: a report with a photo, and the handle
        page.context.set_offline(True)
        page.wait_for_function("!navigator.onLine")
        _report(page, cat, search=cat["initials"][:3], photo=_camera_jpeg(1200, 900), note="离线：九点上报")
        page.tap("a[data-tab=tasks]")
        page.tap(f"[data-key='handle{handle_id}'][data-act='handle']")
        page.wait_for_selector("#sheet[open]")
        page.tap("#sheet-ok")
        page.wait_for_selector(f"li[data-key='handle{handle_id}'] .done")
        queued = page.evaluate("window.gridpatrolApp.store.queued()")
        report_cid = next(q["client_id"] for q in queued if q["kind"] == "case")
        assert all(q["occurred_at"] for q in queued)
        # the deadline of the case in hand passes while the handle waits in the outbox
        deadline = now - dt.timedelta(hours=4)
        with transaction(factory) as s:
            s.execute(Case.__table__.update().where(Case.id == handle_id).values(deadline_at=deadline))

        # -- 17:00 (now): the network is back, everything is sent
        page.clock.set_system_time(now)
        page.context.set_offline(False)
        _wait_sent(page)
        _shot(page, "20-synced-at-17")
        with transaction(factory) as s:
            report = s.scalars(select(Case).where(Case.client_id == report_cid)).one()
            assert abs((report.reported_at - nine).total_seconds()) < 120, (report.reported_at, nine)
            assert report.received_at - report.reported_at > dt.timedelta(hours=7) and report.time_flag is None
            hours = s.get(Category, "C0103").deadline_hours
            assert report.deadline_at == calendar(settings).add_working_hours(report.reported_at, hours)
            handled = s.get(Case, handle_id)
            assert handled.status == "handled" and handled.handled_at <= handled.deadline_at == deadline
            assert abs((handled.handled_at - nine).total_seconds()) < 300
            ev = s.scalars(select(CaseEvent).where(CaseEvent.case_id == handle_id, CaseEvent.action == "handle")).one()
            assert ev.received_at - ev.at > dt.timedelta(hours=7)
            # (closing it then counts it on time: tests/api/test_field_times.py; no write here, the app is syncing)
            photo = s.scalars(select(Photo).where(Photo.case_id == report.id)).one()
            assert photo.taken_source == "device" and abs((photo.taken_at - nine).total_seconds()) < 300
            assert photo.exif_lon is not None and photo.original is not None
            served, plain = photo.data, strip_metadata(photo.original)
        # the served photo is the stamped one: a darker band at its bottom, the rest as uploaded
        digest = page.evaluate("""async (id) => {
            const tok = window.gridpatrolApp.state.tokens.access_token;
            const r = await fetch(`/api/v1/photos/${id}`, {headers: {Authorization: `Bearer ${tok}`}});
            const h = await crypto.subtle.digest('SHA-256', await r.arrayBuffer());
            return Array.from(new Uint8Array(h), (b) => b.toString(16).padStart(2, '0')).join('');
        }""", photo.id)
        assert digest == hashlib.sha256(served).hexdigest()
        a = np.asarray(Image.open(io.BytesIO(plain)).convert("L"), dtype=int)
        b = np.asarray(Image.open(io.BytesIO(served)).convert("L"), dtype=int)
        assert a.shape == b.shape and np.abs(a[:300] - b[:300]).mean() < 3
        assert b[-60:, :300].mean() < a[-60:, :300].mean() - 15
        Image.open(io.BytesIO(served)).save(SHOTS / "21-served-photo.png")

        # -- a phone whose clock runs 2 days ahead: flagged, and its report put back to when it was made
        page.clock.set_system_time(now + dt.timedelta(days=2))
        before = dt.datetime.now(dt.UTC)
        _report(page, cat, search=cat["initials"][:3], note="时钟快了两天")
        _wait_sent(page)
        with transaction(factory) as s:
            skewed = s.scalars(select(Case).where(Case.reporter_id == field["worker_id"],
                                                  Case.received_at >= before)).one()
            assert skewed.time_flag == "skew" and abs(skewed.clock_skew_s - 2 * 86400) < 600
            assert abs((skewed.reported_at - skewed.received_at).total_seconds()) < 300
            numbers = report.number, skewed.number
        assert not page.errors, page.errors

        # -- the desk's case page shows both times, and the flag
        desk = page.context.new_page()
        desk.set_viewport_size({"width": 1366, "height": 768})
        desk.goto(f"{field['base']}/desk/cases/{numbers[0]}")
        desk.fill("#u", "admin")
        desk.fill("#p", DEMO_PASSWORD)
        desk.click("button[type=submit]")
        desk.wait_for_selector("#timeline li[data-action=report] .received")
        step = desk.inner_text("#timeline li[data-action=report] .when")
        assert "发生时间" in step and "接收时间" in step
        assert "接收时间" in desk.inner_text("#place")
        desk.screenshot(path=str(SHOTS / "22-desk-both-times.png"))
        desk.goto(f"{field['base']}/desk/cases/{numbers[1]}?lang=en")
        desk.wait_for_selector("#timeline li[data-action=report] .time-flag[data-flag=skew]")
        assert "device clock off" in desk.inner_text("#place")
