"""The answer base (答疑库): resolved cases grouped into solved problems, and open cases matched to them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process, utils

from .config import Rules
from .rules import ID_COLUMNS, elapsed_hours, related_chains

# IDs inside a Summary (ASIN, order, shipment, case ID) say which case, not which problem: two
# cases about "12 units lost" on two ASINs are one problem, one ASIN with two complaints is not.
_ID_TOKEN = re.compile(
    r"(?<![0-9A-Za-z])(?:B0[0-9A-Z]{8}|\d{3}-\d{7}-\d{7}|FBA[0-9A-Z]{8,12}|\d{8,12})(?![0-9A-Za-z])"
)
_CJK = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def _plain(summary: Any) -> str:
    """A Summary as compared: IDs out, lower case, punctuation as spaces."""
    if not isinstance(summary, str):
        return ""
    return utils.default_process(_ID_TOKEN.sub(" ", summary))


def _chars(plain: str) -> str:
    """Chinese compared by characters (no spaces between words); other text is left to the
    word comparison (an empty string scores 0 here)."""
    return plain.replace(" ", "") if _CJK.search(plain) else ""


def similarity(a: list[str], b: list[str]) -> np.ndarray:
    """Scores 0-100 of every Summary of ``a`` against every one of ``b`` (already ``_plain``):
    English word by word (token set), Chinese character by character; the higher counts."""
    if not a or not b:
        return np.zeros((len(a), len(b)))
    words = process.cdist(a, b, scorer=fuzz.token_set_ratio, dtype=np.uint8, workers=1)
    ca, cb = [_chars(x) for x in a], [_chars(x) for x in b]
    if any(ca) and any(cb):
        chars = process.cdist(ca, cb, scorer=fuzz.ratio, dtype=np.uint8, workers=1)
        words = np.maximum(words, chars)
    return words


def _link_keys(cases: pd.DataFrame, chain_root: pd.Series) -> list[pd.Series]:
    """The values two cases share when they are about the same thing: each ID column, and the
    chain of Related Cases they are in."""
    keys = [_column(cases, c).astype(object) for c in ID_COLUMNS]
    keys.append(chain_root.loc[cases.index].astype(object).rename("chain"))
    return keys


class _Union:
    """Union-find over item positions: the cases of one problem end with one root."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


@dataclass
class AnswerBase:
    """The Answers tab's content and the "Last time" notes for open cases."""

    # One row per solved problem, most frequent first: category, problem, times, last_seen,
    # median_days, channel, what_worked, amazon_said, case_ids (newest first, a list).
    problems: pd.DataFrame
    # Resolved cases without a Resolution, by owner: owner, case_id, category, summary,
    # resolved_at.
    missing: pd.DataFrame
    # Open case (index of the judged frame) → what worked last time: case_id, hours, channel,
    # what_worked.
    last_time: dict[Any, dict[str, Any]] = field(default_factory=dict)
    resolved: int = 0


PROBLEM_COLUMNS = (
    "category",
    "problem",
    "times",
    "last_seen",
    "median_days",
    "channel",
    "what_worked",
    "amazon_said",
    "case_ids",
)
MISSING_COLUMNS = ("owner", "case_id", "category", "summary", "resolved_at")


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame:
        return frame[name]
    return pd.Series([None] * len(frame), index=frame.index, dtype=object)


def _filled(series: pd.Series) -> pd.Series:
    """Text cells with something in them (a blank or spaces is no answer)."""
    return series.notna() & series.astype(str).str.strip().ne("")


