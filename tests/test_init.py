"""`caseloop init`: a new case log a team can start typing in (Excel, LibreOffice, Google Sheets)
and a copy of the rules to tune. Real files read back by openpyxl, the real CLI, the fake Sheets
API through real gspread, LibreOffice headless where installed."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import yaml
from click.testing import CliRunner
from libreoffice import LibreOffice, available

from caseloop.cli import main
from caseloop.config import load_labels, load_rules
from caseloop.datafiles import DEFAULT_RULES
from caseloop.newlog import LAST_ROW, LIST_LAST_ROW, describe, split_names
from caseloop.schema import load_schema, normalize_label

from fakesheets import FakeSheetsServer, fake_client_class
from hostile import authorized_user_file as hostile_credentials

pytest_plugins = ["fakesheets.fixtures"]

SCHEMA = load_schema()
RULES = load_rules()
LABELS = yaml.safe_load((DEFAULT_RULES.parent / "labels.yaml").read_text(encoding="utf-8"))
NOW = "2026-11-20T18:00"
ENUMS = ("Marketplace", "Category", "Channel", "Priority", "Status", "Deadline Type")
DATES = [f.name for f in SCHEMA.fields if f.type == "datetime"]
KEY = "1NewSheetKey_caseloop"
needs_libreoffice = pytest.mark.skipif(not available(), reason="LibreOffice is not installed")


def run(*args: Any, obj: Any = None) -> Any:
    return CliRunner().invoke(main, [str(a) for a in args], obj=obj)


def letter(index: int) -> str:
    return openpyxl.utils.get_column_letter(index + 1)


def column_dimension(ws: Any, index: int) -> Any:
    """The <col> element covering 0-based column ``index`` (Excel groups equal neighbours)."""
    return next(d for d in ws.column_dimensions.values() if d.min <= index + 1 <= d.max)


def validations(ws: Any) -> dict[str, Any]:
    """The data validations of a tab by their cell range (sqref)."""
    return {str(dv.sqref): dv for dv in ws.data_validations.dataValidation}


def list_values(book: Any, formula: str) -> list[str]:
    """The values a dropdown offers: the filled cells of the Lists column its formula names."""
    assert formula.startswith("OFFSET(")
    sheet, cell = formula[len("OFFSET(") :].split(",")[0].split("!")
    column = openpyxl.utils.column_index_from_string(cell.split("$")[1])
    ws = book[sheet.strip("'")]
    cells = [ws.cell(r, column).value for r in range(2, LIST_LAST_ROW + 1)]
    return [c for c in cells if c is not None]


def type_row(path: Path, values: dict[str, Any], lang: str = "en", row: int = 2) -> None:
    """Write a case into the new log with openpyxl, under the header's own column names."""
    book = openpyxl.load_workbook(path)
    ws = book.worksheets[0]
    header = [c.value for c in ws[1]]
    for name, value in values.items():
        field = SCHEMA.field(name)
        ws.cell(row, header.index(field.zh if lang == "zh" else field.name) + 1, value)
    book.save(path)


def status_flags(path: Path, tab: str = "Status") -> list[str]:
    ws = openpyxl.load_workbook(path)[tab]
    header = [c.value for c in ws[2]]
    flag = header.index(LABELS["status_columns"]["flag"]["zh" if tab == "状态" else "en"])
    return [row[flag] for row in ws.iter_rows(min_row=3, values_only=True)]


OVERDUE_CASE = {
    "Case ID": "12345678901",
    "Marketplace": "US",
    "Category": "Advertising",
    "Channel": "Case",
    "Status": "Open",
    "Opened At": dt.datetime(2026, 11, 18, 9, 0),  # 57 h before NOW: past the case's 24 h
    "Follow-ups": 0,
    "Owner": "Li",
    "Summary": "Campaign stuck in review",
}


# --- the Excel log -----------------------------------------------------------------------------


