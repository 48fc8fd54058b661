"""CSV answers that a spreadsheet cannot run: every cell of every CSV export (cases, KPIs, the residents register,
the survey table) is neutralised against formula injection here, at the one place they all leave the server.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to Excel, LibreOffice
and Google Sheets (``=HYPERLINK("http://x", "y")`` from a resident's Open311 description would become a link in the
supervisor's spreadsheet); OWASP's advice is to prefix such a cell with ``'``, which shows it as text. A real
number (``-3``, ``-0.25``, ``+1e3``) keeps its sign and stays a number.

The exporters live in patrol (the register) and maps (the survey table), which may not import each other, and the
CSV text they build is an HTTP answer only through api: so the one helper is here and rewrites their finished CSV
text, keeping its BOM and line ends.
"""

from __future__ import annotations

import csv
import io
import math
from typing import Annotated, Literal

from fastapi import Query
from fastapi.responses import Response

from patrol.core.columns import relabel

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"


def _number(cell: str) -> bool:
    try:
        return math.isfinite(float(cell))
    except ValueError:
        return False


def safe_cell(cell: str) -> str:
    """``cell`` as text a spreadsheet shows and never evaluates (``'`` before a formula), a number unchanged."""
    return f"'{cell}" if cell.startswith(TRIGGERS) and not _number(cell) else cell


def safe_csv(text: str, header_mode: str | None = None) -> str:
    """CSV ``text`` with every cell :func:`safe_cell` (its BOM, quoting dialect and line ends kept); with
    ``header_mode`` ('zh', 'en' or 'keys') its header row of keys is named in that language
    (:func:`patrol.core.columns.relabel`)."""
    bom, body = (BOM, text[1:]) if text.startswith(BOM) else ("", text)
    line_end = "\r\n" if "\r\n" in body.split("\n", 1)[0] + "\n" else "\n"
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=line_end)
    for i, row in enumerate(csv.reader(io.StringIO(body, newline=""))):
        if i == 0 and header_mode is not None:
            row = relabel(row, header_mode)
        writer.writerow([safe_cell(cell) for cell in row])
    return bom + out.getvalue()


#: ``?headers=`` of every CSV download: the columns named in Chinese (default), English, or by their machine keys
HeaderMode = Annotated[Literal["zh", "en", "keys"], Query(
    description="CSV column names: zh (Chinese, default), en (English) or keys (machine-readable keys for "
                "scripts, e.g. reported_at)")]


def csv_response(text: str, filename: str, headers: dict[str, str] | None = None, *,
                 header_mode: str | None = None) -> Response:
    """A CSV download of ``text`` made safe (:func:`safe_csv`), its header row named per ``header_mode``."""
    return Response(safe_csv(text, header_mode), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"', **(headers or {})})
