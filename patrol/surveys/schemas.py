"""The household, resident and need records as they enter the register — one definition of their fields and limits
for both ways in: the HTTP API (these pydantic models are its request bodies) and the CSV importer and
the register's own checks (:mod:`patrol.surveys.residents.fields`, whose ``FIELD_LIMITS`` table these limits are
read from)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from patrol.surveys.residents.fields import MAX_VISIT_EVERY_DAYS, max_chars, number_range

#: The longest text each field takes, in characters (from the register's one table of limits).
MAX_CHARS = {name: max_chars(name) for name in ("room", "head_name", "phone", "note", "name", "disability",
                                                "health", "detail")}
#: A household's members: from 0 to this many people.
MAX_MEMBERS = number_range("members")[1]

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

    type: str = Field(max_length=40, description=_NEED_TYPES)
    detail: str = Field(max_length=MAX_CHARS["detail"])


class StrictNeedIn(NeedIn, _Strict):
    pass


class NeedPatch(_Strict):
    status: str = Field(max_length=40, description="open → in_progress → resolved")
