"""Problems found in the data (values) and errors that stop a run (exceptions)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Self

Severity = Literal["error", "warning"]

# The group of sheets_schema/labels.yaml that holds the sentences of errors and refusals.
ERROR_GROUP = "errors"
_CJK = re.compile("[\u3400-\u9fff\uf900-\ufaff]")


def looks_chinese(texts: list[Any]) -> bool:
    """Whether most of the texts (headers, tab names) that hold letters are written in Chinese."""
    words = [str(t) for t in texts if t is not None and str(t).strip()]
    chinese = sum(1 for t in words if _CJK.search(t))
    return chinese > len(words) - chinese


class CaseloopError(Exception):
    """A run cannot go on. The message is one plain sentence for the user (exit 2).

    An error raised with ``said`` keeps its catalogue key and fields, so the CLI can word it in
    the output language (``text``); ``lang_hint`` is the log's own language where the raiser
    saw it (a Chinese header), for ``--lang auto`` before the log is fully read.
    """

    exit_code = 2
    key: str | None = None
    fields: Mapping[str, Any] = {}
    lang_hint: str | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    @classmethod
    def said(cls, key: str, *, lang_hint: str | None = None, **fields: Any) -> Self:
        """The error worded by template ``key`` of labels.yaml ``errors:`` (English message)."""
        error = cls(render_error(key, fields, "en"))
        error.key, error.fields, error.lang_hint = key, fields, lang_hint
        return error

    def _text_fields(self) -> dict[str, Any]:
        return dict(self.fields)

    def text(self, lang: str = "en") -> str:
        """The sentence in ``lang``; English (the message) where there is no catalogue entry."""
        if self.key is None or lang == "en":
            return self.message
        return render_error(self.key, self._text_fields(), lang)


def render_error(key: str, fields: Mapping[str, Any], lang: str) -> str:
    """Template ``key`` of labels.yaml ``errors:`` in ``lang`` with ``fields`` filled in."""
    from .config import load_labels  # config imports this module

    # A field given per language (``missing_zh``) stands for the bare one in that language.
    values = {
        **fields,
        **{k[: -len(lang) - 1]: v for k, v in fields.items() if k.endswith("_" + lang)},
    }
    return load_labels().get(ERROR_GROUP, key, lang).format(**values)


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
    # The catalogue template and its fields, to word the problem again in another language
    # (problems.Wording); ``message`` is the English sentence.
    key: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

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
        self.option = setting
        self.template = template
        super().__init__(template.replace("{option}", setting))

    @classmethod
    def said_for(
        cls, setting: str, key: str, *, lang_hint: str | None = None, **fields: Any
    ) -> Self:
        """The error worded by template ``key`` (which names the setting as {option})."""
        error = cls(setting, render_error(key, {**fields, "option": "{option}"}, "en"))
        error.key, error.fields, error.lang_hint = key, fields, lang_hint
        return error

    def for_option(self, option: str) -> OptionError:
        self.option = option
        self.message = self.template.replace("{option}", option)
        return self

    def _text_fields(self) -> dict[str, Any]:
        return {**self.fields, "option": self.option}


class RefusedOptionError(OptionError, RefusedError):
    """A refusal to write that a setting can resolve (a generated tab's name is taken...)."""


# The setting that renames each kind of generated tab.
TAB_SETTING = {"status": "status_tab", "weekly": "report_tab", "answers": "answers_tab"}
# caseloop's History tab has no option of its own: a team tab with its name makes caseloop call
# it "caseloop History" instead (engine.history_title), so it never clashes.


class TabTakenError(RefusedOptionError):
    """A generated tab's name is taken: by a team tab, or by another of caseloop's reports."""

    def __init__(self, title: str, kind: str, *, other_report: bool = False) -> None:
        self.title = title
        self.kind = kind
        self.other_report = other_report
        key = "tab_taken_report" if other_report else "tab_taken"
        setting = TAB_SETTING.get(kind, "tab")
        super().__init__(setting, render_error(key, {"title": title, "option": "{option}"}, "en"))
        self.key, self.fields = key, {"title": title}
