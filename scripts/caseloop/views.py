"""Views: the rows of the generated tabs, as plain tables (no colours, no labels yet)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .cells import fit_text, summarise_list
from .config import FLAG_ORDER, Labels, Rules
from .errors import Problem

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


@dataclass
class StatusView:
    rows: pd.DataFrame  # STATUS_COLUMNS plus "late" (our turn past our_reply_hours)
    counts: dict[str, int]  # flag → number of rows
    as_of: pd.Timestamp

    @property
    def invalid_rows(self) -> int:
        return self.counts["INVALID"]


def _fmt_hours(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 10 else f"{value:.1f}"


def _columns_in(text: str, labels: Labels, lang: str) -> str:
    """Evidence column names inside ``text`` ("ASIN, Order ID", "ASIN B0…") in ``lang``."""
    if lang == "en" or not text:
        return text
    for column in labels.raw["evidence"]:
        text = text.replace(column, labels.get("evidence", column, lang))
    return text


def _notes(case: dict, problems: list[Problem], rules: Rules, labels: Labels, lang: str) -> str:
    """Every condition and every problem of the row, the shown flag's reason first, in one cell."""

    def say(template: str, **values: object) -> str:
        return labels.get("notes", template, lang).format(**values)

    # Errors are an INVALID row's reason; warnings come after the reasons of any flag.
    lines = [p.line() for p in problems if p.severity == "error"]
    lines += [p.line() for p in problems if p.severity != "error"]
    if case["flag"] in ("INVALID", "RESOLVED"):
        return fit_text(lines, labels, lang)
    parts: list[str] = []
    if case["deadline_near"]:
        left = case["deadline_hours_left"]
        deadline = case["Deadline"].strftime("%Y-%m-%d %H:%M")
        parts.append(
            say("deadline_passed", deadline=deadline, hours=_fmt_hours(-left))
            if left < 0
            else say("deadline", deadline=deadline, hours=_fmt_hours(left))
        )
    if case["escalate_follow_ups"]:
        parts.append(say("escalate_follow_ups", follow_ups=int(case["follow_ups"])))
    if case["escalate_too_long"]:
        parts.append(
            say(
                "escalate_too_long",
                open=_fmt_hours(case["open_hours"]),
                limit=_fmt_hours(rules.max_open_hours[case["priority"]]),
                priority=case["priority"]
                if lang == "en"
                else rules.zh_labels["Priority"].get(case["priority"], case["priority"]),
            )
        )
    if case["recurring"]:
        parts.append(say("recurring", key=_columns_in(case["recurring_key"], labels, lang)))
    if case["overdue"]:
        parts.append(
            say(
                "overdue",
                waiting=_fmt_hours(case["waiting_hours"]),
                target=_fmt_hours(case["target_hours"]),
            )
        )
    if case["our_turn"]:
        parts.append(say("our_turn", waiting=_fmt_hours(case["waiting_hours"])))
    if case["missing_info"]:
        parts.append(say("missing", columns=_columns_in(case["missing_evidence"], labels, lang)))
    if case["due_soon"]:
        parts.append(say("due_soon", due=case["due_at"].strftime("%Y-%m-%d %H:%M")))
    return fit_text(parts + lines, labels, lang)


def _next_action(case: dict, rules: Rules, labels: Labels, lang: str) -> str:
    info = rules.flags[case["flag"]]
    action = info.action_zh if lang == "zh" else info.action
    if case["flag"] == "ESCALATE" and case["related_ids"]:
        action += " " + labels.get("notes", "quote_related", lang).format(
            ids=summarise_list(list(case["related_ids"]), labels, lang)
        )
    if case["flag"] == "NEEDS INFO":
        missing = _columns_in(str(case["missing_evidence"]), labels, lang)
        action += f"（{missing}）" if lang == "zh" else f" ({missing})"
    return fit_text([action], labels, lang)


def status_view(
    judged: pd.DataFrame,
    problems_by_row: dict[int, list[Problem]],
    rules: Rules,
    labels: Labels,
    as_of: pd.Timestamp,
    lang: str = "en",
) -> StatusView:
    """One row per open or recently resolved case (and every INVALID row), worst first."""
    shown = judged[judged["shown"]].copy()
    shown["_wait_sort"] = shown["waiting_hours"].fillna(-1.0)
    shown = shown.sort_values(["flag_rank", "_wait_sort", "_row"], ascending=[True, False, True])
    records = shown.to_dict("records")
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
            "next_action": [_next_action(c, rules, labels, lang) for c in records],
            "notes": [
                _notes(c, problems_by_row.get(int(c["_row"]), []), rules, labels, lang)
                for c in records
            ],
            "late": shown["our_turn_late"] & shown["flag"].eq("OUR TURN"),
        }
    ).reset_index(drop=True)
    counts = {f: int((rows["flag"] == f).sum()) for f in FLAG_ORDER}
    return StatusView(rows=rows, counts=counts, as_of=as_of)
