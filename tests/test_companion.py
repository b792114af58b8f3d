"""--to: the generated tabs go into a companion workbook of caseloop's own, so a log kept open in
Excel is only read. Real workbooks, read back with openpyxl and calamine."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner
from python_calamine import CalamineWorkbook

from caseloop.backends.xlsx import generated_tabs
from caseloop.cli import main

from caselog import HEADERS, NOW, case, write_xlsx
from fakesheets import FakeSheetsServer, fake_client_class
from hostile import authorized_user_file

pytest_plugins = ["fakesheets.fixtures"]

NOW_TEXT = NOW.isoformat(timespec="minutes")
LATER = "2026-11-23T09:00"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def invoke(*args: Any, obj: dict[str, Any] | None = None):
    return CliRunner().invoke(main, [str(a) for a in args], obj=obj)


@pytest.fixture
def open_log(tmp_path: Path) -> Path:
    """A case log that Excel has open: its ~$ owner file lies beside it."""
    log = write_xlsx(
        tmp_path / "team_log.xlsx",
        [case(), case(Priority="High"), case(Status="Resolved", Resolved_At=NOW)],
        extra_tabs={"Notes": [["our own notes"]]},
    )
    (tmp_path / "~$team_log.xlsx").write_bytes(b"\x00owner")
    return log


def test_sync_to_writes_a_fresh_companion_and_leaves_the_open_log_byte_identical(
    open_log, tmp_path
):
    before = sha(open_log)
    status = tmp_path / "status.xlsx"
    result = invoke("sync", open_log, "--to", status, "--now", NOW_TEXT)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Wrote 'Status' (3 rows: ON TRACK 2, RESOLVED 1")
    assert result.output.splitlines()[0].endswith(f" into {status}.")
    assert sha(open_log) == before
    assert not (tmp_path / ".caseloop-backup").exists()  # nothing of the log was replaced
    assert generated_tabs(status) == {
        "Status": "status",
        "History": "history",
    }  # only caseloop's tabs, marked
    book = openpyxl.load_workbook(status)
    assert book.sheetnames == ["Status", "History"]
    header = next(r for r in book["Status"].iter_rows(values_only=True) if "Flag" in r)
    assert "Case ID" in header
    calamine = CalamineWorkbook.from_path(str(status))
    assert calamine.sheet_names == ["Status", "History"]
    rows = calamine.get_sheet_by_name("Status").to_python()
    assert sum(1 for row in rows if "ON TRACK" in row) == 2


def test_a_second_sync_updates_the_companion_in_place_and_report_adds_its_tab(open_log, tmp_path):
    status = tmp_path / "status.xlsx"
    assert invoke("sync", open_log, "--to", status, "--now", NOW_TEXT).exit_code == 0
    first = sha(status)
    log_before = sha(open_log)
    result = invoke("sync", open_log, "--to", status, "--now", LATER)
    assert result.exit_code == 0, result.output
    assert sha(status) != first
    assert "Previous version kept as" in result.output  # the companion's own backup
    result = invoke("report", open_log, "--to", status, "--now", LATER)
    assert result.exit_code == 0, result.output
    assert generated_tabs(status) == {
        "Status": "status",
        "History": "history",
        "Weekly Summary": "weekly",
        "Answers": "answers",
    }
    book = openpyxl.load_workbook(status)
    assert book.sheetnames == ["Status", "History", "Weekly Summary", "Answers"]
    assert "2026-11-23 09:00" in str(book["Status"]["A1"].value)
    assert CalamineWorkbook.from_path(str(status)).sheet_names == [
        "Status",
        "History",
        "Weekly Summary",
        "Answers",
    ]
    assert sha(open_log) == log_before


def test_without_to_the_refusal_suggests_it(open_log):
    before = sha(open_log)
    result = invoke("sync", open_log, "--now", NOW_TEXT)
    assert result.exit_code == 2
    assert result.stderr.strip().endswith(
        "close it and run again, or let the log stay open and write the generated tabs into a "
        "companion workbook with --to status.xlsx."
    )
    assert sha(open_log) == before


def test_the_companion_open_in_excel_is_refused_without_suggesting_to(open_log, tmp_path):
    status = tmp_path / "status.xlsx"
    assert invoke("sync", open_log, "--to", status, "--now", NOW_TEXT).exit_code == 0
    (tmp_path / "~$status.xlsx").write_bytes(b"x")
    kept = sha(status)
    result = invoke("sync", open_log, "--to", status, "--now", LATER)
    assert result.exit_code == 2
    assert result.stderr == (
        f"caseloop: {status} is open in Excel or LibreOffice (lock file ~$status.xlsx); close the "
        "companion workbook and run again.\n"
    )
    assert sha(status) == kept


@pytest.mark.parametrize(
    "target, said",
    [
        ("team_log.xlsx", "is the case log itself"),
        ("team.xlsx", 'is a workbook caseloop did not make (it holds the tab "Plans")'),
        ("status.csv", "must end in .xlsx"),
        ("missing/status.xlsx", "the folder"),
        ("folder.xlsx", "is a folder or a device"),
        ("notes.xlsx", "is a workbook caseloop did not make"),
    ],
)
def test_to_a_place_caseloop_may_not_write_is_refused_and_nothing_changes(
    target, said, open_log, tmp_path
):
    write_xlsx(tmp_path / "team.xlsx", [], tab="Plans")
    (tmp_path / "folder.xlsx").mkdir()
    (tmp_path / "notes.xlsx").write_text("not a workbook")
    before = {p.name: sha(p) for p in tmp_path.iterdir() if p.is_file()}
    result = invoke("sync", open_log, "--to", tmp_path / target, "--now", NOW_TEXT)
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("caseloop: --to ") and said in lines[0]
    assert {p.name: sha(p) for p in tmp_path.iterdir() if p.is_file()} == before


def test_to_and_output_together_are_refused(open_log, tmp_path):
    result = invoke("sync", open_log, "--to", tmp_path / "s.xlsx", "--output", tmp_path / "o.xlsx")
    assert result.exit_code == 2
    assert "--to and --output both say where the tabs go" in result.stderr
    assert not (tmp_path / "s.xlsx").exists() and not (tmp_path / "o.xlsx").exists()


def test_a_workbook_holding_a_tab_caseloop_did_not_make_is_never_written(open_log, tmp_path):
    """A companion someone added a tab to is a team workbook from then on."""
    status = tmp_path / "status.xlsx"
    assert invoke("sync", open_log, "--to", status, "--now", NOW_TEXT).exit_code == 0
    book = openpyxl.load_workbook(status)
    book.create_sheet("Mine")
    book.save(status)
    kept = sha(status)
    result = invoke("sync", open_log, "--to", status, "--now", LATER)
    assert result.exit_code == 2 and '(it holds the tab "Mine")' in result.stderr
    assert sha(status) == kept


def test_a_google_log_with_to_is_read_from_google_and_the_companion_written(
    fake_sheets: FakeSheetsServer, tmp_path
):
    book = fake_sheets.add_spreadsheet("KEY15", timezone="Asia/Shanghai")
    book.add_sheet("Cases", [HEADERS, *[[c.get(h) for h in HEADERS] for c in (case(), case())]])
    creds = authorized_user_file(tmp_path / "user.json")
    status = tmp_path / "status.xlsx"
    obj = {"http_client": fake_client_class(fake_sheets.url)}
    result = invoke(
        "sync", "gsheet:KEY15", "--credentials", creds, "--to", status, "--now", NOW_TEXT, obj=obj
    )
    assert result.exit_code == 0, result.output
    assert fake_sheets.book("KEY15").titles() == ["Cases"]  # the Google Sheet was only read
    assert "batchUpdate" not in [r.kind for r in fake_sheets.log]
    assert openpyxl.load_workbook(status).sheetnames == ["Status", "History"]


def test_to_from_the_config_file_and_dry_run_writes_nothing(open_log, tmp_path, monkeypatch):
    (tmp_path / "caseloop.toml").write_text(
        '[[logs]]\nname = "team"\nlog = "team_log.xlsx"\nto = "status.xlsx"\n', encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    result = invoke("sync", "--dry-run", "--now", NOW_TEXT)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Would write the tab 'Status' into status.xlsx (3 rows")
    assert not (tmp_path / "status.xlsx").exists()
    result = invoke("sync", "--all", "--now", NOW_TEXT)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("team: Wrote 'Status' (3 rows")
    assert generated_tabs(tmp_path / "status.xlsx") == {"Status": "status", "History": "history"}
