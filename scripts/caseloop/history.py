"""The History tab: what changed between runs, read back as caseloop's memory of the last run.

Each run compares the cases it judged with what the History tab says it saw last and adds one
row per change (a case appears, its flag, status, last reply, last follow-up moves, it leaves
the log). The ``Seen`` column of every row holds the case's state after that run in a compact,
language-neutral text (``status=Open; flag=OVERDUE; reply=…; sent=…; follow_ups=2``), so the
newest row of a case is all the next run needs: the tab is the memory, wherever caseloop runs.

Pure functions over DataFrames, like the rules: no I/O, no clock (the run's time is ``as_of``).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from .config import DEFAULT_NOTIFY_ON, FLAG_ORDER, Labels, Rules
from .model import Cell, Range, SheetModel, Style
from .ports import Grid

KIND = "history"  # the caseloop mark of the History tab
STAMP = "%Y-%m-%d %H:%M"
# The columns of the tab, in order; ``seen`` is caseloop's own (the state after the row).
COLUMNS = ("as_of", "case_id", "change", "from", "to", "flag", "owner", "notified", "seen")
# What a row records; the order is the order of a case's rows within one run.
CHANGES = (
    "baseline",
    "new",
    "reopened",
    "resolved",
    "closed",
    "status",
    "replied",
    "followed_up",
    "flag",
    "removed",
)
STATUS_CHANGES = ("reopened", "resolved", "closed", "status")  # rows whose From/To are statuses
# Notified: nothing to send, waiting to be sent, held by quiet hours, sent, or not delivered.
NOTIFIED = ("", "pending", "held", "sent", "failed")
LATE = "+late"  # OUR TURN past our_reply_hours: its own state, so the turn into it is a change
RESEND_HOURS = 24.0  # an alert that could not be delivered is tried again for this long
_SEEN_KEYS = ("status", "flag", "reply", "sent", "follow_ups")
_SEEN = re.compile(
    r"^\s*status=(?P<status>[^;]*);\s*flag=(?P<flag>[^;]*);\s*reply=(?P<reply>[^;]*);"
    r"\s*sent=(?P<sent>[^;]*);\s*follow_ups=(?P<follow_ups>[^;]*?)\s*$"
)
_HEADER_ROWS = 10  # the header row is looked for near the top


@dataclass
class History:
    """The rows of the History tab, newest run first (canonical values, any language).

    ``rows`` has the columns of ``COLUMNS`` (``as_of`` a Timestamp, ``from``/``to`` canonical
    text: flags, statuses, times "YYYY-MM-DD HH:MM", follow-up counts) plus ``services`` (who
    got a sent alert). ``started``: since when the history is complete (the first run on the log,
    or ``keep_days`` back once older rows were dropped); None for no history.
    """

    rows: pd.DataFrame
    started: pd.Timestamp | None = None

    @property
    def empty(self) -> bool:
        return self.rows.empty


def empty_rows() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=object) for c in (*COLUMNS, "services")})
    frame["as_of"] = pd.Series(dtype="datetime64[ns]")
    return frame


# --- the state of each case this run ---------------------------------------------------------


def _stamps(values: pd.Series) -> pd.Series:
    """Times as "YYYY-MM-DD HH:MM" text, "" where there is none."""
    out = values.dt.strftime(STAMP)
    return out.where(values.notna(), "").astype(object)


def case_ids(values: pd.Series) -> pd.Series:
    """Case IDs as text (an ID read as a number loses its ".0"), "" where there is none."""

    def text(value: Any) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return ""
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value).strip()

    return values.map(text).astype(object)


def snapshot(judged: pd.DataFrame) -> pd.DataFrame:
    """One row per Case ID in the log (its first row when an ID is there twice): the state
    History compares, indexed by Case ID; ``shown`` as on the Status tab."""
    ids = case_ids(judged["Case ID"])
    flag = judged["flag"].fillna("").astype(object)
    late = judged["our_turn_late"].fillna(False).astype(bool) & flag.eq("OUR TURN")
    flag = flag.where(~late, "OUR TURN" + LATE)
    label = judged["status_label"] if "status_label" in judged else None
    status = judged["Status"].fillna("").astype(object)
    if label is not None:
        status = status.where(~(status.eq("Open") & label.notna()), label)
    reply = judged["Last Reply At"].where(judged["Last Reply At"].notna(), judged["First Reply At"])
    follow_ups = judged["Follow-ups"].astype("Float64")
    state = pd.DataFrame(
        {
            "case_id": ids,
            "status": status,
            "flag": flag,
            "reply": _stamps(reply),
            "sent": _stamps(judged["Last Sent At"]),
            "follow_ups": follow_ups.map(lambda n: "" if pd.isna(n) else str(int(n))).astype(
                object
            ),
            "owner": judged["Owner"].where(judged["Owner"].notna(), None),
            "shown": judged["shown"].astype(bool),
            "rank": judged["flag_rank"].fillna(len(FLAG_ORDER)),
            "order": np.arange(len(judged)),
        }
    )
    state = state[state["case_id"].ne("")].drop_duplicates("case_id")
    return state.set_index("case_id", drop=False)


def seen_text(state: pd.DataFrame) -> pd.Series:
    """The Seen cell of each case: its state in caseloop's compact text."""
    out = pd.Series("", index=state.index, dtype=object)
    for n, key in enumerate(_SEEN_KEYS):
        out = out + ("; " if n else "") + key + "=" + state[key].astype(str)
    return out


