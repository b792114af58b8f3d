"""Reading the Cases tab of real workbooks from other producers, altered at the zip level to look
like theirs: exotic sheets beside Cases, prefixed XML, moved parts, far cells, the 1904 date
system, formulas without a saved result and Excel Table totals rows."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import xlsxwriter

from caseloop.backends.xlsx import read as xlsx_read
from caseloop.backends.xlsx import scan
from caseloop.backends.xlsx.workbook import ExcelWorkbook
from caseloop.config import load_rules
from caseloop.frame import build_frame
from caseloop.ports import CellError
from caseloop.schema import load_schema

from caselog import HEADERS, NOW, case, write_xlsx
from hostile import NOW_TEXT, run

SCHEMA, RULES = load_schema(), load_rules()

# --- altering real workbooks at the zip/XML level -------------------------------------------

Edit = bytes | Callable[[bytes], bytes] | None


def rewrite(path: Path, edits: dict[str, Edit], renames: dict[str, str] | None = None) -> Path:
    """Rewrite ``path`` in place: each edit replaces a member (bytes), transforms it (callable) or
    removes it (None); members not yet in the zip are added; ``renames`` moves members."""
    renames = renames or {}
    with zipfile.ZipFile(path) as source:
        members = [(info.filename, source.read(info)) for info in source.infolist()]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        seen = set()
        for name, data in members:
            seen.add(name)
            if name in edits:
                edit = edits[name]
                if edit is None:
                    continue
                data = edit(data) if callable(edit) else edit
            target.writestr(renames.get(name, name), data)
        for name, edit in edits.items():
            if name not in seen and isinstance(edit, bytes):
                target.writestr(name, edit)
    path.write_bytes(out.getvalue())
    return path


def replace_once(old: bytes, new: bytes) -> Callable[[bytes], bytes]:
    def edit(data: bytes) -> bytes:
        assert data.count(old) == 1, (old, data[:300])
        return data.replace(old, new)

    return edit


def set_cell(ref: str, cell_xml: bytes) -> Callable[[bytes], bytes]:
    """Replace the cell ``ref`` of a sheet part (which must exist) with ``cell_xml``."""
    pattern = re.compile(rb'<c r="' + ref.encode() + rb'"[^>]*?(?:/>|>.*?</c>)')

    def edit(data: bytes) -> bytes:
        new, count = pattern.subn(cell_xml, data, count=1)
        assert count == 1, ref
        return new

    return edit


def add_row(row_xml: bytes) -> Callable[[bytes], bytes]:
    """Append a ``<row>`` at the end of a sheet's data (rows must stay in order)."""
    return replace_once(b"</sheetData>", row_xml + b"</sheetData>")


def prefixed(data: bytes, prefix: bytes = b"x") -> bytes:
    """Every element of the default namespace written with ``prefix:``, as ClosedXML does."""
    data = re.sub(
        rb"<(/?)([A-Za-z][\w.]*)([\s/>])",
        lambda m: b"<" + m.group(1) + prefix + b":" + m.group(2) + m.group(3),
        data,
    )
    return data.replace(b"xmlns=", b"xmlns:" + prefix + b"=", 1)


MACRO_BOOK = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
PLAIN_BOOK = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
DIALOG = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<dialogsheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    b'<sheetPr/><sheetViews><sheetView workbookViewId="0"/></sheetViews>'
    b'<sheetFormatPr defaultRowHeight="15"/><pageMargins left="0.7" right="0.7" top="0.75" '
    b'bottom="0.75" header="0.3" footer="0.3"/></dialogsheet>'
)
MACRO = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<xm:macrosheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" '
    b'xmlns:xm="http://schemas.microsoft.com/office/excel/2006/main">'
    b'<dimension ref="A1:A2"/><sheetData><row r="1"><c r="A1" t="str"><f>ALERT("hi")</f>'
    b'<v>TRUE</v></c></row><row r="2"><c r="A2" t="str"><f>RETURN()</f><v>TRUE</v></c></row>'
    b"</sheetData></xm:macrosheet>"
)


