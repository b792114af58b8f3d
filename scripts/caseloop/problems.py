"""The catalogue of problem codes: each code's severity and the labels.yaml template it is worded by."""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
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
    return Problem(severity, code, cell, render(key, fields), row, column, key, fields)


# The fields of the templates that hold a column's canonical name: shown as the log names it.
COLUMN_FIELDS = frozenset(
    {
        "column",
        "status_column",
        "resolved_column",
        "opened_column",
        "first_column",
        "sent_column",
        "reply_column",
        "id_column",
        "fill",
    }
)
# The fields that quote a cell's value ("..." from frame.column.show); the Chinese templates
# quote "value" 「like this」 and name "opened" bare, after its column.
VALUE_FIELDS = frozenset({"value"})
BARE_VALUE_FIELDS = frozenset({"opened"})
# The fields that hold a canonical Status value (Resolved), shown in the output language.
STATUS_FIELDS = frozenset({"status", "status_lower"})


@dataclass(frozen=True)
class Wording:
    """How problems are worded for the reader: the language, the columns as the log names them
    (a Chinese header → 提交时间) and the Status values in that language."""

    lang: str = "en"
    columns: Mapping[str, str] = field(default_factory=dict)  # canonical → as shown
    statuses: Mapping[str, str] = field(default_factory=dict)  # canonical → label in lang
    labels: Labels | None = None

    def text(self, p: Problem) -> str:
        """The problem's sentence in this wording (its English message when nothing differs)."""
        if p.key is None or (self.lang == "en" and not self.columns):
            return p.message
        fields = dict(p.fields)
        for name in COLUMN_FIELDS & fields.keys():
            fields[name] = self.column(str(fields[name]))
        if self.lang != "en":
            for name in VALUE_FIELDS & fields.keys():
                fields[name] = _quoted(fields[name], self.lang)
            for name in BARE_VALUE_FIELDS & fields.keys():
                fields[name] = _quoted(fields[name], self.lang)[1:-1]
            for name in STATUS_FIELDS & fields.keys():
                fields[name] = self.statuses.get(str(p.fields.get("status")), fields[name])
        # A field given per language (allowed_zh) stands for the bare one in that language.
        suffix = "_" + self.lang
        fields.update(
            {k.removesuffix(suffix): v for k, v in p.fields.items() if k.endswith(suffix)}
        )
        return render(p.key, fields, self.lang, self.labels)

    def column(self, name: str) -> str:
        shown = self.columns.get(name, name)
        return f"「{shown}」" if self.lang == "zh" else shown

    def line(self, p: Problem) -> str:
        """``cell: sentence``, as validate prints it and the Notes cell holds it."""
        text = self.text(p)
        if not p.cell:
            return text
        return f"{p.cell}：{text}" if self.lang == "zh" else f"{p.cell}: {text}"


def _quoted(value: Any, lang: str) -> Any:
    """A value quoted "like this" in English is quoted 「like this」 in Chinese."""
    if lang == "zh" and isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return f"「{value[1:-1]}」"
    return value
