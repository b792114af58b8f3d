"""Cells with a fixed set of values (Status, Channel...), read in English, Chinese or an alias."""

from __future__ import annotations

from ..config import Rules
from ..schema import normalize_label
from .column import Column, Parsed
from .text import read_text


def allowed_values(rules: Rules, column: str, codes: bool) -> str:
    """The allowed values for a message, each with its Chinese label unless they are codes."""
    return ", ".join(
        v if codes else f"{v} ({rules.zh_labels[column][v]})" for v in rules.allowed(column)
    )


def allowed_values_zh(rules: Rules, column: str, codes: bool) -> str:
    """The allowed values for a Chinese message: the Chinese labels (codes with theirs)."""
    labels = rules.zh_labels[column]
    return "、".join(f"{v}（{labels[v]}）" if codes else labels[v] for v in rules.allowed(column))


def parse_enum(column: Column, rules: Rules, codes: bool = False) -> Parsed:
    """Each cell as its canonical English value (rules.yaml); an unknown value is an error.

    ``codes``: the values are codes read alike in every language (US, DE): listed bare.
    """
    text, errors, parsed = read_text(column)
    vocab = rules.vocab[column.name]
    mapping = {u: vocab.get(normalize_label(u)) for u in text.dropna().unique()}
    canonical = text.map(mapping)
    unknown = text.notna() & canonical.isna() & ~errors
    if unknown.any():
        parsed.problems += column.problems(
            "unknown-value",
            unknown,
            allowed=allowed_values(rules, column.name, codes),
            allowed_zh=allowed_values_zh(rules, column.name, codes),
        )
    parsed.values = canonical.where(canonical.notna(), None)
    return parsed
