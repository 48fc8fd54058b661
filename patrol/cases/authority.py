"""Who may read a case, and who may take which action on it: the scope of each role and, under it, the one rule
for actions — :func:`allowed_actions` lists what an actor may do now, :func:`authorize` refuses the rest (403), and
both read the same :func:`refusal`, so the phone's buttons and the service's checks cannot disagree.

The action table (who in principle, from which states) is :data:`patrol.cases.lifecycle.ACTIONS`; here are the
refinements by ownership: a grid worker registers, dispatches and closes only grid-level cases of her grids, accepts
and handles only cases assigned to her, verifies and supplements only in her grids (but never what she handled on
the spot herself, 自行处置: the community checks that); a department acts only on cases dispatched to its
unit; a supervisor only in her community; a subdistrict user (街道) in every community of her subdistrict.

The people around the grid (:mod:`patrol.people.scope`): a 网格长 (``grid_lead``) reads the cases of the grids she
leads (and those she reported) and registers, dispatches, verifies, reworks, closes and supplements grid-level cases
there, as the worker of those grids would — she leads them, she does not accept or handle; a 楼栋长
(``building_lead``) reads only the cases she reported and supplements them while they are open, nothing else.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session, object_session

from patrol.cases.levels import PERSUADE_FAIL, level_above, persuasion_refusal
from patrol.cases.lifecycle import ACTIONS, SELF_HANDLED, actions_from
from patrol.core.auth import Actor
from patrol.core.errors import Forbidden, NotFound
from patrol.core.models import Case, CaseTask, Category

# ---------------------------------------------------------------------------------------------- reading


def can_read(actor: Actor, case: Case, session: Session) -> bool:
    """Whether ``actor`` may see ``case`` (a department also sees the cases it was whistled to)."""
    if actor.role in ("admin", "planner"):
        return True
    if actor.role == "supervisor":
        return case.community_id is not None and case.community_id == actor.community_id
    if actor.role == "subdistrict":
        return case.community_id is not None and case.community_id in actor.community_ids
    if actor.role == "grid_worker":
        return case.grid_id in actor.grid_ids or case.assignee_id == actor.user_id or case.reporter_id == actor.user_id
    if actor.role == "grid_lead":
        return case.grid_id in actor.grid_ids or case.reporter_id == actor.user_id
    if actor.role == "building_lead":
        return actor.user_id is not None and case.reporter_id == actor.user_id
    if actor.role == "department":
        if actor.unit_id is None:
            return False
        if case.unit_id == actor.unit_id:
            return True
        return session.scalars(select(CaseTask.id).where(CaseTask.case_id == case.id,
                                                         CaseTask.unit_id == actor.unit_id)).first() is not None
    return False


def scope_filter(actor: Actor) -> list[ColumnElement[bool]]:
    """WHERE clauses restricting a case query to what ``actor`` may read (the SQL twin of :func:`can_read`)."""
    if actor.role in ("admin", "planner"):
        return []
    if actor.role == "supervisor":
        return [Case.community_id == actor.community_id]
    if actor.role == "subdistrict":
        return [Case.community_id.in_(sorted(actor.community_ids) or [-1])]
    if actor.role == "grid_worker":
        return [or_(Case.grid_id.in_(actor.grid_ids or [-1]), Case.assignee_id == actor.user_id,
                    Case.reporter_id == actor.user_id)]
    if actor.role == "grid_lead":
        return [or_(Case.grid_id.in_(sorted(actor.grid_ids) or [-1]), Case.reporter_id == actor.user_id)]
    if actor.role == "building_lead":
        return [Case.reporter_id == (actor.user_id if actor.user_id is not None else -1)]
    if actor.role == "department":
        tasks = select(CaseTask.case_id).where(CaseTask.unit_id == actor.unit_id)
        return [or_(Case.unit_id == actor.unit_id, Case.id.in_(tasks))]
    return [Case.id == -1]


def get_case(session: Session, actor: Actor, case_id: int, *, for_update: bool = False) -> Case:
    """The case, 404 when there is none, 403 outside the actor's scope; ``for_update`` locks its row on PostGIS."""
    stmt = select(Case).where(Case.id == case_id)
    if for_update and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    case = session.scalars(stmt).first()
    if case is None:
        raise NotFound(f"no case {case_id}", field="case_id")
    if not can_read(actor, case, session):
        raise Forbidden(f"case {case_id} is outside your scope ({actor.role})", field="case_id")
    return case


