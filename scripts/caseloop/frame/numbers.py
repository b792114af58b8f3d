"""Whole-number cells (Follow-ups): numbers and number text, with the schema's minimum."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..schema import normalize_label
from .column import Column, Parsed
from .text import fold


def parse_integer(column: Column, minimum: int | None, words: tuple[str, ...] = ()) -> Parsed:
    """Counts as nullable integers; text, fractions and values below ``minimum`` are errors.

    ``words`` may follow the digits of a count typed as text (the schema's x-count-words: 2次).
    """
    series = column.raw
    errors = column.error_cells()
    problems = column.cell_error_problems(errors)
    kinds = series.map(type)
    numbers = pd.Series(np.nan, index=series.index, dtype=float)
    is_num = kinds.isin([int, float])
    numbers[is_num] = series[is_num].astype(float)
    is_str = kinds.eq(str)
    folded = fold(series[is_str])
    typed = folded[folded != ""]
    if words and len(typed):
        # Folded like the text: full-width digits are ASCII already, the words case-folded.
        unit = "|".join(re.escape(normalize_label(w)) for w in words)
        typed = typed.str.replace(rf"^(\d+)\s*(?:{unit})$", r"\1", regex=True)
    numbers[typed.index] = pd.to_numeric(typed, errors="coerce")
    blank = series.isna() | ~errors & is_str & ~series.index.isin(typed.index)
    text = series.where(~blank & ~errors, None)
    bad = text.notna() & (numbers.isna() | (numbers % 1 != 0)) & ~errors
    if bad.any():
        problems += column.problems("not-a-number", bad)
    below = numbers.notna() & (numbers < (minimum if minimum is not None else -np.inf))
    if below.any():
        problems += column.problems("below-minimum", below, minimum=minimum)
    values = numbers.where(~bad & ~below).astype("Float64").round().astype("Int64")
    return Parsed(values, blank, problems)
