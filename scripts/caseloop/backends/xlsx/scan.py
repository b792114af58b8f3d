"""A quick pass over a sheet's XML as bytes: its extent, its error cells and its formulas
without a saved result, before any cell is read and in flat memory."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import IO

# Above this many cells in the used range (from A1), and when most of them would be empty,
# calamine's dense grid is not worth its memory: the sheet is streamed instead. 5 million cells
# hold about 250 MB in calamine and Python together.
DENSE_CELLS = 5_000_000
SPARSE_FACTOR = 4  # streamed when the used range holds over 4 times as many cells as values

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
    merged: list[tuple[int, int, int, int]] = field(default_factory=list)  # see Grid

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
        self.merge = re.compile(
            rb"<" + p + rb"mergeCell\s[^>]*?\bref\s*=\s*[\"']\$?([A-Z]{1,3})\$?(\d+)"
            rb"(?::\$?([A-Z]{1,3})\$?(\d+))?[\"']"
        )

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
            if b"mergeCell" in data:
                scan.merged += [_merge(m) for m in p.merge.finditer(data) if m.start() < cut]
            if not chunk:
                break
            tail = data[cut:]
    scan.rows = max(scan.rows, row_tags)
    scan.columns = widest + 1 if widest >= 26 else 26
    scan.errors.sort()
    return scan


def _merge(match: re.Match[bytes]) -> tuple[int, int, int, int]:
    """A mergeCell's ref (B2:C5) as 0-based first and last row and column."""
    first_col, first_row = column_index(match.group(1)), int(match.group(2)) - 1
    if match.group(3) is None:
        return first_row, first_col, first_row, first_col
    last_col, last_row = column_index(match.group(3)), int(match.group(4)) - 1
    return (
        min(first_row, last_row),
        min(first_col, last_col),
        max(first_row, last_row),
        max(first_col, last_col),
    )


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
