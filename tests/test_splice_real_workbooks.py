"""Splicing into workbooks shaped like other producers' files (issue 16): prefixes, moved parts, odd styles, marks."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from pathlib import Path

import oddbooks
import openpyxl
import pytest
import xlsxwriter
from libreoffice import LibreOffice, available
from lxml import etree
from oddbooks import NS_MAIN, NS_MC, members
from python_calamine import CalamineWorkbook
from test_xlsx_splice import TEAM_TABS, WEEKLY_TITLE, status_model, weekly_model

from caseloop.backends.xlsx import splice as xlsx_splice
from caseloop.backends.xlsx.relationships import rels_xml
from caseloop.backends.xlsx.splice import splice_tabs
from caseloop.backends.xlsx.workbook_part import generated_tabs, tab_names
from caseloop.errors import CaseloopError, RefusedError

from rich_workbook import build_team_workbook

pytestmark = pytest.mark.filterwarnings("ignore:.*extension is not supported:UserWarning")
needs_libreoffice = pytest.mark.skipif(not available(), reason="LibreOffice is not installed")
NS_CUSTOM = "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"
DUE_AT = dt.datetime(2026, 3, 19, 8, 15)


@pytest.fixture
def team(tmp_path: Path) -> bytes:
    return build_team_workbook(tmp_path / "team.xlsx").read_bytes()


@pytest.fixture
def office(tmp_path: Path) -> LibreOffice:
    return LibreOffice(tmp_path)


def cases_rows(data: bytes) -> list[list[object]]:
    return CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_name("Cases").to_python()


def workbook_xml(data: bytes) -> etree._Element:
    return etree.fromstring(members(data)[oddbooks.workbook_part(data)])


def local_names(data: bytes) -> dict[tuple[str, str | None], str]:
    return {
        (name.get("name"), name.get("localSheetId")): name.text or ""
        for name in workbook_xml(data).iter(f"{{{NS_MAIN}}}definedName")
    }


def assert_relationships_kept(before: bytes, after: bytes) -> None:
    old, new = oddbooks.relationships(before), oddbooks.relationships(after)
    for part, rels in old.items():
        assert rels <= new.get(part, set()), f"relationships lost from {part}"


# --- 1. namespace prefixes ------------------------------------------------------------------


def test_old_openpyxl_ns0_relationships_are_all_kept(team: bytes) -> None:
    odd = oddbooks.old_openpyxl(team)
    assert b"<ns0:Relationships" in members(odd)["xl/_rels/workbook.xml.rels"]
    once = splice_tabs(odd, [status_model()])
    assert_relationships_kept(odd, once)
    assert cases_rows(once) == cases_rows(odd)
    assert generated_tabs(once) == {"Status": "status"}
    # The second run finds its own tab again instead of calling it the team's.
    twice = splice_tabs(once, [status_model(9), weekly_model()])
    assert_relationships_kept(odd, twice)
    assert tab_names(twice) == [*TEAM_TABS, "Status", WEEKLY_TITLE]
    rels = members(twice)["xl/_rels/workbook.xml.rels"].decode()
    assert "<Relationship " not in rels, "new entries take the part's own prefix"
    book = openpyxl.load_workbook(io.BytesIO(twice))
    assert book["Status"]["D3"].value == DUE_AT
    assert book["Cases"]["A2"].value == "12345678900"


def test_closedxml_x_prefixed_workbook_and_styles(team: bytes) -> None:
    odd = oddbooks.closedxml(team)
    assert b"<x:workbook" in members(odd)["xl/workbook.xml"]
    result = splice_tabs(splice_tabs(odd, [status_model()]), [status_model(), weekly_model()])
    assert tab_names(result) == [*TEAM_TABS, "Status", WEEKLY_TITLE]
    sheets = [s.get("name") for s in workbook_xml(result).iter(f"{{{NS_MAIN}}}sheet")]
    assert sheets == [*TEAM_TABS, "Status", WEEKLY_TITLE]
    styles = etree.fromstring(members(result)["xl/styles.xml"])
    for tag in ("fonts", "fills", "borders", "cellXfs"):
        container = styles.find(f"{{{NS_MAIN}}}{tag}")
        assert int(container.get("count")) == len(container)
    assert re.search(rb"<(?!x:|/x:|\?)", members(result)["xl/styles.xml"]) is None
    book = openpyxl.load_workbook(io.BytesIO(result))
    assert book["Status"]["D3"].value == DUE_AT
    assert book["Status"]["D3"].number_format == "yyyy-mm-dd hh:mm"
    assert book["Status"]["A3"].fill.fgColor.rgb == "FFC00000"
    assert book.defined_names["CaseIDs"].attr_text == "Cases!$A$2:$A$13"


# --- 2. verify before committing ------------------------------------------------------------


def _lose_team_relationships(self, rel_type: str, part: str) -> str:
    """The defect of issue 16: the relationships part rewritten with caseloop's entry only."""
    self.rels_text = rels_xml([("rId99", rel_type, "worksheets/x.xml", False)]).decode()
    return "rId99"


