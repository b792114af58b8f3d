"""Splicing generated tabs into a team's workbook: their parts stay byte-identical, ours are right."""

from __future__ import annotations

import datetime as dt
import io
import re
import shutil
import struct
import subprocess
import zipfile
from pathlib import Path

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from caseloop.backends.xlsx.splice import splice_tabs
from caseloop.backends.xlsx.workbook_part import generated_tabs, tab_names
from caseloop.errors import CaseloopError, TabTakenError
from caseloop.model import Cell, Chart, Range, Series, SheetModel, Style

from rich_workbook import build_team_workbook

RED = Style(bg="#C00000", font_color="#FFFFFF", bold=True, border=True)
GREEN = Style(bg="#C6EFCE", font_color="#006100")
HEADER = Style(bold=True, bg="#DDEBF7", wrap=True)
DUE = Style(bg="#C00000", num_format="yyyy-mm-dd hh:mm")
FORMULA_LIKE = ["=SUM(A1:A9)", "+8613800000000", "-1 day", "@supervisor", '=HYPERLINK("http://x")']
TEAM_TABS = ["Cases", "Dashboard", "Lists"]
WEEKLY_TITLE = "Weekly Summary"
# openpyxl cannot read the team's x14 validation and sparklines; it says so, which is the point.
pytestmark = pytest.mark.filterwarnings("ignore:.*extension is not supported:UserWarning")


def status_model(n_cases: int = 6, title: str = "Status") -> SheetModel:
    header = ["Case ID", "Flag", "Waiting (h)", "Due at", "Notes"]
    rows = [
        [Cell(f"Generated 2026-03-20 09:00, {n_cases} cases")],
        [Cell(h, HEADER) for h in header],
    ]
    for n in range(n_cases):
        style = RED if n % 2 == 0 else GREEN
        note = FORMULA_LIKE[n % len(FORMULA_LIKE)]
        rows.append(
            [
                Cell(str(12345678900 + n), style),
                Cell("OVERDUE" if n % 2 == 0 else "ON TRACK", style),
                Cell(round(30.5 - n, 1), style),
                Cell(
                    dt.datetime(2026, 3, 19, 8, 15) + dt.timedelta(hours=n),
                    DUE if n % 2 == 0 else None,
                ),
                Cell(note, style),
            ]
        )
    return SheetModel(
        title=title,
        rows=rows,
        col_widths=[14, 12, 11, 17, 40],
        freeze_rows=2,
        auto_filter=Range(1, 0, n_cases + 1, 4),
        kind="status",
    )


def weekly_model(with_chart: bool = True) -> SheetModel:
    rows = [
        [
            Cell("Week", HEADER),
            Cell("Opened", HEADER),
            Cell("Resolved", HEADER),
            Cell("Backlog", HEADER),
        ]
    ]
    for week in range(1, 13):
        rows.append([Cell(f"2026-W{week:02d}"), Cell(week * 3), Cell(week * 2), Cell(week)])
    chart = Chart(
        title="Opened vs resolved",
        categories=Range(1, 0, 12, 0),
        series=(
            Series("Opened", Range(1, 1, 12, 1), "column", "#4472C4"),
            Series("Resolved", Range(1, 2, 12, 2), "column", "#70AD47"),
            Series("Backlog", Range(1, 3, 12, 3), "line", "#C00000"),
        ),
        anchor_row=1,
        anchor_col=6,
        y_title="Cases",
    )
    return SheetModel(
        WEEKLY_TITLE,
        rows,
        col_widths=[10, 9, 9, 9],
        freeze_rows=1,
        charts=[chart] if with_chart else [],
        kind="weekly",
    )


@pytest.fixture
def team(tmp_path: Path) -> bytes:
    return build_team_workbook(tmp_path / "team.xlsx").read_bytes()


def members(data: bytes) -> dict[str, zipfile.ZipInfo]:
    return {info.filename: info for info in zipfile.ZipFile(io.BytesIO(data)).infolist()}