def parse_seen(texts: pd.Series) -> pd.DataFrame | None:
    """The states in Seen cells; None when a cell is not caseloop's text."""
    found = texts.astype(str).str.extract(_SEEN)
    if found.isna().any(axis=None):
        return None
    return found.apply(lambda column: column.str.strip())


# --- what changed ----------------------------------------------------------------------------


def alerts_on(flag: str, notify_on: tuple[str, ...]) -> bool:
    """Whether turning into ``flag`` alerts: OUR TURN only once past our_reply_hours."""
    if flag.endswith(LATE):
        return "OUR TURN" in notify_on
    return flag != "OUR TURN" and flag in notify_on


def last_seen(history: History) -> pd.DataFrame:
    """Each case's newest row (its state after the last run that saw a change), indexed by ID."""
    rows = history.rows
    if rows.empty:
        return rows.set_index("case_id", drop=False)
    newest = rows.sort_values("as_of", kind="stable", ascending=False)
    return newest.drop_duplicates("case_id").set_index("case_id", drop=False)


def changes(
    previous: History | None,
    judged: pd.DataFrame,
    as_of: pd.Timestamp,
    *,
    notify_on: tuple[str, ...] = DEFAULT_NOTIFY_ON,
    notifying: bool = False,
) -> pd.DataFrame:
    """The rows this run adds: every change since the newest row of each case, or (no history)
    the quiet baseline of every shown case. ``notifying``: alerts will be sent, so the rows that
    alert start "pending"."""
    now = snapshot(judged)
    stamp = as_of.floor("min")
    shown = now[now["shown"]]
    if previous is None:
        rows = _rows(shown, "baseline", None, shown["flag"], stamp)
        return _finish(rows, notify_on=(), notifying=False)
    last = last_seen(previous)
    last = last[last["change"].ne("removed")]
    # read_history checked every Seen cell, so each parses.
    seen = parse_seen(last["seen"]) if not last.empty else None
    state = seen if seen is not None else pd.DataFrame(columns=list(_SEEN_KEYS), dtype=object)
    last = pd.concat([last[["case_id", "owner"]], state], axis=1)
    parts = []
    known = now.index.isin(last.index)
    new = shown[shown.index.isin(now.index[~known])]
    parts.append(_rows(new, "new", None, new["flag"], stamp))
    both = now[known]
    before = last.loc[both.index]
    status_moved = both["status"].ne(before["status"])
    if status_moved.any():
        old, cur = before["status"][status_moved], both["status"][status_moved]
        finished = ("Resolved", "Closed")
        kind = np.select(
            [old.isin(finished) & ~cur.isin(finished), cur.eq("Resolved"), cur.eq("Closed")],
            ["reopened", "resolved", "closed"],
            "status",
        )
        moved = both[status_moved]
        for name in ("reopened", "resolved", "closed", "status"):
            pick = kind == name
            parts.append(_rows(moved[pick], name, old[pick], cur[pick], stamp))
    replied = both["reply"].ne(before["reply"]) & both["reply"].ne("")
    parts.append(
        _rows(both[replied], "replied", before["reply"][replied], both["reply"][replied], stamp)
    )
    followed = (both["sent"].ne(before["sent"]) | both["follow_ups"].ne(before["follow_ups"])) & (
        both["sent"].ne("") | both["follow_ups"].ne("")
    )
    parts.append(
        _rows(
            both[followed],
            "followed_up",
            _followed(before[followed]),
            _followed(both[followed]),
            stamp,
        )
    )
    # A case leaving the Status tab (resolved a week ago) is no news, nor RESOLVED on the
    # resolution: its status row says it.
    flagged = (
        both["flag"].ne(before["flag"])
        & both["flag"].ne("")
        & ~(status_moved & both["flag"].eq("RESOLVED"))
    )
    parts.append(
        _rows(both[flagged], "flag", before["flag"][flagged], both["flag"][flagged], stamp)
    )
    gone = last[~last.index.isin(now.index)]
    if not gone.empty:
        gone_state = gone.assign(shown=False, rank=len(FLAG_ORDER), order=np.arange(len(gone)))
        was = gone["flag"].where(gone["flag"].ne(""), gone["status"])
        parts.append(_rows(gone_state, "removed", was, None, stamp, flag_after=False))
    rows = pd.concat([p for p in parts if not p.empty] or [empty_rows()], ignore_index=True)
    return _finish(rows, notify_on=notify_on, notifying=notifying)


