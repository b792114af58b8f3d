"""Pure, vectorised rules: whose turn, how long each case waited, and its flag.

``evaluate(cases, rules, as_of)`` takes the typed cases frame and returns it with the computed
columns added. No I/O and no clock: the time comes in as ``as_of``.
"""

from __future__ import annotations

from collections import Counter
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from .config import FLAG_ORDER, Rules

HOUR = pd.Timedelta(hours=1)
AMAZON, US = "amazon", "us"

# The boolean condition column behind each flag, in flag order (RESOLVED and ON TRACK aside).
CONDITIONS = {
    "INVALID": "is_invalid",
    "DEADLINE": "deadline_near",
    "ESCALATE": "needs_escalation",
    "OVERDUE": "overdue",
    "OUR TURN": "our_turn",
    "NEEDS INFO": "missing_info",
    "DUE SOON": "due_soon",
}


def to_utc(times: pd.Series | pd.Timestamp, tz: ZoneInfo) -> pd.Series | pd.Timestamp:
    """Team-local wall-clock times as UTC instants, so a span across a DST change is exact.

    A time that happens twice (clocks go back) is taken as the second; one that never happens
    (clocks go forward) is moved forward.
    """
    if isinstance(times, pd.Timestamp):
        return times.tz_localize(tz, ambiguous=False, nonexistent="shift_forward").tz_convert("UTC")
    ambiguous = np.zeros(len(times), dtype=bool)
    return times.dt.tz_localize(tz, ambiguous=ambiguous, nonexistent="shift_forward").dt.tz_convert(
        "UTC"
    )


def elapsed_hours(
    later: pd.Series | pd.Timestamp, earlier: pd.Series | pd.Timestamp, tz: ZoneInfo
) -> pd.Series:
    """Real hours from ``earlier`` to ``later`` (team-local times)."""
    return (to_utc(later, tz) - to_utc(earlier, tz)) / HOUR


def add_hours(start: pd.Series, hours: pd.Series, tz: ZoneInfo) -> pd.Series:
    """``start`` plus real hours, back as team-local wall-clock times."""
    return (to_utc(start, tz) + hours * HOUR).dt.tz_convert(tz).dt.tz_localize(None)


def reply_target_hours(cases: pd.DataFrame, rules: Rules) -> pd.Series:
    """The channel's reply target, overridden by priority where the rules say so."""
    target = cases["Channel"].map(rules.reply_targets).astype(float)
    for priority, overrides in rules.reply_targets_by_priority.items():
        for channel, hours in overrides.items():
            target = target.mask(
                (cases["priority"] == priority) & (cases["Channel"] == channel), float(hours)
            )
    return target


def recurring_groups(cases: pd.DataFrame, rules: Rules) -> tuple[pd.Series, pd.Series]:
    """For each case: is it part of a recurring problem, and the key it recurs on.

    A case recurs when at least ``min_cases`` cases (itself included) share its Category and
    its ASIN, Order ID or Shipment ID and were opened within ``window_days`` of it, or when a
    chain of Related Cases links that many cases. Sorted search per group, never pairwise.
    """
    n = len(cases)
    recurring = np.zeros(n, dtype=bool)
    key_of = pd.Series([None] * n, index=cases.index, dtype=object)
    window = int(pd.Timedelta(days=rules.recurring_window_days).total_seconds())
    need = rules.recurring_min_cases
    opened = cases["Opened At"]
    valid = opened.notna() & cases["Category"].notna() & ~cases["_invalid"]
    for column in ("ASIN", "Order ID", "Shipment ID"):
        has = valid & cases[column].notna()
        if has.sum() < need:
            continue
        group = cases.loc[has, "Category"].astype(str) + "\x1f" + cases.loc[has, column].astype(str)
        codes = pd.factorize(group)[0].astype(np.int64)
        seconds = opened[has].to_numpy(dtype="datetime64[s]").astype(np.int64)
        seconds -= seconds.min()
        # One sortable number per case, group-major: a window never reaches into the next group.
        stride = int(seconds.max()) + 2 * window + 2
        keys = codes * stride + seconds
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        lo = np.searchsorted(keys, keys - window, "left")
        hi = np.searchsorted(keys, keys + window, "right")
        hit_sorted = (hi - lo) >= need
        positions = np.flatnonzero(has.to_numpy())[order]
        hit_positions = positions[hit_sorted]
        newly = hit_positions[~recurring[hit_positions]]
        recurring[hit_positions] = True
        key_of.iloc[newly] = (column + " " + cases[column].iloc[newly].astype(str)).to_numpy()
    chains = related_chain_sizes(cases)
    chained = (chains >= need).to_numpy() & valid.to_numpy()
    newly = chained & ~recurring
    recurring |= chained
    key_of[newly] = "Related Cases"
    return pd.Series(recurring, index=cases.index), key_of


def related_chain_sizes(cases: pd.DataFrame) -> pd.Series:
    """How many cases each case's Related Cases chain links together (itself included)."""
    ids = cases["Case ID"]
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.get(x, x) != x:
            parent[x] = parent.get(parent[x], parent[x])
            x = parent[x]
        return x

    linked = cases.loc[cases["related_ids"].map(len) > 0, ["Case ID", "related_ids"]]
    # Union-find over the links only: a log has few of them, so this stays linear.
    for case_id, related in zip(linked["Case ID"], linked["related_ids"], strict=True):
        if pd.isna(case_id):  # None or NaN: a row without an ID links nothing
            continue
        for other in related:
            a, b = root(case_id), root(other)
            if a != b:
                parent[a] = b
    if not parent:
        return pd.Series(1, index=cases.index)
    # A chain counts every ID in it, also earlier cases that are not rows of this log.
    roots = {i: root(i) for i in set(parent) | set(parent.values())}
    sizes = Counter(roots.values())
    size_of = {i: sizes[r] for i, r in roots.items()}
    return ids.map(size_of).fillna(1).astype(int)