def raw_member(data: bytes, info: zipfile.ZipInfo) -> bytes:
    """A member's compressed bytes exactly as stored."""
    name_len, extra_len = struct.unpack(
        "<HH", data[info.header_offset + 26 : info.header_offset + 30]
    )
    start = info.header_offset + 30 + name_len + extra_len
    return data[start : start + info.compress_size]


def read(data: bytes, name: str) -> bytes:
    return zipfile.ZipFile(io.BytesIO(data)).read(name)


def sheet_part(data: bytes, title: str) -> str:
    """The zip member holding tab ``title``, found the way Excel does (workbook.xml, then rels)."""
    workbook = read(data, "xl/workbook.xml").decode()
    rid = re.search(
        rf'<sheet name="{re.escape(title)}" sheetId="\d+" r:id="(\w+)"/>', workbook
    ).group(1)
    rels = read(data, "xl/_rels/workbook.xml.rels").decode()
    target = re.search(rf'Id="{rid}"[^>]*Target="([^"]+)"', rels) or re.search(
        rf'Target="([^"]+)"[^>]*Id="{rid}"', rels
    )
    return "xl/" + target.group(1)


def generated_parts(data: bytes, titles: list[str]) -> set[str]:
    """The sheet parts of the generated tabs and every part they refer to."""
    found: set[str] = set()
    queue = [sheet_part(data, title) for title in titles]
    names = set(members(data))
    while queue:
        part = queue.pop()
        if part in found or part not in names:
            continue
        found.add(part)
        folder, base = part.rsplit("/", 1)
        rels = f"{folder}/_rels/{base}.rels"
        if rels in names:
            found.add(rels)
            for target in re.findall(r'Target="([^"]+)"', read(data, rels).decode()):
                queue.append(_norm(target if target.startswith("/") else f"{folder}/{target}"))
    return found


def _norm(path: str) -> str:
    out: list[str] = []
    for piece in path.split("/"):
        if piece == "..":
            out.pop()
        elif piece not in ("", "."):
            out.append(piece)
    return "/".join(out)


ALLOWED_TO_CHANGE = {
    "xl/workbook.xml",
    "xl/_rels/workbook.xml.rels",
    "[Content_Types].xml",
    "xl/styles.xml",
    "docProps/custom.xml",
    "_rels/.rels",
}


def assert_team_parts_identical(original: bytes, result: bytes, generated: set[str]) -> None:
    before, after = members(original), members(result)
    for name, info in before.items():
        if name in ALLOWED_TO_CHANGE or name in generated:
            continue
        assert name in after, f"{name} was dropped"
        new = after[name]
        assert raw_member(result, new) == raw_member(original, info), (
            f"{name} was recompressed or changed"
        )
        assert (new.CRC, new.file_size, new.compress_type) == (
            info.CRC,
            info.file_size,
            info.compress_type,
        )
        assert read(result, name) == read(original, name)
    extra = set(after) - set(before) - ALLOWED_TO_CHANGE - generated
    assert not extra, f"unexpected new parts {extra}"


def test_team_parts_are_byte_identical_after_two_splices(team: bytes) -> None:
    once = splice_tabs(team, [status_model()])
    twice = splice_tabs(once, [status_model(9), weekly_model()])
    assert_team_parts_identical(team, twice, generated_parts(twice, ["Status", WEEKLY_TITLE]))
    assert read(twice, "xl/sharedStrings.xml") == read(team, "xl/sharedStrings.xml")
    assert zipfile.ZipFile(io.BytesIO(twice)).testzip() is None
    # Members were stored with data descriptors; the copies carry their sizes in the header.
    assert all(info.flag_bits & 0x08 for info in members(team).values())
    assert not any(info.flag_bits & 0x08 for info in members(twice).values())


def test_team_tabs_keep_their_order_and_defined_names(team: bytes) -> None:
    result = splice_tabs(splice_tabs(team, [status_model()]), [weekly_model(), status_model()])
    assert tab_names(result) == [*TEAM_TABS, "Status", WEEKLY_TITLE]
    workbook_before = read(team, "xl/workbook.xml").decode()
    workbook_after = read(result, "xl/workbook.xml").decode()
    for name in re.findall(r"<definedName\b.*?</definedName>", workbook_before):
        assert name in workbook_after
    for sheet in re.findall(r"<sheet\b[^>]*/>", workbook_before):
        assert sheet in workbook_after
    book = openpyxl.load_workbook(io.BytesIO(result))
    assert book.defined_names["CaseIDs"].attr_text == "Cases!$A$2:$A$13"
    assert book["Lists"].defined_names["Channels"].attr_text == "Lists!$B$1:$B$4"