def _group(solved: pd.DataFrame, chain_root: pd.Series, rules: Rules) -> np.ndarray:
    """Which problem each solved case belongs to (a label per row), blocked by Category."""
    n = len(solved)
    plain = solved["_plain"].tolist()
    category = solved["Category"].astype(str).to_numpy()
    # Items 0..n-1 are cases; n.. are distinct (Category, Summary) pairs: cases with the same
    # words share one, and similar Summaries link their pairs, never case by case.
    node_of: dict[tuple[str, str], int] = {}
    case_node = np.empty(n, dtype=np.int64)
    for i, key in enumerate(zip(category, plain, strict=True)):
        case_node[i] = node_of.setdefault(key, n + len(node_of))
    union = _Union(n + len(node_of))
    for i in range(n):
        if plain[i]:
            union.union(i, int(case_node[i]))
    # Similar Summaries, compared within one Category only.
    by_category: dict[str, list[tuple[str, int]]] = {}
    for (cat, text), node in node_of.items():
        if text:
            by_category.setdefault(cat, []).append((text, node))
    for entries in by_category.values():
        if len(entries) < 2:
            continue
        texts = [t for t, _ in entries]
        scores = similarity(texts, texts)
        for a, b in zip(*np.nonzero(np.triu(scores >= rules.answer_similarity, 1)), strict=True):
            union.union(entries[a][1], entries[b][1])
    # A shared ID, or a chain of Related Cases, links cases whose Summaries are at least
    # loosely alike: one ASIN (or one chain a teammate linked) can carry two problems.
    for values in _link_keys(solved, chain_root):
        has = values.notna().to_numpy()
        if has.sum() < 2:
            continue
        keys = pd.Series(category[has] + "\x1f" + values[has].astype(str).to_numpy())
        positions = np.flatnonzero(has)
        for members in keys.groupby(keys, sort=False).indices.values():
            if len(members) < 2:
                continue
            rows = positions[members]
            texts = [plain[r] for r in rows]
            alike = np.triu(similarity(texts, texts) >= rules.answer_same_id_similarity, 1)
            for a, b in zip(*np.nonzero(alike), strict=True):
                union.union(int(rows[a]), int(rows[b]))
    return np.array([union.find(i) for i in range(n)], dtype=np.int64)


def build_answers(judged: pd.DataFrame, rules: Rules) -> AnswerBase:
    """Group the Resolved cases into problems; match each open case to a solved one."""
    tz = rules.timezone
    valid = ~judged["_invalid"] if "_invalid" in judged else pd.Series(True, index=judged.index)
    solved_mask = (
        judged["Status"].eq("Resolved")
        & valid
        & judged["Category"].notna()
        & judged["Opened At"].notna()
        & judged["Resolved At"].notna()
    )
    chains = related_chains(judged)
    solved = judged.loc[solved_mask].copy()
    empty = AnswerBase(
        pd.DataFrame(columns=list(PROBLEM_COLUMNS)),
        pd.DataFrame(columns=list(MISSING_COLUMNS)),
        {},
        0,
    )
    if solved.empty:
        return empty
    solved["_plain"] = [_plain(s) for s in _column(solved, "Summary")]
    solved["_hours"] = elapsed_hours(solved["Resolved At"], solved["Opened At"], tz).clip(lower=0)
    solved["_has_answer"] = _filled(_column(solved, "Resolution"))
    solved["_said"] = _filled(_column(solved, "Amazon Response"))
    solved["_comp"] = _group(solved, chains.root.loc[solved.index], rules)

    ordered = solved.sort_values(["Opened At", "_row"], ascending=[False, False])
    rows = []
    for comp, cases in ordered.groupby("_comp", sort=False):
        answered = cases[cases["_has_answer"]].sort_values("Resolved At", ascending=False)
        if answered.empty:
            continue
        latest = cases.iloc[0]
        best = answered.iloc[0]
        said = cases[cases["_said"]].sort_values("Resolved At", ascending=False)
        channels = cases["Channel"].dropna()
        # The channel that resolved it most often; a tie goes to the most recent case's.
        channel = None
        if not channels.empty:
            counts = channels.value_counts(sort=False)
            top = counts[counts == counts.max()].index
            channel = next(c for c in channels if c in top)
        rows.append(
            {
                "category": latest["Category"],
                "problem": latest.get("Summary"),
                "times": len(cases),
                "last_seen": latest["Opened At"],
                "median_days": float(cases["_hours"].median()) / 24,
                "channel": channel,
                "what_worked": str(best["Resolution"]).strip(),
                "amazon_said": str(said.iloc[0]["Amazon Response"]).strip()
                if not said.empty
                else None,
                "case_ids": [str(c) for c in cases["Case ID"]],
                "_comp": comp,
                "_example": str(best["Case ID"]),
                "_example_hours": float(best["_hours"]),
                "_example_channel": best.get("Channel"),
            }
        )
    problems = pd.DataFrame(
        rows, columns=[*PROBLEM_COLUMNS, "_comp", "_example", "_example_hours", "_example_channel"]
    )
    problems = problems.sort_values(
        ["times", "last_seen"], ascending=[False, False], kind="stable"
    ).reset_index(drop=True)

    gaps = solved[~solved["_has_answer"]]
    missing = pd.DataFrame(
        {
            "owner": _column(gaps, "Owner").to_numpy(),
            "case_id": gaps["Case ID"].astype(str).to_numpy(),
            "category": gaps["Category"].to_numpy(),
            "summary": _column(gaps, "Summary").to_numpy(),
            "resolved_at": gaps["Resolved At"].to_numpy(),
        }
    )
    missing["_owner_sort"] = missing["owner"].fillna("\uffff").astype(str).str.casefold()
    missing = (
        missing.sort_values(["_owner_sort", "resolved_at"], ascending=[True, False])
        .drop(columns="_owner_sort")
        .reset_index(drop=True)
    )
    last_time = _match_open(judged, solved, problems, chains.root, rules)
    return AnswerBase(problems, missing, last_time, len(solved))


