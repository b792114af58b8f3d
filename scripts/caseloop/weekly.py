"""The weekly report's numbers: pure pandas over the judged cases, one ISO week at a time.

Weeks are ISO weeks in the team's time zone, Monday 00:00 to the next Monday 00:00. Rows that
are INVALID are left out of every count. Where the log cannot tell (a median with no case,
escalations in a past week) the value is None, never a made-up zero.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from .config import FIRST_YEAR, FLAG_ORDER, LAST_YEAR, Rules
from .errors import CaseloopError, OptionError
from .rules import elapsed_hours, recurring_groups, reply_target_hours

if TYPE_CHECKING:
    from .history import History

WEEKS_SHOWN = 12
OLDEST_SHOWN = 10
STALE_DAYS = 7
AGE_BUCKETS = (
    ("lt_1d", 0, 1),
    ("d1_3", 1, 3),
    ("d3_7", 3, 7),
    ("d7_14", 7, 14),
    ("ge_14d", 14, None),
)
NOW = ("escalated", "overdue")
# The flags a case carries while open, in the open-by-flag table (INVALID rows are not counted).
OPEN_FLAGS = tuple(f for f in FLAG_ORDER if f not in ("INVALID", "RESOLVED"))
# Flags counted "during" a week: a case that carried it at any time in the week.
DURING = {"escalated": "ESCALATE", "overdue": "OVERDUE"}
METRICS = (
    "opened",
    "resolved",
    "closed",
    "open_at_end",
    "first_reply_median",
    "first_reply_p90",
    "first_reply_within_target",
    "resolution_median",
    "escalated",
    "overdue",
)
_WEEK = re.compile(r"^\s*(\d{4})-?W(\d{1,2})\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Week:
    year: int
    number: int

    @property
    def start(self) -> pd.Timestamp:
        return pd.Timestamp(dt.date.fromisocalendar(self.year, self.number, 1))

    @property
    def end(self) -> pd.Timestamp:
        return self.start + pd.Timedelta(days=7)

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.number:02d}"

    def shifted(self, weeks: int) -> Week:
        y, w, _ = (self.start + pd.Timedelta(weeks=weeks)).isocalendar()
        return Week(int(y), int(w))

    @classmethod
    def containing(cls, moment: pd.Timestamp) -> Week:
        y, w, _ = moment.isocalendar()
        return cls(int(y), int(w))

    @classmethod
    def parse(cls, text: str) -> Week:
        match = _WEEK.match(text)
        if not match:
            raise OptionError(
                "week", f'{{option}} "{text}" is not an ISO week; write it like 2026-W47.'
            )
        year, number = int(match.group(1)), int(match.group(2))
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise OptionError(
                "week",
                f'{{option}} "{text}" is out of range: caseloop works with dates from {FIRST_YEAR} '
                f"to {LAST_YEAR}; choose a week like 2026-W47.",
            )
        last = dt.date(year, 12, 28).isocalendar()[1]
        if not 1 <= number <= last:
            raise OptionError(
                "week",
                f"{year} has no week {number}; its ISO weeks run {year}-W01 to {year}-W{last}.",
            )
        return cls(year, number)


def default_week(as_of: pd.Timestamp) -> Week:
    """The last complete week before as_of."""
    return Week.containing(as_of).shifted(-1)


@dataclass
class WeeklyReport:
    week: Week
    as_of: pd.Timestamp
    weeks: pd.DataFrame  # one row per week, columns "week" + METRICS
    by: dict[str, pd.DataFrame]  # "category" / "marketplace" / "channel" → rows of METRICS
    backlog: dict[str, int]  # bucket → open cases, plus "stale" and "total"
    backlog_at: pd.Timestamp
    oldest: pd.DataFrame  # case_id, marketplace, category, owner, open_hours, flag
    recurring: pd.DataFrame  # category, key, cases, case_ids
    not_counted: int
    # From the History tab (issue 13): open cases by flag at each week's end (week + OPEN_FLAGS,
    # None where not known), the report week by owner, and since when the history is complete.
    open_by_flag: pd.DataFrame | None = None
    owners: pd.DataFrame | None = None  # owner, count (open), alerts, first_reply_median
    history_started: pd.Timestamp | None = None


def first_reply_hours(cases: pd.DataFrame, tz: ZoneInfo) -> pd.Series:
    """First Reply At − Opened At; Last Reply At stands in when no follow-up was sent."""
    first = cases["First Reply At"]
    stand_in = first.isna() & (cases["Follow-ups"].fillna(0) == 0)
    first = first.where(~stand_in, cases["Last Reply At"])
    return elapsed_hours(first, cases["Opened At"], tz)


def _median(values: pd.Series) -> float | None:
    values = values.dropna()
    return float(values.median()) if len(values) else None


def _p90(values: pd.Series) -> float | None:
    values = values.dropna()
    return float(np.percentile(values.to_numpy(), 90)) if len(values) else None


def week_metrics(
    cases: pd.DataFrame, week: Week, flagged: dict[str, set[str]] | None = None
) -> dict[str, object]:
    """The counts and times of one week over ``cases`` (already free of INVALID rows).

    ``flagged``: the Case IDs that carried ESCALATE and OVERDUE in the week, by metric, when
    that is known (None: blank)."""
    start, end = week.start, week.end
    opened_in = cases["Opened At"].ge(start) & cases["Opened At"].lt(end)
    resolved_in = cases["Resolved At"].ge(start) & cases["Resolved At"].lt(end)
    first = cases["first_reply_hours"][opened_in]
    within = None
    if first.notna().any():
        target = cases["reply_target"][opened_in]
        has = first.notna()
        within = float((first[has] <= target[has]).mean() * 100)
    resolved = resolved_in & cases["Status"].eq("Resolved")
    resolution = cases["resolution_hours"][resolved]
    return {
        "opened": int(opened_in.sum()),
        "resolved": int(resolved.sum()),
        "closed": int((resolved_in & cases["Status"].eq("Closed")).sum()),
        "open_at_end": int(open_at(cases, end).sum()),
        "first_reply_median": _median(first),
        "first_reply_p90": _p90(first),
        "first_reply_within_target": within,
        "resolution_median": _median(resolution),
        **{
            metric: None if flagged is None else int(cases["_id"].isin(flagged[metric]).sum())
            for metric in NOW
        },
    }


def open_at(cases: pd.DataFrame, moment: pd.Timestamp) -> pd.Series:
    """Opened before ``moment`` and not resolved or closed before it.

    A case whose Status is Open again (reopened) counts as open whatever its old Resolved At.
    """
    finished = cases["Status"].isin(["Resolved", "Closed"])
    resolved_before = finished & cases["Resolved At"].notna() & cases["Resolved At"].lt(moment)
    return cases["Opened At"].lt(moment) & ~resolved_before


def backlog(cases: pd.DataFrame, moment: pd.Timestamp, tz: ZoneInfo) -> dict[str, int]:
    is_open = open_at(cases, moment)
    age_days = elapsed_hours(moment, cases["Opened At"][is_open], tz) / 24
    counts = {}
    for name, low, high in AGE_BUCKETS:
        inside = age_days >= low
        if high is not None:
            inside &= age_days < high
        counts[name] = int(inside.sum())
    # The latest message either way that was already sent at that moment.
    messages = cases.loc[is_open, ["Opened At", "Last Sent At", "First Reply At", "Last Reply At"]]
    messages = messages.where(messages.lt(moment))
    last_message = messages.max(axis=1)
    silent_hours = elapsed_hours(moment, last_message.astype("datetime64[ns]"), tz)
    counts["stale"] = int((silent_hours >= STALE_DAYS * 24).sum())
    counts["total"] = int(is_open.sum())
    return counts


def recurring_problems(cases: pd.DataFrame, rules: Rules, until: pd.Timestamp) -> pd.DataFrame:
    """The recurring problems (the rules' own definition) with a case opened in the window
    before ``until``, each listed with every case of it opened by then."""
    before = cases[cases["Opened At"].lt(until)]
    recurring, key, _ = recurring_groups(before, rules)
    hits = before[recurring].assign(key=key[recurring])
    since = until - pd.Timedelta(days=rules.recurring_window_days)
    found = []
    for (category, group_key), group in hits.groupby(["Category", "key"], sort=False):
        if group["Opened At"].ge(since).any():
            found.append(
                {
                    "category": category,
                    "key": group_key,
                    "cases": len(group),
                    "case_ids": ", ".join(str(i) for i in group["Case ID"]),
                }
            )
    columns = ["category", "key", "cases", "case_ids"]
    return pd.DataFrame(found, columns=columns).sort_values(
        ["cases", "category"], ascending=[False, True], ignore_index=True
    )


def weekly_report(
    judged: pd.DataFrame,
    rules: Rules,
    as_of: pd.Timestamp,
    week: Week | None = None,
    history: History | None = None,
) -> WeeklyReport:
    """Every number of the Weekly Summary tab and the Markdown report.

    ``history`` (the History tab) tells which flags the cases carried in past weeks; without it
    (or before it began) only the flags judged now are known.
    """
    from .history import alerting, case_ids, flag_spans, flagged_during, started_of

    week = week or default_week(as_of)
    if week.start > as_of:
        raise CaseloopError(
            f"{week.label} has not started at {as_of:%Y-%m-%d %H:%M}; choose a week up to "
            f"{Week.containing(as_of).label}."
        )
    valid = judged[~judged["_invalid"]].copy()
    valid["_id"] = case_ids(valid["Case ID"])
    valid["first_reply_hours"] = first_reply_hours(valid, rules.timezone)
    valid["resolution_hours"] = elapsed_hours(
        valid["Resolved At"], valid["Opened At"], rules.timezone
    )
    valid["reply_target"] = reply_target_hours(valid, rules)
    flagged_now = {m: set(valid["_id"][valid["flag"].eq(f)]) for m, f in DURING.items()}
    current = Week.containing(as_of)
    # Without history, flags are known only at as_of: they belong to this week's row, or to the
    # chosen week when it is the last complete one (the Monday-morning report).
    now_week = week if week in (current, current.shifted(-1)) else current
    started = None
    spans = None
    if history is not None and not history.empty:
        started = started_of(history.rows, rules.history_keep_days)
        spans = flag_spans(history, judged, as_of)

    def known(w: Week) -> bool:
        return spans is not None and started is not None and w.end > started

    def flagged(w: Week) -> dict[str, set[str]] | None:
        if spans is not None and known(w):
            return {m: flagged_during(spans, f, w.start, w.end) for m, f in DURING.items()}
        return flagged_now if w == now_week else None

    rows = []
    open_rows = []
    for back in range(WEEKS_SHOWN - 1, -1, -1):
        w = week.shifted(-back)
        metrics = week_metrics(valid, w, flagged(w))
        rows.append({"week": w.label, **metrics})
        open_rows.append({"week": w.label, **_open_by_flag(valid, w, as_of, spans, known(w))})
    weeks = pd.DataFrame(rows, columns=["week", *METRICS], dtype=object)
    open_by_flag = pd.DataFrame(open_rows, columns=["week", *OPEN_FLAGS], dtype=object)
    backlog_at = min(week.end, as_of)
    by = {}
    report_flagged = flagged(week)
    for name, column in (
        ("category", "Category"),
        ("marketplace", "Marketplace"),
        ("channel", "Channel"),
    ):
        values = sorted(valid[column].dropna().unique())
        table = []
        for value in values:
            subset = valid[valid[column] == value]
            metrics = week_metrics(subset, week, report_flagged)
            # Every group with something to count, so the breakdowns add up to the week's row.
            if any(metrics[k] for k in ("opened", "resolved", "closed", "open_at_end", *NOW)):
                table.append({name: value, **metrics})
        by[name] = pd.DataFrame(table, columns=[name, *METRICS], dtype=object)
    is_open = open_at(valid, backlog_at)
    oldest = valid[is_open].sort_values("Opened At").head(OLDEST_SHOWN)
    oldest_table = pd.DataFrame(
        {
            "case_id": oldest["Case ID"],
            "marketplace": oldest["Marketplace"],
            "category": oldest["Category"],
            "owner": oldest["Owner"],
            "open_hours": elapsed_hours(backlog_at, oldest["Opened At"], rules.timezone),
            # A case closed since the week ended has no flag now: say what became of it.
            "flag": oldest["flag"].where(oldest["flag"].notna(), oldest["Status"]),
        }
    ).reset_index(drop=True)
    alerts = None
    if history is not None and known(week):
        rows_h = history.rows
        in_week = rows_h["as_of"].ge(week.start) & rows_h["as_of"].lt(week.end)
        alerts = rows_h[in_week & alerting(rows_h)]
    return WeeklyReport(
        week=week,
        as_of=as_of,
        weeks=weeks,
        by=by,
        backlog=backlog(valid, backlog_at, rules.timezone),
        backlog_at=backlog_at,
        oldest=oldest_table,
        recurring=recurring_problems(valid, rules, week.end),
        not_counted=int(judged["_invalid"].sum()),
        open_by_flag=open_by_flag,
        owners=owner_table(valid, week, is_open, alerts),
        history_started=started,
    )


def _open_by_flag(
    valid: pd.DataFrame,
    week: Week,
    as_of: pd.Timestamp,
    spans: pd.DataFrame | None,
    known: bool,
) -> dict[str, int | None]:
    """Open cases by flag at the week's end (at as_of for the week still running): from the
    flags judged now, or from the History tab for a past week it covers; else unknown."""
    from .history import flags_at

    if week.end > as_of:
        flags = valid["flag"]
    elif spans is not None and known:
        flags = flags_at(spans, week.end)
        flags = flags[flags.index.isin(set(valid["_id"]))]
    else:
        return {f: None for f in OPEN_FLAGS}
    counts = flags.value_counts()
    return {f: int(counts.get(f, 0)) for f in OPEN_FLAGS}


def owner_table(
    valid: pd.DataFrame, week: Week, is_open: pd.Series, alerts: pd.DataFrame | None
) -> pd.DataFrame:
    """The report week by owner: open cases at its end, alerts in it (None without History)
    and the median first reply of the cases opened in it."""
    owner = valid["Owner"].where(valid["Owner"].notna(), "")
    opened_in = valid["Opened At"].ge(week.start) & valid["Opened At"].lt(week.end)
    open_counts = owner[is_open].value_counts()
    medians = valid["first_reply_hours"][opened_in].groupby(owner[opened_in]).median()
    alert_counts = (
        alerts["owner"].where(alerts["owner"].notna(), "").value_counts()
        if alerts is not None
        else pd.Series(dtype=int)
    )
    names = sorted(set(open_counts.index) | set(medians.dropna().index) | set(alert_counts.index))
    table = [
        {
            "owner": name,
            "count": int(open_counts.get(name, 0)),
            "alerts": None if alerts is None else int(alert_counts.get(name, 0)),
            "first_reply_median": (
                None if pd.isna(medians.get(name, np.nan)) else float(medians[name])
            ),
        }
        for name in names
    ]
    # The cases with no owner last: someone has to take them.
    table.sort(key=lambda r: (r["owner"] == "", -r["count"], r["owner"]))
    return pd.DataFrame(
        table, columns=["owner", "count", "alerts", "first_reply_median"], dtype=object
    )
