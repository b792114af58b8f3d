"""Ports between the core and the backends: Grid, CellError, WriteResult, the Workbook protocol."""

from __future__ import annotations

from collections.abc import Collection, Sequence
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

    def read_tab_and_ours(self, title: str, kind: str) -> tuple[Grid, Grid | None]:
        """The tab ``title`` and caseloop's tab of ``kind`` (found by its mark, whatever its
        name), read together: one request on Google. None when there is no such tab (a CSV
        export never has one)."""
        ...

    def write_tabs(self, tabs: list[SheetModel]) -> WriteResult:
        """Write the generated tabs, all or nothing, each where ``plan_tab`` puts it (each model's
        title becomes its tab's name); touch no other tab but caseloop's stale ones of a kind."""
        ...

    def close(self) -> None:
        """Let go of what the workbook holds (a lock on the file); idempotent."""
        ...


# What a backend found under a generated tab's name, for ``check_may_write``.
NO_TAB = None  # no tab of that name: caseloop may add it
TEAM_TAB = "team"  # a tab without caseloop's mark: never written


def check_may_write(title: str, kind: str, found: str | None) -> None:
    """The one rule for every backend: caseloop writes a tab only if it is absent or carries
    caseloop's mark for the same kind of report. (``plan_tab`` renames and removes only tabs
    carrying that mark too.)

    ``found`` is ``NO_TAB``, ``TEAM_TAB``, or the kind named by the tab's caseloop mark ("" when
    an old mark names no kind, which counts as the same kind).
    """
    if found is NO_TAB or found == "" or found == kind:
        return
    if found == TEAM_TAB:
        raise TabTakenError(title, kind)
    raise TabTakenError(title, kind, other_report=True)


@dataclass(frozen=True)
class TabPlan:
    """What a backend does for one generated tab: which tab it rewrites, its name afterwards, and
    caseloop's other tabs of the same kind it deletes."""

    existing: str | None  # the tab rewritten in place, by its name now; None: a new tab is added
    title: str  # the tab's name once written
    remove: tuple[str, ...] = ()


def plan_tab(
    title: str,
    kind: str,
    default_titles: Sequence[str],
    tabs: Sequence[tuple[str, str | None]],
    pinned: Collection[str] = (),
) -> TabPlan:
    """Which tab a generated tab of ``kind`` goes to: one tab of each kind, whatever its language.

    ``title`` is the name this run wants; ``default_titles`` the names caseloop gives this kind in
    every language, empty when the user named the tab (``--status-tab``). ``tabs`` lists every
    tab in order with what its mark says (``TEAM_TAB``, or the kind its caseloop mark names).
    ``pinned``: folded names of tabs that must keep their names and stay (a team formula reads
    them by name, or the workbook's structure is locked).

    A tab of the wanted name is the one written, if ``check_may_write`` allows it. Otherwise
    caseloop's tab of the kind (by its mark) is rewritten in place: under the name the team gave
    it when that is not one of caseloop's default names (the team's choice is kept; an explicit
    name for this run wins over it), else renamed to ``title``. Any other tab marked for the same
    kind (left by runs in another language) is removed; a tab without the mark never is.
    """
    wanted = title.casefold()
    defaults = {name.casefold() for name in default_titles}
    pinned = {name.casefold() for name in pinned}
    ours = [name for name, found in tabs if found == kind]
    target = next(((n, f) for n, f in tabs if n.casefold() == wanted), None)
    if target is not None:
        check_may_write(target[0], kind, target[1])
        existing, new_title = target[0], target[0]  # the existing spelling (Excel ignores case)
    elif not ours:
        existing, new_title = None, title
    else:
        # Names to keep: pinned ones, and (unless the user named the tab) the team's own names.
        keep = [
            n for n in ours if n.casefold() in pinned or (defaults and n.casefold() not in defaults)
        ]
        existing = (keep or ours)[0]
        new_title = existing if keep else title
    remove = tuple(n for n in ours if n != existing and n.casefold() not in pinned)
    return TabPlan(existing, new_title, remove)
