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
    from .alerts import Alert
    from .answers import AnswerBase
    from .drafts import Templates
    from .history import History, Read
    from .notify import Delivery, Target
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
    templates_path: Path | None = None  # the message templates (default sheets_schema/templates)
    credentials: str | None = None
    lang: str = "en"  # "en", "zh", or "auto": Chinese when the Cases header is Chinese
    now: str | None = None
    output: str | None = None
    to: str | None = None  # a companion workbook for the generated tabs (--to); LOG is only read
    timezone: str | None = None  # the team's time zone instead of the rules file's (caseloop.toml)
    owners: dict[str, str] = field(default_factory=dict)  # Owner → chat handle (alerts)
    http_client: Any = None  # a gspread HTTPClient class; tests point it at the fake server
    # Alerts: the checked --notify URLs (notify.check_urls). They hold bot keys and tokens, so
    # they are left out of the settings' repr and never shown.
    notify: tuple[str, ...] = field(default=(), repr=False)

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

    @property
    def templates(self) -> Templates:
        """The message templates, every file checked (a syntax error or an unknown field is
        named with its file before anything is written)."""
        from .drafts import TEMPLATES_DIR, load_templates

        return load_templates(Path(self.templates_path or TEMPLATES_DIR))


@dataclass
class Loaded:
    workbook: Workbook
    frame: CaseFrame
    as_of: pd.Timestamp
    warnings: list[str] = field(default_factory=list)
    lang: str = "en"  # the output language: the lang setting, or the header's when "auto"
    headers: dict[str, str] = field(default_factory=dict)  # canonical field → the log's header
    # The History tab as read with the cases (``load(..., with_history=True)``), and its name.
    history: Read | None = None
    history_tab: str | None = None
    judged: pd.DataFrame | None = None  # the cases judged once, for every tab of the run
    answers: AnswerBase | None = None  # the answer base, built once per run (``answer_base``)

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


