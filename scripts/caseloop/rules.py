"""Pure, vectorised rules: whose turn, how long each case waited, and its flag.

``evaluate(cases, rules, as_of)`` takes the typed cases frame and returns it with the computed
columns added. No I/O and no clock: the time comes in as ``as_of``.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from .config import FLAG_ORDER, Rules

HOUR = pd.Timedelta(hours=1)
AMAZON, US = "amazon", "us"
# Channels answered live: their reply target runs only until the first answer.
LIVE_CHANNELS = ("Phone", "Chat")

# The boolean condition column behind each flag, in flag order (RESOLVED and ON TRACK aside).
CONDITIONS = {
    "INVALID": "is_invalid",
    "DEADLINE": "deadline_near",
    "ESCALATE": "needs_escalation",
    "DUPLICATE": "duplicate",
    "REOPEN": "reopen",
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


ID_COLUMNS = ("ASIN", "Order ID", "Shipment ID")


def _optional(cases: pd.DataFrame) -> pd.DataFrame:
    """The columns a schema or a frame built without them lacks, added empty."""
    for name, empty in (
        ("Promised By", pd.NaT),
        ("Deadline Type", None),
        ("status_label", None),
        ("Store", None),
        ("Summary", None),
    ):
        if name not in cases:
            cases[name] = pd.Series([empty] * len(cases), index=cases.index)
    if "_defaults" not in cases:
        cases["_defaults"] = [()] * len(cases)
    cases["Promised By"] = pd.to_datetime(cases["Promised By"])
    return cases


def problem_keys(cases: pd.DataFrame, valid: pd.Series) -> dict[str, pd.Series]:
    """For each ID column, the key two cases share when they are about the same thing: the
    same Category, Marketplace and Store (one Seller Central account: a case cannot be merged
    into another account's or marketplace's) and the same ASIN, Order ID or Shipment ID (None
    where there is none)."""
    keys = {}
    account = (
        cases["Marketplace"].fillna("").astype(str) + "\x1f" + cases["Store"].fillna("").astype(str)
    )
    for column in ID_COLUMNS:
        has = valid & cases["Category"].notna() & cases[column].notna()
        key = cases["Category"].astype(str) + "\x1f" + account + "\x1f" + cases[column].astype(str)
        keys[column] = key.where(has, None)
    return keys


def recurring_groups(
    cases: pd.DataFrame, rules: Rules, chains: Chains | None = None
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """For each case: is it part of a recurring problem, the key it recurs on, and how many
    cases of the problem were opened up to it (it the 3rd, the 4th...).

    A case recurs when at least ``min_cases`` cases (itself included) share its Category and
    its ASIN, Order ID or Shipment ID and were opened within ``window_days`` of it, or when a
    chain of Related Cases links that many cases. Sorted search per group, never pairwise.
    """
    n = len(cases)
    recurring = np.zeros(n, dtype=bool)
    count = np.zeros(n, dtype=np.int64)
    key_of = pd.Series([None] * n, index=cases.index, dtype=object)
    window = int(pd.Timedelta(days=rules.recurring_window_days).total_seconds())
    need = rules.recurring_min_cases
    opened = cases["Opened At"]
    valid = opened.notna() & cases["Category"].notna() & ~cases["_invalid"]
    for column in ID_COLUMNS:
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
        # The cases of the problem opened in the window up to this one, this one included.
        upto = np.searchsorted(keys, keys, "right") - lo
        count[positions] = np.maximum(count[positions], np.where(hit_sorted, upto, 0))
        hit_positions = positions[hit_sorted]
        newly = hit_positions[~recurring[hit_positions]]
        recurring[hit_positions] = True
        key_of.iloc[newly] = (column + " " + cases[column].iloc[newly].astype(str)).to_numpy()
    chains = chains or related_chains(cases)
    chained = (chains.size >= need).to_numpy() & valid.to_numpy()
    newly = chained & ~recurring
    recurring |= chained
    count = np.where(chained, np.maximum(count, chains.size.to_numpy()), count)
    key_of[newly] = "Related Cases"
    return (
        pd.Series(recurring, index=cases.index),
        key_of,
        pd.Series(count, index=cases.index),
    )


@dataclass
class Chains:
    """The chains of Related Cases: each case's chain (None when it links nothing), its size,
    and every ID in each chain."""

    root: pd.Series
    size: pd.Series
    members: dict[str, list[str]]


def related_chains(cases: pd.DataFrame) -> Chains:
    """Which Related Cases chain each case is in and how many cases it links (itself included)."""
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
        return Chains(
            pd.Series([None] * len(cases), index=cases.index, dtype=object),
            pd.Series(1, index=cases.index),
            {},
        )
    # A chain counts every ID in it, also earlier cases that are not rows of this log.
    roots = {i: root(i) for i in set(parent) | set(parent.values())}
    members: dict[str, list[str]] = {}
    for i, r in roots.items():
        members.setdefault(r, []).append(i)
    for chain in members.values():
        chain.sort()
    size_of = {i: len(members[r]) for i, r in roots.items()}
    return Chains(
        ids.map(roots).astype(object).where(ids.isin(roots), None),
        ids.map(size_of).fillna(1).astype(int),
        members,
    )


def components(keys: list[np.ndarray], n: int) -> np.ndarray:
    """Connected components of ``n`` items where items sharing a key value are linked: the
    smallest position in each component labels it. Vectorised label propagation."""
    heads, tails = [np.arange(n)], [np.arange(n)]
    for key in keys:
        has = pd.notna(key)
        if not has.any():
            continue
        positions = np.flatnonzero(has)
        codes, _ = pd.factorize(key[has])
        _, first = np.unique(codes, return_index=True)
        heads.append(positions)
        tails.append(positions[first[codes]])
    a, b = np.concatenate(heads), np.concatenate(tails)
    labels = np.arange(n)
    while True:
        lowest = np.minimum(labels[a], labels[b])
        new = labels.copy()
        np.minimum.at(new, a, lowest)
        np.minimum.at(new, b, lowest)
        new = new[new]  # jump to the label's label: chains settle in a few rounds
        if np.array_equal(new, labels):
            return labels
        labels = new


def duplicate_cases(
    cases: pd.DataFrame, is_open: pd.Series, keys: dict[str, pd.Series], chains: Chains
) -> tuple[pd.Series, pd.Series]:
    """Open cases about the same problem (same Category and ID, or one Related Cases chain):
    each one but the oldest names the oldest; the oldest lists the others."""
    duplicate_of = pd.Series([None] * len(cases), index=cases.index, dtype=object)
    duplicates = pd.Series([[] for _ in range(len(cases))], index=cases.index, dtype=object)
    members = cases.index[is_open.to_numpy()]
    if len(members) < 2:
        return duplicate_of, duplicates
    chain_key = chains.root.where(chains.size > 1, None)
    labels = components(
        [k.loc[members].to_numpy(dtype=object) for k in (*keys.values(), chain_key)], len(members)
    )
    group = pd.DataFrame(
        {
            "comp": labels,
            "opened": cases.loc[members, "Opened At"].to_numpy(),
            "row": cases.loc[members, "_row"].to_numpy(),
            "id": cases.loc[members, "Case ID"].to_numpy(),
        },
        index=members,
    )
    group = group[group.groupby("comp")["comp"].transform("size") >= 2]
    if group.empty:
        return duplicate_of, duplicates
    group = group.sort_values(["comp", "opened", "row"])
    oldest = ~group.duplicated("comp")
    oldest_id = group.groupby("comp")["id"].transform("first")
    duplicate_of[group.index[~oldest]] = oldest_id[~oldest]
    newer = group[~oldest].groupby("comp")["id"].agg(lambda ids: sorted(ids))
    first_rows = group[oldest]
    duplicates[first_rows.index] = first_rows["comp"].map(newer)
    return duplicate_of, duplicates


def related_everywhere(
    cases: pd.DataFrame,
    wanted: pd.Series,
    keys: dict[str, pd.Series],
    chains: Chains,
    rules: Rules,
) -> pd.Series:
    """For each ``wanted`` case, every other case ID about the same problem, sorted: its whole
    Related Cases chain (also IDs not in the log) and the cases with its Category and ID opened
    within the recurring window of it."""
    out = pd.Series([[] for _ in range(len(cases))], index=cases.index, dtype=object)
    rows = cases.index[wanted.to_numpy()]
    if rows.empty:
        return out
    window = pd.Timedelta(days=rules.recurring_window_days)
    pairs = []
    for key in keys.values():
        left = pd.DataFrame({"row": rows, "key": key.loc[rows].to_numpy()}).dropna()
        if left.empty:
            continue
        left["opened"] = cases.loc[left["row"], "Opened At"].to_numpy()
        right = pd.DataFrame(
            {"key": key, "id": cases["Case ID"], "other": cases["Opened At"]}
        ).dropna()
        both = left.merge(right, on="key")
        near = (both["other"] - both["opened"]).abs() <= window
        pairs.append(both.loc[near, ["row", "id"]])
    roots = chains.root.loc[rows]
    chained = pd.DataFrame({"row": rows, "id": roots.map(chains.members).to_numpy()}).dropna()
    pairs.append(chained.explode("id"))
    every = pd.concat(pairs, ignore_index=True)
    every = every[every["id"].to_numpy() != cases.loc[every["row"], "Case ID"].to_numpy()]
    every = every.drop_duplicates()
    if every.empty:
        return out
    found = every.groupby("row")["id"].agg(lambda ids: sorted(ids))
    out[found.index] = found
    return out


def reopen_candidates(
    cases: pd.DataFrame,
    is_open: pd.Series,
    keys: dict[str, pd.Series],
    chains: Chains,
    rules: Rules,
    as_of: pd.Timestamp,
) -> pd.Series:
    """Closed cases without a Resolution, closed within ``reopen_window_days``, with no open
    case on the same problem: Amazon wants them reopened, not opened again."""
    since = as_of - pd.Timedelta(days=rules.reopen_window_days)
    closed = (
        cases["Status"].eq("Closed")
        & ~cases["_invalid"]
        & cases["Resolution"].isna()
        & cases["Resolved At"].notna()
        & (cases["Resolved At"] >= since)
    )
    if not closed.any():
        return closed
    chain_key = chains.root.where(chains.size > 1, None)
    handled = pd.Series(False, index=cases.index)
    for key in (*keys.values(), chain_key):
        open_keys = set(key[is_open].dropna())
        handled |= key.isin(open_keys) & key.notna()
    return closed & ~handled


def deadlines(cases: pd.DataFrame, rules: Rules) -> tuple[pd.Series, pd.Series]:
    """The Deadline, or, when empty, Opened At plus the window of its Deadline Type on its
    marketplace (rules.yaml deadline_types); and whether it was computed."""
    window = pd.Series(np.nan, index=cases.index)
    kind = cases["Deadline Type"]
    for name, by_marketplace in rules.deadline_windows.items():
        hours = cases["Marketplace"].map(by_marketplace).astype(float)
        hours = hours.fillna(by_marketplace.get("default", np.nan))
        window = window.mask(kind.eq(name), hours)
    computed = cases["Deadline"].isna() & window.notna() & cases["Opened At"].notna()
    at = cases["Deadline"].copy()
    if computed.any():
        at[computed] = add_hours(cases.loc[computed, "Opened At"], window[computed], rules.timezone)
    return at, computed


def evaluate(cases: pd.DataFrame, rules: Rules, as_of: pd.Timestamp) -> pd.DataFrame:
    """Add whose turn, waiting, target, due at, deadlines, duplicates, reopen, recurring and
    the flag to each case."""
    out = _optional(cases.copy())
    tz = rules.timezone
    valid = ~out["_invalid"]
    is_open = out["Status"].eq("Open") & valid
    category_priority = out["Category"].map({n: c.priority for n, c in rules.categories.items()})
    out["priority"] = out["Priority"].where(out["Priority"].notna(), category_priority)
    out["priority"] = out["priority"].fillna("Normal")
    follow_ups = out["Follow-ups"].fillna(0).astype(int)
    out["follow_ups"] = follow_ups
    out["judged_with_defaults"] = out["_defaults"].map(list)

    # -- whose turn: Seller Central's label when there is one, else the timestamps ----------
    last_sent = out["Last Sent At"].where(out["Last Sent At"].notna(), out["Opened At"])
    last_reply = out["Last Reply At"].where(out["Last Reply At"].notna(), out["First Reply At"])
    # Amazon's turn when it never answered or we wrote after its last answer; a tie is ours.
    sent_last = last_reply.isna() | (last_sent > last_reply)
    label_turn = out["status_label"].map(rules.status_label_turns)
    amazon_turn = label_turn.eq(AMAZON).where(label_turn.notna(), sent_last).astype(bool)
    # numpy makes None an object array; its type stubs do not list None as an array.
    out["whose_turn"] = np.where(is_open, np.where(amazon_turn, AMAZON, US), None)  # type: ignore[call-overload]
    out["turn_source"] = np.where(  # type: ignore[call-overload]
        is_open, np.where(label_turn.notna(), "status", "timestamps"), None
    )
    # The turn began with whoever spoke last; a label that overrides the timestamps starts it
    # at the latest event the row knows.
    turn_started = last_sent.where(sent_last, last_reply)
    out["turn_started"] = turn_started.where(is_open)
    out["waiting_hours"] = elapsed_hours(as_of, turn_started, tz).where(is_open)

    # -- Amazon's target: the channel's until a live channel answered, or Promised By -------
    channel_target = reply_target_hours(out, rules)
    live_answered = out["Channel"].isin(LIVE_CHANNELS) & last_reply.notna()
    channel_target = channel_target.mask(live_answered, rules.after_live_answer_hours)
    promised = out["Promised By"]
    promise_hours = elapsed_hours(promised, turn_started, tz)
    # A promise made before our last message was answered or broken already: the target runs.
    keeps_promise = is_open & amazon_turn & promised.notna() & (promise_hours > 0)
    amazon_target = channel_target.mask(keeps_promise, promise_hours)
    out["target_hours"] = amazon_target.where(amazon_turn, rules.our_reply_hours).where(is_open)
    due_at = add_hours(turn_started, out["target_hours"], tz)
    out["due_at"] = due_at.mask(keeps_promise, promised).where(is_open)
    out["promised_by"] = promised.where(keeps_promise)
    out["open_hours"] = elapsed_hours(as_of, out["Opened At"], tz).where(is_open)

    # -- the same problem: recurring, duplicates, every related ID ----------------------------
    chains = related_chains(out)
    keys = problem_keys(out, valid & out["Opened At"].notna())
    recurring, recurring_key, recurring_count = recurring_groups(out, rules, chains)
    out["recurring"] = recurring & is_open
    out["recurring_key"] = recurring_key.where(out["recurring"])
    out["recurring_count"] = recurring_count.where(out["recurring"])
    out["duplicate_of"], out["duplicates"] = duplicate_cases(out, is_open, keys, chains)
    out["duplicate"] = out["duplicate_of"].notna()
    out["related_all"] = related_everywhere(out, is_open, keys, chains, rules)
    out["reopen"] = reopen_candidates(out, is_open, keys, chains, rules, as_of)

    # -- deadlines: given, or computed from the Deadline Type ---------------------------------
    deadline_at, computed = deadlines(out, rules)
    # Never hide an alert: a readable deadline shows on a row with errors elsewhere too, unless
    # the case is resolved or closed.
    alive = is_open | (out["_invalid"] & ~out["Status"].isin(["Resolved", "Closed"]))
    out["deadline_at"] = deadline_at.where(alive)
    out["deadline_computed"] = computed & alive & deadline_at.notna()
    out["deadline_kind"] = out["Deadline Type"].where(out["Deadline Type"].notna(), None)
    out["deadline_hours_left"] = elapsed_hours(deadline_at, as_of, tz).where(alive)
    out["deadline_near"] = alive & (out["deadline_hours_left"] < rules.deadline_warn_hours)
    out["deadline_passed"] = alive & (out["deadline_hours_left"] < 0)

    # -- the flags ------------------------------------------------------------------------------
    waiting, target = out["waiting_hours"], out["target_hours"]
    on_amazon = is_open & amazon_turn
    past_target = waiting > target
    late_on_amazon = on_amazon & past_target
    max_open = out["priority"].map(rules.max_open_hours).astype(float)
    over_limit = is_open & (out["open_hours"] > max_open)
    # Escalation only while Amazon keeps us waiting past its target: on our turn, reply first.
    out["escalate_follow_ups"] = late_on_amazon & (follow_ups >= rules.escalate_follow_ups)
    out["escalate_too_long"] = late_on_amazon & over_limit
    out["escalate_recurring"] = late_on_amazon & out["recurring"]
    out["needs_escalation"] = (
        out["escalate_follow_ups"] | out["escalate_too_long"] | out["escalate_recurring"]
    )
    out["overdue"] = late_on_amazon
    out["our_turn"] = is_open & ~amazon_turn
    out["our_turn_late"] = out["our_turn"] & past_target
    out["our_turn_over_limit"] = out["our_turn"] & over_limit
    out["missing_evidence"] = missing_evidence(out, rules).where(is_open)
    out["missing_info"] = is_open & out["missing_evidence"].notna()
    out["due_soon"] = on_amazon & (waiting >= rules.due_soon_ratio * target) & ~past_target
    out["is_invalid"] = out["_invalid"] & ~out["deadline_near"]

    flag = pd.Series("ON TRACK", index=out.index, dtype=object)
    for name in reversed(list(CONDITIONS)):
        flag = flag.mask(out[CONDITIONS[name]].astype(bool), name)
    visible_since = as_of - pd.Timedelta(days=rules.resolved_visible_days)
    recently_resolved = (
        out["Status"].eq("Resolved")
        & valid
        & out["Resolved At"].notna()
        & (out["Resolved At"] >= visible_since)
    )
    flag = flag.mask(recently_resolved, "RESOLVED")
    shown = out["_invalid"] | is_open | recently_resolved | out["reopen"]
    out["flag"] = flag.where(shown, None)
    out["shown"] = shown
    out["flag_rank"] = out["flag"].map({f: i for i, f in enumerate(FLAG_ORDER)})
    return out


def missing_evidence(cases: pd.DataFrame, rules: Rules) -> pd.Series:
    """The evidence columns a case's category (and deadline kind) needs that are empty, as
    "ASIN, Order ID"."""
    result = pd.Series([None] * len(cases), index=cases.index, dtype=object)
    kinds = cases["Deadline Type"] if "Deadline Type" in cases else None
    for name, category in rules.categories.items():
        if not category.evidence and not category.evidence_by_deadline:
            continue
        in_category = cases["Category"] == name
        if not in_category.any():
            continue
        needs = {column: in_category for column in category.evidence}
        for kind, columns in category.evidence_by_deadline.items():
            if kinds is None:
                break
            of_kind = in_category & kinds.eq(kind)
            for column in columns:
                needs[column] = needs.get(column, pd.Series(False, index=cases.index)) | of_kind
        joined = pd.Series("", index=cases.index, dtype=object)
        for column, needed in needs.items():
            empty = needed & cases[column].isna()
            part = pd.Series(np.where(empty, column, ""), index=cases.index)
            joined = joined.str.cat(part, sep=", ").str.strip(", ")
        result = result.mask(in_category & (joined != ""), joined)
    return result
