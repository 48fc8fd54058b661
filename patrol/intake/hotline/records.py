"""What an order is on its way in, shared by the per-order path (:mod:`patrol.intake.hotline.orders`) and the
set-based one (:mod:`patrol.intake.hotline.bulk`)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from patrol.core.auth import Actor

SOURCE = "12345"
CHANNEL = "12345"
#: the actor of orders coming in from a file at the command line
IMPORT_ACTOR = Actor(label="12345 import", role="admin")
OUTCOMES = ("created", "updated", "unchanged", "pending", "refused")
REPORT_HEADER = ("row", "工单编号", "result", "why")
#: the fields of an order a re-import compares (and the push API accepts)
FIELDS = ("received_at", "deadline_at", "category_code", "category_text", "description", "address",
          "subdistrict_text", "urgency", "contact_name", "contact_phone")
_NS = uuid.UUID("6f1d2c8e-1234-4c7a-9e12-12345abcdef0")


@dataclass
class OrderIn:
    """One work order as read (times aware UTC)."""

    order_no: str
    received_at: dt.datetime
    address: str
    deadline_at: dt.datetime | None = None
    category_code: str | None = None
    category_text: str | None = None
    description: str | None = None
    subdistrict_text: str | None = None
    urgency: str | None = None
    contact_name: str | None = None
    contact_phone: str | None = None
    raw: dict | None = None


@dataclass(frozen=True)
class ReportRow:
    row: int            # the row in the file (the header is row 1); for pushed orders, the position from 1
    order_no: str
    result: str         # one of OUTCOMES
    why: str = ""

    def cells(self) -> tuple:
        return (self.row, self.order_no, self.result, self.why)


def case_client_id(order_no: str) -> str:
    """The case's client id, fixed by the order number: a retried placement finds the same case."""
    return str(uuid.uuid5(_NS, f"12345:{order_no}"))