def test_an_english_log_has_the_schema_header_dropdowns_checks_and_help(tmp_path: Path) -> None:
    path = tmp_path / "new.xlsx"
    result = run("init", path, "--stores", "Store A, Store B", "--owners", "Li,Wang")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Created {path}: the Cases tab (24 columns")
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Cases", "Lists", "How to"]
    ws = book["Cases"]
    assert [c.value for c in ws[1]] == [f.name for f in SCHEMA.fields]
    assert ws.freeze_panes == "A2"
    checks = validations(ws)
    for c, f in enumerate(SCHEMA.fields):
        col = letter(c)
        # The header cell's input message says what goes there, in the log's language.
        help_text = checks[f"{col}1"]
        assert help_text.promptTitle == f.name and help_text.showInputMessage
        assert help_text.prompt == LABELS["init_hints"][f.name]["en"]
        assert column_dimension(ws, c).width >= len(f.name)
        below = checks.get(f"{col}2:{col}{LAST_ROW}")
        if f.name in ENUMS:
            assert below.type == "list" and below.errorStyle in (None, "stop")
            wanted = list(RULES.zh_labels[f.name])
            if f.name == "Status":
                wanted += list(RULES.status_label_zh)
            assert list_values(book, below.formula1) == wanted, f.name
        elif f.name in ("Store", "Owner"):
            # A name not yet on the list is a warning, not a refusal: the team grows.
            assert below.type == "list" and below.errorStyle == "warning"
            names = ["Store A", "Store B"] if f.name == "Store" else ["Li", "Wang"]
            assert list_values(book, below.formula1) == names
        elif f.type == "datetime":
            # Between 2000-01-01 and 2099-12-31 (serials; "between" is the default operator).
            assert (below.type, below.operator) == ("date", None)
            assert (below.formula1, below.formula2) == ("36526", "73050")
            assert column_dimension(ws, c).number_format == "yyyy-mm-dd hh:mm"
        elif f.type == "integer":
            assert (below.type, below.operator, below.formula1) == (
                "whole",
                "greaterThanOrEqual",
                "0",
            )
        else:
            assert below is None, f.name
    # 11-digit case IDs stay text, not 1.23E+10.
    assert column_dimension(ws, 0).number_format == "@"
    howto = book["How to"]
    texts = [c for row in howto.iter_rows(values_only=True) for c in row if c]
    for item in LABELS["init_checklist"].values():
        assert item["en"] in texts
    for name, meaning in LABELS["init_flags"].items():
        assert name in texts and meaning["en"] in texts
    # Each flag is shown in its Status-tab colour.
    overdue = next(row[0] for row in howto.iter_rows() if row[0].value == "OVERDUE")
    assert overdue.fill.fgColor.rgb.endswith(RULES.flags["OVERDUE"].color.lstrip("#"))


def test_the_new_log_validates_clean_and_a_typed_row_syncs_with_its_flag(tmp_path: Path) -> None:
    path = tmp_path / "new.xlsx"
    assert run("init", path, "--owners", "Li").exit_code == 0
    result = run("validate", path, "--now", NOW)
    assert result.exit_code == 0, result.output
    assert (
        result.output == "0 cases in Cases (header row 1): 0 error(s) in 0 row(s), 0 warning(s).\n"
    )
    type_row(path, OVERDUE_CASE)
    result = run("validate", path, "--now", NOW)
    assert result.exit_code == 0 and "0 error(s) in 0 row(s), 0 warning(s)" in result.output
    result = run("sync", path, "--now", NOW)
    assert result.exit_code == 0, result.output
    assert status_flags(path) == ["OVERDUE"]
    # The Lists and How to tabs are the team's now: sync left them as they were.
    assert openpyxl.load_workbook(path).sheetnames == [
        "Cases",
        "Lists",
        "How to",
        "Status",
        "History",
    ]


def test_a_chinese_log_offers_chinese_values_that_caseloop_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "new.xlsx"
    result = run("init", path, "--lang", "zh", "--stores", "店铺A,店铺B", "--owners", "李，王")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"已创建 {path}：「案例」工作表（24 列")
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["案例", "列表", "说明"]
    ws = book["案例"]
    assert [c.value for c in ws[1]] == [f.zh for f in SCHEMA.fields]
    checks = validations(ws)
    assert checks["A1"].prompt == LABELS["init_hints"]["Case ID"]["zh"]
    for c, f in enumerate(SCHEMA.fields):
        col = letter(c)
        if f.name not in ENUMS:
            continue
        values = list_values(book, checks[f"{col}2:{col}{LAST_ROW}"].formula1)
        # Every value offered is one the reader turns into its canonical English value.
        read = [RULES.vocab[f.name].get(normalize_label(v)) for v in values]
        assert None not in read, (f.name, values)
        assert read[: len(RULES.zh_labels[f.name])] == list(RULES.zh_labels[f.name])
    assert list_values(book, checks[f"C2:C{LAST_ROW}"].formula1) == ["店铺A", "店铺B"]
    assert "美国" in list_values(book, checks[f"B2:B{LAST_ROW}"].formula1)
    howto = [c for row in book["说明"].iter_rows(values_only=True) for c in row if c]
    assert LABELS["init_checklist"]["ids"]["zh"] in howto and "亚马逊超时" in howto

    assert run("validate", path, "--now", NOW).output == (
        "「案例」共 0 个案例（表头在第 1 行）：0 行共 0 个错误，0 个警告。\n"
    )
    zh_case = {
        **OVERDUE_CASE,
        "Marketplace": "美国",
        "Category": "广告",
        "Channel": "工单",
        "Status": "处理中",
        "Priority": "中",
        "Deadline Type": "其他",
        "Store": "店铺A",
        "Owner": "李",
        "Summary": "广告活动审核卡住",
    }
    type_row(path, zh_case, lang="zh")
    result = run("validate", path, "--now", NOW)
    assert result.exit_code == 0 and "0 行共 0 个错误，0 个警告" in result.output, result.output
    assert run("sync", path, "--now", NOW).exit_code == 0
    assert status_flags(path, "状态") == ["亚马逊超时"]


