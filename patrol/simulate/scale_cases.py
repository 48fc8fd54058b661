"""The case loop of the scale generator, vectorised: a chunk of SIMULATED cases and their ``case_event`` rows,
consistent with :mod:`patrol.cases.lifecycle` and what :mod:`patrol.analytics.kpis` reads.

Each case is walked, all cases of a chunk at once (numpy), through the steps a functioning 社区 takes
(:mod:`patrol.simulate.loop` takes the same steps one case at a time through the real service, far too slowly for
millions): report → register → dispatch → accept → handle → verify → close → rate, with the same shares as the
loop — 3 % not registered (不予立案), 1 % merged as duplicates, 1.5 % suspended then resumed (缓办), 2 % failing the
on-site check once (返工), 3 % urged by the 街道 (督办), 97 % of closed cases rated (mostly 4–5; ≤ 2 reopens the case,
再接单) — plus escalations (5 %, and every late case below the top level: 上报升级 at its deadline), late handling at
department level (6 %: the overdue ones), and 自行处置 (the grid worker's own, every step at once, checked and closed by
the community). Every step's time is a share of the time to the deadline in force, as in the loop; the working-hour
deadline is approximated on the wall clock (``deadline_hours`` × 4.2: 8 working hours a day, 5 days a week). Events
after ``now`` are cut: the case's columns (status, level, deadline in force, closure, rating, counts) are those
after its last step before ``now``, so old cases are closed and recent ones spread over the loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

WALL_PER_WORK_HOUR = 4.2  # 24 h × 7 d ÷ (8 h × 5 d)
HOUR = 3600
#: action → status after it (rate keeps a case closed, urge here comes after accept, resume back to dispatched)
ACTIONS = (("report", "reported"), ("register", "registered"), ("reject", "rejected"), ("merge", "duplicate"),
           ("dispatch", "dispatched"), ("accept", "accepted"), ("handle", "handled"), ("verify", "verified"),
           ("close", "closed"), ("rate", "closed"), ("reopen", "dispatched"), ("escalate", "registered"),
           ("suspend", "suspended"), ("resume", "dispatched"), ("rework", "dispatched"), ("urge", "accepted"))
CODE = {a: i for i, (a, _) in enumerate(ACTIONS)}
NOTES = {"reject": "经核实不属实 (模拟)", "merge": "重复上报，已合并 (模拟)", "handle": "已处置 (模拟)",
         "suspend": "等待配件到货 (模拟)", "resume": "恢复办理 (模拟)", "rework": "核查未通过：问题仍在 (模拟)",
         "urge": "请加快办理 (模拟)", "reopen": "居民不满意，重新办理 (模拟)",
         "escalate": "超时未处置，自动上报 (模拟)"}
LEVELS = ("grid", "community", "department")
SHARES = {"reject": 0.03, "merge": 0.01, "suspend": 0.015, "rework": 0.02, "urge": 0.03, "escalate": 0.05,
          "late": 0.06, "rated": 0.97}
RATINGS = np.array([5, 4, 3, 2, 1])
RATING_P = np.array([80.0, 19.2, 0.5, 0.2, 0.1]) / 100
#: who reports through each channel (the people a district sees), and its share of the cases
CHANNEL_P = {"patrol": 0.42, "self_handled": 0.15, "resident": 0.10, "12345": 0.22, "open311": 0.02,
             "inspection": 0.03, "staff": 0.06}


@dataclass
class Actors:
    """Who acts, by index: per grid its worker; per community its supervisor, office unit and office user, its
    街道 user; per department unit its user. Ids are user / unit ids, −1 for none."""

    grid_worker: np.ndarray
    com_sup: np.ndarray
    com_office_unit: np.ndarray
    com_office_user: np.ndarray
    com_street: np.ndarray
    dept_unit: np.ndarray
    dept_user: np.ndarray


class Steps:
    """The walk of one chunk: per-case state arrays, and the events emitted so far (each with the state after it)."""

    STATE = ("level", "unit", "assignee", "deadline", "handled", "closed", "on_time", "rating", "esc", "rework",
             "reopen")

    def __init__(self, n: int, t0: np.ndarray) -> None:
        self.n = n
        self.t = t0.astype(float)
        self.st = {k: np.full(n, -1, dtype=np.int64) for k in self.STATE}
        for k in ("esc", "rework", "reopen"):
            self.st[k][:] = 0
        self.ev: dict[str, list[np.ndarray]] = {k: [] for k in ("case", "code", "t", "actor", *self.STATE)}

    def emit(self, mask: np.ndarray, action: str, actor: np.ndarray | int) -> None:
        idx = np.flatnonzero(mask)
        self.ev["case"].append(idx)
        self.ev["code"].append(np.full(len(idx), CODE[action], dtype=np.int8))
        self.ev["t"].append(self.t[idx].astype(np.int64))
        who = np.broadcast_to(np.asarray(actor, dtype=np.int64), (self.n,))
        self.ev["actor"].append(who[idx].copy())
        for k in self.STATE:
            self.ev[k].append(self.st[k][idx].copy())

    def events(self) -> dict[str, np.ndarray]:
        out = {k: np.concatenate(v) for k, v in self.ev.items()}
        out["seq"] = np.arange(len(out["case"]))
        return out


@dataclass
class Chunk:
    """The input of one chunk: report times (sorted), categories (their level, top level, deadline in seconds),
    channels, grids, communities, and the department unit index for department-level handling."""

    t0: np.ndarray
    level0: np.ndarray
    top: np.ndarray
    deadline_s: np.ndarray
    channel: np.ndarray
    grid: np.ndarray
    com: np.ndarray
    dept: np.ndarray


def _u(rng: np.random.Generator, n: int, lo: float, hi: float) -> np.ndarray:
    return rng.uniform(lo, hi, n)


def walk_chunk(c: Chunk, a: Actors, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Every step of every case of the chunk, unsorted, each event with the case's state after it."""
    n, d = len(c.t0), c.deadline_s.astype(float)
    s = Steps(n, c.t0)
    worker, sup, street = a.grid_worker[c.grid], a.com_sup[c.com], a.com_street[c.com]
    self_h = c.channel == "self_handled"
    reporter = np.where(np.isin(c.channel, ["patrol", "self_handled"]), worker,
                        np.where(np.isin(c.channel, ["staff", "inspection"]), sup, -1))
    s.st["level"][:] = c.level0
    s.emit(np.ones(n, bool), "report", reporter)
    flag = {k: rng.random(n) < p for k, p in SHARES.items()}
    rejected = flag["reject"] & ~self_h
    merged = flag["merge"] & ~self_h & ~rejected
    for mask, action in ((rejected, "reject"), (merged, "merge")):
        s.t[mask] += (d * _u(rng, n, 0.05, 0.3))[mask]
        s.emit(mask, action, sup)
    alive = ~rejected & ~merged
    _self_handled(s, alive & self_h, worker, d)
    loop = alive & ~self_h
    _dispatch(s, loop, c, a, rng, d, register=True)
    _escalate(s, loop & (flag["escalate"] | flag["late"]) & (c.level0 < c.top), c, a, rng, d)
    _suspend(s, loop & flag["suspend"], sup, rng, d)
    _handle(s, loop, c, a, rng, d, late=flag["late"], urge=flag["urge"] & loop, street=street)
    rework = loop & flag["rework"]
    s.t[rework] += (d * _u(rng, n, 0.1, 0.3))[rework]
    s.st["rework"][rework] += 1
    s.emit(rework, "rework", worker)
    _handle(s, rework, c, a, rng, d, late=np.zeros(n, bool), urge=np.zeros(n, bool), street=street)
    rated = alive & flag["rated"]
    _close_and_rate(s, alive, rated, self_h, c, a, rng, d, RATINGS[rng.choice(5, n, p=RATING_P)])
    reopen = rated & (s.st["rating"] <= 2)
    s.st["reopen"][reopen] += 1
    s.st["closed"][reopen], s.st["on_time"][reopen] = -1, -1
    s.st["deadline"][reopen] = (s.t + d)[reopen]
    s.emit(reopen, "reopen", sup)
    _handle(s, reopen, c, a, rng, d, late=np.zeros(n, bool), urge=np.zeros(n, bool), street=street, accept=True)
    _close_and_rate(s, reopen, reopen, self_h & False, c, a, rng, d, rng.choice([4, 5], n, p=[0.3, 0.7]))
    return s.events()