def _macro_enabled(data: bytes) -> bytes:
    return data.replace(PLAIN_BOOK.encode(), MACRO_BOOK.encode())


def _log(tmp_path: Path, name: str = "log.xlsx", cases: list | None = None, **kw) -> Path:
    return write_xlsx(tmp_path / name, cases if cases is not None else [case(), case()], **kw)


def _json(result) -> dict:
    assert "Traceback" not in result.output, result.output
    return json.loads(result.stdout)


def _validate(path: Path, *extra: str):
    return run("validate", path, "--now", NOW_TEXT, "--format", "json", *extra)


# --- valid workbooks that calamine cannot open whole -------------------------------------------


def test_an_xlsm_with_a_dialog_sheet_and_an_excel_4_macro_sheet_is_read(tmp_path: Path) -> None:
    """Excel 2011 for Mac: the Cases tab is read although calamine refuses the macro sheet."""
    log = _log(tmp_path, "mac2011.xlsm", extra_tabs={"Notes": [["hello"]]})
    rewrite(
        log,
        {
            "xl/workbook.xml": replace_once(
                b"</sheets>",
                b'<sheet name="Dialog1" sheetId="3" r:id="rId90"/>'
                b'<sheet name="Macro1" sheetId="4" r:id="rId91"/></sheets>',
            ),
            "xl/_rels/workbook.xml.rels": replace_once(
                b"</Relationships>",
                b'<Relationship Id="rId90" Type="http://schemas.openxmlformats.org/officeDocument'
                b'/2006/relationships/dialogsheet" Target="dialogsheets/sheet1.xml"/>'
                b'<Relationship Id="rId91" Type="http://schemas.microsoft.com/office/2006/'
                b'relationships/xlMacrosheet" Target="macrosheets/sheet1.xml"/></Relationships>',
            ),
            "[Content_Types].xml": lambda data: _macro_enabled(data).replace(
                b"</Types>",
                b'<Override PartName="/xl/dialogsheets/sheet1.xml" ContentType="application/'
                b'vnd.openxmlformats-officedocument.spreadsheetml.dialogsheet+xml"/>'
                b'<Override PartName="/xl/macrosheets/sheet1.xml" '
                b'ContentType="application/vnd.ms-excel.macrosheet+xml"/></Types>',
            ),
            "xl/dialogsheets/sheet1.xml": DIALOG,
            "xl/macrosheets/sheet1.xml": MACRO,
        },
    )
    book = ExcelWorkbook(log)
    assert book.tab_names() == ["Cases", "Notes", "Dialog1", "Macro1"]
    doc = _json(_validate(log))
    assert (doc["cases"], doc["errors"], doc["warnings"]) == (2, [], [])
    # The values come through as calamine reads them: the date cell is a datetime.
    grid = book.read_tab("Cases")
    assert grid.rows[1][HEADERS.index("Opened At")] == NOW - dt.timedelta(hours=2)


def test_an_xlsm_with_legacy_vba_module_sheets_is_read(tmp_path: Path) -> None:
    """Excel 2013: a VBA module sheet is a <sheet> entry with an empty relationship id."""
    log = _log(tmp_path, "modules.xlsm", cases=[case(), case(Opened_At="2026/13/02")])
    rewrite(
        log,
        {
            "xl/workbook.xml": replace_once(
                b"</sheets>", b'<sheet name="Module1" sheetId="3" r:id=""/></sheets>'
            ),
            "[Content_Types].xml": _macro_enabled,
        },
    )
    assert ExcelWorkbook(log).tab_names() == ["Cases", "Module1"]
    result = _validate(log)
    assert result.exit_code == 1
    assert [e["cell"] for e in _json(result)["errors"]] == ["Cases!G3"]


