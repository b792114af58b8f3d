"""The text of the team-chat alerts: a sync's digest, the first run's line, the weekly digest.

Pure text, no I/O and no clock: plain Markdown without tables (WeCom and DingTalk robots do
not render tables), in the run's language, each message at most ``max_bytes`` of UTF-8 (WeCom
takes 4,096). A long digest is split into a few messages; past ``max_messages`` the last one
ends with "… and N more — see the Status tab".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .config import FLAG_ORDER, Labels, Rules

if TYPE_CHECKING:
    from .weekly import WeeklyReport

MAX_BYTES = 4000
# More than this many messages in one go floods the chat: the rest is counted, not sent.
MAX_MESSAGES = 3
# The next action "in a few words": its first clause, at most this many characters.
ACTION_CHARS = 80
# A field (store, owner...) longer than this is cut: one line per case stays one line.
FIELD_CHARS = 60
SHOWN_OLDEST = 5
SHOWN_RECURRING = 5
STAMP = "%Y-%m-%d %H:%M"
SEP = " · "


@dataclass(frozen=True)
class Alert:
    """One case to announce: it turned ``flag`` in this run."""

    flag: str
    case_id: str
    store: str | None
    marketplace: str | None
    category: str | None
    owner: str | None
    action: str
    due: dt.datetime | None  # the deadline for DEADLINE, else when the reply was due
    passed: bool = False  # a DEADLINE already passed (已过截止 in Chinese, as on the Status tab)


@dataclass(frozen=True)
class _Line:
    text: str
    counted: bool = True  # a case (or item) line, counted in "and N more"; False: a heading


# -- sizes -------------------------------------------------------------------------------------


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def clip_bytes(text: str, max_bytes: int, mark: str = "…") -> str:
    """The longest start of ``text`` within ``max_bytes`` of UTF-8, never half a character."""
    if utf8_len(text) <= max_bytes:
        return text
    room = max(max_bytes - utf8_len(mark), 0)
    return text.encode("utf-8")[:room].decode("utf-8", "ignore") + (mark if room else "")


def _clip_chars(text: str, limit: int) -> str:
    text = " ".join(text.split())  # one line: a cell's line breaks would break the list
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def split_message(text: str, max_bytes: int, max_chars: int | None = None) -> list[str]:
    """``text`` in pieces of at most ``max_bytes`` (and ``max_chars``), split between lines;
    a single line too long for a piece is cut. For a service that takes less than the
    digest's size (a WeCom robot's text message: 2,048 bytes)."""

    def fits(piece: str) -> bool:
        return utf8_len(piece) <= max_bytes and (max_chars is None or len(piece) <= max_chars)

    if fits(text):
        return [text]
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = f"{current}\n{line}" if current else line
        if fits(candidate):
            current = candidate
            continue
        if current.strip():
            pieces.append(current)
        current = line
        if not fits(current):
            limit = max_bytes if max_chars is None else min(max_bytes, max_chars)
            pieces.append(clip_bytes(current, limit))
            current = ""
    if current.strip():
        pieces.append(current)
    return pieces


def _pack(
    heading: Any,
    lines: Sequence[_Line],
    footer: str,
    more: Any,
    max_bytes: int,
    max_messages: int,
) -> list[str]:
    """``lines`` in messages of at most ``max_bytes``: each with the heading (``heading(part,
    parts)``; parts 1 for a single message) and the footer; past ``max_messages`` the last
    message ends with ``more(n)`` for the n counted lines left out."""
    widest_heading = max(utf8_len(heading(99, 99)), utf8_len(heading(1, 1)))
    footer = clip_bytes(footer, max_bytes // 4)
    frame = widest_heading + utf8_len(footer) + 4  # the blank lines around the body
    room = max(max_bytes - frame, 64)
    lines = [_Line(clip_bytes(line.text, room // 2), line.counted) for line in lines]

    def body_size(chunk: list[_Line]) -> int:
        return utf8_len("\n".join(line.text for line in chunk))

    chunks: list[list[_Line]] = [[]]
    for line in lines:
        chunk = chunks[-1]
        if chunk and body_size([*chunk, line]) > room:
            chunks.append([])
            chunk = chunks[-1]
            if not line.text:  # a blank line between groups does not start a message
                continue
        chunk.append(line)
    chunks = [c for c in chunks if any(line.text for line in c)] or [[]]
    left_out = 0
    if len(chunks) > max_messages:
        kept, rest = chunks[:max_messages], chunks[max_messages:]
        left_out = sum(line.counted for chunk in rest for line in chunk)
        last = kept[-1]
        # Room for the "and N more" line: drop lines from the end of the last message.
        while last and body_size([*last, _Line(more(left_out + 99), False)]) > room:
            left_out += last.pop().counted
        while last and not last[-1].text:
            last.pop()
        last.append(_Line(""))
        last.append(_Line(more(left_out), False))
        chunks = kept
    parts = len(chunks)
    messages = []
    for number, chunk in enumerate(chunks, 1):
        while chunk and not chunk[-1].text:
            chunk.pop()
        body = "\n".join(line.text for line in chunk)
        text = "\n\n".join(p for p in (heading(number, parts), body, footer) if p)
        messages.append(clip_bytes(text, max_bytes))
    return messages


# -- the sync digest ---------------------------------------------------------------------------


def _say(labels: Labels, key: str, lang: str, **fields: Any) -> str:
    return labels.get("alerts", key, lang).format(**fields)


def _zh(rules: Rules, column: str, value: str | None, lang: str) -> str | None:
    """A marketplace or category in the run's language."""
    if value is None or lang != "zh":
        return value
    return rules.zh_labels.get(column, {}).get(value, value)


