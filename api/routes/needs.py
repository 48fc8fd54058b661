"""民情台账 needs in the loop (issue 22, needs): the HTTP API and the desk pages."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["needs"])
