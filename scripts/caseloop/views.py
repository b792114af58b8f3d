"""Views: the rows of the generated tabs, as plain tables (no colours, no labels yet)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from .cells import fit_text, summarise_list
from .config import FLAG_ORDER, Labels, Rules
from .errors import Problem
from .playbook import Playbook, next_action
from .problems import Wording

if TYPE_CHECKING:
    from .answers import AnswerBase
    from .drafts import Templates

STATUS_COLUMNS = (
    "case_id",
    "marketplace",
    "category",
    "channel",
    "owner",
    "whose_turn",
    "waiting_hours",
    "target_hours",
    "due_at",
    "open_hours",
    "follow_ups",
    "flag",
    "next_action",
    "notes",
)


# The placeholders a Next action sentence may hold (playbook.next_action, rules.yaml flags),
# filled per row from the view's "context".
CONTEXT_KEYS = ("case_id", "related_ids", "duplicate_of", "promised_by", "deadline", "passed_for")
STAMP = "%Y-%m-%d %H:%M"


@dataclass
class StatusView:
    # STATUS_COLUMNS plus "late" (our turn past our_reply_hours), "Store" and "Summary" as the
    # log has them, and "context" (a dict of CONTEXT_KEYS for the Next action sentence).
    rows: pd.DataFrame
    counts: dict[str, int]  # flag → number of rows
    as_of: pd.Timestamp
    data_problems: int = 0  # rows judged although some of their cells have problems

    @property
    def invalid_rows(self) -> int:
        return self.counts["INVALID"]


def _fmt_hours(value: float, lang: str = "en") -> str:
    text = f"{value:.0f}" if abs(value) >= 10 else f"{value:.1f}"
    # Chinese readers see 1 小时, not 1.0 小时 (the English wording is kept as it always was).
    return text.removesuffix(".0") if lang == "zh" else text


class _Keep(dict[str, str]):
    """A placeholder caseloop does not know stays as written in the sentence."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _span(hours: float, labels: Labels, lang: str) -> str:
    """A time span as people say it: hours under two days, whole days from then on."""
    if hours >= 48:
        return labels.get("notes", "days", lang).format(n=f"{hours / 24:.0f}")
    return labels.get("notes", "hours", lang).format(n=_fmt_hours(hours, lang))


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _stamp(value: object) -> str | None:
    return None if value is None or pd.isna(value) else value.strftime(STAMP)  # type: ignore[attr-defined]


def context(case: dict, labels: Labels, lang: str) -> dict[str, str]:
    """The values a Next action sentence may name, each filled (a bracketed word when the row
    has none, never "None")."""
    left = case.get("deadline_hours_left")
    passed = None
    if case.get("deadline_passed") and left is not None and not pd.isna(left):
        passed = _span(-left, labels, lang)
    # Every related ID up to a readable length, then "… and N more" (the cell limit holds).
    related = summarise_list(list(case.get("related_all") or []), labels, lang) or None
    values = {
        "case_id": None if pd.isna(case["Case ID"]) else str(case["Case ID"]),
        "related_ids": related,
        "duplicate_of": case.get("duplicate_of") or None,
        "promised_by": _stamp(case.get("promised_by")),
        "deadline": _stamp(case.get("deadline_at")),
        "passed_for": passed,
    }
    return {
        key: value if value else labels.get("placeholders", key, lang)
        for key, value in values.items()
    }


def _columns_in(text: str, labels: Labels, lang: str) -> str:
    """Evidence column names inside ``text`` ("ASIN, Order ID", "ASIN B0…") in ``lang``."""
    if lang == "en" or not text:
        return text
    for column in labels.raw["evidence"]:
        text = text.replace(column, labels.get("evidence", column, lang))
    return text


