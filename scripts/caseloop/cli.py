"""The caseloop command line: parse options, call the engine, print. Nothing else lives here."""

from __future__ import annotations

import functools
import json
import os
import sys
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .errors import CaseloopError, OptionError, Problem

if TYPE_CHECKING:  # the engine is imported when a command runs, so --help stays quick
    from .engine import Loaded, Settings

LANGS = click.Choice(["auto", "en", "zh"], case_sensitive=False)
# Where a command keeps the output language once the log is read (ctx.meta), for its errors.
LANG_KEY = "caseloop.lang"


def common_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options every command takes (spec §8)."""
    options = [
        click.argument("log", required=False),
        click.option(
            "--config",
            "config_path",
            metavar="FILE",
            help="caseloop.toml to use (default: $CASELOOP_CONFIG, else ./caseloop.toml).",
        ),
        click.option(
            "--sheet", metavar="NAME", help="The tab holding the cases (default: Cases or 案例)."
        ),
        click.option(
            "--schema",
            "schema_path",
            type=click.Path(path_type=Path),
            metavar="FILE",
            help="Case-log schema (default: sheets_schema/case_log.schema.json).",
        ),
        click.option(
            "--rules",
            "rules_path",
            type=click.Path(path_type=Path),
            metavar="FILE",
            help="Rules file (default: sheets_schema/rules.yaml).",
        ),
        click.option(
            "--credentials",
            metavar="FILE",
            help="Google service-account or authorized-user JSON (Google Sheets only).",
        ),
        click.option(
            "--lang",
            type=LANGS,
            default="auto",
            show_default=True,
            help="Language of the messages and generated tabs: auto (Chinese when the case "
            "tab's header is Chinese), en or zh.",
        ),
        click.option(
            "--now",
            metavar="DATETIME",
            help="Judge the cases as of this time (ISO, e.g. 2026-11-20T18:00; team time zone). Default: now.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def settings_from(kwargs: dict[str, Any]) -> Settings:
    from .engine import Settings

    values = {k: v for k, v in kwargs.items() if v is not None}
    if isinstance(values.get("lang"), str):
        values["lang"] = values["lang"].lower()
    # A program embedding the CLI (the tests) may hand over the HTTP client class for Google
    # through Click's context object; a person on the command line never needs it.
    ctx = click.get_current_context(silent=True)
    if ctx is not None and isinstance(ctx.obj, dict) and ctx.obj.get("http_client"):
        values["http_client"] = ctx.obj["http_client"]
    return Settings(**values)


# caseloop.toml's settings that a command takes under another keyword (--rules FILE → rules_path).
CONFIG_ARGS = {"rules": "rules_path", "schema": "schema_path"}
# The command's own settings, not the library's: passed back to the command, not to Settings.
COMMAND_SETTINGS = ("status_tab", "report_tab")
# Where a command keeps the options given on its command line, for the runs --all makes.
EXPLICIT_KEY = "caseloop.explicit"
# A dozen Google logs on one service account: at most one Google run starts in this many
# seconds, so their 2-3 reads and 1-2 writes each stay under Google's 60 a minute per user.
GOOGLE_GAP_S = 5.0


def _explicit(ctx: click.Context) -> set[str]:
    """The parameters given on the command line (not left at their defaults)."""
    if EXPLICIT_KEY in ctx.meta:
        return set(ctx.meta[EXPLICIT_KEY])
    from click.core import ParameterSource

    given = set()
    for name in ctx.params:
        source = ctx.get_parameter_source(name)
        if source is not None and source not in (
            ParameterSource.DEFAULT,
            ParameterSource.DEFAULT_MAP,
        ):
            given.add(name)
    return given


def _options_given(ctx: click.Context, values: dict[str, Any]) -> dict[str, Any]:
    """The settings of caseloop.toml given as options on the command line, by their file keys."""
    from .runconfig import SETTINGS

    explicit = _explicit(ctx)
    return {
        key: values.get(CONFIG_ARGS.get(key, key))
        for key in SETTINGS
        if CONFIG_ARGS.get(key, key) in explicit
    }


def configured(kwargs: dict[str, Any], command: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The command's arguments with caseloop.toml applied: (the Settings keywords, the command's
    own tab names). An option given on the command line wins over the file."""
    from .runconfig import load_config, resolve

    ctx = click.get_current_context()
    values = dict(kwargs)
    config = load_config(values.pop("config_path", None))
    log = values.pop("log", None)
    entry = None
    if log is not None and config.entry(log) is not None:
        entry = config.entry(log)
    elif log is not None:
        from .runconfig import _LOCATION_LIKE

        if config.logs and not _LOCATION_LIKE.search(log) and not Path(log).exists():
            raise CaseloopError.said(
                "no_such_log_name", path=config.path, name=log, names=", ".join(config.names)
            )
    elif len(config.logs) == 1:
        entry = config.logs[0]
    elif config.logs:
        raise CaseloopError.said(
            "several_logs",
            path=config.path,
            n=len(config.logs),
            names=", ".join(config.names),
            command=command,
            first=config.logs[0].name,
        )
    else:
        raise CaseloopError.said("no_log")
    options = _options_given(ctx, values)
    options["log"] = log if entry is None else None
    resolved = resolve(config, entry, options)
    own: dict[str, Any] = {}
    for key, value in resolved.items():
        if key in COMMAND_SETTINGS:
            own[key] = _config_tab_name(key, value)
        else:
            values[CONFIG_ARGS.get(key, key)] = value.value
    values = {k: v for k, v in values.items() if k not in COMMAND_SETTINGS}
    if command == "validate":
        values.pop("to", None)  # validate writes nothing: a companion does not concern it
    if values.get("notify") is not None:
        values["notify"] = tuple(values["notify"])
    return values, own