def flag_name(rules: Rules, flag: str, lang: str) -> str:
    info = rules.flags.get(flag)
    return info.zh if (lang == "zh" and info is not None) else flag


def short_action(action: str, limit: int = ACTION_CHARS) -> str:
    """The next action in a few words: up to its first full stop or semicolon."""
    text = " ".join(action.split())
    for stop in ("；", "。", "; ", ". "):
        head = text.split(stop, 1)[0]
        if head and len(head) < len(text):
            text = head
    return _clip_chars(text.rstrip(".。;；"), limit)


def mention(owner: str | None, owners: Mapping[str, str]) -> str | None:
    """The owner with the chat handle of the owners map (matched ignoring case and spaces)."""
    if owner is None or not str(owner).strip():
        return None
    name = " ".join(str(owner).split())
    by_key = {" ".join(k.split()).casefold(): v for k, v in owners.items()}
    handle = by_key.get(name.casefold())
    if not handle:
        return _clip_chars(name, FIELD_CHARS)
    if handle[0].isalnum():  # a bare handle: the usual @ in front
        handle = "@" + handle
    return f"{_clip_chars(name, FIELD_CHARS)} {handle}"


def _flag_shown(alert: Alert, rules: Rules, labels: Labels, lang: str) -> str:
    if alert.flag == "DEADLINE" and alert.passed and lang != "en":
        return str(labels.get("flag_states", "deadline_passed", lang))
    return flag_name(rules, alert.flag, lang)


def alert_line(
    alert: Alert, *, lang: str, rules: Rules, labels: Labels, owners: Mapping[str, str]
) -> str:
    """One case: flag, Case ID, store and marketplace, category, owner, action, due time."""
    store = _clip_chars(alert.store, FIELD_CHARS) if alert.store else None
    market = _zh(rules, "Marketplace", alert.marketplace, lang)
    if store and market:
        where: str | None = _say(labels, "where", lang, store=store, marketplace=market)
    else:
        where = store or market
    parts = [
        f"**{_flag_shown(alert, rules, labels, lang)}**",
        str(alert.case_id),
        where,
        _zh(rules, "Category", alert.category, lang),
        mention(alert.owner, owners) or _say(labels, "no_owner", lang),
        short_action(alert.action) if alert.action else None,
    ]
    if alert.due is not None:
        key = "deadline" if alert.flag == "DEADLINE" else "due"
        parts.append(_say(labels, key, lang, due=alert.due.strftime(STAMP)))
    return "- " + SEP.join(p for p in parts if p)


def _rank(flag: str) -> int:
    return FLAG_ORDER.index(flag) if flag in FLAG_ORDER else len(FLAG_ORDER)