def test_marketplaces_and_lists_typed_with_chinese_commas(tmp_path: Path) -> None:
    assert split_names("店铺A，店铺B、店铺C, 店铺A ,") == ("店铺A", "店铺B", "店铺C")
    path = tmp_path / "new.xlsx"
    result = run("init", path, "--lang", "zh", "--marketplaces", "US，英国站、de")
    assert result.exit_code == 0, result.output
    book = openpyxl.load_workbook(path)
    formula = validations(book["案例"])[f"B2:B{LAST_ROW}"].formula1
    assert list_values(book, formula) == ["美国", "英国", "德国"]
    # No --stores: the Store dropdown is empty until the team fills the Lists column.
    assert list_values(book, validations(book["案例"])[f"C2:C{LAST_ROW}"].formula1) == []


@needs_libreoffice
def test_a_row_typed_in_libreoffice_syncs(tmp_path: Path) -> None:
    """LibreOffice opens the new log, a person types a case into it, saves it as .xlsx."""
    path = tmp_path / "new.xlsx"
    assert run("init", path).exit_code == 0
    header = [f.name for f in SCHEMA.fields]
    steps = [
        f"type|Cases|{letter(header.index(name))}2|{value}"
        for name, value in {
            "Case ID": "12345678901",
            "Marketplace": "US",
            "Category": "Advertising",
            "Channel": "Case",
            "Status": "Open",
            "Opened At": "2026-11-18 09:00",
            "Follow-ups": "0",
            "Summary": "Campaign stuck in review",
        }.items()
    ]
    typed = tmp_path / "typed.xlsx"
    LibreOffice(tmp_path / "lo").edit(path, typed, *steps)
    book = openpyxl.load_workbook(typed)
    # LibreOffice keeps the dropdowns and the date format.
    assert book["Cases"]["H2"].value == dt.datetime(2026, 11, 18, 9, 0)
    assert any(
        dv.type == "list" and "OFFSET(" in dv.formula1
        for dv in book["Cases"].data_validations.dataValidation
    )
    result = run("validate", typed, "--now", NOW)
    assert result.exit_code == 0 and "0 error(s) in 0 row(s), 0 warning(s)" in result.output
    assert run("sync", typed, "--now", NOW).exit_code == 0
    assert status_flags(typed) == ["OVERDUE"]


# --- refusals ----------------------------------------------------------------------------------


def test_an_existing_file_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "log.xlsx"
    path.write_bytes(b"the team's workbook")
    result = run("init", path)
    assert result.exit_code == 2
    assert result.output == (
        f"caseloop: {path} already exists; caseloop init never writes over a file, and changed "
        "nothing. Choose a new name or move the file away.\n"
    )
    assert path.read_bytes() == b"the team's workbook"
    zh = run("init", path, "--lang", "zh")
    assert zh.exit_code == 2 and "已存在" in zh.output


