"""caseloop.toml: where the scheduled job's logs are and how to run them, read with tomllib.

Not to be confused with ``config`` (the rules and labels files). A run's settings come from, in
order: a command-line option, the log's own ``[[logs]]`` entry, the file's top-level defaults,
an environment variable (credentials only), caseloop's default. ``resolve`` says which one
gave each value, for ``caseloop config``.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .backends import is_google
from .errors import CaseloopError

CONFIG_NAME = "caseloop.toml"
ENV_CONFIG = "CASELOOP_CONFIG"
ENV_CREDENTIALS = "GOOGLE_APPLICATION_CREDENTIALS"

# The settings a file may give, at the top (defaults for every log) or in a [[logs]] entry.
SETTINGS = (
    "lang",
    "notify",
    "credentials",
    "timezone",
    "status_tab",
    "report_tab",
    "to",
    "rules",
    "schema",
    "sheet",
    "owners",
)
TOP_KEYS = (*SETTINGS, "logs")
LOG_KEYS = ("name", "log", *SETTINGS)
# Settings that name a file: relative to the config file's folder when they come from it.
PATH_SETTINGS = ("credentials", "to", "rules", "schema")
TEXT_SETTINGS = ("lang", "timezone", "status_tab", "report_tab", "sheet", *PATH_SETTINGS)
LANGS = ("auto", "en", "zh")
DEFAULTS: dict[str, Any] = {
    "lang": "auto",
    "notify": (),
    "credentials": None,
    "timezone": None,
    "status_tab": None,
    "report_tab": None,
    "to": None,
    "rules": None,
    "schema": None,
    "sheet": None,
    "owners": {},
}
# A log entry's name is what `caseloop sync NAME` takes, so it must never read as a location.
_LOCATION_LIKE = re.compile(r"[/\\]|://|^gsheet:|\.(xlsx|xlsm|xls|csv)$", re.IGNORECASE)
_TOML_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


@dataclass(frozen=True)
class Value:
    """A setting in force and where it came from: option, file, env or default."""

    value: Any
    source: str
    where: str = ""  # --lang, caseloop.toml [[logs]] store-a, GOOGLE_APPLICATION_CREDENTIALS


@dataclass
class LogEntry:
    """One ``[[logs]]`` entry: its name, its log, and the settings it gives (paths resolved)."""

    name: str
    log: str
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunConfig:
    """A caseloop.toml read and checked; ``path`` None when there is none."""

    path: Path | None = None
    found_by: str = ""  # --config, CASELOOP_CONFIG or "the current folder"
    defaults: dict[str, Any] = field(default_factory=dict)
    logs: list[LogEntry] = field(default_factory=list)

    def entry(self, name: str) -> LogEntry | None:
        return next((entry for entry in self.logs if entry.name == name), None)

    @property
    def names(self) -> list[str]:
        return [entry.name for entry in self.logs]


def find_config(explicit: str | Path | None, cwd: Path | None = None) -> tuple[Path | None, str]:
    """The config file in force and how it was found: --config, else CASELOOP_CONFIG, else
    caseloop.toml in the current folder; (None, "") when there is none."""
    if explicit is not None:
        if not str(explicit).strip():
            raise CaseloopError.said("config_empty_option")
        path = Path(explicit)
        if not path.is_file():
            raise CaseloopError.said("config_missing", path=path, how="--config")
        return path, "--config"
    from_env = os.environ.get(ENV_CONFIG, "").strip()
    if from_env:
        path = Path(from_env)
        if not path.is_file():
            raise CaseloopError.said("config_missing", path=path, how=ENV_CONFIG)
        return path, ENV_CONFIG
    here = (cwd or Path.cwd()) / CONFIG_NAME
    if here.is_file():
        return Path(CONFIG_NAME) if cwd is None else here, "the current folder"
    return None, ""


def load_config(explicit: str | Path | None = None, cwd: Path | None = None) -> RunConfig:
    """The config in force (see ``find_config``), every key checked; an empty one if none."""
    path, found_by = find_config(explicit, cwd)
    if path is None:
        return RunConfig()
    return read_config(path, found_by)


def read_config(path: Path, found_by: str = "--config") -> RunConfig:
    """Read and check ``path``: one sentence naming the file (and line or key) on any slip."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        text = str(exc)
        at = _TOML_AT.search(text)
        problem = _TOML_AT.sub("", text).rstrip(".")
        raise CaseloopError.said(
            "config_syntax", path=path, line_number=at.group(1) if at else "?", problem=problem
        ) from None
    except UnicodeDecodeError:
        raise CaseloopError.said("config_not_text", path=path) from None
    except OSError as exc:
        raise CaseloopError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    base = path.parent
    _check_keys(path, data, TOP_KEYS, "")
    defaults = _settings(path, data, base, "")
    logs_data = data.get("logs", [])
    if not isinstance(logs_data, list) or not all(isinstance(e, dict) for e in logs_data):
        raise CaseloopError.said("config_logs_not_tables", path=path)
    logs: list[LogEntry] = []
    for number, raw in enumerate(logs_data, start=1):
        which = f"[[logs]] #{number}"
        _check_keys(path, raw, LOG_KEYS, which + " ")
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip():
            raise CaseloopError.said("config_no_name", path=path, which=which)
        name = name.strip()
        if _LOCATION_LIKE.search(name):
            raise CaseloopError.said("config_bad_name", path=path, name=name)
        if name in {entry.name for entry in logs}:
            raise CaseloopError.said("config_duplicate_name", path=path, name=name)
        where = f'[[logs]] "{name}" '
        location = raw.get("log")
        if not isinstance(location, str) or not location.strip():
            raise CaseloopError.said("config_no_log", path=path, name=name)
        location = location.strip()
        if not is_google(location):
            location = str(_relative_to(base, location))
        logs.append(LogEntry(name, location, _settings(path, raw, base, where)))
    return RunConfig(path=path, found_by=found_by, defaults=defaults, logs=logs)


