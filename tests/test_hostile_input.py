"""A corpus of bad input, each with its exact behaviour, through the real commands on real files.

For every item: ``validate`` names the cell and exits 1, or the run stops with exit 2 and one
sentence (no traceback); ``sync`` still writes every valid row and shows the rest as INVALID; and
nothing else in the workbook or its folder changes.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msoffcrypto
import openpyxl
import pytest
import xlsxwriter
from msoffcrypto.format.ooxml import OOXMLFile

from caseloop.schema import load_schema

from caselog import HEADERS, case, write_xlsx
from hostile import (
    NOW_TEXT,
    assert_one_sentence,
    assert_only_caseloop_parts_changed,
    can_mount,
    folder_state,
    remount_read_only,
    run,
    status_table,
    tmpfs,
)

DATA = Path(__file__).parent / "data"
SCHEMA = load_schema()
OPENED = dt.datetime(2026, 11, 20, 9, 30)  # 8.5 h before NOW


# --- files -------------------------------------------------------------------------------------


def _good(folder: Path) -> Path:
    return write_xlsx(folder / "good.xlsx", [case(), case()])


def _bytes(name: str, data: bytes) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(data)
        return path

    return make


def _truncated(folder: Path) -> Path:
    data = write_xlsx(folder / "whole.xlsx", [case() for _ in range(60)]).read_bytes()
    (folder / "whole.xlsx").unlink()
    path = folder / "truncated.xlsx"
    path.write_bytes(data[: len(data) * 2 // 3])
    return path


def _encrypted(folder: Path) -> Path:
    """A real password-protected workbook, as Excel writes it (Agile encryption in an OLE box)."""
    plain = _good(folder)
    path = folder / "locked.xlsx"
    with plain.open("rb") as source, path.open("wb") as target:
        OOXMLFile(source).encrypt("team-password", target)
    plain.unlink()
    return path


def _legacy(name: str) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        # tests/data/legacy.xls: a real Excel 97 workbook, converted by LibreOffice from a case log.
        return Path(shutil.copy(DATA / "legacy.xls", folder / name))

    return make


def _folder(folder: Path) -> Path:
    path = folder / "cases.xlsx"
    path.mkdir()
    (path / "inside.txt").write_text("a folder named like a workbook")
    return path


UNREADABLE = {
    "not-a-workbook": (_bytes("notes.xlsx", b"Case ID,Owner\n1,Li\n"), "is not an Excel workbook"),
    "zero-bytes": (_bytes("empty.xlsx", b""), "is empty (0 bytes)"),
    "truncated": (_truncated, "is damaged or not a complete .xlsx workbook"),
    "encrypted": (_encrypted, "is password-protected (encrypted)"),
    "legacy-xls": (_legacy("team.xls"), "is a legacy .xls workbook; open it in Excel and save"),
    "xls-renamed-xlsx": (_legacy("team.xlsx"), "password-protected (encrypted) or an old .xls"),
    "missing": (lambda folder: folder / "nowhere.xlsx", "does not exist; check the path"),
    "directory": (_folder, "is a folder, not a workbook"),
    "zip-not-excel": (
        lambda folder: Path(shutil.make_archive(str(folder / "a"), "zip", DATA)).rename(
            folder / "archive.xlsx"
        ),
        "damaged or not a complete .xlsx",
    ),
}


def test_the_encrypted_workbook_is_really_encrypted(tmp_path: Path) -> None:
    path = _encrypted(tmp_path)
    with path.open("rb") as handle:
        office = msoffcrypto.OfficeFile(handle)
        assert office.is_encrypted()


@pytest.mark.parametrize("command", ["validate", "sync", "report"])
@pytest.mark.parametrize("kind", sorted(UNREADABLE))
def test_unreadable_files_stop_with_one_sentence_and_change_nothing(
    tmp_path: Path, kind: str, command: str
) -> None:
    make, fragment = UNREADABLE[kind]
    path = make(tmp_path)
    before = folder_state(tmp_path)
    result = run(command, path, "--now", NOW_TEXT)
    assert_one_sentence(result, str(path.name), fragment)
    assert folder_state(tmp_path) == before


def test_a_csv_can_be_validated_but_sync_cannot_write_into_it(tmp_path: Path) -> None:
    # Named as teams name exports, not "cases.csv": the only table of a CSV is the case tab.
    log = tmp_path / "team_log_export.csv"
    log.write_text(
        "Case ID,Marketplace,Category,Channel,Status,Opened At,Summary\n"
        "12345678901,US,Advertising,Case,Open,2026-11-20 09:30,ok\n"
        "12345678902,US,Advertising,Case,Open,2026/13/02,bad date\n",
        encoding="utf-8",
    )
    before = folder_state(tmp_path)
    validate = run("validate", log, "--now", NOW_TEXT)
    assert validate.exit_code == 1, validate.output
    assert 'team_log_export!F3: Opened At "2026/13/02" is not a date' in validate.output
    for command in ("sync", "report"):
        result = run(command, log, "--now", NOW_TEXT)
        assert_one_sentence(result, "is a CSV file and caseloop cannot write tabs into it")
    assert folder_state(tmp_path) == before


def test_a_read_only_workbook_is_not_replaced(tmp_path: Path) -> None:
    log = _good(tmp_path)
    log.chmod(0o444)
    before = folder_state(tmp_path)
    assert run("validate", log, "--now", NOW_TEXT).exit_code == 0  # reading it is fine
    for command in ("sync", "report"):
        result = run(command, log, "--now", NOW_TEXT)
        assert_one_sentence(result, f"Cannot write {log}: the file is read-only", "left as it was")
    assert folder_state(tmp_path) == before
    assert log.stat().st_mode & 0o777 == 0o444


def test_output_onto_a_folder_or_a_pipe_is_refused(tmp_path: Path) -> None:
    log = _good(tmp_path)
    (tmp_path / "out.xlsx").mkdir()
    os.mkfifo(tmp_path / "pipe.xlsx")
    before = folder_state(tmp_path / "out.xlsx")
    for target in ("out.xlsx", "pipe.xlsx"):
        result = run("sync", log, "--now", NOW_TEXT, "--output", tmp_path / target)
        assert_one_sentence(result, "is a folder or a device", "give the path of an .xlsx file")
    assert (tmp_path / "pipe.xlsx").is_fifo()
    assert folder_state(tmp_path / "out.xlsx") == before


@pytest.fixture
def read_only_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder holding a good case log that nobody may write to (root included)."""
    folder = tmp_path / "shared"
    if not can_mount():
        folder.mkdir()
        _good(folder)
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    try:
        with tmpfs(folder, "4m"):
            _good(folder)
            remount_read_only(folder)
            yield folder
    except OSError as error:
        pytest.skip(f"cannot mount a tmpfs to make a read-only folder: {error}")


