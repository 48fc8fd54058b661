"""Spreadsheets in and out: a 12345 platform exports CSV (UTF-8 with or without BOM, or GB18030 from Chinese Excel)
or .xlsx; we write CSV as UTF-8 with a BOM (Chinese Excel opens it right) or .xlsx."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from pathlib import Path

from patrol.core.errors import InvalidInput

ENCODINGS = ("utf-8-sig", "gb18030")
SUFFIXES = (".csv", ".xlsx")


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise InvalidInput(f"{path.name}: a .csv or .xlsx file is expected", field="file")
    return suffix


def decode(data: bytes, name: str = "the file") -> str:
    """CSV bytes as text: UTF-8 (a BOM or not), else GB18030."""
    for encoding in ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InvalidInput(f"{name}: neither UTF-8 nor GB18030 text", field="file")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_table(path: str | Path) -> tuple[list[str], list[dict[str, str]]]:
    """The header and the rows (header → text, stripped) of a .csv or .xlsx file; blank rows skipped."""
    path = Path(path)
    suffix = _suffix(path)
    if not path.exists():
        raise InvalidInput(f"{path}: no such file", field="file")
    if suffix == ".csv":
        text = decode(path.read_bytes(), path.name)
        reader = csv.reader(io.StringIO(text))
        table = [row for row in reader]
    else:
        from openpyxl import load_workbook

        try:
            book = load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a damaged file
            raise InvalidInput(f"{path.name}: not a readable .xlsx file ({exc})", field="file") from None
        table = [[_cell(v) for v in row] for row in book.worksheets[0].iter_rows(values_only=True)]
        book.close()
    if not table:
        raise InvalidInput(f"{path.name}: the file is empty", field="file")
    header = [h.strip() for h in table[0]]
    rows = [dict(zip(header, [c.strip() for c in r], strict=False)) for r in table[1:]]
    return header, [r for r in rows if any(r.values())]


def write_table(path: str | Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Write ``rows`` under ``header`` as .csv (UTF-8 with a BOM) or .xlsx, as the name says."""
    path = Path(path)
    if _suffix(path) == ".csv":
        with path.open("w", encoding="utf-8-sig", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows([["" if v is None else v for v in r] for r in rows])
        return
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(list(header))
    for r in rows:
        sheet.append(["" if v is None else v for v in r])
    book.save(path)
