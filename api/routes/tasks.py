"""Each user's task list over HTTP: cases to handle or verify, revisits due."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from sqlalchemy import func, select

from api.deps import ActorDep, SessionDep, SettingsDep
from api.schemas.cases import TasksOut
from patrol.cases import service as svc
from patrol.core.errors import Forbidden
from patrol.core.models import Case, Revisit

router = APIRouter(prefix="/api/v1", tags=["patrols"])


@router.get("/tasks", tags=["patrols"], summary="My work: cases to handle or verify, revisits due",
            response_model=TasksOut, response_model_exclude_unset=True)
def my_tasks(actor: ActorDep, session: SessionDep, settings: SettingsDep) -> dict:
    scope = svc.scope_filter(actor)
    if actor.role == "grid_worker":
        todo = [Case.assignee_id == actor.user_id, Case.status.in_(("dispatched", "accepted"))]
        verify = [Case.grid_id.in_(actor.grid_ids or [-1]), Case.status == "handled"]
    elif actor.role == "department":
        todo = [*scope, Case.status.in_(("dispatched", "accepted"))]
        verify = [Case.id == -1]
    elif actor.role in ("supervisor", "admin"):
        todo = [*scope, Case.status.in_(("reported", "registered", "verified"))]
        verify = [Case.id == -1]
    else:
        raise Forbidden(f"a {actor.role} has no task list", field="role")
    today = dt.datetime.now(ZoneInfo(settings.timezone)).date()

    def cases(where) -> list[dict]:
        rows = session.execute(select(Case, func.ST_AsBinary(Case.geom)).where(*where)
                               .order_by(Case.deadline_at, Case.id)).all()
        return [svc.case_dict(c, w) for c, w in rows]

    due = session.scalars(select(Revisit).join(Case, Case.id == Revisit.case_id)
                          .where(*scope, Revisit.done_at.is_(None), Revisit.due_on <= today)
                          .order_by(Revisit.due_on)) if actor.role != "department" else []
    return {"handle": cases(todo), "verify": cases(verify),
            "revisits": [{"id": r.id, "case_id": r.case_id, "due_on": r.due_on.isoformat()} for r in due]}

