"""The streamed read of a sheet, for when calamine cannot read it or its used range is huge:
parsed row by row with lxml, so memory holds one row; far cells are set apart for warnings."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lxml import etree

from ...ports import CellError
from .scan import column_index

if TYPE_CHECKING:
    from .read import Package

COLUMN_GAP = 64  # empty columns that separate the case log from a far cell
FAR_ROWS = 10_000  # empty rows that separate the case log from a far cell below it
MAX_FAR_CELLS = 10  # far cells named in warnings

MAIN_NAMESPACES = (
    "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "http://purl.oclc.org/ooxml/spreadsheetml/main",
)
_EPOCH = dt.datetime(1899, 12, 30)
DAYS_1900_TO_1904 = 1462
_MS_PER_DAY = 86_400_000


def local_name(tag: Any) -> str:
    """An element's or attribute's name without its namespace ("" for comments)."""
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


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
            name = local_name(element.tag)
            if name == "numFmt":
                custom[element.get("numFmtId", "")] = element.get("formatCode", "")
            elif name == "cellXfs":
                xfs = [x.get("numFmtId", "0") for x in element if local_name(x.tag) == "xf"]
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
        name = local_name(child.tag)
        if name == "t":
            parts.append(_t_text(child))
        elif name == "r":
            parts.extend(_t_text(part) for part in child if local_name(part.tag) == "t")
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
class StreamedSheet:
    """The cells of a streamed sheet: the main block densely, the far cells apart."""

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


def stream_sheet(package: Package, part: str, date1904: bool) -> StreamedSheet:
    by_row: dict[int, list[tuple[int, Any]]] = {}
    unsaved: set[tuple[int, int]] = set()
    counts: Counter[int] = Counter()
    for r, cells, no_result in _stream_rows(package, part, date1904):
        unsaved.update((r, c) for c in no_result)
        if cells:
            by_row[r] = cells
            counts.update(c for c, _ in cells)
    if not counts:
        return StreamedSheet([], [], unsaved, [], False)
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
    return StreamedSheet(rows, numbers, unsaved, far[:MAX_FAR_CELLS], has_errors)