def sync_digest(
    alerts: Iterable[Alert],
    *,
    lang: str,
    link: str,
    rules: Rules,
    labels: Labels,
    owners: Mapping[str, str] | None = None,
    max_bytes: int = MAX_BYTES,
    max_messages: int = MAX_MESSAGES,
) -> list[str]:
    """The messages announcing this run's alerts (none when there is none): the flags of
    ``notify.on`` only, grouped by flag worst first, a link to the sheet at the end."""
    owners = rules.owners if owners is None else owners
    wanted = [a for a in alerts if a.flag in rules.notify_on]
    if not wanted:
        return []
    # Worst flag first; within a flag the earliest due first, as the log listed them otherwise.
    order = sorted(
        enumerate(wanted),
        key=lambda ia: (_rank(ia[1].flag), ia[1].due is None, ia[1].due or dt.datetime.min, ia[0]),
    )
    lines: list[_Line] = []
    previous = None
    for _, alert in order:
        if previous is not None and alert.flag != previous:
            lines.append(_Line("", counted=False))
        lines.append(_Line(alert_line(alert, lang=lang, rules=rules, labels=labels, owners=owners)))
        previous = alert.flag
    n = len(wanted)

    def heading(part: int, parts: int) -> str:
        if parts == 1:
            return _say(labels, "heading", lang, n=n)
        return _say(labels, "heading_part", lang, n=n, part=part, parts=parts)

    return _pack(
        heading,
        lines,
        _say(labels, "status_link", lang, link=link),
        lambda k: _say(labels, "more", lang, n=k),
        max_bytes,
        max_messages,
    )


