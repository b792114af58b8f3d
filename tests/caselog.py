"""Build small case logs for tests: a grid in memory, or a real .xlsx written by xlsxwriter."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import xlsxwriter

from caseloop.ports import Grid

HEADERS = [
    "Case ID",
    "Marketplace",
    "Category",
    "Channel",
    "Priority",
    "Status",
    "Opened At",
    "Last Sent At",
    "First Reply At",
    "Last Reply At",
    "Follow-ups",
    "Resolved At",
    "Deadline",
    "Order ID",
    "ASIN",
    "Shipment ID",
    "Related Cases",
    "Owner",
    "Summary",
    "Resolution",
]
NOW = dt.datetime(2026, 11, 20, 18, 0)

_counter = iter(range(10_000_000))


def case(**values: Any) -> dict[str, Any]:
    """One case row with sensible defaults: an open Advertising case opened 2 h before NOW."""
    row: dict[str, Any] = {
        "Case ID": str(12000000000 + next(_counter)),
        "Marketplace": "US",
        "Category": "Advertising",
        "Channel": "Case",
        "Status": "Open",
        "Opened At": NOW - dt.timedelta(hours=2),
        "Follow-ups": 0,
        "Owner": "Li Wei",
        "Summary": "Campaign stuck in review",
    }
    row.update(
        {("Follow-ups" if k == "Follow_ups" else k.replace("_", " ")): v for k, v in values.items()}
    )
    return row


def grid(
    cases: list[dict[str, Any]],
    headers: list[str] | None = None,
    title: str = "Cases",
    above: list[list[Any]] | None = None,
    labels: list[str] | None = None,
) -> Grid:
    """Cases as a grid; ``labels`` writes other header text (e.g. Chinese) over ``headers``."""
    headers = headers or HEADERS
    rows: list[list[Any]] = [list(r) for r in (above or [])]
    rows.append(list(labels or headers))
    for c in cases:
        rows.append([c.get(h) for h in headers])
    return Grid(title=title, rows=rows)


def write_xlsx(
    path: Path,
    cases: list[dict[str, Any]],
    headers: list[str] | None = None,
    tab: str = "Cases",
    extra_tabs: dict[str, list[list[Any]]] | None = None,
    above: list[list[Any]] | None = None,
) -> Path:
    """A real workbook: datetimes as date cells, numbers as numbers, text as text."""
    headers = headers or HEADERS
    book = xlsxwriter.Workbook(str(path))
    stamp = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    sheet = book.add_worksheet(tab)
    r = 0
    for line in above or []:
        for c, v in enumerate(line):
            sheet.write(r, c, v)
        r += 1
    for c, h in enumerate(headers):
        sheet.write_string(r, c, h)
    for case_row in cases:
        r += 1
        for c, h in enumerate(headers):
            v = case_row.get(h)
            if v is None:
                continue
            if isinstance(v, dt.datetime):
                sheet.write_datetime(r, c, v, stamp)
            elif isinstance(v, str):
                sheet.write_string(r, c, v)
            else:
                sheet.write(r, c, v)
    for name, rows in (extra_tabs or {}).items():
        other = book.add_worksheet(name)
        for i, line in enumerate(rows):
            for c, v in enumerate(line):
                other.write(i, c, v)
    book.close()
    return path
