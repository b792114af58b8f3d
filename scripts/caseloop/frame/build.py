"""Build the typed cases frame of a tab: header, case rows, one parser per field, the checks.

Vectorised over columns: values are classified by Python type once, then parsed per kind with
pandas; only the cells that turn out bad are visited one by one, to word their problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from ..config import Rules
from ..errors import Problem
from ..ports import Grid
from ..problems import problem
from ..schema import Field, Schema, normalize_label
from .checks import RowChecks, pattern_problems, promised_problems, required_problems, turn_problems
from .column import Column, Parsed, column_letter, sheet_ref, show
from .dates import parse_dates
from .enums import parse_enum
from .header import Header, find_header
from .ids import parse_case_id, split_related, unknown_related
from .numbers import parse_integer
from .rows import case_rows, fill_merged, unsaved_formulas
from .text import parse_text, to_text

_SEVERITY_ORDER = {"error": 0, "warning": 1}
# The fields a flag cannot be worked out without, by role and by name: a problem in one of them
# makes the row INVALID. A problem anywhere else (Marketplace, Category, Priority, Follow-ups,
# Owner, an ID...) is a warning, and the row is judged with that field's default, so a typo
# never hides an alert.
NEEDED_ROLES = ("case-id", "opened", "status", "last-sent", "first-reply", "last-reply", "resolved")
NEEDED_FIELDS = ("Channel", "Deadline")
# Warnings whose cell is read as empty meanwhile, so the row is judged with that field's default.
DEFAULTED_WARNINGS = ("promised-before-opened", "ambiguous-value")


@dataclass
class CaseFrame:
    """The Cases tab, typed: one DataFrame row per data row of the sheet."""

    cases: pd.DataFrame
    problems: list[Problem]
    tab: str
    header_row: int  # 1-based sheet row of the header
    columns: dict[str, int]  # canonical field → 0-based sheet column
    ignored_headers: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def problems_by_row(self) -> dict[int, list[Problem]]:
        by_row: dict[int, list[Problem]] = {}
        for p in self.problems:
            if p.row is not None:
                by_row.setdefault(p.row, []).append(p)
        return by_row


def build_frame(grid: Grid, schema: Schema, rules: Rules, as_of: pd.Timestamp) -> CaseFrame:
    """Find the header, type every cell, and list every problem with its cell address."""
    header = find_header(grid, schema)
    grid = fill_merged(grid, header)
    roles = {f.role: f.name for f in schema.fields if f.role}
    id_name = roles["case-id"]
    table, sheet_rows, totals = case_rows(
        grid, header, schema, header.columns[id_name], header.columns[roles["opened"]]
    )
    rows = pd.Series(sheet_rows, dtype=np.int64)
    unsaved = unsaved_formulas(grid, header, sheet_rows)
    ref = sheet_ref(grid.title)
    frame = pd.DataFrame({"_row": rows})
    columns: dict[str, Column] = {}
    problems: list[Problem] = []
    for f in schema.fields:
        if f.name not in header.columns:
            frame[f.name] = _absent(f, len(frame))
            continue
        c = header.columns[f.name]
        column = Column(
            f.name,
            pd.Series(table[:, c], dtype=object),
            rows,
            ref,
            column_letter(c),
            f.required,
            grid.has_error_cells,
        )
        columns[f.name] = column
        parsed = _parse(f, column, grid, rules, as_of)
        frame[f.name] = parsed.values
        problems += parsed.problems
        blank = parsed.blank
        if f.name in unsaved:
            # An empty required cell cannot be judged either way; elsewhere the row is
            # judged on what can be read, with the cell named.
            blank = blank & ~unsaved[f.name]
            problems += column.problems("formula-no-result", unsaved[f.name])
        if f.required:
            problems += required_problems(column, blank)
        if f.pattern is not None:
            problems += pattern_problems(column, frame[f.name], f.pattern, f.example)
    related = roles["related"]
    frame["related_ids"] = split_related(frame[related])
    if related in columns:
        problems += unknown_related(columns[related], frame["related_ids"], frame[id_name], id_name)
    problems += RowChecks(frame, columns, roles, as_of).problems(problems)
    frame["status_label"] = status_labels(frame, columns, roles["status"], rules)
    problems += turn_problems(frame, columns, roles, rules)
    if "Promised By" in columns:
        promised = promised_problems(frame, columns["Promised By"], roles["opened"])
        problems += promised
        # A promise before the case was opened is a typo: the channel's target stands in.
        frame.loc[frame["_row"].isin({p.row for p in promised}), "Promised By"] = pd.NaT
    problems += _far_cells(grid, ref)
    problems += [
        problem("totals-row", f"{ref}!{column_letter(c)}{r}", row=r, row_number=r, value=show(text))
        for r, c, text in totals
    ]
    needed = {name for role, name in roles.items() if role in NEEDED_ROLES} | set(NEEDED_FIELDS)
    problems, defaults = _judged_with_defaults(problems, needed)
    frame["_defaults"] = frame["_row"].map(lambda r: tuple(defaults.get(r, ())))
    bad_rows = {p.row for p in problems if p.severity == "error" and p.row is not None}
    frame["_invalid"] = frame["_row"].isin(bad_rows)
    problems.sort(key=lambda p: _order(p, header))
    return CaseFrame(frame, problems, grid.title, header.row, header.columns, header.ignored)


def status_labels(
    frame: pd.DataFrame, columns: dict[str, Column], status: str, rules: Rules
) -> pd.Series:
    """The Seller Central label of each open case ("Needs your attention"), else None."""
    none = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    if status not in columns or not rules.status_label_vocab:
        return none
    text = to_text(columns[status].raw)
    vocab = rules.status_label_vocab
    mapping = {u: vocab.get(normalize_label(u)) for u in text.dropna().unique()}
    labels = text.map(mapping)
    keep = labels.notna() & frame[status].eq("Open")
    none[keep] = labels[keep]
    return none


def _judged_with_defaults(
    problems: list[Problem], needed: set[str]
) -> tuple[list[Problem], dict[int, list[str]]]:
    """Errors outside the needed fields become warnings; per row, the fields judged by default."""
    out: list[Problem] = []
    defaults: dict[int, list[str]] = {}
    for p in problems:
        column = p.column
        if p.severity == "error" and column is not None and column not in needed:
            p = replace(p, severity="warning")
            if p.row is not None and column not in defaults.setdefault(p.row, []):
                defaults[p.row].append(column)
        elif (
            p.code in DEFAULTED_WARNINGS
            and p.row is not None
            and column is not None
            and column not in defaults.setdefault(p.row, [])
        ):
            defaults[p.row].append(column)
        out.append(p)
    return out, defaults


def _parse(f: Field, column: Column, grid: Grid, rules: Rules, as_of: pd.Timestamp) -> Parsed:
    """The parser the field's type, role or vocabulary calls for."""
    if f.type == "datetime":
        tz = rules.timezone
        serial_zone = None
        if grid.dates_as_serials and grid.timezone and grid.timezone != tz.key:
            serial_zone = grid.timezone
        # The events of a case (fields with a role) are past; Deadline and Promised By look
        # ahead, which decides the year of a date typed without one.
        return parse_dates(
            column,
            tz,
            date1904=grid.date1904,
            serial_zone=serial_zone,
            as_of=as_of,
            ahead=f.role is None,
        )
    if f.type == "integer":
        return parse_integer(column, f.minimum, f.count_words)
    if f.role == "case-id":
        return parse_case_id(column)
    if f.name in rules.vocab:
        return parse_enum(column, rules, codes=f.enum_codes)
    return parse_text(column)


def _absent(f: Field, length: int) -> pd.Series | None:
    """The values of a field the tab has no column for."""
    if f.type == "datetime":
        return pd.Series([pd.NaT] * length, dtype="datetime64[ns]")
    return None


def _far_cells(grid: Grid, ref: str) -> list[Problem]:
    return [
        problem("far-cell", f"{ref}!{column_letter(c)}{r + 1}", value=show(value))
        for r, c, value in grid.far_cells
    ]


def _order(p: Problem, header: Header) -> tuple[int, int, int]:
    """Errors first, then by row and column (problems of the whole tab first)."""
    return (_SEVERITY_ORDER[p.severity], p.row or 0, header.columns.get(p.column or "", -1))
