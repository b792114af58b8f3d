"""The playbook (``sheets_schema/playbook.yaml``): the next action per flag and category, checked on load."""

from __future__ import annotations

import string
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

from .config import FLAG_ORDER, Rules
from .datafiles import SCHEMA_DIR, check_problems, load_yaml, refuse_problems
from .errors import CaseloopError

DEFAULT_PLAYBOOK = SCHEMA_DIR / "playbook.yaml"
PLAYBOOK_CHECK = SCHEMA_DIR / "checks" / "playbook.json"

# Every flag a Next action is asked for: all of them.
PLAYBOOK_FLAGS = FLAG_ORDER
DEADLINE_KINDS = ("A-to-z", "Chargeback", "Reimbursement claim", "Appeal", "Other")
# What views.py fills in (str.format_map): a sentence naming anything else would raise there.
PLACEHOLDERS = ("case_id", "related_ids", "duplicate_of", "promised_by", "deadline", "passed_for")
# The flags whose sentence ends with the category's reminders: the message we write next.
REMIND_FLAGS = ("NEEDS INFO", "OUR TURN")


@dataclass(frozen=True)
class Playbook:
    raw: dict[str, Any] = field(default_factory=dict)
    path: Path = DEFAULT_PLAYBOOK


def _fields(text: str) -> list[str]:
    """The placeholder names in ``text``; ValueError for a lone brace or a format spec."""
    names = []
    for _, name, spec, conversion in string.Formatter().parse(text):
        if name is None:
            continue
        if spec or conversion:
            raise ValueError(f"{{{name}}} with a format")
        names.append(name)
    return names


def _sentences(node: Any, path: list[str]) -> list[tuple[list[str], str]]:
    """Every text of the file with where it is, e.g. (["flags", "OVERDUE", "en"], "Follow…")."""
    if isinstance(node, str):
        return [(path, node)]
    if isinstance(node, dict):
        found: list[tuple[list[str], str]] = []
        for key, value in node.items():
            if path[:1] == ["categories"] and key in ("check", "check_by_deadline"):
                continue  # column names, not sentences
            found += _sentences(value, [*path, str(key)])
        return found
    if isinstance(node, list):
        return [s for i, item in enumerate(node) for s in _sentences(item, [*path, str(i)])]
    return []


def _check_sentences(path: Path, data: dict[str, Any]) -> None:
    allowed = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
    for where, text in _sentences(data, []):
        key = ".".join(where)
        own = ("items",) if where[:1] == ["have_ready"] else PLACEHOLDERS
        try:
            names = _fields(text)
        except ValueError:
            raise CaseloopError(
                f"{path}: {key} has a brace caseloop cannot read; write placeholders as "
                f"{allowed} and no other braces."
            ) from None
        unknown = [n for n in names if n not in own]
        if unknown:
            shown = ", ".join("{" + n + "}" for n in own)
            raise CaseloopError(
                f"{path}: {key} names {{{unknown[0]}}}; a sentence there may use only {shown}."
            )


def _check_actions(path: Path, data: dict[str, Any]) -> None:
    """DEADLINE's override needs before and after; every other flag's needs en and zh."""
    for name, category in data["categories"].items():
        for flag, action in ((category or {}).get("actions") or {}).items():
            wanted = ("before", "after") if flag == "DEADLINE" else ("en", "zh")
            unwanted = ("en", "zh") if flag == "DEADLINE" else ("before", "after")
            key = f"categories.{name}.actions.{flag}"
            for part in unwanted:
                if part in action:
                    raise CaseloopError(
                        f"{path}: {key} has {part}; write {' and '.join(wanted)} there."
                    )
            for part in wanted:
                if part not in action:
                    raise CaseloopError(f"{path}: {key} has no {part}; add it.")


@cache
def load_playbook(path: Path = DEFAULT_PLAYBOOK) -> Playbook:
    """The playbook, every key and sentence checked first: a typo is named with its key."""
    data = load_yaml(path, "playbook", None, check="sheets_schema/playbook.yaml")
    refuse_problems(
        path,
        check_problems(
            data,
            PLAYBOOK_CHECK,
            lambda p: ".".join(str(k) for k in p),
            " (see sheets_schema/playbook.yaml)",
        ),
    )
    _check_sentences(path, data)
    _check_actions(path, data)
    return Playbook(raw=data, path=path)


