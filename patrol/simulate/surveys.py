"""SIMULATED field surveys for the demo: shops, a residents register, household visits and inspections.

Like :mod:`patrol.simulate.month`, everything made up here is labelled: shops, households and residents carry
``simulated = True`` and their names end in "(模拟)"; simulated phone numbers use the 100 prefix, which no Chinese
mobile network issues. Real shops come from the OpenStreetMap extract (:func:`patrol.surveys.shops.import_osm_shops`).
The checklists are the shipped ones; inspections go through :func:`patrol.surveys.inspections.record_inspection`, so
failed items open real rectification cases with their deadlines.
"""

from __future__ import annotations

import datetime as dt
import io
import random
import uuid
from collections.abc import Iterator
from zoneinfo import ZoneInfo

from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from patrol.cases.worktime import calendar
from patrol.core.auth import actor_for
from patrol.core.db import transaction
from patrol.core.frames import ewkt, read_frame
from patrol.core.models import (
    Building,
    Case,
    Grid,
    Household,
    HouseholdVisit,
    Inspection,
    Resident,
    ResidentNeed,
    Shop,
    User,
    Visit,
)
from patrol.core.settings import Settings
from patrol.simulate.desk import desk_now
from patrol.simulate.loop import Plan, Walk, crew, walk
from patrol.simulate.names import NameMaker
from patrol.surveys.checklists import (
    condition_holds,
    definition_of,
    item_fails,
    latest_checklists,
    load_builtin_checklists,
)
from patrol.surveys.inspections import add_photo, record_inspection
from patrol.surveys.shops import import_osm_shops, unused_shop_code

SHOP_KINDS = [("convenience", "便利店"), ("restaurant", "餐馆"), ("hairdresser", "理发店"), ("pharmacy", "药店"),
              ("bakery", "面包房"), ("hardware", "五金店"), ("laundry", "洗衣店"), ("fruit", "水果店")]
NEEDS = {"education": ["孩子入学咨询", "课后托管需求"], "medical": ["慢性病取药不便", "需要上门测血压"],
         "housing": ["屋顶漏水待修", "老旧小区加装电梯意向"], "jobs": ["失业再就业培训", "灵活就业社保咨询"],
         "elderly_care": ["希望助餐服务", "需要定期上门探望"], "other": ["邻里噪音困扰"]}


def has_survey_simulation(session: Session) -> bool:
    return session.scalar(select(func.count()).select_from(Household).where(Household.simulated)) > 0


def simulate_surveys(factory: sessionmaker[Session], settings: Settings, *, osm_file: str | None = None,
                     days: int = 30, seed: int = 2026, today: dt.date | None = None,
                     buildings_per_grid: int = 8) -> Iterator[str]:
    """Shops (real from ``osm_file`` plus simulated ones), a simulated register with vulnerable residents and their
    visits, and a month of simulated inspections by the simulated grid workers; yields progress lines."""
    rng = random.Random(seed)
    tz = ZoneInfo(settings.timezone)
    today = today or dt.datetime.now(tz).date()
    with transaction(factory) as s:
        if has_survey_simulation(s):
            yield "simulated field surveys already present"
            return
        n = load_builtin_checklists(s)
        yield f"checklists: {n} shipped checklists loaded"
    if osm_file:
        with transaction(factory) as s:
            got = import_osm_shops(s, osm_file)
        for line in got.lines():
            yield f"real shops from OpenStreetMap: {line}"
    with transaction(factory) as s:
        workers = {g: u for g, u in s.execute(select(Grid.id, Grid.worker_id).where(Grid.worker_id.is_not(None)))}
        buildings = _buildings(s)
        n_shops = _shops(s, rng, buildings)
        n_house, n_res, n_vul = _register(s, rng, buildings, today, settings)
        yield (f"simulated shops: {n_shops}; simulated register: {n_house} households, {n_res} residents, "
               f"{n_vul} vulnerable (80+, disabled or living alone)")
        n_visits = _visits(s, rng, workers, today, tz)
        yield f"simulated household visits: {n_visits}"
    with transaction(factory) as s:
        n_insp, n_failed, opened = _inspections(s, rng, settings, workers, today, days, tz, buildings_per_grid)
        states = _rectify(s, rng, settings, opened, desk_now(today, tz))
    yield (f"simulated inspections: {n_insp}, with {n_failed} failed items; rectification cases (限期整改) "
           f"opened: {len(opened)}, now " + ", ".join(f"{k} {v}" for k, v in sorted(states.items())))


