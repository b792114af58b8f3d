"""Message drafts: the templates of ``sheets_schema/templates/`` (sandboxed Jinja2), filled from a case."""

from __future__ import annotations

import re
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from jinja2 import FileSystemLoader, TemplateError, TemplateSyntaxError, Undefined, meta
from jinja2.filters import do_join
from jinja2.sandbox import SandboxedEnvironment

from .config import Rules
from .datafiles import SCHEMA_DIR, load_yaml
from .errors import CaseloopError
from .playbook import (
    Playbook,
    escalation_route,
    evidence_columns,
    recommended_channel,
    reminders,
)

TEMPLATES_DIR = SCHEMA_DIR / "templates"
SETTINGS_FILE = "templates.yaml"
# <situation>.<lang>.j2; a name starting with _ is a piece other templates include.
_NAME = re.compile(r"^(?P<kind>_?[a-z0-9]+(?:-[a-z0-9]+)*)\.(?P<lang>en|zh)\.j2$")
LANGS = ("en", "zh")

# The flags whose next action is a message to Amazon: their rows get a Draft on the Status tab
# (and a row not yet raised with Amazon gets its first contact).
DRAFT_FLAGS = ("DEADLINE", "ESCALATE", "DUPLICATE", "REOPEN", "OVERDUE")
# What a draft is for, by flag (``situation``), when no --kind is given.
BY_FLAG = {
    "ESCALATE": "escalate",
    "DUPLICATE": "merge",
    "REOPEN": "reopen",
    "OVERDUE": "follow-up",
    "OUR TURN": "keep-open",
    "NEEDS INFO": "needs-info",
    "DUE SOON": "follow-up",
    "ON TRACK": "follow-up",
    "DEADLINE": "follow-up",
}
# A claim with a deadline is answered on its Performance page with this text.
BY_DEADLINE = {"A-to-z": "a-to-z", "Chargeback": "chargeback"}
# An Amazon case ID: a row with another ID is one the team logged before raising it.
AMAZON_CASE_ID = re.compile(r"\d{8,12}")

# While a draft renders: the brackets of its fields and the ones printed (in order).
_STATE: ContextVar[tuple[dict[str, str], list[str]]] = ContextVar("caseloop_draft_state")


class _Bracketed(Undefined):
    """A field the row has no value for prints as its bracket ([order ID]) and is remembered,
    so the Notes can say what to fill; never a blank or "None"."""

    __slots__ = ()

    def __str__(self) -> str:
        name = self._undefined_name or "value"
        state = _STATE.get(None)
        if state is None:
            return f"[{name.replace('_', ' ')}]"
        brackets, printed = state
        text = brackets.get(name, f"[{name.replace('_', ' ')}]")
        if text not in printed:
            printed.append(text)
        return text


def _join(env: Any, value: Any, d: str = "", attribute: Any = None) -> str:
    # Joining a missing list would print nothing: print its bracket instead.
    if isinstance(value, Undefined):
        return str(value)
    return do_join(env, value, d, attribute)


_join.jinja_pass_arg = do_join.jinja_pass_arg  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Templates:
    """The message templates of a folder, every file checked on load."""

    folder: Path
    env: SandboxedEnvironment
    langs: dict[str, tuple[str, ...]]  # situation → the languages it has a template in
    fields: dict[str, dict[str, str]]  # field → {"en": bracket, "zh": bracket, "column": …}
    chinese_support: frozenset[str]
    internal: frozenset[str]
    situations: dict[str, str] = field(default_factory=dict)

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(self.langs)


@dataclass
class Draft:
    kind: str
    lang: str
    text: str
    missing: list[str]  # the brackets the sender has to fill, in the order they appear

    def fill_columns(self, templates: Templates) -> list[str]:
        """The Case Log columns that would fill the missing brackets."""
        by_bracket = {info[self.lang]: info.get("column") for info in templates.fields.values()}
        return [c for c in dict.fromkeys(by_bracket.get(b) for b in self.missing) if c]