def _check_keys(path: Path, data: Mapping[str, Any], known: tuple[str, ...], where: str) -> None:
    for key in data:
        if key in known:
            continue
        near = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        raise CaseloopError.said(
            "config_unknown_key",
            path=path,
            where=where,
            where_zh=where.strip(),
            setting=key,
            hint=f' (did you mean "{near[0]}"?)' if near else "",
            hint_zh=f"（是不是「{near[0]}」？）" if near else "",
            known=", ".join(known),
            known_zh="、".join(known),
        )


def _bad(path: Path, where: str, key: str, expected: str, expected_zh: str, value: Any) -> None:
    raise CaseloopError.said(
        "config_bad_value",
        path=path,
        setting=f"{where}{key}",
        expected=expected,
        expected_zh=expected_zh,
        value=repr(value),
    )


def _settings(path: Path, data: Mapping[str, Any], base: Path, where: str) -> dict[str, Any]:
    """The settings a table gives, checked, with file paths made relative to ``base``."""
    found: dict[str, Any] = {}
    for key in SETTINGS:
        if key not in data:
            continue
        value = data[key]
        if key in TEXT_SETTINGS:
            if not isinstance(value, str) or not value.strip():
                _bad(path, where, key, "a text in quotes", "带引号的文字", value)
            value = value.strip()
        if key == "lang" and value.lower() not in LANGS:
            _bad(path, where, key, "one of auto, en, zh", "auto、en、zh 之一", value)
        elif key == "lang":
            value = value.lower()
        elif key == "timezone":
            try:
                zoneinfo.ZoneInfo(value)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                _bad(
                    path,
                    where,
                    key,
                    'a time zone such as "Asia/Shanghai"',
                    "时区名称，如「Asia/Shanghai」",
                    value,
                )
        elif key == "notify":
            if isinstance(value, str):
                value = [value]  # one URL written without the brackets
            if not isinstance(value, list) or not all(
                isinstance(u, str) and u.strip() for u in value
            ):
                _bad(
                    path,
                    where,
                    key,
                    'a list of URLs, e.g. ["wecombot://KEY"]',
                    'URL 列表，如 ["wecombot://KEY"]',
                    value,
                )
            value = tuple(u.strip() for u in value)
        elif key == "owners":
            if not isinstance(value, dict) or not all(
                isinstance(v, str) and v.strip() for v in value.values()
            ):
                _bad(
                    path,
                    where,
                    key,
                    'a table of owner = "handle" lines',
                    '「负责人 = "账号"」形式的表',
                    value,
                )
            value = {str(k).strip(): v.strip() for k, v in value.items()}
        elif key in PATH_SETTINGS:
            value = str(_relative_to(base, value))
        found[key] = value
    return found


