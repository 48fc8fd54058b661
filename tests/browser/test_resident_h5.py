"""The issue's "Done when" as a resident on a 360×740 phone: open a building's QR link → report with a photo (and a
clear Chinese error, the form kept, when the network fails) → get the follow-up link → staff register, dispatch,
handle, verify and close through the service → the resident sees the result and rates 2 → the case reopens and
满意率 changes. Screenshots in test-output/resident-*.png."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
import shapely
from PIL import Image
from sqlalchemy import func, select

from patrol.analytics import kpis as K
from patrol.cases import service as svc
from patrol.cases.photos import store_photo
from patrol.core.auth import SYSTEM
from patrol.core.db import make_engine, session_factory, transaction
from patrol.core.frames import ewkt
from patrol.core.models import Building, Case, Grid, ResponsibleUnit
from patrol.core.settings import Settings
from patrol.intake.links import ReportPlace, report_url
from tests.browser.conftest import ARGS, LOCAL_ONLY, PHONE, chromium_path, serve
from tests.conftest import CITIES

pytestmark = pytest.mark.browser
OUT = Path("test-output")


def _jpeg(colour, size=(1200, 900)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG")
    return out.getvalue()


def _satisfaction(engine, settings) -> tuple[int, float | None]:
    today = dt.date.today()
    with session_factory(engine)() as s:
        row = K.kpis(s, by=None, start=today - dt.timedelta(days=2), end=today + dt.timedelta(days=2),
                     settings=settings).iloc[0]
    rate = row["satisfaction_rate"]
    return int(row["rated"]), None if rate is None or rate != rate else float(rate)


def _close_through_the_service(engine, settings, number: str) -> None:
    with transaction(session_factory(engine)) as s:
        unit = ResponsibleUnit(type="urban_management", name="城管执法三中队",
                               geom=ewkt([shapely.Point(7.42, 43.735)])[0])
        s.add(unit)
        s.flush()
        case_id = s.scalars(select(Case.id).where(Case.number == number)).one()
        for action in ("register", "dispatch", "accept", "handle", "verify", "close"):
            svc.transition(s, SYSTEM, settings, case_id, action, unit_id=unit.id if action == "dispatch" else None,
                           note="内部备注：王师傅处理" if action == "handle" else None)
            if action == "handle":
                store_photo(s, SYSTEM, case_id, _jpeg((40, 160, 60), (800, 600)), max_bytes=10**7)


def test_a_resident_reports_from_a_sticker_follows_and_rates(tmp_path, monaco_model):
    from playwright.sync_api import sync_playwright

    OUT.mkdir(exist_ok=True)
    url = CITIES.new("spatialite", monaco_model, tmp_path / "h5.db")
    settings = Settings(database_url=url, tiles=None, secret_key="browser-test-secret-key-0123456789",
                        timezone="Asia/Shanghai")
    engine = make_engine(url)
    with session_factory(engine)() as s:
        b, code, wkb = s.execute(select(Building.id, Grid.code, func.ST_AsBinary(func.ST_PointOnSurface(Building.geom)))
                                 .join(Grid, Grid.id == Building.grid_id).where(Building.name.is_not(None))
                                 .order_by(Building.id).limit(1)).one()
        p = shapely.from_wkb(bytes(wkb))
    with serve(settings) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=[*ARGS, LOCAL_ONLY])
        context = browser.new_context(bypass_csp=True, **PHONE, locale="zh-CN", permissions=["geolocation"],
                                      geolocation={"latitude": p.y, "longitude": p.x, "accuracy": 8})
        page = context.new_page()
        page.set_default_timeout(20_000)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        # 1. the building's QR link: the place is known, no GPS needed
        page.goto(report_url(base, ReportPlace(b, code, p.x, p.y)))
        page.wait_for_selector("body[data-ready='1']")
        assert page.inner_text("#spot").startswith("位置：")
        page.click("label.chip:has-text('路灯不亮')")
        page.set_input_files("#photo", files=[{"name": "lamp.jpg", "mimeType": "image/jpeg",
                                               "buffer": _jpeg((220, 180, 40), (3000, 2000))}])
        page.wait_for_selector("#thumbs img")
        page.fill("#description", "楼前路灯连续三晚不亮")
        page.fill("#phone", "13812345678")
        page.screenshot(path=str(OUT / "resident-1-form.png"), full_page=True)
        # 2. the network fails: a Chinese message, nothing lost
        context.set_offline(True)
        page.click("#submit")
        page.wait_for_selector("#error:has-text('网络连接失败')")
        assert page.input_value("#description") == "楼前路灯连续三晚不亮" and page.locator("#thumbs img").count() == 1
        page.screenshot(path=str(OUT / "resident-2-offline.png"), full_page=True)
        context.set_offline(False)
        # 3. sent: the case number and the private link, to save
        page.click("#submit")
        page.wait_for_selector("#done:not([hidden])")
        number = page.inner_text("#done-number")
        link = page.get_attribute("#done-link", "href")
        assert link.startswith(f"{base}/r/f/") and "保存此链接" in page.inner_text("#done")
        page.screenshot(path=str(OUT / "resident-3-done.png"), full_page=True)
        with session_factory(engine)() as s:
            case = s.scalars(select(Case).where(Case.number == number)).one()
            assert (case.status, case.channel, case.building_id) == ("reported", "resident", b)
        # 4. staff work the loop through the service
        _close_through_the_service(engine, settings, number)
        rated_before, rate_before = _satisfaction(engine, settings)
        # 5. the resident sees the result and rates 2
        page.goto(link)
        page.wait_for_selector("#rate")
        assert page.inner_text("#state") == "已办结"
        timeline = page.inner_text("#timeline")
        assert "已派遣至城管执法中队" in timeline and "已结案" in timeline
        assert "王师傅" not in page.content() and "三中队" not in page.content() and "13812345678" not in page.content()
        page.wait_for_function("document.querySelector('#after img').naturalWidth > 0")
        page.screenshot(path=str(OUT / "resident-4-result.png"), full_page=True)
        page.click("label.chip:has-text('2 · 不满意')")
        page.click("label.chip:has-text('没解决')")
        page.fill("#comment", "路灯还是时亮时灭")
        page.click("#send")
        page.wait_for_selector("#reopened")
        assert "再接单" in page.inner_text("#reopened") and page.locator("#rate").count() == 0
        page.screenshot(path=str(OUT / "resident-5-reopened.png"), full_page=True)
        # 6. a grid's sticker: the map opens on the grid (Leaflet loaded on demand), a tap places the problem;
        # then another report located by the phone's GPS
        page.goto(f"{base}/r/?g={code}")
        page.wait_for_selector("#map .leaflet-marker-icon")
        page.click("label.chip:has-text('垃圾堆放')")
        page.fill("#description", "垃圾桶旁堆满垃圾")
        page.click("#map")
        assert page.inner_text("#where-state") == "已在地图上选点"
        page.screenshot(path=str(OUT / "resident-6-pin.png"), full_page=True)
        page.click("#submit")
        page.wait_for_selector("#done:not([hidden])")
        pinned = page.inner_text("#done-number")
        page.click("#again")
        page.click("label.chip:has-text('噪音扰民')")
        page.fill("#description", "夜间施工噪音")
        page.click("#gps")
        page.wait_for_selector("#where-state:has-text('已定位')")
        page.click("#submit")
        page.wait_for_selector("#done:not([hidden])")
        located = page.inner_text("#done-number")
        assert errors == [], errors
        browser.close()
    with session_factory(engine)() as s:
        rows = {n: (g, shapely.from_wkb(bytes(w))) for n, g, w in s.execute(
            select(Case.number, Case.grid_id, func.ST_AsBinary(Case.geom)).where(Case.number.in_([pinned, located])))}
        assert rows[pinned][0] is not None and rows[located][0] is not None
        assert rows[located][1].distance(p) < 1e-6  # the phone's GPS point, as sent (WGS-84)
    with session_factory(engine)() as s:
        case = s.scalars(select(Case).where(Case.number == number)).one()
        assert case.status == "dispatched" and case.reopened_count == 1 and case.resident_solved is False
    rated_after, rate_after = _satisfaction(engine, settings)
    assert rated_after == rated_before + 1 and rate_after != rate_before, (rate_before, rate_after)
    engine.dispose()
