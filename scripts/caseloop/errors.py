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
