"""Printable QR stickers and grid workers' public cards (网格员公示牌) as a download: ``GET /api/v1/stickers``.

Staff print within their scope (a supervisor her community, a subdistrict user her subdistrict, a planner and an
admin everything): a grid or community outside it is refused with 403. A PDF is one file of A4 pages; SVG is one
document per page, so a sheet of several pages comes as a zip of ``page-01.svg``, ``page-02.svg``, …
"""

from __future__ import annotations

import io
import zipfile
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import ActorDep, SessionDep, SettingsDep
from patrol.intake.stickers import PrintOptions, Selection, print_sheet

router = APIRouter(prefix="/api/v1", tags=["stickers"])

#: stickers or cards one download may hold (≈30 ms of QR encoding each; the command line prints any number)
API_MAX_ITEMS = 1000


def _zip(svgs: tuple[str, ...]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for i, svg in enumerate(svgs, 1):
            z.writestr(f"page-{i:02d}.svg", svg)
    return out.getvalue()


@router.get("/stickers", summary="Printable A4 QR stickers (per building or grid) or grid workers' public cards "
                                 "(网格员公示牌) of a grid, community or subdistrict: PDF, or SVG (a zip of pages)",
            response_class=Response,
            responses={200: {"content": {"application/pdf": {}, "image/svg+xml": {}, "application/zip": {}}}})
def stickers(actor: ActorDep, session: SessionDep, settings: SettingsDep,
             kind: Literal["buildings", "grids", "cards"] = "buildings",
             grid: Annotated[str | None, Query(max_length=20, description="a grid's code")] = None,
             community: Annotated[str | None, Query(max_length=200, description="a community's code or name")] = None,
             subdistrict: Annotated[str | None, Query(max_length=200, description="a subdistrict's code or name")]
             = None,
             format: Literal["pdf", "svg"] = "pdf",
             per_page: Annotated[int | None, Query(ge=1, le=24, description="stickers (cards: 1 or 2) to a page")]
             = None,
             phone: Annotated[bool, Query(description="cards: print the worker's work phone")] = True,
             lang: Literal["zh", "en"] = "zh") -> Response:
    sel = Selection(grid or None, community or None, subdistrict or None)
    opts = PrintOptions(base=settings.public_url, format=format, per_page=per_page, hotline=settings.sticker_hotline,
                        title=settings.sticker_card_title, phone=phone, lang=lang, max_items=API_MAX_ITEMS)
    printed = print_sheet(session, actor, kind, sel, opts)
    name = printed.filename(sel)
    headers = {"X-Pages": str(printed.pages), "X-Items": str(printed.items), "Cache-Control": "no-store"}
    if printed.pdf is not None:
        data, media = printed.pdf, "application/pdf"
    elif printed.pages == 1:
        data, media = printed.svgs[0].encode("utf-8"), "image/svg+xml"
    else:
        data, media, name = _zip(printed.svgs), "application/zip", name.removesuffix(".svg") + "-svg.zip"
    headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return Response(data, media_type=media, headers=headers)
