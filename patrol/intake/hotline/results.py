"""Results back to the hotline (办理结果) and its 回访 in.

**办理结果** (:func:`results`): for each 12345 case closed in a period — 工单编号, 办理结果 (the ``handle`` step's note
and the ``close`` step's note: staff notes are not for the public, but this goes to the hotline, the government's
own platform), 办结时间 (local time), 办理单位 (the responsible unit's name; the community's for a case handled in the
grid), 现场照片 (links to the after-photos: signed URLs under ``settings.public_url``, see :func:`photo_signature`;
none for a sensitive category, :func:`patrol.publication.policy.is_sensitive`).

**回访** (:func:`apply_feedback`): the hotline's call-back result becomes the resident's rating through the case's
``rate`` action: 满意 → 5, 基本满意 → 4, 不满意 → 2 (≤ 2 reopens the case: 再接单), see
:data:`patrol.intake.hotline.mapping.SATISFACTION`; 是否解决 sets ``Case.resident_solved``. Idempotent: the step's
client id is fixed by the order number and 回访时间, so the same feedback twice rates once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from patrol.cases import service as svc
from patrol.core.auth import Actor, secret_key
from patrol.core.errors import GridPatrolError, InvalidInput
from patrol.core.models import Case, CaseEvent, Community, Photo, ResponsibleUnit
from patrol.core.settings import Settings
from patrol.intake.hotline.mapping import SATISFACTION, Mapping, parse_time
from patrol.intake.hotline.orders import SOURCE, FileResult, ReportRow
from patrol.publication.policy import is_sensitive

#: the actor of the hotline's 回访 (it rates as the resident's voice)
FEEDBACK_ACTOR = Actor(label="12345 回访", role="admin")
PHOTO_PATH = "/api/v1/hotline/photos/"
_NS = uuid.UUID("0b7e3a52-5d1c-4f0e-8c55-12345feedbac")
YES = ("是", "已解决", "解决", "yes", "y", "true", "1")
NO = ("否", "未解决", "no", "n", "false", "0")


def photo_signature(settings: Settings, photo_id: int) -> str:
    """The signature that opens one after-photo to whoever holds the link (the hotline's staff, the resident it
    forwards it to): an HMAC of the photo's id under the server's secret key."""
    key = secret_key(settings).encode()
    return hmac.new(key, f"hotline-photo:{photo_id}".encode(), hashlib.sha256).hexdigest()[:32]


def photo_link(settings: Settings, photo_id: int) -> str:
    return f"{settings.public_url.rstrip('/')}{PHOTO_PATH}{photo_id}?s={photo_signature(settings, photo_id)}"


def signed_photo(session: Session, settings: Settings, photo_id: int, signature: str) -> Photo | None:
    """The photo a signed link opens: an after-photo (of a handle step) of a 12345 case of a category that is not
    sensitive, with the right signature; else None (the route answers 404)."""
    if not hmac.compare_digest(signature or "", photo_signature(settings, photo_id)):
        return None
    row = session.execute(select(Photo, Case.category_code, Case.source, CaseEvent.action)
                          .join(Case, Case.id == Photo.case_id).join(CaseEvent, CaseEvent.id == Photo.event_id)
                          .where(Photo.id == photo_id)).first()
    if row is None or row[2] != SOURCE or row[3] != "handle" or is_sensitive(row[1]):
        return None
    photo: Photo = row[0]
    return photo


@dataclass(frozen=True)
class Result:
    order_no: str
    result: str
    closed_at: dt.datetime
    unit: str
    photos: list[str]


def _notes(session: Session, case_id: int) -> str:
    events = session.execute(select(CaseEvent.action, CaseEvent.note).where(
        CaseEvent.case_id == case_id, CaseEvent.action.in_(("handle", "close"))).order_by(CaseEvent.id)).all()
    handled = [n for a, n in events if a == "handle" and n]
    closed = [n for a, n in events if a == "close" and n]
    parts = ([f"处置: {handled[-1]}"] if handled else []) + ([f"结案: {closed[-1]}"] if closed else [])
    return "; ".join(parts) or "已办结"


def results(session: Session, settings: Settings, since: dt.datetime, until: dt.datetime | None = None
            ) -> list[Result]:
    """The 办理结果 of the 12345 cases closed from ``since`` (until ``until``), oldest first."""
    q = (select(Case, ResponsibleUnit.name, Community.name)
         .outerjoin(ResponsibleUnit, ResponsibleUnit.id == Case.unit_id)
         .outerjoin(Community, Community.id == Case.community_id)
         .where(Case.source == SOURCE, Case.status == "closed", Case.closed_at >= since))
    if until is not None:
        q = q.where(Case.closed_at < until)
    rows = session.execute(q.order_by(Case.closed_at, Case.id)).all()
    photos: dict[int, list[int]] = {}
    if rows:
        for case_id, photo_id in session.execute(
                select(Photo.case_id, Photo.id).join(CaseEvent, CaseEvent.id == Photo.event_id)
                .where(Photo.case_id.in_([r[0].id for r in rows]), CaseEvent.action == "handle")
                .order_by(Photo.id)):
            photos.setdefault(case_id, []).append(photo_id)
    out = []
    for case, unit, community in rows:
        links = [] if is_sensitive(case.category_code) else \
            [photo_link(settings, p) for p in photos.get(case.id, [])]
        out.append(Result(case.source_ref or "", _notes(session, case.id), case.closed_at, unit or community or "",
                          links))
    return out


def result_rows(mapping: Mapping, items: list[Result]) -> tuple[list[str], list[list[str]]]:
    """The 办理结果 file's header (the mapping's ``results`` columns) and rows (local times)."""
    zone = ZoneInfo(mapping.timezone)
    r = mapping.results
    header = [r["order_no"], r["result"], r["closed_at"], r["unit"], r["photos"]]
    return header, [[x.order_no, x.result, x.closed_at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"), x.unit,
                     " ".join(x.photos)] for x in items]


# ------------------------------------------------------------------------------------------------ 回访 in

@dataclass(frozen=True)
class Feedback:
    order_no: str
    satisfaction: str
    solved: bool | None = None
    at: dt.datetime | None = None
    comment: str | None = None


def solved_of(text: str | None) -> bool | None:
    t = (text or "").strip().lower()
    return True if t in YES else False if t in NO else None


def parse_feedback(mapping: Mapping, row: dict[str, str]) -> tuple[Feedback | None, str]:
    f = mapping.feedback
    no = (row.get(f["order_no"]) or "").strip()
    sat = (row.get(f["satisfaction"]) or "").strip()
    when = (row.get(f["at"]) or "").strip()
    if not no:
        return None, f"{f['order_no']}: empty"
    if sat not in SATISFACTION:
        return None, f"{f['satisfaction']}: {sat!r}; one of {', '.join(SATISFACTION)}"
    at = parse_time(when, mapping.received_formats, mapping.zone) if when else None
    if when and at is None:
        return None, f"{f['at']}: {when!r} is not a time"
    solved_text = (row.get(f["solved"]) or "").strip()
    if solved_text and solved_of(solved_text) is None:
        return None, f"{f['solved']}: {solved_text!r}; 是 or 否"
    return Feedback(no, sat, solved_of(solved_text), at), ""


def apply_feedback(session: Session, settings: Settings, fb: Feedback, *,
                   actor: Actor = FEEDBACK_ACTOR) -> tuple[str, str]:
    """Rate the order's case from its 回访; (outcome, why) with outcome rated / reopened / unchanged / refused."""
    if fb.satisfaction not in SATISFACTION:
        raise InvalidInput(f"satisfaction: one of {', '.join(SATISFACTION)}", field="satisfaction")
    case = session.scalar(select(Case).where(Case.source == SOURCE, Case.source_ref == fb.order_no))
    if case is None:
        return "refused", f"no 12345 case for order {fb.order_no} (not imported, or still 待定位)"
    rating = SATISFACTION[fb.satisfaction]
    client_id = str(uuid.uuid5(_NS, f"{fb.order_no}|{fb.at.isoformat() if fb.at else ''}|{fb.satisfaction}"))
    done = session.scalar(select(CaseEvent.id).where(CaseEvent.client_id == client_id))
    if done is not None:
        return "unchanged", "this 回访 was imported before"
    try:
        with session.begin_nested():
            svc.transition(session, actor, settings, case.id, "rate", rating=rating, client_id=client_id,
                           note=f"12345 回访: {fb.satisfaction}" + (f" ({fb.comment})" if fb.comment else ""),
                           now=fb.at)
    except GridPatrolError as exc:
        return "refused", exc.message
    if fb.solved is not None:
        case.resident_solved = fb.solved
    return ("reopened", f"{fb.satisfaction} → {rating}/5: 再接单") if rating <= 2 else \
        ("rated", f"{fb.satisfaction} → {rating}/5")


