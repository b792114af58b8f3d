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

from .base import CellError, Grid

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
    return etree.QName(tag).localname if isinstance(tag, str) else ""


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
        rels = self.relationships(self.workbook_part)
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
            if kind == "officeDocument" and part is not None:
                return part
        raise KeyError("no officeDocument relationship")

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
        keep = {sheet.part}
        for rel in list(rels):
            kind = _kind(rel.get("Type", ""))
            target = self.relationships(self.workbook_part).get(rel.get("Id", ""), ("", None))[1]
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

_P = rb"((?:[A-Za-z_][\w.-]*:)?)"  # an element's namespace prefix, if any
_ROW_NUMBER = re.compile(
    rb"<(?:[A-Za-z_][\w.-]*:)?row\b[^>]*?\sr\s*=\s*[\"'](\d+)[\"'][^>]*?(?<!/)>"
)
_WIDE_CELL = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c\b[^>]*?\sr\s*=\s*[\"']([A-Z]{2,3})(\d+)[\"']")
_ERROR_CELL = re.compile(
    rb"<" + _P + rb"c\b([^>]*?\st\s*=\s*[\"']e[\"'][^>]*)>"
    rb"(?:\s*<\1f\b[^>]*?(?:/>|>[^<]*</\1f>))?\s*<\1v>([^<]*)</\1v>"
)
_UNSAVED_FORMULA = re.compile(
    rb"<" + _P + rb"c\b([^>]*?)(?<!/)>\s*<\1f\b[^>]*?(?:/>|>[^<]*</\1f>)"
    rb"\s*(<\1v\s*/>|<\1v></\1v>)?\s*</\1c>"
)
_REF_ATTR = re.compile(rb"\sr\s*=\s*[\"']([A-Z]{1,3})(\d+)[\"']")
_TYPE_ATTR = re.compile(rb"\st\s*=\s*[\"'](\w+)[\"']")
_ROOT = re.compile(rb"<([A-Za-z_][\w.-]*:)?(?:worksheet|dialogsheet|macrosheet)\b")


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


def scan_sheet(stream: IO[bytes]) -> SheetScan:
    """Bytes in chunks, so memory stays flat; the regexes run only where a chunk needs them."""
    overlap = 8192  # longer than any element the patterns look at
    tail = b""
    prefix: bytes | None = None
    scan = SheetScan(0, 0, 0, [], set())
    row_tags = 0
    widest = -1
    with stream:
        while True:
            chunk = stream.read(1 << 20)
            data = tail + chunk
            cut = len(data) if not chunk else max(0, len(data) - overlap)
            if prefix is None:
                root = _ROOT.search(data)
                prefix = (root.group(1) or b"") if root else b""
            # Counted in the new bytes only (a tag cut by the chunk edge is missed: an estimate).
            scan.values += chunk.count(b"</" + prefix + b"v>") + chunk.count(
                b"</" + prefix + b"is>"
            )
            row_tags += chunk.count(b"<" + prefix + b"row")
            # Maxima: what the overlap shows twice does not matter.
            for match in _ROW_NUMBER.finditer(data):
                scan.rows = max(scan.rows, int(match.group(1)))
            for match in _WIDE_CELL.finditer(data):
                widest = max(widest, column_index(match.group(1)))
            if b'"e"' in data or b"'e'" in data:
                for match in _ERROR_CELL.finditer(data):
                    if match.start() < cut:
                        ref = _REF_ATTR.search(match.group(2))
                        if ref:
                            position = (int(ref.group(2)) - 1, column_index(ref.group(1)))
                            scan.errors.append((*position, match.group(3).decode("utf-8")))
            if b"f>" in data or b"<" + prefix + b"f " in data:
                for match in _UNSAVED_FORMULA.finditer(data):
                    if match.start() < cut:
                        attrs = match.group(2)
                        kind = _TYPE_ATTR.search(attrs)
                        saved_text = kind is not None and kind.group(1) == b"str" and match.group(3)
                        ref = _REF_ATTR.search(attrs)
                        if ref and not saved_text:
                            scan.unsaved.add((int(ref.group(2)) - 1, column_index(ref.group(1))))
            if not chunk:
                break
            tail = data[cut:]
    scan.rows = max(scan.rows, row_tags)
    scan.columns = widest + 1 if widest >= 26 else 26
    scan.errors.sort()
    return scan


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