def _match_open(
    judged: pd.DataFrame,
    solved: pd.DataFrame,
    problems: pd.DataFrame,
    chain_root: pd.Series,
    rules: Rules,
) -> dict[Any, dict[str, Any]]:
    """Each open case that is a problem solved before: its Related chain, else a shared ID with
    a loosely alike Summary, else a similar Summary in its Category."""
    if problems.empty:
        return {}
    is_open = judged["Status"].eq("Open") & judged["Category"].notna()
    if "_invalid" in judged:
        is_open &= ~judged["_invalid"]
    opened = judged.loc[is_open]
    if opened.empty:
        return {}
    answer_of = problems.set_index("_comp")
    found: dict[Any, Any] = {}
    plain_open = pd.Series([_plain(s) for s in _column(opened, "Summary")], index=opened.index)

    # 1. A shared ID or Related Cases chain, the Summaries loosely alike.
    solved_keys = _link_keys(solved, chain_root)
    for open_values, solved_values in zip(_link_keys(opened, chain_root), solved_keys, strict=True):
        left = pd.DataFrame(
            {
                "_open": opened.index,
                "Category": opened["Category"].to_numpy(),
                "key": open_values.to_numpy(),
            }
        )
        left = left[left["key"].notna() & ~left["_open"].isin(list(found))]
        right = pd.DataFrame(
            {
                "Category": solved["Category"].to_numpy(),
                "key": solved_values.to_numpy(),
                "_comp": solved["_comp"].to_numpy(),
                "_plain": solved["_plain"].to_numpy(),
            }
        )
        right = right[right["key"].notna() & right["_comp"].isin(answer_of.index)]
        if left.empty or right.empty:
            continue
        pairs = left.merge(right, on=["Category", "key"])
        for index, group in pairs.groupby("_open", sort=False):
            scores = similarity([plain_open[index]], group["_plain"].tolist())[0]
            best = int(np.argmax(scores))
            if scores[best] >= rules.answer_same_id_similarity:
                found[index] = group["_comp"].iloc[best]
    # 2. A similar Summary in the same Category (blocked by Category: never every pair).
    rest = opened.loc[~opened.index.isin(list(found))]
    answered = solved[solved["_comp"].isin(answer_of.index) & solved["_plain"].ne("")]
    for cat, group in rest.groupby("Category", sort=False):
        pool = answered[answered["Category"] == cat].drop_duplicates("_plain")
        if pool.empty:
            continue
        texts = plain_open.loc[group.index]
        unique = [t for t in dict.fromkeys(texts) if t]
        if not unique:
            continue
        scores = similarity(unique, pool["_plain"].tolist())
        best = scores.argmax(axis=1)
        hit = {
            t: pool["_comp"].iloc[int(b)]
            for t, b, row in zip(unique, best, scores, strict=True)
            if row[b] >= rules.answer_similarity
        }
        for index, text in texts.items():
            if text in hit:
                found[index] = hit[text]
    # One lookup table, not a frame row per open case (a log can have thousands of them).
    by_comp = (
        answer_of[["_example", "_example_hours", "_example_channel", "what_worked"]]
        .rename(
            columns={
                "_example": "case_id",
                "_example_hours": "hours",
                "_example_channel": "channel",
            }
        )
        .to_dict("index")
    )
    notes = {index: dict(by_comp[comp]) for index, comp in found.items()}
    return notes
