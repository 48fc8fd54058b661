"""我的上报, duplicates and 自行处置 in the phone app (/app/, Chromium as a 360×740 phone, Chinese).

One sequence on a small simulated Monaco month: the worker reports with a photo and the confirmation shows the
case number the server gave; 我的上报 lists it as 已上报, and as 已立案 once the community registers it through the API;
a report next to an open case of the same category offers that case (仍要上报 / 补充到该案件) and 补充 adds her photo
and note to it as a step; a report marked 自行处置 with an after-photo ends handled at grid level; a category that is
not the grid's does not offer 自行处置; a report made offline is listed as 待发送 until it is sent.
Screenshots: test-output/field-reports/.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import shapely
from PIL import Image
from sqlalchemy import func, select

from patrol.cases import service as svc
from patrol.cases.casefile import open_nearby
from patrol.core.auth import SYSTEM, actor_for
from patrol.core.db import session_factory, transaction
from patrol.core.models import Case, CaseEvent, Grid, Photo, User
from patrol.simulate.month import DEMO_PASSWORD
from tests.browser.conftest import phone_page, serve, simulated_city

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "field-reports"
CATS = ("C0103", "C0105", "E0201")  # grid-level categories: a report, the duplicate, the self-handled one


def _jpeg(colour: tuple[int, int, int]) -> dict:
    img = Image.effect_noise((800, 600), 30).convert("RGB")
    img.paste(colour, (0, 0, 400, 300))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return {"name": "IMG.jpg", "mimeType": "image/jpeg", "buffer": out.getvalue()}


@pytest.fixture(scope="module")
def field(tmp_path_factory, monaco_model) -> Iterator[dict]:
    url = f"sqlite:///{tmp_path_factory.mktemp('reports') / 'reports.db'}"
    settings, engine = simulated_city(url, monaco_model, cases=40)
    factory = session_factory(engine)
    with transaction(factory) as s:
        grid = s.scalars(select(Grid).where(Grid.worker_id.is_not(None)).order_by(Grid.id)).first()
        area = shapely.from_wkb(bytes(s.scalar(select(func.ST_AsBinary(Grid.geom)).where(Grid.id == grid.id))))
        p = area.representative_point()
        for code in CATS:  # nothing of these categories open near the point but what the test makes
            assert not open_nearby(s, SYSTEM, settings, code, p.x, p.y, svc.now_utc()), code
        worker = s.get(User, grid.worker_id)
        sup = s.scalars(select(User).where(User.role == "supervisor", User.community_id == grid.community_id)).first()
        existing = svc.create_case(s, actor_for(s, sup), settings, client_id=str(uuid.uuid4()), category="C0105",
                                   lon=p.x + 0.00005, lat=p.y, description="消防通道被电动车堵住").case
        info = {"worker": worker.username, "worker_id": worker.id, "sup": sup.username, "lon": p.x, "lat": p.y,
                "existing": existing.id, "existing_number": existing.number}
    with serve(settings) as base:
        yield dict(info, base=base, factory=factory)
    engine.dispose()


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def _wait_sent(page: Any) -> None:
    page.wait_for_function("window.gridpatrolApp.state.counts.waiting === 0 && "
                           "window.gridpatrolApp.engineState() === 'idle'", timeout=60_000)
    assert page.evaluate("window.gridpatrolApp.store.problems()") == []


def _fill_report(page: Any, code: str, *, photo: dict | None, note: str) -> None:
    page.goto(page.url.split("#")[0] + "#report")
    page.wait_for_selector("#screen-report:not([hidden])")
    if page.is_visible("#cat-change"):
        page.tap("#cat-change")
    page.fill("#cat-search", code.lower())
    page.tap(f"#cat-list [data-cat='{code}']")
    if photo:
        page.set_input_files("#photo-input", photo)
        page.wait_for_selector("#photo-previews img")
    page.fill("#report-note", note)


def test_my_reports_duplicates_and_self_handled(field):
    base, factory = field["base"], field["factory"]
    with phone_page(field["lon"], field["lat"]) as page:
        page.goto(f"{base}/app/")
        page.wait_for_selector("#login:not([hidden])")
        page.fill("#login-user", field["worker"])
        page.fill("#login-pass", DEMO_PASSWORD)
        page.tap("#login-form button[type=submit]")
        page.wait_for_selector("#shell:not([hidden])")
        page.wait_for_function("window.gridpatrolApp.state.today !== null && window.gridpatrolApp.state.pos")

        # -- a report, online: the confirmation shows the number the server gave
        _fill_report(page, "C0103", photo=_jpeg((200, 40, 40)), note="楼道里私拉电线给电动车充电")
        page.tap("#report-submit")
        page.wait_for_selector("#done-number-value")
        number = page.inner_text("#done-number-value")
        _shot(page, "01-confirmation")
        with transaction(factory) as s:
            case = s.scalars(select(Case).where(Case.reporter_id == field["worker_id"], Case.number == number,
                                                Case.category_code == "C0103")).one()
            assert case.number == number and number.startswith("20") and "#" not in number
            case_id = case.id

        # -- 我的上报: the number, 已上报; after the community registers it, 已立案 and the step
        page.tap("#mine-link")
        page.wait_for_selector(f"#mine-list [data-number='{number}']")
        card = page.inner_text(f"#mine-list [data-number='{number}']")
        assert "已上报" in card and "上报" in card and "#" not in card
        token = httpx.post(f"{base}/api/v1/auth/token",
                           data={"username": field["sup"], "password": DEMO_PASSWORD}).json()["access_token"]
        r = httpx.post(f"{base}/api/v1/cases/{case_id}/actions/register", json={},
                       headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        page.goto(f"{base}/app/#map")
        page.goto(f"{base}/app/#mine")
        page.wait_for_function(f"""document.querySelector("#mine-list [data-number='{number}']")
                                   .innerText.includes('已立案')""")
        assert "最新：立案" in page.inner_text(f"#mine-list [data-number='{number}']")
        _shot(page, "02-my-reports")

        # -- a report next to an open case of its category: offered, and 补充 adds the photo to that case
        _fill_report(page, "C0105", photo=_jpeg((40, 40, 200)), note="通道仍被堵")
        page.tap("#report-submit")
        page.wait_for_selector("#dupes[open]")
        assert field["existing_number"] in page.inner_text("#dupes")
        assert page.is_visible("#dupes [data-report]")  # 仍要上报
        _shot(page, "03-duplicate-offered")
        page.tap(f"#dupes [data-supplement='{field['existing']}']")
        page.wait_for_selector("#report-done:not([hidden])")
        assert page.inner_text("#report-done").startswith(f"已补充到案件 {field['existing_number']}")
        _wait_sent(page)
        with transaction(factory) as s:
            ev = s.scalars(select(CaseEvent).where(CaseEvent.case_id == field["existing"],
                                                   CaseEvent.action == "supplement")).one()
            assert ev.note == "通道仍被堵" and ev.to_status == ev.from_status == "reported"
            assert s.scalar(select(func.count(Photo.id)).where(Photo.event_id == ev.id)) == 1
            assert s.scalar(select(func.count(Case.id)).where(Case.category_code == "C0105",
                                                               Case.reporter_id == field["worker_id"])) == 0

        # -- the desk's case page (1366×768, the community's supervisor) shows the 补充 step with her photo
        desk = page.context.browser.new_context(bypass_csp=True, viewport={"width": 1366, "height": 768},
                                                locale="zh-CN")
        office = desk.new_page()
        office.goto(f"{base}/desk/cases/{field['existing_number']}")
        office.fill("#u", field["sup"])
        office.fill("#p", DEMO_PASSWORD)
        office.click("button[type=submit]")
        office.wait_for_selector("#timeline li[data-action=supplement]")
        step = office.inner_text("#timeline li[data-action=supplement]")
        assert "补充" in step and "通道仍被堵" in step
        assert office.locator("#timeline li[data-action=supplement] img").count() == 1
        office.locator("#timeline li[data-action=supplement]").scroll_into_view_if_needed()
        office.screenshot(path=str(SHOTS / "07-desk-case-supplement.png"))
        desk.close()

        # -- 自行处置: not offered for a department's category; for the grid's, with the after-photo required
        _fill_report(page, "B0109", photo=None, note="路灯不亮")
        assert page.is_hidden("#self-handle")
        _fill_report(page, "E0201", photo=_jpeg((40, 160, 40)), note="电线杆上贴满小广告")
        page.wait_for_selector("#self-handle:not([hidden])")
        page.check("#sh-on")
        page.tap("#report-submit")
        assert "处置后" in page.inner_text("#report-error")  # no after-photo yet
        page.set_input_files("#sh-photo", _jpeg((240, 240, 240)))
        page.wait_for_selector("#self-handle .thumbs img")
        page.fill("#sh-note", "已清除")
        _shot(page, "04-self-handle-form")
        page.tap("#report-submit")
        page.wait_for_selector("#done-number-value")
        _wait_sent(page)
        with transaction(factory) as s:
            done = s.scalars(select(Case).where(Case.reporter_id == field["worker_id"],
                                                Case.category_code == "E0201")).one()
            assert (done.status, done.level, done.channel) == ("handled", "grid", "self_handled")
            assert done.assignee_id == field["worker_id"]
            steps = s.execute(select(CaseEvent.action, CaseEvent.id).where(CaseEvent.case_id == done.id)
                              .order_by(CaseEvent.at, CaseEvent.id)).all()
            assert [a for a, _ in steps] == ["report", "register", "dispatch", "accept", "handle"]
            on = dict(s.execute(select(Photo.event_id, func.count(Photo.id)).where(Photo.case_id == done.id)
                                .group_by(Photo.event_id)).all())
            assert on == {steps[0][1]: 1, steps[-1][1]: 1}  # the problem on the report, the after-photo on 处置
            assert page.inner_text("#done-number-value") == done.number
        page.tap("#report-done a[href='#mine']")
        page.wait_for_selector(f"#mine-list [data-number='{done.number}']")
        assert "自行处置" in page.inner_text(f"#mine-list [data-number='{done.number}']")
        assert "已处置" in page.inner_text(f"#mine-list [data-number='{done.number}']")
        _shot(page, "05-my-reports-self-handled")

        # -- offline: the report is listed as 待发送, and with its number once it is sent
        page.context.set_offline(True)
        page.wait_for_function("!navigator.onLine")
        _fill_report(page, "C0102", photo=None, note="楼道堆满纸箱")
        page.tap("#report-submit")
        page.wait_for_selector("#report-done:not([hidden])")
        assert "我的上报" in page.inner_text("#report-done")  # the number comes after the sync
        page.tap("#report-done a[href='#mine']")
        page.wait_for_selector("#mine-list .queued")
        assert "待发送" in page.inner_text("#mine-list .queued")
        _shot(page, "06-my-reports-offline")
        page.context.set_offline(False)
        _wait_sent(page)
        with transaction(factory) as s:
            late = s.scalar(select(Case.number).where(Case.reporter_id == field["worker_id"],
                                                      Case.category_code == "C0102"))
        page.wait_for_selector(f"#mine-list [data-number='{late}']")
        assert page.query_selector("#mine-list .queued") is None
        assert page.errors == []