def check_playbook_fits_rules(playbook: Playbook, rules: Rules, rules_path: Path) -> None:
    """The playbook names only categories the rules file has."""
    for name in playbook.raw["categories"]:
        if name not in rules.categories:
            raise CaseloopError(
                f'{playbook.path}: categories names "{name}", which is not a category of the '
                f"rules file {rules_path}; use one of {', '.join(rules.categories)}."
            )


def _say(sentence: dict[str, str], lang: str) -> str:
    return sentence["zh"] if lang == "zh" else sentence["en"]


def _category(playbook: Playbook, category: str | None) -> dict[str, Any]:
    categories = playbook.raw["categories"]
    if category in categories:
        return categories[category] or {}
    # A category the playbook does not list (a team's new one, or an unreadable cell).
    return categories.get("Other") or {}


def reminders(playbook: Playbook, category: str | None, lang: str) -> list[str]:
    """What caseloop cannot check but the message needs (screenshots, invoices, …)."""
    evidence = _category(playbook, category).get("evidence") or {}
    return [_say(item, lang) for item in evidence.get("remind") or ()]


def evidence_columns(
    playbook: Playbook, category: str | None, deadline_kind: str | None = None
) -> tuple[str, ...]:
    """The columns a case of ``category`` (with this deadline kind) should have filled."""
    evidence = _category(playbook, category).get("evidence") or {}
    columns = list(evidence.get("check") or ())
    for column in (evidence.get("check_by_deadline") or {}).get(deadline_kind, ()):
        if column not in columns:
            columns.append(column)
    return tuple(columns)


def escalation_route(playbook: Playbook, category: str | None, lang: str) -> str:
    return _say(_category(playbook, category)["escalation"], lang)


def recommended_channel(playbook: Playbook, category: str | None, lang: str) -> str:
    return _say(_category(playbook, category)["channel"], lang)


def next_action(
    playbook: Playbook,
    flag: str,
    category: str | None,
    lang: str,
    *,
    deadline_kind: str | None,
    deadline_passed: bool,
    channel: str | None,
    promised: bool = False,
) -> str:
    """The Next action sentence for a row; may hold the placeholders in ``PLACEHOLDERS``.

    ``promised``: Amazon said when it would answer (Promised By), for the "wait until" line.
    """
    if flag not in PLAYBOOK_FLAGS:
        raise CaseloopError(
            f"{playbook.path} has no Next action for the flag {flag!r}; "
            f"the flags are {', '.join(PLAYBOOK_FLAGS)}."
        )
    own = _category(playbook, category).get("actions") or {}
    when = "after" if deadline_passed else "before"
    deadlines = playbook.raw["deadlines"]
    if flag == "ESCALATE" and deadline_kind in deadlines and deadline_kind != "Other":
        # A claim with a deadline is answered on its own page (Performance › A-to-z Guarantee
        # Claims, Chargeback Claims…), not by a supervisor on a case: say where, and by when.
        return _say(deadlines[deadline_kind][when], lang)
    if flag == "DEADLINE":
        if deadline_kind in deadlines and deadline_kind != "Other":
            return _say(deadlines[deadline_kind][when], lang)
        if "DEADLINE" in own:
            return _say(own["DEADLINE"][when], lang)
        return _say(deadlines["Other"][when], lang)
    entry = playbook.raw["flags"][flag]
    if flag in own:
        sentence = _say(own[flag], lang)
    elif promised and "promised" in entry:
        sentence = _say(entry["promised"], lang)
    elif channel in (entry.get("by_channel") or {}):
        sentence = _say(entry["by_channel"][channel], lang)
    else:
        sentence = _say(entry, lang)
    if flag in REMIND_FLAGS:
        items = reminders(playbook, category, lang)
        if items:
            joined = ("；" if lang == "zh" else "; ").join(items)
            tail = _say(playbook.raw["have_ready"], lang).replace("{items}", joined)
            sentence = f"{sentence}{'' if lang == 'zh' else ' '}{tail}"
    return sentence


def with_deadline_evidence(rules: Rules, playbook: Playbook) -> Rules:
    """The rules with the playbook's evidence by deadline kind added to each category."""
    categories = dict(rules.categories)
    for name, entry in playbook.raw["categories"].items():
        by_kind = ((entry or {}).get("evidence") or {}).get("check_by_deadline") or {}
        if name in categories and by_kind:
            categories[name] = replace(
                categories[name],
                evidence_by_deadline={k: tuple(v) for k, v in by_kind.items()},
            )
    return replace(rules, categories=categories)
