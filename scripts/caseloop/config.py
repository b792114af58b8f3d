"""The rules and the labels from ``sheets_schema/`` (data, not code): flags, categories, vocabularies."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from .datafiles import (
    DEFAULT_LABELS,
    DEFAULT_RULES,
    RULES_CHECK,
    check_problems,
    load_yaml,
    refuse_problems,
    shown_value,
)
from .errors import CaseloopError
from .schema import Schema, normalize_label

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
# The flags a sync announces when notify.on is not in the rules file (alerts).
DEFAULT_NOTIFY_ON = (
    "DEADLINE",
    "ESCALATE",
    "DUPLICATE",
    "REOPEN",
    "OVERDUE",
    "OUR TURN",
    "INVALID",
)
# The years --now and --week may name: every span caseloop computes from them (12 weeks back,
# windows of up to 10 years, a day of time-zone offset) stays inside what pandas' nanosecond
# timestamps hold (1677-09-21 to 2262-04-11).
FIRST_YEAR, LAST_YEAR = 1900, 2199


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
    # column name → {normalized word → the canonical values it could mean} (物流: FBA shipment
    # or Orders & returns): a warning that asks which, never a silent guess.
    ambiguous: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    # Alerts (notify.on, quiet_hours, owners): the flags sync announces, the team-time window
    # that holds them (start, end; None for none) and Owner → chat handle.
    notify_on: tuple[str, ...] = DEFAULT_NOTIFY_ON
    quiet_hours: tuple[dt.time, dt.time] | None = None
    owners: dict[str, str] = field(default_factory=dict)
    # History (issue 13): days of changes the History tab keeps.
    history_keep_days: float = 400.0
    # The Answers tab: how alike two Summaries must be (0-100) to be one problem; with a shared
    # ASIN, Order ID or Shipment ID, the lower bar.
    answer_similarity: float = 70.0
    answer_same_id_similarity: float = 60.0

    def allowed(self, column: str) -> list[str]:
        """The canonical values of an enum column, for messages."""
        return list(self.zh_labels[column])


@dataclass(frozen=True)
class Labels:
    raw: dict[str, Any] = field(default_factory=dict)

    def get(self, group: str, key: str, lang: str) -> str:
        entry = self.raw[group][key]
        return entry.get(lang) or entry["en"]


def _rules_path_name(path: list[Any]) -> str:
    return ".".join(str(k) for k in path)


def _vocab(
    entries: dict[str, dict[str, Any] | None], words: dict[str, Any] | None = None
) -> tuple[dict[str, str], dict[str, str]]:
    """normalized label → canonical value, and canonical value → Chinese label.

    ``words`` (marketplace_words) are put before and after every name (美国站, 亚马逊美国, US站);
    an entry's ``domain`` is read with or without www. and as its ending alone (.co.uk).
    """
    lookup: dict[str, str] = {}
    zh: dict[str, str] = {}
    before = [""] + [str(w) for w in (words or {}).get("before") or []]
    after = [""] + [str(w) for w in (words or {}).get("after") or []]
    for canonical, info in entries.items():
        info = info or {}
        zh_label = str(info.get("zh", canonical))
        zh[canonical] = zh_label
        names = [canonical, zh_label, *[str(a) for a in info.get("aliases") or []]]
        labels = [b + name + a for name in names for b in before for a in after]
        domain = info.get("domain")
        if domain:
            labels += [domain, "www." + domain, domain.removeprefix("amazon")]
        for label in labels:
            lookup.setdefault(normalize_label(label), canonical)
    return lookup, zh


def _ambiguous(
    path: Path, entries: dict[str, Any] | None, vocab: dict[str, dict[str, str]]
) -> dict[str, dict[str, tuple[str, ...]]]:
    """The words of each column that could mean several values; an alias of the team wins."""
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    for column, words in (entries or {}).items():
        for word, meanings in (words or {}).items():
            for value in meanings:
                if value not in vocab[column].values():
                    raise CaseloopError(
                        f"{path}: ambiguous.{column}.{word} names {shown_value(value)}, which is "
                        f"not a value of {column} in the rules file; use one of "
                        f"{', '.join(dict.fromkeys(vocab[column].values()))}."
                    )
            key = normalize_label(word)
            if key not in vocab[column]:
                out.setdefault(column, {})[key] = tuple(str(v) for v in meanings)
    return out


@cache
def load_rules(path: Path = DEFAULT_RULES) -> Rules:
    """The rules, every value checked first: a typo is named, never written into a workbook."""
    data = load_yaml(path, "rules", "rules")
    notify = data.get("notify")
    if isinstance(notify, dict) and True in notify and "on" not in notify:
        # YAML 1.1 reads the key on as true: notify.on is written the natural way.
        data["notify"] = {"on" if k is True else k: v for k, v in notify.items()}
    refuse_problems(
        path, check_problems(data, RULES_CHECK, _rules_path_name, " (see sheets_schema/rules.yaml)")
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
        ("Deadline Type", deadline_types),
    ):
        vocab[column], zh_labels[column] = _vocab(entries)
    vocab["Marketplace"], zh_labels["Marketplace"] = _vocab(
        data["marketplaces"], data.get("marketplace_words")
    )
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
        answer_similarity=float((data.get("answers") or {}).get("similarity", 70)),
        answer_same_id_similarity=float((data.get("answers") or {}).get("same_id_similarity", 60)),
        status_label_turns={
            name: info["turn"] for name, info in (label_entries or {}).items() if info
        },
        status_label_vocab=label_vocab,
        status_label_zh=label_zh,
        deadline_windows=windows,
        ambiguous=_ambiguous(path, data.get("ambiguous"), vocab),
        **_alert_settings(path, data),
        history_keep_days=float((data.get("history") or {}).get("keep_days", 400)),
    )


# -- alerts: notify.on, quiet_hours, owners ---------------------------------------------------

_QUIET = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–~]\s*(\d{1,2}):(\d{2})\s*$")


def _alert_settings(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    """notify.on in flag order, quiet_hours as two times, owners by name (already checked
    against the JSON Schema; a window of no length is named here)."""
    notify = data.get("notify") or {}
    wanted = notify.get("on") if "on" in notify else DEFAULT_NOTIFY_ON
    notify_on = tuple(flag for flag in FLAG_ORDER if flag in set(wanted or ()))
    quiet = None
    text = str(data.get("quiet_hours") or "").strip()
    if text:
        match = _QUIET.match(text)
        if match is None:  # the JSON Schema let it through: it cannot
            raise CaseloopError(f'{path}: quiet_hours is "{text}"; write it like "22:00-08:00".')
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        quiet = (dt.time(h1, m1), dt.time(h2, m2))
        if quiet[0] == quiet[1]:
            raise CaseloopError(
                f'{path}: quiet_hours "{text}" starts and ends at the same time; write a window '
                'such as "22:00-08:00", or leave it empty for none.'
            )
    owners = {str(k).strip(): str(v).strip() for k, v in (data.get("owners") or {}).items()}
    return {"notify_on": notify_on, "quiet_hours": quiet, "owners": owners}


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
                    f"{path}: deadline_types.{name}.window_hours names {shown_value(key)}, which is "
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
    return Labels(load_yaml(path, "labels", None, check="sheets_schema/labels.yaml"))