@pytest.mark.parametrize("name", ["new.xls", "new.xlsm", "new.csv", "new"])
def test_a_path_that_is_not_xlsx_is_refused(tmp_path: Path, name: str) -> None:
    result = run("init", tmp_path / name)
    assert result.exit_code == 2
    assert "is not an .xlsx file name" in result.output and len(result.output.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_language_a_missing_folder_or_marketplace_is_refused(tmp_path: Path) -> None:
    result = run("init", tmp_path / "new.xlsx", "--lang", "fr")
    assert result.exit_code == 2 and "'fr' is not one of 'en', 'zh'" in result.output
    result = run("init", tmp_path / "missing" / "new.xlsx")
    assert result.exit_code == 2 and "The folder" in result.output
    result = run("init", tmp_path / "new.xlsx", "--marketplaces", "US,Mars")
    assert result.exit_code == 2 and '"Mars", which is not a marketplace' in result.output
    result = run("init")
    assert result.exit_code == 2 and "Give the new log" in result.output
    assert list(tmp_path.iterdir()) == []


# --- the rules copy ----------------------------------------------------------------------------


def test_a_rules_copy_is_commented_loads_as_rules_and_is_never_overwritten(tmp_path: Path) -> None:
    copy = tmp_path / "team_rules.yaml"
    result = run("init", "--rules", copy)
    assert result.exit_code == 0, result.output
    text = copy.read_text(encoding="utf-8")
    assert text.startswith("# A copy of caseloop's default rules")
    assert text.endswith(DEFAULT_RULES.read_text(encoding="utf-8"))
    assert yaml.safe_load(text) == yaml.safe_load(DEFAULT_RULES.read_text(encoding="utf-8"))
    log = tmp_path / "new.xlsx"
    assert run("init", log).exit_code == 0
    type_row(log, OVERDUE_CASE)
    result = run("validate", log, "--rules", copy, "--now", NOW)
    assert result.exit_code == 0 and "1 cases in Cases" in result.output, result.output
    # A tuned copy is used: a 72 h reply target makes the same case due soon, not overdue.
    # (Another file: rules files are cached by path within this test process.)
    tuned = tmp_path / "tuned.yaml"
    tuned.write_text(text.replace("  Case: 24\n", "  Case: 72\n", 1), encoding="utf-8")
    assert run("sync", log, "--rules", tuned, "--now", NOW).exit_code == 0
    assert status_flags(log) == ["DUE SOON"]
    # Existing: refused, and a log asked for in the same command is not created either.
    before = copy.read_bytes()
    result = run("init", tmp_path / "other.xlsx", "--rules", copy)
    assert result.exit_code == 2 and "already exists" in result.output
    assert copy.read_bytes() == before and not (tmp_path / "other.xlsx").exists()


# --- Google Sheets -----------------------------------------------------------------------------


def authorized_user_file(tmp_path: Path) -> Path:
    # A token google-auth takes as valid until 2999: no refresh, and the fake accepts "test".
    return hostile_credentials(tmp_path / "authorized_user.json")


def test_google_init_adds_the_same_log_in_one_batch_update(
    fake_sheets: FakeSheetsServer, tmp_path: Path
) -> None:
    book = fake_sheets.add_spreadsheet(KEY)
    book.add_sheet("Sheet1")
    creds = authorized_user_file(tmp_path)
    obj = {"http_client": fake_client_class(fake_sheets.url)}
    args = ["--lang", "zh", "--stores", "店铺A,店铺B", "--owners", "李,王", "--credentials", creds]
    result = run("init", f"gsheet:{KEY}", *args, obj=obj)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"已设置 https://docs.google.com/spreadsheets/d/{KEY}：")
    assert [r.kind for r in fake_sheets.log] == ["metadata", "batchUpdate"]
    book = fake_sheets.book(KEY)
    assert book.titles() == ["案例", "列表", "说明", "Sheet1"]
    cases, lists = book.sheet("案例"), book.sheet("列表")
    assert cases.values() == [[f.zh for f in SCHEMA.fields]]
    assert cases.frozen_rows == 1 and cases.row_count == LAST_ROW
    assert cases.cell("A1").note == LABELS["init_hints"]["Case ID"]["zh"]
    assert cases.cell("A2").format == {"numberFormat": {"type": "TEXT"}}
    assert cases.cell(f"H{LAST_ROW}").format["numberFormat"]["type"] == "DATE_TIME"
    for c, f in enumerate(SCHEMA.fields):
        rule = cases.cell(1, c).validation
        assert rule == cases.cell(LAST_ROW - 1, c).validation  # rows 2 to the last
        if f.name in ENUMS or f.name in ("Store", "Owner"):
            assert rule["condition"]["type"] == "ONE_OF_RANGE"
            assert rule["strict"] is (f.name not in ("Store", "Owner"))
        elif f.type == "datetime":
            assert rule["condition"]["type"] == "DATE_BETWEEN"
        elif f.type == "integer":
            assert rule["condition"] == {
                "type": "CUSTOM_FORMULA",
                "values": [{"userEnteredValue": "=AND(ISNUMBER(L2),L2>=0,L2=INT(L2))"}],
            }
        else:
            assert rule is None
    # The Lists tab holds what the Excel log's does: one description, two writers.
    excel = tmp_path / "same.xlsx"
    assert run("init", excel, *args[:-2]).exit_code == 0
    excel_lists = [
        list(r) for r in openpyxl.load_workbook(excel)["列表"].iter_rows(values_only=True)
    ]
    assert lists.values() == excel_lists
    assert book.sheet("说明").values()[0] == [LABELS["init"]["howto_title"]["zh"], None]

    # The team types a case in the browser; validate and sync read it.
    for name, value in {
        "Case ID": "12345678901",
        "Marketplace": "美国",
        "Category": "广告",
        "Channel": "工单",
        "Status": "处理中",
        "Opened At": dt.datetime(2026, 11, 18, 9, 0),
        "Follow-ups": 0,
        "Summary": "广告活动审核卡住",
    }.items():
        col = letter([f.name for f in SCHEMA.fields].index(name))
        book.put("案例", f"{col}2", value)
    result = run("validate", f"gsheet:{KEY}", "--credentials", creds, "--now", NOW, obj=obj)
    assert result.exit_code == 0 and "0 行共 0 个错误，0 个警告" in result.output, result.output
    result = run("sync", f"gsheet:{KEY}", "--credentials", creds, "--now", NOW, obj=obj)
    assert result.exit_code == 0, result.output
    assert fake_sheets.book(KEY).sheet("状态").value("N3") == "亚马逊超时"