def _lose_a_default(self) -> None:
    self.text = re.sub(r'<Default Extension="png"[^>]*/>', "", self.text)
    self.package.write(self.NAME, self.text.encode())


def _lose_a_defined_name(self) -> None:
    self.text = re.sub(r'<definedName name="CaseIDs">.*?</definedName>', "", self.text)
    self.package.write(self.part, self.text.encode())
    self.package.write(self.rels_name, self.rels_text.encode())


def _lose_a_sheet(self) -> None:
    self.text = re.sub(r'<sheet name="Lists"[^>]*/>', "", self.text)
    self.package.write(self.part, self.text.encode())
    self.package.write(self.rels_name, self.rels_text.encode())


@pytest.mark.parametrize(
    ("target", "replacement", "what"),
    [
        ("WorkbookPart.add_rel", _lose_team_relationships, "relationship"),
        ("ContentTypes.save", _lose_a_default, "content type"),
        ("WorkbookPart.save", _lose_a_defined_name, "defined name"),
        ("WorkbookPart.save", _lose_a_sheet, "tab"),
    ],
)
def test_a_splice_that_would_lose_something_is_refused(
    team: bytes, monkeypatch: pytest.MonkeyPatch, target: str, replacement, what: str
) -> None:
    cls, method = target.split(".")
    monkeypatch.setattr(getattr(xlsx_splice, cls), method, replacement)
    with pytest.raises(CaseloopError) as error:
        splice_tabs(team, [status_model()])
    message = str(error.value)
    assert what in message and "\n" not in message and message.endswith(".")
    assert "nothing was written" in message


# --- 3. styles inside mc:AlternateContent ---------------------------------------------------


def _excel_entries(container: etree._Element) -> list[etree._Element]:
    """The entries of a styles list the way Excel reads them: one per AlternateContent."""
    entries = []
    for child in container:
        if etree.QName(child).localname == "AlternateContent":
            choice = child.find(f"{{{NS_MC}}}Choice")
            entries.append(choice[0])
        else:
            entries.append(child)
    return entries


def test_hancell_alternate_content_styles_keep_dates_dates(team: bytes, tmp_path: Path) -> None:
    odd = oddbooks.alter(team, {"xl/styles.xml": oddbooks.hancell_styles})
    result = splice_tabs(odd, [status_model()])
    styles = etree.fromstring(members(result)["xl/styles.xml"])
    for tag in ("fonts", "fills", "borders", "cellXfs"):
        container = styles.find(f"{{{NS_MAIN}}}{tag}")
        assert int(container.get("count")) == len(container), f"{tag} count"
    # Resolve D3 (Due at) as Excel does: its s index into cellXfs, then numFmtId.
    sheet = members(result)["xl/worksheets/sheet4.xml"].decode()
    index = int(re.search(r'<c r="D3" s="(\d+)"', sheet).group(1))
    xf = _excel_entries(styles.find(f"{{{NS_MAIN}}}cellXfs"))[index]
    codes = {f.get("numFmtId"): f.get("formatCode") for f in styles.iter(f"{{{NS_MAIN}}}numFmt")}
    assert codes[xf.get("numFmtId")] == "yyyy-mm-dd hh:mm"
    font = _excel_entries(styles.find(f"{{{NS_MAIN}}}fonts"))[int(xf.get("fontId"))]
    fill = _excel_entries(styles.find(f"{{{NS_MAIN}}}fills"))[int(xf.get("fillId"))]
    assert fill.find(f".//{{{NS_MAIN}}}fgColor").get("rgb") == "FFC00000"
    assert font.find(f"{{{NS_MAIN}}}b") is None  # DUE has no bold; RED (A3) has
    if available():
        path = tmp_path / "hancell.xlsx"
        path.write_bytes(result)
        csv = LibreOffice(tmp_path).sheet_csv(path, "Status")
        assert "2026-03-19 08:15" in csv and "46100" not in csv