def load(settings: Settings, *, for_writing: bool = False, with_history: bool = False) -> Loaded:
    """Open the log, find the case tab, read and type it (problems collected, not raised).

    ``for_writing``: a tab will be written into the log, so other caseloop runs on it wait
    until ``write`` (or ``close``) is done. ``with_history``: caseloop's History tab is read in
    the same read (one request on Google); one that cannot be read back is a warning.
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
        history_grid = None
        cached = _cached_history(workbook, settings) if with_history else None
        if cached is not None:
            grid = workbook.read_tab(tab)  # the History tab's rows come from the cache
        elif with_history:
            grid, history_grid = history_source(workbook).read_tab_and_ours(tab, HISTORY)
        else:
            grid = workbook.read_tab(tab)
        frame = build_frame(grid, schema, rules, as_of)
    except BaseException:
        close(workbook)
        raise
    headers = header_texts(grid, frame)
    loaded = Loaded(
        workbook=workbook,
        frame=frame,
        as_of=as_of,
        warnings=list(workbook.warnings),
        lang=output_lang(settings.lang, headers),
        headers=headers,
    )
    if cached is not None:
        loaded.history, loaded.history_tab = cached
    elif with_history:
        _read_history(loaded, settings, history_grid)
    return loaded


HISTORY = "history"  # the kind (caseloop's mark) of the History tab


def history_source(workbook: Workbook) -> Workbook:
    """Where the History tab is read from and written to: the workbook the generated tabs go
    to. (Today the log itself; a companion workbook would be chosen here.)"""
    return workbook


def _excel_history_file(workbook: Workbook) -> tuple[Path, Any] | None:
    """The Excel file the History tab is read from and its open package; None for Google, CSV
    or a companion not written yet (no read cache there)."""
    from .backends.xlsx.companion import CompanionWorkbook
    from .backends.xlsx.workbook import ExcelWorkbook

    source = history_source(workbook)
    if isinstance(source, CompanionWorkbook):
        source = source._existing  # type: ignore[assignment]
    if isinstance(source, ExcelWorkbook):
        return source.path, source.package
    return None


def _cached_history(workbook: Workbook, settings: Settings) -> tuple[Read, str] | None:
    """The History tab as read before, from its read cache, while the tab (and the shared
    strings its rows may use) are byte for byte the ones it was read from; else None."""
    from .history_cache import load_cached, part_key

    try:
        found = _excel_history_file(workbook)
        if found is None:
            return None
        key = part_key(found[1], HISTORY)
        if key is None:
            return None
        read = load_cached(found[0], key, settings.rules, settings.labels)
    except Exception:  # noqa: BLE001 - the cache only ever saves a read
        return None
    return (read, key["tab"]) if read is not None else None


def save_history_cache(
    loaded: Loaded, settings: Settings, update: HistoryUpdate, written: WriteResult
) -> None:
    """After a write that kept the History tab's old rows and added this run's below them, keep
    what the next run would read from it in the read cache beside the file written (Excel);
    otherwise drop any cache there. Never fails a sync."""
    from .backends import is_google
    from .backends.xlsx.read import Package
    from .history_cache import after_write, forget, part_key, save

    if is_google(written.target):
        return
    target = Path(written.target)
    try:
        read = None
        model = update.model
        if model.kept is not None and loaded.history is not None:
            added = Grid(model.title, [[cell.value for cell in row] for row in model.rows])
            read = after_write(loaded.history, added, settings.rules, settings.labels)
        if read is None:
            forget(target)
            return
        package = Package(target)
        try:
            key = part_key(package, HISTORY)
        finally:
            package.close()
        if key is None or key["tab"] != model.title:
            forget(target)
            return
        save(target, key, read, settings.rules, settings.labels)
    except Exception:  # noqa: BLE001 - a cache that cannot be written is only not there
        with contextlib.suppress(Exception):
            forget(target)


def _read_history(loaded: Loaded, settings: Settings, grid: Grid | None) -> None:
    from .history import read_history

    read = read_history(grid, settings.rules, settings.labels)
    loaded.history, loaded.history_tab = read, grid.title if grid is not None else None
    if read.afresh and grid is not None:
        key = "history_no_header" if read.no_header else "history_unreadable"
        line = settings.labels.get("cli", key, loaded.lang)
        loaded.warnings.append(line.format(title=grid.title, row=read.unreadable_row))


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
    """The cases judged at as_of: once per run, whatever tabs are made from them."""
    from .rules import evaluate

    if loaded.judged is None:
        loaded.judged = evaluate(loaded.frame.cases, settings.rules, loaded.as_of)
    return loaded.judged


@dataclass
class HistoryUpdate:
    """This run's History: the tab to write, the rows added and the whole history after."""

    model: SheetModel
    added: pd.DataFrame
    history: History
    baseline: bool  # the first run on the log: the quiet baseline, no alerts


def history_model(loaded: Loaded, settings: Settings, *, notifying: bool = False) -> HistoryUpdate:
    """The History tab after this run: the changes since the last run added at the bottom
    (``notifying``: the rows that alert start as pending). When no old row is dropped and the
    tab is as caseloop wrote it, its rows are kept as they are and only the new ones rendered
    (``KeptRows``): a year of History costs a sync little."""
    from .history import changes, prune_slack, render_history, updated
    from .model import KeptRows

    judged = judge(loaded, settings)
    rules = settings.rules
    read = loaded.history
    previous = read.history if read is not None else None
    keep_days = rules.history_keep_days
    added = changes(previous, judged, loaded.as_of, notify_on=rules.notify_on, notifying=notifying)
    history = updated(previous, added, judged, loaded.as_of, keep_days, prune_slack(keep_days))
    title = history_title(loaded, settings)

    def render(rows: pd.DataFrame | None = None) -> SheetModel:
        model = render_history(
            history, rules, settings.labels, loaded.lang, settings.generated, keep_days, title, rows
        )
        if title in default_tab_titles(settings.labels, HISTORY):
            model.default_titles = default_tab_titles(settings.labels, HISTORY)
        return model

    kept_all = (
        previous is not None
        and read is not None
        and loaded.history_tab is not None
        and len(history.rows) == len(previous.rows) + len(added)
    )
    if kept_all and read is not None and loaded.history_tab is not None:
        model = render(added)
        # Kept only under caseloop's own title line and header, in this run's language: the
        # kept rows then read as the new ones do.
        header = tuple(str(cell.value or "") for cell in model.rows[1])
        if read.header_row == 2 and read.header == header:
            model.kept = KeptRows(loaded.history_tab, 2, read.last_row, render)
        else:
            model = render()
    else:
        model = render()
    return HistoryUpdate(model, added, history, baseline=previous is None)