def import_feedback(session: Session, settings: Settings, mapping: Mapping, rows: list[dict[str, str]]
                    ) -> FileResult:
    """A 回访 file, all or nothing: every row checked first (a refused row refuses the file, nothing rated); then
    each applied in turn — a row that does not apply (its case is not closed) marks the result ``refused`` and the
    caller rolls the transaction back."""
    parsed: list[tuple[int, Feedback | None, str]] = []
    for i, row in enumerate(rows, start=2):
        fb, why = parse_feedback(mapping, row)
        parsed.append((i, fb, why or (f"{fb.order_no} repeats an earlier row" if fb is not None and any(
            p[1] is not None and p[1].order_no == fb.order_no for p in parsed) else "")))
    col = mapping.feedback["order_no"]
    if any(why for _, _, why in parsed):
        bad = sum(1 for _, _, why in parsed if why)
        return FileResult([ReportRow(i, (rows[i - 2].get(col) or "").strip(), "refused",
                                     why or f"file refused: {bad} row(s) refused") for i, fb, why in parsed], True)
    out = []
    for i, fb, _ in parsed:
        assert fb is not None
        result, why = apply_feedback(session, settings, fb)
        out.append(ReportRow(i, fb.order_no, result, why))
    return FileResult(out, any(r.result == "refused" for r in out))