def test_a_read_only_folder_says_it_cannot_write_and_changes_nothing(
    read_only_folder: Path,
) -> None:
    log = read_only_folder / "good.xlsx"
    before = folder_state(read_only_folder)
    for command in ("sync", "report"):
        result = run(command, log, "--now", NOW_TEXT)
        assert_one_sentence(result, "Cannot write", "the folder is read-only", "left as it was")
    assert folder_state(read_only_folder) == before


def test_a_symlinked_workbook_is_updated_where_it_lives(tmp_path: Path) -> None:
    (tmp_path / "store").mkdir()
    real = _good(tmp_path / "store")
    link = tmp_path / "team.xlsx"
    link.symlink_to(real)
    before = real.read_bytes()
    assert run("sync", link, "--now", NOW_TEXT).exit_code == 0
    assert link.is_symlink() and link.resolve() == real
    assert_only_caseloop_parts_changed(before, real.read_bytes())


# --- sheets ------------------------------------------------------------------------------------


def _write_row(sheet: Any, r: int, values: list[Any], when: Any) -> None:
    """Typed cells: datetimes as date cells, text as text (never parsed), numbers as numbers."""
    for c, value in enumerate(values):
        if isinstance(value, dt.datetime):
            sheet.write_datetime(r, c, value, when)
        elif isinstance(value, str):
            sheet.write_string(r, c, value)
        elif value is not None:
            sheet.write(r, c, value)