# --- alerts: what a sync sends, and the Notified cells that say so -------------------------


@dataclass
class AlertRun:
    """What a sync's alerts did: the History with each row's delivery recorded, the rows whose
    Notified cell changed (positions in ``history.rows``), and for the CLI what went out."""

    history: History
    changed: list[int] = field(default_factory=list)
    delivery: Delivery | None = None  # None: nothing was sent
    sent: int = 0  # cases announced
    held: int = 0  # cases held by quiet hours
    held_until: dt.datetime | None = None
    first_run: bool = False  # the one "now watches" line instead of alerts

    @property
    def ok(self) -> bool:
        return self.delivery is None or self.delivery.ok


def send_alerts(
    loaded: Loaded,
    settings: Settings,
    update: HistoryUpdate,
    view: StatusView,
    targets: list[Target],
    link: str,
) -> AlertRun:
    """Announce this run's alerts (and those still due from earlier runs) to ``targets``, after
    the tabs were written: the first run sends one line, quiet hours hold all but DEADLINE, a
    case already announced is never announced again."""
    from .alerts import first_run_digest, quiet_until, split_quiet, sync_digest
    from .history import due_alerts, record_delivery
    from .notify import deliver

    rules, labels, lang = settings.rules, settings.labels, loaded.lang
    history = update.history
    if update.baseline:
        # History starts here: one short line, not an alert for every case the log holds.
        open_cases, counts = _watched(view, rules, labels, lang)
        messages = first_run_digest(open_cases, counts, lang=lang, link=link, labels=labels)
        return AlertRun(history, delivery=deliver(targets, messages), first_run=True)
    due = due_alerts(history, loaded.as_of)
    rows = history.rows.loc[due]
    # A flag taken off notify.on since the row was recorded is not announced (it stays as it is).
    rows = rows[rows["flag"].map(lambda f: str(f).removesuffix("+late") in rules.notify_on)]
    if rows.empty:
        return AlertRun(history)
    alerts = case_alerts(loaded, settings, view, rows)
    now = loaded.as_of.to_pydatetime()
    send, held = split_quiet(alerts, now, rules)
    held_ids = {a.case_id for a in held}
    held_rows = rows.index[rows["case_id"].isin(held_ids)]
    sent_rows = rows.index[~rows["case_id"].isin(held_ids)]
    owners = {**rules.owners, **settings.owners}
    messages = sync_digest(send, lang=lang, link=link, rules=rules, labels=labels, owners=owners)
    delivery = deliver(targets, messages) if messages else None
    after = record_delivery(
        history,
        sent_rows if delivery is not None else sent_rows[:0],
        delivered=delivery.delivered if delivery is not None else [],
        failed=delivery is not None and not delivery.ok,
        held=held_rows,
    )
    before = history.rows[["notified", "services"]]
    moved = (after.rows[["notified", "services"]] != before).any(axis=1)
    return AlertRun(
        after,
        changed=[int(p) for p in after.rows.index[moved]],
        delivery=delivery,
        sent=len(send) if delivery is not None else 0,
        held=len(held),
        held_until=quiet_until(now, rules) if held else None,
    )


def _watched(
    view: StatusView, rules: Rules, labels: Labels, lang: str
) -> tuple[int, list[tuple[str, int]]]:
    """The open cases of the Status tab and their number by flag, worst first, labelled as the
    run's summary line labels them (a passed deadline on its own in Chinese)."""
    from .config import FLAG_ORDER
    from .render import flag_counts

    open_rows = view.rows[view.rows["whose_turn"].notna()]
    counts = {f: int(open_rows["flag"].eq(f).sum()) for f in FLAG_ORDER}
    only_open = dataclasses.replace(view, rows=open_rows, counts=counts)
    return len(open_rows), flag_counts(only_open, rules, labels, lang)