def _followed(state: pd.DataFrame) -> pd.Series:
    """A follow-up as From/To show it: the last sent time and the count, "time · n"."""
    return state["sent"].astype(str) + " · " + state["follow_ups"].astype(str)


def _rows(
    state: pd.DataFrame,
    change: str,
    before: pd.Series | None,
    after: pd.Series | None,
    stamp: pd.Timestamp,
    *,
    flag_after: bool = True,
) -> pd.DataFrame:
    if state.empty:
        return empty_rows()
    return pd.DataFrame(
        {
            "as_of": stamp,
            "case_id": state["case_id"].to_numpy(),
            "change": change,
            "from": before.to_numpy() if before is not None else None,
            "to": after.to_numpy() if after is not None else None,
            "flag": state["flag"].to_numpy() if flag_after else None,
            "owner": state["owner"].to_numpy(),
            "notified": "",
            "seen": seen_text(state).to_numpy(),
            "services": "",
            "_rank": state["rank"].to_numpy() if "rank" in state else len(FLAG_ORDER),
            "_order": state["order"].to_numpy() if "order" in state else 0,
            "_change": CHANGES.index(change),
        }
    )


def _finish(rows: pd.DataFrame, *, notify_on: tuple[str, ...], notifying: bool) -> pd.DataFrame:
    """Worst flag first, a case's rows together; alerting rows "pending" when notifying."""
    if "_rank" in rows:
        rows = rows.sort_values(["_rank", "_order", "_change"], kind="stable")
        rows = rows.drop(columns=["_rank", "_order", "_change"])
    rows = rows.reset_index(drop=True)
    rows["as_of"] = pd.to_datetime(rows["as_of"])
    if notifying and not rows.empty:
        rows.loc[alerting(rows, notify_on), "notified"] = "pending"
    return rows