def _build(
    path: Path,
    rows: list[list[Any]],
    *,
    tab: str = "Cases",
    merges: tuple[tuple[int, int, int, int, Any], ...] = (),
    hidden: tuple[int, ...] = (),
    filtered: bool = False,
    blank_rows_below: int = 0,
    extra_tab: str | None = "Lists",
) -> Path:
    """A workbook whose case tab holds ``rows`` as typed cells (datetimes as date cells)."""
    book = xlsxwriter.Workbook(str(path))
    when = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    boxed = book.add_format({"border": 1})
    sheet = book.add_worksheet(tab)
    for r, row in enumerate(rows):
        _write_row(sheet, r, row, when)
    for first_row, first_col, last_row, last_col, value in merges:
        sheet.merge_range(first_row, first_col, last_row, last_col, value)
    for r in hidden:
        sheet.set_row(r, None, None, {"hidden": True})
    if filtered:
        sheet.autofilter(0, 0, len(rows) - 1, len(rows[0]) - 1)
        sheet.filter_column(1, "x == US")
    for r in range(len(rows), len(rows) + blank_rows_below):
        for c in range(6):
            sheet.write_blank(r, c, None, boxed)  # formatted but empty: real rows in the file
    if extra_tab:
        book.add_worksheet(extra_tab).write_column(0, 0, ["Listing", "Payments"])
    book.close()
    return path


def _table(cases: list[dict[str, Any]], headers: list[str] | None = None) -> list[list[Any]]:
    headers = headers or HEADERS
    return [list(headers)] + [[c.get(h) for h in headers] for c in cases]


def _chinese(header: str) -> str:
    return SCHEMA.field(header).zh


SHEET_REFUSALS: dict[str, tuple[Callable[[Path], Path], tuple[str, ...]]] = {
    "no-cases-tab": (
        lambda p: _build(p, _table([case()]), tab="Sheet1"),
        ('has no tab "Cases" (or "案例"); the tabs are "Sheet1", "Lists"', "--sheet NAME"),
    ),
    "empty-cases-tab": (
        lambda p: _build(p, [], extra_tab="Lists"),
        ('The tab "Cases" is empty; add a header row',),
    ),
    "header-below-row-10": (
        lambda p: _build(p, [[f"note {n}"] for n in range(10)] + _table([case()])),
        ('No header row found in the first 10 rows of the tab "Cases"',),
    ),
    "same-header-twice": (
        lambda p: _build(p, _table([case()], HEADERS + ["OWNER"])),
        ('Cases!R1 and Cases!U1 are both the column "Owner"',),
    ),
    "required-column-missing": (
        lambda p: _build(p, _table([case()], [h for h in HEADERS if h != "Opened At"])),
        ('The tab "Cases" has no column Opened At in its header row 1',),
    ),
}


@pytest.mark.parametrize("command", ["validate", "sync"])
@pytest.mark.parametrize("kind", sorted(SHEET_REFUSALS))
def test_sheets_that_cannot_be_read_stop_with_one_sentence(
    tmp_path: Path, kind: str, command: str
) -> None:
    make, fragments = SHEET_REFUSALS[kind]
    log = make(tmp_path / "log.xlsx")
    before = folder_state(tmp_path)
    assert_one_sentence(run(command, log, "--now", NOW_TEXT), *fragments)
    assert folder_state(tmp_path) == before


def _sync_in_place(log: Path, *options: str) -> list[dict[str, Any]]:
    """Sync the workbook itself and prove only caseloop's parts changed; the Status rows."""
    before = log.read_bytes()
    result = run("sync", log, "--now", NOW_TEXT, *options)
    assert result.exit_code == 0, result.output
    assert_only_caseloop_parts_changed(before, log.read_bytes())
    return status_table(log)


