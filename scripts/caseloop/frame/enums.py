"""Cells with a fixed set of values (Status, Channel...), read in English, Chinese or an alias."""

from __future__ import annotations

import numpy as np

from ..config import Rules
from ..schema import normalize_label
from .column import Column, Parsed, show
from .text import read_text


def allowed_values(rules: Rules, column: str, codes: bool = False) -> str:
    """The allowed values for a message, each with the Chinese label it is also read in."""
    return ", ".join(f"{v} ({rules.zh_labels[column][v]})" for v in rules.allowed(column))


def allowed_values_zh(rules: Rules, column: str) -> str:
    """The allowed values as a Chinese sentence lists them: 美国（US）、加拿大（CA）."""
    zh = rules.zh_labels[column]
    return "、".join(zh[v] if zh[v] == v else f"{zh[v]}（{v}）" for v in rules.allowed(column))


def parse_enum(column: Column, rules: Rules, codes: bool = False) -> Parsed:
    """Each cell as its canonical English value (rules.yaml); an unknown value is an error,
    a word that could mean several values (rules.yaml ambiguous) a warning that asks which.

    ``codes`` is kept for schemas that mark code columns; every list now names the Chinese
    label too, since teams type either.
    """
    text, errors, parsed = read_text(column)
    vocab = rules.vocab[column.name]
    mapping = {u: vocab.get(normalize_label(u)) for u in text.dropna().unique()}
    canonical = text.map(mapping)
    unknown = text.notna() & canonical.isna() & ~errors
    ambiguous = rules.ambiguous.get(column.name, {})
    if unknown.any() and ambiguous:
        meanings = {u: ambiguous.get(normalize_label(u)) for u in text[unknown].unique()}
        unsure = unknown & text.map(meanings).notna()
        unknown &= ~unsure
        zh = rules.zh_labels[column.name]
        for i in np.flatnonzero(unsure.to_numpy()):
            values = meanings[text.iat[i]] or ()
            parsed.problems.append(
                column.problem(
                    "ambiguous-value",
                    i,
                    value=show(column.raw.iat[i]),
                    choices=" or ".join(f"{v} ({zh[v]})" for v in values),
                    choices_zh="或".join(zh[v] for v in values),
                )
            )
    if unknown.any():
        parsed.problems += column.problems(
            "unknown-value",
            unknown,
            allowed=allowed_values(rules, column.name),
            allowed_zh=allowed_values_zh(rules, column.name),
        )
    parsed.values = canonical.where(canonical.notna(), None)
    return parsed
