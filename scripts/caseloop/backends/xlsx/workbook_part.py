"""The workbook part (``xl/workbook.xml``) and its relationships: tabs, defined names, caseloop's mark, calcPr.

The caseloop mark is a hidden defined name scoped to the tab, ``_caseloop_tab``, whose value is
the tab's kind (``"status"``): Excel and LibreOffice both move a sheet-scoped name with its
sheet when it is renamed or moved and drop it when the sheet is deleted (LibreOffice 7.4 checked
in tests), so a team tab made later under the same title is never taken for caseloop's. The
custom document property ``caseloop:<title>`` of earlier versions is still read (``marks``), but
trusted only while the tab holds caseloop's header row; a tab written now loses that property.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass

from lxml import etree

from ...errors import CaseloopError
from ...model import Range
from .package import Package, Source, unreadable_error
from .relationships import (
    NS_DOC_REL,
    REL_OFFICE_DOCUMENT,
    REL_WORKSHEET,
    Rel,
    add_relationship,
    read_rels,
    relative,
    rels_name,
    remove_relationship,
)
from .xmltext import (
    NS_MAIN,
    attrs,
    decode,
    escape,
    insert_in,
    parse,
    prefix_of,
    qualified,
    qualified_element_pattern,
)

_NAME_ATTR = re.compile(r"""(\sname\s*=\s*)(?:"[^"]*"|'[^']*')""")
_LOCAL_ATTR = re.compile(r"""(\slocalSheetId\s*=\s*)(?:"[^"]*"|'[^']*')""")
_VIEW_INDEX_ATTR = re.compile(r"""(\s(?:activeTab|firstSheet)\s*=\s*)(["'])(\d+)\2""")
MARK_NAME = "_caseloop_tab"  # the sheet-scoped defined name that marks caseloop's tabs
FILTER_NAME = "_xlnm._FilterDatabase"
# The elements CT_Workbook allows before calcPr, in order.
_BEFORE_CALC_PR = (
    "fileVersion",
    "fileSharing",
    "workbookPr",
    "workbookProtection",
    "bookViews",
    "sheets",
    "functionGroups",
    "externalReferences",
    "definedNames",
)


@dataclass
class Sheet:
    name: str
    sheet_id: int
    rel_id: str
    part: str | None
    rel_type: str


def string_constant(formula: str) -> str | None:
    """The text of a formula that is one string constant (``"status"``), else None."""
    formula = formula.strip().removeprefix("=")
    if len(formula) >= 2 and formula[0] == formula[-1] == '"':
        inner = formula[1:-1]
        if '"' not in inner.replace('""', ""):
            return inner.replace('""', '"')
    return None


def filter_formula(title: str, area: Range | None) -> str | None:
    """The absolute reference an auto-filter's hidden name holds (``'Status'!$A$2:$L$40``)."""
    if area is None:
        return None
    quoted = "'" + title.replace("'", "''") + "'"
    return f"{quoted}!{_cell(area.first_row, area.first_col)}:{_cell(area.last_row, area.last_col)}"


def _cell(row: int, col: int) -> str:
    letters = ""
    col += 1
    while col:
        col, rest = divmod(col - 1, 26)
        letters = chr(65 + rest) + letters
    return f"${letters}${row + 1}"


