"""Read one tab of an .xlsx package: find its part through the relationships, then read its cells
with calamine, or stream them with lxml when calamine cannot or the used range is huge."""

from __future__ import annotations

import datetime as dt
import io
import math
import posixpath
import re
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import unquote

from lxml import etree

from ...ports import CellError, Grid

# Above this many cells in the used range (from A1), and when most of them would be empty,
# calamine's dense grid is not worth its memory: the sheet is streamed instead. 5 million cells
# hold about 250 MB in calamine and Python together.
DENSE_CELLS = 5_000_000
SPARSE_FACTOR = 4  # streamed when the used range holds over 4 times as many cells as values
COLUMN_GAP = 64  # empty columns that separate the case log from a far cell
FAR_ROWS = 10_000  # empty rows that separate the case log from a far cell below it
MAX_FAR_CELLS = 10  # far cells named in warnings

MAIN_NAMESPACES = (
    "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "http://purl.oclc.org/ooxml/spreadsheetml/main",
)
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
_EPOCH = dt.datetime(1899, 12, 30)
DAYS_1900_TO_1904 = 1462
_MS_PER_DAY = 86_400_000


class PackageError(Exception):
    """The zip is not a workbook package caseloop can find its way through."""


@dataclass(frozen=True)
class Sheet:
    """One ``<sheet>`` entry of workbook.xml."""

    name: str
    part: str | None  # zip member; None for an entry without a relationship (VBA module sheets)
    kind: str  # the relationship type's last segment: worksheet, chartsheet, dialogsheet, ...


def _local(tag: Any) -> str:
    """An element's or attribute's name without its namespace ("" for comments)."""
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _kind(rel_type: str) -> str:
    return rel_type.rstrip("/").rsplit("/", 1)[-1]


class Package:
    """The parts of a workbook that reading needs: workbook.xml parsed once, its relationships,
    and the members they point to (wherever the producer put them)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        try:
            self.archive = zipfile.ZipFile(io.BytesIO(data))
            # Part names are case-insensitive (OPC); zip member names keep the producer's case.
            self._members = {
                info.filename.casefold(): info.filename for info in self.archive.infolist()
            }
            self.workbook_part = self._office_document()
            root = self.xml(self.workbook_part)
            rels = self.relationships(self.workbook_part)
        except (zipfile.BadZipFile, KeyError, etree.XMLSyntaxError, ValueError, OSError) as exc:
            raise PackageError(type(exc).__name__) from None
        if _local(root.tag) != "workbook":
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
            if _local(entry.tag) != "sheet":
                continue
            rel_id = next(
                (v for k, v in entry.attrib.items() if _local(k) == "id" and k.startswith("{")),
                "",
            )
            kind, part = rels.get(rel_id, ("", None))
            self.sheets.append(Sheet(entry.get("name", ""), part, kind))

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
            if _local(rel.tag) != "Relationship":
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


# --- a quick pass over the sheet XML ------------------------------------------------------------

# The sheet's XML is looked at as bytes with patterns that start with a literal, so that the
# regex engine skips from one candidate to the next instead of trying every cell.
_WIDE_REF = re.compile(rb"r=[\"']([A-Z]{2,3})(\d+)")  # only cells have r="AB12"
_REF_ATTR = re.compile(rb"\sr\s*=\s*[\"']([A-Z]{1,3})(\d+)[\"']")
_TYPE_ATTR = re.compile(rb"\st\s*=\s*[\"'](\w+)[\"']")
_ROW_ATTR = re.compile(rb"\sr\s*=\s*[\"'](\d+)[\"']")
_ROOT = re.compile(rb"<([A-Za-z_][\w.-]*:)?(?:worksheet|dialogsheet|macrosheet)\b")
_OVERLAP = 8192  # longer than any element the patterns look at


def column_index(letters: bytes | str) -> int:
    """A → 0, Z → 25, AA → 26."""
    n = 0
    for ch in letters.encode() if isinstance(letters, str) else letters:
        n = n * 26 + (ch - 64)
    return n - 1


@dataclass
class SheetScan:
    """What one streamed pass over a sheet's XML tells before any cell is read."""

    rows: int  # the highest row that holds cells
    columns: int  # at least the widest column that holds a cell
    values: int  # cells that hold a value
    errors: list[tuple[int, int, str]]  # (row, column, "#N/A"), 0-based
    unsaved: set[tuple[int, int]]  # formula cells without a saved result, 0-based

    @property
    def too_sparse(self) -> bool:
        extent = self.rows * self.columns
        return extent > max(DENSE_CELLS, SPARSE_FACTOR * self.values)