def _settings(folder: Path) -> dict[str, Any]:
    path = folder / SETTINGS_FILE
    if not path.is_file():
        raise CaseloopError.said("templates_no_settings", folder=str(folder))
    data = load_yaml(path, "templates", None)
    if not isinstance(data, dict) or not isinstance(data.get("fields"), dict):
        raise CaseloopError.said("templates_no_fields", path=str(path))
    for name, info in data["fields"].items():
        if not isinstance(info, dict) or not isinstance(info.get("en"), str):
            raise CaseloopError.said("templates_field_bracket", path=str(path), field=name)
    for key in ("chinese_support", "internal"):
        if not isinstance(data.get(key) or [], list):
            raise CaseloopError.said("templates_not_list", path=str(path), setting=key)
    return data


def _nearest(name: str, known: set[str]) -> list[str]:
    """The fields spelled most like ``name`` (a typo's likely meaning)."""
    from rapidfuzz import fuzz, process

    return [n for n, _, _ in process.extract(name, sorted(known), scorer=fuzz.ratio, limit=3)]


@cache
def load_templates(folder: Path = TEMPLATES_DIR) -> Templates:
    """Every template of ``folder``, parsed and checked: a syntax error, an unknown field or
    a missing piece is named with its file and line, before anything is drafted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CaseloopError.said("templates_no_folder", folder=str(folder))
    data = _settings(folder)
    known = set(data["fields"])
    env = SandboxedEnvironment(
        loader=FileSystemLoader(str(folder)),
        autoescape=False,  # plain text for Seller Central, not HTML
        undefined=_Bracketed,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["join"] = _join
    files = sorted(p.name for p in folder.iterdir() if p.suffix == ".j2")
    langs: dict[str, list[str]] = {}
    for name in files:
        path = folder / name
        match = _NAME.match(name)
        if match is None:
            raise CaseloopError.said("template_bad_name", path=str(path))
        source = path.read_text(encoding="utf-8")
        try:
            tree = env.parse(source, name, str(path))
        except TemplateSyntaxError as exc:
            raise CaseloopError.said(
                "template_syntax", path=str(path), line=exc.lineno, detail=exc.message
            ) from None
        unknown = sorted(meta.find_undeclared_variables(tree) - known)
        if unknown:
            raise CaseloopError.said(
                "template_unknown_field",
                path=str(path),
                field=unknown[0],
                known=", ".join(_nearest(unknown[0], known)),
                known_zh="、".join(_nearest(unknown[0], known)),
            )
        for piece in meta.find_referenced_templates(tree):
            if piece is None or not (folder / piece).is_file():
                raise CaseloopError.said(
                    "template_missing_piece", path=str(path), piece=piece, folder=str(folder)
                )
        if not match["kind"].startswith("_"):
            langs.setdefault(match["kind"], []).append(match["lang"])
    for kind, have in langs.items():
        if "en" not in have:
            raise CaseloopError.said(
                "template_no_english", path=str(folder / f"{kind}.{have[0]}.j2"), kind=kind
            )
    if not langs:
        raise CaseloopError.said("templates_none", folder=str(folder))
    return Templates(
        folder=folder,
        env=env,
        langs={k: tuple(sorted(v)) for k, v in sorted(langs.items())},
        fields={k: {str(a): str(b) for a, b in v.items()} for k, v in data["fields"].items()},
        chinese_support=frozenset(data.get("chinese_support") or ()),
        internal=frozenset(data.get("internal") or ()),
        situations={str(k): str(v) for k, v in (data.get("situations") or {}).items()},
    )


# -- What a case says, as the templates' fields -------------------------------------------


def _text(value: Any) -> str | None:
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, float) and value != value:
        return None
    text = str(value).strip()
    return text or None


def _day(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else value.strftime("%Y-%m-%d")


def _moment(value: Any, tz: ZoneInfo, lang: str) -> str | None:
    """A time with its UTC offset, so Amazon's team in any time zone reads it right."""
    if value is None or pd.isna(value):
        return None
    offset = value.to_pydatetime().replace(tzinfo=tz).utcoffset()
    hours = (offset.total_seconds() if offset else 0.0) / 3600
    stamp = value.strftime("%Y-%m-%d %H:%M")
    return f"{stamp}（UTC{hours:+g}）" if lang == "zh" else f"{stamp} (UTC{hours:+g})"