def _relative_to(base: Path, location: str) -> Path:
    path = Path(os.path.expanduser(location))
    return path if path.is_absolute() else base / path


def resolve(
    config: RunConfig,
    entry: LogEntry | None,
    options: Mapping[str, Any],
    env: Mapping[str, str] | None = None,
) -> dict[str, Value]:
    """Every setting in force for one run, with where it came from.

    ``options``: the settings given on the command line (only those given). Owners from the
    entry are added to the file's owners (a log's own handles win).
    """
    env = os.environ if env is None else env
    name = config.path.name if config.path else CONFIG_NAME
    top = f"{name} (top)"
    own = f'{name} [[logs]] "{entry.name}"' if entry else ""
    resolved: dict[str, Value] = {}
    for key in SETTINGS:
        if key in options and options[key] is not None:
            resolved[key] = Value(options[key], "option", "--" + key.replace("_", "-"))
        elif key == "owners" and (
            entry and "owners" in entry.values or "owners" in config.defaults
        ):
            merged = {
                **config.defaults.get("owners", {}),
                **(entry.values.get("owners", {}) if entry else {}),
            }
            resolved[key] = Value(
                merged, "file", own if entry and "owners" in entry.values else top
            )
        elif entry is not None and key in entry.values:
            resolved[key] = Value(entry.values[key], "file", own)
        elif key in config.defaults:
            resolved[key] = Value(config.defaults[key], "file", top)
        elif key == "credentials" and env.get(ENV_CREDENTIALS):
            # The Google backend reads it itself; shown so that `caseloop config` tells the truth.
            resolved[key] = Value(env[ENV_CREDENTIALS], "env", ENV_CREDENTIALS)
        else:
            resolved[key] = Value(DEFAULTS[key], "default")
    if "log" in options and options["log"] is not None:
        resolved["log"] = Value(options["log"], "option", "LOG")
    elif entry is not None:
        resolved["log"] = Value(entry.log, "file", own)
    return resolved


def mask_url(url: str) -> str:
    """A notify URL with its secret left out: the scheme and host of a web address; the
    scheme alone for a chat URL such as wecombot://KEY, whose "host" is the key itself."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        host, parts = None, None
    if parts is None or not parts.scheme:
        return "…"
    if parts.scheme.lower() in ("http", "https") and host:
        return f"{parts.scheme}://{host}/…"
    return f"{parts.scheme}://…"


def shown(key: str, value: Any) -> str:
    """How ``caseloop config`` prints a value: secrets masked (notify URLs)."""
    if value is None and key in ("rules", "schema"):
        return "built in (sheets_schema/)"
    if value is None or value == () or value == {}:
        return "-"
    if key == "notify":
        return ", ".join(mask_url(url) for url in value)
    if key == "owners":
        return ", ".join(f"{owner} → {handle}" for owner, handle in value.items())
    return str(value)


SOURCE_WORDS = {"option": "option", "file": "file", "env": "env", "default": "default"}


def describe(config: RunConfig, runs: list[tuple[LogEntry | None, dict[str, Value]]]) -> list[str]:
    """What ``caseloop config`` prints: the file, then each log's settings with their source."""
    if config.path is not None:
        how = (
            "found in the current folder"
            if config.found_by == "the current folder"
            else (f"named by {config.found_by}")
        )
        lines = [f"config file: {config.path} ({how})"]
    else:
        lines = [
            "config file: none (no --config, no CASELOOP_CONFIG, no caseloop.toml in the "
            "current folder)"
        ]
    width = max(len(key) for key in ("log", *SETTINGS))
    for entry, resolved in runs:
        lines.append("")
        lines.append(f'[[logs]] "{entry.name}"' if entry is not None else "this run")
        for key in ("log", *SETTINGS):
            value = resolved.get(key)
            if value is None:
                continue
            source = SOURCE_WORDS[value.source] + (f" {value.where}" if value.where else "")
            lines.append(f"  {key:<{width}} = {shown(key, value.value):<30} ({source})")
    return lines
