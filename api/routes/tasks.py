"""Each user's task list over HTTP: cases to handle or verify, revisits due."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ActorDep, SessionDep, SettingsDep
from api.schemas.cases import TasksOut
from patrol.cases.tasks import task_list
from patrol.cases.worktime import local_today

router = APIRouter(prefix="/api/v1", tags=["patrols"])


@router.get("/tasks", summary="My work: cases to handle or verify, revisits due",
            response_model=TasksOut, response_model_exclude_unset=True)
def my_tasks(actor: ActorDep, session: SessionDep, settings: SettingsDep) -> dict:
    return task_list(session, actor, local_today(settings.timezone))
