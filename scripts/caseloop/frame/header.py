"""Finding the header row of the case tab and mapping its headers (English, Chinese, aliases)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from ..errors import CaseloopError, looks_chinese
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
        raise CaseloopError.said(
            "tab_empty",
            lang_hint="zh" if looks_chinese([grid.title]) else None,
            tab=grid.title,
            required=", ".join(schema.required),
            required_zh="、".join(schema.field(n).zh for n in schema.required),
        )
    texts = [c for row in rows[:HEADER_SCAN_ROWS] for c in row if isinstance(c, str)]
    raise CaseloopError.said(
        "no_header",
        lang_hint="zh" if looks_chinese(texts) else None,
        tab=grid.title,
        rows=HEADER_SCAN_ROWS,
        min=MIN_KNOWN_HEADERS,
        examples=", ".join(schema.required[:4]),
        examples_zh="、".join(f"「{schema.field(n).zh}」" for n in schema.required[:4]),
    )


def map_columns(
    title: str, header: list[Any], header_row: int, schema: Schema
) -> tuple[dict[str, int], list[str]]:
    """Each field's column, and the headers that name none; a field twice or missing refuses."""
    columns: dict[str, int] = {}
    ignored: list[str] = []
    lookup = schema.header_lookup
    ref = sheet_ref(title)
    lang_hint = "zh" if looks_chinese(header) else None
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
            raise CaseloopError.said(
                "duplicate_column",
                lang_hint=lang_hint,
                first=first,
                second=second,
                name=name,
                name_zh=str(value).strip() if lang_hint else schema.field(name).zh,
            )
        columns[name] = c
    missing = [n for n in schema.required if n not in columns]
    if missing:
        hints, hints_zh = [], []
        for name in missing:
            zh = schema.field(name).zh
            close = difflib.get_close_matches(name, ignored, n=1, cutoff=0.6)
            if close:
                hints.append(f'"{close[0]}" looks like "{name}"')
            close = close or difflib.get_close_matches(zh, ignored, n=1, cutoff=0.5)
            if close:
                hints_zh.append(f"「{close[0]}」像是「{zh}」")
        raise CaseloopError.said(
            "missing_column",
            lang_hint=lang_hint,
            tab=title,
            row=header_row,
            missing=", ".join(missing),
            missing_zh="、".join(f"「{schema.field(n).zh}」" for n in missing),
            hint=f" ({'; '.join(hints)})" if hints else "",
            hint_zh=f"（{'；'.join(hints_zh)}）" if hints_zh else "",
        )
    return columns, ignored
