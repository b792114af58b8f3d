"""Checks of a cell against the schema (required, pattern) and of cells against each other."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..config import Rules
from ..errors import Problem
from .column import Column, show

# Status values (canonical, rules.yaml statuses) the checks reason with, as rules.py does.
OPEN, RESOLVED, CLOSED = "Open", "Resolved", "Closed"
# The events of a case, by role: none may come before the case was opened.
AFTER_OPENED = ("last-sent", "first-reply", "last-reply", "resolved")


def required_problems(column: Column, blank: pd.Series) -> list[Problem]:
    # Only cells that are empty in the sheet: unreadable ones already have their problem.
    return column.problems("required", blank) if blank.any() else []


def pattern_problems(
    column: Column, values: pd.Series, pattern: re.Pattern[str], example: str | None
) -> list[Problem]:
    """Values that do not have the form the schema's pattern gives (an Amazon order ID...)."""
    present = values.dropna()
    if present.empty:
        return []
    ok = present.str.fullmatch(pattern.pattern).fillna(False).astype(bool)
    bad = pd.Series(False, index=values.index)
    bad[present.index[~ok]] = True
    if not bad.any():
        return []
    if example is None:
        return column.problems("pattern", bad, values)
    return column.problems("pattern", bad, values, variant="example", example=example)


class RowChecks:
    """Cells of one case row that contradict each other (dates in the wrong order...)."""

    def __init__(
        self,
        frame: pd.DataFrame,
        columns: dict[str, Column],
        roles: dict[str, str],
        as_of: pd.Timestamp,
    ) -> None:
        self.frame = frame
        self.columns = columns  # the fields the sheet has, by name
        self.name = roles  # role → field name
        self.as_of = as_of

    def problems(self, earlier: list[Problem]) -> list[Problem]:
        """Every contradiction; ``earlier`` are the problems the cells have on their own."""
        return [
            *self.resolved_missing(earlier),
            *self.before_opened(),
            *self.in_future(),
            *self.replies_crossed(),
            *self.open_with_resolved(),
            *self.no_resolution(),
        ]

    def _values(self, role: str) -> pd.Series:
        return self.frame[self.name[role]]

    def resolved_missing(self, earlier: list[Problem]) -> list[Problem]:
        status_name, resolved_name = self.name["status"], self.name["resolved"]
        status = self.frame[status_name]
        closed = status.isin([RESOLVED, CLOSED])
        # A resolved time that is there but unreadable already has its own problem.
        named = {p.row for p in earlier if p.column == resolved_name}
        missing = closed & self.frame[resolved_name].isna() & ~self.frame["_row"].isin(named)
        found = []
        for i in np.flatnonzero(missing.to_numpy()):
            value = status.iat[i]
            fields = {"status": value, "status_lower": value.lower()}
            if resolved_name in self.columns:
                found.append(
                    self.columns[resolved_name].problem(
                        "resolved-at-missing", i, status_column=status_name, **fields
                    )
                )
            else:
                # Without the column there is no cell to name: the status cell stands in.
                found.append(
                    self.columns[status_name].problem(
                        "resolved-at-missing",
                        i,
                        variant="no_column",
                        resolved_column=resolved_name,
                        **fields,
                    )
                )
        return found

    def before_opened(self) -> list[Problem]:
        opened_name = self.name["opened"]
        opened = self.frame[opened_name]
        found = []
        for role in AFTER_OPENED:
            name = self.name[role]
            values = self.frame[name]
            before = values.notna() & opened.notna() & (values < opened)
            found += [
                self.columns[name].problem(
                    "before-opened",
                    i,
                    value=show(values.iat[i].to_pydatetime()),
                    opened_column=opened_name,
                    opened=show(opened.iat[i].to_pydatetime()),
                )
                for i in np.flatnonzero(before.to_numpy())
            ]
        return found

    def in_future(self) -> list[Problem]:
        found = []
        as_of = f"{self.as_of:%Y-%m-%d %H:%M}"
        for role in ("opened", *AFTER_OPENED):
            name = self.name[role]
            values = self.frame[name]
            future = values.notna() & (values > self.as_of)
            found += [
                self.columns[name].problem(
                    "in-future", i, value=show(values.iat[i].to_pydatetime()), as_of=as_of
                )
                for i in np.flatnonzero(future.to_numpy())
            ]
        return found

    def replies_crossed(self) -> list[Problem]:
        crossed = self._values("last-reply") < self._values("first-reply")
        return [
            self.columns[self.name["last-reply"]].problem(
                "last-before-first-reply", i, first_column=self.name["first-reply"]
            )
            for i in np.flatnonzero(crossed.fillna(False).to_numpy(dtype=bool))
        ]

    def open_with_resolved(self) -> list[Problem]:
        reopened = self._values("status").eq(OPEN) & self._values("resolved").notna()
        return [
            self.columns[self.name["resolved"]].problem("open-with-resolved-at", i)
            for i in np.flatnonzero(reopened.to_numpy(dtype=bool))
        ]

    def no_resolution(self) -> list[Problem]:
        name = self.name["resolution"]
        if name not in self.columns:
            return []
        missing = self._values("status").eq(RESOLVED) & self.frame[name].isna()
        return [
            self.columns[name].problem("no-resolution", i)
            for i in np.flatnonzero(missing.to_numpy())
        ]


def turn_problems(
    frame: pd.DataFrame, columns: dict[str, Column], roles: dict[str, str], rules: Rules
) -> list[Problem]:
    """A Seller Central label that says the other side's turn than the timestamps: the label
    wins (rules.py), the Status cell names the timestamp to fill so both agree."""
    status = roles["status"]
    turn = frame["status_label"].map(rules.status_label_turns)
    if status not in columns or turn.isna().all():
        return []
    opened, sent = frame[roles["opened"]], frame[roles["last-sent"]]
    first, last = frame[roles["first-reply"]], frame[roles["last-reply"]]
    last_sent = sent.where(sent.notna(), opened)
    last_reply = last.where(last.notna(), first)
    amazon_by_times = last_reply.isna() | (last_sent > last_reply)
    readable = opened.notna()
    ours = readable & turn.eq("us") & amazon_by_times
    theirs = readable & turn.eq("amazon") & ~amazon_by_times
    column = columns[status]
    found = []
    for mask, variant, fill in (
        (ours, "reply", roles["last-reply"]),
        (theirs, "sent", roles["last-sent"]),
    ):
        found += [
            column.problem(
                "status-turn-mismatch",
                i,
                variant=variant,
                value=show(column.raw.iat[i]),
                fill=fill,
                sent_column=roles["last-sent"],
                reply_column=roles["last-reply"],
            )
            for i in np.flatnonzero(mask.to_numpy(dtype=bool))
        ]
    return found


def promised_problems(frame: pd.DataFrame, column: Column, opened_name: str) -> list[Problem]:
    """A Promised By before the case was opened cannot be Amazon's promise on it."""
    promised, opened = frame[column.name], frame[opened_name]
    before = promised.notna() & opened.notna() & (promised < opened)
    return [
        column.problem(
            "promised-before-opened",
            i,
            value=show(promised.iat[i].to_pydatetime()),
            opened_column=opened_name,
            opened=show(opened.iat[i].to_pydatetime()),
        )
        for i in np.flatnonzero(before.to_numpy(dtype=bool))
    ]