def test_generated_tab_reads_back_in_openpyxl_and_calamine(team: bytes) -> None:
    result = splice_tabs(team, [status_model()])
    sheet = openpyxl.load_workbook(io.BytesIO(result))["Status"]
    assert sheet["A1"].value == "Generated 2026-03-20 09:00, 6 cases"
    assert [c.value for c in sheet[2]] == ["Case ID", "Flag", "Waiting (h)", "Due at", "Notes"]
    assert sheet["A3"].value == "12345678900" and sheet["A3"].data_type == "s"
    assert sheet["C3"].value == 30.5
    assert sheet["D3"].value == dt.datetime(2026, 3, 19, 8, 15)
    assert sheet["D3"].number_format == "yyyy-mm-dd hh:mm"
    assert sheet["A3"].fill.fgColor.rgb == "FFC00000"
    assert sheet["A4"].fill.fgColor.rgb == "FFC6EFCE"
    assert sheet["A3"].font.b and sheet["A3"].font.color.rgb == "FFFFFFFF"
    assert sheet["B2"].alignment.wrap_text
    assert sheet.freeze_panes == "A3"
    assert sheet.auto_filter.ref == "A2:E8"
    assert sheet.column_dimensions["E"].width == pytest.approx(40, abs=1)

    calamine = CalamineWorkbook.from_filelike(io.BytesIO(result))
    assert calamine.sheet_names == [*TEAM_TABS, "Status"]
    rows = calamine.get_sheet_by_name("Status").to_python()
    assert rows[2][:4] == ["12345678900", "OVERDUE", 30.5, dt.datetime(2026, 3, 19, 8, 15)]
    # The team's formula kept its cached value (an openpyxl round trip would have emptied it).
    assert calamine.get_sheet_by_name("Cases").to_python()[1][7] == 17.0


def test_text_that_looks_like_a_formula_stays_text(team: bytes, tmp_path: Path) -> None:
    result = splice_tabs(team, [status_model(len(FORMULA_LIKE))])
    xml = read(result, sheet_part(result, "Status")).decode()
    assert "<f>" not in xml and "<f " not in xml
    assert 't="s"' not in xml, "generated cells must use inline strings, not sharedStrings.xml"
    for text in FORMULA_LIKE:
        escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        assert re.search(
            rf'<c r="E\d+" s="\d+" t="inlineStr"><is><t>{re.escape(escaped)}</t></is></c>', xml
        )
    sheet = openpyxl.load_workbook(io.BytesIO(result))["Status"]
    notes = [sheet.cell(row=3 + n, column=5) for n in range(len(FORMULA_LIKE))]
    assert [cell.value for cell in notes] == FORMULA_LIKE
    assert {cell.data_type for cell in notes} == {"s"}


def test_text_containing_a_style_attribute_is_not_rewritten(team: bytes) -> None:
    tricky = 'he wrote <c r="A1" s="2"> and s="0" in the case'
    model = SheetModel("Status", [[Cell(tricky, RED), Cell("x", GREEN)]])
    result = splice_tabs(team, [model])
    rows = (
        CalamineWorkbook.from_filelike(io.BytesIO(result)).get_sheet_by_name("Status").to_python()
    )
    assert rows[0][0] == tricky
    sheet = openpyxl.load_workbook(io.BytesIO(result))["Status"]
    assert sheet["A1"].fill.fgColor.rgb == "FFC00000" and sheet["B1"].fill.fgColor.rgb == "FFC6EFCE"