def _name(rng: random.Random) -> str:
    return NameMaker(rng).full(fresh=False) + " (模拟)"


def _phone(rng: random.Random) -> str:
    return "100" + "".join(rng.choice("0123456789") for _ in range(8))


def _buildings(s: Session) -> dict[int, list]:
    """Per grid: ``(building id, use, households, point)`` of its buildings, biggest first."""
    frame = read_frame(s, [Building.id, Building.grid_id, Building.use, Building.households], Building.geom)
    frame = frame[frame.grid_id.notna()]
    pts = frame.geometry.representative_point()
    out: dict[int, list] = {}
    for row, p in zip(frame.itertuples(), pts, strict=True):
        out.setdefault(int(row.grid_id), []).append((int(row.id), row.use, int(row.households or 0), p))
    for rows in out.values():
        rows.sort(key=lambda r: -r[2])
    return out


def _shops(s: Session, rng: random.Random, buildings: dict[int, list]) -> int:
    n = 0
    for rows in buildings.values():
        shopfronts = [r for r in rows if r[1] in ("retail", "commercial", "kiosk", "supermarket")] or rows
        for bid, _, _, p in rng.sample(shopfronts, min(len(shopfronts), 3)):
            kind, label = rng.choice(SHOP_KINDS)
            s.add(Shop(code=unused_shop_code(s), name=f"{NameMaker(rng).surname()}记{label} (模拟)", kind=kind,
                       building_id=bid, simulated=True, geom=ewkt([p])[0]))
            s.flush()
            n += 1
    return n


def _register(s: Session, rng: random.Random, buildings: dict[int, list], today: dt.date,
              settings: Settings) -> tuple[int, int, int]:
    n_house = n_res = n_vul = 0
    for rows in buildings.values():
        homes = [r for r in rows if r[2] > 0][:12]
        for bid, _, households, _ in homes:
            for k in range(min(households, rng.randrange(1, 4))):
                h = Household(building_id=bid, room=f"{k + 1}-{rng.randrange(1, 7)}0{rng.randrange(1, 4)}",
                              head_name=_name(rng), phone=_phone(rng), members=rng.randrange(1, 5), simulated=True)
                if s.scalar(select(Household.id).where(Household.building_id == bid, Household.room == h.room)):
                    continue
                s.add(h)
                s.flush()
                n_house += 1
                for _ in range(h.members):
                    age = rng.choice([rng.randrange(5, 79)] * 6 + [rng.randrange(80, 96)])
                    r = Resident(household_id=h.id, name=_name(rng), phone=_phone(rng) if age >= 16 else None,
                                 birth_year=today.year - age, disabled=rng.random() < 0.04,
                                 lives_alone=h.members == 1 and age >= 60, simulated=True)
                    if r.disabled:
                        r.disability = rng.choice(["肢体二级", "视力一级", "听力三级"])
                    s.add(r)
                    n_res += 1
                    n_vul += age >= settings.vulnerable_age or r.disabled or r.lives_alone
    s.flush()
    return n_house, n_res, n_vul


def _visits(s: Session, rng: random.Random, workers: dict[int, int], today: dt.date, tz: ZoneInfo) -> int:
    rows = s.execute(select(Household.id, Household.building_id, Building.grid_id)
                     .join(Building, Building.id == Household.building_id).where(Household.simulated)).all()
    n = 0
    for hid, bid, gid in rows:
        worker = workers.get(gid)
        if worker is None or rng.random() < 0.3:  # some households were never visited: they show as due
            continue
        day = today - dt.timedelta(days=rng.randrange(1, 20))
        t = dt.datetime.combine(day, dt.time(rng.randrange(9, 17), rng.randrange(0, 60)), tzinfo=tz)
        v = Visit(client_id=str(uuid.UUID(int=rng.getrandbits(128))), worker_id=worker, building_id=bid, time=t,
                  note="入户走访 (模拟)")
        s.add(v)
        s.flush()
        s.add(HouseholdVisit(visit_id=v.id, household_id=hid))
        if rng.random() < 0.35:
            kind = rng.choice(list(NEEDS))
            s.add(ResidentNeed(household_id=hid, visit_id=v.id, type=kind, detail=rng.choice(NEEDS[kind]) + " (模拟)",
                               status=rng.choice(["open", "open", "in_progress", "resolved"]), created_by=worker,
                               created_at=t, resolved_at=None))
        n += 1
    s.flush()
    return n


