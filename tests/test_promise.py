"""README, "What caseloop changes in your spreadsheet": the sentences no other test checks."""

from __future__ import annotations

import shutil
from pathlib import Path

import openpyxl

from caseloop.backends.xlsx.workbook_part import generated_tabs

from caselog import case, write_xlsx
from hostile import NOW_TEXT, assert_one_sentence, run, sheet_parts


def _sheet_part(path: Path, tab: str) -> bytes:
    return sheet_parts(path, [tab])[tab]


def test_report_tab_name_and_chinese_tab_names(tmp_path: Path) -> None:
    log = write_xlsx(
        tmp_path / "case_log.xlsx",
        [case()],
        extra_tabs={"Weekly Summary": [["the team's own weekly notes"]]},
    )
    # The team's own "Weekly Summary" is refused, and --report-tab writes another name.
    assert_one_sentence(run("report", log, "--now", NOW_TEXT), "--report-tab NAME")
    assert run("report", log, "--now", NOW_TEXT, "--report-tab", "Weekly (caseloop)").exit_code == 0
    # In Chinese, caseloop's report tab keeps the name someone gave it: no 周报 beside it.
    assert run("report", log, "--now", NOW_TEXT, "--lang", "zh").exit_code == 0
    assert run("sync", log, "--now", NOW_TEXT, "--lang", "zh").exit_code == 0
    book = openpyxl.load_workbook(log)
    # The Answers tab had its default name, so it follows the language.
    assert book.sheetnames == [
        "Cases",
        "Weekly Summary",
        "Weekly (caseloop)",
        "答疑库",
        "状态",
        "历史",
    ]
    assert generated_tabs(log) == {
        "Weekly (caseloop)": "weekly",
        "答疑库": "answers",
        "历史": "history",
        "状态": "status",
    }
    assert book["Weekly Summary"]["A1"].value == "the team's own weekly notes"


def test_a_second_run_replaces_its_tab_in_place_and_leaves_the_other_alone(
    tmp_path: Path,
) -> None:
    log = write_xlsx(tmp_path / "case_log.xlsx", [case()], extra_tabs={"Lists": [["x"]]})
    assert run("sync", log, "--now", NOW_TEXT).exit_code == 0
    assert run("report", log, "--now", NOW_TEXT).exit_code == 0
    book = openpyxl.load_workbook(log)
    order = book.sheetnames
    assert order == ["Cases", "Lists", "Status", "History", "Weekly Summary", "Answers"]
    weekly = _sheet_part(log, "Weekly Summary")
    assert run("sync", log, "--now", "2026-11-20T19:00").exit_code == 0
    assert openpyxl.load_workbook(log).sheetnames == order
    assert _sheet_part(log, "Weekly Summary") == weekly, "sync left the Weekly Summary alone"
    status = _sheet_part(log, "Status")
    assert run("report", log, "--now", "2026-11-20T19:00").exit_code == 0
    assert _sheet_part(log, "Status") == status, "report left the Status tab alone"


def test_a_backup_copied_back_restores_the_previous_version(tmp_path: Path) -> None:
    log = write_xlsx(tmp_path / "case_log.xlsx", [case()])
    original = log.read_bytes()
    result = run("sync", log, "--now", NOW_TEXT)
    assert result.exit_code == 0
    backups = list((tmp_path / ".caseloop-backup").glob("case_log-*.xlsx"))
    assert len(backups) == 1 and f"Previous version kept as {backups[0]}" in result.output
    shutil.copy(backups[0], log)  # what the README tells a team to do
    assert log.read_bytes() == original
    assert openpyxl.load_workbook(log).sheetnames == ["Cases"]


def test_output_writes_a_copy_and_needs_no_backup(tmp_path: Path) -> None:
    log = write_xlsx(tmp_path / "case_log.xlsx", [case()])
    original = log.read_bytes()
    result = run("sync", log, "--now", NOW_TEXT, "--output", tmp_path / "copy.xlsx")
    assert result.exit_code == 0 and "Previous version" not in result.output
    assert log.read_bytes() == original
    assert not (tmp_path / ".caseloop-backup").exists()
    assert "Status" in openpyxl.load_workbook(tmp_path / "copy.xlsx").sheetnames