def evaluate(cases: pd.DataFrame, rules: Rules, as_of: pd.Timestamp) -> pd.DataFrame:
    """Add whose turn, waiting, target, due at, open hours, recurring and the flag to each case."""
    out = cases.copy()
    is_open = out["Status"].eq("Open") & ~out["_invalid"]
    category_priority = out["Category"].map({n: c.priority for n, c in rules.categories.items()})
    out["priority"] = out["Priority"].where(out["Priority"].notna(), category_priority)
    out["priority"] = out["priority"].fillna("Normal")
    follow_ups = out["Follow-ups"].fillna(0).astype(int)
    out["follow_ups"] = follow_ups

    last_sent = out["Last Sent At"].where(out["Last Sent At"].notna(), out["Opened At"])
    last_reply = out["Last Reply At"].where(out["Last Reply At"].notna(), out["First Reply At"])
    # Amazon's turn when it never answered or we wrote after its last answer; a tie is ours.
    amazon_turn = last_reply.isna() | (last_sent > last_reply)
    # numpy makes None an object array; its type stubs do not list None as an array.
    out["whose_turn"] = np.where(is_open, np.where(amazon_turn, AMAZON, US), None)  # type: ignore[call-overload]
    turn_started = last_sent.where(amazon_turn, last_reply)
    out["turn_started"] = turn_started.where(is_open)
    tz = rules.timezone
    out["waiting_hours"] = elapsed_hours(as_of, turn_started, tz).where(is_open)
    amazon_target = reply_target_hours(out, rules)
    out["target_hours"] = amazon_target.where(amazon_turn, rules.our_reply_hours).where(is_open)
    out["due_at"] = add_hours(turn_started, out["target_hours"], tz).where(is_open)
    out["open_hours"] = elapsed_hours(as_of, out["Opened At"], tz).where(is_open)

    recurring, recurring_key = recurring_groups(out, rules)
    out["recurring"] = recurring & is_open
    out["recurring_key"] = recurring_key.where(out["recurring"])

    waiting, target = out["waiting_hours"], out["target_hours"]
    on_amazon = is_open & (out["whose_turn"] == AMAZON)
    past_target = waiting > target
    max_open = out["priority"].map(rules.max_open_hours).astype(float)
    out["deadline_hours_left"] = elapsed_hours(out["Deadline"], as_of, tz).where(is_open)
    out["deadline_near"] = is_open & (out["deadline_hours_left"] < rules.deadline_warn_hours)
    out["escalate_follow_ups"] = on_amazon & past_target & (follow_ups >= rules.escalate_follow_ups)
    out["escalate_too_long"] = is_open & (out["open_hours"] > max_open)
    out["needs_escalation"] = (
        out["escalate_follow_ups"] | out["escalate_too_long"] | out["recurring"]
    )
    out["overdue"] = on_amazon & past_target
    out["our_turn"] = is_open & (out["whose_turn"] == US)
    out["our_turn_late"] = out["our_turn"] & past_target
    out["missing_evidence"] = missing_evidence(out, rules).where(is_open)
    out["missing_info"] = is_open & out["missing_evidence"].notna()
    out["due_soon"] = on_amazon & (waiting >= rules.due_soon_ratio * target) & ~past_target
    out["is_invalid"] = out["_invalid"]

    flag = pd.Series("ON TRACK", index=out.index, dtype=object)
    for name in reversed(list(CONDITIONS)):
        flag = flag.mask(out[CONDITIONS[name]].astype(bool), name)
    visible_since = as_of - pd.Timedelta(days=rules.resolved_visible_days)
    recently_resolved = (
        out["Status"].eq("Resolved")
        & ~out["_invalid"]
        & out["Resolved At"].notna()
        & (out["Resolved At"] >= visible_since)
    )
    flag = flag.mask(recently_resolved, "RESOLVED")
    shown = out["_invalid"] | is_open | recently_resolved
    out["flag"] = flag.where(shown, None)
    out["shown"] = shown
    out["flag_rank"] = out["flag"].map({f: i for i, f in enumerate(FLAG_ORDER)})
    return out


def missing_evidence(cases: pd.DataFrame, rules: Rules) -> pd.Series:
    """The evidence columns a case's category needs that are empty, as "ASIN, Order ID"."""
    result = pd.Series([None] * len(cases), index=cases.index, dtype=object)
    for name, category in rules.categories.items():
        if not category.evidence:
            continue
        in_category = cases["Category"] == name
        if not in_category.any():
            continue
        parts = []
        for column in category.evidence:
            empty = in_category & cases[column].isna()
            parts.append(pd.Series(np.where(empty, column, ""), index=cases.index))
        joined = parts[0]
        for part in parts[1:]:
            joined = joined.str.cat(part, sep=", ").str.strip(", ")
        result = result.mask(in_category & (joined != ""), joined)
    return result