# --- 4. a workbook part outside xl/ ---------------------------------------------------------


@pytest.mark.parametrize("keep_styles", [False, True])
def test_workbook_part_outside_xl(team: bytes, tmp_path: Path, keep_styles: bool) -> None:
    odd = oddbooks.move_workbook(team, "wb", keep_styles=keep_styles)
    assert oddbooks.workbook_part(odd) == "wb/workbook.xml"
    result = splice_tabs(odd, [status_model(), weekly_model()])
    new_parts = set(members(result)) - set(members(odd))
    assert new_parts and all(name.startswith("wb/") for name in new_parts), new_parts
    assert any(name.startswith("wb/charts/") for name in new_parts)
    calamine = CalamineWorkbook.from_filelike(io.BytesIO(result))
    assert calamine.sheet_names == [*TEAM_TABS, "Status", WEEKLY_TITLE]
    rows = calamine.get_sheet_by_name("Status").to_python()
    assert rows[1][:2] == ["Case ID", "Flag"]
    if keep_styles:
        # Each reader looks for the styles in one place only, before caseloop touches anything:
        # openpyxl in xl/, calamine beside the workbook part. So calamine reads this layout's
        # dates as numbers (the team's own too), and openpyxl is the one to check them here.
        book = openpyxl.load_workbook(io.BytesIO(result))
        assert book["Status"]["D3"].value == DUE_AT
        assert book["Status"]["A3"].fill.fgColor.rgb == "FFC00000"
    else:
        assert rows[2][3] == DUE_AT
    if not keep_styles and available():
        path = tmp_path / "moved.xlsx"
        path.write_bytes(result)
        assert "2026-03-19 08:15" in LibreOffice(tmp_path).sheet_csv(path, "Status")
    again = splice_tabs(result, [status_model(3)])
    assert tab_names(again) == tab_names(result)


# --- 5. an empty styleSheet -----------------------------------------------------------------


def plain_workbook(path: Path) -> bytes:
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet("Cases")
    sheet.write_row(0, 0, ["Case ID", "Status"])
    sheet.write_row(1, 0, ["12345678900", "Open"])
    book.close()
    return path.read_bytes()


@pytest.mark.parametrize(
    "styles",
    [
        f'<styleSheet xmlns="{NS_MAIN}"/>',
        f'<?xml version="1.0"?>\n<styleSheet xmlns="{NS_MAIN}"><numFmts count="0"/></styleSheet>',
        f'<x:styleSheet xmlns:x="{NS_MAIN}"></x:styleSheet>',
    ],
)
def test_empty_stylesheet_is_spliced(tmp_path: Path, styles: str) -> None:
    odd = oddbooks.alter(
        plain_workbook(tmp_path / "p.xlsx"), {"xl/styles.xml": lambda _: styles.encode()}
    )
    result = splice_tabs(odd, [status_model()])
    book = openpyxl.load_workbook(io.BytesIO(result))
    assert book["Status"]["D3"].value == DUE_AT
    assert book["Status"]["A3"].fill.fgColor.rgb == "FFC00000"
    assert book["Cases"]["A2"].value == "12345678900"


# --- 6. structure-locked workbooks ----------------------------------------------------------


def test_structure_locked_workbook_gets_no_new_tab(team: bytes) -> None:
    locked = oddbooks.lock_structure(team)
    with pytest.raises(RefusedError) as refused:
        splice_tabs(locked, [status_model()])
    message = str(refused.value)
    assert '"Status"' in message and "protected" in message and "\n" not in message
    # A tab caseloop made before the lock is rewritten where it stands: no tab is added.
    ours = oddbooks.lock_structure(splice_tabs(team, [status_model()]))
    again = splice_tabs(ours, [status_model(3)])
    assert tab_names(again) == [*TEAM_TABS, "Status"]
    with pytest.raises(RefusedError, match=WEEKLY_TITLE):
        splice_tabs(ours, [status_model(3), weekly_model()])


# --- 7. the mark travels with the sheet -----------------------------------------------------


def test_mark_is_a_name_scoped_to_the_sheet(team: bytes) -> None:
    result = splice_tabs(team, [status_model(), weekly_model()])
    names = local_names(result)
    assert names[("_caseloop_tab", "3")] == '"status"'
    assert names[("_caseloop_tab", "4")] == '"weekly"'
    custom = members(result)["docProps/custom.xml"]
    assert custom == members(team)["docProps/custom.xml"], "custom properties are left alone"