def _config_tab_name(key: str, value: Any) -> str | None:
    """A tab name from caseloop.toml, checked as the option's would be."""
    from .runconfig import Value

    assert isinstance(value, Value)
    if value.value is None or value.source != "file":
        return value.value
    try:
        return tab_name(click.get_current_context(), None, value.value)  # type: ignore[arg-type]
    except click.BadParameter as exc:
        raise CaseloopError.said(
            "config_bad_value",
            path=value.where,
            setting=key,
            expected=f"a tab name ({exc.message.rstrip('.')})",
            expected_zh="Excel 接受的工作表名称",
            value=repr(value.value),
        ) from None


def run_all(command: click.Command, quiet: bool) -> None:
    """Run ``command`` on each [[logs]] entry of caseloop.toml in turn; one line per log.

    Exit 0 when every log was written, 4 when some were, 2 when none was; 3 when every log was
    written but an alert of one was not delivered.
    """
    import time

    from .backends import is_google
    from .notify import NotDeliveredError
    from .runconfig import load_config

    ctx = click.get_current_context()
    given = dict(ctx.params)  # every parameter of the command, as parsed
    config = load_config(given.get("config_path"))
    if config.path is None:
        raise CaseloopError.said("all_no_config")
    if given.get("log"):
        raise CaseloopError.said("all_and_log", path=config.path)
    if not config.logs:
        raise CaseloopError.said("all_no_logs", path=config.path)
    for single in ("output", "markdown_path"):
        if given.get(single):
            raise OptionError.said_for(
                "output" if single == "output" else "markdown", "all_one_file", n=len(config.logs)
            )
    obj = ctx.obj if isinstance(ctx.obj, dict) else {}
    sleep, clock = obj.get("sleep", time.sleep), obj.get("clock", time.monotonic)
    gap = obj.get("google_gap_s", GOOGLE_GAP_S)
    ctx.meta[EXPLICIT_KEY] = _explicit(ctx)
    run = getattr(command.callback, "__wrapped__", command.callback)
    assert run is not None
    written = undelivered = 0
    last_google: float | None = None
    for entry in config.logs:
        if is_google(entry.log):
            if last_google is not None:
                wait = last_google + gap - clock()
                if wait > 0:
                    sleep(wait)
            last_google = clock()
        ctx.meta.pop(LANG_KEY, None)
        params = {**given, "log": entry.name, "all_logs": False, "quiet": True}
        lang = entry.values.get("lang") or config.defaults.get("lang") or "en"
        try:
            with click.Context(command, parent=ctx, info_name=entry.name, obj=ctx.obj) as sub:
                line = sub.invoke(run, **params)
        except NotDeliveredError as exc:
            # Written; only its alerts wait for the next run: it counts as written (exit 3 when
            # every log was written but some alert was not delivered).
            lang = str(ctx.meta.get(LANG_KEY) or "en")
            click.echo(_say(lang, "log_written", name=entry.name, line=exc.text(lang)), err=True)
            written += 1
            undelivered += 1
            continue
        except CaseloopError as exc:
            if isinstance(exc, OptionError):
                exc.for_option(OPTIONS.get(exc.setting, exc.setting))
            lang = str(
                ctx.meta.get(LANG_KEY) or (lang if lang != "auto" else exc.lang_hint or "en")
            )
            reason = exc.text(lang)
            click.echo(_say(lang, "log_refused", name=entry.name, reason=reason), err=True)
            continue
        except Exception as exc:  # one log's bug never stops the others
            if os.environ.get("CASELOOP_DEBUG"):
                raise
            reason = f"unexpected error ({type(exc).__name__}: {exc}); nothing was written."
            click.echo(_say("en", "log_refused", name=entry.name, reason=reason), err=True)
            continue
        written += 1
        lang = str(ctx.meta.get(LANG_KEY) or "en")
        if not quiet:
            key = "log_written" if line else "log_dry_run"
            click.echo(_say(lang, key, name=entry.name, line=line))
    ctx.meta.pop(EXPLICIT_KEY, None)
    if written < len(config.logs):
        sys.exit(4 if written else 2)
    if undelivered:
        sys.exit(3)