class WorkbookPart:
    """xl/workbook.xml and its relationships: the tabs in order, and textual edits to both."""

    def __init__(self, package: Package) -> None:
        self.package = package
        office = [
            rel for rel in read_rels(package, "") if rel.type == REL_OFFICE_DOCUMENT and rel.part
        ]
        if not office:
            if any(rel.type.endswith("/officeDocument") for rel in read_rels(package, "")):
                raise CaseloopError(
                    "The workbook is saved in the Strict Open XML format, which caseloop cannot "
                    "write into; save it from Excel as a regular Excel Workbook (.xlsx)."
                )
            raise unreadable_error()
        self.part = office[0].part or "xl/workbook.xml"
        # New parts go beside the workbook part, wherever the producer put it (not always xl/).
        self.folder = posixpath.dirname(self.part)
        self.removed_rels: set[str] = set()
        data = package.read(self.part)
        if data is None:
            raise unreadable_error()
        root = parse(data, self.part)
        if etree.QName(root).namespace != NS_MAIN:
            raise unreadable_error()
        self.text = decode(data, self.part)
        self.original = self.text
        self.prefix = root.prefix or ""
        self.rel_prefix = prefix_of(root, NS_DOC_REL)
        properties = root.find(f"{{{NS_MAIN}}}workbookPr")
        self.date_1904 = properties is not None and properties.get("date1904", "0") in ("1", "true")
        protection = root.find(f"{{{NS_MAIN}}}workbookProtection")
        self.structure_locked = protection is not None and protection.get(
            "lockStructure", "0"
        ).strip() in ("1", "true")
        # Sheet index -> kind, from the sheet-scoped names that mark caseloop's tabs.
        self.marks: dict[int, str] = {}
        self.names: list[tuple[str, str | None, str]] = []
        for element in root.iterfind(f"{{{NS_MAIN}}}definedNames/{{{NS_MAIN}}}definedName"):
            name, local = element.get("name", ""), element.get("localSheetId")
            value = (element.text or "").strip()
            self.names.append((name, local, value))
            if name.casefold() == MARK_NAME.casefold() and local is not None and local.isdigit():
                kind = string_constant(value)
                if kind is not None:
                    self.marks[int(local)] = kind
        self.rels = {rel.id: rel for rel in read_rels(package, self.part)}
        self.rels_name = rels_name(self.part)
        rels_data = package.read(self.rels_name) or b""
        self.rels_text = decode(rels_data, self.rels_name)
        self.rels_original = self.rels_text
        self.sheets: list[Sheet] = []
        sheets = root.find(f"{{{NS_MAIN}}}sheets")
        for element in sheets if sheets is not None else []:
            if etree.QName(element).localname != "sheet":
                continue
            rel = self.rels.get(element.get(f"{{{NS_DOC_REL}}}id", ""))
            self.sheets.append(
                Sheet(
                    name=element.get("name", ""),
                    sheet_id=int(element.get("sheetId", "0") or 0),
                    rel_id=rel.id if rel else "",
                    part=rel.part if rel else None,
                    rel_type=rel.type if rel else "",
                )
            )

    def find(self, title: str) -> tuple[int, Sheet] | None:
        # Excel treats tab names that differ only in case as the same name.
        for index, sheet in enumerate(self.sheets):
            if sheet.name.casefold() == title.casefold():
                return index, sheet
        return None

    def rel_of(self, rel_type: str) -> Rel | None:
        return next((rel for rel in self.rels.values() if rel.type == rel_type), None)

    def mark_of(self, index: int) -> str | None:
        """The kind caseloop's sheet-scoped name gives the tab at ``index``, if it carries one."""
        return self.marks.get(index)

    def add_sheet(self, title: str, part: str) -> int:
        """Append a tab (new relationship and ``<sheet>`` at the end); returns its index."""
        rel_id = self.add_rel(REL_WORKSHEET, part)
        sheet_id = max((sheet.sheet_id for sheet in self.sheets), default=0) + 1
        tag = qualified("sheet", self.prefix)
        if self.rel_prefix:
            rid_attr = f'{self.rel_prefix}:id="{rel_id}"'
        else:
            rid_attr = f'xmlns:r="{NS_DOC_REL}" r:id="{rel_id}"'
        entry = f'<{tag} name="{escape(title)}" sheetId="{sheet_id}" {rid_attr}/>'
        edited = insert_in(self.text, "sheets", self.prefix, entry)
        if edited is None:
            raise unreadable_error()
        self.text = edited
        self.sheets.append(Sheet(title, sheet_id, rel_id, part, REL_WORKSHEET))
        return len(self.sheets) - 1

    def _edit_sheet_element(self, index: int, edit: Callable[[str], str]) -> None:
        """Apply ``edit`` to the text of the ``<sheet>`` element of the tab at ``index``."""
        rel_id = self.sheets[index].rel_id
        done = False

        def change(match: re.Match[str]) -> str:
            nonlocal done
            if done or attrs(match.group(1)).get("id") != rel_id:
                return match.group(0)
            done = True
            return edit(match.group(0))

        pattern = qualified_element_pattern(qualified("sheet", self.prefix))
        self.text = re.sub(pattern, change, self.text, flags=re.S)
        if not done:
            raise unreadable_error()

    def rename_sheet(self, index: int, title: str) -> None:
        """Give the tab at ``index`` the name ``title``: its ``name`` attribute, nothing else."""
        self._edit_sheet_element(
            index,
            lambda element: _NAME_ATTR.sub(
                lambda m: f'{m.group(1)}"{escape(title)}"', element, count=1
            ),
        )
        self.sheets[index].name = title

    def remove_sheets(self, indices: set[int]) -> None:
        """Remove the tabs at ``indices``: their ``<sheet>`` entries, relationships and the names
        scoped to them; the names scoped to later tabs, and the active and first tab of each
        window, follow their tabs to their new positions. Their parts are the caller's."""
        if not indices:
            return
        for index in sorted(indices):
            self._edit_sheet_element(index, lambda element: "")
            self.remove_rel(self.sheets[index].rel_id)

        def shift(position: int) -> int:
            return position - sum(1 for gone in indices if gone < position)

        name_tag = qualified("definedName", self.prefix)

        def renumber(match: re.Match[str]) -> str:
            local = attrs(match.group(1)).get("localSheetId", "").strip()
            if not local.isdigit():
                return match.group(0)
            if int(local) in indices:
                return ""
            return _LOCAL_ATTR.sub(
                lambda m: f'{m.group(1)}"{shift(int(local))}"', match.group(0), count=1
            )

        self.text = re.sub(qualified_element_pattern(name_tag), renumber, self.text, flags=re.S)
        kept = len(self.sheets) - len(indices)

        def window(match: re.Match[str]) -> str:
            def move(m: re.Match[str]) -> str:
                position = int(m.group(3))
                new = shift(position) if position not in indices else min(shift(position), kept - 1)
                return f"{m.group(1)}{m.group(2)}{max(new, 0)}{m.group(2)}"

            return _VIEW_INDEX_ATTR.sub(move, match.group(0))

        view_tag = qualified("workbookView", self.prefix)
        self.text = re.sub(rf"<{re.escape(view_tag)}\b[^>]*>", window, self.text)
        self.sheets = [sheet for n, sheet in enumerate(self.sheets) if n not in indices]
        self.marks = {shift(n): kind for n, kind in self.marks.items() if n not in indices}

    def add_rel(self, rel_type: str, part: str) -> str:
        numbers = [int(m.group(1)) for rid in self.rels if (m := re.fullmatch(r"rId(\d+)", rid))]
        rel_id = f"rId{max(numbers, default=0) + 1}"
        while rel_id in self.rels:
            rel_id += "x"
        target = relative(self.part, part)
        self.rels_text = add_relationship(self.rels_text, self.rels_name, rel_id, rel_type, target)
        self.rels[rel_id] = Rel(rel_id, rel_type, target, part)
        return rel_id

    def remove_rel(self, rel_id: str) -> None:
        self.rels.pop(rel_id, None)
        self.removed_rels.add(rel_id)
        self.rels_text = remove_relationship(self.rels_text, rel_id)

    def set_filter_name(self, index: int, formula: str | None) -> None:
        """The hidden ``_xlnm._FilterDatabase`` name Excel keeps for a tab's auto-filter."""
        self._set_local_name(FILTER_NAME, index, formula)

    def set_mark(self, index: int, kind: str) -> None:
        """Mark the tab at ``index`` as caseloop's ``kind`` tab with a sheet-scoped hidden name."""
        self._set_local_name(MARK_NAME, index, '"' + kind.replace('"', '""') + '"')
        self.marks[index] = kind

    def _set_local_name(self, name: str, index: int, formula: str | None) -> None:
        """Replace the hidden name ``name`` scoped to the tab at ``index`` (None: just remove it)."""
        name_tag = qualified("definedName", self.prefix)

        def drop(match: re.Match[str]) -> str:
            found = attrs(match.group(1))
            ours = found.get("name", "").casefold() == name.casefold() and found.get(
                "localSheetId", ""
            ).strip() == str(index)
            return "" if ours else match.group(0)

        self.text = re.sub(qualified_element_pattern(name_tag), drop, self.text, flags=re.S)
        if formula is None:
            return
        entry = f'<{name_tag} name="{name}" localSheetId="{index}" hidden="1">{escape(formula)}</{name_tag}>'
        edited = insert_in(self.text, "definedNames", self.prefix, entry)
        if edited is None:
            # No <definedNames> yet: it belongs after <sheets>, functionGroups and externalReferences.
            at = self._after_last(("sheets", "functionGroups", "externalReferences"), r"\b")
            defined = qualified("definedNames", self.prefix)
            edited = f"{self.text[:at]}<{defined}>{entry}</{defined}>{self.text[at:]}"
        self.text = edited

    def _after_last(self, tags: tuple[str, ...], boundary: str) -> int:
        """The position right after the last of the ``tags`` elements the part holds."""
        ends = [
            match.end()
            for tag in tags
            for match in re.finditer(
                rf"</{re.escape(qualified(tag, self.prefix))}\s*>"
                rf"|<{re.escape(qualified(tag, self.prefix))}{boundary}[^>]*/>",
                self.text,
            )
        ]
        if not ends:
            raise unreadable_error()
        return max(ends)

    def request_full_calc(self) -> None:
        """Ask the office suite to recalculate on open: ``fullCalcOnLoad="1"`` on calcPr, nothing else."""
        calc = qualified("calcPr", self.prefix)
        found = re.search(rf"<{re.escape(calc)}(?=[\s/>])([^>]*?)(/?)>", self.text)
        if found is not None:
            attributes = found.group(1)
            flag = re.compile(r"""(\sfullCalcOnLoad\s*=\s*)(["'])[^"']*\2""")
            if flag.search(attributes):
                attributes = flag.sub(r"\g<1>\g<2>1\g<2>", attributes)
            else:
                attributes += ' fullCalcOnLoad="1"'
            self.text = f"{self.text[: found.start()]}<{calc}{attributes}{found.group(2)}>{self.text[found.end() :]}"
            return
        # No calcPr yet: it goes right after the last of the elements the schema puts before it.
        at = self._after_last(_BEFORE_CALC_PR, r"(?=[\s/])")
        self.text = f'{self.text[:at]}<{calc} fullCalcOnLoad="1"/>{self.text[at:]}'

    def save(self) -> None:
        if self.text != self.original:
            self.package.write(self.part, self.text.encode("utf-8"))
        if self.rels_text != self.rels_original:
            self.package.write(self.rels_name, self.rels_text.encode("utf-8"))


# --- read-only questions -------------------------------------------------------------------------


def tab_names(original: Source) -> list[str]:
    """The workbook's tab names, in tab order."""
    with Package(original) as package:
        return [sheet.name for sheet in WorkbookPart(package).sheets]


def generated_tabs(original: Source) -> dict[str, str]:
    """The tabs carrying caseloop's sheet-scoped mark, title -> kind ("status", "weekly").

    Tabs marked only the old way (a custom property naming the title) are not listed: that mark
    cannot tell caseloop's tab from a team's tab of the same name until its content is checked,
    which ``splice_tabs`` does before writing over one (and then marks it the new way).
    """
    with Package(original) as package:
        workbook = WorkbookPart(package)
    return {
        sheet.name: workbook.marks[index]
        for index, sheet in enumerate(workbook.sheets)
        if index in workbook.marks
    }