def legacy(data: bytes, marks: dict[str, str]) -> bytes:
    """The workbook as the previous caseloop left it: marks as custom properties, no names."""

    def strip_names(xml: bytes) -> bytes:
        return re.sub(rb'<definedName name="_caseloop_tab"[^>]*>[^<]*</definedName>', b"", xml)

    def add_marks(xml: bytes) -> bytes:
        extra = "".join(
            f'<property fmtid="{{D5CDD505-2E9C-101B-9397-08002B2CF9AE}}" pid="{10 + n}" '
            f'name="caseloop:{title}"><vt:lpwstr>{kind}</vt:lpwstr></property>'
            for n, (title, kind) in enumerate(marks.items())
        )
        return xml.replace(b"</Properties>", extra.encode() + b"</Properties>")

    return oddbooks.alter(data, {"xl/workbook.xml": strip_names, "docProps/custom.xml": add_marks})


def test_old_custom_property_mark_is_trusted_only_with_caseloop_content(
    team: bytes, tmp_path: Path
) -> None:
    old = legacy(splice_tabs(team, [status_model()]), {"Status": "status"})
    assert ("_caseloop_tab", "3") not in local_names(old)
    again = splice_tabs(old, [status_model(3)])
    assert tab_names(again) == [*TEAM_TABS, "Status"]
    assert local_names(again)[("_caseloop_tab", "3")] == '"status"'
    custom = members(again)["docProps/custom.xml"].decode()
    assert "caseloop:" not in custom and "EU sellers" in custom
    # A team tab of that name, under a stale mark from before: refused.
    own = build_team_workbook(tmp_path / "own.xlsx", own_status_tab="Status").read_bytes()
    with pytest.raises(RefusedError, match='"Status"'):
        splice_tabs(legacy(own, {"Status": "status"}), [status_model()])


@needs_libreoffice
@pytest.mark.parametrize("old_mark", [False, True])
def test_team_tab_made_in_libreoffice_after_deleting_ours_is_refused(
    team: bytes, office: LibreOffice, tmp_path: Path, old_mark: bool
) -> None:
    synced = splice_tabs(team, [status_model()])
    source = tmp_path / "synced.xlsx"
    source.write_bytes(legacy(synced, {"Status": "status"}) if old_mark else synced)
    edited = office.edit(
        source,
        tmp_path / "edited.xlsx",
        "delete|Status",
        "insert|Status|1|Team status board - typed by hand",
    )
    assert "Status" in tab_names(edited)
    with pytest.raises(RefusedError) as refused:
        splice_tabs(edited, [status_model()])
    assert '"Status"' in str(refused.value)
    assert generated_tabs(edited) == {}


@needs_libreoffice
def test_mark_follows_rename_and_move_in_libreoffice(
    team: bytes, office: LibreOffice, tmp_path: Path
) -> None:
    source = tmp_path / "synced.xlsx"
    source.write_bytes(splice_tabs(team, [status_model(), weekly_model()]))
    edited = office.edit(source, tmp_path / "edited.xlsx", "rename|Status|Board", "move|Board|0")
    assert tab_names(edited)[0] == "Board"
    assert generated_tabs(edited) == {"Board": "status", WEEKLY_TITLE: "weekly"}
    again = splice_tabs(edited, [status_model(3, title="Board"), weekly_model()])
    assert tab_names(again) == tab_names(edited)
    rows = CalamineWorkbook.from_filelike(io.BytesIO(again)).get_sheet_by_name("Board").to_python()
    assert rows[0][0] == "Generated 2026-03-20 09:00, 3 cases"
    assert cases_rows(again)[1][0] == "12345678900"


# --- 8. team formulas that read a generated tab ---------------------------------------------


def calc_workbook(path: Path, *, formula: bool, name: bool, calc_pr: str | None) -> bytes:
    """A team workbook whose Dashboard may count Status's OVERDUE rows (cached 99, stale)."""
    book = xlsxwriter.Workbook(path)
    book.add_worksheet("Cases").write_row(0, 0, ["Case ID", "Status"])
    dashboard = book.add_worksheet("Dashboard")
    if formula:
        dashboard.write_formula("A1", '=COUNTIF(Status!B:B,"OVERDUE")', None, 99)
    else:
        dashboard.write_number("A1", 99)
    if name:
        book.define_name("Overdue", '=COUNTIF(Status!$B:$B,"OVERDUE")')
    book.close()

    def set_calc(xml: bytes) -> bytes:
        # xlsxwriter always asks for a recalculation; Excel's own files do not.
        return re.sub(rb"<calcPr[^>]*/>", (calc_pr or "").encode(), xml)

    return oddbooks.alter(path.read_bytes(), {"xl/workbook.xml": set_calc})


