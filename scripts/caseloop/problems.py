"""The catalogue of problem codes: each code's severity and the labels.yaml template it is worded by."""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .config import Labels, load_labels
from .errors import Problem, Severity

# The group of sheets_schema/labels.yaml that holds the problem sentences.
LABEL_GROUP = "problems"


@dataclass(frozen=True)
class Entry:
    """One problem code: how bad it is and the template key(s) of its sentence."""

    severity: Severity
    template: str
    # Other wordings of the same problem, chosen by the caller with ``variant``.
    variants: tuple[str, ...] = ()
    # The severity in a column the schema does not require, where it differs.
    optional_severity: Severity | None = None

    @property
    def templates(self) -> tuple[str, ...]:
        return (self.template, *self.variants)


CATALOGUE: dict[str, Entry] = {
    # A cell's own value cannot be read.
    "cell-error": Entry("error", "cell_error"),
    "formula-no-result": Entry("error", "formula_no_result", optional_severity="warning"),
    "required": Entry("error", "required"),
    "not-a-number": Entry("error", "not_a_number"),
    "below-minimum": Entry("error", "below_minimum"),
    "date-out-of-range": Entry("error", "date_out_of_range"),
    "ambiguous-date": Entry("error", "ambiguous_date"),
    "not-a-date": Entry("error", "not_a_date"),
    "case-id-shortened": Entry("error", "case_id_shortened"),
    "case-id-format": Entry("warning", "case_id_format"),
    "duplicate-case-id": Entry("error", "duplicate_case_id"),
    "unknown-value": Entry("error", "unknown_value"),
    "ambiguous-value": Entry("warning", "ambiguous_value"),
    "pattern": Entry("warning", "pattern", variants=("pattern_example",)),
    # Cells that contradict each other.
    "unknown-related": Entry("warning", "unknown_related"),
    "resolved-at-missing": Entry(
        "error", "resolved_at_missing", variants=("resolved_at_missing_no_column",)
    ),
    "before-opened": Entry("error", "before_opened"),
    "in-future": Entry("error", "in_future"),
    "last-before-first-reply": Entry("warning", "last_before_first_reply"),
    "open-with-resolved-at": Entry("warning", "open_with_resolved_at"),
    "no-resolution": Entry("warning", "no_resolution"),
    "status-turn-mismatch": Entry(
        "warning",
        "status_turn_mismatch",
        variants=("status_turn_mismatch_reply", "status_turn_mismatch_sent"),
    ),
    "promised-before-opened": Entry("warning", "promised_before_opened"),
    # The tab as a whole.
    "far-cell": Entry("warning", "far_cell"),
    "totals-row": Entry("warning", "totals_row"),
}


class TemplateFieldError(KeyError):
    """A problem was worded without a field its template names: a bug, never the user's data."""


class _Fields(dict[str, Any]):
    def __init__(self, key: str, fields: Mapping[str, Any]) -> None:
        super().__init__(fields)
        self.key = key

    def __missing__(self, name: str) -> Any:
        raise TemplateFieldError(
            f'the problem template "{self.key}" names {{{name}}}, which was not given '
            f"(given: {', '.join(sorted(self)) or 'nothing'})"
        )


def template_fields(template: str) -> set[str]:
    """The names a template fills in, e.g. {"column", "value"}."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def render(
    key: str, fields: Mapping[str, Any], lang: str = "en", labels: Labels | None = None
) -> str:
    """The sentence of template ``key`` with ``fields`` filled in; a missing field raises."""
    template = (labels or load_labels()).get(LABEL_GROUP, key, lang)
    return template.format_map(_Fields(key, fields))


def problem(
    code: str,
    cell: str,
    *,
    row: int | None = None,
    column: str | None = None,
    variant: str | None = None,
    required: bool = True,
    **fields: Any,
) -> Problem:
    """A Problem of catalogue ``code`` at ``cell``, worded in English from its template.

    ``variant`` picks another wording of the same problem; ``required`` is False for a column
    the schema does not require (some problems weigh less there).
    """
    entry = CATALOGUE[code]
    key = entry.template
    if variant is not None:
        key = f"{entry.template}_{variant}"
        if key not in entry.variants:
            raise KeyError(f'the problem "{code}" has no wording "{variant}"')
    severity = entry.severity
    if not required and entry.optional_severity is not None:
        severity = entry.optional_severity
    if column is not None:
        fields.setdefault("column", column)
    return Problem(severity, code, cell, render(key, fields), row, column)