def test_headers_only_is_a_clean_log_with_no_cases(tmp_path: Path) -> None:
    log = _build(tmp_path / "log.xlsx", _table([]))
    result = run("validate", log, "--now", NOW_TEXT)
    assert result.exit_code == 0 and "0 cases in Cases (header row 1)" in result.output
    assert run("sync", log, "--now", NOW_TEXT).exit_code == 0
    sheet = openpyxl.load_workbook(log)["Status"]
    assert sheet["A3"].value == "No open or recently resolved cases."


def test_header_in_row_10_below_a_title_merged_across_the_table(tmp_path: Path) -> None:
    above: list[list[Any]] = [[None] for _ in range(9)]
    rows = above + _table([case(Case_ID="12345678901"), case(Case_ID="12345678902")])
    title = (0, 0, 1, len(HEADERS) - 1, "Shenzhen team — Seller Support cases")
    log = _build(tmp_path / "log.xlsx", rows, merges=(title,))
    result = run("validate", log, "--now", NOW_TEXT)
    assert result.exit_code == 0 and "2 cases in Cases (header row 10)" in result.output
    assert [r["Case ID"] for r in _sync_in_place(log)] == ["12345678901", "12345678902"]


def test_a_merged_header_cell_reads_its_first_column(tmp_path: Path) -> None:
    # "Summary" merged over two columns: the text is in the first, the second is empty.
    headers = HEADERS[:-1] + ["Resolution", None]
    rows = [headers] + [
        [*[c.get(h) for h in HEADERS[:-1]], None, "more words"]
        for c in [case(Summary="Listing suppressed")]
    ]
    at = len(HEADERS) - 1
    log = _build(tmp_path / "log.xlsx", rows, merges=((0, at, 0, at + 1, "Resolution"),))
    result = run("validate", log, "--now", NOW_TEXT, "--format", "json")
    assert result.exit_code == 0, result.output
    assert len(_sync_in_place(log)) == 1


def test_full_width_and_zero_width_headers(tmp_path: Path) -> None:
    headers = list(HEADERS)
    headers[0] = "ＣＡＳＥ　ＩＤ"
    headers[5] = "Sta\u200btus"
    headers[6] = "  opened   AT "
    rows = [headers] + [[c.get(h) for h in HEADERS] for c in [case(Case_ID="12345678901")]]
    log = _build(tmp_path / "log.xlsx", rows)
    assert run("validate", log, "--now", NOW_TEXT).exit_code == 0
    assert [r["Case ID"] for r in _sync_in_place(log)] == ["12345678901"]


def test_only_chinese_headers_and_labels(tmp_path: Path) -> None:
    cases = [
        case(Case_ID="12345678901", Marketplace="美国站", Category="广告", Channel="电话"),
        case(Case_ID="12345678902", Marketplace="日本", Category="收款", Status="处理中"),
    ]
    rows = [[_chinese(h) for h in HEADERS]] + [[c.get(h) for h in HEADERS] for c in cases]
    log = _build(tmp_path / "log.xlsx", rows, tab="案例")
    assert run("validate", log, "--now", NOW_TEXT).exit_code == 0
    # English output, to read the Status tab by its English names (the Chinese one is 状态).
    table = _sync_in_place(log, "--lang", "en")
    assert {(r["Case ID"], r["Marketplace"]) for r in table} == {
        ("12345678901", "US"),
        ("12345678902", "JP"),
    }


def test_extra_columns_are_ignored_and_kept(tmp_path: Path) -> None:
    headers = ["Team note", *HEADERS[:4], "内部备注", *HEADERS[4:], "Escalated?"]
    cases = [case(Case_ID="12345678901") | {"Team note": "=1+1", "内部备注": 3, "Escalated?": True}]
    log = _build(tmp_path / "log.xlsx", _table(cases, headers))
    result = run("validate", log, "--now", NOW_TEXT, "--format", "json")
    assert result.exit_code == 0
    assert (
        '"ignored_columns": [\n    "Team note",\n    "内部备注",\n    "Escalated?"' in result.output
    )
    assert [r["Case ID"] for r in _sync_in_place(log)] == ["12345678901"]