class _Patterns:
    """The patterns for one namespace prefix (b"" or b"x:", as ClosedXML writes)."""

    def __init__(self, prefix: bytes) -> None:
        p = re.escape(prefix)
        self.prefix = prefix
        self.row = b"<" + prefix + b"row"
        self.cell = b"<" + prefix + b"c"
        self.value_ends = (b"</" + prefix + b"v>", b"</" + prefix + b"is>")
        self.error = re.compile(
            rb"t=[\"']e[\"'][^>]*>(?:\s*<" + p + rb"f\b[^>]*?(?:/>|>[^<]*</" + p + rb"f>))?"
            rb"\s*<" + p + rb"v>([^<]*)</" + p + rb"v>"
        )
        # The end of a formula with nothing, an empty <v/> or <v></v> after it, then </c>.
        tail = rb"\s*(<" + p + rb"v\s*/>|<" + p + rb"v></" + p + rb"v>)?\s*</" + p + rb"c>"
        self.formula_end = re.compile(rb"</" + p + rb"f>" + tail)
        self.empty_formula_end = re.compile(rb"/>" + tail)

    def cell_head(self, data: bytes, before: int) -> tuple[int, bytes] | None:
        """The start and attributes of the cell element that encloses ``before``."""
        at = before
        while True:
            at = data.rfind(self.cell, 0, at)
            if at < 0:
                return None
            after = data[at + len(self.cell) : at + len(self.cell) + 1]
            if after in (b" ", b">", b"\t", b"\n", b"\r"):
                close = data.find(b">", at)
                return at, data[at + len(self.cell) : close]
            # <cols>, <col ...>: not a cell

    def last_row(self, data: bytes) -> int:
        """The number of the last row element that has content (rows come in order)."""
        end = len(data)
        for _ in range(1000):  # empty formatted rows at the end: look past a few of them
            at = data.rfind(self.row, 0, end)
            if at < 0:
                return 0
            close = data.find(b">", at)
            head = data[at : close + 1] if close >= 0 else b""
            end = at
            if head[len(self.row) : len(self.row) + 1] not in (b" ", b">", b"\t", b"\n", b"\r"):
                continue  # <rowBreaks>
            if head.endswith(b"/>"):
                continue
            number = _ROW_ATTR.search(head)
            return int(number.group(1)) if number else 0
        return 0


def _position(attrs: bytes) -> tuple[int, int] | None:
    ref = _REF_ATTR.search(attrs)
    return (int(ref.group(2)) - 1, column_index(ref.group(1))) if ref else None


def scan_sheet(stream: IO[bytes]) -> SheetScan:
    """Bytes in chunks, so memory stays flat; the costlier patterns run only where a chunk has
    error cells or formulas."""
    tail = b""
    patterns: _Patterns | None = None
    scan = SheetScan(0, 0, 0, [], set())
    row_tags = 0
    widest = -1
    with stream:
        while True:
            chunk = stream.read(1 << 20)
            data = tail + chunk
            # Elements that start before the cut are whole in this round; the rest come again.
            cut = len(data) if not chunk else max(0, len(data) - _OVERLAP)
            if patterns is None:
                root = _ROOT.search(data)
                patterns = _Patterns((root.group(1) or b"") if root else b"")
            p = patterns
            # Counted in the new bytes only (a tag cut by the chunk edge is missed: an estimate).
            scan.values += chunk.count(p.value_ends[0]) + chunk.count(p.value_ends[1])
            row_tags += chunk.count(p.row + b" ") + chunk.count(p.row + b">")
            scan.rows = max(scan.rows, p.last_row(data))
            for match in _WIDE_REF.finditer(data):
                widest = max(widest, column_index(match.group(1)))
            if b't="e"' in data or b"t='e'" in data:
                for match in p.error.finditer(data):
                    head = p.cell_head(data, match.start())
                    position = _position(head[1]) if head else None
                    if head and head[0] < cut and position:
                        scan.errors.append((*position, match.group(1).decode("utf-8")))
            if b"f>" in data or b"<" + p.prefix + b"f " in data:
                for pattern in (p.formula_end, p.empty_formula_end):
                    for match in pattern.finditer(data):
                        _unsaved_formula(p, data, match, cut, scan.unsaved)
            if not chunk:
                break
            tail = data[cut:]
    scan.rows = max(scan.rows, row_tags)
    scan.columns = widest + 1 if widest >= 26 else 26
    scan.errors.sort()
    return scan