# How the library's settings are spelled on the command line, for messages that name them.
OPTIONS = {
    "now": "--now",
    "week": "--week",
    "sheet": "--sheet",
    "schema": "--schema",
    "rules": "--rules",
    "output": "--output",
    "markdown": "--markdown",
    "credentials": "--credentials",
    "status_tab": "--status-tab",
    "report_tab": "--report-tab",
    "notify": "--notify",
    "test": "--test",
    "answers_tab": "--answers-tab",
    "to": "--to",
}


def handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Every failure becomes one sentence on stderr and exit 2; never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except CaseloopError as exc:
            if isinstance(exc, OptionError):
                exc.for_option(OPTIONS.get(exc.setting, exc.setting))
            click.echo(f"caseloop: {exc.text(_lang(kwargs, exc.lang_hint))}", err=True)
            sys.exit(exc.exit_code)
        except BrokenPipeError:
            # The reader went away (`caseloop ... | head`): stop quietly, like other tools.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(0)
        except KeyboardInterrupt:
            text = CaseloopError.said("interrupted").text(_lang(kwargs))
            click.echo(f"caseloop: {text}", err=True)
            sys.exit(130)
        except Exception as exc:  # the promise is "never a traceback", even for our own bugs
            if os.environ.get("CASELOOP_DEBUG"):
                raise
            click.echo(
                f"caseloop: unexpected error ({type(exc).__name__}: {exc}); nothing was written. "
                "Run again with CASELOOP_DEBUG=1 for details and report it.",
                err=True,
            )
            sys.exit(2)

    return wrapper


def _lang(kwargs: dict[str, Any], hint: str | None = None) -> str:
    """The output language: the log's once read, else --lang, else (auto) what the error saw."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.meta.get(LANG_KEY):
        return str(ctx.meta[LANG_KEY])
    asked = str(kwargs.get("lang") or "auto").lower()
    if asked != "auto":
        return asked
    return hint or "en"


def _say(lang: str, key: str, **fields: Any) -> str:
    """A line the commands print, from labels.yaml ``cli:`` in ``lang``."""
    from .config import load_labels

    return load_labels().get("cli", key, lang).format(**fields)


_BAD_TAB_CHARS = set("[]:*?/\\")


def tab_name(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A name Excel and Google Sheets both accept for a tab."""
    if value is None:
        return None
    name = value.strip()
    bad = sorted(_BAD_TAB_CHARS & set(name))
    # Excel counts a name in UTF-16 code units: an emoji or other astral character is two.
    units = len(name.encode("utf-16-le", "surrogatepass")) // 2
    why = None
    if not name:
        why = "it must be 1 to 31 characters"
    elif any(unicodedata.category(ch) in ("Cc", "Cs") for ch in name):
        # Bytes the terminal could not decode, or control characters: no workbook takes them.
        why = "it holds characters that are not printable text"
    elif units > 31:
        why = (
            f"it is {units} characters long as Excel counts them (an emoji counts as two); "
            "Excel allows 31"
            if units != len(name)
            else f"it is {units} characters long; Excel allows 31"
        )
    elif bad:
        why = f"it contains {' '.join(bad)}"
    elif name.startswith("'") or name.endswith("'"):
        why = "it cannot start or end with '"
    if why:
        raise click.BadParameter(f'"{value}" cannot name a tab: {why}.')
    return name


class Progress:
    """One line per step on stderr, only when a person is watching (a terminal, not --quiet)."""

    def __init__(self, quiet: bool = False) -> None:
        self.on = not quiet and sys.stderr.isatty()

    def __call__(self, message: str) -> None:
        if self.on:
            click.echo(f"caseloop: {message}", err=True)


# Alerts: where the URLs come from when --notify is not given (space- or comma-separated).
NOTIFY_ENV = "CASELOOP_NOTIFY"


def notify_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """--notify URL, repeatable (alerts through Apprise)."""
    return click.option(
        "--notify",
        multiple=True,
        metavar="URL",
        help="Send alerts to this chat or mailbox (Apprise URL, e.g. wecombot://KEY); repeat for "
        f"more. Default: ${NOTIFY_ENV}. The URL's key is never printed.",
    )(func)


def notify_targets(
    given: tuple[str, ...], values: dict[str, Any]
) -> tuple[tuple[str, ...], list[Any]]:
    """The alert URLs in force and their checked targets: --notify, else $CASELOOP_NOTIFY, else
    caseloop.toml's ``notify``. A wrong URL is refused here, before the log is read."""
    from .notify import check_urls

    urls, setting = notify_urls(given)
    if not urls and values.get("notify"):
        urls, setting = tuple(values["notify"]), "notify"
    return urls, check_urls(urls, setting)


def notify_urls(given: tuple[str, ...], setting: str = "notify") -> tuple[tuple[str, ...], str]:
    """The URLs to notify and the setting that gave them: the option's, else $CASELOOP_NOTIFY."""
    from .notify import split_urls

    if given:
        return tuple(given), setting
    return tuple(split_urls(os.environ.get(NOTIFY_ENV))), NOTIFY_ENV