def _stream_cells(
    package: Package, part: str, date1904: bool
) -> Iterator[tuple[int, int, Any, bool]]:
    """(row, column, value, formula without saved result) of every cell, 0-based, in order."""
    strings = _shared_strings(package)
    formats = _Formats(package)
    tags = tuple(f"{{{ns}}}{name}" for ns in MAIN_NAMESPACES for name in ("c", "row"))
    row_number = -1  # 0-based row of the last row element
    current_row = None
    column = -1
    with package.open(part) as stream:
        for _, element in etree.iterparse(
            stream, events=("end",), tag=tags, huge_tree=True, resolve_entities=False
        ):
            name = _local(element.tag)
            if name == "row":
                if element is not current_row:  # a row without cells
                    row_number = int(element.get("r", row_number + 2)) - 1
                current_row = None
                element.clear()
                parent = element.getparent()
                while element.getprevious() is not None:
                    del parent[0]
                continue
            row = element.getparent()
            if row is not current_row:
                current_row = row
                row_number = int(row.get("r", row_number + 2)) - 1 if row is not None else 0
                column = -1
            ref = element.get("r")
            if ref:
                letters = ref.rstrip("0123456789")
                column = column_index(letters)
                row_number = int(ref[len(letters) :]) - 1
            else:
                column += 1
            yield row_number, column, *_cell_value(element, strings, formats, date1904)


def _cell_value(
    cell: etree._Element, strings: list[str], formats: _Formats, date1904: bool
) -> tuple[Any, bool]:
    kind = cell.get("t")
    value_text: str | None = None
    has_value = False
    inline = None
    formula = False
    for child in cell:
        name = _local(child.tag)
        if name == "v":
            has_value = True
            value_text = child.text
        elif name == "is":
            inline = child
        elif name == "f":
            formula = True
    if kind in ("inlineStr", "is"):
        text = _rich_text(inline) if inline is not None else ""
        return (text or None), False
    unsaved = formula and (not has_value or (not value_text and kind != "str"))
    if not value_text:
        return None, unsaved
    if kind == "s":
        try:
            return strings[int(value_text)] or None, False
        except (ValueError, IndexError):
            return None, False
    if kind == "b":
        return value_text != "0", False
    if kind == "e":
        return CellError(value_text), False
    if kind == "str":
        return value_text, False
    if kind == "d":
        return _iso_value(value_text), False
    try:
        number = float(value_text)
    except ValueError:
        return value_text, False
    return _number_value(number, formats.kind(cell.get("s")), date1904), False


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
    for r, c, value, no_result in _stream_cells(package, part, date1904):
        if no_result:
            unsaved.add((r, c))
        if value is None:
            continue
        by_row.setdefault(r, []).append((c, value))
        counts[c] += 1
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


class SheetReadError(Exception):
    """The tab's own part cannot be read by calamine nor streamed."""


def _totals_rows(package: Package, part: str) -> set[int]:
    """1-based sheet rows that are the totals rows of the Excel Tables on a sheet."""
    rows: set[int] = set()
    for table_part in package.related(part, "table"):
        try:
            table = package.xml(table_part)
        except (etree.XMLSyntaxError, KeyError):
            continue
        count = int(table.get("totalsRowCount", "0") or 0)
        ref = table.get("ref", "")
        match = re.fullmatch(r"\$?[A-Z]{1,3}\$?(\d+):\$?[A-Z]{1,3}\$?(\d+)", ref)
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
        raise SheetReadError(f"it is a {sheet.kind or 'module'} sheet, not a worksheet")
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
