"""The library behind the commands: read the log, judge the cases, build and write the tabs."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pandas as pd

from .backends import open_workbook
from .config import (
    FIRST_YEAR,
    LAST_YEAR,
    Labels,
    Rules,
    check_rules_fit_schema,
    load_labels,
    load_rules,
)
from .datafiles import DEFAULT_LABELS, DEFAULT_RULES, DEFAULT_SCHEMA
from .errors import CaseloopError, OptionError, looks_chinese
from .frame import CaseFrame, build_frame
from .model import SheetModel
from .playbook import Playbook, check_playbook_fits_rules, load_playbook, with_deadline_evidence
from .ports import Grid, Workbook, WriteResult
from .problems import Wording
from .schema import Schema, load_schema, normalize_label

if TYPE_CHECKING:  # imported when used, so --help and validate do not load them
    from .views import StatusView
    from .weekly import WeeklyReport

CASE_TAB_NAMES = ("Cases", "案例")


@dataclass
class Settings:
    """What every command shares: where the log is and how to read and judge it."""

    log: str
    sheet: str | None = None
    schema_path: Path = DEFAULT_SCHEMA
    rules_path: Path = DEFAULT_RULES
    labels_path: Path = DEFAULT_LABELS
    credentials: str | None = None
    lang: str = "en"  # "en", "zh", or "auto": Chinese when the Cases header is Chinese
    now: str | None = None
    output: str | None = None
    to: str | None = None  # a companion workbook for the generated tabs (--to); LOG is only read
    timezone: str | None = None  # the team's time zone instead of the rules file's (caseloop.toml)
    notify: tuple[str, ...] = ()  # chat URLs a sync announces new flags to (alerts)
    owners: dict[str, str] = field(default_factory=dict)  # Owner → chat handle (alerts)
    http_client: Any = None  # a gspread HTTPClient class; tests point it at the fake server

    def __post_init__(self) -> None:
        # An empty sheet setting is a slip (a shell variable that was not set), not "the default".
        if self.sheet is not None and not self.sheet.strip():
            raise OptionError(
                "sheet",
                f'{{option}} "{self.sheet}" names no tab; give the case tab\'s name, or leave '
                "{option} out to use Cases (or 案例).",
            )

    @cached_property
    def generated(self) -> dt.datetime:
        """When this run generated its output: one time for the tab and the Markdown alike."""
        return generated_at(self)

    @property
    def schema(self) -> Schema:
        return load_schema(Path(self.schema_path))

    @property
    def playbook(self) -> Playbook:
        return load_playbook()

    @property
    def rules(self) -> Rules:
        """The rules file, with the playbook's evidence by deadline kind on each category."""
        rules = load_rules(Path(self.rules_path))
        if self.timezone:
            rules = dataclasses.replace(rules, timezone=ZoneInfo(self.timezone))
        playbook = self.playbook
        check_playbook_fits_rules(playbook, rules, Path(self.rules_path))
        return with_deadline_evidence(rules, playbook)

    @property
    def labels(self) -> Labels:
        return load_labels(Path(self.labels_path))


@dataclass
class Loaded:
    workbook: Workbook
    frame: CaseFrame
    as_of: pd.Timestamp
    warnings: list[str] = field(default_factory=list)
    lang: str = "en"  # the output language: the lang setting, or the header's when "auto"
    headers: dict[str, str] = field(default_factory=dict)  # canonical field → the log's header

    def wording(self, settings: Settings) -> Wording:
        """How this log's problems are worded: its language, its own column names."""
        schema = settings.schema
        names = {f.name: f.zh if self.lang == "zh" else f.name for f in schema.fields}
        statuses = settings.rules.zh_labels["Status"] if self.lang == "zh" else {}
        return Wording(self.lang, {**names, **self.headers}, statuses, settings.labels)


def generated_at(settings: Settings) -> dt.datetime:
    """The clock, in the team's time zone (tests pin it here)."""
    return dt.datetime.now(settings.rules.timezone).replace(tzinfo=None, microsecond=0)