def test_chart_series_point_at_the_generated_tab(team: bytes) -> None:
    result = splice_tabs(team, [weekly_model()])
    parts = generated_parts(result, [WEEKLY_TITLE])
    charts = [name for name in parts if name.startswith("xl/charts/chart")]
    assert len(charts) == 1
    chart = read(result, charts[0]).decode()
    formulas = re.findall(r"<c:f>([^<]+)</c:f>", chart)
    assert "'Weekly Summary'!$A$2:$A$13" in formulas
    assert {
        "'Weekly Summary'!$B$2:$B$13",
        "'Weekly Summary'!$C$2:$C$13",
        "'Weekly Summary'!$D$2:$D$13",
    } <= set(formulas)
    assert "<c:barChart>" in chart and "<c:lineChart>" in chart, (
        "column and line combined on one chart"
    )
    types = read(result, "[Content_Types].xml").decode()
    assert f'PartName="/{charts[0]}"' in types


def test_styles_do_not_grow_on_repeated_syncs(team: bytes) -> None:
    second = splice_tabs(
        splice_tabs(team, [status_model(), weekly_model()]), [status_model(), weekly_model()]
    )
    third = splice_tabs(second, [status_model(40), weekly_model()])
    assert read(third, "xl/styles.xml") == read(second, "xl/styles.xml")
    before = read(team, "xl/styles.xml").decode()
    after = read(second, "xl/styles.xml").decode()
    # Appended, never reordered: the team's own entries are still a prefix of each list.
    for tag in ("fonts", "fills", "borders", "cellXfs"):
        old = re.search(rf"<{tag} count=\"\d+\">(.*?)</{tag}>", before, re.S).group(1)
        new = re.search(rf"<{tag} count=\"(\d+)\">(.*?)</{tag}>", after, re.S)
        assert new.group(2).startswith(old)
        assert int(new.group(1)) == len(
            re.findall(rf"<{tag[:-1] if tag != 'cellXfs' else 'xf'}\b", new.group(2))
        )
    ids = [int(i) for i in re.findall(r'<numFmt numFmtId="(\d+)"', after)]
    assert len(ids) == len(set(ids)) and all(i >= 164 for i in ids)


def test_second_splice_replaces_in_place_and_drops_old_parts(team: bytes) -> None:
    first = splice_tabs(team, [weekly_model(), status_model()])
    old_chart_parts = {
        n for n in generated_parts(first, [WEEKLY_TITLE]) if "chart" in n or "drawing" in n
    }
    assert old_chart_parts
    second = splice_tabs(first, [weekly_model(with_chart=False)])
    assert tab_names(second) == tab_names(first)
    assert sheet_part(second, WEEKLY_TITLE) == sheet_part(first, WEEKLY_TITLE)
    names = set(members(second))
    for part in old_chart_parts:
        assert part not in names
        assert f'PartName="/{part}"' not in read(second, "[Content_Types].xml").decode()
    # Writing only one tab leaves the other generated tab alone.
    assert read(second, sheet_part(second, "Status")) == read(first, sheet_part(first, "Status"))
    assert generated_tabs(second) == {WEEKLY_TITLE: "weekly", "Status": "status"}


def test_team_tab_with_our_name_is_refused(tmp_path: Path) -> None:
    own = build_team_workbook(tmp_path / "own.xlsx", own_status_tab="Status").read_bytes()
    with pytest.raises(TabTakenError) as refused:
        splice_tabs(own, [status_model()])
    assert str(refused.value.for_option("--status-tab")) == (
        'The spreadsheet already has its own tab "Status" that caseloop did not make; caseloop '
        "will not touch it. Rename that tab, or give the generated tab another name with "
        "--status-tab NAME."
    )
    with pytest.raises(TabTakenError) as refused:
        splice_tabs(own, [status_model(title="STATUS")])  # Excel compares tab names ignoring case
    assert (refused.value.title, refused.value.kind) == ("Status", "status")
    with pytest.raises(TabTakenError) as refused:
        splice_tabs(own, [SheetModel("status", [[Cell("x")]], kind="weekly")])
    assert (refused.value.title, refused.value.kind) == ("Status", "weekly")
    renamed = splice_tabs(own, [status_model(title="Status (caseloop)")])
    assert tab_names(renamed)[-2:] == ["Status", "Status (caseloop)"]
    assert read(renamed, sheet_part(renamed, "Status")) == read(own, sheet_part(own, "Status"))


