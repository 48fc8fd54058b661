"""Whose clock the city keeps: ``GRIDPATROL_TIMEZONE`` when it is set, else the city's own time zone (``gridpatrol
city create --timezone``), else the settings' default (Asia/Shanghai). Working hours, deadlines, case numbers, the
local days of the KPIs and the desk all read ``settings.timezone``: the app and the CLI apply this once, when they
open the database."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from patrol.core.models import City
from patrol.core.settings import Settings


def city_timezone(session: Session) -> str | None:
    """The time zone the city was created with, None when it has none (or there is no city yet)."""
    return session.scalar(select(City.timezone).where(City.timezone.is_not(None)).limit(1))


def with_city_timezone(settings: Settings, sessions: sessionmaker[Session]) -> Settings:
    """``settings`` with the city's time zone, unless the time zone was set explicitly (environment, ``.env`` or
    the caller); an unmigrated database leaves them as they are."""
    if "timezone" in settings.model_fields_set:
        return settings
    try:
        with sessions() as session:
            zone = city_timezone(session)
    except SQLAlchemyError:  # no city table yet: the first command migrates
        return settings
    return settings if not zone or zone == settings.timezone else settings.model_copy(update={"timezone": zone})
