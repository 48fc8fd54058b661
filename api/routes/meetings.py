"""研判 and 协商议事 (issue 22, deliberation): the HTTP API and the desk pages."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["meetings"])
