"""Text that fits one spreadsheet cell: long lists summarised, Excel's length limit kept."""

from __future__ import annotations

import re
from collections.abc import Iterable

from .config import Labels

# Excel's most characters in a cell, which it counts in UTF-16 code units (an emoji is two);
# Google Sheets allows 50,000, so the tighter limit serves both.
CELL_LIMIT = 32_767
# A list of IDs longer than this shows its first LIST_SHOWN and says how many more there are.
LIST_SHOWN = 50
SEPARATOR = " · "

# An item of a list is a token with a digit (a case ID, an ASIN): the prose around a list
# ("which is not a Case ID") is never taken for an item. Items start only after a space or a
# comma and the quantifiers are possessive, so a long token cannot make the search quadratic.
_ITEM = r"[^\s,\d]*+\d[^\s,]*+"
_LONG_LIST = re.compile(rf"(?<![^\s,]){_ITEM}(?:, {_ITEM}){{{LIST_SHOWN},}}")


def utf16_len(text: str) -> int:
    """The length of ``text`` as Excel counts it."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _cut(text: str, units: int) -> str:
    """The longest start of ``text`` within ``units`` UTF-16 units, never half a character."""
    data = text.encode("utf-16-le", "surrogatepass")[: 2 * units]
    if len(data) >= 2 and 0xD8 <= data[-1] <= 0xDB:  # a high surrogate without its pair
        data = data[:-2]
    return data.decode("utf-16-le", "surrogatepass")


def more_items(labels: Labels, lang: str, n: int) -> str:
    return labels.get("notes", "more_items", lang).format(n=f"{n:,}")


def summarise_list(items: list[str], labels: Labels, lang: str) -> str:
    """``items`` joined with commas, the first LIST_SHOWN of them when there are more."""
    if len(items) <= LIST_SHOWN:
        return ", ".join(items)
    shown = ", ".join(items[:LIST_SHOWN])
    return f"{shown}, {more_items(labels, lang, len(items) - LIST_SHOWN)}"


def summarise_lists(text: str, labels: Labels, lang: str) -> str:
    """Every list of more than LIST_SHOWN IDs inside ``text`` summarised."""
    if text.count(",") < LIST_SHOWN:
        return text
    return _LONG_LIST.sub(lambda m: summarise_list(m.group(0).split(", "), labels, lang), text)


def fit_text(parts: Iterable[str], labels: Labels, lang: str) -> str:
    """``parts`` joined for one cell, in order (the most important first), lists summarised;
    whole parts are dropped from the end, with a count, until the cell limit is kept."""
    parts = [summarise_lists(p, labels, lang) for p in parts if p]
    text = SEPARATOR.join(parts)
    if utf16_len(text) <= CELL_LIMIT:
        return text
    for keep in range(len(parts) - 1, 0, -1):
        head = SEPARATOR.join(parts[:keep])
        tail = SEPARATOR + labels.get("notes", "more_notes", lang).format(n=len(parts) - keep)
        if utf16_len(head) + utf16_len(tail) <= CELL_LIMIT:
            return head + tail
    return _cut(parts[0], CELL_LIMIT - 1) + "…"