def _unsaved_formula(
    p: _Patterns, data: bytes, match: re.Match[bytes], cut: int, found: set[tuple[int, int]]
) -> None:
    head = p.cell_head(data, match.start())
    if head is None or head[0] >= cut:
        return
    start, attrs = head
    inside = data[start : match.start() + 2]
    if b"<" + p.prefix + b"f" not in inside or attrs.endswith(b"/"):
        return  # an empty element that is not a formula, or a cell with no content
    if match.re is p.empty_formula_end:
        # The "/>" must close the formula itself: <f t="shared" si="0"/>.
        opening = data.rfind(b"<", start, match.start())
        if not data.startswith(b"<" + p.prefix + b"f", opening):
            return
    kind = _TYPE_ATTR.search(attrs)
    if match.group(1) and kind is not None and kind.group(1) == b"str":
        return  # <v></v> of a text formula: a saved empty text
    position = _position(attrs)
    if position:
        found.add(position)


# --- the streamed read ---------------------------------------------------------------------------


class _Formats:
    """Which cell styles (``s``) show a number as a date or as a duration."""

    def __init__(self, package: Package) -> None:
        self.kinds: list[str | None] = []
        parts = package.related(package.workbook_part, "styles")
        if not parts:
            return
        try:
            root = package.xml(parts[0])
        except etree.XMLSyntaxError:
            return
        custom: dict[str, str] = {}
        xfs: list[str] = []
        for element in root.iter(etree.Element):
            name = _local(element.tag)
            if name == "numFmt":
                custom[element.get("numFmtId", "")] = element.get("formatCode", "")
            elif name == "cellXfs":
                xfs = [x.get("numFmtId", "0") for x in element if _local(x.tag) == "xf"]
        self.kinds = [
            number_format_kind(custom[i]) if i in custom else _builtin_kind(i) for i in xfs
        ]

    def kind(self, style: str | None) -> str | None:
        if style is None:
            return None
        try:
            return self.kinds[int(style)]
        except (ValueError, IndexError):
            return None


def _builtin_kind(format_id: str) -> str | None:
    # The built-in date and time formats of SpreadsheetML (ECMA-376 18.8.30).
    if format_id in {"14", "15", "16", "17", "18", "19", "20", "21", "22", "45", "47"}:
        return "date"
    return "duration" if format_id == "46" else None


def number_format_kind(code: str) -> str | None:
    """ "date" or "duration" when a custom number format shows a date/time, else None.

    Only the first section counts; quoted text, escaped characters and [colour]/[$-locale]
    brackets are not format tokens; [h], [mm], [ss] make a duration."""
    i, n = 0, len(code)
    while i < n:
        ch = code[i]
        if ch in "\\_*":
            i += 2
            continue
        if ch == '"':
            end = code.find('"', i + 1)
            i = n if end < 0 else end + 1
            continue
        if ch == ";":
            return None
        if ch == "[":
            end = code.find("]", i + 1)
            inside = code[i + 1 : n if end < 0 else end]
            if inside and all(c in "hHmMsS" for c in inside) and len(set(inside.lower())) == 1:
                return "duration"
            i = n if end < 0 else end + 1
            continue
        if ch in "dDmMyYhHsS":
            return "date"
        if code[i : i + 5].upper() == "AM/PM" or code[i : i + 3].upper() == "A/P":
            return "date"
        i += 1
    return None


