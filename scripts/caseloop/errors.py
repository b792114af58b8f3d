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


class OptionError(CaseloopError):
    """A setting given to a command is wrong or cannot be used.

    The library names the setting (``now``, ``output``, ``rules``…) and writes ``{option}``
    where the sentence names it; the CLI, which alone knows the spelling of its options, fills
    it in (``--now``) with ``for_option``. Until then the setting's own name stands there.
    """

    def __init__(self, setting: str, template: str) -> None:
        self.setting = setting
        self.template = template
        super().__init__(template.replace("{option}", setting))

    def for_option(self, option: str) -> OptionError:
        self.message = self.template.replace("{option}", option)
        return self


class RefusedOptionError(OptionError, RefusedError):
    """A refusal to write that a setting can resolve (a generated tab's name is taken...)."""


# The setting that renames each kind of generated tab.
TAB_SETTING = {"status": "status_tab", "weekly": "report_tab"}


class TabTakenError(RefusedOptionError):
    """A generated tab's name is taken: by a team tab, or by another of caseloop's reports."""

    def __init__(self, title: str, kind: str, *, other_report: bool = False) -> None:
        self.title = title
        self.kind = kind
        self.other_report = other_report
        if other_report:
            template = (
                f'The tab "{title}" holds another of caseloop\'s reports; caseloop will not '
                "write over it. Give the generated tab another name with {option} NAME."
            )
        else:
            template = (
                f'The spreadsheet already has its own tab "{title}" that caseloop did not make; '
                "caseloop will not touch it. Rename that tab, or give the generated tab another "
                "name with {option} NAME."
            )
        super().__init__(TAB_SETTING.get(kind, "tab"), template)