def test_five_thousand_blank_rows_below_the_data(tmp_path: Path) -> None:
    cases = [case(Case_ID=str(12345678900 + n)) for n in range(3)]
    log = _build(tmp_path / "log.xlsx", _table(cases), blank_rows_below=5000)
    result = run("validate", log, "--now", NOW_TEXT)
    assert result.exit_code == 0 and "3 cases in Cases" in result.output
    assert len(_sync_in_place(log)) == 3


def test_hidden_rows_and_a_filtered_view_still_count(tmp_path: Path) -> None:
    cases = [
        case(Case_ID="12345678901", Marketplace="US"),
        case(Case_ID="12345678902", Marketplace="UK"),  # hidden by the filter on Marketplace
        case(Case_ID="12345678903", Marketplace="DE"),  # hidden by hand
    ]
    log = _build(tmp_path / "log.xlsx", _table(cases), hidden=(2, 3), filtered=True)
    assert run("validate", log, "--now", NOW_TEXT).exit_code == 0
    assert {r["Case ID"] for r in _sync_in_place(log)} == {c["Case ID"] for c in cases}


# --- cells -------------------------------------------------------------------------------------

SERIAL = (OPENED - dt.datetime(1899, 12, 30)) / dt.timedelta(days=1)
GOOD_DATES: dict[str, Any] = {
    "date cell": OPENED,
    "serial number": SERIAL,
    "ISO": "2026-11-20 09:30",
    "ISO with T and seconds": "2026-11-20T09:30:00",
    "ISO with offset": "2026-11-20T09:30:00+08:00",
    "UTC": "2026-11-20T01:30Z",
    "slashes": "2026/11/20 09:30",
    "Chinese": "2026年11月20日 09:30",
    "full-width digits": "２０２６-１１-２０ ０９:３０",
    "date only": "2026-11-20",  # midnight: open 18 h
}
BAD_DATES: dict[str, tuple[str, str]] = {
    "2026/13/02": ("not-a-date", '"2026/13/02" is not a date'),
    # 31 can only be the day, and February has no 31st.
    "31/02/2026": ("not-a-date", '"31/02/2026" is not a date'),
    "03/11/2026": ("ambiguous-date", "could be day/month or month/day"),
    "yesterday": ("not-a-date", '"yesterday" is not a date'),
    "2026-11-20T25:00": ("not-a-date", '"2026-11-20T25:00" is not a date'),
    "2026-02-30": ("not-a-date", '"2026-02-30" is not a date'),
    "2026-11-20T09:30+25:00": ("not-a-date", "is not a date"),
    "9999-12-31": ("date-out-of-range", "too far in the past or future"),
}


def test_every_allowed_date_form_reads_the_same_time(tmp_path: Path) -> None:
    cases = [
        case(Case_ID=str(12345678900 + n), Opened_At=value)
        for n, value in enumerate(GOOD_DATES.values())
    ]
    log = _build(tmp_path / "log.xlsx", _table(cases))
    result = run("validate", log, "--now", NOW_TEXT)
    assert result.exit_code == 0, result.output
    open_hours = {r["Case ID"]: r["Open (h)"] for r in _sync_in_place(log)}
    for n, name in enumerate(GOOD_DATES):
        expected = 18.0 if name == "date only" else 8.5
        assert open_hours[str(12345678900 + n)] == pytest.approx(expected, abs=1e-3), name


def test_bad_dates_name_their_cell_and_the_rest_still_syncs(tmp_path: Path) -> None:
    cases = [case(Case_ID="12345678900", Opened_At=OPENED)] + [
        case(Case_ID=str(12345678901 + n), Opened_At=text) for n, text in enumerate(BAD_DATES)
    ]
    log = _build(tmp_path / "log.xlsx", _table(cases))
    result = run("validate", log, "--now", NOW_TEXT)
    assert result.exit_code == 1
    for row, (_, fragment) in enumerate(BAD_DATES.values(), start=3):
        line = next(line for line in result.output.splitlines() if f"Cases!G{row}:" in line)
        assert line.startswith("error") and fragment in line, line
    table = {r["Case ID"]: r for r in _sync_in_place(log)}
    assert table["12345678900"]["Flag"] == "ON TRACK"
    for row, case_row in enumerate(cases[1:], start=3):
        shown = table[case_row["Case ID"]]
        assert shown["Flag"] == "INVALID" and f"Cases!G{row}" in shown["Notes"]


