"""One generated tab per kind, whatever its language: caseloop finds its tab by the mark, not the name."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from google.oauth2.credentials import Credentials
from libreoffice import LibreOffice, available
from python_calamine import CalamineWorkbook
from test_gsheets_sync import authorized_user_file
from test_xlsx_splice import TEAM_TABS, read, status_model, weekly_model

from caseloop.backends.gsheets import open_google_workbook
from caseloop.backends.xlsx.splice import splice_tabs
from caseloop.backends.xlsx.workbook_part import generated_tabs, tab_names
from caseloop.cli import main
from caseloop.errors import TabTakenError
from caseloop.model import Cell, SheetModel
from caseloop.ports import TEAM_TAB, TabPlan, plan_tab

from fakesheets import FakeSheetsServer, fake_client_class
from rich_workbook import build_team_workbook

pytest_plugins = ["fakesheets.fixtures"]
pytestmark = pytest.mark.filterwarnings("ignore:.*extension is not supported:UserWarning")
needs_libreoffice = pytest.mark.skipif(not available(), reason="LibreOffice is not installed")

STATUS_NAMES = ("Status", "状态")
WEEKLY_NAMES = ("Weekly Summary", "周报")
SAMPLE = Path(__file__).parent.parent / "sample_data" / "case_log.xlsx"
NOW = "2026-11-20T18:00"
KEY = "1TabKindsSheetKey_caseloop"


def named(model: SheetModel, title: str, defaults: tuple[str, ...] = STATUS_NAMES) -> SheetModel:
    """``model`` under ``title``; ``defaults`` empty means the user gave the name (--status-tab)."""
    model.title = title
    model.default_titles = defaults
    return model


def chinese(n_cases: int = 4) -> SheetModel:
    model = named(status_model(n_cases), "状态")
    model.rows[1] = [
        Cell(text, model.rows[1][0].style)
        for text in ("案例编号", "预警", "等待（小时）", "应回复时间", "备注")
    ]
    return model


# --- the rule, without a backend ----------------------------------------------------------------


def test_the_tab_of_this_name_is_rewritten_and_others_of_its_kind_go() -> None:
    tabs = [("Cases", TEAM_TAB), ("Status", "status"), ("状态", "status"), ("周报", "weekly")]
    assert plan_tab("状态", "status", STATUS_NAMES, tabs) == TabPlan("状态", "状态", ("Status",))
    assert plan_tab("Status", "status", STATUS_NAMES, tabs) == TabPlan(
        "Status", "Status", ("状态",)
    )
    # The Status tabs are another kind: the report's plan never touches them.
    assert plan_tab("Weekly Summary", "weekly", WEEKLY_NAMES, tabs) == TabPlan(
        "周报", "Weekly Summary"
    )


def test_a_default_name_of_the_other_language_is_renamed() -> None:
    tabs = [("Cases", TEAM_TAB), ("Status", "status")]
    assert plan_tab("状态", "status", STATUS_NAMES, tabs) == TabPlan("Status", "状态")
    assert plan_tab("Status", "status", STATUS_NAMES, [("状态", "status")]) == TabPlan(
        "状态", "Status"
    )
    assert plan_tab("状态", "status", STATUS_NAMES, [("Cases", TEAM_TAB)]) == TabPlan(None, "状态")


def test_a_name_the_team_gave_wins_over_the_default_but_not_over_an_explicit_one() -> None:
    tabs = [("Cases", TEAM_TAB), ("看板", "status")]
    assert plan_tab("Status", "status", STATUS_NAMES, tabs) == TabPlan("看板", "看板")
    assert plan_tab("状态", "status", STATUS_NAMES, tabs) == TabPlan("看板", "看板")
    # --status-tab Board: the user's own word for this run wins over both.
    assert plan_tab("Board", "status", (), tabs) == TabPlan("看板", "Board")
    # Beside a stale default-named tab, the team's name is kept and the stale one goes.
    both = [("Status", "status"), ("看板", "status")]
    assert plan_tab("状态", "status", STATUS_NAMES, both) == TabPlan("看板", "看板", ("Status",))


def test_a_team_tab_is_never_renamed_removed_or_written() -> None:
    tabs = [("Status", TEAM_TAB), ("状态", "status")]
    with pytest.raises(TabTakenError) as refused:
        plan_tab("Status", "status", STATUS_NAMES, tabs)
    assert refused.value.title == "Status"
    # An unmarked tab of a caseloop name in the other language is the team's: left alone.
    assert plan_tab("状态", "status", STATUS_NAMES, [("Status", TEAM_TAB)]) == TabPlan(None, "状态")
    with pytest.raises(TabTakenError):
        plan_tab("Status", "status", STATUS_NAMES, [("status", "weekly")])


def test_a_pinned_tab_keeps_its_name_and_stays() -> None:
    tabs = [("Status", "status"), ("状态", "status")]
    pinned = {"status"}  # folded names of tabs that must keep their names (team formulas read them)
    assert plan_tab("状态", "status", STATUS_NAMES, tabs, pinned) == TabPlan("状态", "状态")
    alone = [("Status", "status")]
    assert plan_tab("状态", "status", STATUS_NAMES, alone, pinned) == TabPlan("Status", "Status")


# --- Excel ---------------------------------------------------------------------------------------


@pytest.fixture
def team(tmp_path: Path) -> bytes:
    return build_team_workbook(tmp_path / "team.xlsx").read_bytes()


def sheet_rows(data: bytes, title: str) -> list[list[object]]:
    return CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_name(title).to_python()


def test_excel_renames_the_english_tab_in_place(team: bytes) -> None:
    english = splice_tabs(team, [named(status_model(), "Status"), weekly_model()])
    result = splice_tabs(english, [chinese()])
    assert tab_names(result) == [*TEAM_TABS, "状态", "Weekly Summary"]
    assert generated_tabs(result) == {"状态": "status", "Weekly Summary": "weekly"}
    assert sheet_rows(result, "状态")[1][:2] == ["案例编号", "预警"]
    book = openpyxl.load_workbook(io.BytesIO(result))
    assert book["状态"].auto_filter.ref == "A2:E6"
    assert book.defined_names["CaseIDs"].attr_text == "Cases!$A$2:$A$13"
    # Back in English: the same tab again, the same sheet part, nothing left behind.
    again = splice_tabs(result, [named(status_model(2), "Status")])
    assert tab_names(again) == [*TEAM_TABS, "Status", "Weekly Summary"]
    assert generated_tabs(again) == {"Status": "status", "Weekly Summary": "weekly"}
    assert len(zipfile.ZipFile(io.BytesIO(again)).namelist()) == len(
        zipfile.ZipFile(io.BytesIO(english)).namelist()
    )


def test_excel_keeps_the_name_the_team_gave(team: bytes, tmp_path: Path) -> None:
    english = splice_tabs(team, [named(status_model(), "Status")])
    renamed = rename_tab(english, "Status", "每日看板")  # what Excel writes when a tab is renamed
    assert generated_tabs(renamed) == {"每日看板": "status"}
    result = splice_tabs(renamed, [chinese()])
    assert tab_names(result) == [*TEAM_TABS, "每日看板"]
    assert sheet_rows(result, "每日看板")[1][0] == "案例编号"
    explicit = splice_tabs(result, [named(status_model(), "Board", ())])
    assert tab_names(explicit) == [*TEAM_TABS, "Board"]
    assert generated_tabs(explicit) == {"Board": "status"}


def test_excel_removes_a_stale_duplicate_but_never_a_team_tab(tmp_path: Path) -> None:
    own = build_team_workbook(tmp_path / "own.xlsx", own_status_tab="Status (old)").read_bytes()
    # Two marked Status-kind tabs, as an English then a Chinese sync left them before this fix.
    stale = splice_tabs(own, [named(status_model(), "Status"), chinese(), weekly_model()])
    assert generated_tabs(stale) == {
        "Status": "status",
        "状态": "status",
        "Weekly Summary": "weekly",
    }
    result = splice_tabs(stale, [chinese(3)])
    assert tab_names(result) == [*TEAM_TABS, "Status (old)", "状态", "Weekly Summary"]
    assert generated_tabs(result) == {"状态": "status", "Weekly Summary": "weekly"}
    # The names scoped to the tabs after the removed one moved with them.
    book = openpyxl.load_workbook(io.BytesIO(result))
    assert book["状态"].auto_filter.ref == "A2:E5"
    assert len(book["Weekly Summary"]._charts) == 1
    assert sheet_rows(result, "Status (old)") == sheet_rows(own, "Status (old)")
    names = set(zipfile.ZipFile(io.BytesIO(result)).namelist())
    parts = read(result, "[Content_Types].xml").decode()
    assert all(part in names for part in _overrides(parts)), "no content type names a lost part"
    assert sum("worksheets/sheet" in n and n.endswith(".xml") for n in names) == 6
    # And in English, the other way round.
    english = splice_tabs(stale, [named(status_model(), "Status")])
    assert generated_tabs(english) == {"Status": "status", "Weekly Summary": "weekly"}


def test_excel_keeps_a_tab_the_team_formulas_read(tmp_path: Path) -> None:
    english = splice_tabs(
        build_team_workbook(tmp_path / "t.xlsx").read_bytes(), [named(status_model(), "Status")]
    )
    # A team cell reading the Status tab: renaming it would break that formula, so it stays.
    reading = add_team_formula(english, "Dashboard", "Z900", "'Status'!B3")
    result = splice_tabs(reading, [chinese()])
    assert tab_names(result) == [*TEAM_TABS, "Status"]
    assert sheet_rows(result, "Status")[1][0] == "案例编号"


def test_excel_structure_lock_rewrites_in_place_without_renaming(team: bytes) -> None:
    english = splice_tabs(team, [named(status_model(), "Status")])
    locked = lock_structure(english)
    result = splice_tabs(locked, [chinese()])
    assert tab_names(result) == [*TEAM_TABS, "Status"]
    assert sheet_rows(result, "Status")[1][0] == "案例编号"


@needs_libreoffice
def test_a_tab_renamed_in_libreoffice_keeps_its_name(team: bytes, tmp_path: Path) -> None:
    source = tmp_path / "synced.xlsx"
    source.write_bytes(splice_tabs(team, [named(status_model(), "Status"), weekly_model()]))
    resaved = LibreOffice(tmp_path).edit(source, tmp_path / "renamed.xlsx", "rename|Status|看板")
    result = splice_tabs(resaved, [chinese(), named(weekly_model(), "周报", WEEKLY_NAMES)])
    assert generated_tabs(result) == {"看板": "status", "周报": "weekly"}
    assert tab_names(result)[-2:] == ["看板", "周报"]
    # A workbook a stale duplicate was removed from opens in LibreOffice, marks in place.
    stale = splice_tabs(team, [named(status_model(), "Status"), chinese(), weekly_model()])
    merged = tmp_path / "merged.xlsx"
    merged.write_bytes(splice_tabs(stale, [chinese(3)]))
    office = LibreOffice(tmp_path / "second")
    resaved = (office.convert(merged, "xlsx") / "merged.xlsx").read_bytes()
    assert generated_tabs(resaved) == {"状态": "status", "Weekly Summary": "weekly"}
    assert sheet_rows(resaved, "状态")[1][0] == "案例编号"


def _overrides(content_types: str) -> list[str]:
    import re

    return [m.lstrip("/") for m in re.findall(r'PartName="([^"]+)"', content_types)]


def _edit(data: bytes, member: str, edit) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == member:
                content = edit(content.decode()).encode()
            target.writestr(info, content)
    return out.getvalue()


def rename_tab(data: bytes, old: str, new: str) -> bytes:
    return _edit(
        data, "xl/workbook.xml", lambda text: text.replace(f'name="{old}"', f'name="{new}"')
    )


def lock_structure(data: bytes) -> bytes:
    return _edit(
        data,
        "xl/workbook.xml",
        lambda text: text.replace(
            "<bookViews>", '<workbookProtection lockStructure="1"/><bookViews>'
        ),
    )


def add_team_formula(data: bytes, tab: str, cell: str, formula: str) -> bytes:
    from test_xlsx_splice import sheet_part

    def edit(text: str) -> str:
        row = int(cell[1:])
        entry = f'<row r="{row}"><c r="{cell}"><f>{formula}</f><v>0</v></c></row>'
        return text.replace("</sheetData>", entry + "</sheetData>")

    return _edit(data, sheet_part(data, tab), edit)


# --- the commands, English then Chinese then English -------------------------------------------


def kinds(tabs: dict[str, str]) -> list[str]:
    return sorted(tabs.values())


@pytest.mark.skipif(not SAMPLE.exists(), reason="sample_data/case_log.xlsx is missing")
def test_english_chinese_english_leave_one_tab_of_each_kind_in_excel(tmp_path: Path) -> None:
    log = tmp_path / "log.xlsx"
    shutil.copy(SAMPLE, log)
    runner = CliRunner()
    cases = sheet_rows(log.read_bytes(), "Cases")
    for lang, status, weekly, history, answers in (
        ("en", "Status", "Weekly Summary", "History", "Answers"),
        ("zh", "状态", "周报", "历史", "答疑库"),
        ("en", "Status", "Weekly Summary", "History", "Answers"),
    ):
        for command in ("sync", "report"):
            result = runner.invoke(main, [command, str(log), "--now", NOW, "--lang", lang])
            assert result.exit_code == 0, result.output
        tabs = generated_tabs(log)
        assert tabs == {
            status: "status",
            weekly: "weekly",
            history: "history",
            answers: "answers",
        }, lang
        assert tab_names(log)[-4:] == [status, history, weekly, answers]
    assert sheet_rows(log.read_bytes(), "Cases") == cases


@pytest.mark.skipif(not SAMPLE.exists(), reason="sample_data/case_log.xlsx is missing")
def test_english_chinese_english_leave_one_tab_of_each_kind_in_google(
    fake_sheets: FakeSheetsServer, tmp_path: Path
) -> None:
    creds = str(authorized_user_file(tmp_path))
    sample = openpyxl.load_workbook(SAMPLE, read_only=True)
    book = fake_sheets.add_spreadsheet(KEY, timezone="Asia/Shanghai")
    book.add_sheet("Cases", [list(row) for row in sample["Cases"].iter_rows(values_only=True)])
    book.add_sheet("Status (team)", [["the team's own board"]])
    cases = dict(book.sheet("Cases").cells)
    runner = CliRunner()
    obj = {"http_client": fake_client_class(fake_sheets.url)}
    ids: dict[str, int] = {}
    for lang, status, weekly, history, answers in (
        ("en", "Status", "Weekly Summary", "History", "Answers"),
        ("zh", "状态", "周报", "历史", "答疑库"),
        ("en", "Status", "Weekly Summary", "History", "Answers"),
    ):
        for command in ("sync", "report"):
            fake_sheets.clear_log()
            first = not ids
            result = runner.invoke(
                main,
                [command, f"gsheet:{KEY}", "--credentials", creds, "--now", NOW, "--lang", lang],
                obj=obj,
            )
            assert result.exit_code == 0, result.output
            # The rename travels in the same batchUpdate: no request more than before; the
            # History tab, once there, is read with the cases in one batchGet.
            read = "values" if first and command == "sync" else "batchGet"
            assert [r.kind for r in fake_sheets.log] == ["metadata", read, "batchUpdate"]
        book = fake_sheets.book(KEY)
        assert book.titles() == ["Cases", "Status (team)", status, history, weekly, answers]
        marks = {
            s.title: s.developer_metadata[0]["metadataValue"]
            for s in book.sheets
            if s.developer_metadata
        }
        assert marks == {status: "status", weekly: "weekly", history: "history", answers: "answers"}
        for kind, title in (
            ("status", status),
            ("weekly", weekly),
            ("history", history),
            ("answers", answers),
        ):
            assert ids.setdefault(kind, book.sheet(title).sheet_id) == book.sheet(title).sheet_id
    assert fake_sheets.book(KEY).sheet("Cases").cells == cases
    assert fake_sheets.book(KEY).sheet("Status (team)").values() == [["the team's own board"]]


def test_google_removes_a_stale_duplicate_and_keeps_the_team_name(
    fake_sheets: FakeSheetsServer,
) -> None:
    book = fake_sheets.add_spreadsheet(KEY, timezone="Asia/Shanghai")
    book.add_sheet("Cases", [["Case ID"], ["1"]])
    # Two marked Status-kind tabs, as stale runs could leave them.
    open_fake(fake_sheets).write_tabs(
        [named(status_model(), "Status", ()), named(status_model(), "看板", ())]
    )
    fake_sheets.book(KEY).add_sheet("Status (old)", [["ours, not caseloop's"]])
    assert fake_sheets.book(KEY).titles() == ["Cases", "Status", "看板", "Status (old)"]
    fake_sheets.clear_log()

    result = open_fake(fake_sheets).write_tabs([chinese()])

    assert result.requests == 2  # metadata + one batchUpdate, the removal inside it
    book = fake_sheets.book(KEY)
    assert book.titles() == ["Cases", "看板", "Status (old)"]
    assert book.sheet("看板").value("A2") == "案例编号"
    assert book.sheet("Status (old)").values() == [["ours, not caseloop's"]]


def open_fake(fake: FakeSheetsServer):
    return open_google_workbook(
        f"gsheet:{KEY}",
        http_client=fake_client_class(fake.url),
        credentials_object=Credentials(token="test"),
    )
