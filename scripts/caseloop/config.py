"""Load the case-log schema, the rules and the labels from ``sheets_schema/`` (data, not code)."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import CaseloopError


def _schema_dir() -> Path:
    """The shipped defaults: package data when installed, the repo's own folder when not."""
    installed = Path(str(resources.files("caseloop"))) / "sheets_schema"
    if installed.is_dir():
        return installed
    # An editable install (a checkout): the repo's top-level folder, the one source.
    return Path(__file__).resolve().parents[2] / "sheets_schema"


SCHEMA_DIR = _schema_dir()
DEFAULT_SCHEMA = SCHEMA_DIR / "case_log.schema.json"
DEFAULT_RULES = SCHEMA_DIR / "rules.yaml"
DEFAULT_LABELS = SCHEMA_DIR / "labels.yaml"

FLAG_ORDER = (
    "INVALID",
    "DEADLINE",
    "ESCALATE",
    "OVERDUE",
    "OUR TURN",
    "NEEDS INFO",
    "DUE SOON",
    "ON TRACK",
    "RESOLVED",
)
CHANNELS = ("Case", "Phone", "Chat", "Email")
STATUSES = ("Open", "Resolved", "Closed")
PRIORITIES = ("High", "Normal", "Low")

_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_SPACES = re.compile(r"\s+")


def normalize_label(text: Any) -> str:
    """The form headers and labels are compared in: NFKC (full-width → ASCII), no zero-width
    characters, single spaces, case-folded."""
    text = unicodedata.normalize("NFKC", str(text))
    text = _INVISIBLE.sub("", text)
    return _SPACES.sub(" ", text).strip().casefold()


@dataclass(frozen=True)
class Field:
    name: str
    zh: str
    type: str  # "string" | "datetime" | "integer"
    required: bool
    aliases: tuple[str, ...]
    pattern: re.Pattern[str] | None = None
    minimum: int | None = None
    description: str = ""


@dataclass(frozen=True)
class Schema:
    fields: tuple[Field, ...]
    header_lookup: dict[str, str]  # normalized header text → canonical field name

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def required(self) -> list[str]:
        return [f.name for f in self.fields if f.required]


@dataclass(frozen=True)
class Category:
    name: str
    zh: str
    priority: str
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class FlagInfo:
    name: str
    zh: str
    color: str
    action: str
    action_zh: str
    font_color: str | None = None
    late_color: str | None = None


@dataclass(frozen=True)
class Rules:
    timezone: ZoneInfo
    reply_targets: dict[str, float]
    reply_targets_by_priority: dict[str, dict[str, float]]
    our_reply_hours: float
    due_soon_ratio: float
    deadline_warn_hours: float
    resolved_visible_days: float
    escalate_follow_ups: int
    max_open_hours: dict[str, float]
    recurring_window_days: float
    recurring_min_cases: int
    categories: dict[str, Category]
    flags: dict[str, FlagInfo]
    # column name → {normalized label → canonical English value}
    vocab: dict[str, dict[str, str]]
    # column name → {canonical English value → Chinese label}
    zh_labels: dict[str, dict[str, str]]

    def allowed(self, column: str) -> list[str]:
        """The canonical values of an enum column, for messages."""
        return list(self.zh_labels[column])


@dataclass(frozen=True)
class Labels:
    raw: dict[str, Any] = field(default_factory=dict)

    def get(self, group: str, key: str, lang: str) -> str:
        entry = self.raw[group][key]
        return entry.get(lang) or entry["en"]


