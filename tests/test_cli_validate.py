"""`caseloop validate` through Click's CliRunner: messages, JSON and exit codes."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from caseloop.cli import main
from caseloop.schema import load_schema

from caselog import case, write_xlsx

SAMPLE = Path(__file__).parents[1] / "sample_data"
NOW = "2026-11-20T18:00"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_sample_log_names_its_two_invalid_rows(tmp_path):
    result = run("validate", SAMPLE / "case_log.xlsx", "--now", NOW)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith('error   Cases!E128: Channel "Seller Forums" is not one of')
    assert (
        lines[1]
        == 'error   Cases!B129: Opened At "2026/13/02" is not a date; use a date cell or text like 2026-11-20 09:30.'
    )
    assert lines[2].startswith("warning Cases!X124")
    # A Follow-ups typed as "两三次" is a warning: the row is still judged (DEADLINE).
    assert lines[3].startswith('warning Cases!O132: Follow-ups "两三次" is not a whole number')
    assert lines[-1] == "137 cases in Cases (header row 4): 2 error(s) in 2 row(s), 2 warning(s)."


def test_clean_log_exits_0_and_warnings_only_too(tmp_path):
    log = write_xlsx(tmp_path / "ok.xlsx", [case(), case()])
    assert run("validate", log, "--now", NOW).exit_code == 0
    warn = write_xlsx(tmp_path / "warn.xlsx", [case(Case_ID="PH-0001")])
    result = run("validate", warn, "--now", NOW)
    assert result.exit_code == 0 and "warning Cases!A2" in result.output


def test_json_format(tmp_path):
    log = write_xlsx(tmp_path / "bad.xlsx", [case(), case(Opened_At="2026/13/02")])
    result = run("validate", log, "--now", NOW, "--format", "json")
    assert result.exit_code == 1
    doc = json.loads(result.output)
    assert doc["cases"] == 2 and doc["invalid_rows"] == 1
    assert doc["errors"] == [
        {
            "severity": "error",
            "code": "not-a-date",
            "cell": "Cases!G3",
            "row": 3,
            "column": "Opened At",
            "message": 'Opened At "2026/13/02" is not a date; use a date cell or text like 2026-11-20 09:30.',
        }
    ]


def test_chinese_sample_log(tmp_path):
    # A Chinese header: the answer is in Chinese and names the columns as the header does.
    result = run("validate", SAMPLE / "case_log_zh.xlsx", "--now", NOW)
    assert result.exit_code == 1
    assert "错误  '案例'!B129：「提交时间」填的「2026/13/02」不是日期；" in result.output
    assert "Opened At" not in result.output
    forced = run("validate", SAMPLE / "case_log_zh.xlsx", "--now", NOW, "--lang", "en")
    assert "'案例'!B129: 提交时间 \"2026/13/02\" is not a date" in forced.output


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p / "missing.xlsx", "does not exist; check the path."),
        (lambda p: _write(p / "empty.xlsx", b""), "is empty (0 bytes)"),
        (
            lambda p: _write(p / "text.xlsx", b"hello, this is not a workbook"),
            "is not an Excel workbook",
        ),
        (
            lambda p: _write(p / "old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 500),
            "legacy .xls workbook",
        ),
        (
            lambda p: _write(p / "locked.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 500),
            "password-protected",
        ),
        (lambda p: _truncated(p), "damaged or not a complete .xlsx"),
        (lambda p: p, "is a folder, not a workbook"),
        (lambda p: _write(p / "log.txt", b"x"), "is not a case log caseloop can open"),
    ],
)
def test_unreadable_files_exit_2_with_one_sentence(tmp_path, make, message):
    target = make(tmp_path)
    if target == tmp_path:
        target = tmp_path / "folder.xlsx"
        target.mkdir()
    result = run("validate", target)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_no_cases_tab_lists_the_tabs(tmp_path):
    log = write_xlsx(tmp_path / "log.xlsx", [case()], tab="Sheet1", extra_tabs={"Lists": [["a"]]})
    result = run("validate", log)
    assert result.exit_code == 2
    assert (
        'has no tab "Cases" (or "案例"); the tabs are "Sheet1", "Lists". Name the case tab Cases, or pass --sheet NAME.'
        in result.output
    )
    assert run("validate", log, "--sheet", "sheet1", "--now", NOW).exit_code == 0


def test_missing_required_column_exits_2(tmp_path):
    headers = ["Case ID", "Marketplace", "Category", "Channel", "Status", "Opened At"]
    log = write_xlsx(tmp_path / "log.xlsx", [case()], headers=headers)
    result = run("validate", log)
    assert result.exit_code == 2
    assert "has no column Summary in its header row 1" in result.output


def test_csv_export_can_be_validated(tmp_path):
    log = tmp_path / "cases.csv"
    log.write_text(
        "Case ID,Marketplace,Category,Channel,Status,Opened At,Summary\n"
        "12345678901,US,Listing,Case,Open,2026-11-20 09:00,x\n"
        "12345678902,US,Listing,Case,Open,2026/13/02,y\n",
        encoding="utf-8",
    )
    result = run("validate", log, "--now", NOW)
    assert result.exit_code == 1
    assert "cases!F3: Opened At" in result.output


def test_bad_now_and_bad_rules_file(tmp_path):
    log = write_xlsx(tmp_path / "log.xlsx", [case()])
    result = run("validate", log, "--now", "tomorrow")
    assert result.exit_code == 2 and '--now "tomorrow" is not a date and time' in result.output
    rules = tmp_path / "rules.yaml"
    rules.write_text("timezone: [unclosed\n", encoding="utf-8")
    result = run("validate", log, "--rules", rules)
    assert result.exit_code == 2 and "is not valid YAML at line" in result.output
    result = run("validate", log, "--rules", tmp_path / "nope.yaml")
    assert result.exit_code == 2 and "nope.yaml does not exist; check --rules." in result.output


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _truncated(tmp_path: Path) -> Path:
    full = write_xlsx(tmp_path / "full.xlsx", [case() for _ in range(50)])
    data = full.read_bytes()
    return _write(tmp_path / "truncated.xlsx", data[: len(data) // 2])


def test_error_cells_anywhere_in_a_large_sheet_are_found(tmp_path):
    """The sheet XML is scanned in chunks: error cells on every side of a chunk edge count."""
    import xlsxwriter

    from caseloop.backends.xlsx.workbook import ExcelWorkbook

    path = tmp_path / "big.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Cases")
    sheet.write_row(
        0,
        0,
        [*load_schema().required, "Owner"],
    )
    errors = set(range(1, 30_000, 997))
    for r in range(1, 30_000):
        sheet.write_row(
            r,
            0,
            [str(12000000000 + r), "US", "Listing", "Case", "Open", "2026-11-20 09:00", "x" * 40],
        )
        if r in errors:
            sheet.write_formula(r, 7, "=NA()", None, "#N/A")
    book.close()
    grid = ExcelWorkbook(path).read_tab("Cases")
    found = {r for r, row in enumerate(grid.rows) if str(row[7]) == "#N/A"}
    assert found == errors and grid.has_error_cells
    clean = write_xlsx(tmp_path / "clean.xlsx", [case()])
    assert not ExcelWorkbook(clean).read_tab("Cases").has_error_cells