def span(hours: Any, lang: str) -> str | None:
    """A wait as a message says it: hours under two days, whole days from then on."""
    if hours is None or pd.isna(hours):
        return None
    hours = float(hours)
    if hours >= 48:
        n = round(hours / 24)
        return f"{n} 天" if lang == "zh" else f"{n} days"
    n = max(round(hours), 1)
    if lang == "zh":
        return f"{n} 小时"
    return "1 hour" if n == 1 else f"{n} hours"


def _first(*values: Any) -> Any:
    for value in values:
        if value is not None and not (not isinstance(value, list) and pd.isna(value)):
            return value
    return None


def _ids(value: Any) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return []


def context(
    case: dict[str, Any], rules: Rules, playbook: Playbook | None, lang: str
) -> dict[str, Any]:
    """The fields a template may name, from one judged case; a value the case lacks is left
    out, so the template prints its bracket."""

    def translated(column: str) -> str | None:
        value = _text(case.get(column))
        if lang == "zh" and value is not None:
            return rules.zh_labels.get(column, {}).get(value, value)
        return value

    category = _text(case.get("Category"))
    deadline_kind = _text(case.get("deadline_kind")) or _text(case.get("Deadline Type"))
    own = _text(case.get("Case ID"))
    related = sorted(
        set(_ids(case.get("related_all"))) | set(_ids(case.get("related_ids"))) - {own}
    )
    missing = [m.strip() for m in str(_text(case.get("missing_evidence")) or "").split(",")]
    tz = rules.timezone
    values: dict[str, Any] = {
        "case_id": own,
        "store": _text(case.get("Store")),
        "marketplace": translated("Marketplace"),
        "category": translated("Category"),
        "summary": _text(case.get("Summary")),
        "channel": translated("Channel"),
        "owner": _text(case.get("Owner")),
        "priority": translated("Priority") or _text(case.get("priority")),
        "opened": _day(case.get("Opened At")),
        # Nothing sent since: the message that opened the case is the last one.
        "last_sent": _day(_first(case.get("Last Sent At"), case.get("Opened At"))),
        "last_reply": _day(_first(case.get("Last Reply At"), case.get("First Reply At"))),
        "closed": _day(case.get("Resolved At")),
        "deadline": _moment(_first(case.get("deadline_at"), case.get("Deadline")), tz, lang),
        "deadline_type": deadline_kind,
        "deadline_passed": bool(case.get("deadline_passed")) or None,
        "promised_by": _moment(_first(case.get("promised_by"), case.get("Promised By")), tz, lang),
        "order_id": _text(case.get("Order ID")),
        "asin": _text(case.get("ASIN")),
        "shipment_id": _text(case.get("Shipment ID")),
        "related_ids": related or None,
        "duplicate_of": _text(case.get("duplicate_of")),
        "duplicates": _ids(case.get("duplicates")) or None,
        "amazon_response": _text(case.get("Amazon Response")),
        "waited": span(case.get("waiting_hours"), lang),
        "open_for": span(case.get("open_hours"), lang),
        "follow_ups": int(case["follow_ups"])
        if _text(case.get("follow_ups")) is not None
        else None,
        "target": span(case.get("target_hours"), lang),
        "missing": [m for m in missing if m] or None,
        "last_time": _text(case.get("last_time")),
    }
    if lang == "zh" and values["missing"]:
        names = {"Order ID": "订单号", "Shipment ID": "货件编号", "ASIN": "ASIN"}
        values["missing"] = [names.get(m, m) for m in values["missing"]]
    if playbook is not None:
        values["evidence"] = list(evidence_columns(playbook, category, deadline_kind))
        values["checklist"] = reminders(playbook, category, lang) or None
        values["route"] = recommended_channel(playbook, category, lang)
        values["escalation_route"] = escalation_route(playbook, category, lang)
    return {k: v for k, v in values.items() if v is not None and v != ""}


# -- Which situation, which language ------------------------------------------------------


def not_raised_yet(case: dict[str, Any]) -> bool:
    """A row the team logged before raising it with Amazon: its Case ID is the team's own (not
    an Amazon case ID), the case is open and Amazon has not answered."""
    case_id = _text(case.get("Case ID"))
    return (
        case.get("Status") == "Open"
        and case_id is not None
        and AMAZON_CASE_ID.fullmatch(case_id) is None
        and _first(case.get("First Reply At"), case.get("Last Reply At")) is None
    )