def _round_half_away(x: float) -> int:
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def excel_datetime(serial: float, date1904: bool) -> dt.datetime:
    """A serial as calamine turns it into a datetime (1900's phantom leap day kept)."""
    days = serial + DAYS_1900_TO_1904 if date1904 else serial
    if days < 60:
        days += 1
    return _EPOCH + dt.timedelta(milliseconds=_round_half_away(days * _MS_PER_DAY))


def _number_value(serial: float, kind: str | None, date1904: bool) -> Any:
    """The Python value python-calamine gives a number cell of this format."""
    if kind is None:
        return serial
    try:
        if kind == "duration":
            return dt.timedelta(milliseconds=_round_half_away(serial * _MS_PER_DAY))
        stamp = excel_datetime(serial, date1904)
    except OverflowError:
        return serial
    if serial < 1:
        return stamp.time()
    if serial == math.floor(serial):
        return stamp.date()
    return stamp


def _iso_value(text: str) -> Any:
    try:
        if "T" in text:
            return dt.datetime.fromisoformat(text.rstrip("Z"))
        if ":" in text:
            return dt.time.fromisoformat(text)
        return dt.date.fromisoformat(text)
    except ValueError:
        return text


_XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"
_ESCAPED_CHAR = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _t_text(element: etree._Element) -> str:
    text = element.text or ""
    if element.get(_XML_SPACE) != "preserve":
        # Without xml:space="preserve" the spaces around a text are layout (as calamine reads).
        text = text.strip(" \t\r\n")
    if "_x" in text:  # characters XML cannot hold, written as _x000D_ (ST_Xstring)
        text = _ESCAPED_CHAR.sub(lambda m: chr(int(m.group(1), 16)), text)
    return text


def _rich_text(element: etree._Element) -> str:
    """The text of an ``<si>`` or ``<is>``: its ``t``, or its runs' ``t``; phonetic runs left out."""
    parts = []
    for child in element:
        name = _local(child.tag)
        if name == "t":
            parts.append(_t_text(child))
        elif name == "r":
            parts.extend(_t_text(part) for part in child if _local(part.tag) == "t")
    return "".join(parts)


def _shared_strings(package: Package) -> list[str]:
    parts = package.related(package.workbook_part, "sharedStrings")
    if not parts:
        return []
    strings: list[str] = []
    tags = tuple(f"{{{ns}}}si" for ns in MAIN_NAMESPACES)
    with package.open(parts[0]) as stream:
        for _, item in etree.iterparse(
            stream, events=("end",), tag=tags, huge_tree=True, resolve_entities=False
        ):
            strings.append(_rich_text(item))
            item.clear()
    return strings


def _tags(name: str) -> frozenset[str]:
    return frozenset(f"{{{ns}}}{name}" for ns in MAIN_NAMESPACES)


_ROW_TAGS, _CELL_TAGS = _tags("row"), _tags("c")
_V_TAGS, _IS_TAGS, _F_TAGS = _tags("v"), _tags("is"), _tags("f")


def _stream_rows(
    package: Package, part: str, date1904: bool
) -> Iterator[tuple[int, list[tuple[int, Any]], list[int]]]:
    """Per row element: its 0-based number, its (column, value) cells that hold a value, and
    the columns of its formulas without a saved result.

    Parsed row by row, each row dropped once read: memory holds one row, not the sheet."""
    strings = _shared_strings(package)
    formats = _Formats(package)
    columns: dict[str, int] = {}  # column letters → index, the same few letters on every row
    row_number = -1
    with package.open(part) as stream:
        for _, row in etree.iterparse(
            stream, events=("end",), tag=tuple(_ROW_TAGS), huge_tree=True, resolve_entities=False
        ):
            number = row.get("r")
            row_number = int(number) - 1 if number else row_number + 1
            column = -1
            cells: list[tuple[int, Any]] = []
            unsaved: list[int] = []
            for cell in row:
                if cell.tag not in _CELL_TAGS:
                    continue
                ref = cell.get("r")
                if ref:
                    letters = ref.rstrip("0123456789")
                    column = columns.get(letters, -1)
                    if column < 0:
                        column = columns[letters] = column_index(letters)
                else:
                    column += 1
                value, no_result = _cell_value(cell, strings, formats, date1904)
                if value is not None:
                    cells.append((column, value))
                elif no_result:
                    unsaved.append(column)
            yield row_number, cells, unsaved
            row.clear()
            parent = row.getparent()
            while row.getprevious() is not None:
                del parent[0]


