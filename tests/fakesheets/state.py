"""What the fake keeps for each spreadsheet: tabs, typed cells, formats, filters, charts, marks."""

from __future__ import annotations

import copy
import datetime as dt
import re
from dataclasses import dataclass, field, replace
from typing import Any

# gspread's own A1 helpers: the fake stays independent of the caseloop code it tests.
from gspread.utils import column_letter_to_index, rowcol_to_a1

SERIAL_EPOCH = dt.datetime(1899, 12, 30)

Scalar = str | int | float | bool | None


@dataclass(frozen=True)
class FakeCell:
    """One cell as Google keeps it. Immutable, so a tab can be copied by copying its dict.

    ``value`` is the effective value (for a formula, the result a seed gave it; the fake does
    not calculate). ``formula`` is set only for a formula cell. ``format`` is userEnteredFormat.
    """

    value: Scalar = None
    formula: str | None = None
    format: dict[str, Any] = field(default_factory=dict)
    note: str | None = None

    @property
    def is_empty(self) -> bool:
        return self.value is None and self.formula is None


@dataclass
class FakeSheet:
    """One tab."""

    sheet_id: int
    title: str
    index: int
    row_count: int = 1000
    column_count: int = 26
    frozen_rows: int = 0
    frozen_cols: int = 0
    hidden: bool = False
    cells: dict[tuple[int, int], FakeCell] = field(default_factory=dict)
    basic_filter: dict[str, Any] | None = None
    charts: list[dict[str, Any]] = field(default_factory=list)
    developer_metadata: list[dict[str, Any]] = field(default_factory=list)
    merges: list[dict[str, Any]] = field(default_factory=list)
    column_px: dict[int, int] = field(default_factory=dict)
    row_px: dict[int, int] = field(default_factory=dict)
    # ProtectedRange resources as Google keeps them (range, warningOnly, editors.users, …);
    # ``requestingUserCanEdit`` is worked out per caller when the metadata is read.
    protected_ranges: list[dict[str, Any]] = field(default_factory=list)

    def clone(self) -> FakeSheet:
        twin = copy.copy(self)
        twin.cells = dict(self.cells)  # the cells themselves are immutable
        for name in ("basic_filter", "charts", "developer_metadata", "merges", "protected_ranges"):
            setattr(twin, name, copy.deepcopy(getattr(self, name)))
        twin.column_px = dict(self.column_px)
        twin.row_px = dict(self.row_px)
        return twin

    # reading, for tests

    def cell(self, a1_or_row: str | int, col: int | None = None) -> FakeCell:
        """The cell at ``"B3"`` or at 0-based (row, col); an empty cell when none was written."""
        if isinstance(a1_or_row, str):
            row, col = parse_cell(a1_or_row)
        else:
            row = a1_or_row
        assert col is not None
        return self.cells.get((row, col), FakeCell())

    def value(self, a1: str) -> Scalar:
        return self.cell(a1).value

    def used_size(self) -> tuple[int, int]:
        """Rows and columns up to the last cell holding a value."""
        filled = [key for key, cell in self.cells.items() if not cell.is_empty]
        if not filled:
            return 0, 0
        return max(r for r, _ in filled) + 1, max(c for _, c in filled) + 1

    def values(self) -> list[list[Scalar]]:
        """Effective values of the used area, row by row, padded with None."""
        rows, cols = self.used_size()
        return [[self.cell(r, c).value for c in range(cols)] for r in range(rows)]

    def mark(self) -> dict[str, Any] | None:
        """The first developer metadata entry of this tab, if any."""
        return self.developer_metadata[0] if self.developer_metadata else None

    # the API's view

    def properties(self) -> dict[str, Any]:
        grid: dict[str, Any] = {"rowCount": self.row_count, "columnCount": self.column_count}
        # Like Google (proto3), zero counts and false flags are left out.
        if self.frozen_rows:
            grid["frozenRowCount"] = self.frozen_rows
        if self.frozen_cols:
            grid["frozenColumnCount"] = self.frozen_cols
        props: dict[str, Any] = {
            "sheetId": self.sheet_id,
            "title": self.title,
            "index": self.index,
            "sheetType": "GRID",
            "gridProperties": grid,
        }
        if self.hidden:
            props["hidden"] = True
        return props

    def can_edit(self, caller: str | None, owner: str | None) -> bool:
        """Whether ``caller`` may change this tab: every protection that is not warning-only
        lists them as an editor (the owner may always edit). Google refuses only edits that touch
        a protected range; this fake refuses any change to a tab holding one the caller cannot
        edit, which is the same thing for caseloop, since it rewrites whole tabs."""
        return all(self._editable(p, caller, owner) for p in self.protected_ranges)

    @staticmethod
    def _editable(protection: dict[str, Any], caller: str | None, owner: str | None) -> bool:
        if protection.get("warningOnly"):
            return True  # a warning shown in the web UI; the API edits through it
        users = protection.get("editors", {}).get("users", [])
        return caller is not None and (caller == owner or caller in users)

    def resource(self, caller: str | None = None, owner: str | None = None) -> dict[str, Any]:
        """The Sheet resource of spreadsheets.get (includeGridData=false) as ``caller`` sees it."""
        out: dict[str, Any] = {"properties": self.properties()}
        if self.protected_ranges:
            # Sheets API v4 reference, ProtectedRange: ``requestingUserCanEdit`` is "True if the
            # user who requested this protected range can edit the protected area", output only;
            # ``editors`` is shown only to those who may edit the protection.
            out["protectedRanges"] = []
            for protection in self.protected_ranges:
                shown = copy.deepcopy(protection)
                can = self._editable(protection, caller, owner)
                shown["requestingUserCanEdit"] = can
                if not can:
                    shown.pop("editors", None)
                out["protectedRanges"].append(shown)
        if self.merges:
            out["merges"] = copy.deepcopy(self.merges)
        if self.basic_filter is not None:
            out["basicFilter"] = copy.deepcopy(self.basic_filter)
        if self.charts:
            out["charts"] = copy.deepcopy(self.charts)
        if self.developer_metadata:
            out["developerMetadata"] = copy.deepcopy(self.developer_metadata)
        return out


