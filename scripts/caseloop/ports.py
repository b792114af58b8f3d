"""Ports between the core and the backends: Grid, CellError, WriteResult, the Workbook protocol."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from .errors import TabTakenError
from .model import SheetModel


@dataclass(frozen=True)
class CellError:
    """A spreadsheet error value such as ``#N/A`` or ``#REF!`` found in a cell."""

    text: str

    def __str__(self) -> str:
        return self.text


@dataclass
class Grid:
    """A tab as raw cell values, row by row (row 0 is sheet row 1, column 0 is column A).

    Values are str, int, float, bool, datetime.datetime, datetime.date, datetime.time, CellError
    or None. Google Sheets date cells arrive as serial numbers (days since 1899-12-30) in
    ``timezone``; Excel date cells arrive as datetimes.
    """

    title: str
    rows: list[list[Any]]
    timezone: str | None = None  # the spreadsheet's own time zone setting, if it has one
    dates_as_serials: bool = False  # True for Google Sheets (UNFORMATTED_VALUE + SERIAL_NUMBER)
    has_error_cells: bool = True  # False when the backend knows no cell holds a CellError
    date1904: bool = False  # the workbook counts serials from 1904-01-01 (old Mac Excel)
    # 1-based sheet row of each entry of ``rows`` when only rows holding data were read;
    # None when rows[i] is sheet row i + 1.
    row_numbers: list[int] | None = None
    # (row, column), 0-based, of formula cells the file holds no result for.
    unsaved_formulas: set[tuple[int, int]] = field(default_factory=set)
    skip_rows: set[int] = field(default_factory=set)  # 1-based rows of Excel Table totals
    # (row, column, value), 0-based, of cells far from the case log that made the tab huge.
    far_cells: list[tuple[int, int, Any]] = field(default_factory=list)
    # (first row, first column, last row, last column), 0-based and inclusive, of merged cells:
    # each cell a merge covers reads as its top-left value.
    merged_cells: list[tuple[int, int, int, int]] = field(default_factory=list)


@dataclass
class WriteResult:
    """What a sink did, for the CLI to report."""

    target: str  # the file path or sheet URL written
    tabs: list[str]
    backup: str | None = None
    requests: int | None = None  # Google API requests used
    details: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Workbook(Protocol):
    """A spreadsheet caseloop reads the case log from and writes its generated tabs into.

    The engine and the CLI use nothing else of a backend: every backend has all of these.
    They only read the attributes, so a backend may give them as plain attributes or properties.
    """

    @property
    def location(self) -> str:
        """What to call it in messages: a path or a URL."""
        ...

    @property
    def single_table(self) -> bool:
        """True when it is one table whatever its name (a CSV export): that table is the cases."""
        ...

    @property
    def read_only(self) -> bool:
        """True when no tab can be written into it (a CSV export): only reports that go
        elsewhere (Markdown) can be made from it."""
        ...

    @property
    def warnings(self) -> list[str]:
        """What the user should hear although the run goes on (credentials anyone can read, an
        interrupted earlier run that was put right), one sentence each."""
        ...

    def tab_names(self) -> list[str]: ...

    def read_tab(self, title: str) -> Grid: ...

    def write_tabs(self, tabs: list[SheetModel]) -> WriteResult:
        """Write the generated tabs, all or nothing; never touch any other tab."""
        ...

    def close(self) -> None:
        """Let go of what the workbook holds (a lock on the file); idempotent."""
        ...


# What a backend found under a generated tab's name, for ``check_may_write``.
NO_TAB = None  # no tab of that name: caseloop may add it
TEAM_TAB = "team"  # a tab without caseloop's mark: never written


def check_may_write(title: str, kind: str, found: str | None) -> None:
    """The one rule for every backend: caseloop writes a tab only if it is absent or carries
    caseloop's mark for the same kind of report.

    ``found`` is ``NO_TAB``, ``TEAM_TAB``, or the kind named by the tab's caseloop mark ("" when
    an old mark names no kind, which counts as the same kind).
    """
    if found is NO_TAB or found == "" or found == kind:
        return
    if found == TEAM_TAB:
        raise TabTakenError(title, kind)
    raise TabTakenError(title, kind, other_report=True)
