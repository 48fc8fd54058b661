"""调解 of dispute cases (issue 22, mediation): the HTTP API and the desk pages."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["mediation"])
