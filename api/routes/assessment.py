"""考核 scorecards and 月报 (issue 22, assessment): the HTTP API and the desk pages."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["assessment"])