def alerting(rows: pd.DataFrame, notify_on: tuple[str, ...] = DEFAULT_NOTIFY_ON) -> pd.Series:
    """The rows that are alerts: a case new or turned into a flag of ``notify_on``."""
    return rows["change"].isin(["new", "flag"]) & rows["flag"].map(
        lambda f: isinstance(f, str) and alerts_on(f, notify_on)
    )


def updated(
    previous: History | None,
    added: pd.DataFrame,
    judged: pd.DataFrame,
    as_of: pd.Timestamp,
    keep_days: float,
    slack_days: float = 0.0,
) -> History:
    """The History after this run: the new rows on top, rows older than ``keep_days`` dropped,
    except the newest row of each case still on the Status tab (it carries what caseloop last
    saw of it). ``slack_days``: old rows are dropped only once one of them is that much older
    than ``keep_days`` (then all of them), so most runs keep the tab's rows as they are."""
    old = previous.rows if previous is not None else empty_rows()
    rows = pd.concat([added, old], ignore_index=True) if not old.empty else added
    rows = rows.reset_index(drop=True)
    cutoff = as_of - pd.Timedelta(days=keep_days)
    too_old = rows["as_of"].lt(cutoff)
    if too_old.any():
        shown = set(snapshot(judged).query("shown")["case_id"])
        newest = ~rows.sort_values("as_of", kind="stable", ascending=False).duplicated("case_id")
        keep = newest.reindex(rows.index) & rows["case_id"].isin(shown)
        drop = too_old & ~keep
        if drop.any() and rows["as_of"][drop].min() < cutoff - pd.Timedelta(days=slack_days):
            rows = rows[~drop].reset_index(drop=True)
    began = previous.started if previous is not None and previous.started is not None else None
    started = as_of.floor("min") if began is None else max(began, cutoff)
    return History(rows=rows, started=started)


def prune_slack(keep_days: float) -> float:
    """How much older than ``keep_days`` a row may get before a sync drops the old rows: a
    twentieth of it (20 days of 400), so the tab is rewritten whole about that often."""
    return keep_days / 20


# --- notifications ---------------------------------------------------------------------------


def due_alerts(history: History, as_of: pd.Timestamp) -> pd.Index:
    """The rows whose alert is still to be sent: pending or not delivered for under 24 h,
    or held by quiet hours; never one already sent, nor one whose case has moved on since."""
    rows = history.rows
    if rows.empty:
        return rows.index
    recent = rows["as_of"].ge(as_of - pd.Timedelta(hours=RESEND_HOURS))
    waiting = (rows["notified"].isin(["pending", "failed"]) & recent) | rows["notified"].eq("held")
    newest = last_seen(history)
    still = rows["flag"].eq(rows["case_id"].map(newest["flag"]))
    return rows.index[waiting & still]


def record_delivery(
    history: History,
    sent: pd.Index,
    *,
    delivered: list[str] | None = None,
    failed: bool = False,
    held: pd.Index | None = None,
) -> History:
    """The History with the outcome of this run's delivery in Notified: the rows ``sent``
    delivered (to the ``delivered`` services, by name, never their URLs) or, ``failed``, not
    delivered (tried again next run); the rows ``held`` wait for the quiet hours to end."""
    rows = history.rows.copy()
    if failed:
        rows.loc[sent, "notified"] = "failed"
    else:
        rows.loc[sent, "notified"] = "sent"
        rows.loc[sent, "services"] = ", ".join(delivered or [])
    if held is not None:
        rows.loc[held, "notified"] = "held"
    return replace(history, rows=rows)


# --- reading the tab -------------------------------------------------------------------------


@dataclass
class Read:
    """What was read from the History tab: the history, or why it was started afresh."""

    history: History | None
    unreadable_row: int | None = None  # 1-based sheet row where the nonsense starts
    no_header: bool = False
    # Where the rows were: the 1-based sheet rows of the header and of the last row read, and
    # the header as the tab shows it (the next run keeps the rows as they are when it is
    # caseloop's own header in the run's language, see ``KeptRows``).
    header_row: int | None = None
    last_row: int = 0
    header: tuple[str, ...] = ()

    @property
    def afresh(self) -> bool:
        return self.no_header or self.unreadable_row is not None


