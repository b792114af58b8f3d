"""Options out of range or empty get one sentence and exit 2, never "unexpected error"."""

import hashlib
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from caseloop.cli import main

from caselog import NOW, case, write_xlsx

NOW_TEXT = NOW.isoformat(timespec="minutes")
YEARS = "caseloop works with dates from 1900 to 2199"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def log(tmp_path):
    return write_xlsx(tmp_path / "log.xlsx", [case()])


def one_sentence(result, expected: str) -> None:
    assert result.exit_code == 2, result.output
    assert "unexpected error" not in result.output
    assert result.output == f"caseloop: {expected}\n"


@pytest.mark.parametrize(
    "now",
    [
        "9999-12-31",
        "2300-01-01",
        "2200-01-01T00:00",
        "0001-01-01",
        "1677-09-22",
        "1899-12-31T23:59",
        "2199-12-31T20:00-12:00",  # 2200-01-01 16:00 in Shanghai
        "9999-12-31T23:59+00:00",
        "0001-01-01T00:00+14:00",
    ],
)
@pytest.mark.parametrize("command", ["validate", "sync", "report"])
def test_now_out_of_range_is_one_sentence(log, command, now):
    before = digest(log)
    result = run(command, log, "--now", now)
    one_sentence(result, f'--now "{now}" is out of range: {YEARS}; give a time like {NOW_TEXT}.')
    assert digest(log) == before


@pytest.mark.parametrize("now", ["1900-01-01T00:00", "2199-12-31T23:59"])
def test_the_ends_of_the_range_work(tmp_path, now):
    log = write_xlsx(tmp_path / "log.xlsx", [case()])
    assert run("sync", log, "--now", now).exit_code == 0
    result = run("report", log, "--now", now)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    "week, expected",
    [
        ("1677-W01", f'--week "1677-W01" is out of range: {YEARS}; choose a week like 2026-W47.'),
        ("0000-W01", f'--week "0000-W01" is out of range: {YEARS}; choose a week like 2026-W47.'),
        ("1899-W52", f'--week "1899-W52" is out of range: {YEARS}; choose a week like 2026-W47.'),
        ("2026-W54", "2026 has no week 54; its ISO weeks run 2026-W01 to 2026-W53."),
        ("2026-W00", "2026 has no week 0; its ISO weeks run 2026-W01 to 2026-W53."),
        ("", '--week "" is not an ISO week; write it like 2026-W47.'),
        ("2026-W99999", '--week "2026-W99999" is not an ISO week; write it like 2026-W47.'),
    ],
)
def test_week_out_of_range_is_one_sentence(log, week, expected):
    before = digest(log)
    one_sentence(run("report", log, "--week", week, "--now", NOW_TEXT), expected)
    assert digest(log) == before


@pytest.mark.parametrize("command", ["validate", "sync", "report"])
@pytest.mark.parametrize("sheet", ["", "   "])
def test_an_empty_sheet_name_is_not_the_default(log, command, sheet):
    before = digest(log)
    one_sentence(
        run(command, log, "--sheet", sheet, "--now", NOW_TEXT),
        f'--sheet "{sheet}" names no tab; give the case tab\'s name, or leave --sheet out '
        "to use Cases (or 案例).",
    )
    assert digest(log) == before


@pytest.mark.parametrize("command", ["sync", "report"])
@pytest.mark.parametrize("output", ["", "  "])
def test_an_empty_output_never_means_in_place(log, command, output):
    before = digest(log)
    one_sentence(
        run(command, log, "--output", output, "--now", NOW_TEXT),
        "--output is empty; give the path of the copy to write, or leave --output out to "
        "update the log itself.",
    )
    assert digest(log) == before


def test_an_empty_markdown_path_is_refused_before_anything_is_written(log):
    before = digest(log)
    one_sentence(
        run("report", log, "--markdown", "", "--now", NOW_TEXT),
        "--markdown is empty; give the path of the Markdown file, - to print it, or leave "
        "--markdown out.",
    )
    assert digest(log) == before


# 📊 is one character to Python but two UTF-16 code units to Excel.
@pytest.mark.parametrize("option", ["--status-tab", "--report-tab"])
def test_tab_names_are_counted_in_utf16_units_as_excel_does(log, option):
    command = "sync" if option == "--status-tab" else "report"
    before = digest(log)
    too_long = "📊" * 16  # 16 characters, 32 units
    result = run(command, log, option, too_long, "--now", NOW_TEXT)
    assert result.exit_code == 2
    assert (
        f'"{too_long}" cannot name a tab: it is 32 characters long as Excel counts them '
        "(an emoji counts as two); Excel allows 31." in result.output
    )
    assert digest(log) == before
    fits = "📊" * 15 + "A"  # 31 units
    result = run(command, log, option, fits, "--now", NOW_TEXT)
    assert result.exit_code == 0, result.output
    assert fits in openpyxl.load_workbook(log, read_only=True).sheetnames


def test_tab_names_with_control_characters_are_refused_and_joined_emoji_kept(log):
    result = run("sync", log, "--status-tab", "Status\x07", "--now", NOW_TEXT)
    assert result.exit_code == 2
    assert "cannot name a tab: it holds characters that are not printable text." in result.output
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467 board"  # joined by zero-width joiners
    result = run("sync", log, "--status-tab", family, "--now", NOW_TEXT)
    assert result.exit_code == 0, result.output
    assert family in openpyxl.load_workbook(log, read_only=True).sheetnames