templates_option = click.option(
    "--templates",
    "templates_path",
    type=click.Path(path_type=Path),
    metavar="DIR",
    help="Folder of message templates (default: sheets_schema/templates).",
)
answers_tab_option = click.option(
    "--answers-tab",
    metavar="NAME",
    callback=tab_name,
    help="Name of the Answers tab (default: Answers, or 答疑库 with --lang zh).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="caseloop")
def main() -> None:
    """Keep an Amazon seller's support cases moving.

    LOG is the team's case log: an .xlsx/.xlsm file, a Google Sheets URL or gsheet:KEY
    (validate and report --markdown also read a .csv export).
    """


@main.command()
@common_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--templates",
    "templates_check",
    is_flag=False,
    flag_value="-",
    metavar="[DIR]",
    help="Also check the message templates (default folder: sheets_schema/templates): a "
    "syntax error or an unknown field is named with its file.",
)
@handle_errors
def validate(fmt: str, templates_check: str | None, **kwargs: Any) -> None:
    """Check the headers and every cell of the case log.

    Prints each problem with its cell address, errors first, then warnings.
    Exit 0 when clean or warnings only, 1 with data errors, 2 when the log cannot be read
    (or, with --templates, a template is broken).
    """
    if templates_check is not None and templates_check != "-":
        kwargs["templates_path"] = Path(templates_check)
    settings = settings_from(configured(kwargs, "validate")[0])
    loaded = _load(settings, Progress(quiet=True))
    if templates_check is not None:
        from .engine import check_templates

        checked = check_templates(loaded, settings)
        if fmt == "text":
            click.echo(
                _say(
                    loaded.lang,
                    "templates_ok",
                    n=len(checked.kinds),
                    folder=checked.folder,
                    kinds=("、" if loaded.lang == "zh" else ", ").join(checked.kinds),
                )
            )
    frame = loaded.frame
    errors, warnings = frame.errors, frame.warnings
    wording, lang = loaded.wording(settings), loaded.lang

    def as_dict(p: Problem) -> dict[str, Any]:
        return {**p.as_dict(), "message": wording.text(p)}

    if fmt == "json":
        doc = {
            "log": loaded.workbook.location,
            "tab": frame.tab,
            "header_row": frame.header_row,
            "cases": len(frame.cases),
            "invalid_rows": int(frame.cases["_invalid"].sum()),
            "errors": [as_dict(p) for p in errors],
            "warnings": [as_dict(p) for p in warnings],
            "ignored_columns": frame.ignored_headers,
        }
        click.echo(json.dumps(doc, ensure_ascii=False, indent=2))
    else:
        for p in errors:
            click.echo(_say(lang, "error_prefix") + wording.line(p))
        for p in warnings:
            click.echo(_say(lang, "warning_prefix") + wording.line(p))
        click.echo(
            _say(
                lang,
                "validate_summary",
                cases=len(frame.cases),
                tab=frame.tab,
                row=frame.header_row,
                errors=len(errors),
                invalid=int(frame.cases["_invalid"].sum()),
                warnings=len(warnings),
            )
        )
    sys.exit(1 if errors else 0)