def _words(labels: Labels, group: str) -> dict[str, str]:
    """Every language's label of a group, folded → its key."""
    out: dict[str, str] = {}
    for key, entry in labels.raw[group].items():
        for text in entry.values():
            out[str(text).strip().casefold()] = key
    return out


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.strftime(STAMP)
    return str(value).strip()


def _texts(values: list[Any]) -> list[str]:
    """Cells as text (most are text already: a year of History is hundreds of thousands)."""
    return [v.strip() if type(v) is str else _cell_text(v) for v in values]


def read_history(grid: Grid | None, rules: Rules, labels: Labels) -> Read:
    """The History tab as caseloop wrote it (in either language); ``Read.afresh`` when someone
    edited it into something caseloop cannot read back."""
    if grid is None:
        return Read(None)
    headers = _words(labels, "history_columns")
    rows = grid.rows
    numbers = grid.row_numbers or list(range(1, len(rows) + 1))
    start = columns = None
    for index, row in enumerate(rows[:_HEADER_ROWS]):
        found = {headers.get(_cell_text(v).casefold()): c for c, v in enumerate(row)}
        if {"as_of", "case_id", "change", "seen"} <= found.keys():
            start, columns = index + 1, found
            break
    if start is None or columns is None:
        return Read(None, no_header=True)
    header_row, last_row = numbers[start - 1], numbers[-1] if numbers else 0
    header = tuple(_texts(list(rows[start - 1])))

    def read(history: History | None, unreadable_row: int | None = None) -> Read:
        return Read(history, unreadable_row, False, header_row, last_row, header)

    body = rows[start:]
    width = max(columns.values()) + 1
    if any(len(r) < width for r in body):
        body = [list(r) + [None] * (width - len(r)) for r in body]
    by_column = list(zip(*body, strict=True)) if body else [()] * width
    take = {key: list(by_column[c]) for key, c in columns.items() if key in COLUMNS}
    blank = [None] * len(body)
    texts = {key: _texts(take.get(key, blank)) for key in COLUMNS if key != "as_of"}
    sheet_rows = numbers[start : start + len(body)]
    # Rows with neither a Case ID nor a time are blank lines: skipped.
    keep = [
        i
        for i, (case_id, when) in enumerate(zip(texts["case_id"], take["as_of"], strict=True))
        if case_id or (when is not None and when != "")
    ]
    if not keep:
        return read(History(empty_rows()))
    if len(keep) < len(body):
        texts = {key: [column[i] for i in keep] for key, column in texts.items()}
        take["as_of"] = [take["as_of"][i] for i in keep]
        sheet_rows = [sheet_rows[i] for i in keep]
    as_of = _times(pd.Series(take["as_of"], dtype=object), grid)
    change_words = _words(labels, "history_changes")
    change = [change_words.get(text.casefold()) for text in texts["change"]]
    # Each Seen cell is parsed here (only its flag is kept on the row; the state of a case is
    # parsed again from its newest row when the next changes are worked out).
    matched = [_SEEN.match(text) for text in texts["seen"]]
    bad = (
        as_of.isna().to_numpy()
        | np.array([c is None for c in change])
        | np.array([m is None for m in matched])
        | np.array([not c for c in texts["case_id"]])
    )
    if bad.any():
        return read(None, int(sheet_rows[int(np.argmax(bad))]))
    notified, services = _notified(texts["notified"], labels)
    flags = _words_of_flags(rules, labels)
    statuses = _words_of_statuses(rules)
    flag_after = [
        None if c == "removed" else m.group("flag").strip()  # type: ignore[union-attr]
        for c, m in zip(change, matched, strict=True)
    ]
    out = pd.DataFrame(
        {
            "as_of": as_of.to_numpy(),
            "case_id": texts["case_id"],
            "change": change,
            "from": _canonical(texts["from"], change, flags, statuses),
            "to": _canonical(texts["to"], change, flags, statuses),
            "flag": flag_after,
            "owner": [o or None for o in texts["owner"]],
            "notified": notified,
            "seen": texts["seen"],
            "services": services,
        }
    ).astype({c: object for c in COLUMNS if c != "as_of"} | {"services": object})
    out = out.sort_values("as_of", kind="stable", ascending=False).reset_index(drop=True)
    return read(History(out, started=started_of(out, None)))