def first_run_digest(
    open_cases: int,
    counts: Mapping[str, int] | Iterable[tuple[str, int]],
    *,
    lang: str,
    link: str,
    labels: Labels,
    max_bytes: int = MAX_BYTES,
) -> list[str]:
    """The first run's one short line ("caseloop now watches N open cases: …") instead of an
    alert for every case the log already holds. ``counts`` are (label, cases), worst first, as
    the run shows them."""
    pairs = list(counts.items()) if isinstance(counts, Mapping) else list(counts)
    shown = ("、" if lang == "zh" else ", ").join(f"{label} {n}" for label, n in pairs if n)
    if open_cases and shown:
        line = _say(labels, "first_run", lang, n=open_cases, counts=shown)
    else:
        line = _say(labels, "first_run_none", lang)
    footer = clip_bytes(_say(labels, "status_link", lang, link=link), max_bytes // 4)
    return [clip_bytes(f"{line}\n\n{footer}", max_bytes)]


# -- quiet hours -------------------------------------------------------------------------------


def _team_time(now: dt.datetime, rules: Rules) -> dt.datetime:
    if now.tzinfo is not None:
        return now.astimezone(rules.timezone).replace(tzinfo=None)
    return now


def in_quiet_hours(now: dt.datetime, rules: Rules) -> bool:
    """Whether ``now`` (team time) is inside ``quiet_hours``; a window may span midnight."""
    if rules.quiet_hours is None:
        return False
    start, end = rules.quiet_hours
    clock = _team_time(now, rules).time()
    if start < end:
        return start <= clock < end
    return clock >= start or clock < end


def quiet_until(now: dt.datetime, rules: Rules) -> dt.datetime | None:
    """When the quiet window ``now`` is in ends (team time), or None outside it."""
    if not in_quiet_hours(now, rules):
        return None
    assert rules.quiet_hours is not None
    local = _team_time(now, rules)
    end = dt.datetime.combine(local.date(), rules.quiet_hours[1])
    return end if end > local else end + dt.timedelta(days=1)


def split_quiet(
    alerts: Iterable[Alert], now: dt.datetime, rules: Rules
) -> tuple[list[Alert], list[Alert]]:
    """(send now, held until the quiet hours end): DEADLINE is always sent now."""
    alerts = list(alerts)
    if not in_quiet_hours(now, rules):
        return alerts, []
    send = [a for a in alerts if a.flag == "DEADLINE"]
    held = [a for a in alerts if a.flag != "DEADLINE"]
    return send, held


# -- the weekly digest -------------------------------------------------------------------------

# The report week's headline numbers, in this order (weekly.METRICS without the P90).
HEADLINES = (
    "opened",
    "resolved",
    "closed",
    "open_at_end",
    "first_reply_median",
    "first_reply_within_target",
    "resolution_median",
    "escalated_now",
    "overdue_now",
)


def _number(value: Any) -> str | None:
    """A count or a number of hours as the report shows it; None where the log cannot tell."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if number != number or number in (float("inf"), float("-inf")):
        return None
    number = round(number, 1)  # 60.96 h reads 61, never 61.0
    return f"{int(number):,}" if number.is_integer() else f"{number:.1f}"


def _evidence_words(text: str, labels: Labels, lang: str) -> str:
    """The column names inside a recurring problem's key (ASIN B0…) in the run's language."""
    if lang == "en":
        return text
    for column in labels.raw.get("evidence", {}):
        text = text.replace(column, labels.get("evidence", column, lang))
    return text


def weekly_digest(
    report: WeeklyReport,
    *,
    lang: str,
    link: str,
    rules: Rules,
    labels: Labels,
    max_bytes: int = MAX_BYTES,
    max_messages: int = MAX_MESSAGES,
) -> list[str]:
    """The report week's headline numbers against the week before, the oldest open cases and
    the recurring problems, for ``caseloop report --notify``."""
    from .render import week_label

    week = report.week
    rows = report.weeks.to_dict("records")
    this, before = rows[-1], (rows[-2] if len(rows) > 1 else {})
    lines: list[_Line] = []
    for key in HEADLINES:
        if key not in this:
            continue
        name = labels.get("weekly_columns", key, lang)
        value, prior = _number(this.get(key)), _number(before.get(key))
        if value is None and prior is None:
            continue
        if key in ("escalated_now", "overdue_now"):
            # Flags are known only now: a "now" number has no week before to compare with.
            if value is not None:
                lines.append(_Line(_say(labels, "metric_now", lang, name=name, value=value)))
            continue
        lines.append(
            _Line(_say(labels, "metric", lang, name=name, value=value or "–", before=prior or "–"))
        )
    oldest = report.oldest.head(SHOWN_OLDEST).to_dict("records")
    if oldest:
        lines += [_Line("", False), _Line(_say(labels, "oldest", lang), False)]
        for case in oldest:
            flag = case.get("flag")
            if isinstance(flag, str) and flag in rules.flags:
                flag = flag_name(rules, flag, lang)
            elif isinstance(flag, str):
                flag = _zh(rules, "Status", flag, lang)
            hours = case.get("open_hours")
            days = _number(round(hours / 24)) if _number(hours) is not None else None
            parts = [
                str(case["case_id"]),
                _zh(rules, "Marketplace", _text(case.get("marketplace")), lang),
                _zh(rules, "Category", _text(case.get("category")), lang),
                mention(_text(case.get("owner")), {}) or _say(labels, "no_owner", lang),
                _say(labels, "open_days", lang, days=days) if days is not None else None,
                flag if isinstance(flag, str) else None,
            ]
            lines.append(_Line("- " + SEP.join(p for p in parts if p)))
    recurring = report.recurring.head(SHOWN_RECURRING).to_dict("records")
    if recurring:
        lines += [_Line("", False), _Line(_say(labels, "recurring", lang), False)]
        for problem in recurring:
            parts = [
                _zh(rules, "Category", _text(problem.get("category")), lang),
                _clip_chars(_evidence_words(str(problem["key"]), labels, lang), FIELD_CHARS),
                _say(labels, "recurring_cases", lang, n=int(problem["cases"])),
            ]
            lines.append(_Line("- " + SEP.join(p for p in parts if p)))
    shown_week = week_label(week, labels, lang)
    last_day = week.end - dt.timedelta(days=1)

    def heading(part: int, parts: int) -> str:
        if parts == 1:
            return _say(
                labels,
                "weekly_heading",
                lang,
                week=shown_week,
                start=f"{week.start:%Y-%m-%d}",
                end=f"{last_day:%Y-%m-%d}",
                start_md=f"{week.start:%m/%d}",
                end_md=f"{last_day:%m/%d}",
            )
        return _say(labels, "weekly_heading_part", lang, week=shown_week, part=part, parts=parts)

    return _pack(
        heading,
        lines,
        _say(labels, "weekly_link", lang, link=link),
        lambda k: _say(labels, "weekly_more", lang, n=k),
        max_bytes,
        max_messages,
    )


def _text(value: Any) -> str | None:
    """A cell's text, None for an empty or missing one (pandas gives NaN for a blank)."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = str(value).strip()
    return text or None