def scheduled_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options of the commands a scheduler runs (sync, report): --quiet, --notify, --to,
    --all."""
    options: list[Callable[[Callable[..., Any]], Callable[..., Any]]] = [
        click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors (for cron)."),
        notify_option,
        click.option(
            "--to",
            metavar="FILE.xlsx",
            help="Write the generated tabs into this companion workbook (made when missing) and "
            "only read LOG, which may stay open in Excel.",
        ),
        click.option(
            "--all",
            "all_logs",
            is_flag=True,
            help="Run every [[logs]] entry of caseloop.toml in turn (exit 0 all written, 3 "
            "written but alerts not delivered, 4 some written, 2 none).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@main.command()
@common_options
@click.option(
    "--output",
    type=click.Path(),
    metavar="PATH",
    help="Write a copy with the Status tab here; leave LOG alone (Excel only).",
)
@click.option(
    "--dry-run", is_flag=True, help="Print the Status rows that would be written; write nothing."
)
@click.option(
    "--status-tab",
    metavar="NAME",
    callback=tab_name,
    help="Name of the generated tab (default: Status, or 状态 with --lang zh).",
)
@click.option(
    "--no-drafts",
    is_flag=True,
    help="Leave the Draft column (a message for each row that needs one) off the Status tab.",
)
@templates_option
@scheduled_options
@handle_errors
def sync(
    output: str | None,
    dry_run: bool,
    status_tab: str | None,
    no_drafts: bool,
    quiet: bool,
    notify: tuple[str, ...],
    to: str | None,
    all_logs: bool,
    **kwargs: Any,
) -> str | None:
    """Validate, judge every case and write the colour-coded Status tab.

    With --notify, the cases that turned urgent since the last run go to the team's chat once
    the tabs are written. Exit 0 when written (rows that cannot be judged show as INVALID), 2
    when nothing was written, 3 when written but the alerts were not delivered (the next run
    sends them again); with --all, 4 when some logs were written and others not.
    """
    from .engine import (
        fingerprint_written,
        history_model,
        save_history_cache,
        status_model,
        write,
    )
    from .render import flag_counts

    if all_logs:
        run_all(sync, quiet)
        return None
    progress = Progress(quiet)
    values, own = configured({**kwargs, "status_tab": status_tab, "to": to}, "sync")
    status_tab = own["status_tab"]
    urls, targets = notify_targets(notify, values)  # a wrong URL is refused before the log is read
    settings = settings_from({**values, "output": output, "notify": urls})
    loaded = _load(settings, progress, for_writing=not dry_run, with_history=not dry_run)
    lang = loaded.lang
    progress(f"judging {len(loaded.frame.cases)} cases ...")
    model, view = status_model(loaded, settings, status_tab, drafts=not no_drafts)
    counts = _say(lang, "count_separator").join(
        f"{label} {n}" for label, n in flag_counts(view, settings.rules, settings.labels, lang)
    )
    if dry_run:
        # With --to the tab would go into the companion workbook, not the log.
        where = str(settings.to or loaded.workbook.location)
        if loaded.workbook.read_only:
            where += _say(lang, "dry_run_csv")
        click.echo(
            _say(
                lang,
                "dry_run",
                title=model.title,
                where=where,
                rows=len(view.rows),
                counts=counts or _say(lang, "no_rows"),
            )
        )
        for row in model.rows[1:]:
            click.echo("\t".join("" if c.value is None else _plain(c.value) for c in row))
        return None
    # With alerts, the rows that alert start "Pending" and are settled after the delivery.
    history = history_model(loaded, settings, notifying=bool(targets))
    progress(f"writing the {model.title!r} and {history.model.title!r} tabs ...")
    result = write(loaded, [model, history.model])
    save_history_cache(loaded, settings, history, result)  # Excel: the next read is quicker
    if targets:
        fingerprint_written(result)
    problems = _say(lang, "data_problems", n=view.data_problems) if view.data_problems else ""
    line = _say(
        lang,
        "wrote_status",
        title=model.title,
        rows=len(view.rows),
        counts=counts or _say(lang, "none"),
        problems=problems,
        target=result.target,
    )
    if not quiet:
        click.echo(line)
        said = "history_baseline" if history.baseline else "wrote_history"
        click.echo(_say(lang, said, n=len(history.added), title=history.model.title))
        _tell_backup(click.echo, result.backup, lang)
        if view.invalid_rows:
            click.echo(_say(lang, "invalid_hint", n=view.invalid_rows, log=settings.log))
    if targets:
        _send_sync_alerts(loaded, settings, history, view, targets, result, quiet, progress)
    return line


@main.command()
@common_options
@click.option(
    "--week",
    metavar="YYYY-Www",
    help="The report week, e.g. 2026-W47 (default: the last complete week before --now).",
)
@click.option(
    "--output",
    type=click.Path(),
    metavar="PATH",
    help="Write a copy with the Weekly Summary tab here; leave LOG alone (Excel only).",
)
@click.option(
    "--markdown",
    "markdown_path",
    metavar="FILE",
    help="Also write the report as Markdown to FILE ('-' prints it).",
)
@click.option(
    "--report-tab",
    metavar="NAME",
    callback=tab_name,
    help="Name of the generated tab (default: Weekly Summary, or 周报 with --lang zh).",
)
@answers_tab_option
@scheduled_options
@handle_errors
def report(
    week: str | None,
    output: str | None,
    markdown_path: str | None,
    report_tab: str | None,
    answers_tab: str | None,
    quiet: bool,
    notify: tuple[str, ...],
    to: str | None,
    all_logs: bool,
    **kwargs: Any,
) -> str | None:
    """Write the Weekly Summary tab (12 weeks of numbers, breakdowns, backlog and a chart) and
    the Answers tab (the problems the team has solved), in one write.

    With --markdown the weekly report is written as Markdown; a .csv log can only do that.
    With --notify a short weekly digest goes to the team's chat once the tabs are written.
    Exit 0 when written, 2 when nothing was written, 3 when written but the digest was not
    delivered; with --all, 4 when some logs were written.
    """
    from .engine import (
        answer_base,
        answers_model,
        check_markdown_path,
        weekly,
        weekly_model,
        weekly_text,
        write,
    )
    from .render import week_label

    if all_logs:
        run_all(report, quiet)
        return None
    progress = Progress(quiet)
    values, own = configured({**kwargs, "report_tab": report_tab, "to": to}, "report")
    report_tab = own["report_tab"]
    urls, targets = notify_targets(notify, values)  # checked before the log is read
    settings = settings_from({**values, "output": output, "notify": urls})
    check_markdown_path(markdown_path, settings.log, output)  # before the tab is written
    loaded = _load(settings, progress, for_writing=True, with_history=True)
    progress(f"computing the weekly report from {len(loaded.frame.cases)} cases ...")
    result = weekly(loaded, settings, week)
    read_only, lang = loaded.workbook.read_only, loaded.lang
    line = ""
    if read_only and not markdown_path:
        raise CaseloopError.said("csv_no_tabs", location=loaded.workbook.location)
    # With the Markdown on stdout, everything else goes to stderr so the two do not mix.
    say = functools.partial(click.echo, err=markdown_path == "-")
    link = loaded.workbook.location
    if not read_only:
        model = weekly_model(result, settings, report_tab, lang)
        answers = answers_model(loaded, settings, answers_tab)
        progress(f"writing the {model.title!r} and {answers.title!r} tabs ...")
        written = write(loaded, [model, answers])
        link = written.target
        week = week_label(result.week, settings.labels, lang)
        line = _say(lang, "wrote_report", title=model.title, week=week, target=written.target)
        if not quiet:
            say(line)
            say(_answers_line(lang, answers.title, answer_base(loaded, settings), written.target))
            _tell_backup(say, written.backup, lang)
    if markdown_path:
        text = weekly_text(result, settings, lang)
        if markdown_path == "-":
            click.echo(text)
        else:
            try:
                Path(markdown_path).write_text(text, encoding="utf-8")
            except OSError as exc:
                raise CaseloopError(
                    f"Cannot write {markdown_path}: {exc.strerror or exc}."
                ) from None
            if read_only:
                line = _say(lang, "wrote_markdown", path=markdown_path)
            if not quiet:
                say(_say(lang, "wrote_markdown", path=markdown_path))
    if result.not_counted and not quiet:
        say(_say(lang, "not_counted", n=result.not_counted, log=settings.log))
    if targets:
        _send_weekly_digest(targets, result, settings, lang, link, say, quiet, progress)
    return line


@main.command("config")
@common_options
@click.option("--to", metavar="FILE.xlsx", help="A companion workbook, as sync --to takes it.")
@click.option("--status-tab", metavar="NAME", callback=tab_name, help="As sync takes it.")
@click.option("--report-tab", metavar="NAME", callback=tab_name, help="As report takes it.")
@handle_errors
def show_config(
    to: str | None, status_tab: str | None, report_tab: str | None, **kwargs: Any
) -> None:
    """Print the settings in force and where each came from (option, file, env, default).

    Without LOG, for every [[logs]] entry of caseloop.toml; notify URLs are masked.
    """
    from .runconfig import LogEntry, describe, load_config, resolve

    ctx = click.get_current_context()
    values = {**kwargs, "to": to, "status_tab": status_tab, "report_tab": report_tab}
    config = load_config(values.pop("config_path", None))
    log = values.pop("log", None)
    options = _options_given(ctx, values)
    entries: list[LogEntry | None] = list(config.logs) or [None]
    if log is not None:
        entries = [config.entry(log)]
    runs = [
        (entry, resolve(config, entry, options if entry else {**options, "log": log}))
        for entry in entries
    ]
    for line in describe(config, runs):
        click.echo(line)


def _send_weekly_digest(
    targets: list[Any],
    result: Any,
    settings: Settings,
    lang: str,
    link: str,
    say: Callable[[str], Any],
    quiet: bool,
    progress: Progress,
) -> None:
    """The weekly digest to every --notify target, after the tab is written; exit 3 when a
    service did not take it."""
    from .alerts import weekly_digest
    from .notify import deliver, not_delivered

    messages = weekly_digest(
        result, lang=lang, link=link, rules=settings.rules, labels=settings.labels
    )
    progress("sending the weekly digest ...")
    delivery = deliver(targets, messages)
    if delivery.delivered and not quiet:
        say(_say(lang, "sent_digest", services=", ".join(delivery.delivered)))
    if not delivery.ok:
        raise not_delivered(delivery, "report_not_delivered")


def _send_sync_alerts(
    loaded: Loaded,
    settings: Settings,
    history: Any,
    view: Any,
    targets: list[Any],
    written: Any,
    quiet: bool,
    progress: Progress,
) -> None:
    """A sync's alerts, once the tabs are written: send what is due, record it in the History
    tab's Notified cells (a second, small write), say so; exit 3 when a service did not take
    them (they are sent again by the next run)."""
    from .engine import record_notified, send_alerts
    from .notify import not_delivered

    lang = loaded.lang
    progress("sending the alerts ...")
    run = send_alerts(loaded, settings, history, view, targets, written.target)
    try:
        record_notified(loaded, settings, history, run, written)
    except CaseloopError as exc:
        line = exc.text(lang)
        if exc.key != "notified_changed":
            reason = line.rstrip(".。")
            line = _say(lang, "notified_not_recorded", title=history.model.title, reason=reason)
        click.echo(f"caseloop: warning: {line}", err=True)
    delivery = run.delivery
    if not quiet and delivery is not None and delivery.delivered:
        key = "sent_first_run" if run.first_run else "sent_alerts"
        click.echo(_say(lang, key, n=run.sent, services=", ".join(delivery.delivered)))
    if not quiet and run.held:
        until = run.held_until.strftime("%H:%M") if run.held_until else "—"
        click.echo(_say(lang, "held_alerts", n=run.held, until=until))
    if delivery is not None and not delivery.ok:
        raise not_delivered(
            delivery, "first_run_not_delivered" if run.first_run else "not_delivered"
        )


@main.command()
@click.option(
    "--test",
    "urls",
    multiple=True,
    metavar="URL",
    help=f"Send one test line to this URL (repeatable; default: ${NOTIFY_ENV}).",
)
@click.option(
    "--lang",
    type=click.Choice(["en", "zh"], case_sensitive=False),
    default="en",
    show_default=True,
    help="Language of the test line.",
)
@handle_errors
def notify(urls: tuple[str, ...], lang: str) -> None:
    """Check a notification URL: send one test line to it before it goes on the cron line.

    Exit 0 when delivered, 3 when the service did not take it, 2 when the URL is wrong.
    """
    from .config import load_labels
    from .notify import check_urls, deliver

    lang = lang.lower()
    given, setting = notify_urls(urls, "test")
    if not given:
        raise OptionError.said_for("test", "notify_no_url")
    targets = check_urls(given, setting)
    delivery = deliver(targets, [load_labels().get("alerts", "test", lang)])
    for name in delivery.delivered:
        click.echo(_say(lang, "delivered", services=name))
    for name in delivery.failed:
        click.echo(_say(lang, "test_not_delivered", services=name), err=True)
    sys.exit(0 if delivery.ok else 3)


@main.command()
@click.argument("log", required=False)
@click.option(
    "--lang",
    type=click.Choice(["en", "zh"], case_sensitive=False),
    default="en",
    show_default=True,
    help="Language of the new log's header, dropdown values and help texts.",
)
@click.option("--stores", metavar="NAMES", help='The Store dropdown, e.g. "Store A,Store B".')
@click.option("--owners", metavar="NAMES", help='The Owner dropdown, e.g. "Li,Wang".')
@click.option(
    "--marketplaces",
    metavar="CODES",
    help='Offer only these marketplaces, e.g. "US,UK,DE" (default: every one in the rules).',
)
@click.option(
    "--credentials",
    metavar="FILE",
    help="Google service-account or authorized-user JSON (Google Sheets only).",
)
@click.option(
    "--rules",
    "rules_path",
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="Write a commented copy of the default rules to FILE, for the team to tune.",
)
@handle_errors
def init(
    log: str | None,
    lang: str,
    stores: str | None,
    owners: str | None,
    marketplaces: str | None,
    credentials: str | None,
    rules_path: Path | None,
) -> None:
    """Start a new case log: LOG is a new .xlsx file, or a Google Sheet (gsheet:KEY or URL).

    The Cases tab gets its header, dropdowns (from the rules and the given stores and owners,
    listed on a Lists tab), date and count checks and help on each header cell; a How to tab
    holds the checklist before contacting Amazon and what each flag means. Never writes over a
    file or a sheet that already has a Cases tab. Exit 0 when created, 2 when refused.
    """
    import datetime as dt

    from .backends import is_google
    from .config import load_labels, load_rules
    from .datafiles import DEFAULT_RULES
    from .newlog import check_new_file, describe, rules_copy_text, split_names, write_new_file
    from .schema import load_schema

    lang = lang.lower()
    ctx = click.get_current_context()
    ctx.meta[LANG_KEY] = lang
    if log is None and rules_path is None:
        raise CaseloopError.said("init_nothing")
    new_log = None
    if log is not None:
        new_log = describe(
            load_schema(),
            load_rules(),
            load_labels(),
            lang,
            stores=split_names(stores),
            owners=split_names(owners),
            marketplaces=split_names(marketplaces),
        )
        if not is_google(log):
            from .backends.xlsx.new_log import check_new_path

            check_new_path(Path(log))
    if rules_path is not None:
        # Both refusals come before either file is written.
        check_new_file(rules_path)
        write_new_file(
            rules_path,
            rules_copy_text(DEFAULT_RULES.read_text(encoding="utf-8"), dt.date.today()),
        )
        click.echo(_say(lang, "init_rules", path=rules_path))
    if log is None or new_log is None:
        return
    said = {
        "cases_tab": new_log.cases_tab,
        "lists_tab": new_log.lists_tab,
        "howto_tab": new_log.howto_tab,
        "column_count": len(new_log.columns),
    }
    if is_google(log):
        from .backends.gsheets.new_log import init_google

        http_client = ctx.obj.get("http_client") if isinstance(ctx.obj, dict) else None
        where, warnings = init_google(new_log, log, credentials, http_client=http_client)
        for line in warnings:
            click.echo(f"caseloop: warning: {line}", err=True)
        click.echo(_say(lang, "init_google", path=where, **said))
    else:
        from .backends.xlsx.new_log import create_xlsx

        create_xlsx(new_log, Path(log))
        click.echo(_say(lang, "init_created", path=log, **said))


@main.command()
@common_options
@click.option(
    "--output",
    type=click.Path(),
    metavar="PATH",
    help="Write a copy with the Answers tab here; leave LOG alone (Excel only).",
)
@answers_tab_option
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors (for cron).")
@handle_errors
def answers(output: str | None, answers_tab: str | None, quiet: bool, **kwargs: Any) -> None:
    """Write the Answers tab (答疑库) on its own: one row per problem the team has solved.

    Built from the Resolved cases; those without a Resolution are listed at the end, by owner.
    Exit 0 when written, 2 when nothing was written.
    """
    from .engine import answer_base, answers_model, write

    progress = Progress(quiet)
    settings = settings_from({**configured(kwargs, "answers")[0], "output": output})
    loaded = _load(settings, progress, for_writing=True)
    if loaded.workbook.read_only:
        raise CaseloopError.said("csv_no_answers", location=loaded.workbook.location)
    model = answers_model(loaded, settings, answers_tab)
    progress(f"writing the {model.title!r} tab ...")
    written = write(loaded, [model])
    if not quiet:
        line = _answers_line(
            loaded.lang, model.title, answer_base(loaded, settings), written.target
        )
        click.echo(line)
        _tell_backup(click.echo, written.backup, loaded.lang)


@main.command()
@common_options
@click.argument("case_id")
@click.option(
    "--kind",
    metavar="SITUATION",
    help="The situation to draft (first-contact, follow-up, callback, escalate, reopen, "
    "keep-open, merge, a-to-z, chargeback, needs-info, or a team's own template); "
    "default: the one the case's flag calls for.",
)
@templates_option
@handle_errors
def draft(case_id: str, kind: str | None, **kwargs: Any) -> None:
    """Print the message draft for one case (pipe it to the clipboard).

    English to Amazon; with --lang zh, Chinese where Chinese support handles the category
    (account, basic logistics, VAT). What to fill in before sending goes to stderr.
    Exit 0 when printed, 2 for an unknown case ID or a case with nothing to send.
    """
    from .drafts import draft_case, situation
    from .engine import find_case

    settings = settings_from(configured(kwargs, "draft")[0])
    templates = settings.templates
    loaded = _load(settings, Progress(quiet=True))
    case = find_case(loaded, settings, case_id)
    lang = loaded.lang
    chosen = kind.strip().lower() if kind else situation(case)
    rules = settings.rules
    if chosen is None:
        flag, status = case.get("flag"), case.get("Status")
        if lang == "zh":
            state = rules.flags[flag].zh if flag in rules.flags else None
            state = state or rules.zh_labels.get("Status", {}).get(str(status), status)
        else:
            state = flag or status
        raise CaseloopError(
            _say(lang, "draft_nothing", case_id=case_id.strip(), state=state or "—")
            + ("、" if lang == "zh" else ", ").join(templates.kinds)
            + ("。" if lang == "zh" else ".")
        )
    # The same language as the Status tab's Draft column: English to Amazon, Chinese only where
    # Chinese support handles the category (with --lang zh or a Chinese log); a note to the team
    # in its language.
    category = case.get("Category") if isinstance(case.get("Category"), str) else None
    out = draft_case(case, templates, rules, settings.playbook, lang, chosen)
    assert out is not None  # a situation was chosen
    click.echo(out.text)
    if lang == "zh" and out.lang == "en" and category:
        shown = rules.zh_labels.get("Category", {}).get(category, category)
        click.echo(f"caseloop: {_say(lang, 'draft_english', category=shown)}", err=True)
    if out.missing:
        fill = ("、" if lang == "zh" else ", ").join(out.missing)
        click.echo(f"caseloop: {_say(lang, 'draft_fill', fields=fill)}", err=True)


def _answers_line(lang: str, title: str, base: Any, target: str) -> str:
    return _say(
        lang,
        "wrote_answers",
        title=title,
        solved=len(base.problems),
        unanswered=len(base.missing),
        target=target,
    )


def _load(
    settings: Settings, progress: Progress, for_writing: bool = False, with_history: bool = False
) -> Loaded:
    """Read the log (with progress) and pass on any warning about the credentials."""
    from .engine import close, load

    progress(f"reading {settings.log} ...")
    loaded = load(settings, for_writing=for_writing, with_history=with_history)
    ctx = click.get_current_context()
    # Whatever happens next (a refusal, an error, a dry run), the lock on the log is let go.
    ctx.call_on_close(lambda: close(loaded.workbook))
    # A refusal from here on (the file open in Excel...) is worded in the log's language.
    ctx.meta[LANG_KEY] = loaded.lang
    for line in loaded.warnings:
        click.echo(f"caseloop: warning: {line}", err=True)
    return loaded


def _tell_backup(say: Callable[[str], Any], backup: str | None, lang: str = "en") -> None:
    if backup:
        say(_say(lang, "backup", backup=backup))


def _plain(value: Any) -> str:
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


if __name__ == "__main__":  # pragma: no cover
    main()