@pytest.mark.parametrize(
    ("formula", "name", "calc_pr"),
    [
        (True, False, '<calcPr calcId="191029"/>'),
        (False, True, '<calcPr calcId="191029"/>'),
        (True, False, None),
    ],
)
def test_team_formulas_reading_a_generated_tab_ask_for_recalculation(
    tmp_path: Path, formula: bool, name: bool, calc_pr: str | None
) -> None:
    original = calc_workbook(tmp_path / "t.xlsx", formula=formula, name=name, calc_pr=calc_pr)
    result = splice_tabs(original, [status_model()])
    root = workbook_xml(result)
    calc = root.find(f"{{{NS_MAIN}}}calcPr")
    assert calc is not None and calc.get("fullCalcOnLoad") == "1"
    if calc_pr:
        assert calc.get("calcId") == "191029"
    order = [etree.QName(child).localname for child in root]
    assert order.index("calcPr") == order.index("definedNames") + 1
    # Only calcPr changed besides caseloop's own tab entry and names.
    before = members(original)["xl/workbook.xml"].decode()
    after = members(result)["xl/workbook.xml"].decode()
    strip = r"<calcPr[^>]*/>|<sheet [^>]*/>|<definedName[^>]*>[^<]*</definedName>|</?definedNames>"
    assert re.sub(strip, "", before) == re.sub(strip, "", after)
    assert openpyxl.load_workbook(io.BytesIO(result))["Status"]["D3"].value == DUE_AT


def test_no_recalculation_asked_when_nothing_reads_the_tab(tmp_path: Path) -> None:
    original = calc_workbook(
        tmp_path / "t.xlsx", formula=False, name=False, calc_pr='<calcPr calcId="191029"/>'
    )
    result = splice_tabs(original, [status_model()])
    assert workbook_xml(result).find(f"{{{NS_MAIN}}}calcPr").get("fullCalcOnLoad") is None


def test_custom_xml_untouched_for_a_new_workbook(tmp_path: Path) -> None:
    result = splice_tabs(plain_workbook(tmp_path / "p.xlsx"), [status_model()])
    assert "docProps/custom.xml" not in members(result)
    assert generated_tabs(result) == {"Status": "status"}
    assert zipfile.ZipFile(io.BytesIO(result)).testzip() is None


def test_calc_chain_relationship_removed_under_a_prefix(team: bytes) -> None:
    """remove_rel on an ns0-prefixed part: the calcChain entry goes, every other one stays."""
    once = splice_tabs(oddbooks.old_openpyxl(team), [status_model()])
    calc_type = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/calcChain"

    def add_rel(xml: bytes) -> bytes:
        entry = f'<ns0:Relationship Id="rId90" Type="{calc_type}" Target="calcChain.xml"/>'
        return xml.replace(b"</ns0:Relationships>", entry.encode() + b"</ns0:Relationships>")

    def add_override(xml: bytes) -> bytes:
        entry = (
            '<ns0:Override PartName="/xl/calcChain.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.calcChain+xml"/>'
        )
        return xml.replace(b"</ns0:Types>", entry.encode() + b"</ns0:Types>")

    parts = members(once)
    parts["xl/_rels/workbook.xml.rels"] = add_rel(parts["xl/_rels/workbook.xml.rels"])
    parts["[Content_Types].xml"] = add_override(parts["[Content_Types].xml"])
    parts["xl/calcChain.xml"] = (
        f"<calcChain xmlns='{NS_MAIN}'><c r='H2' i='1'/><c r='A3' i='4'/></calcChain>".encode()
    )
    with_chain = oddbooks.rezip(parts)
    twice = splice_tabs(with_chain, [status_model(3)])
    assert "xl/calcChain.xml" not in members(twice)
    kept = oddbooks.relationships(twice)["xl/_rels/workbook.xml.rels"]
    before = oddbooks.relationships(with_chain)["xl/_rels/workbook.xml.rels"]
    assert kept == {rel for rel in before if rel[0] != "rId90"}
    assert b"calcChain" not in members(twice)["[Content_Types].xml"]
