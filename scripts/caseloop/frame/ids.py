"""Case IDs: the ID column (folded, checked for Amazon's form, no repeats) and related-case lists."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..errors import Problem
from ..schema import normalize_label
from .column import Column, Parsed
from .text import read_text

_SCIENTIFIC = re.compile(r"^\d(\.\d+)?[eE]\+?\d+$")
# Amazon's own case IDs: 11 digits today, 8 to 12 accepted.
_AMAZON_CASE_ID = r"\d{8,12}"
_RELATED_SPLIT = re.compile(r"[\s,;，；、/]+")


def parse_case_id(column: Column) -> Parsed:
    """The ID of each case, upper-cased without spaces; a shortened or repeated ID is an error."""
    text, _, parsed = read_text(column)
    has_text = text.notna()
    # Full-width digits and stray spaces from pasting: fold them away.
    plain = has_text & text.str.isascii().eq(True) & ~text.str.contains(" ", regex=False).eq(True)
    text = text.str.upper()
    odd_form = has_text & ~plain
    if odd_form.any():
        text[odd_form] = text[odd_form].map(lambda v: normalize_label(v).replace(" ", "").upper())
    sci = has_text & text.str.match(_SCIENTIFIC.pattern).fillna(False).astype(bool)
    if sci.any():
        parsed.problems += column.problems("case-id-shortened", sci)
    digits = text.str.fullmatch(_AMAZON_CASE_ID).fillna(False).astype(bool)
    odd = has_text & ~digits & ~sci
    if odd.any():
        parsed.problems += column.problems("case-id-format", odd)
    text = text.where(~sci, None)
    parsed.problems += _duplicates(column, text)
    parsed.values = text
    return parsed


def _duplicates(column: Column, ids: pd.Series) -> list[Problem]:
    """A second row with an ID already seen names the first one."""
    repeated = ids.duplicated(keep="first")
    dup = ids.notna() & repeated
    if not dup.any():
        return []
    first_seen = ids.notna() & ~repeated
    first_row = dict(zip(ids[first_seen], column.rows[first_seen], strict=True))
    found = []
    for i in np.flatnonzero(dup.to_numpy()):
        first = int(first_row[ids.iat[i]])
        found.append(
            column.problem(
                "duplicate-case-id",
                i,
                case_id=ids.iat[i],
                first_row=first,
                first_cell=column.cell(first),
            )
        )
    return found


def split_related(text: pd.Series) -> pd.Series:
    """Each cell of a related-cases column as a tuple of IDs, in the form parse_case_id gives."""
    return text.map(
        lambda v: (
            tuple(t for t in _RELATED_SPLIT.split(normalize_label(v).upper()) if t) if v else ()
        )
    )


def unknown_related(
    column: Column, related: pd.Series, ids: pd.Series, id_column: str
) -> list[Problem]:
    """Related IDs that are no case of this log."""
    known = set(ids.dropna())
    unknown = related.map(lambda t: any(i not in known for i in t)).astype(bool)
    return [
        column.problem(
            "unknown-related",
            i,
            ids=", ".join(x for x in related.iat[i] if x not in known),
            id_column=id_column,
        )
        for i in np.flatnonzero(unknown.to_numpy())
    ]
