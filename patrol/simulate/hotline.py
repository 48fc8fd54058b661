"""A SIMULATED 12345 work-order export (工单导出) built from the city's real building addresses, with the noise real
call-takers' addresses carry — for the hotline import, the address matching's measured match rate and the bench.

Everything is labelled simulated: 诉求人 is "模拟居民N", phone numbers use the 100 prefix (no Chinese mobile network
issues it; :mod:`patrol.simulate.surveys` uses it too), 诉求内容 starts with "【模拟】", order numbers with "SIM".

Addresses are written the way a call-taker types them: ``Triesen社区Landstrasse12号3单元``, ``所属街道`` the
building's subdistrict. With probability ``noise`` an order gets one or two of: a typo in the road (two letters
swapped, one dropped, or a sound-alike spelling: c/k, v/w, ei/ai, ph/f …), the number in Chinese numerals (十二号),
full-width digits, extra words (门口, 对面, 附近, 旁边), or no number at all. An order without a number names no one
building: its truth is None (the importer should leave it 待定位).
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import re
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from geo.labels import split_address
from patrol.core.errors import InvalidInput
from patrol.core.models import Building, Community, Subdistrict

COLUMNS = ("工单编号", "受理时间", "诉求人", "联系电话", "诉求内容", "诉求分类", "事发地址", "所属街道",
           "办理时限", "紧急程度")
#: 诉求分类 texts as a hotline platform writes them (the shipped hotline mapping maps them by the part after "-")
CATEGORIES = {
    "市容环境-垃圾清运": "垃圾没有及时清运，散发异味",
    "市容环境-小广告": "墙上和电线杆上贴满小广告",
    "市政设施-路灯不亮": "路灯晚上不亮，行人看不清路",
    "市政设施-井盖缺失": "井盖缺失，存在安全隐患",
    "市政设施-道路积水": "下雨后路面积水严重",
    "城市管理-违章停车": "车辆长期占用人行道停放",
    "城市管理-占道经营": "摊贩占道经营影响通行",
    "城市管理-噪音扰民": "夜间噪音扰民，影响休息",
    "园林绿化-绿化养护": "绿化带树木枯死无人养护",
    "消防安全-消防通道": "消防通道被杂物堵塞",
    "物业管理-楼道堆物": "楼道里堆放杂物",
    "其他-咨询建议": "希望社区增设休息座椅",
}
URGENCY = (("一般", 72, 0.85), ("紧急", 24, 0.12), ("特急", 4, 0.03))
EXTRA_WORDS = ("门口", "对面", "附近", "旁边")
NOISE = (("typo", 0.35), ("numerals", 0.2), ("fullwidth", 0.15), ("extra", 0.3), ("no_number", 0.1))
_SOUND_ALIKE = (("ph", "f"), ("ei", "ai"), ("ie", "i"), ("ck", "k"), ("c", "k"), ("v", "w"), ("w", "v"), ("y", "i"),
                ("z", "s"), ("th", "t"), ("qu", "kw"))
_CN = "零一二三四五六七八九"
#: house numbers a caller says as one number (12, 12a, 51/C); lists such as "76, 76a, 76b" are left out
_PLAIN_NUMBER = re.compile(r"^\d+[A-Za-z]?(?:/[A-Za-z0-9]+)?$")


def chinese_number(n: int) -> str:
    """12 → 十二, 105 → 一百零五, 20 → 二十 (as a call-taker says it; up to 9999)."""
    if n < 10:
        return _CN[n]
    if n < 20:
        return "十" + (_CN[n % 10] if n % 10 else "")
    out, zero = "", False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d = n // value % 10
        if d:
            out += ("零" if zero and out else "") + _CN[d] + unit
            zero = False
        elif out:
            zero = True
    return out


def typo(road: str, rng: random.Random) -> str:
    """``road`` with one typing mistake: a sound-alike spelling, two neighbouring letters swapped, or one dropped."""
    low = road.lower()
    alike = [(a, b) for a, b in _SOUND_ALIKE if a in low[1:]]
    kind = rng.random()
    if alike and kind < 0.3:
        a, b = rng.choice(alike)
        i = low.index(a, 1)
        return road[:i] + b + road[i + len(a):]
    letters = [i for i in range(1, len(road) - 1)
               if road[i].isalpha() and road[i + 1].isalpha() and road[i] != road[i + 1]]
    if not letters:
        return road
    i = rng.choice(letters)
    if kind < 0.65:
        return road[:i] + road[i + 1] + road[i] + road[i + 2:]
    return road[:i] + road[i + 1:]


def _addressed(session: Session) -> list[tuple[int, str, str, str | None, str | None]]:
    """(building id, road, number, community name unless derived, subdistrict name) of every addressed building."""
    com, sub = aliased(Community), aliased(Subdistrict)
    rows = session.execute(
        select(Building.id, Building.address, Building.housenumber, com.name, com.derived, sub.name)
        .outerjoin(com, com.id == Building.community_id).outerjoin(sub, sub.id == com.subdistrict_id)
        .where(Building.address.is_not(None)).order_by(Building.id))
    out = []
    for bid, address, number, community, derived, subdistrict in rows:
        road, no = split_address(address)
        no = number or no
        if road and no and _PLAIN_NUMBER.match(no):
            out.append((bid, road, no, None if derived else community, subdistrict))
    return out


def _address(road: str, number: str, community: str | None, rng: random.Random, noise: float) -> tuple[str, bool]:
    """The 事发地址 a call-taker writes, and whether it still names one building (False: no number)."""
    kinds = [k for k, _ in NOISE]
    chosen: set[str] = set()
    if rng.random() < noise:
        chosen = set(rng.choices(kinds, weights=[w for _, w in NOISE], k=rng.choice((1, 1, 2))))
    if "typo" in chosen:
        road = typo(road, rng)
    no = number
    if "numerals" in chosen and number.isdigit():
        no = chinese_number(int(number))
    elif "fullwidth" in chosen:
        no = "".join(chr(ord(c) + 0xFEE0) if "0" <= c <= "9" else c for c in number)
    sep = rng.choice(("", " ", ""))
    text = f"{road}{sep}{no}号" if "no_number" not in chosen else road
    if "no_number" not in chosen and rng.random() < 0.4:
        text += f"{rng.randint(1, 6)}单元"
        if rng.random() < 0.5:
            text += f"{rng.randint(1, 18)}{rng.choice('0123')}{rng.randint(1, 4)}室"
    if community and rng.random() < 0.6:
        text = f"{community}社区{text}"
    if "extra" in chosen or "no_number" in chosen:
        text += rng.choice(EXTRA_WORDS)
    return text, "no_number" not in chosen


def simulated_orders(session: Session, n: int, *, seed: int = 0, noise: float = 0.3,
                     now: dt.datetime | None = None) -> tuple[list[dict[str, str]], dict[str, int | None]]:
    """``n`` simulated work orders (dicts keyed by :data:`COLUMNS`) received over the 30 days before ``now`` (local
    time, default today 08:00), and the truth: 工单编号 → the building the address was built from (None when the
    address was made vague on purpose)."""
    if not 0 <= noise <= 1:
        raise InvalidInput("noise must be between 0 and 1", field="noise")
    if n < 1:
        raise InvalidInput("the number of orders must be at least 1", field="orders")
    buildings = _addressed(session)
    if not buildings:
        raise InvalidInput("the city has no building with a road and a house number to build addresses from",
                           field="city")
    rng = random.Random(seed)
    now = now or dt.datetime.combine(dt.date.today(), dt.time(8))
    start = now - dt.timedelta(days=30)
    categories = list(CATEGORIES)
    rows, truth = [], {}
    for i in range(1, n + 1):
        bid, road, number, community, subdistrict = rng.choice(buildings)
        address, exact = _address(road, number, community, rng, noise)
        received = start + dt.timedelta(seconds=rng.randrange(30 * 86400))
        received = received.replace(hour=rng.randint(7, 21), microsecond=0)
        urgency, hours, _ = rng.choices(URGENCY, weights=[w for *_, w in URGENCY])[0]
        category = rng.choice(categories)
        order_no = f"SIM{now:%Y%m%d}{seed % 1000:03d}{i:06d}"
        rows.append({
            "工单编号": order_no, "受理时间": f"{received:%Y-%m-%d %H:%M:%S}", "诉求人": f"模拟居民{i}",
            "联系电话": "100" + "".join(rng.choice("0123456789") for _ in range(8)),
            "诉求内容": f"【模拟】{CATEGORIES[category]}，请尽快处理。", "诉求分类": category, "事发地址": address,
            "所属街道": subdistrict or "", "办理时限": f"{received + dt.timedelta(hours=hours):%Y-%m-%d %H:%M:%S}",
            "紧急程度": urgency,
        })
        truth[order_no] = bid if exact else None
    return rows, truth


def write_orders(rows: list[dict[str, str]], path: Path) -> None:
    """The orders as ``.csv`` (UTF-8 with BOM, as Chinese Excel writes it) or ``.xlsx``."""
    write_table(path, list(COLUMNS), [[r[c] for c in COLUMNS] for r in rows])


def write_truth(truth: dict[str, int | None], path: Path) -> None:
    """工单编号 → building id (empty for a deliberately vague order), as ``.csv`` or ``.xlsx``."""
    write_table(path, ["工单编号", "building_id"], [[k, "" if v is None else v] for k, v in truth.items()])


def write_table(path: Path, header: list[str], rows: list[list]) -> None:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open("w", encoding="utf-8-sig", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(rows)
    elif suffix == ".xlsx":
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet("工单")
        sheet.append(header)
        for row in rows:
            sheet.append(row)
        book.save(path)
    else:
        raise InvalidInput(f"{path.name}: write .csv or .xlsx", field="out")