def started_of(rows: pd.DataFrame, keep_days: float | None) -> pd.Timestamp | None:
    """Since when the history is complete: its first row, or keep_days before its newest."""
    if rows.empty:
        return None
    first, newest = rows["as_of"].min(), rows["as_of"].max()
    if keep_days is None:
        return first
    return max(first, newest - pd.Timedelta(days=keep_days))


def _times(values: pd.Series, grid: Grid) -> pd.Series:
    """As of cells: text as caseloop writes it, a date cell, or a Google serial (vectorised:
    a year of History is tens of thousands of rows)."""
    is_text = values.map(lambda v: isinstance(v, str))
    is_number = values.map(lambda v: isinstance(v, int | float) and not isinstance(v, bool))
    is_date = values.map(lambda v: isinstance(v, dt.datetime))
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    if is_text.any():
        text = values[is_text].str.strip()
        parsed = pd.to_datetime(text, format="%Y-%m-%d %H:%M", errors="coerce")
        slow = parsed.isna()
        if slow.any():  # other ISO forms someone may have typed
            parsed[slow] = pd.to_datetime(text[slow], format="ISO8601", errors="coerce")
        out[is_text] = parsed
    if is_number.any() and grid.dates_as_serials:
        days = pd.to_numeric(values[is_number], errors="coerce").astype(float)
        days = days.where(days.between(1, 2_958_465))
        out[is_number] = pd.Timestamp("1899-12-30") + pd.to_timedelta(days, unit="D")
    if is_date.any():
        out[is_date] = pd.to_datetime(values[is_date].tolist())
    return out.dt.floor("min")


def _notified(values: list[str], labels: Labels) -> tuple[list[str], list[str]]:
    """Notified cells as their state, and the services a sent alert went to."""
    prefixes = {
        str(entry[lang]).split("{", 1)[0].strip().casefold(): key
        for key, entry in labels.raw["history_notified"].items()
        for lang in ("en", "zh")
        if entry.get(lang)
    }
    states, services = [], []
    for text in values:
        if not text:  # most rows alerted nobody
            states.append("")
            services.append("")
            continue
        folded = text.casefold()
        key = next((k for p, k in prefixes.items() if p and folded.startswith(p)), "")
        states.append(key if key in NOTIFIED else "")
        rest = ""
        if key == "sent":
            rest = (
                re.split(r"[:：]", text, maxsplit=1)[-1].strip()
                if re.search(r"[:：]", text)
                else ""
            )
        services.append(rest)
    return states, services


def _words_of_flags(rules: Rules, labels: Labels) -> dict[str, str]:
    out = {}
    late = labels.raw["history_text"]["late"]
    for name, info in rules.flags.items():
        for text in (name, info.zh):
            out[text.casefold()] = name
            if name == "OUR TURN":
                for lang in ("en", "zh"):
                    out[(text + late[lang]).casefold()] = name + LATE
    passed = labels.raw["flag_states"]["deadline_passed"]
    out[str(passed["zh"]).casefold()] = "DEADLINE"
    return out


def _words_of_statuses(rules: Rules) -> dict[str, str]:
    out = {}
    for mapping in (rules.zh_labels["Status"], rules.status_label_zh):
        for name, zh in mapping.items():
            out[name.casefold()] = name
            out[str(zh).casefold()] = name
    return out