@dataclass
class FakeSpreadsheet:
    """One spreadsheet: its settings, tabs and what the tests let it refuse."""

    key: str
    title: str = "Case log"
    timezone: str = "Asia/Shanghai"
    locale: str = "en_US"
    sheets: list[FakeSheet] = field(default_factory=list)
    denied: bool = False  # every request answers 403, as for a sheet not shared with the caller
    read_only: bool = False  # batchUpdate answers 403, as for a sheet shared as Viewer
    next_object_id: int = 1_000_001  # chart and developer metadata ids Google would assign
    owner: str = "owner@seller-ops.example"  # may edit every protected range
    # Google's limit of cells per spreadsheet, empty grid cells included (Google Sheets help,
    # "Files you can store in Google Drive": up to 10 million cells).
    cell_limit: int = 10_000_000

    def clone(self) -> FakeSpreadsheet:
        twin = copy.copy(self)
        twin.sheets = list(self.sheets)  # tabs are cloned when a request first changes them
        return twin

    def new_object_id(self) -> int:
        self.next_object_id += 1
        return self.next_object_id

    # tabs

    def sheet(self, title: str) -> FakeSheet:
        """The tab named ``title``; like Google, the case of the letters does not matter."""
        for sheet in self.sheets:
            if sheet.title == title:
                return sheet
        for sheet in self.sheets:
            if sheet.title.casefold() == title.casefold():
                return sheet
        raise KeyError(title)

    def has_sheet(self, title: str) -> bool:
        return any(sheet.title.casefold() == title.casefold() for sheet in self.sheets)

    def sheet_by_id(self, sheet_id: int) -> FakeSheet | None:
        return next((s for s in self.sheets if s.sheet_id == sheet_id), None)

    def titles(self) -> list[str]:
        return [s.title for s in sorted(self.sheets, key=lambda s: s.index)]

    def reindex(self) -> None:
        for position, sheet in enumerate(sorted(self.sheets, key=lambda s: s.index)):
            sheet.index = position

    # seeding and people typing

    def add_sheet(
        self,
        title: str,
        rows: list[list[Any]] | None = None,
        *,
        sheet_id: int | None = None,
        row_count: int = 1000,
        column_count: int = 26,
    ) -> FakeSheet:
        """Add a tab holding ``rows`` from A1 (values as a person would type them, see put())."""
        if sheet_id is None:
            sheet_id = 0 if not self.sheets else max(s.sheet_id for s in self.sheets) + 1
        rows = rows or []
        sheet = FakeSheet(
            sheet_id=sheet_id,
            title=title,
            index=len(self.sheets),
            row_count=max(row_count, len(rows)),
            column_count=max([column_count, *(len(r) for r in rows)]),
        )
        self.sheets.append(sheet)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is not None:
                    sheet.cells[(r, c)] = typed_cell(value)
        return sheet

    def put(self, title: str, a1: str, value: Any, *, result: Scalar = None) -> None:
        """A person types ``value`` into a cell: a date becomes a serial with a date format, text
        starting with "=" a formula (its ``result`` is what the fake will report as its value)."""
        sheet = self.sheet(title)
        row, col = parse_cell(a1)
        cell = typed_cell(value)
        if cell.formula is not None:
            cell = replace(cell, value=result)
        sheet.cells[(row, col)] = cell
        sheet.row_count = max(sheet.row_count, row + 1)
        sheet.column_count = max(sheet.column_count, col + 1)

    # the API's view

    def grid_cells(self) -> int:
        """Cells of every tab's grid, which is what Google's cell limit counts."""
        return sum(s.row_count * s.column_count for s in self.sheets)

    def protect(
        self,
        title: str,
        *,
        editors: list[str] = (),  # type: ignore[assignment]
        warning_only: bool = False,
        **bounds: int,
    ) -> dict[str, Any]:
        """A teammate protects the tab ``title`` (or ``bounds`` of it, GridRange fields) in the
        web UI: only ``editors`` and the owner may edit, or only a warning when warning_only."""
        sheet = self.sheet(title)
        protection: dict[str, Any] = {
            "protectedRangeId": self.new_object_id(),
            "range": {"sheetId": sheet.sheet_id, **bounds},
            "warningOnly": warning_only,
        }
        if not warning_only:
            protection["editors"] = {"users": [self.owner, *editors]}
        sheet.protected_ranges.append(protection)
        return protection

    def resource(self, caller: str | None = None) -> dict[str, Any]:
        """The Spreadsheet resource of spreadsheets.get with includeGridData=false."""
        return {
            "spreadsheetId": self.key,
            "properties": {
                "title": self.title,
                "locale": self.locale,
                "autoRecalc": "ON_CHANGE",
                "timeZone": self.timezone,
                "defaultFormat": {
                    "backgroundColor": {"red": 1, "green": 1, "blue": 1},
                    "padding": {"top": 2, "right": 3, "bottom": 2, "left": 3},
                    "verticalAlignment": "BOTTOM",
                    "wrapStrategy": "OVERFLOW_CELL",
                    "textFormat": {
                        "foregroundColor": {},
                        "fontFamily": "arial,sans,sans-serif",
                        "fontSize": 10,
                        "bold": False,
                        "italic": False,
                        "strikethrough": False,
                        "underline": False,
                    },
                },
            },
            "sheets": [
                s.resource(caller, self.owner) for s in sorted(self.sheets, key=lambda s: s.index)
            ],
            "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{self.key}/edit",
        }