def _cells_workbook(
    path: Path,
) -> tuple[Path, dict[str, str], dict[str, dict[str, Any]], dict[str, str]]:
    """One row per hostile cell. Returns the log, {Case ID: cell that must be named} for the rows
    that are errors, {Case ID: expected Status values} for the rows that must sync, and
    {Case ID: cell named as a warning} for the rows judged with a default (they sync too)."""
    long_text = "长" * 10 + "x" * (32767 - 10)
    rows: list[tuple[dict[str, Any], str | None, dict[str, Any]]] = [
        # (case, the cell named when it is an error, Status values when it is valid)
        (case(Case_ID=12345678901.0), None, {"Case ID": "12345678901"}),
        (case(Case_ID="1.23457E+10"), "A", {}),
        (case(Case_ID=" 123 456 789 03 "), None, {"Case ID": "12345678903"}),
        (case(Case_ID="１２３４５６７８９０４"), None, {"Case ID": "12345678904"}),
        (case(Case_ID="12345678905"), None, {}),
        (case(Case_ID="12345678905"), "A", {}),  # the duplicate: the second row is named
        (case(Case_ID="12345678906", Owner=12345), None, {"Owner": "12345"}),
        # Fields no flag needs: a warning, and the row is judged with their default.
        (case(Case_ID="12345678907", Marketplace=1), "warn B", {}),
        (case(Case_ID="12345678908", Follow_ups="two"), "warn K", {"Follow-ups": 0}),
        (case(Case_ID="12345678909", Follow_ups=-1), "warn K", {"Follow-ups": 0}),
        (case(Case_ID="12345678910", Owner=long_text), None, {"Owner": long_text}),
        (case(Case_ID="12345678911", Owner="李伟 😀👩‍👩‍👧‍👦"), None, {"Owner": "李伟 😀👩‍👩‍👧‍👦"}),
        (case(Case_ID="12345678912", Owner="שלום مرحبا"), None, {"Owner": "שלום مرحبا"}),
        (case(Case_ID="12345678913", Owner="=1+1"), None, {"Owner": "=1+1"}),
        (case(Case_ID="12345678914", Owner="+86 138 0000"), None, {"Owner": "+86 138 0000"}),
        (case(Case_ID="12345678915", Owner="-2"), None, {"Owner": "-2"}),
        (case(Case_ID="12345678916", Owner="@here"), None, {"Owner": "@here"}),
        (case(Case_ID="12345678917", Summary="x" * 32767), None, {}),
    ]
    book = xlsxwriter.Workbook(str(path))
    when = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    sheet = book.add_worksheet("Cases")
    sheet.write_row(0, 0, HEADERS)
    for r, (values, _, _) in enumerate(rows, start=1):
        _write_row(sheet, r, [values.get(h) for h in HEADERS], when)
    # Spreadsheet errors as real error cells, and formulas whose cached values are what counts.
    col = HEADERS.index
    base = len(rows) + 1
    formula_rows = [
        ("12345678950", "Opened At", "=NA()", "#N/A", None),
        ("12345678951", "Owner", "=#REF!", "#REF!", None),
        ("12345678952", "Owner", '="Li"&" Wei"', "Li Wei", None),
        ("12345678953", "Follow-ups", "=1+1", 2, None),
        ("12345678954", "Opened At", "=DATE(2026,11,20)+TIME(9,30,0)", SERIAL, when),
    ]
    errors = {
        str(case_id): f"Cases!{letter}{r}"
        for r, (values, letter, _) in enumerate(rows, start=2)
        if letter and not letter.startswith("warn")
        for case_id in [values["Case ID"]]
    }
    warned = {
        str(values["Case ID"]): f"Cases!{letter.split()[1]}{r}"
        for r, (values, letter, _) in enumerate(rows, start=2)
        if letter and letter.startswith("warn")
    }
    valid = {
        shown.get("Case ID", values["Case ID"]): shown
        for values, letter, shown in rows
        if not letter or letter.startswith("warn")
    }
    valid.pop("12345678905")  # its twin makes both rows of one case ID: only the first syncs
    for offset, (case_id, header, formula, cached, fmt) in enumerate(formula_rows):
        r = base + offset
        values = case(Case_ID=case_id)
        _write_row(sheet, r, [None if h == header else values.get(h) for h in HEADERS], when)
        sheet.write_formula(r, col(header), formula, fmt, cached)
        letter = chr(ord("A") + col(header))
        if isinstance(cached, str) and cached.startswith("#"):
            # Owner is no field a flag needs: its error cell is a warning, the row still syncs.
            if header == "Owner":
                warned[case_id] = f"Cases!{letter}{r + 1}"
                valid[case_id] = {}
            else:
                errors[case_id] = f"Cases!{letter}{r + 1}"
    valid["12345678952"] = {"Owner": "Li Wei"}
    valid["12345678953"] = {"Follow-ups": 2}
    valid["12345678954"] = {"Open (h)": 8.5}
    book.add_worksheet("Lists").write_column(0, 0, ["Listing", "Payments"])
    book.close()
    return path, errors, valid, warned


