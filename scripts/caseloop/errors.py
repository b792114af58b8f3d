"""Problems found in the data (values) and errors that stop a run (exceptions)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


class CaseloopError(Exception):
    """A run cannot go on. The message is one plain sentence for the user (exit 2)."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class RefusedError(CaseloopError):
    """caseloop refused to write (lock file, changed file, a team tab with our name...)."""


@dataclass(frozen=True)
class Problem:
    """One problem in the case log, with the cell it was found in (e.g. ``Cases!H15``)."""

    severity: Severity
    code: str
    cell: str
    message: str
    row: int | None = None  # 1-based sheet row, None for problems of the whole tab
    column: str | None = None  # canonical column name

    def line(self) -> str:
        return f"{self.cell}: {self.message}" if self.cell else self.message

    def as_dict(self) -> dict:
        return {
            "severity": self.severity,
            "code": self.code,
            "cell": self.cell,
            "row": self.row,
            "column": self.column,
            "message": self.message,
        }


class TabTakenError(RefusedError):
    """A generated tab's name is taken: by a team tab, or by another of caseloop's reports.

    The library does not know the command's options; the CLI names the one that renames the
    tab (``for_option``).
    """

    def __init__(self, title: str, kind: str, *, other_report: bool = False) -> None:
        self.title = title
        self.kind = kind
        self.other_report = other_report
        super().__init__(self._sentence("in the command's options"))

    def _sentence(self, how: str) -> str:
        if self.other_report:
            return (
                f'The tab "{self.title}" holds another of caseloop\'s reports; caseloop will not '
                f"write over it. Give the generated tab another name {how}."
            )
        return (
            f'The spreadsheet already has its own tab "{self.title}" that caseloop did not make; '
            f"caseloop will not touch it. Rename that tab, or give the generated tab another "
            f"name {how}."
        )

    def for_option(self, option: str) -> TabTakenError:
        """The same refusal, naming the option (e.g. ``--status-tab``) that renames the tab."""
        self.message = self._sentence(f"with {option} NAME")
        return self
