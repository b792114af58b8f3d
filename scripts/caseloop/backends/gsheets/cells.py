"""One cell in Sheets' terms: values as read and as written, formats, and grid ranges."""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ...model import Cell, CellValue, Range, Style
from ...ports import CellError

# What UNFORMATTED_VALUE returns for a formula that failed: the error's text.
ERROR_TEXTS = frozenset(
    {"#N/A", "#REF!", "#VALUE!", "#DIV/0!", "#NUM!", "#NAME?", "#NULL!", "#ERROR!", "#SPILL!"}
)

SHEETS_EPOCH = dt.datetime(1899, 12, 30)
DEFAULT_DATETIME_PATTERN = "yyyy-mm-dd hh:mm"
DEFAULT_DATE_PATTERN = "yyyy-mm-dd"
BORDER_GREY = "#BFBFBF"


# --- what is read -----------------------------------------------------------------------------


def read_value(value: Any) -> Any:
    """A value as Sheets sends it, as caseloop reads it: empty is None, error text a CellError."""
    if value == "":
        return None  # Sheets sends "" for an empty cell before a filled one in the same row
    if isinstance(value, str) and value in ERROR_TEXTS:
        return CellError(value)
    return value


# --- what is written --------------------------------------------------------------------------


def grid_range(block: Range, sheet_id: int) -> dict[str, int]:
    """A model ``Range`` (inclusive) as a GridRange (end-exclusive)."""
    return {
        "sheetId": sheet_id,
        "startRowIndex": block.first_row,
        "endRowIndex": block.last_row + 1,
        "startColumnIndex": block.first_col,
        "endColumnIndex": block.last_col + 1,
    }


def cell_value(value: CellValue, tz: str | None) -> dict[str, Any] | None:
    """A model value as ExtendedValue. Text is always stringValue: never parsed, never a formula."""
    if value is None:
        return None
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return None  # JSON has no NaN; an empty cell says "no value" best
        return {"numberValue": value}
    if isinstance(value, dt.datetime | dt.date):
        return {"numberValue": date_serial(value, tz)}
    return {"stringValue": str(value)}


def date_serial(value: dt.date | dt.datetime, tz: str | None) -> float:
    """Days since 1899-12-30 as Sheets counts them; an aware datetime goes to the sheet's zone."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(_zone(tz)).replace(tzinfo=None)
        return (value - SHEETS_EPOCH) / dt.timedelta(days=1)
    return float((value - SHEETS_EPOCH.date()).days)


def _zone(tz: str | None) -> dt.tzinfo:
    try:
        return ZoneInfo(tz) if tz else dt.UTC
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def rgb(hex_color: str) -> dict[str, float]:
    """``#RRGGBB`` as a Sheets Color (channels from 0 to 1)."""
    hex_color = hex_color.lstrip("#")
    red, green, blue = (int(hex_color[i : i + 2], 16) / 255 for i in (0, 2, 4))
    return {"red": red, "green": green, "blue": blue}


def number_format(pattern: str) -> dict[str, str]:
    """An Excel number format as a Sheets NumberFormat (the pattern syntax is shared)."""
    pattern = re.sub(r"\[\$[^\]]*\]", "", pattern)  # Excel locale tags like [$-409]
    lowered = re.sub(r'"[^"]*"', "", pattern.lower())
    has_date = any(ch in lowered for ch in "yd") or "mmm" in lowered
    has_time = any(ch in lowered for ch in "hs") or "am/pm" in lowered
    if has_date and has_time:
        kind = "DATE_TIME"
    elif has_date:
        kind = "DATE"
    elif has_time:
        kind = "TIME"
    elif "%" in lowered:
        kind = "PERCENT"
    else:
        kind = "NUMBER"
    return {"type": kind, "pattern": pattern}


def cell_format(style: Style | None, default_pattern: str | None = None) -> dict[str, Any]:
    """A model ``Style`` as a Sheets CellFormat; ``default_pattern`` for dates without one."""
    fmt: dict[str, Any] = {}
    style = style or Style()
    if style.bg:
        fmt["backgroundColor"] = rgb(style.bg)
    text: dict[str, Any] = {}
    if style.bold:
        text["bold"] = True
    if style.italic:
        text["italic"] = True
    if style.font_color:
        text["foregroundColor"] = rgb(style.font_color)
    if style.size:
        text["fontSize"] = style.size
    if text:
        fmt["textFormat"] = text
    pattern = style.num_format or default_pattern
    if pattern:
        fmt["numberFormat"] = number_format(pattern)
    if style.wrap:
        fmt["wrapStrategy"] = "WRAP"
    if style.border:
        edge = {"style": "SOLID", "color": rgb(BORDER_GREY)}
        fmt["borders"] = {side: edge for side in ("top", "bottom", "left", "right")}
    return fmt


def format_key(cell: Cell) -> tuple[Style | None, str | None] | None:
    """The arguments of ``cell_format`` this cell needs, or None when it needs no format."""
    default = None
    if isinstance(cell.value, dt.datetime):
        default = DEFAULT_DATETIME_PATTERN
    elif isinstance(cell.value, dt.date):
        default = DEFAULT_DATE_PATTERN
    if cell.style is None and default is None:
        return None
    if cell.style is not None and cell.style.num_format:
        default = None  # the style's own pattern wins
    return (cell.style, default)