def typed_cell(value: Any) -> FakeCell:
    """A cell as Google stores what a person typed (USER_ENTERED): dates become serials."""
    if isinstance(value, FakeCell):
        return value
    if isinstance(value, dt.datetime):
        serial = (value.replace(tzinfo=None) - SERIAL_EPOCH) / dt.timedelta(days=1)
        return FakeCell(
            serial, format={"numberFormat": {"type": "DATE_TIME", "pattern": "yyyy-mm-dd hh:mm"}}
        )
    if isinstance(value, dt.date):
        serial = float((value - SERIAL_EPOCH.date()).days)
        return FakeCell(serial, format={"numberFormat": {"type": "DATE", "pattern": "yyyy-mm-dd"}})
    if isinstance(value, str) and value.startswith("="):
        return FakeCell(None, formula=value)
    return FakeCell(value)


# --- A1 notation ------------------------------------------------------------------------------

_CELL = re.compile(r"^([A-Za-z]*)(\d*)$")


def column_index(letters: str) -> int:
    return column_letter_to_index(letters) - 1


def cell_a1(row: int, col: int) -> str:
    """0-based (row, col) as ``B3``."""
    return rowcol_to_a1(row + 1, col + 1)


def parse_cell(a1: str) -> tuple[int, int]:
    match = _CELL.match(a1)
    if not match or not match.group(1) or not match.group(2):
        raise ValueError(f"not a cell: {a1!r}")
    return int(match.group(2)) - 1, column_index(match.group(1))


def split_range(a1_range: str) -> tuple[str, str | None]:
    """``'Case Log'!A1:B2`` → (``Case Log``, ``A1:B2``); a bare title → (title, None)."""
    if a1_range.startswith("'"):
        end = 1
        while True:
            end = a1_range.index("'", end)
            if a1_range[end + 1 : end + 2] == "'":
                end += 2
                continue
            break
        title = a1_range[1:end].replace("''", "'")
        rest = a1_range[end + 1 :]
        return title, rest[1:] if rest.startswith("!") else None
    if "!" in a1_range:
        title, _, cells = a1_range.rpartition("!")
        return title, cells
    return a1_range, None


def range_bounds(cells: str | None, rows: int, cols: int) -> tuple[int, int, int, int]:
    """0-based, end-exclusive (row0, row1, col0, col1) of ``A1:B2``, ``A:C``, ``2:5`` or None."""
    if not cells:
        return 0, rows, 0, cols
    first, _, last = cells.partition(":")
    last = last or first

    def corner(ref: str, end: bool) -> tuple[int, int]:
        match = _CELL.match(ref)
        if not match:
            raise ValueError(f"bad range {cells!r}")
        letters, digits = match.groups()
        row = (int(digits) - 1 + (1 if end else 0)) if digits else (rows if end else 0)
        col = (column_index(letters) + (1 if end else 0)) if letters else (cols if end else 0)
        return row, col

    r0, c0 = corner(first, False)
    r1, c1 = corner(last, True)
    return r0, min(r1, rows), c0, min(c1, cols)


def range_title(title: str) -> str:
    """A tab title as Google writes it in an A1 range: quoted unless plain letters and digits."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", title):
        return title
    return "'" + title.replace("'", "''") + "'"