def test_a_broken_sheet_part_is_named_not_the_workbook_called_damaged(tmp_path: Path) -> None:
    log = _log(tmp_path, extra_tabs={"Notes": [["hello"]]})
    rewrite(log, {"xl/worksheets/sheet2.xml": b"<worksheet><sheetData><row>"})
    # The broken tab is not the case tab: the log is read as usual.
    assert _json(_validate(log))["cases"] == 2
    rewrite(log, {"xl/worksheets/sheet1.xml": b"<worksheet><sheetData><row>"})
    result = run("validate", log, "--now", NOW_TEXT)
    assert result.exit_code == 2
    assert 'Cannot read the tab "Cases"' in result.stderr and "Traceback" not in result.output


# --- error cells in other producers' layouts ---------------------------------------------------

NA_CELL = b'<c r="G3" t="e"><f>VLOOKUP(A3,Opened!A:B,2,0)</f><v>#N/A</v></c>'


def test_error_cells_are_found_in_x_prefixed_sheets(tmp_path: Path) -> None:
    """ClosedXML writes every element with an ``x:`` prefix."""
    log = _log(tmp_path)
    rewrite(log, {"xl/worksheets/sheet1.xml": set_cell("G3", NA_CELL)})
    rewrite(log, {"xl/worksheets/sheet1.xml": prefixed, "xl/workbook.xml": prefixed})
    assert b"<x:c " in zipfile.ZipFile(log).read("xl/worksheets/sheet1.xml")
    result = _validate(log)
    assert result.exit_code == 1
    (error,) = _json(result)["errors"]
    assert (error["cell"], error["code"]) == ("Cases!G3", "cell-error")
    assert '"#N/A"' in error["message"]


def test_error_cells_are_found_when_the_workbook_part_is_not_xl_workbook_xml(
    tmp_path: Path,
) -> None:
    """The workbook part is found through _rels/.rels, its sheets through its own rels."""
    log = _log(tmp_path)
    rewrite(log, {"xl/worksheets/sheet1.xml": set_cell("G3", NA_CELL)})
    with zipfile.ZipFile(log) as archive:
        names = archive.namelist()
    moved = {n: "book/" + n.removeprefix("xl/") for n in names if n.startswith("xl/")}
    rewrite(
        log,
        {
            "_rels/.rels": replace_once(b'Target="xl/workbook.xml"', b'Target="book/main.xml"'),
            "[Content_Types].xml": lambda data: data.replace(b'"/xl/', b'"/book/').replace(
                b'"/book/workbook.xml"', b'"/book/main.xml"'
            ),
        },
        renames={
            **moved,
            "xl/workbook.xml": "book/main.xml",
            "xl/_rels/workbook.xml.rels": ("book/_rels/main.xml.rels"),
        },
    )
    assert "book/main.xml" in zipfile.ZipFile(log).namelist()
    result = _validate(log)
    assert result.exit_code == 1
    (error,) = _json(result)["errors"]
    assert (error["cell"], error["code"]) == ("Cases!G3", "cell-error")


# --- far cells (item 7) ------------------------------------------------------------------------

SPACE_AT_XFD = (
    b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t xml:space="preserve"> </t></is>'
    b"</c></row>"
)