def parse_now(text: str | None, rules: Rules) -> pd.Timestamp:
    """The now setting (ISO; team time zone when it has no offset) or the clock, as team-local
    time."""
    tz = rules.timezone
    if text is None:
        return pd.Timestamp(dt.datetime.now(tz).replace(tzinfo=None, microsecond=0))
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise OptionError(
            "now", f'{{option}} "{text}" is not a date and time; write it like 2026-11-20T18:00.'
        ) from None
    out_of_range = OptionError(
        "now",
        f'{{option}} "{text}" is out of range: caseloop works with dates from {FIRST_YEAR} to '
        f"{LAST_YEAR}; give a time like 2026-11-20T18:00.",
    )
    # Checked before the time-zone conversion too, which cannot reach past year 9999.
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise out_of_range
    if moment.tzinfo is not None:
        moment = moment.astimezone(tz).replace(tzinfo=None)
        if not FIRST_YEAR <= moment.year <= LAST_YEAR:
            raise out_of_range
    return pd.Timestamp(moment)


def find_case_tab(names: list[str], wanted: str | None, location: str) -> str:
    """The tab holding the cases: ``wanted`` (the sheet setting), else Cases or 案例
    (case-insensitive)."""
    candidates = [wanted] if wanted is not None else list(CASE_TAB_NAMES)
    by_norm = {normalize_label(n): n for n in names}
    for candidate in candidates:
        hit = by_norm.get(normalize_label(candidate))
        if hit is not None:
            return hit
    raise OptionError.said_for(
        "sheet",
        "no_case_tab",
        lang_hint="zh" if looks_chinese(names) else None,
        location=location,
        asked=f'"{wanted}"' if wanted else '"Cases" (or "案例")',
        asked_zh=f"「{wanted}」" if wanted else "「案例」（或「Cases」）",
        found=", ".join(f'"{n}"' for n in names) or "none",
        found_zh="、".join(f"「{n}」" for n in names) or "无",
    )


def header_texts(grid: Grid, frame: CaseFrame) -> dict[str, str]:
    """Each field's header as the log spells it (提交时间, Opened At, Case号...)."""
    numbers = grid.row_numbers
    index = numbers.index(frame.header_row) if numbers is not None else frame.header_row - 1
    row = grid.rows[index]
    return {name: str(row[c]).strip() for name, c in frame.columns.items() if c < len(row)}


def output_lang(setting: str, headers: dict[str, str]) -> str:
    """The lang setting, or with "auto" Chinese when most of the header is Chinese."""
    if setting != "auto":
        return setting
    return "zh" if looks_chinese(list(headers.values())) else "en"


def load(settings: Settings, *, for_writing: bool = False) -> Loaded:
    """Open the log, find the case tab, read and type it (problems collected, not raised).

    ``for_writing``: a tab will be written into the log, so other caseloop runs on it wait
    until ``write`` (or ``close``) is done.
    """
    rules, schema = settings.rules, settings.schema
    check_rules_fit_schema(rules, Path(settings.rules_path), schema, Path(settings.schema_path))
    as_of = parse_now(settings.now, rules)
    workbook = open_workbook(
        settings.log,
        output=settings.output,
        credentials=settings.credentials,
        http_client=settings.http_client,
        will_write=for_writing,
        to=settings.to,
    )
    try:
        if workbook.single_table:
            # A CSV export holds one table whatever its file is called: that table is the cases.
            tab = workbook.tab_names()[0]
        else:
            tab = find_case_tab(workbook.tab_names(), settings.sheet, workbook.location)
        grid = workbook.read_tab(tab)
        frame = build_frame(grid, schema, rules, as_of)
    except BaseException:
        close(workbook)
        raise
    headers = header_texts(grid, frame)
    return Loaded(
        workbook=workbook,
        frame=frame,
        as_of=as_of,
        warnings=list(workbook.warnings),
        lang=output_lang(settings.lang, headers),
        headers=headers,
    )


def close(workbook: Workbook) -> None:
    """Release what an open workbook holds (caseloop's lock on an Excel file)."""
    workbook.close()


SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".csv")


def check_markdown_path(markdown: str | None, log: str, output: str | None = None) -> None:
    """Refuse a Markdown file that would land on the log or a spreadsheet, or cannot be
    written at all, before anything is written."""
    if markdown is not None and not markdown.strip():
        raise OptionError(
            "markdown",
            "{option} is empty; give the path of the Markdown file, - to print it, or leave "
            "{option} out.",
        )
    if not markdown or markdown == "-":
        return
    path = Path(markdown)
    if path.suffix.lower() in SPREADSHEET_SUFFIXES:
        raise OptionError(
            "markdown",
            f"{{option}} {markdown} names a spreadsheet file, which the Markdown report would "
            "replace; give it a name ending in .md.",
        )
    for other in (log, output):
        if not other or not path.exists() or not Path(other).exists():
            continue
        with contextlib.suppress(OSError):
            if path.samefile(other):
                raise OptionError(
                    "markdown",
                    f"{{option}} {markdown} is the workbook itself; give the Markdown report a "
                    "file of its own, ending in .md.",
                )
    folder = path.parent
    if not folder.is_dir():
        raise CaseloopError(
            f"Cannot write {markdown}: the folder {folder} does not exist; create it or choose "
            "another place; nothing was written."
        )
    if path.is_dir():
        raise CaseloopError(
            f"Cannot write {markdown}: it is a folder; give a file name ending in .md; "
            "nothing was written."
        )
    if not os.access(path if path.exists() else folder, os.W_OK):
        raise CaseloopError(
            f"Cannot write {markdown}: you may not write there; nothing was written."
        )


def judge(loaded: Loaded, settings: Settings) -> pd.DataFrame:
    from .rules import evaluate

    return evaluate(loaded.frame.cases, settings.rules, loaded.as_of)


def status_model(
    loaded: Loaded, settings: Settings, title: str | None = None
) -> tuple[SheetModel, StatusView]:
    from .render import render_status
    from .views import status_view

    judged = judge(loaded, settings)
    view = status_view(
        judged,
        loaded.frame.problems_by_row(),
        settings.rules,
        settings.labels,
        loaded.as_of,
        loaded.lang,
        settings.playbook,
        loaded.wording(settings),
    )
    model = render_status(
        view, settings.rules, settings.labels, loaded.lang, settings.generated, title
    )
    if title is None:
        model.default_titles = default_tab_titles(settings.labels, "status")
    return model, view


def default_tab_titles(labels: Labels, kind: str) -> tuple[str, ...]:
    """The names caseloop gives a tab of ``kind`` in every language (Status, 状态): a run in
    one language renames caseloop's tab from the other's (``ports.plan_tab``)."""
    return tuple(dict.fromkeys(str(name) for name in labels.raw["tabs"][kind].values()))


def write(loaded: Loaded, models: list[SheetModel]) -> WriteResult:
    return loaded.workbook.write_tabs(models)


def weekly(loaded: Loaded, settings: Settings, week_text: str | None) -> WeeklyReport:
    from .weekly import Week, weekly_report

    week = Week.parse(week_text) if week_text is not None else None
    return weekly_report(judge(loaded, settings), settings.rules, loaded.as_of, week)


def weekly_model(
    report: WeeklyReport, settings: Settings, title: str | None = None, lang: str | None = None
) -> SheetModel:
    """The Weekly Summary tab in ``lang`` (the loaded log's language; default the setting's)."""
    from .render import render_weekly

    model = render_weekly(
        report, settings.rules, settings.labels, _lang(settings, lang), settings.generated, title
    )
    if title is None:
        model.default_titles = default_tab_titles(settings.labels, "weekly")
    return model


def weekly_text(report: WeeklyReport, settings: Settings, lang: str | None = None) -> str:
    from .markdown import weekly_markdown

    return weekly_markdown(
        report, settings.rules, settings.labels, _lang(settings, lang), settings.generated
    )


def _lang(settings: Settings, lang: str | None) -> str:
    if lang is not None:
        return lang
    return "en" if settings.lang == "auto" else settings.lang