def situation(case: dict[str, Any]) -> str | None:
    """The message a case needs next, from its flag (None: nothing to send)."""
    flag = case.get("flag")
    kind = _text(case.get("deadline_kind"))
    if flag in ("DEADLINE", "ESCALATE") and kind in BY_DEADLINE:
        return BY_DEADLINE[kind]
    if flag in (None, "INVALID", "RESOLVED"):
        return None
    if flag != "NEEDS INFO" and not_raised_yet(case):
        return "first-contact"
    if flag == "OVERDUE" and case.get("Channel") == "Phone":
        return "callback"
    return BY_FLAG.get(str(flag))


def on_status_tab(case: dict[str, Any]) -> str | None:
    """The situation of a Status row whose next action is a message to Amazon, else None."""
    kind = situation(case)
    if kind is None:
        return None
    if case.get("flag") in DRAFT_FLAGS or kind == "first-contact":
        return kind
    return None


def draft_lang(templates: Templates, kind: str, category: str | None, lang: str) -> str:
    """English to Amazon; Chinese only where Chinese support handles the category (and a
    Chinese template exists); an internal note in the team's language."""
    if lang != "zh" or "zh" not in templates.langs.get(kind, ()):
        return "en"
    if kind in templates.internal or category in templates.chinese_support:
        return "zh"
    return "en"


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))


def render(templates: Templates, kind: str, lang: str, values: dict[str, Any]) -> Draft:
    """The draft of ``kind`` in ``lang`` filled with ``values``; a cell's text is never run
    as template code (it is a value, and the environment is sandboxed)."""
    if kind not in templates.langs:
        raise CaseloopError.said(
            "template_no_situation",
            kind=kind,
            kinds=", ".join(templates.kinds),
            kinds_zh="、".join(templates.kinds),
            folder=str(templates.folder),
        )
    name = f"{kind}.{lang}.j2"
    brackets = {k: v.get(lang) or v["en"] for k, v in templates.fields.items()}
    printed: list[str] = []
    token = _STATE.set((brackets, printed))
    try:
        text = templates.env.get_template(name).render(values)
    except (TemplateError, TypeError, ValueError, ArithmeticError, LookupError) as exc:
        # A team's template can apply a filter to the wrong kind of value (round on a date):
        # that is the template's fault, so it is named with its file like a syntax error.
        detail = str(exc) if isinstance(exc, TemplateError) else f"{type(exc).__name__}: {exc}"
        raise CaseloopError.said(
            "template_failed", path=str(templates.folder / name), detail=detail
        ) from None
    finally:
        _STATE.reset(token)
    return Draft(kind=kind, lang=lang, text=_tidy(text), missing=printed)


def draft_case(
    case: dict[str, Any],
    templates: Templates,
    rules: Rules,
    playbook: Playbook | None,
    lang: str,
    kind: str | None = None,
) -> Draft | None:
    """The draft for one judged case: ``kind`` or the situation its flag calls for."""
    kind = kind or situation(case)
    if kind is None:
        return None
    category = _text(case.get("Category"))
    out_lang = draft_lang(templates, kind, category, lang)
    return render(templates, kind, out_lang, context(case, rules, playbook, out_lang))


def fill_note(draft: Draft, lang: str) -> str:
    """What the sender fills in before sending, listed in ``lang`` (the team's language; the
    brackets are in the draft's)."""
    sep = "、" if lang == "zh" else ", "
    return sep.join(draft.missing)


def brackets_of(templates: Templates, lang: str) -> Iterable[str]:
    return (v.get(lang) or v["en"] for v in templates.fields.values())


def check_all(
    templates: Templates,
    rules: Rules,
    playbook: Playbook | None,
    samples: Iterable[dict[str, Any]] = (),
) -> Templates:
    """Render every template in every language for every category, from a bare row (only its
    Category) and from ``samples`` (rows of the log): a template that fails at render time
    (a bad filter, a wrong use of a field) is named with its file, as a syntax error is."""
    rows = [{"Category": c} for c in rules.categories] + list(samples)
    for kind, langs in templates.langs.items():
        for lang in langs:
            for row in rows:
                render(templates, kind, lang, context(row, rules, playbook, lang))
    return templates