def test_generated_tabs_and_tab_names(team: bytes) -> None:
    assert generated_tabs(team) == {}
    assert tab_names(team) == TEAM_TABS
    result = splice_tabs(team, [status_model(), weekly_model()])
    assert generated_tabs(result) == {"Status": "status", WEEKLY_TITLE: "weekly"}
    custom = read(result, "docProps/custom.xml").decode()
    assert 'name="Team"><vt:lpwstr>EU sellers</vt:lpwstr>' in custom, (
        "the team's own property stays"
    )


def test_workbook_without_custom_properties_gets_none(tmp_path: Path) -> None:
    import xlsxwriter

    path = tmp_path / "plain.xlsx"
    book = xlsxwriter.Workbook(path)
    book.add_worksheet("Cases").write("A1", "Case ID")
    book.close()
    original = path.read_bytes()
    result = splice_tabs(original, [status_model()])
    # The mark is a name scoped to the tab, in workbook.xml: the package root is not touched.
    assert generated_tabs(result) == {"Status": "status"}
    assert read(result, "_rels/.rels") == read(original, "_rels/.rels")
    assert "docProps/custom.xml" not in members(result)
    assert openpyxl.load_workbook(io.BytesIO(result))["Status"]["A3"].value == "12345678900"


def test_dates_follow_a_1904_workbook(tmp_path: Path) -> None:
    team_1904 = build_team_workbook(tmp_path / "mac.xlsx", date_1904=True).read_bytes()
    result = splice_tabs(team_1904, [status_model()])
    assert openpyxl.load_workbook(io.BytesIO(result))["Status"]["D3"].value == dt.datetime(
        2026, 3, 19, 8, 15
    )


def test_macros_are_copied_untouched(tmp_path: Path) -> None:
    xlsm = build_team_workbook(tmp_path / "macros.xlsm", macros=True).read_bytes()
    result = splice_tabs(xlsm, [status_model()])
    before, after = members(xlsm), members(result)
    assert raw_member(result, after["xl/vbaProject.bin"]) == raw_member(
        xlsm, before["xl/vbaProject.bin"]
    )
    assert "macroEnabled" in read(result, "[Content_Types].xml").decode()


def test_not_an_xlsx_is_one_sentence(tmp_path: Path) -> None:
    for junk in (b"", b"Case ID,Status\n1,Open\n", b"PK\x03\x04broken", zipfile_without_workbook()):
        with pytest.raises(CaseloopError) as error:
            splice_tabs(junk, [status_model()])
        assert "\n" not in str(error.value) and str(error.value).endswith(".")


def zipfile_without_workbook() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    return buffer.getvalue()


@pytest.mark.skipif(
    shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed"
)
def test_libreoffice_opens_the_result_and_keeps_the_mark(team: bytes, tmp_path: Path) -> None:
    result = tmp_path / "synced.xlsx"
    result.write_bytes(
        splice_tabs(splice_tabs(team, [status_model()]), [status_model(), weekly_model()])
    )
    profile = f"-env:UserInstallation=file://{tmp_path}/lo-profile"
    for target in ("pdf", "xlsx"):
        subprocess.run(
            [
                "soffice",
                profile,
                "--headless",
                "--convert-to",
                target,
                "--outdir",
                str(tmp_path / target),
                str(result),
            ],
            check=True,
            capture_output=True,
            timeout=180,
        )
    assert (tmp_path / "pdf" / "synced.pdf").stat().st_size > 1000
    resaved = (tmp_path / "xlsx" / "synced.xlsx").read_bytes()
    # The mark survives a LibreOffice save, and the next sync replaces the tabs in place.
    assert generated_tabs(resaved) == {"Status": "status", WEEKLY_TITLE: "weekly"}
    again = splice_tabs(resaved, [status_model(3), weekly_model()])
    assert tab_names(again) == [*TEAM_TABS, "Status", WEEKLY_TITLE]
    rows = CalamineWorkbook.from_filelike(io.BytesIO(again)).get_sheet_by_name("Status").to_python()
    assert rows[0][0] == "Generated 2026-03-20 09:00, 3 cases"
