"""A whole sync on a Google Sheet (the fake) writes what the Excel path renders, in ≤ 4 requests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
import pytest

from caseloop.backends.gsheets import date_serial
from caseloop.engine import Settings, load, status_model, write

from fakesheets import FakeSheetsServer, fake_client_class
from hostile import authorized_user_file as hostile_credentials

pytest_plugins = ["fakesheets.fixtures"]

SAMPLE = Path(__file__).parent.parent / "sample_data" / "case_log.xlsx"
KEY = "1SampleSheetKey_caseloop"
NOW = "2026-11-20T18:00"


def authorized_user_file(tmp_path: Path) -> Path:
    # An access token that google-auth considers valid until 2999 is used as is: no refresh,
    # so nothing goes to Google's token endpoint, and the fake accepts the token "test".
    return hostile_credentials(tmp_path / "authorized_user.json")


def sheet_value(value: Any, tz: str) -> Any:
    """What the Status tab holds for a model value: dates as serials, like Google."""
    if hasattr(value, "year"):
        return pytest.approx(date_serial(value, tz), abs=1e-6)
    return value


@pytest.mark.skipif(not SAMPLE.exists(), reason="sample_data/case_log.xlsx is not there yet")
def test_sync_on_a_google_sheet_matches_the_excel_path(
    fake_sheets: FakeSheetsServer, tmp_path: Path
) -> None:
    sample = openpyxl.load_workbook(SAMPLE, read_only=True)
    cases_rows = [list(row) for row in sample["Cases"].iter_rows(values_only=True)]
    book = fake_sheets.add_spreadsheet(KEY, timezone="Asia/Shanghai")
    book.add_sheet("Cases", cases_rows)  # date cells become serials with a date format
    cases_before = dict(book.sheet("Cases").cells)

    google = Settings(
        log=f"https://docs.google.com/spreadsheets/d/{KEY}/edit",
        credentials=str(authorized_user_file(tmp_path)),
        now=NOW,
        http_client=fake_client_class(fake_sheets.url),
    )
    loaded = load(google)
    model, _ = status_model(loaded, google)
    result = write(loaded, [model])

    excel = Settings(log=str(SAMPLE), now=NOW)
    excel_model, _ = status_model(load(excel), excel)

    assert result.requests is not None and result.requests <= 4
    assert [r.kind for r in fake_sheets.log] == ["metadata", "values", "batchUpdate"]
    status = fake_sheets.book(KEY).sheet("Status")
    # Row 0 says when it was generated (the clock differs); every case row must match.
    assert len(excel_model.rows) == len(model.rows) > 10
    for r, row in enumerate(excel_model.rows[1:], start=1):
        for c, cell in enumerate(row):
            assert status.cell(r, c).value == sheet_value(cell.value, "Asia/Shanghai"), (r, c)
            assert status.cell(r, c).formula is None
            if cell.style is not None and cell.style.bg:
                expected = cell.style.bg.lstrip("#")
                got = status.cell(r, c).format["backgroundColor"]
                assert [round(got[k] * 255) for k in ("red", "green", "blue")] == [
                    int(expected[i : i + 2], 16) for i in (0, 2, 4)
                ]
    assert fake_sheets.book(KEY).sheet("Cases").cells == cases_before


@pytest.mark.skipif(not SAMPLE.exists(), reason="sample_data/case_log.xlsx is not there yet")
def test_the_commands_on_a_google_sheet_url(fake_sheets: FakeSheetsServer, tmp_path: Path) -> None:
    """`caseloop sync URL --credentials FILE` and `caseloop report`: the same rows as Excel."""
    from click.testing import CliRunner

    from caseloop.cli import main

    sample = openpyxl.load_workbook(SAMPLE, read_only=True)
    book = fake_sheets.add_spreadsheet(KEY, timezone="Asia/Shanghai")
    book.add_sheet("Cases", [list(row) for row in sample["Cases"].iter_rows(values_only=True)])
    cases_before = dict(book.sheet("Cases").cells)
    url = f"https://docs.google.com/spreadsheets/d/{KEY}/edit"
    creds = str(authorized_user_file(tmp_path))
    runner = CliRunner()
    obj = {"http_client": fake_client_class(fake_sheets.url)}

    result = runner.invoke(main, ["sync", url, "--credentials", creds, "--now", NOW], obj=obj)
    assert result.exit_code == 0, result.output
    assert "Wrote 'Status' (35 rows" in result.output
    assert [r.kind for r in fake_sheets.log] == ["metadata", "values", "batchUpdate"]
    out = tmp_path / "excel.xlsx"
    assert (
        runner.invoke(main, ["sync", str(SAMPLE), "--now", NOW, "--output", str(out)]).exit_code
        == 0
    )
    excel = openpyxl.load_workbook(out)["Status"]
    google = fake_sheets.book(KEY).sheet("Status")
    flag = [c.value for c in excel[2]].index("Flag")
    for r, row in enumerate(excel.iter_rows(min_row=3), start=2):
        assert [google.cell(r, c).value for c in (0, flag)] == [row[0].value, row[flag].value]
        assert google.cell(r, 0).format["backgroundColor"] is not None

    fake_sheets.clear_log()
    result = runner.invoke(main, ["report", url, "--credentials", creds, "--now", NOW], obj=obj)
    assert result.exit_code == 0, result.output
    assert len(fake_sheets.log) <= 4
    weekly = fake_sheets.book(KEY).sheet("Weekly Summary")
    assert str(weekly.cell(0, 0).value).startswith("Weekly Summary — 2026-W46")
    assert len(weekly.charts) == 1
    assert fake_sheets.book(KEY).sheet("Cases").cells == cases_before
    assert fake_sheets.book(KEY).sheet("Status").cell(2, 0).value == google.cell(2, 0).value
    validate = runner.invoke(
        main, ["validate", f"gsheet:{KEY}", "--credentials", creds, "--now", NOW], obj=obj
    )
    assert validate.exit_code == 1 and "Cases!B129: Opened At" in validate.output