def _notes(
    case: dict,
    problems: list[Problem],
    rules: Rules,
    labels: Labels,
    lang: str,
    wording: Wording | None = None,
) -> str:
    """Every condition and every problem of the row, the shown flag's reason first, in one cell."""

    def say(template: str, **values: object) -> str:
        return labels.get("notes", template, lang).format(**values)

    def hours(value: float) -> str:
        return _fmt_hours(value, lang)

    def priority(name: str) -> str:
        return name if lang == "en" else rules.zh_labels["Priority"].get(name, name)

    wording = wording or Wording(lang, labels=labels)
    # Errors are an INVALID row's reason; warnings come after the reasons of any flag.
    lines = [wording.line(p) for p in problems if p.severity == "error"]
    lines += [wording.line(p) for p in problems if p.severity != "error"]
    if case["judged_with_defaults"]:
        columns = ("、" if lang == "zh" else ", ").join(
            wording.column(c) if lang == "zh" else c for c in case["judged_with_defaults"]
        )
        lines.append(say("judged_with_defaults", columns=columns))
    if case["flag"] in ("INVALID", "RESOLVED"):
        return fit_text(lines, labels, lang)
    parts: list[str] = []
    if case["deadline_near"]:
        left = case["deadline_hours_left"]
        deadline = case["deadline_at"].strftime(STAMP)
        parts.append(
            say("deadline_passed", deadline=deadline, passed=_span(-left, labels, lang))
            if left < 0
            else say("deadline", deadline=deadline, hours=hours(left))
        )
    if case["deadline_computed"] and (case["deadline_near"] or case["is_open"]):
        kind = case["deadline_kind"]
        market = case["Marketplace"]
        windows = rules.deadline_windows[kind]
        window = windows.get(market, windows.get("default"))
        default = "default" if lang == "en" else "默认"
        if lang == "zh" and isinstance(market, str):
            market = rules.zh_labels["Marketplace"].get(market, market)
        parts.append(
            say(
                "deadline_computed",
                kind=kind if lang == "en" else rules.zh_labels["Deadline Type"].get(kind, kind),
                hours=_fmt_hours(window, lang) if window is not None else "",
                marketplace=market if isinstance(market, str) else default,
            )
        )
    if case["duplicate_of"]:
        parts.append(say("duplicate_of", case_id=case["duplicate_of"]))
    if case["duplicates"]:
        parts.append(say("duplicates", ids=summarise_list(list(case["duplicates"]), labels, lang)))
    if case["escalate_follow_ups"]:
        parts.append(say("escalate_follow_ups", follow_ups=int(case["follow_ups"])))
    if case["escalate_too_long"]:
        parts.append(
            say(
                "escalate_too_long",
                open=hours(case["open_hours"]),
                limit=hours(rules.max_open_hours[case["priority"]]),
                priority=priority(case["priority"]),
            )
        )
    key = _columns_in(case["recurring_key"], labels, lang) if case["recurring"] else ""
    if case["escalate_recurring"]:
        parts.append(say("recurring", key=key))
    elif case["recurring"]:
        n = int(case["recurring_count"])
        days = f"{rules.recurring_window_days:g}"
        parts.append(say("recurring_note", nth=_ordinal(n), n=n, key=key, days=days))
    if case["reopen"]:
        parts.append(say("reopen", closed=case["Resolved At"].strftime(STAMP)))
    if _stamp(case["promised_by"]):
        parts.append(say("promised", promised_by=_stamp(case["promised_by"])))
    if case["overdue"]:
        parts.append(
            say(
                "overdue",
                waiting=hours(case["waiting_hours"]),
                target=hours(case["target_hours"]),
            )
        )
    if case["our_turn_over_limit"]:
        parts.append(
            say(
                "our_turn_over_limit",
                open=hours(case["open_hours"]),
                limit=hours(rules.max_open_hours[case["priority"]]),
                priority=priority(case["priority"]),
            )
        )
    if case["our_turn"]:
        # A Seller Central label can make the turn ours with no reply time in the log: never
        # claim an answer time the log does not hold.
        no_reply = pd.isna(case["Last Reply At"]) and pd.isna(case["First Reply At"])
        key = "our_turn_no_reply" if no_reply else "our_turn"
        parts.append(say(key, waiting=hours(case["waiting_hours"])))
    if case["missing_info"]:
        parts.append(say("missing", columns=_columns_in(case["missing_evidence"], labels, lang)))
    if case["due_soon"]:
        parts.append(say("due_soon", due=case["due_at"].strftime("%Y-%m-%d %H:%M")))
    return fit_text(parts + lines, labels, lang)


def _next_action(
    case: dict, rules: Rules, labels: Labels, lang: str, playbook: Playbook | None = None
) -> str:
    """The flag's next action: the playbook's sentence for the flag, category, channel and
    deadline kind (or, without a playbook, the flag's action in rules.yaml), its placeholders
    filled from the row's context."""
    info = rules.flags[case["flag"]]
    promised = case["flag"] in ("ON TRACK", "DUE SOON") and _stamp(case["promised_by"])
    if playbook is not None:
        action = next_action(
            playbook,
            case["flag"],
            case["Category"] if isinstance(case["Category"], str) else None,
            lang,
            deadline_kind=case["deadline_kind"] if isinstance(case["deadline_kind"], str) else None,
            deadline_passed=bool(case["deadline_passed"]),
            channel=case["Channel"] if isinstance(case["Channel"], str) else None,
            promised=bool(promised),
        )
    else:
        action = info.action_zh if lang == "zh" else info.action
        if case["flag"] == "DEADLINE" and case["deadline_passed"] and info.action_passed:
            action = (info.action_passed_zh if lang == "zh" else None) or info.action_passed
        if promised:
            action = labels.get("notes", "promised_wait", lang)
    quotes_related = "{related_ids}" in action
    try:
        action = action.format_map(_Keep(case["context"]))
    except ValueError:  # a lone brace in a team's own sentence: shown as written
        pass
    if case["flag"] == "ESCALATE" and case["related_all"] and not quotes_related:
        action += ("" if lang == "zh" else " ") + labels.get("notes", "quote_related", lang).format(
            ids=summarise_list(list(case["related_all"]), labels, lang)
        )
    if case["flag"] == "NEEDS INFO":
        # What is missing first ("Missing Shipment ID. Add …"), then what to do and have ready.
        missing = _columns_in(str(case["missing_evidence"]), labels, lang)
        if lang == "zh":
            missing = missing.replace(", ", "、")
        said = labels.get("notes", "missing", lang).format(columns=missing)
        action = f"{said}。{action}" if lang == "zh" else f"{said}. {action}"
    return fit_text([action], labels, lang)