@pytest.mark.parametrize("existing", ["cases", "案例", "CASES"])
def test_google_init_refuses_a_sheet_with_a_case_tab(
    fake_sheets: FakeSheetsServer, tmp_path: Path, existing: str
) -> None:
    book = fake_sheets.add_spreadsheet(KEY)
    book.add_sheet(existing, [["Case ID"], ["12345678901"]])
    before = book.sheet(existing).cells.copy()
    obj = {"http_client": fake_client_class(fake_sheets.url)}
    creds = authorized_user_file(tmp_path)
    result = run("init", f"gsheet:{KEY}", "--credentials", creds, obj=obj)
    assert result.exit_code == 2
    assert result.output == (
        f'caseloop: The Google Sheet already has a case tab "{existing}"; caseloop init sets up '
        "only a sheet without one, and changed nothing.\n"
    )
    assert [r.kind for r in fake_sheets.log] == ["metadata"]
    assert fake_sheets.book(KEY).titles() == [existing]
    assert fake_sheets.book(KEY).sheet(existing).cells == before


def test_google_init_refuses_a_taken_lists_tab(
    fake_sheets: FakeSheetsServer, tmp_path: Path
) -> None:
    fake_sheets.add_spreadsheet(KEY).add_sheet("lists")
    obj = {"http_client": fake_client_class(fake_sheets.url)}
    result = run("init", f"gsheet:{KEY}", "--credentials", authorized_user_file(tmp_path), obj=obj)
    assert result.exit_code == 2 and 'already has a tab "lists"' in result.output
    assert [r.kind for r in fake_sheets.log] == ["metadata"]


def test_the_fake_checks_data_validation_rules_as_google_does(
    fake_sheets: FakeSheetsServer, tmp_path: Path
) -> None:
    """The fake refuses a rule Google refuses, so the tests above cannot pass on a bad one."""
    import gspread

    from caseloop.backends.gsheets import load_credentials
    from caseloop.backends.gsheets.new_log import init_requests

    fake_sheets.add_spreadsheet(KEY)
    log = describe(SCHEMA, RULES, load_labels(), "en")
    requests = init_requests(log, set())
    bad = json.loads(json.dumps(requests))
    rule = next(r for r in bad if "setDataValidation" in r)["setDataValidation"]["rule"]
    rule["condition"]["values"] = []  # ONE_OF_RANGE without its range
    credentials = load_credentials(str(authorized_user_file(tmp_path))).credentials
    client = gspread.Client(auth=credentials, http_client=fake_client_class(fake_sheets.url))
    with pytest.raises(gspread.exceptions.APIError, match="ConditionValues"):
        client.http_client.batch_update(KEY, {"requests": bad})
    assert fake_sheets.book(KEY).titles() == []
    client.http_client.batch_update(KEY, {"requests": requests})
    assert fake_sheets.book(KEY).titles() == ["Cases", "Lists", "How to"]


# --- the description -----------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_help_texts_fit_excel_and_every_field_has_one(lang: str) -> None:
    log = describe(SCHEMA, RULES, load_labels(), lang)
    assert [c.field for c in log.columns] == [f.name for f in SCHEMA.fields]
    for column in log.columns:
        assert column.hint == LABELS["init_hints"][column.field][lang]
        assert len(column.hint) <= 255 and len(column.header) <= 32
    for check in log.checks.values():
        assert len(check.message) <= 255 and len(check.title) <= 32