def _read_text(path: Path, what: str, option: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CaseloopError(f"The {what} file {path} does not exist; check {option}.") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "it is not UTF-8 text"
        raise CaseloopError(f"Cannot read the {what} file {path}: {reason}.") from None


def _load_yaml(path: Path, what: str, option: str) -> dict[str, Any]:
    import yaml

    text = _read_text(path, what, option)
    try:
        # The C loader, where PyYAML was built with libyaml, reads the rules ten times faster.
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise CaseloopError(f"The {what} file {path} is not valid YAML{where}; fix it.") from None
    if not isinstance(data, dict):
        raise CaseloopError(f"The {what} file {path} must hold a mapping of settings.")
    return data


@cache
def load_schema(path: Path = DEFAULT_SCHEMA) -> Schema:
    text = _read_text(path, "schema", "--schema")
    try:
        data = json.loads(text)
        fields = []
        lookup: dict[str, str] = {}
        for raw in data["fields"]:
            constraints = raw.get("constraints", {})
            pattern = constraints.get("pattern")
            f = Field(
                name=raw["name"],
                zh=raw.get("zh", raw["name"]),
                type=raw["type"],
                required=bool(constraints.get("required", False)),
                aliases=tuple(raw.get("aliases", [])),
                pattern=re.compile(pattern) if pattern else None,
                minimum=constraints.get("minimum"),
                description=raw.get("description", ""),
            )
            fields.append(f)
            for label in (f.name, f.zh, *f.aliases):
                lookup.setdefault(normalize_label(label), f.name)
    except (ValueError, KeyError, TypeError, re.error) as exc:
        raise CaseloopError(
            f"The schema file {path} is not a valid caseloop Table Schema ({exc}); check --schema."
        ) from None
    return Schema(tuple(fields), lookup)


def _vocab(entries: dict[str, dict[str, Any]]) -> tuple[dict[str, str], dict[str, str]]:
    lookup: dict[str, str] = {}
    zh: dict[str, str] = {}
    for canonical, info in entries.items():
        info = info or {}
        zh_label = str(info.get("zh", canonical))
        zh[canonical] = zh_label
        labels = [canonical, zh_label, *[str(a) for a in info.get("aliases", [])]]
        # Chinese marketplace names are also written with 站 ("美国站").
        labels += [label + "站" for label in labels if re.search(r"[\u4e00-\u9fff]$", label)]
        for label in labels:
            lookup.setdefault(normalize_label(label), canonical)
    return lookup, zh


@cache
def load_rules(path: Path = DEFAULT_RULES) -> Rules:
    data = _load_yaml(path, "rules", "--rules")
    try:
        tz_name = data.get("timezone") or "Asia/Shanghai"
        try:
            tz = ZoneInfo(str(tz_name))
        except (ZoneInfoNotFoundError, ValueError):
            raise CaseloopError(
                f'The rules file {path} names the time zone "{tz_name}", which is unknown; '
                "use an IANA name such as Asia/Shanghai."
            ) from None
        targets = dict(data["reply_targets"])
        by_priority = targets.pop("by_priority", None) or {}
        esc = data.get("escalate", {})
        recurring = esc.get("recurring", {})
        categories = {
            name: Category(
                name=name,
                zh=str(info.get("zh", name)),
                priority=str(info.get("priority", "Normal")),
                evidence=tuple(info.get("evidence") or ()),
            )
            for name, info in data["categories"].items()
        }
        flags = {
            name: FlagInfo(
                name=name,
                zh=str(info.get("zh", name)),
                color=str(info["color"]),
                action=str(info["action"]),
                action_zh=str(info.get("action_zh", info["action"])),
                font_color=info.get("font_color"),
                late_color=info.get("late_color"),
            )
            for name, info in data["flags"].items()
        }
        missing_flags = [f for f in FLAG_ORDER if f not in flags]
        if missing_flags:
            raise CaseloopError(
                f"The rules file {path} has no entry for the flag(s) {', '.join(missing_flags)}."
            )
        vocab: dict[str, dict[str, str]] = {}
        zh_labels: dict[str, dict[str, str]] = {}
        category_entries = {
            name: {"zh": c.zh, "aliases": data["categories"][name].get("aliases", [])}
            for name, c in categories.items()
        }
        for column, entries in (
            ("Category", category_entries),
            ("Channel", data["channels"]),
            ("Status", data["statuses"]),
            ("Priority", data["priorities"]),
            ("Marketplace", data["marketplaces"]),
        ):
            vocab[column], zh_labels[column] = _vocab(entries)
        rules = Rules(
            timezone=tz,
            reply_targets={k: float(v) for k, v in targets.items()},
            reply_targets_by_priority={
                p: {k: float(v) for k, v in (m or {}).items()} for p, m in by_priority.items()
            },
            our_reply_hours=float(data.get("our_reply_hours", 24)),
            due_soon_ratio=float(data.get("due_soon_ratio", 0.75)),
            deadline_warn_hours=float(data.get("deadline_warn_hours", 48)),
            resolved_visible_days=float(data.get("resolved_visible_days", 7)),
            escalate_follow_ups=int(esc.get("follow_ups", 2)),
            max_open_hours={k: float(v) for k, v in esc.get("max_open_hours", {}).items()},
            recurring_window_days=float(recurring.get("window_days", 30)),
            recurring_min_cases=int(recurring.get("min_cases", 3)),
            categories=categories,
            flags=flags,
            vocab=vocab,
            zh_labels=zh_labels,
        )
    except CaseloopError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CaseloopError(
            f"The rules file {path} is missing or has a wrong setting ({exc}); "
            "compare it with sheets_schema/rules.yaml."
        ) from None
    for channel in CHANNELS:
        if channel not in rules.reply_targets:
            raise CaseloopError(f"The rules file {path} has no reply target for {channel}.")
    return rules


@cache
def load_labels(path: Path = DEFAULT_LABELS) -> Labels:
    return Labels(_load_yaml(path, "labels", "sheets_schema/labels.yaml"))