def case_alerts(
    loaded: Loaded, settings: Settings, view: StatusView, rows: pd.DataFrame
) -> list[Alert]:
    """One Alert per case of the History ``rows``, from its row of the Status tab (next action
    in the run's language), else from the judged log."""
    from .alerts import Alert
    from .history import LATE, case_ids

    rules, lang = settings.rules, loaded.lang
    shown = view.rows.assign(_id=case_ids(view.rows["case_id"]).to_numpy())
    shown = shown.drop_duplicates("_id").set_index("_id")
    judged = judge(loaded, settings)
    judged = judged.assign(_id=case_ids(judged["Case ID"]).to_numpy()).drop_duplicates("_id")
    judged = judged.set_index("_id")
    out: list[Alert] = []
    seen: set[str] = set()
    for case_id, flag in zip(rows["case_id"], rows["flag"], strict=True):
        if case_id in seen:
            continue  # one line per case, whatever number of its rows are due
        seen.add(case_id)
        flag = str(flag).removesuffix(LATE)
        case = judged.loc[case_id] if case_id in judged.index else None
        row = shown.loc[case_id] if case_id in shown.index else None
        info = rules.flags.get(flag)
        if row is not None:
            action = _text(row["next_action"]) or ""
        elif info is not None:
            action = info.action_zh if lang == "zh" else info.action
        else:
            action = ""
        passed = False
        if flag == "DEADLINE" and case is not None:
            due = _moment(case.get("deadline_at"))
            flagged = case.get("deadline_passed")
            passed = bool(flagged) if flagged is not None and not pd.isna(flagged) else False
        else:
            source = row if row is not None else case
            due = _moment(source.get("due_at")) if source is not None else None

        def value(column: str, row: Any = row, case: Any = case) -> str | None:
            """The Status tab's value (lower-case column), else the log's."""
            if row is not None and column.lower() in row.index:
                return _text(row[column.lower()])
            if row is not None and column in row.index:
                return _text(row[column])
            return _text(case.get(column)) if case is not None else None

        out.append(
            Alert(
                flag=flag,
                case_id=str(case_id),
                store=value("Store"),
                marketplace=value("Marketplace"),
                category=value("Category"),
                owner=value("Owner"),
                action=action,
                due=due,
                passed=passed,
            )
        )
    return out


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and value != value) or value is pd.NA:
        return None
    text = str(value).strip()
    return text or None


def _moment(value: Any) -> dt.datetime | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).to_pydatetime()


def record_notified(
    loaded: Loaded, settings: Settings, update: HistoryUpdate, run: AlertRun, written: WriteResult
) -> WriteResult | None:
    """The second, small write of a sync with alerts: the Notified cells of the rows whose
    delivery changed. Google: one batchUpdate of those cells. Excel: the History tab once more,
    into the file just written (the log, the --output copy or the --to companion), refused when
    that file changed since (another run wrote it)."""
    from .history import notified_cells
    from .model import Cell

    if not run.changed:
        return None
    cells = notified_cells(
        run.history, pd.Index(run.changed), settings.rules, settings.labels, loaded.lang
    )
    update_cells = getattr(loaded.workbook, "update_cells", None)
    if update_cells is not None:  # Google: the sheet is still open, its metadata fresh
        update_cells(HISTORY, cells)
        return None
    # The whole tab: the cells are placed as render_history lays out every row, and the rows the
    # first write copied from the old tab (``kept``) are in the file now, not in this model.
    model = update.model.kept.full() if update.model.kept is not None else update.model
    for row, column, text in cells:
        model.rows[row][column] = Cell(text)
    workbook = open_workbook(written.target, will_write=True)
    try:
        if written.details.get("fingerprint") not in (None, getattr(workbook, "fingerprint", None)):
            raise CaseloopError.said("notified_changed", path=written.target)
        return workbook.write_tabs([model])
    finally:
        close(workbook)


