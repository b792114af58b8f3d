"""The old caseloop marks (``caseloop:<title>`` in ``docProps/custom.xml``) and the content check they need."""

from __future__ import annotations

import re
from typing import IO

from lxml import etree

from ...model import SheetModel
from .package import Package
from .relationships import REL_CUSTOM, REL_SHARED_STRINGS, read_rels
from .workbook_part import WorkbookPart
from .xmltext import (
    NS_MAIN,
    attrs,
    decode,
    escape,
    parse,
    prefix_of,
    qualified,
    qualified_element_pattern,
    unescape,
)

NS_CUSTOM = "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"
MARK_PREFIX = "caseloop:"  # the custom-property mark of caseloop before issue 16 (still read)
_SIGNATURE_ROWS = 200  # caseloop's header rows sit near the top; no need to read further


class OldMarks:
    """The ``caseloop:<title>`` custom document properties that marked caseloop's tabs before issue 16.

    They name a title, not a sheet, so they outlive the tab: a tab of that title is caseloop's
    only if it still holds caseloop's content (see ``carries_content``). Each tab caseloop
    writes now gets the sheet-scoped name instead, and its old property is dropped.
    """

    def __init__(self, package: Package) -> None:
        self.package = package
        custom = next(
            (rel for rel in read_rels(package, "") if rel.type == REL_CUSTOM and rel.part), None
        )
        self.part = custom.part if custom else None
        self.text: str | None = None
        self.marks: dict[str, str] = {}  # folded title -> kind
        self.titles: dict[str, str] = {}
        if self.part is None:
            return
        data = package.read(self.part)
        if data is None:
            self.part = None
            return
        self.text = decode(data, self.part)
        root = parse(data, self.part)
        for element in root:
            if not isinstance(element.tag, str) or etree.QName(element).localname != "property":
                continue
            name = element.get("name", "")
            if name.startswith(MARK_PREFIX):
                title = name[len(MARK_PREFIX) :]
                self.marks[title.casefold()] = "".join(map(str, element.itertext())).strip()
                self.titles[title.casefold()] = title

    def kind_of(self, title: str) -> str | None:
        return self.marks.get(title.casefold())

    def keep_only(self, titles: set[str]) -> None:
        """Drop every old mark but those of ``titles`` (folded); the part is left alone if none go."""
        if self.text is None or self.part is None or set(self.marks) <= titles:
            return
        root = parse(self.text.encode("utf-8"), self.part)
        prefix = prefix_of(root, NS_CUSTOM) or ""
        property_tag = qualified("property", prefix)

        def drop(match: re.Match[str]) -> str:
            name = attrs(match.group(1)).get("name", "")
            gone = name.startswith(escape(MARK_PREFIX)) and (
                unescape(name[len(MARK_PREFIX) :]).casefold() not in titles
            )
            return "" if gone else match.group(0)

        text = re.sub(qualified_element_pattern(property_tag), drop, self.text, flags=re.S)
        self.package.write(self.part, text.encode("utf-8"))


def _signature(model: SheetModel) -> set[str]:
    """The texts of the tab's first header-like row (three or more texts), e.g. Status's column names."""
    for row in model.rows[1:_SIGNATURE_ROWS]:
        texts = {cell.value for cell in row if isinstance(cell.value, str) and cell.value.strip()}
        if len(texts) >= 3:
            return texts
    return set()


def carries_content(
    package: Package, workbook: WorkbookPart, sheet_part: str, model: SheetModel
) -> bool:
    """Whether the sheet has a row holding every text of ``model``'s header row.

    This is how an old custom-property mark is checked: a team's own tab that merely took the
    title of a deleted caseloop tab (typed by hand, say) does not hold caseloop's header row.
    """
    wanted = _signature(model)
    if not wanted:
        return False
    with package.open(sheet_part) as stream:
        if stream is None:
            return False
        rows = _first_rows(stream)
    if rows is None:
        return False
    shared = _shared_strings(
        package,
        workbook,
        {int(text) for row in rows for kind, text in row if kind == "s" and text.strip().isdigit()},
    )
    for row in rows:
        texts = set()
        for kind, text in row:
            if kind == "s":
                texts.add(shared.get(int(text), "") if text.strip().isdigit() else "")
            elif kind in ("inlineStr", "str"):
                texts.add(text)
        if wanted <= texts:
            return True
    return False


def _first_rows(stream: IO[bytes]) -> list[list[tuple[str, str]]] | None:
    """Per row of the sheet's first rows: (cell type, raw text); None if the XML is broken."""
    rows: list[list[tuple[str, str]]] = []
    try:
        for _, row in etree.iterparse(
            stream, tag=f"{{{NS_MAIN}}}row", huge_tree=True, resolve_entities=False
        ):
            cells = []
            for cell in row.iterfind(f"{{{NS_MAIN}}}c"):
                kind = cell.get("t", "n")
                if kind == "inlineStr":
                    inline = cell.find(f"{{{NS_MAIN}}}is")
                    text = "".join(inline.itertext()) if inline is not None else ""
                else:
                    value = cell.find(f"{{{NS_MAIN}}}v")
                    text = value.text or "" if value is not None else ""
                cells.append((kind, text))
            rows.append(cells)
            row.clear()
            if len(rows) >= _SIGNATURE_ROWS:
                break
    except etree.XMLSyntaxError:
        return None
    return rows


def _shared_strings(package: Package, workbook: WorkbookPart, wanted: set[int]) -> dict[int, str]:
    """The shared strings at the ``wanted`` indices, reading the part only as far as needed."""
    rel = workbook.rel_of(REL_SHARED_STRINGS)
    found: dict[int, str] = {}
    if not (rel and rel.part and wanted):
        return found
    last = max(wanted)
    with package.open(rel.part) as stream:
        if stream is None:
            return found
        try:
            for index, (_, item) in enumerate(
                etree.iterparse(
                    stream, tag=f"{{{NS_MAIN}}}si", huge_tree=True, resolve_entities=False
                )
            ):
                if index in wanted:
                    # Phonetic runs (rPh) are not part of the text Excel shows.
                    found[index] = "".join(
                        t.text or ""
                        for t in item.iter(f"{{{NS_MAIN}}}t")
                        if etree.QName(t.getparent()).localname != "rPh"
                    )
                item.clear()
                if index >= last:
                    break
        except etree.XMLSyntaxError:
            pass
    return found
