"""Read a workbook package: workbook.xml parsed once (its sheets, date1904) through the
relationships, wherever the producer put the parts; then read one tab with calamine, or stream it
with lxml when calamine cannot or the used range is huge."""

from __future__ import annotations

import io
import os
import posixpath
import re
import zipfile
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import unquote

from lxml import etree

from ...ports import CellError, Grid
from .scan import scan_sheet
from .stream_read import local_name, stream_sheet
from .workbook_part import MARK_NAME

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)


class PackageError(Exception):
    """The zip is not a workbook package caseloop can find its way through."""


@dataclass(frozen=True)
class Sheet:
    """One ``<sheet>`` entry of workbook.xml."""

    name: str
    part: str | None  # zip member; None for an entry without a relationship (VBA module sheets)
    kind: str  # the relationship type's last segment: worksheet, chartsheet, dialogsheet, ...


def _kind(rel_type: str) -> str:
    return rel_type.rstrip("/").rsplit("/", 1)[-1]


class Package:
    """The parts of a workbook that reading needs: workbook.xml parsed once, its relationships,
    and the members they point to (wherever the producer put them)."""

    def __init__(self, source: bytes | str | os.PathLike[str]) -> None:
        # A path is read from where it lies, member by member: the team's other tabs and media
        # are never loaded. Bytes are for workbooks made in memory (the minimal package, tests).
        self.path: str | None = None
        self.data: bytes | None = None
        file: IO[bytes] | str
        if isinstance(source, bytes):
            self.data = source
            file = io.BytesIO(source)
        else:
            file = self.path = os.fspath(source)
        try:
            self.archive = zipfile.ZipFile(file)
            # Part names are case-insensitive (OPC); zip member names keep the producer's case.
            self._members = {
                info.filename.casefold(): info.filename for info in self.archive.infolist()
            }
            self.workbook_part = self._office_document()
            root = self.xml(self.workbook_part)
            rels = self.relationships(self.workbook_part)
        except (zipfile.BadZipFile, KeyError, etree.XMLSyntaxError, ValueError, OSError) as exc:
            self.close()
            raise PackageError(type(exc).__name__) from None
        if local_name(root.tag) != "workbook":
            self.close()
            raise PackageError("no workbook")
        self.namespace = etree.QName(root).namespace or ""
        properties = root.find(self._tag("workbookPr"))
        self.date1904 = properties is not None and properties.get("date1904", "0").lower() in (
            "1",
            "true",
        )
        self.sheets: list[Sheet] = []
        entries = root.find(self._tag("sheets"))
        for entry in entries if entries is not None else []:
            if local_name(entry.tag) != "sheet":
                continue
            rel_id = next(
                (
                    str(v)
                    for k, v in entry.attrib.items()
                    if isinstance(k, str) and k.startswith("{") and local_name(k) == "id"
                ),
                "",
            )
            kind, part = rels.get(rel_id, ("", None))
            self.sheets.append(Sheet(entry.get("name", ""), part, kind))
        self.marks = self._marks(root)

    def _marks(self, root: etree._Element) -> dict[int, str]:
        """Tab index → the kind its caseloop mark names (the hidden sheet-scoped name
        ``_caseloop_tab``, see ``workbook_part``), so caseloop's own tabs are found by mark."""
        marks: dict[int, str] = {}
        names = root.find(self._tag("definedNames"))
        for name in names if names is not None else []:
            scope = (name.get("localSheetId") or "").strip()
            if (name.get("name") or "").casefold() != MARK_NAME.casefold() or not scope.isdigit():
                continue
            text = (name.text or "").strip().removeprefix("=")
            if len(text) >= 2 and text[0] == text[-1] == '"':
                marks[int(scope)] = text[1:-1].replace('""', '"')
        return marks

    def close(self) -> None:
        """Let go of the file (idempotent); the package cannot be read after."""
        archive = getattr(self, "archive", None)
        if archive is not None:
            archive.close()

    def _tag(self, name: str) -> str:
        return f"{{{self.namespace}}}{name}" if self.namespace else name

    def _office_document(self) -> str:
        for kind, part in self.relationships("").values():
            if kind == "officeDocument" and part is not None and self.member(part):
                return part
        if self.member("xl/workbook.xml"):  # no package relationships: where everyone puts it
            return "xl/workbook.xml"
        raise KeyError("no workbook part")

    def member(self, part: str) -> str | None:
        return self._members.get(part.casefold())

    def open(self, part: str) -> IO[bytes]:
        name = self.member(part)
        if name is None:
            raise KeyError(part)
        return self.archive.open(name)

    def read(self, part: str) -> bytes:
        with self.open(part) as stream:
            return stream.read()

    def xml(self, part: str) -> etree._Element:
        return etree.fromstring(self.read(part), _PARSER)

    def relationships(self, source: str) -> dict[str, tuple[str, str | None]]:
        """Id → (type's last segment, target part) of a part's relationships ("" = package)."""
        folder, name = posixpath.split(source)
        rels_part = posixpath.join(folder, "_rels", name + ".rels")
        if self.member(rels_part) is None:
            return {}
        found: dict[str, tuple[str, str | None]] = {}
        for rel in self.xml(rels_part):
            if local_name(rel.tag) != "Relationship":
                continue
            target = rel.get("Target", "")
            part = None
            if rel.get("TargetMode", "Internal") != "External" and target:
                target = unquote(target)
                joined = target[1:] if target.startswith("/") else posixpath.join(folder, target)
                part = posixpath.normpath(joined)
            found[rel.get("Id", "")] = (_kind(rel.get("Type", "")), part)
        return found

    def related(self, source: str, kind: str) -> list[str]:
        """The existing parts a part refers to with relationships of one kind."""
        return [
            part
            for k, part in self.relationships(source).values()
            if k == kind and part is not None and self.member(part) is not None
        ]

    def sheet(self, title: str) -> Sheet | None:
        return next((s for s in self.sheets if s.name == title), None)

    def minimal(self, sheet: Sheet) -> bytes:
        """A package of the one sheet and what calamine needs to read it (workbook, styles,
        shared strings), for when another part of the workbook is beyond calamine."""
        book = self.xml(self.workbook_part)
        entries = book.find(self._tag("sheets"))
        assert entries is not None  # the sheet was found in it
        for entry in list(entries):
            if entry.get("name") != sheet.name:
                entries.remove(entry)
        names = book.find(self._tag("definedNames"))
        if names is not None:
            book.remove(names)  # their sheet indexes refer to the tabs just left out
        folder, name = posixpath.split(self.workbook_part)
        rels_part = posixpath.join(folder, "_rels", name + ".rels")
        rels = self.xml(rels_part)
        targets = self.relationships(self.workbook_part)
        keep = {sheet.part}
        for rel in list(rels):
            kind, target = targets.get(rel.get("Id", ""), ("", None))
            if target == sheet.part or kind in ("styles", "sharedStrings", "theme"):
                keep.add(target)
            else:
                rels.remove(rel)
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as small:
            for part in ("[Content_Types].xml", "_rels/.rels"):
                if self.member(part):
                    small.writestr(part, self.read(part))
            small.writestr(self.workbook_part, etree.tostring(book, xml_declaration=True))
            small.writestr(rels_part, etree.tostring(rels, xml_declaration=True))
            for part in sorted(p for p in keep if p and self.member(p)):
                small.writestr(part, self.read(part))
        return out.getvalue()