def last_time_note(answer: dict[str, Any], rules: Rules, labels: Labels, lang: str) -> str:
    """ "Last time: case X, solved in 3 d on Phone: <what worked>" for an open case."""
    channel = answer.get("channel")
    if isinstance(channel, str) and lang == "zh":
        channel = rules.zh_labels["Channel"].get(channel, channel)
    key = "last_time" if isinstance(channel, str) and channel else "last_time_no_channel"
    return labels.get("notes", key, lang).format(
        case_id=answer["case_id"],
        span=_span(float(answer["hours"]), labels, lang),
        channel=channel,
        what_worked=answer["what_worked"],
    )


def _extras(
    shown: pd.DataFrame,
    records: list[dict],
    rules: Rules,
    labels: Labels,
    lang: str,
    playbook: Playbook | None,
    templates: Templates | None,
    answers: AnswerBase | None,
) -> tuple[list[str | None], list[list[str]]]:
    """Each row's Draft (None: no message to send) and the notes they add: what worked last
    time on the same problem, what to fill in the draft."""
    from .drafts import draft_case, fill_note, on_status_tab

    drafts: list[str | None] = []
    notes: list[list[str]] = []
    for index, case in zip(shown.index, records, strict=True):
        extra: list[str] = []
        if answers is not None and index in answers.last_time and case["is_open"]:
            note = last_time_note(answers.last_time[index], rules, labels, lang)
            case["last_time"] = note
            extra.append(note)
        text = None
        kind = on_status_tab(case) if templates is not None else None
        if templates is not None and kind is not None:
            draft = draft_case(case, templates, rules, playbook, lang, kind)
            if draft is not None:
                text = draft.text
                if draft.missing:
                    fields = fill_note(draft, lang)
                    extra.append(labels.get("notes", "draft_fill", lang).format(fields=fields))
        drafts.append(text)
        notes.append(extra)
    return drafts, notes


def status_view(
    judged: pd.DataFrame,
    problems_by_row: dict[int, list[Problem]],
    rules: Rules,
    labels: Labels,
    as_of: pd.Timestamp,
    lang: str = "en",
    playbook: Playbook | None = None,
    wording: Wording | None = None,
    templates: Templates | None = None,
    answers: AnswerBase | None = None,
) -> StatusView:
    """One row per open or recently resolved case (and every INVALID row), worst first.

    ``templates``: add a Draft for each row whose next action is a message to Amazon;
    ``answers``: note on each open case what worked the last time its problem was solved."""
    shown = judged[judged["shown"]].copy()
    shown["_wait_sort"] = shown["waiting_hours"].fillna(-1.0)
    shown = shown.sort_values(["flag_rank", "_wait_sort", "_row"], ascending=[True, False, True])
    shown["is_open"] = shown["whose_turn"].notna()
    shown["context"] = [context(c, labels, lang) for c in shown.to_dict("records")]
    records = shown.to_dict("records")
    drafts, extra_notes = _extras(shown, records, rules, labels, lang, playbook, templates, answers)
    rows = pd.DataFrame(
        {
            "case_id": shown["Case ID"],
            "marketplace": shown["Marketplace"],
            "category": shown["Category"],
            "channel": shown["Channel"],
            "owner": shown["Owner"],
            "whose_turn": shown["whose_turn"],
            "waiting_hours": shown["waiting_hours"],
            "target_hours": shown["target_hours"],
            "due_at": shown["due_at"],
            "open_hours": shown["open_hours"],
            "follow_ups": shown["follow_ups"],
            "flag": shown["flag"],
            "next_action": [_next_action(c, rules, labels, lang, playbook) for c in records],
            "notes": [
                fit_text(
                    [
                        _notes(
                            c, problems_by_row.get(int(c["_row"]), []), rules, labels, lang, wording
                        ),
                        *extra,
                    ],
                    labels,
                    lang,
                )
                for c, extra in zip(records, extra_notes, strict=True)
            ],
            "late": shown["our_turn_late"] & shown["flag"].eq("OUR TURN"),
            "deadline_passed": shown["deadline_passed"].fillna(False).astype(bool),
            "Store": shown["Store"],
            "Summary": shown["Summary"],
            "context": shown["context"],
        }
    ).reset_index(drop=True)
    if templates is not None:
        rows["draft"] = drafts
    counts = {f: int((rows["flag"] == f).sum()) for f in FLAG_ORDER}
    with_problems = shown["_row"].isin(problems_by_row) & shown["flag"].ne("INVALID")
    return StatusView(rows=rows, counts=counts, as_of=as_of, data_problems=int(with_problems.sum()))
