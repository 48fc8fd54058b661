"""The case loop as data: which action moves a case from which states to which, and who may take it.

The national seven-step loop (信息收集 → 立案 → 派遣 → 处理 → 反馈 → 核查结案 → 评价):

    reported ─register→ registered ─dispatch/whistle→ dispatched ─accept→ accepted ─handle→ handled
        │                 │ ▲   ▲                       │   ▲                                  │
      reject         assess return escalate          suspend rework ←──────────────────────── verify
        ▼           (研判, stays)                       ▼                                      ▼
    rejected                                        suspended ─resume→ (back)              verified ─close→ closed

The seeds' 五步闭环 (春光山色) maps onto it so:

1. 诉求收集 (collect): ``report`` — a worker's patrol, a resident's scan (/r/), a 12345 order, Open311, an
   inspection; 民情台账 needs enter as cases too — then ``register`` (立案) or ``reject``.
2. 评估研判 (assess): ``assess`` on a registered case (:mod:`patrol.cases.assessment`): the 诉求清单 it belongs to
   (党建 / 民政 / 安全生产 / 环境卫生 / 物业管理 / 其他, :mod:`patrol.cases.lists`), the level that handles it with a
   reason (escalation by assessment: the case is re-routed), 重难点 / 信访 marks. A 小事 of the grid skips it (the
   grid worker registers and dispatches it herself, or handles it on the spot: 自行处置).
3. 分清责任、制定方案 (whose, and the plan): ``dispatch`` to the unit the responsibility rules choose at the case's
   level, or ``whistle`` several departments in (吹哨报到); when the 研判 said the residents must agree first, a
   议事 meeting decides before that (:mod:`patrol.cases.meetings`: the case on its agenda, options, a vote, the
   decision; dispatch and whistle are refused until then) and may create follow-up cases.
4. 狠抓落实 (carry it out): ``accept`` / ``handle`` against the deadline in working hours, ``suspend`` / ``resume``,
   ``urge`` (督办), ``escalate`` when the deadline passes (automatic) or by hand, ``return`` when it is not theirs.
5. 多方满意、验收 (check, and the resident's word): ``verify`` on site or ``rework``, ``close``, ``rate`` — a closed
   case rated ≤ 2 by the resident, or found back on a revisit (回头看), is reopened: closed ─reopen→ dispatched
   (再接单).

Any open case can be merged into another (duplicate). A subdistrict (街道) can urge (督办) whoever holds an open case: a
note, and a new deadline when she sets one; the status does not change. Whoever works on an open case (staff who
can read it, the worker of its grid) can supplement (补充) it: a note and photos added as a step, the status unchanged
— the phone's answer to a possible duplicate ("补充到该案件" instead of a second report). ``assess`` is taken by the
staff of the case's scope and by the 网格长 (``grid_lead``) of its grid.
How far a case climbs is the category's (:mod:`patrol.cases.levels`): 邻里纠纷 and 重点人员关怀 stop at the community; a
street-order matter the worker persuades first (劝导) goes, when persuasion fails (persuade_fail 劝导无效, or its
deadline), from the grid straight to the department level (城管).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum


class Status(StrEnum):
    """Where a case is in the loop. A member is a ``str`` equal to its value, as stored in ``case.status``."""

    REPORTED = "reported"
    REGISTERED = "registered"
    DISPATCHED = "dispatched"
    ACCEPTED = "accepted"
    HANDLED = "handled"
    VERIFIED = "verified"
    SUSPENDED = "suspended"
    CLOSED = "closed"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"


#: Final states: the loop ends there (a closed case may still be rated, and reopened by a low rating or a revisit).
CLOSED = frozenset({Status.CLOSED, Status.REJECTED, Status.DUPLICATE})
#: Open (running or paused): every state that is not final.
OPEN = frozenset(Status) - CLOSED
LEVELS = ("grid", "community", "department")
#: The channel of a case its reporter handled on the spot (自行处置, 小事网格办:
#: :func:`patrol.cases.service.create_self_handled`); the community, not she, checks it.
SELF_HANDLED = "self_handled"
STAFF = frozenset({"supervisor", "subdistrict", "admin"})

@dataclass(frozen=True)
class Action:
    name: str
    sources: frozenset[str]
    target: str | None  # None: decided by the service (resume returns to where the case was; rate may reopen)
    roles: frozenset[str]  # besides the scope check; "worker@grid" etc. refine in patrol.cases.service
    label_zh: str


def _a(name: str, sources: set[str] | frozenset[str], target: str | None, roles: set[str] | frozenset[str],
       zh: str) -> Action:
    # through Status, so that a misspelt state in the table fails at import
    return Action(name, frozenset(Status(s) for s in sources), None if target is None else Status(target),
                  frozenset(roles), zh)


ACTIONS: dict[str, Action] = {a.name: a for a in (
    _a("register", {"reported"}, "registered", STAFF | {"grid_worker"}, "立案"),
    _a("assess", {"registered"}, None, STAFF | {"grid_lead"}, "研判"),
    _a("reject", {"reported"}, "rejected", STAFF, "不予立案"),
    _a("dispatch", {"registered"}, "dispatched", STAFF | {"grid_worker"}, "派遣"),
    _a("whistle", {"registered"}, "dispatched", STAFF, "吹哨报到"),
    _a("accept", {"dispatched"}, "accepted", STAFF | {"department", "grid_worker"}, "接单"),
    _a("return", {"dispatched", "accepted"}, "registered", STAFF | {"department"}, "退回(非本单位职责)"),
    _a("handle", {"accepted"}, "handled", STAFF | {"department", "grid_worker"}, "处置"),
    _a("verify", {"handled"}, "verified", STAFF | {"grid_worker"}, "核查通过"),
    _a("rework", {"handled"}, "dispatched", STAFF | {"grid_worker"}, "核查不通过(返工)"),
    _a("close", {"verified"}, "closed", STAFF | {"grid_worker"}, "结案"),
    _a("rate", {"closed"}, None, STAFF, "满意度评价"),
    _a("suspend", {"dispatched", "accepted"}, "suspended", STAFF, "缓办"),
    _a("resume", {"suspended"}, None, STAFF, "恢复办理"),
    _a("escalate", {"reported", "registered", "dispatched", "accepted"}, "registered", STAFF, "上报升级"),
    # a street-order matter the grid worker could not settle by persuasion: straight to 城管 (patrol.cases.levels)
    _a("persuade_fail", {"dispatched", "accepted"}, "registered", STAFF | {"grid_worker"}, "劝导无效"),
    _a("merge", OPEN, "duplicate", STAFF, "合并(重复)"),
    _a("urge", OPEN - {"suspended"}, None, {"subdistrict", "admin"}, "督办"),
    _a("supplement", OPEN, None, STAFF | {"grid_worker"}, "补充"),
)}

# The people around the grid (patrol.people.scope): a 网格长 (grid_lead) acts on her grids' grid-level cases as their
# worker would, short of accepting and handling; a 楼栋长 (building_lead) supplements her own reports.
for _name, _roles in (("register", {"grid_lead"}), ("dispatch", {"grid_lead"}), ("verify", {"grid_lead"}),
                      ("rework", {"grid_lead"}), ("close", {"grid_lead"}),
                      ("supplement", {"grid_lead", "building_lead"})):
    ACTIONS[_name] = replace(ACTIONS[_name], roles=ACTIONS[_name].roles | _roles)

# The derived sets: each read off the action table, so a change to the loop changes them with it.
#: The deadline clock runs (a case can be overdue): open and not paused by ``suspend``.
RUNNING = OPEN - {ACTIONS["suspend"].target}
#: In a handler's hands (派遣后、处置前): dispatched or accepted, what ``accept`` / ``handle`` act on.
IN_HAND = ACTIONS["accept"].sources | ACTIONS["handle"].sources
#: Can be raised a level (manually or when its deadline passed): not yet handled.
ESCALATABLE = ACTIONS["escalate"].sources
#: Waiting for a grid worker's check on site (核查).
TO_VERIFY = ACTIONS["verify"].sources
#: Waiting for the desk (立案, 派遣, 结案): what a supervisor's task list shows.
AT_DESK = ACTIONS["register"].sources | ACTIONS["dispatch"].sources | ACTIONS["close"].sources


def actions_from(status: str) -> list[str]:
    """The actions a case in ``status`` can take, whoever acts, in the order of the loop (who may take them:
    :func:`patrol.cases.authority.allowed_actions`)."""
    return [a.name for a in ACTIONS.values() if status in a.sources]


def next_level(level: str) -> str | None:
    """The level above ``level`` (grid → community → department), None at the top."""
    i = LEVELS.index(level)
    return LEVELS[i + 1] if i + 1 < len(LEVELS) else None
