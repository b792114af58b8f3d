"""The backend-neutral description of a generated tab: what render makes and every sink writes.

A ``SheetModel`` is a grid of cells, each a value and a ``Style``; plus widths, frozen rows, an
auto-filter and charts. The Excel sink turns it into a sheet part with xlsxwriter; the Google
sink into one ``batchUpdate``. Neither needs to know what a case is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

# A cell value. Strings are always written as text, never as formulas. Datetimes are naive and
# already in the team's time zone; they are written as date cells with the style's num_format.
CellValue = str | int | float | bool | dt.datetime | dt.date | None


@dataclass(frozen=True)
class Style:
    """How one cell looks. Colours are ``#RRGGBB``. Hashable, so sinks can dedupe formats."""

    bg: str | None = None
    font_color: str | None = None
    bold: bool = False
    italic: bool = False
    num_format: str | None = None  # Excel number format, e.g. "yyyy-mm-dd hh:mm" or "0.0"
    wrap: bool = False
    border: bool = False  # a thin grey border on all sides
    size: float | None = None  # font size in points; None = the default (11)


@dataclass(frozen=True)
class Cell:
    value: CellValue = None
    style: Style | None = None


@dataclass(frozen=True)
class Range:
    """A 0-based, inclusive block of cells on the same sheet."""

    first_row: int
    first_col: int
    last_row: int
    last_col: int


@dataclass(frozen=True)
class Series:
    name: str
    values: Range  # a single column of numbers
    kind: Literal["column", "line"] = "column"
    color: str | None = None


@dataclass(frozen=True)
class Chart:
    title: str
    categories: Range  # a single column of labels
    series: tuple[Series, ...]
    anchor_row: int  # 0-based top-left cell where the chart sits
    anchor_col: int
    width_px: int = 720
    height_px: int = 320
    y_title: str | None = None


@dataclass
class KeptRows:
    """The rows of the tab being replaced that the new tab keeps as they are, below its own
    first rows: a long History is not rendered again on every run.

    A sink that can copy them (the Excel splice, when the tab it replaces is ``source_title``
    and ends at sheet row ``last_row``, as read) puts the model's rows from ``first_row`` on
    after them; any other sink, or that one when the tab is not as read, writes ``full()``.
    """

    source_title: str  # the tab the kept rows were read from
    first_row: int  # 0-based: rows from here to last_row are kept; the model's rows follow them
    last_row: int  # 1-based sheet row of the last row read from the tab
    full: Callable[[], SheetModel]  # the whole tab, for a sink that cannot copy them


@dataclass
class SheetModel:
    """One generated tab."""

    title: str
    rows: list[list[Cell]]
    col_widths: list[float] = field(default_factory=list)  # in characters, like Excel
    freeze_rows: int = 0  # rows above this index are frozen
    auto_filter: Range | None = None
    charts: list[Chart] = field(default_factory=list)
    # Heights (points) of rows whose wrapped text needs more than one line, by row index. Excel
    # and LibreOffice do not grow a row for wrapped text on opening; Google Sheets does.
    row_heights: dict[int, float] = field(default_factory=dict)
    kind: str = "status"  # which generated tab this is ("status", "weekly"): the caseloop mark
    # The names caseloop gives this kind of tab in every language (Status, 状态), when the title
    # is one of them; empty when the user named the tab. A backend renames caseloop's tab of the
    # kind from one default to another, but keeps a name the team gave it (``ports.plan_tab``).
    default_titles: tuple[str, ...] = ()
    # Rows of the tab being replaced kept as they are (see ``KeptRows``); None: ``rows`` is all.
    kept: KeptRows | None = None

    def render_kept(self) -> None:
        """Make ``rows`` the whole tab (for a sink that cannot copy the kept rows)."""
        if self.kept is not None:
            full = self.kept.full()
            self.rows, self.auto_filter = full.rows, full.auto_filter
            self.row_heights, self.kept = full.row_heights, None

    @property
    def n_rows(self) -> int:
        return len(self.rows)

    @property
    def n_cols(self) -> int:
        return max((len(r) for r in self.rows), default=0)