def _canonical(
    values: list[str], change: list[str | None], flags: dict[str, str], statuses: dict[str, str]
) -> list[str | None]:
    """From/To cells back to canonical words (flags, statuses by the row's change); other
    text (times, counts) as it is."""
    status_rows = set(STATUS_CHANGES)
    return [
        (statuses if kind in status_rows else flags).get(text.casefold(), text) if text else None
        for text, kind in zip(values, change, strict=True)
    ]


# --- the tab ---------------------------------------------------------------------------------

HEADER = Style(bg="#404040", font_color="#FFFFFF", bold=True, border=True, wrap=True)
TITLE = Style(bold=True, size=12)
SEEN_STYLE = Style(font_color="#A6A6A6")
WIDTHS = {
    "as_of": 17,
    "case_id": 14,
    "change": 20,
    "from": 20,
    "to": 20,
    "flag": 16,
    "owner": 12,
    "notified": 18,
    "seen": 30,
}


@dataclass
class Shown:
    """How canonical words read in the tab's language."""

    rules: Rules
    labels: Labels
    lang: str
    _flags: dict[str, str] = field(default_factory=dict)

    def flag(self, token: object) -> str | None:
        if not isinstance(token, str) or not token:
            return None
        hit = self._flags.get(token)
        if hit is None:
            base = token.removesuffix(LATE)
            info = self.rules.flags.get(base)
            text = base if info is None or self.lang == "en" else info.zh
            if token.endswith(LATE):
                text += self.labels.get("history_text", "late", self.lang)
            hit = self._flags[token] = text
        return hit

    def value(self, change: str, token: object) -> str | None:
        if not isinstance(token, str) or not token:
            return None
        if change not in STATUS_CHANGES and token.removesuffix(LATE) in self.rules.flags:
            return self.flag(token)
        if self.lang == "zh":
            return self.rules.zh_labels["Status"].get(
                token, self.rules.status_label_zh.get(token, token)
            )
        return token

    def notified(self, state: str, services: str) -> str | None:
        if not state:
            return None
        return self.labels.get("history_notified", state, self.lang).format(
            services=services or "—"
        )


def render_history(
    history: History,
    rules: Rules,
    labels: Labels,
    lang: str,
    generated_at: dt.datetime,
    keep_days: float,
    title: str | None = None,
    rows: pd.DataFrame | None = None,
) -> SheetModel:
    """The History tab: a title line, a header, one row per change, oldest first (``rows``:
    only these rows below the header, for a tab that keeps the rows it has, see ``KeptRows``)."""
    shown = Shown(rules, labels, lang)
    heading = labels.get("history_text", "title", lang).format(
        generated=generated_at.strftime(STAMP),
        since=history.started.strftime(STAMP) if history.started is not None else "—",
        days=f"{keep_days:g}",
    )
    header = [Cell(labels.get("history_columns", c, lang), HEADER) for c in COLUMNS]
    out: list[list[Cell]] = [[Cell(heading, TITLE)], header]
    change_words = {c: labels.get("history_changes", c, lang) for c in CHANGES}
    flag_styles: dict[str, Style] = {}

    def flag_cell(token: object) -> Cell:
        text = shown.flag(token)
        if text is None:
            return Cell(None)
        base = str(token).removesuffix(LATE)
        style = flag_styles.get(str(token))
        if style is None and base in rules.flags:
            info = rules.flags[base]
            bg = info.late_color if str(token).endswith(LATE) and info.late_color else info.color
            style = flag_styles[str(token)] = Style(bg=bg, font_color=info.font_color)
        return Cell(text, style)

    rows = history.rows if rows is None else rows
    rows = rows.loc[display_order(rows)]
    stamps = rows["as_of"].dt.strftime(STAMP).tolist()
    # Most values repeat (a run's time, the change words, flags, owners): one Cell each.
    plain: dict[object, Cell] = {}

    def cell(value: object) -> Cell:
        found = plain.get(value)
        if found is None:
            found = plain[value] = Cell(value if isinstance(value, str) and value else None)
        return found

    flags: dict[object, Cell] = {}
    for i, record in enumerate(
        rows[
            ["case_id", "change", "from", "to", "flag", "owner", "notified", "seen", "services"]
        ].itertuples(index=False, name=None)
    ):
        case_id, change, before, after, flag, owner, notified, seen, services = record
        flagged = flags.get(flag)
        if flagged is None:
            flagged = flags[flag] = flag_cell(flag)
        out.append(
            [
                cell(stamps[i]),
                Cell(case_id),
                cell(change_words.get(change, change)),
                cell(shown.value(change, before)),
                cell(shown.value(change, after)),
                flagged,
                cell(owner),
                cell(shown.notified(notified, services)) if notified else cell(None),
                Cell(seen, SEEN_STYLE),
            ]
        )
    last = max(2, len(out)) - 1
    return SheetModel(
        title=title or labels.get("tabs", KIND, lang),
        rows=out,
        col_widths=[WIDTHS[c] for c in COLUMNS],
        freeze_rows=2,
        auto_filter=Range(1, 0, last, len(COLUMNS) - 1),
        kind=KIND,
    )


