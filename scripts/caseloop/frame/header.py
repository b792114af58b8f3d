"""Finding the header row of the case tab and mapping its headers (English, Chinese, aliases)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from ..errors import CaseloopError
from ..ports import Grid
from ..schema import Schema, normalize_label
from .column import column_letter, sheet_ref

HEADER_SCAN_ROWS = 10
MIN_KNOWN_HEADERS = 3


@dataclass
class Header:
    """Where the header row is and which sheet column holds each field."""

    index: int  # position of the header in grid.rows
    row: int  # 1-based sheet row of the header
    columns: dict[str, int]  # canonical field → 0-based sheet column
    ignored: list[str] = field(default_factory=list)  # headers that name no field


def find_header(grid: Grid, schema: Schema) -> Header:
    """The first of the top rows with enough known headers; refuse a tab without one."""
    rows = grid.rows
    lookup = schema.header_lookup
    numbers = grid.row_numbers
    for r, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        sheet_row = numbers[r] if numbers is not None else r + 1
        if sheet_row > HEADER_SCAN_ROWS:
            break
        known = [c for c in row if c is not None and normalize_label(c) in lookup]
        if len(known) >= MIN_KNOWN_HEADERS:
            columns, ignored = map_columns(grid.title, row, sheet_row, schema)
            return Header(r, sheet_row, columns, ignored)
    if not any(any(c not in (None, "") for c in row) for row in rows):
        raise CaseloopError(
            f'The tab "{grid.title}" is empty; add a header row '
            f"({', '.join(schema.required)}) and one row per case."
        )
    raise CaseloopError(
        f'No header row found in the first {HEADER_SCAN_ROWS} rows of the tab "{grid.title}": '
        f"a header row needs at least {MIN_KNOWN_HEADERS} known column names such as "
        f"{', '.join(schema.required[:4])}."
    )


def map_columns(
    title: str, header: list[Any], header_row: int, schema: Schema
) -> tuple[dict[str, int], list[str]]:
    """Each field's column, and the headers that name none; a field twice or missing refuses."""
    columns: dict[str, int] = {}
    ignored: list[str] = []
    lookup = schema.header_lookup
    ref = sheet_ref(title)
    for c, value in enumerate(header):
        if value is None or str(value).strip() == "":
            continue
        name = lookup.get(normalize_label(value))
        if name is None:
            ignored.append(str(value))
            continue
        if name in columns:
            first = f"{ref}!{column_letter(columns[name])}{header_row}"
            second = f"{ref}!{column_letter(c)}{header_row}"
            raise CaseloopError(
                f'{first} and {second} are both the column "{name}"; '
                "rename or delete one of them so caseloop knows which to read."
            )
        columns[name] = c
    missing = [n for n in schema.required if n not in columns]
    if missing:
        hints = []
        for name in missing:
            close = difflib.get_close_matches(name, ignored, n=1, cutoff=0.6)
            if close:
                hints.append(f'"{close[0]}" looks like "{name}"')
        hint = f" ({'; '.join(hints)})" if hints else ""
        raise CaseloopError(
            f'The tab "{title}" has no column {", ".join(missing)} '
            f"in its header row {header_row}{hint}; add or rename the column."
        )
    return columns, ignored
