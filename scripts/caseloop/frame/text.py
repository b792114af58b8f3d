"""Text cells: any cell as trimmed text, and the parser of the plain text columns."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from ..ports import CellError
from ..schema import normalize_label
from .column import Column, Parsed


def text_of(value: Any) -> str | None:
    """One cell as trimmed text, or None when it holds nothing readable as text."""
    if value is None or isinstance(value, CellError):
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value != value:  # NaN
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value).strip() or None


def to_text(series: pd.Series) -> pd.Series:
    """Any cell as trimmed text; None for empty. Whole floats lose their ".0".

    Each distinct value is converted once: a log repeats its owners, stores and labels.
    """
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    # Code -1 (None or NaN in the sheet) picks the trailing None.
    texts = np.array([text_of(u) for u in uniques] + [None], dtype=object)
    return pd.Series(texts[codes], index=series.index, dtype=object)


def fold(text: pd.Series) -> pd.Series:
    """``normalize_label`` over a Series of strings, cheap for the plain ASCII ones."""
    if text.empty:
        return text
    folded = text.str.strip().str.casefold()
    special = ~text.str.isascii().astype(bool)
    if special.any():
        folded[special] = text[special].map(normalize_label)
    return folded


def read_text(column: Column) -> tuple[pd.Series, pd.Series, Parsed]:
    """The column as text, where it holds spreadsheet errors, and the plain text result."""
    errors = column.error_cells()
    text = to_text(column.raw)
    return text, errors, Parsed(text, text.isna() & ~errors, column.cell_error_problems(errors))


def parse_text(column: Column) -> Parsed:
    """A free-text column (Owner, Summary...): any value is fine, as text."""
    return read_text(column)[2]