def display_order(rows: pd.DataFrame) -> pd.Index:
    """The rows as the tab lays them out: oldest run first, each run's rows in their order
    (new rows are added at the bottom, so the rows above stay as they are)."""
    return rows.sort_values("as_of", kind="stable").index


def notified_cells(
    history: History, positions: pd.Index, rules: Rules, labels: Labels, lang: str
) -> list[tuple[int, int, str | None]]:
    """(row, column, text) of the Notified cells of ``positions`` as ``render_history`` lays
    them out: what a small second write after delivery changes."""
    shown = Shown(rules, labels, lang)
    column = COLUMNS.index("notified")
    rows = history.rows
    line = {label: n for n, label in enumerate(display_order(rows))}
    return [
        (2 + line[p], column, shown.notified(rows.at[p, "notified"], rows.at[p, "services"]))
        for p in positions
    ]


# --- flags through time, for the weekly report ---------------------------------------------


def flag_spans(history: History, judged: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Which flag each case carried when: (case_id, flag, start, end), ``end`` exclusive; the
    newest state of a case runs to ``as_of``, where the flags judged now take over."""
    rows = history.rows
    columns = ["case_id", "flag", "start", "end"]
    if rows.empty:
        spans = pd.DataFrame(columns=columns)
    else:
        ordered = rows.sort_values(["case_id", "as_of"], kind="stable")
        ordered = ordered.drop_duplicates(["case_id", "as_of"], keep="first")
        flag = ordered["flag"].fillna("").astype(str).str.removesuffix(LATE)
        nxt = ordered.groupby("case_id", sort=False)["as_of"].shift(-1)
        spans = pd.DataFrame(
            {
                "case_id": ordered["case_id"],
                "flag": flag,
                "start": ordered["as_of"],
                "end": nxt.fillna(as_of),
            }
        )
        spans = spans[spans["end"].gt(spans["start"]) | spans["end"].eq(as_of)]
    now = snapshot(judged)
    current = pd.DataFrame(
        {
            "case_id": now["case_id"],
            "flag": now["flag"].str.removesuffix(LATE),
            "start": as_of,
            "end": as_of + pd.Timedelta(microseconds=1),
        }
    )
    return pd.concat([spans, current], ignore_index=True)[columns]


def flagged_during(
    spans: pd.DataFrame, flag: str, start: pd.Timestamp, end: pd.Timestamp
) -> set[str]:
    """The cases that carried ``flag`` at any time in [start, end)."""
    hit = spans["flag"].eq(flag) & spans["start"].lt(end) & spans["end"].gt(start)
    return set(spans["case_id"][hit])


def flags_at(spans: pd.DataFrame, moment: pd.Timestamp) -> pd.Series:
    """The flag each case carried at ``moment`` (cases with none left out)."""
    hit = spans["start"].le(moment) & spans["end"].gt(moment)
    found = spans[hit].drop_duplicates("case_id", keep="last")
    return found.set_index("case_id")["flag"][lambda f: f.ne("")]