def _cell_value(
    cell: etree._Element, strings: list[str], formats: _Formats, date1904: bool
) -> tuple[Any, bool]:
    """The value python-calamine gives the cell, and whether it is a formula without a result."""
    kind = cell.get("t")
    value_text: str | None = None
    has_value = False
    inline = None
    formula = False
    for child in cell:
        tag = child.tag
        if tag in _V_TAGS:
            has_value = True
            value_text = child.text
        elif tag in _IS_TAGS:
            inline = child
        elif tag in _F_TAGS:
            formula = True
    if kind in ("inlineStr", "is"):
        text = _rich_text(inline) if inline is not None else ""
        return (text or None), False
    unsaved = formula and (not has_value or (not value_text and kind != "str"))
    if not value_text:
        return None, unsaved
    if kind is None or kind == "n":
        try:
            number = float(value_text)
        except ValueError:
            return value_text, False
        return _number_value(number, formats.kind(cell.get("s")), date1904), False
    if kind == "s":
        try:
            return strings[int(value_text)] or None, False
        except (ValueError, IndexError):
            return None, False
    if kind == "b":
        return value_text != "0", False
    if kind == "e":
        return CellError(value_text), False
    if kind == "d":
        return _iso_value(value_text), False
    return value_text, False  # "str": a formula's text result


@dataclass
class _Streamed:
    rows: list[list[Any]]
    row_numbers: list[int]
    unsaved: set[tuple[int, int]]
    far: list[tuple[int, int, Any]]
    has_errors: bool


def _main_columns(counts: Counter[int]) -> tuple[int, int]:
    """The first and last column of the block of columns that holds most cells."""
    columns = sorted(counts)
    blocks: list[list[int]] = [[columns[0]]]
    for c in columns[1:]:
        if c - blocks[-1][-1] > COLUMN_GAP:
            blocks.append([])
        blocks[-1].append(c)
    best = max(blocks, key=lambda block: sum(counts[c] for c in block))
    return best[0], best[-1]


def _stream_sheet(package: Package, part: str, date1904: bool) -> _Streamed:
    by_row: dict[int, list[tuple[int, Any]]] = {}
    unsaved: set[tuple[int, int]] = set()
    counts: Counter[int] = Counter()
    for r, cells, no_result in _stream_rows(package, part, date1904):
        unsaved.update((r, c) for c in no_result)
        if cells:
            by_row[r] = cells
            counts.update(c for c, _ in cells)
    if not counts:
        return _Streamed([], [], unsaved, [], False)
    first, last = _main_columns(counts)
    far: list[tuple[int, int, Any]] = []
    rows: list[list[Any]] = []
    numbers: list[int] = []
    has_errors = False
    previous = -1
    width = last + 1
    for r in sorted(by_row):
        dense: list[Any] = [None] * width
        kept = False
        for c, value in by_row.pop(r):
            if c > last or c < first:
                far.append((r, c, value))
                continue
            if previous >= 0 and r - previous > FAR_ROWS:
                far.append((r, c, value))
            dense[c] = value
            kept = True
            has_errors = has_errors or isinstance(value, CellError)
        if kept:
            rows.append(dense)
            numbers.append(r + 1)
            previous = r
    return _Streamed(rows, numbers, unsaved, far[:MAX_FAR_CELLS], has_errors)


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
        book = CalamineWorkbook.from_filelike(io.BytesIO(package.data))
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
            )
    try:
        streamed = _stream_sheet(package, sheet.part, package.date1904)
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
    )
