"""Which rows under the header are cases: not blank, not the header repeated, not a totals line."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from ..ports import Grid
from ..schema import Schema, normalize_label
from .header import MIN_KNOWN_HEADERS, Header
from .text import text_of

# The first filled cell of a totals line under the cases (normalized as headers are).
TOTALS_WORDS = frozenset(
    {"total", "totals", "grand total", "subtotal", "合计", "总计", "小计", "合計", "總計", "小計"}
)
_STARTS_WITH_DIGIT = re.compile(r"\s*\d")
# What may follow the word on a totals line: "合计：", "Total: 134", "合计 2 个".
_AFTER_TOTALS_WORD = re.compile(r"[\s:：,，\-—=]*(?:\d.*)?")


def case_rows(
    grid: Grid, header: Header, schema: Schema, id_column: int, opened_column: int
) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int, str]]]:
    """The case rows as a 2-D object array, the 1-based sheet row of each, and the totals lines
    skipped (1-based row, 0-based column of the totals word, the cell's text).

    ``id_column`` and ``opened_column`` are the sheet columns of the case's ID and opening time,
    which tell a case from a totals line.
    """
    width = max(header.columns.values()) + 1
    table = as_table(grid.rows[header.index + 1 :], width)
    if grid.row_numbers is not None:
        numbers = np.asarray(grid.row_numbers[header.index + 1 :], dtype=np.int64)
    else:
        numbers = np.arange(header.row + 1, header.row + 1 + len(table))
    # A row with nothing in any known column is not a case (blank rows, notes below).
    known = table[:, list(header.columns.values())]
    filled = ~((known == None) | (known == ""))  # noqa: E711 (elementwise on objects)
    count = filled.sum(axis=1)
    keep = count > 0
    # Rows with only a few filled cells may hold nothing but spaces: look at those alone.
    for i in np.flatnonzero(keep & (count <= 3)):
        keep[i] = any(
            not (isinstance(v, str) and not v.strip())
            for v in known[i]
            if v is not None and v != ""
        )
    skip, totals = _not_cases(grid, header, schema, table, numbers, keep, id_column, opened_column)
    keep &= ~skip
    kept_at = np.flatnonzero(keep)
    return table[kept_at], numbers[kept_at], totals


def _not_cases(
    grid: Grid,
    header: Header,
    schema: Schema,
    table: np.ndarray,
    numbers: np.ndarray,
    filled: np.ndarray,
    id_column: int,
    opened_column: int,
) -> tuple[np.ndarray, list[tuple[int, int, str]]]:
    """Rows under the header that are not cases: Excel Table totals rows, the header
    repeated (>= 3 header names), and totals lines ("Total", "合计" first, no case ID)."""
    skip = np.isin(numbers, list(grid.skip_rows)) if grid.skip_rows else None
    if skip is None:
        skip = np.zeros(len(table), dtype=bool)
    # Cases have a date or a number when they were opened (or date text, which starts with a
    # digit): only the other rows are looked at cell by cell.
    opened = pd.Series(table[:, opened_column], dtype=object)
    kinds = opened.map(type)
    is_str = kinds.eq(str)
    dated = kinds.isin([dt.datetime, dt.date, pd.Timestamp, int, float])
    text_dates = opened[is_str].str.match(_STARTS_WITH_DIGIT.pattern).astype(bool)
    dated[text_dates.index[text_dates]] = True
    lookup = schema.header_lookup
    known = list(header.columns.values())
    totals: list[tuple[int, int, str]] = []
    for i in np.flatnonzero(filled & ~dated.to_numpy() & ~skip):
        row = table[i]
        labels = [normalize_label(row[c]) if isinstance(row[c], str) else None for c in known]
        if sum(label in lookup for label in labels if label) >= MIN_KNOWN_HEADERS:
            skip[i] = True  # the header again (a paste, a print layout): nothing to say
            continue
        first = next((c for c, v in enumerate(row) if text_of(v) is not None), None)
        if first is not None and is_totals_word(row[first]):
            identifier = text_of(row[id_column])
            if identifier is None or is_totals_word(identifier):
                skip[i] = True
                totals.append((int(numbers[i]), first, str(row[first])))
    return skip, totals


def is_totals_word(value: Any) -> bool:
    """A cell that starts a totals line: 合计, "合计：", "Total: 134"."""
    if not isinstance(value, str):
        return False
    text = normalize_label(value)
    return any(
        text.startswith(word) and _AFTER_TOTALS_WORD.fullmatch(text[len(word) :]) is not None
        for word in TOTALS_WORDS
    )


def fill_merged(grid: Grid, header: Header) -> Grid:
    """The grid with every cell a merge covers below the header holding the merge's top-left
    value, as the team sees it (a Category spanning two cases). Merges in or above the header
    (a title across the top) are left alone, so a header never repeats into its neighbour."""
    merges = [m for m in grid.merged_cells if m[0] >= header.row and (m[2], m[3]) != m[:2]]
    if not merges:
        return grid
    numbers = grid.row_numbers
    index = (
        {n - 1: i for i, n in enumerate(numbers)} if numbers is not None else range(len(grid.rows))
    )
    rows = list(grid.rows)  # rows are copied only where a merge changes them
    copied: set[int] = set()
    for first_row, first_col, last_row, last_col in merges:
        top = index[first_row] if first_row in index else None
        if top is None or first_col >= len(rows[top]):
            continue
        value = rows[top][first_col]
        for r in range(first_row, last_row + 1):
            i = index[r] if r in index else None
            if i is None:
                continue  # an empty row under the merge: nothing else in it to read
            if i not in copied:
                rows[i] = list(rows[i])
                copied.add(i)
            row = rows[i]
            if len(row) <= last_col:
                row.extend([None] * (last_col + 1 - len(row)))
            row[first_col : last_col + 1] = [value] * (last_col - first_col + 1)
    return replace(grid, rows=rows)


def as_table(rows: list[list[Any]], width: int) -> np.ndarray:
    """The rows as a 2-D object array of ``width`` columns, short rows padded with None."""
    if not rows:
        return np.empty((0, width), dtype=object)
    if all(len(r) >= width for r in rows):
        # Backends hand over rectangular rows: numpy copies them in one call.
        try:
            table = np.array(rows, dtype=object)
        except ValueError:
            table = None
        if table is not None and table.ndim == 2:
            return table[:, :width]
        table = np.empty((len(rows), width), dtype=object)
        for c in range(width):
            table[:, c] = [r[c] for r in rows]
        return table
    return as_table([list(r[:width]) + [None] * (width - len(r)) for r in rows], width)


def unsaved_formulas(grid: Grid, header: Header, sheet_rows: np.ndarray) -> dict[str, pd.Series]:
    """Per field, the case rows whose cell is a formula the file holds no result for."""
    if not grid.unsaved_formulas:
        return {}
    index_of = {int(row): i for i, row in enumerate(sheet_rows)}
    name_of = {c: name for name, c in header.columns.items()}
    masks: dict[str, pd.Series] = {}
    for r, c in grid.unsaved_formulas:
        i = index_of.get(r + 1)
        if i is None or c not in name_of:
            continue
        mask = masks.setdefault(name_of[c], pd.Series(False, index=range(len(sheet_rows))))
        mask.iat[i] = True
    return masks
