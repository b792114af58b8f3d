"""One column of the case rows as the parsers see it: its cells, their addresses, its problems."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import Problem
from ..ports import CellError
from ..problems import problem


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def sheet_ref(tab: str) -> str:
    """The tab's name as a cell reference writes it: quoted when it is not a plain word."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", tab):
        return tab
    return "'" + tab.replace("'", "''") + "'"


def show(value: Any) -> str:
    """A cell's value quoted for a message: whole floats without ".0", long text cut."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dt.datetime):
        value = value.strftime("%Y-%m-%d %H:%M")
    text = str(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f'"{text}"'


@dataclass(frozen=True)
class Column:
    """A column's raw cells on the case rows, with what it takes to name each cell."""

    name: str
    raw: pd.Series  # the cells as read, one per case row (object)
    rows: pd.Series  # the 1-based sheet row of each case (int64), same index as ``raw``
    ref: str  # the tab as a cell reference writes it
    letter: str  # the column's letter in the sheet
    required: bool = False
    has_error_cells: bool = True  # False when the backend knows no cell holds a CellError

    def cell(self, row: int) -> str:
        return f"{self.ref}!{self.letter}{row}"

    def problem(self, code: str, i: int | np.integer[Any], **fields: Any) -> Problem:
        """Problem ``code`` in the cell of case ``i`` (a position, not a sheet row)."""
        row = int(self.rows.iat[int(i)])
        return problem(
            code, self.cell(row), row=row, column=self.name, required=self.required, **fields
        )

    def problems(
        self, code: str, mask: pd.Series, shown: pd.Series | None = None, **fields: Any
    ) -> list[Problem]:
        """Problem ``code`` in every cell ``mask`` marks, {value} quoting ``shown`` (the raw cell)."""
        values = self.raw if shown is None else shown
        return [
            self.problem(code, i, value=show(values.iat[i]), **fields)
            for i in np.flatnonzero(mask.to_numpy())
        ]

    def error_cells(self) -> pd.Series:
        """Where the column holds a spreadsheet error such as #N/A."""
        if not self.has_error_cells:
            return pd.Series(False, index=self.raw.index)
        return self.raw.map(type).eq(CellError)

    def cell_error_problems(self, errors: pd.Series) -> list[Problem]:
        return self.problems("cell-error", errors) if errors.any() else []


@dataclass
class Parsed:
    """What a parser makes of a column: typed values, the cells empty in the sheet, problems."""

    values: pd.Series
    blank: pd.Series
    problems: list[Problem]