def _answers(defn: dict, rng: random.Random, fail_rate: float) -> tuple[dict, list[str]]:
    """Valid answers to ``defn``, each failable item failing with ``fail_rate``; the photo items that need a photo."""
    answers: dict = {}
    photos: list[str] = []
    for it in defn["items"]:
        if it.get("show_if") and not condition_holds(it["show_if"], answers):
            continue
        kind, fails = it["type"], "fail" in it and rng.random() < fail_rate
        if kind == "yesno":
            good = it.get("pass", True)
            answers[it["id"]] = (not good) if fails else good
        elif kind == "choice":
            bad = [o["value"] for o in it["options"] if o["value"] in it.get("fail_values", [])]
            good = [o["value"] for o in it["options"] if o["value"] not in it.get("fail_values", [])]
            answers[it["id"]] = rng.choice(bad) if fails and bad else rng.choice(good or bad)
        elif kind == "number":
            lo = it.get("min", 0)
            values = [v for v in range(lo, min(lo + 6, it.get("max", lo + 6)) + 1) if item_fails(it, v) == fails]
            answers[it["id"]] = rng.choice(values or [lo])
        elif kind == "photo" and (it.get("required") or (it.get("required_if")
                                                           and condition_holds(it["required_if"], answers))):
            answers[it["id"]] = [str(uuid.UUID(int=rng.getrandbits(128)))]
            photos.append(it["id"])
    return answers, photos


def _photo(label: str) -> bytes:
    """A small grey JPEG standing in for a worker's photo (simulated)."""
    buf = io.BytesIO()
    Image.new("RGB", (320, 240), (150, 150, 150)).save(buf, "JPEG", quality=70)
    return buf.getvalue()


def _inspections(s: Session, rng: random.Random, settings: Settings, workers: dict[int, int], today: dt.date,
                 days: int, tz: ZoneInfo, per_grid: int) -> tuple[int, int, list[int]]:
    """A month of inspections; how many, their failed items and the ids of the rectification cases opened."""
    lists = {c.target: c for c in latest_checklists(s)}
    shops = {}
    for code, gid in s.execute(select(Shop.code, Building.grid_id).join(Building, Building.id == Shop.building_id)):
        shops.setdefault(gid, []).append(code)
    homes = {}
    for bid, gid in s.execute(select(Building.id, Building.grid_id).where(Building.households > 0,
                                                                          Building.grid_id.is_not(None))):
        homes.setdefault(gid, []).append(bid)
    n = failed = 0
    opened: list[int] = []
    for gid, worker_id in sorted(workers.items()):
        actor = actor_for(s, s.get(User, worker_id))
        targets = [("building", b) for b in rng.sample(homes.get(gid, []), min(len(homes.get(gid, [])), per_grid))]
        targets += [("shop", c) for c in shops.get(gid, [])]
        for kind, target in targets:
            checklist = lists.get(kind)
            if checklist is None:
                continue
            defn = definition_of(checklist)
            answers, photos = _answers(defn, rng, 0.03)
            day = today - dt.timedelta(days=rng.randrange(1, days))
            t = dt.datetime.combine(day, dt.time(rng.randrange(9, 17), rng.randrange(0, 60)), tzinfo=tz)
            cid = str(uuid.UUID(int=rng.getrandbits(128)))
            result, _ = record_inspection(s, actor, settings, client_id=cid, checklist_id=checklist.id,
                                          answers=answers, note="模拟检查 (simulated)", time=t, now=t,
                                          **({"building_id": target} if kind == "building" else {"shop_code": target}))
            s.get(Inspection, result["id"]).simulated = True
            for f in result["findings"]:
                if f["case_id"] is not None:
                    case = s.get(Case, f["case_id"])
                    case.simulated, case.description = True, f"{case.description} (模拟)"
                    opened.append(case.id)
            for item in photos:
                add_photo(s, actor, settings, cid, item=item, client_id=answers[item][0], data=_photo(item))
            n += 1
            failed += result["failed"]
    s.flush()
    return n, failed, opened


def _rectify(s: Session, rng: random.Random, settings: Settings, case_ids: list[int], end: dt.datetime
             ) -> dict[str, int]:
    """Each rectification case through the loop by its deadline (限期整改: handled is rectified, verified is the
    re-inspection), until ``end``; the cases per final status."""
    casts = crew(s)
    cal = calendar(settings)
    states: dict[str, int] = {}
    for cid in case_ids:
        case = s.get(Case, cid)
        cast = casts.get(case.grid_id or -1)
        if cast is None:
            continue
        final = walk(Walk(s, settings, cal, case, cast, rng, end), Plan(keep_deadline=True))
        states[final] = states.get(final, 0) + 1
    return states