# --- one tab -------------------------------------------------------------------------------------


_SHEET_KINDS = {
    "chartsheet": "a chart sheet",
    "dialogsheet": "a dialog sheet",
    "xlMacrosheet": "an Excel 4 macro sheet",
    "xlIntlMacrosheet": "an Excel 4 macro sheet",
    "": "a VBA module sheet",
}


class SheetReadError(Exception):
    """The tab's own part cannot be read by calamine nor streamed."""


def _totals_rows(package: Package, part: str) -> set[int]:
    """1-based sheet rows that are the totals rows of the Excel Tables on a sheet."""
    rows: set[int] = set()
    try:
        tables = package.related(part, "table")
    except (etree.XMLSyntaxError, KeyError, ValueError):
        return rows  # the tab is still read; only its Tables' totals rows are not known
    for table_part in tables:
        try:
            table = package.xml(table_part)
            count = int(table.get("totalsRowCount", "0") or 0)
        except (etree.XMLSyntaxError, KeyError, ValueError):
            continue
        match = re.fullmatch(r"\$?[A-Z]{1,3}\$?(\d+):\$?[A-Z]{1,3}\$?(\d+)", table.get("ref", ""))
        if count > 0 and match:
            last = int(match.group(2))
            rows.update(range(last - count + 1, last + 1))
    return rows


def _calamine_rows(package: Package, sheet: Sheet) -> list[list[Any]]:
    from python_calamine import CalamineWorkbook

    try:
        # From the path, calamine reads the members it needs; a file-like would be read whole.
        if package.path is not None:
            book = CalamineWorkbook.from_path(package.path)
        else:
            book = CalamineWorkbook.from_filelike(io.BytesIO(package.data or b""))
        return book.get_sheet_by_name(sheet.name).to_python(skip_empty_area=False)
    except Exception:  # calamine refuses whole workbooks for one exotic part: try the tab alone
        book = CalamineWorkbook.from_filelike(io.BytesIO(package.minimal(sheet)))
        return book.get_sheet_by_name(sheet.name).to_python(skip_empty_area=False)


def read_sheet(package: Package, title: str, *, stream: bool = False) -> Grid:
    """The tab ``title`` as a Grid; ``stream`` forces the streamed read (for tests)."""
    sheet = package.sheet(title)
    if sheet is None or sheet.part is None or package.member(sheet.part) is None:
        raise SheetReadError("its part is missing")
    if sheet.kind != "worksheet":
        what = _SHEET_KINDS.get(sheet.kind, "a sheet of another kind")
        raise SheetReadError(f"it is {what}, not a table of cells")
    totals = _totals_rows(package, sheet.part)
    try:
        scan = scan_sheet(package.open(sheet.part))
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise SheetReadError(type(exc).__name__) from None
    if not stream and not scan.too_sparse:
        try:
            rows = _calamine_rows(package, sheet)
        except Exception:  # noqa: BLE001 (calamine raises several types; the stream may still do)
            rows = None
        if rows is not None:
            for r, c, text in scan.errors:
                if r < len(rows) and c < len(rows[r]):
                    rows[r][c] = CellError(text)
            return Grid(
                title=title,
                rows=rows,
                has_error_cells=bool(scan.errors),
                date1904=package.date1904,
                unsaved_formulas=scan.unsaved,
                skip_rows=totals,
                merged_cells=scan.merged,
            )
    try:
        streamed = stream_sheet(package, sheet.part, package.date1904)
    except (etree.XMLSyntaxError, zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise SheetReadError(type(exc).__name__) from None
    return Grid(
        title=title,
        rows=streamed.rows,
        row_numbers=streamed.row_numbers,
        has_error_cells=streamed.has_errors,
        date1904=package.date1904,
        unsaved_formulas=streamed.unsaved,
        skip_rows=totals,
        far_cells=streamed.far,
        merged_cells=scan.merged,
    )
