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

    Exit 0 when every log was written, 4 when some were, 2 when none was.
    """
    import time

    from .backends import is_google
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
    written = 0
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
@handle_errors
def validate(fmt: str, **kwargs: Any) -> None:
    """Check the headers and every cell of the case log.

    Prints each problem with its cell address, errors first, then warnings.
    Exit 0 when clean or warnings only, 1 with data errors, 2 when the log cannot be read.
    """
    settings = settings_from(configured(kwargs, "validate")[0])
    loaded = _load(settings, Progress(quiet=True))
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
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors (for cron).")
@click.option(
    "--to",
    metavar="FILE.xlsx",
    help="Write the generated tabs into this companion workbook (made when missing) and only "
    "read LOG, which may stay open in Excel.",
)
@click.option(
    "--all",
    "all_logs",
    is_flag=True,
    help="Run every [[logs]] entry of caseloop.toml in turn (exit 0 all written, 4 some, 2 none).",
)
@handle_errors
def sync(
    output: str | None,
    dry_run: bool,
    status_tab: str | None,
    quiet: bool,
    to: str | None,
    all_logs: bool,
    **kwargs: Any,
) -> str | None:
    """Validate, judge every case and write the colour-coded Status tab.

    Exit 0 when written (rows that cannot be judged show as INVALID), 2 when nothing was written;
    with --all, 4 when some logs were written and others not.
    """
    from .engine import status_model, write
    from .render import flag_counts

    if all_logs:
        run_all(sync, quiet)
        return None
    progress = Progress(quiet)
    values, own = configured({**kwargs, "status_tab": status_tab, "to": to}, "sync")
    status_tab = own["status_tab"]
    settings = settings_from({**values, "output": output})
    loaded = _load(settings, progress, for_writing=not dry_run)
    lang = loaded.lang
    progress(f"judging {len(loaded.frame.cases)} cases ...")
    model, view = status_model(loaded, settings, status_tab)
    counts = _say(lang, "count_separator").join(
        f"{label} {n}" for label, n in flag_counts(view, settings.rules, settings.labels, lang)
    )
    if dry_run:
        # With --to the tab would go into the companion workbook, not the log.
        where = str(getattr(loaded.workbook, "to", None) or loaded.workbook.location)
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
    progress(f"writing the {model.title!r} tab ...")
    result = write(loaded, [model])
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
        _tell_backup(click.echo, result.backup, lang)
        if view.invalid_rows:
            click.echo(_say(lang, "invalid_hint", n=view.invalid_rows, log=settings.log))
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
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors (for cron).")
@click.option(
    "--to",
    metavar="FILE.xlsx",
    help="Write the generated tabs into this companion workbook (made when missing) and only "
    "read LOG, which may stay open in Excel.",
)
@click.option(
    "--all",
    "all_logs",
    is_flag=True,
    help="Run every [[logs]] entry of caseloop.toml in turn (exit 0 all written, 4 some, 2 none).",
)
@handle_errors
def report(
    week: str | None,
    output: str | None,
    markdown_path: str | None,
    report_tab: str | None,
    quiet: bool,
    to: str | None,
    all_logs: bool,
    **kwargs: Any,
) -> str | None:
    """Write the Weekly Summary tab: 12 weeks of numbers, breakdowns, backlog and a chart.

    With --markdown the same report is written as Markdown; a .csv log can only do that.
    Exit 0 when written, 2 when nothing was written; with --all, 4 when some logs were written.
    """
    from .engine import check_markdown_path, weekly, weekly_model, weekly_text, write
    from .render import week_label

    if all_logs:
        run_all(report, quiet)
        return None
    progress = Progress(quiet)
    values, own = configured({**kwargs, "report_tab": report_tab, "to": to}, "report")
    report_tab = own["report_tab"]
    settings = settings_from({**values, "output": output})
    check_markdown_path(markdown_path, settings.log, output)  # before the tab is written
    loaded = _load(settings, progress, for_writing=True)
    progress(f"computing the weekly report from {len(loaded.frame.cases)} cases ...")
    result = weekly(loaded, settings, week)
    read_only, lang = loaded.workbook.read_only, loaded.lang
    line = ""
    if read_only and not markdown_path:
        raise CaseloopError.said("csv_no_tabs", location=loaded.workbook.location)
    # With the Markdown on stdout, everything else goes to stderr so the two do not mix.
    say = functools.partial(click.echo, err=markdown_path == "-")
    if not read_only:
        model = weekly_model(result, settings, report_tab, lang)
        progress(f"writing the {model.title!r} tab ...")
        written = write(loaded, [model])
        week = week_label(result.week, settings.labels, lang)
        line = _say(lang, "wrote_report", title=model.title, week=week, target=written.target)
        if not quiet:
            say(line)
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


def _load(settings: Settings, progress: Progress, for_writing: bool = False) -> Loaded:
    """Read the log (with progress) and pass on any warning about the credentials."""
    from .engine import close, load

    progress(f"reading {settings.log} ...")
    loaded = load(settings, for_writing=for_writing)
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
