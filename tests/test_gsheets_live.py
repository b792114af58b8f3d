"""A smoke test against a real Google Sheet; skipped unless one is configured.

To run it, share a throw-away sheet with a service account as Editor, then:

    CASELOOP_LIVE_SHEET="https://docs.google.com/spreadsheets/d/KEY/edit" \\
    GOOGLE_APPLICATION_CREDENTIALS=/path/to/sa.json \\
    pytest tests/test_gsheets_live.py

(``CASELOOP_LIVE_CREDENTIALS`` may name the credentials file instead.) It reads the first tab,
writes a tab called "caseloop live test" twice, checks what Google kept, and deletes that tab.
"""

from __future__ import annotations

import datetime as dt
import os

import pytest

from caseloop.backends.gsheets import open_google_workbook
from caseloop.model import Cell, Range, SheetModel, Style

LIVE_SHEET = os.environ.get("CASELOOP_LIVE_SHEET")
LIVE_CREDENTIALS = os.environ.get("CASELOOP_LIVE_CREDENTIALS") or os.environ.get(
    "GOOGLE_APPLICATION_CREDENTIALS"
)
TAB = "caseloop live test"

pytestmark = pytest.mark.skipif(
    not (LIVE_SHEET and LIVE_CREDENTIALS),
    reason="set CASELOOP_LIVE_SHEET and CASELOOP_LIVE_CREDENTIALS (or "
    "GOOGLE_APPLICATION_CREDENTIALS) to run against a real Google Sheet",
)


def model(rows: int) -> SheetModel:
    body = [[Cell("Case ID", Style(bold=True)), Cell("Due at"), Cell("Waiting (h)")]]
    for n in range(rows):
        body.append(
            [
                Cell("=1+1" if n == 0 else f"1234567890{n}", Style(bg="#F4CCCC")),
                Cell(
                    dt.datetime(2026, 3, 2, 9, 30) + dt.timedelta(hours=n),
                    Style(num_format="yyyy-mm-dd hh:mm"),
                ),
                Cell(1.5 * n),
            ]
        )
    return SheetModel(
        TAB, body, col_widths=[14, 18, 10], freeze_rows=1, auto_filter=Range(0, 0, rows, 2)
    )


def test_read_and_write_a_real_sheet() -> None:
    assert LIVE_SHEET and LIVE_CREDENTIALS
    workbook = open_google_workbook(LIVE_SHEET, LIVE_CREDENTIALS)
    try:
        first_tab = workbook.tab_names()[0]
        grid = workbook.read_tab(first_tab)
        assert grid.dates_as_serials and grid.timezone
        result = workbook.write_tabs([model(20)])
        assert result.requests is not None and result.requests <= 4

        again = open_google_workbook(LIVE_SHEET, LIVE_CREDENTIALS)
        second = again.write_tabs([model(3)])
        assert second.requests is not None and second.requests <= 4
        written = again.read_tab(TAB)
        assert written.rows[1][0] == "=1+1"  # text, not a formula that would show 2
        assert len(written.rows) == 4
    finally:
        cleanup = open_google_workbook(LIVE_SHEET, LIVE_CREDENTIALS)
        sheet = next(
            (s for s in cleanup.metadata["sheets"] if s["properties"]["title"] == TAB), None
        )
        if sheet is not None:
            cleanup._http.batch_update(
                cleanup.key,
                {"requests": [{"deleteSheet": {"sheetId": sheet["properties"]["sheetId"]}}]},
            )