def test_hostile_cells_are_named_and_every_valid_row_still_syncs(tmp_path: Path) -> None:
    log, errors, valid, warned = _cells_workbook(tmp_path / "log.xlsx")
    result = run("validate", log, "--now", NOW_TEXT, "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    named = {p["cell"] for p in report["errors"]}
    assert set(errors.values()) <= named, set(errors.values()) - named
    assert set(warned.values()) <= {p["cell"] for p in report["warnings"]}
    assert report["invalid_rows"] == len(errors)
    messages = {p["cell"]: p["message"] for p in report["errors"] + report["warnings"]}
    assert "shortened to scientific notation" in messages[errors["1.23457E+10"]]
    assert "is also in row 6" in messages[errors["12345678905"]]
    assert 'holds the spreadsheet error "#N/A"' in messages[errors["12345678950"]]
    assert 'holds the spreadsheet error "#REF!"' in messages[warned["12345678951"]]

    table = _sync_in_place(log)
    invalid_notes = [r["Notes"] for r in table if r["Flag"] == "INVALID"]
    for cell in errors.values():
        assert sum(cell in notes for notes in invalid_notes) == 1, cell
    by_id = {r["Case ID"]: r for r in table if r["Flag"] != "INVALID"}
    for case_id, expected in valid.items():
        shown = by_id[case_id]
        assert shown["Flag"] != "INVALID", (case_id, shown["Notes"])
        for column, value in expected.items():
            assert shown[column] == (pytest.approx(value) if column == "Open (h)" else value)
    assert len(table) == len(errors) + len(valid) + 1  # + the first of the duplicated pair


def test_the_status_tab_cells_keep_their_text_exactly(tmp_path: Path) -> None:
    """Long, emoji, RTL and formula-like text come back from the file exactly, as text."""
    log, _, valid, _ = _cells_workbook(tmp_path / "log.xlsx")
    assert run("sync", log, "--now", NOW_TEXT).exit_code == 0
    sheet = openpyxl.load_workbook(log)["Status"]
    owner = [c.value for c in sheet[2]].index("Owner")
    owners = {
        row[0].value: row[owner] for row in sheet.iter_rows(min_row=3) if row[0].value in valid
    }
    for case_id, expected in valid.items():
        if "Owner" in expected:
            cell = owners[case_id]
            assert cell.value == expected["Owner"] and cell.data_type == "s", case_id
    assert len(owners["12345678910"].value) == 32767
