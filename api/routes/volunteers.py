"""Volunteer teams, 网格服务专员 and 双报到 members (issue 22, volunteers): the HTTP API and the desk pages."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["volunteers"])