def test_a_space_in_xfd1048576_validates_in_bounded_memory(tmp_path: Path) -> None:
    """A 7 KB log with one space in the last cell of the sheet: calamine alone would allocate
    the whole used range (549 GB) and abort. Memory of the real command is measured."""
    log = _log(tmp_path, cases=[case(), case(), case()])
    rewrite(log, {"xl/worksheets/sheet1.xml": add_row(SPACE_AT_XFD)})
    assert log.stat().st_size < 10_000
    # A fresh interpreter runs the command and reports the peak memory of its own child only.
    probe = textwrap.dedent(
        """
        import resource, subprocess, sys
        done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        print(done.returncode, peak_kb, repr(done.stdout), repr(done.stderr), sep="\\n")
        """
    )
    command = [sys.executable, "-c", "from caseloop.cli import main; main()"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    probe_run = subprocess.run(
        [sys.executable, "-c", probe, *command, "validate", str(log), "--now", NOW_TEXT],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    code, peak_kb, stdout, stderr = probe_run.stdout.splitlines()
    stdout, stderr = eval(stdout), eval(stderr)  # noqa: S307 (our own repr output)
    print(f"peak RSS of caseloop validate on the XFD1048576 log: {int(peak_kb) / 1024:.0f} MB")
    assert int(code) == 0, (stdout, stderr)
    assert int(peak_kb) < 500 * 1024
    assert "3 cases in Cases" in stdout
    assert "Cases!XFD1048576" in stdout and "far from the case log; clear it" in stdout


def test_a_stray_cell_far_below_is_named_and_the_cases_read(tmp_path: Path) -> None:
    log = _log(tmp_path, cases=[case(), case(Opened_At="2026/13/02")])
    far_below = b'<row r="1048576"><c r="A1048576" t="inlineStr"><is><t>x</t></is></c></row>'
    rewrite(log, {"xl/worksheets/sheet1.xml": add_row(far_below)})
    doc = _json(_validate(log))
    # The stray cell is in the Case ID column: read as a row (and judged), and named as far.
    assert [e["cell"] for e in doc["errors"]][:1] == ["Cases!G3"]
    assert {e["row"] for e in doc["errors"]} == {3, 1048576}
    far = [w for w in doc["warnings"] if w["code"] == "far-cell"]
    assert [w["cell"] for w in far] == ["Cases!A1048576"]


def test_a_note_in_zz5_of_a_large_log_is_read_like_without_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The streamed read gives the same cases and problems as calamine, plus a warning naming
    the far cell; the limit is lowered so that a small log takes the streamed path."""
    cases = [case() for _ in range(40)]
    cases[3]["Opened At"] = "2026/13/02"
    cases[5]["Last Reply At"] = NOW - dt.timedelta(hours=1)
    plain = _log(tmp_path, "plain.xlsx", cases=cases)
    far = _log(tmp_path, "far.xlsx", cases=cases)
    rewrite(
        far,
        {
            "xl/worksheets/sheet1.xml": replace_once(
                b'<c r="A5" ',
                b'<c r="ZZ5" t="inlineStr"><is><t>checked by Li</t></is></c><c r="A5" ',
            )
        },
    )
    # Cells must stay in column order within the row for Excel; move ZZ5 to the row's end.
    rewrite(far, {"xl/worksheets/sheet1.xml": _zz5_to_row_end})
    expected = _json(_validate(plain))
    monkeypatch.setattr(scan, "DENSE_CELLS", 10_000)
    streamed = _json(_validate(far))
    (warning,) = [w for w in streamed["warnings"] if w["code"] == "far-cell"]
    assert warning["cell"] == "Cases!ZZ5"
    assert "checked by Li" in warning["message"] and "clear it" in warning["message"]
    streamed["warnings"].remove(warning)
    streamed.pop("log"), expected.pop("log")
    assert streamed == expected


def _zz5_to_row_end(data: bytes) -> bytes:
    cell = b'<c r="ZZ5" t="inlineStr"><is><t>checked by Li</t></is></c>'
    start = data.index(b'<row r="5"')
    end = data.index(b"</row>", start)
    row = data[start:end].replace(cell, b"") + cell
    return data[:start] + row + data[end:]


def _kinds_workbook(path: Path, date1904: bool = False) -> Path:
    """Every kind of cell value a producer writes, with the formats teams use."""
    book = xlsxwriter.Workbook(str(path), {"date_1904": date1904})
    sheet = book.add_worksheet("Cases")
    formats = [
        "yyyy-mm-dd hh:mm",
        "yyyy-mm-dd",
        "hh:mm",
        'yyyy"年"m"月"d"日"',
        "0.00%",
        "@",
        "[$$-409]#,##0.00",
        "[Red]0.00",
        "[h]:mm:ss",
        "m/d/yy h:mm AM/PM",
        '"Day" 0',
        "dd/mm/yyyy;@",
    ]
    for c, fmt in enumerate(formats):
        style = book.add_format({"num_format": fmt})
        sheet.write_number(0, c, 46346.40625, style)
        sheet.write_number(1, c, 46346, style)
        sheet.write_number(2, c, 0.375, style)
    for c, builtin in enumerate([14, 15, 18, 20, 22, 45, 46, 47, 2, 49]):
        style = book.add_format({"num_format": builtin})
        sheet.write_number(3, c, 46346.75, style)
    plain = [1, 1.5, -3, 1e20, 12345678901, True, False, "text", " lead", "中文 全角", "a&b<c>"]
    for c, value in enumerate(plain):
        sheet.write(4, c, value)
    sheet.write_formula(5, 0, "=1+1", None, 2)
    sheet.write_formula(5, 1, '="a"&"b"', None, "ab")
    sheet.write_formula(5, 2, "=TRUE()", None, True)
    sheet.write_formula(5, 3, "=NA()", None, "#N/A")
    sheet.write_formula(5, 4, "=1/0", None, "#DIV/0!")
    sheet.write_rich_string(6, 0, "plain ", book.add_format({"bold": True}), "bold", " tail")
    sheet.write_datetime(
        7, 0, dt.datetime(2026, 11, 20, 9, 30), book.add_format({"num_format": 22})
    )
    sheet.write_datetime(7, 1, dt.datetime(1900, 1, 15), book.add_format({"num_format": 14}))
    sheet.write_string(9, 3, "after a blank row")
    book.close()
    return path


def _inline_and_phonetic(data: bytes) -> bytes:
    """Cells other producers write: inline strings, t="str", t="n", a phonetic run, t="d"."""
    extra = (
        b'<row r="11"><c r="A11" t="inlineStr"><is><t>inline</t></is></c>'
        b'<c r="B11" t="inlineStr"><is><r><t>rich </t></r><r><rPr><b/></rPr><t>inline</t></r>'
        + '<rPh sb="0" eb="1"><t>ルビ</t></rPh></is></c>'.encode()
        + b'<c r="C11" t="str"><v>text result</v></c><c r="D11" t="n"><v>7</v></c>'
        b'<c r="E11" t="b"><v>1</v></c><c r="F11"><v>2.5E-3</v></c>'
        b'<c r="G11" t="d"><v>2026-11-20T09:30:00</v></c><c r="H11" t="d"><v>2026-11-20</v></c>'
        b'<c r="I11" t="e"><v>#REF!</v></c><c r="J11" s="0"><v>3</v></c></row>'
    )
    return data.replace(b"</sheetData>", extra + b"</sheetData>")


@pytest.mark.parametrize("date1904", [False, True])
def test_the_streamed_read_gives_what_calamine_gives(tmp_path: Path, date1904: bool) -> None:
    path = _kinds_workbook(tmp_path / "kinds.xlsx", date1904)
    rewrite(path, {"xl/worksheets/sheet1.xml": _inline_and_phonetic})
    book = ExcelWorkbook(path)
    by_calamine = book.read_tab("Cases")
    streamed = xlsx_read.read_sheet(book.package, "Cases", stream=True)
    width = max(len(r) for r in by_calamine.rows)
    dense = {n - 1: row for n, row in zip(streamed.row_numbers, streamed.rows, strict=True)}
    for r, row in enumerate(by_calamine.rows):
        got = list(dense.get(r, []))
        got += [None] * (width - len(got))
        want = [None if v == "" else v for v in row] + [None] * (width - len(row))
        assert [(type(v), v) for v in got] == [(type(v), v) for v in want], r
    assert by_calamine.rows[5][3] == CellError("#N/A") and by_calamine.rows[10][8] == CellError(
        "#REF!"
    )
    assert streamed.date1904 == by_calamine.date1904 == date1904


# --- 1904 date system (item 8) -----------------------------------------------------------------


def test_dates_of_a_1904_workbook_are_read_right_as_numbers_and_as_date_cells(
    tmp_path: Path,
) -> None:
    """Excel 2008 for Mac: a date typed as a plain number is a 1904 serial."""
    opened = dt.datetime(2026, 11, 20, 9, 30)
    serial_1904 = (opened - dt.datetime(1904, 1, 1)) / dt.timedelta(days=1)
    path = tmp_path / "mac1904.xlsx"
    book = xlsxwriter.Workbook(str(path), {"date_1904": True})
    sheet = book.add_worksheet("Cases")
    stamp = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    sheet.write_row(0, 0, HEADERS)
    for r, value in ((1, serial_1904), (2, opened)):
        row = case()
        for c, header in enumerate(HEADERS):
            if header == "Opened At":
                if isinstance(value, dt.datetime):
                    sheet.write_datetime(r, c, value, stamp)
                else:
                    sheet.write_number(r, c, value)
            elif row.get(header) is not None:
                sheet.write(r, c, row[header])
    book.close()
    assert b'date1904="1"' in zipfile.ZipFile(path).read("xl/workbook.xml")
    grid = ExcelWorkbook(path).read_tab("Cases")
    assert grid.date1904
    frame = build_frame(grid, SCHEMA, RULES, pd.Timestamp(NOW))
    assert frame.problems == []
    assert frame.cases["Opened At"].tolist() == [pd.Timestamp(opened)] * 2


# --- formulas without a saved result (item 9) --------------------------------------------------


def test_a_formula_without_a_saved_result_is_reported_and_the_row_still_judged(
    tmp_path: Path,
) -> None:
    log = _log(tmp_path, cases=[case(), case(Last_Sent_At=NOW - dt.timedelta(hours=1))])
    book = openpyxl.load_workbook(log)
    sheet = book["Cases"]
    sheet.cell(row=3, column=HEADERS.index("Last Reply At") + 1, value="=NOW()-2")
    sheet.cell(row=3, column=HEADERS.index("Owner") + 1, value='=IF(1,"Li","Wang")')
    book.save(log)
    # openpyxl writes the formula with an empty value: <c r="J3"><f>NOW()-2</f><v></v></c>.
    assert b"<f>NOW()-2</f><v></v></c>" in zipfile.ZipFile(log).read("xl/worksheets/sheet1.xml")
    # A script that writes the XML itself may leave out <v> altogether.
    rewrite(
        log,
        {
            "xl/worksheets/sheet1.xml": set_cell(
                "R3", b'<c r="R3" t="str"><f>IF(1,"Li","Wang")</f></c>'
            )
        },
    )
    doc = _json(_validate(log))
    formula = [w for w in doc["warnings"] if w["code"] == "formula-no-result"]
    assert [(w["cell"], w["column"]) for w in formula] == [
        ("Cases!J3", "Last Reply At"),
        ("Cases!R3", "Owner"),
    ]
    assert formula[0]["message"] == (
        "Last Reply At is a formula with no saved result; open and save the workbook in Excel."
    )
    assert doc["invalid_rows"] == 0 and doc["errors"] == []


def test_a_formula_without_a_saved_result_in_a_required_column_is_an_error(
    tmp_path: Path,
) -> None:
    log = _log(tmp_path)
    book = openpyxl.load_workbook(log)
    book["Cases"].cell(row=2, column=HEADERS.index("Opened At") + 1, value="=NOW()-1")
    book.save(log)
    result = _validate(log)
    assert result.exit_code == 1
    (error,) = _json(result)["errors"]
    assert (error["cell"], error["code"]) == ("Cases!G2", "formula-no-result")


# --- Excel Table totals rows, totals lines, repeated headers (item 11) -------------------------


def test_a_table_totals_row_is_not_a_case(tmp_path: Path) -> None:
    path = tmp_path / "table.xlsx"
    cases = [case(), case(), case()]
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Cases")
    stamp = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    data = [[c.get(h) for h in HEADERS] for c in cases]
    columns = [{"header": h} for h in HEADERS]
    # A count in the Case ID column and no "Total" label: only the table's metadata tells.
    columns[0]["total_function"] = "count"
    columns[HEADERS.index("Follow-ups")]["total_function"] = "sum"
    sheet.add_table(0, 0, len(cases) + 1, len(HEADERS) - 1, {"columns": columns, "total_row": True})
    for r, row in enumerate(data, start=1):
        for c, value in enumerate(row):
            if isinstance(value, dt.datetime):
                sheet.write_datetime(r, c, value, stamp)
            elif value is not None:
                sheet.write(r, c, value)
    book.close()
    table = zipfile.ZipFile(path).read("xl/tables/table1.xml")
    assert b'totalsRowCount="1"' in table
    result = _validate(path)
    doc = _json(result)
    assert (result.exit_code, doc["cases"], doc["errors"]) == (0, 3, [])


def test_totals_lines_and_a_repeated_header_row_are_not_cases(tmp_path: Path) -> None:
    zh = [SCHEMA.field(h).zh for h in HEADERS]
    log = _log(
        tmp_path,
        cases=[
            case(),
            dict(zip(HEADERS, HEADERS, strict=True)),  # the header again, e.g. after a paste
            {"Case ID": "Total", "Follow-ups": 3},
            case(),
            {"Marketplace": "合计", "Follow-ups": 5},
            dict(zip(HEADERS, zh, strict=True)),
            {"Case ID": "总计"},
            {"Case ID": "Totals", "Summary": "2 cases"},
        ],
    )
    result = _validate(log)
    doc = _json(result)
    assert (result.exit_code, doc["cases"], doc["errors"]) == (0, 2, [])
    # The repeated header is skipped silently; each totals line is named once.
    assert [(w["code"], w["cell"]) for w in doc["warnings"]] == [
        ("totals-row", "Cases!A4"),
        ("totals-row", "Cases!B6"),
        ("totals-row", "Cases!A8"),
        ("totals-row", "Cases!A9"),
    ]


def test_formulas_without_a_result_are_found_on_every_side_of_a_chunk_edge(tmp_path: Path) -> None:
    """Every form a producer writes: no <v>, <v></v>, <v/>, a shared formula <f .../>; a text
    formula with <v></v> has a saved (empty) result; in plain and x:-prefixed sheets."""
    path = tmp_path / "formulas.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Cases")
    forms = {101: "none", 202: "empty", 303: "selfclosing", 404: "shared", 505: "text"}
    expected = set()
    for r in range(30_000):
        sheet.write_row(r, 0, [str(12000000000 + r), "US", "x" * 60])
        if r % 991 == 7:
            marker = list(forms)[(r // 991) % len(forms)]
            sheet.write_formula(r, 3, "=NOW()-2", None, marker)
            if forms[marker] != "text":
                expected.add((r, 3))
        if r % 997 == 3:
            sheet.write_formula(r, 4, "=1+1", None, 2)  # saved: not reported
    book.close()

    def strip_results(data: bytes) -> bytes:
        data = data.replace(b"<v>101</v>", b"").replace(b"<v>202</v>", b"<v></v>")
        data = data.replace(b"<v>303</v>", b"<v/>")
        data = data.replace(b"<f>NOW()-2</f><v>404</v>", b'<f t="shared" si="0"/>')
        return re.sub(
            rb'(<c r="D\d+")( s="\d+")?><f>NOW\(\)-2</f><v>505</v>',
            rb'\1 t="str"><f>NOW()-2</f><v></v>',
            data,
        )

    rewrite(path, {"xl/worksheets/sheet1.xml": strip_results})
    sheet_xml = zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml")
    assert len(sheet_xml) > 3 << 20 and b'<f t="shared" si="0"/></c>' in sheet_xml
    assert b't="str"><f>NOW()-2</f><v></v></c>' in sheet_xml
    assert ExcelWorkbook(path).read_tab("Cases").unsaved_formulas == expected
    rewrite(path, {"xl/worksheets/sheet1.xml": prefixed, "xl/workbook.xml": prefixed})
    assert ExcelWorkbook(path).read_tab("Cases").unsaved_formulas == expected
