"""Micro-grids (微网格) and their 楼栋长, 网格长 (issue 22, people): the HTTP API and the desk pages."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["people"])
