"""Load the case-log schema, the rules and the labels from ``sheets_schema/`` (data, not code)."""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import CaseloopError, OptionError


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
# JSON Schemas of what caseloop reads from the two settings files, checked on load.
RULES_CHECK = SCHEMA_DIR / "checks" / "rules.json"
SCHEMA_CHECK = SCHEMA_DIR / "checks" / "case_log.json"

FLAG_ORDER = (
    "INVALID",
    "DEADLINE",
    "ESCALATE",
    "DUPLICATE",
    "REOPEN",
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
# The years --now and --week may name: every span caseloop computes from them (12 weeks back,
# windows of up to 10 years, a day of time-zone offset) stays inside what pandas' nanosecond
# timestamps hold (1677-09-21 to 2262-04-11).
FIRST_YEAR, LAST_YEAR = 1900, 2199
# The columns the code computes with, and the type it reads each as: a schema must keep them.
CORE_FIELDS = {
    "Case ID": "string",
    "Marketplace": "string",
    "Category": "string",
    "Channel": "string",
    "Priority": "string",
    "Status": "string",
    "Opened At": "datetime",
    "Last Sent At": "datetime",
    "First Reply At": "datetime",
    "Last Reply At": "datetime",
    "Follow-ups": "integer",
    "Resolved At": "datetime",
    "Deadline": "datetime",
    "Order ID": "string",
    "ASIN": "string",
    "Shipment ID": "string",
    "Related Cases": "string",
    "Owner": "string",
    "Resolution": "string",
}
# What the code asks of some columns, named in the schema by a field's "role", with the type the
# code reads that field as: each role is on exactly one field.
ROLES = {
    "case-id": "string",  # the case's ID: folded, checked for Amazon's form, unique
    "opened": "datetime",  # when the case was opened: tells cases from totals lines
    "status": "string",  # Open, Resolved or Closed
    # The events of a case: none before it was opened, none in the future.
    "last-sent": "datetime",
    "first-reply": "datetime",
    "last-reply": "datetime",
    "resolved": "datetime",
    "resolution": "string",  # how it ended
    "related": "string",  # IDs of other cases
}
# A schema written before roles existed names none: its core fields take them by name.
DEFAULT_ROLE_FIELDS = {
    "case-id": "Case ID",
    "opened": "Opened At",
    "status": "Status",
    "last-sent": "Last Sent At",
    "first-reply": "First Reply At",
    "last-reply": "Last Reply At",
    "resolved": "Resolved At",
    "resolution": "Resolution",
    "related": "Related Cases",
}

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
    role: str | None = None  # see ROLES
    example: str | None = None  # a value of the right form, for messages
    enum_codes: bool = False  # enum values are codes read alike in any language (US, DE)


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
    # Columns needed on top of ``evidence`` when the case has this Deadline Type (from the
    # playbook, e.g. a Payments case with a Chargeback deadline needs its Order ID).
    evidence_by_deadline: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class FlagInfo:
    name: str
    zh: str
    color: str
    action: str
    action_zh: str
    font_color: str | None = None
    late_color: str | None = None
    action_passed: str | None = None  # DEADLINE once it has passed
    action_passed_zh: str | None = None


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
    after_live_answer_hours: float = 24.0
    reopen_window_days: float = 14.0
    # Seller Central's status label → whose turn it says ("us" or "amazon").
    status_label_turns: dict[str, str] = field(default_factory=dict)
    # normalized text → Seller Central label (English), and label → its Chinese words.
    status_label_vocab: dict[str, str] = field(default_factory=dict)
    status_label_zh: dict[str, str] = field(default_factory=dict)
    # Deadline Type → {marketplace or "default" → hours from Opened At}; types without a window
    # are absent.
    deadline_windows: dict[str, dict[str, float]] = field(default_factory=dict)

    def allowed(self, column: str) -> list[str]:
        """The canonical values of an enum column, for messages."""
        return list(self.zh_labels[column])


@dataclass(frozen=True)
class Labels:
    raw: dict[str, Any] = field(default_factory=dict)

    def get(self, group: str, key: str, lang: str) -> str:
        entry = self.raw[group][key]
        return entry.get(lang) or entry["en"]


def _read_text(path: Path, what: str, setting: str | None, check: str = "{option}") -> str:
    """The file's text. ``setting`` names the file (the CLI spells its option where ``check``
    says ``{option}``); None for a file no option names, where ``check`` says what to check."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        message = f"The {what} file {path} does not exist; check {check}."
        if setting is None:
            raise CaseloopError(message) from None
        raise OptionError(setting, message) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "it is not UTF-8 text"
        raise CaseloopError(f"Cannot read the {what} file {path}: {reason}.") from None


def _load_yaml(
    path: Path, what: str, setting: str | None, check: str = "{option}"
) -> dict[str, Any]:
    import yaml

    text = _read_text(path, what, setting, check)
    # The C loader, where PyYAML was built with libyaml, reads the rules ten times faster.
    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(base):  # type: ignore[misc, valid-type]
        """Refuses a key written twice in one mapping: YAML would keep the last silently."""

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                    continue
                key = self.construct_object(key_node)
                line = key_node.start_mark.line + 1
                if key in seen:
                    raise CaseloopError(
                        f"{path}: {_shown(key)} is written twice, at lines {seen[key]} and "
                        f"{line}; keep one."
                    )
                seen[key] = line
            return super().construct_mapping(node, deep)

    try:
        data = yaml.load(text, Loader=Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise CaseloopError(f"The {what} file {path} is not valid YAML{where}; fix it.") from None
    if not isinstance(data, dict):
        raise CaseloopError(f"The {what} file {path} must hold a mapping of settings.")
    return data


# -- checking a settings file against its JSON Schema ------------------------------------------


def _finite(validator: Any, wanted: bool, instance: Any, schema: dict[str, Any]) -> Iterable[Any]:
    """``x-finite``: .nan compares as neither too small nor too large, so bounds miss it."""
    from jsonschema import ValidationError

    if wanted and validator.is_type(instance, "number") and not math.isfinite(instance):
        yield ValidationError(f"{instance!r} is not a finite number")


def _is_zone(value: object) -> bool:
    if isinstance(value, str):
        ZoneInfo(value)
    return True


def _is_regex(value: object) -> bool:
    if isinstance(value, str):
        re.compile(value)
    return True


@cache
def _validator(check: Path) -> Any:
    """A JSON Schema validator for one settings file, with caseloop's two extra checks."""
    from jsonschema import Draft202012Validator, FormatChecker, validators

    formats = FormatChecker(formats=())
    formats.checks("iana-time-zone", raises=(ZoneInfoNotFoundError, ValueError, OSError))(_is_zone)
    formats.checks("python-regex", raises=re.error)(_is_regex)
    checker = validators.extend(Draft202012Validator, {"x-finite": _finite})
    return checker(json.loads(check.read_text(encoding="utf-8")), format_checker=formats)


def _shown(value: Any) -> str:
    """A value the way the person typed it, near enough: quoted text, YAML's words."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if value != value else (".inf" if value > 0 else "-.inf")
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return f'"{value}"' if value else "empty"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f'"{value}"'


def _position(data: Any, path: list[Any]) -> tuple[int, ...]:
    """Where ``path`` is in the file (the order keys were written in), to report the first."""
    where: list[int] = []
    node = data
    for key in path:
        if isinstance(node, dict) and key in node:
            where.append(list(node).index(key))
        elif isinstance(node, list) and isinstance(key, int) and key < len(node):
            where.append(key)
        else:
            where.append(-1)
            break
        node = node[key]
    return tuple(where)


def _problems(
    data: Any, check: Path, name_path: Callable[[list[Any]], str], see: str
) -> list[tuple[tuple[int, ...], str]]:
    """Every value of ``data`` that does not fit ``check``: (position, sentence), one per key."""
    found: dict[tuple[Any, ...], tuple[tuple[int, ...], str]] = {}
    for error in _validator(check).iter_errors(data):
        path = list(error.absolute_path)
        keyword = error.validator
        advice = error.schema.get("x-advice") if isinstance(error.schema, dict) else None
        if "propertyNames" in error.absolute_schema_path:
            # The key itself is wrong ("Urgent" among priorities, YAML's false for NO).
            key = error.instance
            text = f"{name_path(path) or 'the file'} names {_shown(key)}; {advice}"
            path = [*path, key]
        elif keyword == "additionalProperties":
            known = error.schema.get("properties", {})
            key = next(k for k in error.instance if k not in known)
            path = [*path, key]
            text = (
                f"{name_path(path)} is not a setting caseloop knows; remove it or correct its "
                f"name (the settings here are {', '.join(known)})"
            )
        elif keyword == "required":
            # One error per missing key, and it does not say which: name each of them here.
            for key in error.validator_value:
                if key not in error.instance:
                    text = f"{name_path(path) or 'the file'} has no {key}; add it{see}"
                    found.setdefault(
                        (*map(str, path), str(key)), (_position(data, [*path, key]), text)
                    )
            continue
        elif keyword in ("minProperties", "minItems") and "x-empty" in error.schema:
            text = f"{name_path(path)} is empty; {error.schema['x-empty']}"
        else:
            text = f"{name_path(path) or 'the file'} is {_shown(error.instance)}; {advice or error.message}"
        # One problem per key: ".inf" is both too large and not finite.
        found.setdefault(tuple(map(str, path)), (_position(data, path), text))
    return sorted(found.values(), key=lambda p: p[0])


def _refuse_problems(path: Path, problems: list[tuple[tuple[int, ...], str]]) -> None:
    if not problems:
        return
    more = len(problems) - 1
    tail = f" (and {more} more problem{'s' if more > 1 else ''} in the file)" if more else ""
    raise CaseloopError(f"{path}: {problems[0][1]}{tail}.")


def _rules_path_name(path: list[Any]) -> str:
    return ".".join(str(k) for k in path)


def _schema_path_name(fields: Any) -> Callable[[list[Any]], str]:
    """``fields[11] ("Follow-ups").type``: the index JSON needs and the name people know."""

    def name(path: list[Any]) -> str:
        text = ""
        for i, key in enumerate(path):
            if isinstance(key, int):
                text += f"[{key}]"
                if i == 1 and isinstance(fields, list) and isinstance(fields[key], dict):
                    field_name = fields[key].get("name")
                    if isinstance(field_name, str) and field_name:
                        text += f' ("{field_name}")'
            else:
                text += f".{key}" if text else str(key)
        return text

    return name


@cache
def load_schema(path: Path = DEFAULT_SCHEMA) -> Schema:
    text = _read_text(path, "schema", "schema")
    try:
        data = json.loads(text)
    except ValueError as exc:
        where = f" at line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise CaseloopError(f"The schema file {path} is not valid JSON{where}; fix it.") from None
    if not isinstance(data, dict):
        raise CaseloopError(
            f"The schema file {path} must hold a JSON object with a list of fields."
        )
    _refuse_problems(path, _problems(data, SCHEMA_CHECK, _schema_path_name(data.get("fields")), ""))
    # The check above proved "fields" a list of objects, each with a name and a type.
    raw_fields: list[dict[str, Any]] = data["fields"]
    names = [raw["name"] for raw in raw_fields]
    for name in names:
        if names.count(name) > 1:
            raise CaseloopError(f'{path}: the field "{name}" is listed twice; keep one.')
    types = {raw["name"]: raw["type"] for raw in raw_fields}
    for name, wanted in CORE_FIELDS.items():
        if name not in types:
            raise CaseloopError(
                f'{path}: fields has no field "{name}"; caseloop needs it (type {wanted}), '
                "see sheets_schema/case_log.schema.json."
            )
        if types[name] != wanted:
            raise CaseloopError(
                f'{path}: the field "{name}" has type {types[name]}; caseloop reads it as '
                f"{wanted}, see sheets_schema/case_log.schema.json."
            )
    roles = [raw.get("role") for raw in raw_fields or ()]
    if not any(roles):
        by_name = {name: role for role, name in DEFAULT_ROLE_FIELDS.items()}
        roles = [by_name.get(name) for name in names]
        raw_fields = [
            {**raw, "role": role} if role else raw
            for raw, role in zip(raw_fields, roles, strict=True)
        ]
    for role, wanted in ROLES.items():
        having = [n for n, r in zip(names, roles, strict=True) if r == role]
        if len(having) != 1 or types[having[0]] != wanted:
            raise CaseloopError(
                f'{path}: {_role_holders(having)} the role "{role}"; caseloop needs it on one '
                f"field of type {wanted}, see sheets_schema/case_log.schema.json."
            )
    fields = []
    lookup: dict[str, str] = {}
    for raw in raw_fields:
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
            role=raw.get("role"),
            example=raw.get("example"),
            enum_codes=bool(raw.get("x-enum-codes", False)),
        )
        fields.append(f)
        for label in (f.name, f.zh, *f.aliases):
            lookup.setdefault(normalize_label(label), f.name)
    return Schema(tuple(fields), lookup)


def _role_holders(names: list[str]) -> str:
    if not names:
        return "no field has"
    return " and ".join(f'"{n}"' for n in names) + (" have" if len(names) > 1 else " has")


def _vocab(entries: dict[str, dict[str, Any] | None]) -> tuple[dict[str, str], dict[str, str]]:
    lookup: dict[str, str] = {}
    zh: dict[str, str] = {}
    for canonical, info in entries.items():
        info = info or {}
        zh_label = str(info.get("zh", canonical))
        zh[canonical] = zh_label
        labels = [canonical, zh_label, *[str(a) for a in info.get("aliases") or []]]
        # Chinese marketplace names are also written with 站 ("美国站").
        labels += [label + "站" for label in labels if re.search(r"[\u4e00-\u9fff]$", label)]
        for label in labels:
            lookup.setdefault(normalize_label(label), canonical)
    return lookup, zh


@cache
def load_rules(path: Path = DEFAULT_RULES) -> Rules:
    """The rules, every value checked first: a typo is named, never written into a workbook."""
    data = _load_yaml(path, "rules", "rules")
    _refuse_problems(
        path, _problems(data, RULES_CHECK, _rules_path_name, " (see sheets_schema/rules.yaml)")
    )
    targets = dict(data["reply_targets"])
    by_priority = targets.pop("by_priority", None) or {}
    esc = data.get("escalate") or {}
    recurring = esc.get("recurring") or {}
    categories = {}
    for name, info in data["categories"].items():
        info = info or {}
        categories[name] = Category(
            name=name,
            zh=info.get("zh", name),
            priority=info.get("priority", "Normal"),
            evidence=tuple(info.get("evidence") or ()),
        )
    flags = {
        name: FlagInfo(
            name=name,
            zh=info.get("zh", name),
            color=info["color"],
            action=info["action"],
            action_zh=info.get("action_zh", info["action"]),
            font_color=info.get("font_color"),
            late_color=info.get("late_color"),
            action_passed=info.get("action_passed"),
            action_passed_zh=info.get("action_passed_zh", info.get("action_passed")),
        )
        for name, info in data["flags"].items()
    }
    vocab: dict[str, dict[str, str]] = {}
    zh_labels: dict[str, dict[str, str]] = {}
    category_entries: dict[str, dict[str, Any] | None] = {
        name: {"zh": c.zh, "aliases": (data["categories"][name] or {}).get("aliases")}
        for name, c in categories.items()
    }
    statuses, label_entries = _status_entries(data["statuses"])
    deadline_types = data.get("deadline_types") or DEFAULT_DEADLINE_TYPES
    for column, entries in (
        ("Category", category_entries),
        ("Channel", data["channels"]),
        ("Status", statuses),
        ("Priority", data["priorities"]),
        ("Marketplace", data["marketplaces"]),
        ("Deadline Type", deadline_types),
    ):
        vocab[column], zh_labels[column] = _vocab(entries)
    label_vocab, label_zh = _vocab(label_entries)
    windows = _deadline_windows(path, deadline_types, set(data["marketplaces"]))
    return Rules(
        timezone=ZoneInfo(data.get("timezone", "Asia/Shanghai")),
        reply_targets={k: float(v) for k, v in targets.items()},
        reply_targets_by_priority={
            p: {k: float(v) for k, v in (m or {}).items()} for p, m in by_priority.items()
        },
        our_reply_hours=float(data.get("our_reply_hours", 24)),
        due_soon_ratio=float(data.get("due_soon_ratio", 0.75)),
        deadline_warn_hours=float(data.get("deadline_warn_hours", 48)),
        resolved_visible_days=float(data.get("resolved_visible_days", 7)),
        escalate_follow_ups=int(esc.get("follow_ups", 2)),
        max_open_hours={k: float(v) for k, v in (esc.get("max_open_hours") or {}).items()},
        recurring_window_days=float(recurring.get("window_days", 30)),
        recurring_min_cases=int(recurring.get("min_cases", 3)),
        categories=categories,
        flags=flags,
        vocab=vocab,
        zh_labels=zh_labels,
        after_live_answer_hours=float(data.get("after_live_answer_hours", 24)),
        reopen_window_days=float(data.get("reopen_window_days", 14)),
        status_label_turns={
            name: info["turn"] for name, info in (label_entries or {}).items() if info
        },
        status_label_vocab=label_vocab,
        status_label_zh=label_zh,
        deadline_windows=windows,
    )


# A rules file written before Deadline Type existed still reads the column: the types, no windows.
DEFAULT_DEADLINE_TYPES: dict[str, Any] = {
    name: None for name in ("A-to-z", "Chargeback", "Reimbursement claim", "Appeal", "Other")
}


def _status_entries(
    entries: dict[str, Any],
) -> tuple[dict[str, dict[str, Any] | None], dict[str, Any]]:
    """The statuses with every Seller Central label of Open (and its words) as an alias of Open,
    and those labels on their own."""
    labels = dict((entries.get("Open") or {}).get("labels") or {})
    statuses: dict[str, dict[str, Any] | None] = {}
    for name, info in entries.items():
        info = dict(info or {})
        info.pop("labels", None)
        if name == "Open":
            words = [
                str(w)
                for label, label_info in labels.items()
                for w in (
                    label,
                    (label_info or {}).get("zh"),
                    *((label_info or {}).get("aliases") or []),
                )
                if w
            ]
            info["aliases"] = [*(info.get("aliases") or []), *words]
        statuses[name] = info
    return statuses, labels


def _deadline_windows(
    path: Path, types: dict[str, Any], marketplaces: set[str]
) -> dict[str, dict[str, float]]:
    """Each Deadline Type's window by marketplace; a marketplace the rules do not list is named."""
    windows: dict[str, dict[str, float]] = {}
    for name, info in types.items():
        hours = (info or {}).get("window_hours") or {}
        for key in hours:
            if key != "default" and key not in marketplaces:
                raise CaseloopError(
                    f"{path}: deadline_types.{name}.window_hours names {_shown(key)}, which is "
                    "not a marketplace of the rules file; use default or a code under "
                    "marketplaces (US, UK ...)."
                )
        if hours:
            windows[name] = {k: float(v) for k, v in hours.items()}
    return windows


def check_rules_fit_schema(
    rules: Rules, rules_path: Path, schema: Schema, schema_path: Path
) -> None:
    """The rules name only columns the schema has (a category's evidence)."""
    columns = [f.name for f in schema.fields]
    for name, category in rules.categories.items():
        for column in category.evidence:
            if column not in columns:
                raise CaseloopError(
                    f'{rules_path}: categories.{name}.evidence names "{column}", which is not a '
                    f"column of the case-log schema {schema_path}; use one of {', '.join(columns)}."
                )


@cache
def load_labels(path: Path = DEFAULT_LABELS) -> Labels:
    return Labels(_load_yaml(path, "labels", None, check="sheets_schema/labels.yaml"))
