"""spreadsheets.values.get and batchGet: a tab's cells as Google renders them."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from .state import SERIAL_EPOCH, FakeCell, FakeSheet, cell_a1, range_bounds, range_title


class BadRange(ValueError):
    pass


def _integral(number: float | int) -> float | int:
    # Google's JSON writes 3.0 as 3.
    if isinstance(number, float) and number.is_integer():
        return int(number)
    return number


def _date_kind(cell: FakeCell) -> str | None:
    kind = cell.format.get("numberFormat", {}).get("type")
    return kind if kind in ("DATE", "DATE_TIME", "TIME") else None


def _strftime_pattern(pattern: str) -> str:
    """A Sheets date pattern as strftime, for the common tokens only."""
    out = []
    tokens = re.findall(r"yyyy|yy|mmmm|mmm|mm|m|dd|d|hh|h|ss|s|am/pm|.", pattern, flags=re.I)
    after_hour = False
    for token in tokens:
        low = token.lower()
        if low in ("hh", "h"):
            out.append("%H")
            after_hour = True
        elif low in ("mm", "m") and after_hour:
            out.append("%M")
        elif low in ("mm", "m"):
            out.append("%m")
        elif low == "yyyy":
            out.append("%Y")
        elif low == "yy":
            out.append("%y")
        elif low == "mmm":
            out.append("%b")
        elif low == "mmmm":
            out.append("%B")
        elif low in ("dd", "d"):
            out.append("%d")
        elif low in ("ss", "s"):
            out.append("%S")
        elif low == "am/pm":
            out.append("%p")
        else:
            out.append(token.replace("%", "%%"))
    return "".join(out)


def formatted(cell: FakeCell) -> str:
    """The text a cell shows (FORMATTED_VALUE), simplified: dates by pattern, numbers plainly."""
    value = cell.value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        if _date_kind(cell):
            pattern = cell.format["numberFormat"].get("pattern") or "yyyy-mm-dd hh:mm:ss"
            moment = SERIAL_EPOCH + dt.timedelta(days=value)
            return moment.strftime(_strftime_pattern(pattern))
        return str(_integral(value))
    return str(value)


def render(cell: FakeCell, value_option: str, date_option: str) -> Any:
    if value_option == "FORMULA" and cell.formula is not None:
        return cell.formula
    if value_option == "FORMATTED_VALUE":
        return formatted(cell)
    value = cell.value
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if _date_kind(cell) and date_option == "FORMATTED_STRING":
            return formatted(cell)
        return _integral(value)
    return value


def value_range(
    sheet: FakeSheet, cells: str | None, params: dict[str, list[str]]
) -> dict[str, Any]:
    """One ValueRange: trailing empty cells and rows left out, as Google does."""
    value_option = params.get("valueRenderOption", ["FORMATTED_VALUE"])[0]
    date_option = params.get("dateTimeRenderOption", ["SERIAL_NUMBER"])[0]
    major = params.get("majorDimension", ["ROWS"])[0]
    if value_option not in ("FORMATTED_VALUE", "UNFORMATTED_VALUE", "FORMULA"):
        raise BadRange(f"Invalid value at 'value_render_option' ({value_option})")
    try:
        r0, r1, c0, c1 = range_bounds(cells, sheet.row_count, sheet.column_count)
    except ValueError as error:
        raise BadRange(f"Unable to parse range: {range_title(sheet.title)}!{cells}") from error
    filled = [
        (r, c)
        for (r, c), cell in sheet.cells.items()
        if r0 <= r < r1 and c0 <= c < c1 and not cell.is_empty
    ]
    out: dict[str, Any] = {"majorDimension": major}
    if cells:
        out["range"] = f"{range_title(sheet.title)}!{_a1(r0, c0)}:{_a1(r1 - 1, c1 - 1)}"
    else:
        # For a whole tab Google answers with the used area.
        last_r = max((r for r, _ in filled), default=r0)
        last_c = max((c for _, c in filled), default=c0)
        out["range"] = f"{range_title(sheet.title)}!{_a1(r0, c0)}:{_a1(last_r, last_c)}"
    if not filled:
        return out
    rows: list[list[Any]] = []
    last_row = max(r for r, _ in filled)
    by_row: dict[int, list[int]] = {}
    for r, c in filled:
        by_row.setdefault(r, []).append(c)
    for r in range(r0, last_row + 1):
        cols = by_row.get(r)
        if not cols:
            rows.append([])
            continue
        rows.append(
            [render(sheet.cell(r, c), value_option, date_option) for c in range(c0, max(cols) + 1)]
        )
    if major == "COLUMNS":
        width = max(len(row) for row in rows)
        columns = [[row[c] if c < len(row) else "" for row in rows] for c in range(width)]
        rows = [_trim(col) for col in columns]
    out["values"] = rows
    return out


def _trim(values: list[Any]) -> list[Any]:
    while values and values[-1] == "":
        values.pop()
    return values


def _a1(row: int, col: int) -> str:
    return cell_a1(row, col)