# ---------------------------------------------------------------------------------------------- acting


def refusal(actor: Actor, case: Case, action: str) -> str | None:
    """Why ``actor`` may not take ``action`` on ``case`` (whatever its status), or None when she may."""
    if actor.role not in ACTIONS[action].roles:
        return f"a {actor.role} cannot {action} a case"
    if action == PERSUADE_FAIL and (why := persuasion_refusal(_category(case), case.level)) is not None:
        return why
    if actor.role == "supervisor" and (case.community_id is None or case.community_id != actor.community_id):
        return f"case {case.id} is outside your scope ({actor.role})"
    if actor.role == "subdistrict" and (case.community_id is None or case.community_id not in actor.community_ids):
        return f"case {case.id} is outside your scope ({actor.role})"
    if actor.role == "grid_worker":
        mine = case.grid_id in actor.grid_ids
        if action in ("register", "dispatch", "close") and not (mine and case.level == "grid"):
            return f"a grid worker can {action} only grid-level cases of her grids"
        if action in ("accept", "handle", PERSUADE_FAIL) and case.assignee_id != actor.user_id:
            return f"only the assignee can {action} this case"
        if action in ("verify", "rework") and not mine:
            return "only the worker of the case's grid verifies on site"
        if action in ("verify", "rework") and case.channel == SELF_HANDLED and case.assignee_id == actor.user_id:
            return "a matter she handled on the spot herself (自行处置) is checked by the community"
        if action == "supplement" and not mine:
            return "only the worker of the case's grid supplements it"
    if actor.role == "department" and case.unit_id != actor.unit_id:
        return "the case is not dispatched to your unit; use its whistle task"
    return _people_refusal(actor, case, action)


def _people_refusal(actor: Actor, case: Case, action: str) -> str | None:
    """The refinements for a 网格长 (her grids' grid-level cases) and a 楼栋长 (supplementing her own reports)."""
    if actor.role == "grid_lead":
        mine = case.grid_id in actor.grid_ids
        if action in ("register", "dispatch", "close") and not (mine and case.level == "grid"):
            return f"a grid lead can {action} only grid-level cases of the grids she leads"
        if not mine:
            return "the case is outside the grids you lead"
        if action in ("verify", "rework") and case.channel == SELF_HANDLED:
            return "a matter handled on the spot (自行处置) is checked by the community"
    if actor.role == "building_lead" and case.reporter_id != actor.user_id:
        return "a building lead supplements only her own reports"
    return None


def authorize(actor: Actor, case: Case, action: str) -> None:
    """Raise Forbidden (403) when :func:`refusal` refuses ``action``."""
    why = refusal(actor, case, action)
    if why is not None:
        raise Forbidden(why, field="action")


def allowed_actions(actor: Actor, case: Case) -> list[str]:
    """The actions ``actor`` may take on ``case`` now, in the order of the loop: those its status allows that
    :func:`refusal` does not refuse; ``escalate`` not at the top level (the category's: :mod:`patrol.cases.levels`).
    (A case whistled to several departments is acted on through its tasks: its accept / handle / return are refused
    by the service with 409.)"""
    return [a for a in actions_from(case.status)
            if refusal(actor, case, a) is None
            and not (a == "escalate" and level_above(_category(case), case.level) is None)]


def _category(case: Case) -> Category | None:
    """The case's category, from the session the case was read in (None for a detached case)."""
    session = object_session(case)
    return session.get(Category, case.category_code) if session is not None else None
