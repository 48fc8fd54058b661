"""The household, resident and need records as they enter the register — one definition of their fields and limits
for both ways in: the HTTP API (these pydantic models are its request bodies) and the CSV importer and
:func:`patrol.surveys.residents.clean_household` / ``clean_resident`` (which read the limits from here and report
every problem of a row at once, in the importer's words)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

#: The longest text each field takes, in characters.
MAX_CHARS = {"room": 40, "head_name": 100, "phone": 40, "note": 4000, "name": 100, "disability": 200,
             "health": 4000, "detail": 4000}
#: A household's members: from 0 to this many people.
MAX_MEMBERS = 100
#: The earliest birth year taken (the latest is the current year).
OLDEST_BIRTH_YEAR = 1880
#: A resident's own visit interval: from 1 to this many days.
MAX_VISIT_EVERY_DAYS = 366

_NEED_TYPES = "education | medical | housing | jobs | elderly_care | other"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HouseholdIn(_Strict):
    building_id: int
    room: str = Field(min_length=1, max_length=MAX_CHARS["room"], description="room / door number, e.g. 3-1-502")
    head_name: str | None = Field(None, max_length=MAX_CHARS["head_name"], description="户主")
    phone: str | None = Field(None, max_length=MAX_CHARS["phone"])
    members: int | None = Field(None, ge=0, le=MAX_MEMBERS)
    note: str | None = Field(None, max_length=MAX_CHARS["note"])


class HouseholdPatch(_Strict):
    building_id: int | None = None
    room: str | None = Field(None, max_length=MAX_CHARS["room"])
    head_name: str | None = Field(None, max_length=MAX_CHARS["head_name"])
    phone: str | None = Field(None, max_length=MAX_CHARS["phone"])
    members: int | None = Field(None, ge=0, le=MAX_MEMBERS)
    note: str | None = Field(None, max_length=MAX_CHARS["note"])


class ResidentIn(_Strict):
    name: str = Field(min_length=1, max_length=MAX_CHARS["name"])
    phone: str | None = Field(None, max_length=MAX_CHARS["phone"])
    birth_year: int | None = Field(None, description="the year only (age = this year − birth_year)")
    disabled: bool = False
    disability: str | None = Field(None, max_length=MAX_CHARS["disability"])
    lives_alone: bool = False
    health: str | None = Field(None, max_length=MAX_CHARS["health"])
    visit_every_days: int | None = Field(None, ge=1, le=MAX_VISIT_EVERY_DAYS,
                                         description="visit this often (default: vulnerable_visit_days for "
                                                     "vulnerable ones)")


class ResidentPatch(_Strict):
    name: str | None = Field(None, max_length=MAX_CHARS["name"])
    phone: str | None = Field(None, max_length=MAX_CHARS["phone"])
    birth_year: int | None = None
    disabled: bool | None = None
    disability: str | None = Field(None, max_length=MAX_CHARS["disability"])
    lives_alone: bool | None = None
    health: str | None = Field(None, max_length=MAX_CHARS["health"])
    visit_every_days: int | None = Field(None, ge=1, le=MAX_VISIT_EVERY_DAYS)


class NeedIn(BaseModel):
    """A need raised by a household (also at a visit, where unknown fields are ignored as before)."""

    type: str = Field(description=_NEED_TYPES)
    detail: str = Field(max_length=MAX_CHARS["detail"])


class StrictNeedIn(NeedIn, _Strict):
    pass


class NeedPatch(_Strict):
    status: str = Field(description="open → in_progress → resolved")