def fingerprint_written(written: WriteResult) -> None:
    """Note the Excel file just written (size, time, digest), so the second write can tell
    whether another run wrote it meanwhile."""
    from .backends import is_google

    if is_google(written.target):
        return
    from .backends.xlsx.files import fingerprint

    with contextlib.suppress(OSError):
        written.details["fingerprint"] = fingerprint(Path(written.target))


def history_title(loaded: Loaded, settings: Settings) -> str:
    """History (历史), or "caseloop History" when a team tab of the workbook has that name."""
    title = settings.labels.get("tabs", HISTORY, loaded.lang)
    ours = (loaded.history_tab or "").casefold()
    taken = {name.casefold() for name in history_source(loaded.workbook).tab_names()} - {ours}
    return f"caseloop {title}" if title.casefold() in taken else title


def answer_base(loaded: Loaded, settings: Settings) -> AnswerBase:
    """The solved problems of the log (built once per run)."""
    from .answers import build_answers

    if loaded.answers is None:
        loaded.answers = build_answers(judge(loaded, settings), settings.rules)
    return loaded.answers


def status_model(
    loaded: Loaded, settings: Settings, title: str | None = None, drafts: bool = True
) -> tuple[SheetModel, StatusView]:
    """The Status tab; with ``drafts`` a Draft column for the rows that need a message, and the
    "Last time" notes from the answer base."""
    from .render import render_status
    from .views import status_view

    templates = settings.templates if drafts else None  # checked before the log is judged
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
        templates=templates,
        answers=answer_base(loaded, settings),
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
    history = loaded.history.history if loaded.history is not None else None
    return weekly_report(judge(loaded, settings), settings.rules, loaded.as_of, week, history)


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


def answers_model(loaded: Loaded, settings: Settings, title: str | None = None) -> SheetModel:
    """The Answers tab (答疑库) in the loaded log's language."""
    from .render import render_answers

    model = render_answers(
        answer_base(loaded, settings),
        settings.rules,
        settings.labels,
        loaded.lang,
        settings.generated,
        loaded.as_of,
        title,
    )
    if title is None:
        model.default_titles = default_tab_titles(settings.labels, "answers")
    return model


def check_templates(loaded: Loaded, settings: Settings) -> Templates:
    """The message templates, loaded and rendered for every category and a few of the log's
    own rows (``validate --templates``); a broken one is named with its file."""
    from .drafts import check_all

    judged = judge(loaded, settings)
    valid = judged[~judged["_invalid"]] if "_invalid" in judged else judged
    samples = valid.drop_duplicates("Category").head(50).to_dict("records")
    return check_all(settings.templates, settings.rules, settings.playbook, samples)


def find_case(loaded: Loaded, settings: Settings, case_id: str) -> dict[str, Any]:
    """The judged row of ``case_id``; an unknown ID is one sentence naming the nearest IDs."""
    from rapidfuzz import fuzz, process

    judged = judge(loaded, settings)
    wanted = case_id.strip()
    ids = judged["Case ID"].astype(str).str.strip()
    hits = judged[ids.eq(wanted)]
    if not hits.empty:
        return hits.iloc[0].to_dict()
    known = [i for i in dict.fromkeys(ids) if i and i not in ("nan", "None")]
    nearest = process.extract(wanted, known, scorer=fuzz.ratio, limit=3)
    where = {"case_id": wanted, "tab": loaded.frame.tab, "location": loaded.workbook.location}
    if not nearest:
        raise CaseloopError.said("unknown_case_no_ids", **where)
    near = ", ".join(n for n, _, _ in nearest)
    raise CaseloopError.said("unknown_case", near=near, near_zh=near.replace(", ", "、"), **where)


def weekly_text(report: WeeklyReport, settings: Settings, lang: str | None = None) -> str:
    from .markdown import weekly_markdown

    return weekly_markdown(
        report, settings.rules, settings.labels, _lang(settings, lang), settings.generated
    )


def _lang(settings: Settings, lang: str | None) -> str:
    if lang is not None:
        return lang
    return "en" if settings.lang == "auto" else settings.lang