def _handler(c: Chunk, a: Actors, level: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(unit, user acting, assignee) of each case at ``level``: the grid's worker, the community office, a
    department unit."""
    worker = a.grid_worker[c.grid]
    unit = np.where(level == 0, -1, np.where(level == 1, a.com_office_unit[c.com], a.dept_unit[c.dept]))
    user = np.where(level == 0, worker, np.where(level == 1, a.com_office_user[c.com], a.dept_user[c.dept]))
    assignee = np.where(level == 0, worker, -1)
    return unit, user, assignee


def _desk(c: Chunk, a: Actors, level: np.ndarray) -> np.ndarray:
    """Who registers, dispatches and closes: the grid's worker for her grid's cases, else the supervisor."""
    return np.where(level == 0, a.grid_worker[c.grid], a.com_sup[c.com])


def _self_handled(s: Steps, m: np.ndarray, worker: np.ndarray, d: np.ndarray) -> None:
    """自行处置: register, dispatch to herself, accept and handle, all at the report's instant."""
    s.st["level"][m], s.st["assignee"][m], s.st["deadline"][m] = 0, worker[m], (s.t + d)[m]
    for action in ("register", "dispatch", "accept"):
        s.emit(m, action, worker)
    s.st["handled"][m] = s.t[m]
    s.emit(m, "handle", worker)


def _dispatch(s: Steps, m: np.ndarray, c: Chunk, a: Actors, rng: np.random.Generator, d: np.ndarray,
              register: bool) -> None:
    n = s.n
    desk = _desk(c, a, s.st["level"])
    if register:
        s.t[m] += (d * _u(rng, n, 0.02, 0.15))[m]
        s.emit(m, "register", desk)
    s.t[m] += (d * _u(rng, n, 0.02, 0.15))[m]
    unit, _, assignee = _handler(c, a, s.st["level"])
    s.st["unit"][m], s.st["assignee"][m], s.st["deadline"][m] = unit[m], assignee[m], (s.t + d)[m]
    s.emit(m, "dispatch", desk)


def _escalate(s: Steps, m: np.ndarray, c: Chunk, a: Actors, rng: np.random.Generator, d: np.ndarray) -> None:
    """上报升级 when the deadline passed (automatic: no user), then dispatched again at the level above."""
    s.t[m] = np.maximum(s.t, s.st["deadline"])[m]
    s.st["level"][m] += 1
    s.st["esc"][m] += 1
    s.st["deadline"][m] = -1
    s.emit(m, "escalate", -1)
    _dispatch(s, m, c, a, rng, d * 0.5, register=False)
    s.st["deadline"][m] = (s.t + d)[m]


def _suspend(s: Steps, m: np.ndarray, sup: np.ndarray, rng: np.random.Generator, d: np.ndarray) -> None:
    """缓办: the clock stops (no deadline in force) and restarts on resume with what was left."""
    n = s.n
    s.t[m] += (d * _u(rng, n, 0.1, 0.3))[m]
    s.st["deadline"][m] = -1
    s.emit(m, "suspend", sup)
    s.t[m] += (_u(rng, n, 24, 240) * HOUR)[m]
    s.st["deadline"][m] = (s.t + 0.8 * d)[m]
    s.emit(m, "resume", sup)


def _handle(s: Steps, m: np.ndarray, c: Chunk, a: Actors, rng: np.random.Generator, d: np.ndarray, *,
            late: np.ndarray, urge: np.ndarray, street: np.ndarray, accept: bool = True) -> None:
    n = s.n
    _, user, _ = _handler(c, a, s.st["level"])
    if accept:
        left = np.maximum(s.st["deadline"] - s.t, 0.1 * d)
        s.t[m] += (left * _u(rng, n, 0.05, 0.2))[m]
        s.emit(m, "accept", user)
    s.t[urge] += (d * _u(rng, n, 0.02, 0.1))[urge]
    s.emit(urge, "urge", street)
    left = np.maximum(s.st["deadline"] - s.t, 0.1 * d)
    on_time = s.t + left * _u(rng, n, 0.2, 0.5)
    overdue = s.st["deadline"] + d * _u(rng, n, 0.1, 1.0)
    late_here = late & (s.st["level"] == 2)
    s.t[m] = np.where(late_here, np.maximum(overdue, s.t), on_time)[m]
    s.st["handled"][m] = s.t[m]
    s.emit(m, "handle", user)


def _close_and_rate(s: Steps, m: np.ndarray, rated: np.ndarray, self_h: np.ndarray, c: Chunk, a: Actors,
                    rng: np.random.Generator, d: np.ndarray, rating: np.ndarray) -> None:
    """核查 (the grid's worker; the community for 自行处置), 结案 (the desk), then the resident's rating."""
    n = s.n
    worker, sup = a.grid_worker[c.grid], a.com_sup[c.com]
    s.t[m] += np.where(self_h, _u(rng, n, 1, 24) * HOUR, d * _u(rng, n, 0.05, 0.2))[m]
    s.emit(m, "verify", np.where(self_h, sup, worker))
    s.t[m] += (d * _u(rng, n, 0.02, 0.1))[m]
    s.st["closed"][m] = s.t[m]
    s.st["on_time"][m] = (s.st["handled"] <= np.where(s.st["deadline"] < 0, s.st["handled"], s.st["deadline"]))[m]
    s.emit(m, "close", np.where(self_h, sup, _desk(c, a, s.st["level"])))
    s.t[rated] += (_u(rng, n, 2, 72) * HOUR)[rated]
    s.st["rating"][rated] = rating[rated]
    s.emit(rated, "rate", sup)


def cut(events: dict[str, np.ndarray], n: int, now: int) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    """The events before ``now`` in the order they happened (time, then step), and each case's state after its
    last one: one row per case index (``status``, ``level``, … ``updated``)."""
    keep = events["t"] < now
    ev = {k: v[keep] for k, v in events.items()}
    order = np.lexsort((ev["seq"], ev["t"]))
    ev = {k: v[order] for k, v in ev.items()}
    status = np.array([s for _, s in ACTIONS], dtype=object)
    by_case = np.lexsort((ev["seq"], ev["case"]))
    case_sorted = ev["case"][by_case]
    last = by_case[np.r_[case_sorted[1:] != case_sorted[:-1], True]]
    prev = np.full(len(by_case), -1, dtype=np.int64)
    same = np.r_[False, case_sorted[1:] == case_sorted[:-1]]
    prev[by_case[same]] = ev["code"][by_case[np.flatnonzero(same) - 1]]
    ev["from"] = prev
    state = pd.DataFrame({k: ev[k][last] for k in ("case", "code", "t", *Steps.STATE)}).set_index("case")
    state = state.reindex(np.arange(n))
    state["status"] = status[state["code"].to_numpy().astype(int)]
    return ev, state
