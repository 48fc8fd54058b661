"""How far a case may climb, and the street-order matters a grid worker persuades before 城管 is called: the two
category rules of the seeds, written once for escalation (manual and by deadline), the desk's buttons and the
worker's persuasion step.

- **top level** (``Category.top_level``): 小事不出网格，大事不出社区 — a dispute between neighbours (C0115) is
  mediated in the grid, then by the community's mediation committee (人民调解委员会) and office; a welfare visit
  (C0116) stays with grid and community. Escalation stops there: such a case never reaches a department (nor the
  property company, which the responsibility table keeps out at community level).
- **persuade first** (``Category.persuade_first``): 占道经营, 店外经营, 乱停乱放, 流动摊贩 (E0501–E0504).
  社区工作者没有执法权 (S1): the grid worker persuades (劝导). She closes the matter only as 劝导成功 (the handle
  step says so); when persuasion fails — her explicit step ``persuade_fail`` (劝导无效) or the deadline passing —
  the case goes straight to the department level (城管, by the responsibility table), skipping the community and
  the property company.
"""

from __future__ import annotations

from patrol.cases.lifecycle import LEVELS, next_level
from patrol.core.models import Category

#: the note a persuade-first matter is handled with at grid level (劝导成功: settled by persuasion, not enforcement)
PERSUADED = "劝导成功"
#: the worker's step when persuasion failed (an action of the loop)
PERSUADE_FAIL = "persuade_fail"


def level_above(category: Category | None, level: str) -> str | None:
    """The level a case of ``category`` at ``level`` goes to when escalated, None when it may climb no higher (the
    department level, or the category's top level)."""
    if category is not None and category.persuade_first and level == "grid":
        up: str | None = "department"
    else:
        up = next_level(level)
    top = category.top_level if category is not None else None
    if up is not None and top in LEVELS and LEVELS.index(up) > LEVELS.index(top):
        return None
    return up


def persuasion_refusal(category: Category | None, level: str) -> str | None:
    """Why ``persuade_fail`` does not apply to a case of ``category`` at ``level``, or None when it does."""
    if category is None or not category.persuade_first:
        return "persuade_fail applies only to matters the grid worker persuades first (占道经营 …)"
    if level != "grid":
        return "persuade_fail applies only while the matter is with the grid worker (grid level)"
    return None


def handled_note(category: Category | None, level: str, note: str | None) -> str | None:
    """The note of a handle step: a persuade-first matter handled at grid level is recorded as 劝导成功."""
    if category is None or not category.persuade_first or level != "grid":
        return note
    if note and note.startswith(PERSUADED):
        return note
    return f"{PERSUADED}：{note}" if note else PERSUADED
