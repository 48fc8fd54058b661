"""SIMULATED Chinese personal names for the demo's people, generated, never real: a surname drawn by its frequency
among China's population and a one- or two-character given name from characters common in given names. Every
display name made from one says "(模拟)" (simulated), as everything else the demo makes up.
"""

from __future__ import annotations

import random

#: The most frequent surnames, most frequent first, with rough shares in per mille of the population (the 2020
#: census ranking: 王 李 张 刘 陈 … ); enough for names to look like a Chinese staff list rather than 20 repeats.
SURNAMES: dict[str, float] = {
    "王": 72, "李": 71, "张": 68, "刘": 54, "陈": 46, "杨": 33, "黄": 24, "赵": 20, "吴": 20, "周": 19, "徐": 14,
    "孙": 13, "马": 12, "朱": 12, "胡": 11, "郭": 11, "何": 10, "林": 10, "高": 10, "罗": 10, "郑": 9, "梁": 9,
    "谢": 8, "宋": 7, "唐": 7, "许": 7, "韩": 6, "邓": 6, "冯": 6, "曹": 6, "彭": 6, "曾": 5, "肖": 5, "田": 5,
    "董": 5, "潘": 5, "袁": 5, "蔡": 4, "蒋": 4, "余": 4, "于": 4, "杜": 4, "叶": 4, "程": 4, "魏": 4, "苏": 4,
    "吕": 4, "丁": 4, "任": 3, "卢": 3, "姚": 3, "沈": 3, "钟": 3, "姜": 3, "崔": 3, "谭": 3, "陆": 3, "范": 3,
    "汪": 3, "廖": 3, "石": 3, "金": 3, "韦": 3, "贾": 3, "夏": 2, "付": 2, "方": 2, "邹": 2, "熊": 2, "白": 2,
    "孟": 2, "秦": 2, "邱": 2, "侯": 2, "江": 2, "尹": 2, "薛": 2, "闫": 2, "段": 2, "雷": 2, "龙": 2, "黎": 2,
    "史": 2, "陶": 2, "贺": 2, "毛": 2, "郝": 2, "顾": 2, "龚": 2, "邵": 2, "万": 2, "覃": 2, "武": 2, "钱": 2,
}
#: Given names common among adults in China, women's and men's, two characters (秀英, 建国) and one (芳, 伟): a
#: name is drawn from one of the two lists, so that no name mixes them (as 娜斌 would).
GIVEN: tuple[tuple[str, ...], tuple[str, ...]] = (
    (
        "秀英", "桂英", "秀兰", "玉兰", "桂兰", "丽娟", "淑珍", "海燕", "晓燕", "丽华", "春梅", "雪梅",
        "晓红", "婷婷", "欣怡", "佳怡", "思雨", "雨欣", "诗涵", "慧敏", "丽萍", "玉梅", "晓丽", "美玲",
        "红霞", "文静", "雅琴", "秀珍", "凤英", "晓梅", "丽娜", "春燕", "玉珍", "淑华", "静怡", "芳",
        "娜", "敏", "静", "丽", "艳", "娟", "霞", "婷", "琳", "颖", "慧", "雪",
        "燕", "萍", "红",
    ),
    (
        "建国", "建华", "国强", "志强", "海涛", "建军", "永强", "俊杰", "浩然", "子轩", "宇轩", "浩宇",
        "志伟", "文博", "明辉", "晓东", "立新", "建平", "国华", "振华", "海波", "伟东", "鹏飞", "志刚",
        "家豪", "一鸣", "天宇", "博文", "晓明", "永刚", "德明", "春生", "国庆", "卫东", "伟", "强",
        "磊", "军", "洋", "勇", "杰", "涛", "明", "超", "平", "刚", "辉", "鹏",
        "斌", "峰", "浩", "宇", "波", "亮",
    ),
)

SIMULATED = " (模拟)"


class NameMaker:
    """Generated full names, none given twice by one maker (a staff list where two people share a name reads as a
    mistake), drawn from ``rng`` so that a seed gives the same names."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()
        self._surnames = list(SURNAMES)
        self._weights = list(SURNAMES.values())

    def full(self, *, fresh: bool = True) -> str:
        """A full name such as 李秀英 or 王磊; ``fresh``: not yet given by this maker (when one can be found)."""
        if not fresh:
            return self._draw()
        name = ""
        for _ in range(50):
            name = self._draw()
            if name not in self.used:
                break
        self.used.add(name)
        return name

    def surname(self) -> str:
        return self.rng.choices(self._surnames, self._weights)[0]

    def _draw(self) -> str:
        surname = self.surname()
        names = GIVEN[self.rng.random() < 0.5]
        one = self.rng.random() < 0.25  # about a quarter of adults have a one-character given name
        return surname + self.rng.choice([g for g in names if (len(g) == 1) == one])

    def labelled(self, role: str = "") -> str:
        """A fresh full name marked simulated, with an optional role or office: ``李秀英 (模拟)``,
        ``王磊（城管中队）(模拟)``."""
        return self.full() + (f"（{role}）" if role else "") + SIMULATED
