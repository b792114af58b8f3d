"""Property-based tests: any grid under any headers reads without a crash, and the rules hold.

Hypothesis builds case logs the way teams do: known headers in English, Chinese or mangled
spellings, shuffled and sometimes twice, unknown columns, and cells of every type a backend can
hand over (text with odd Unicode, numbers, NaN, date cells of any year, times, booleans,
spreadsheet errors). Whatever comes in, reading either succeeds with every problem tied to a
cell, or stops with caseloop's own one-sentence error; and the judged flags keep their laws.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from caseloop.config import FLAG_ORDER, load_labels, load_rules
from caseloop.errors import CaseloopError
from caseloop.frame import CaseFrame, build_frame
from caseloop.markdown import weekly_markdown
from caseloop.ports import CellError, Grid
from caseloop.render import render_status, render_weekly
from caseloop.rules import CONDITIONS, evaluate
from caseloop.schema import load_schema
from caseloop.views import status_view
from caseloop.weekly import weekly_report

from caselog import NOW

SCHEMA, RULES, LABELS = load_schema(), load_rules(), load_labels()
AS_OF = pd.Timestamp(NOW)
GENERATED = dt.datetime(2026, 11, 20, 18, 5)
PROPERTY_SETTINGS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

FIELDS = {field.name: field for field in SCHEMA.fields}
REQUIRED = list(SCHEMA.required)
# Every header text the schema accepts for a column: its English and Chinese names and aliases.
HEADER_TEXTS = {name: sorted({name, field.zh, *field.aliases}) for name, field in FIELDS.items()}

WEIRD_TEXT = st.text(
    alphabet=st.characters(
        codec="utf-8",
        categories=("L", "M", "N", "P", "S", "Z", "Cc", "Cf"),
    ),
    max_size=40,
)
# Mostly before NOW, some after it: dates in the future are part of the game.
NEAR_NOW = st.datetimes(min_value=dt.datetime(2026, 8, 1), max_value=dt.datetime(2026, 11, 22))
ANY_DATETIME = st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31))
# A small pool, so IDs repeat (duplicates) and Related Cases and ASINs link cases (recurring).
CASE_IDS = [str(12345678900 + n) for n in range(40)]
ASINS = ["B0ABCD1234", "B0ZZZZ9999", "0306406152"]


def _date_text(value: dt.datetime) -> st.SearchStrategy[str]:
    """The date as text in one of the forms caseloop accepts."""
    return st.sampled_from(
        [
            value.strftime("%Y-%m-%d %H:%M"),
            value.strftime("%Y/%m/%d %H:%M"),
            value.strftime("%Y-%m-%dT%H:%M:%S+08:00"),
            value.strftime("%Y年%m月%d日 %H:%M"),
            value.strftime("%Y-%m-%d"),
        ]
    )


# Anything a backend can hand over for a cell, sensible or not.
ANY_CELL: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    WEIRD_TEXT,
    st.sampled_from(["", " ", "\u200b", "=1+1", "+86 138", "-", "@here", "\t=cmd", "yesterday"]),
    st.integers(min_value=-(10**15), max_value=10**15),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=30000, max_value=80000),  # around the plausible serial range
    ANY_DATETIME,
    st.dates(),
    st.times(),
    st.booleans(),
    st.sampled_from([CellError("#N/A"), CellError("#REF!"), CellError("#DIV/0!")]),
    NEAR_NOW.flatmap(_date_text),
    NEAR_NOW.map(lambda value: value.strftime("%d/%m/%Y")),  # ambiguous: refused
    st.integers(min_value=10**7, max_value=10**12).map(str),
)


def _sensible(name: str, opened: dt.datetime) -> st.SearchStrategy[Any]:
    """What a careful team types into the column of a case opened at ``opened``."""
    field = FIELDS[name]
    optional = st.none() if not field.required else st.nothing()
    if name == "Status":  # mostly open: those are the cases the rules judge
        return st.just("Open") | st.just("处理中") | st.sampled_from(sorted(RULES.vocab[name]))
    if name in RULES.vocab:
        return st.sampled_from(sorted(RULES.vocab[name])) | optional
    if name == "Opened At":
        return st.just(opened) | _date_text(opened)
    if name == "Deadline":
        return st.integers(-72, 240).map(lambda h: NOW + dt.timedelta(hours=h)) | optional
    if field.type == "datetime":
        later = st.integers(0, 72 * 60).map(lambda m: min(NOW, opened + dt.timedelta(minutes=m)))
        return later | later.flatmap(_date_text) | optional
    if field.type == "integer":
        return st.integers(0, 4) | optional
    if name == "Case ID":
        return st.sampled_from(CASE_IDS) | st.sampled_from(CASE_IDS).map(float)
    if name == "Related Cases":
        return st.lists(st.sampled_from(CASE_IDS), max_size=3).map(", ".join) | optional
    if name == "ASIN":
        return st.sampled_from(ASINS) | optional
    if name == "Order ID":
        return st.sampled_from(["112-1234567-1234567", "bad order"]) | optional
    if name == "Shipment ID":
        return st.sampled_from(["FBA15ABCD123", "FBA1"]) | optional
    return WEIRD_TEXT.filter(str.strip) | optional


@st.composite
def case_rows(draw: st.DrawFn, columns: list[str | None]) -> list[Any]:
    """One row: a careful one, or one where any cell may be anything at all."""
    opened = draw(st.integers(60, 10 * 24 * 60).map(lambda m: NOW - dt.timedelta(minutes=m)))
    hostile = draw(st.integers(0, 3)) == 0
    row = []
    for name in columns:
        if name is None or (hostile and draw(st.integers(0, 3)) == 0):
            row.append(draw(ANY_CELL))
        else:
            row.append(draw(_sensible(name, opened)))
    return row


def _mangle(header: str) -> st.SearchStrategy[str]:
    """The same header as a person might type it: case, spaces, full width, a zero-width space."""
    full_width = "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in header)
    return st.sampled_from(
        [header, header.upper(), f"  {header} ", header.replace(" ", "  "), full_width]
        + [header[:1] + "\u200b" + header[1:]]
    )


@st.composite
def grids(draw: st.DrawFn) -> Grid:
    """A case log: known columns in any order and spelling, sometimes twice, unknown columns,
    lines above the header, and rows of mostly sensible, sometimes hostile cells."""
    columns: list[str | None] = list(REQUIRED) if draw(st.integers(0, 9)) else []
    optional = [name for name in FIELDS if name not in REQUIRED]
    columns += draw(st.lists(st.sampled_from(optional), unique=True, max_size=len(optional)))
    if columns and draw(st.integers(0, 9)) == 0:
        columns.append(draw(st.sampled_from(columns)))  # the same column twice
    columns += [None] * draw(st.integers(0, 2))  # columns caseloop does not know
    columns = draw(st.permutations(columns))
    header: list[Any] = [
        draw(st.sampled_from(HEADER_TEXTS[name]).flatmap(_mangle))
        if name
        else draw(WEIRD_TEXT | st.none())
        for name in columns
    ]
    above = draw(st.lists(st.lists(ANY_CELL, max_size=3), max_size=2))
    body = draw(st.lists(case_rows(columns), max_size=12))
    title = draw(st.sampled_from(["Cases", "案例", "Team's cases"]))
    return Grid(title=title, rows=[*above, header, *body])


def _read(grid: Grid) -> CaseFrame | None:
    """build_frame, where caseloop's own error (one plain sentence) is the only allowed failure."""
    try:
        return build_frame(grid, SCHEMA, RULES, AS_OF)
    except CaseloopError as error:
        assert error.message.strip(), "a CaseloopError needs a message for the user"
        assert "\n" not in error.message and "Traceback" not in error.message
        return None


@PROPERTY_SETTINGS
@given(grids())
def test_any_grid_reads_or_stops_with_one_sentence(grid: Grid) -> None:
    frame = _read(grid)
    if frame is None:
        return
    rows = set(frame.cases["_row"])
    for problem in frame.problems:
        assert problem.message.strip()
        if problem.row is not None:
            assert problem.row in rows, "a problem names a row that is a case"
            assert problem.cell.split("!")[-1].endswith(str(problem.row))
    invalid = set(frame.cases.loc[frame.cases["_invalid"], "_row"])
    assert invalid == {p.row for p in frame.errors if p.row is not None}


@PROPERTY_SETTINGS
@given(grids())
def test_the_rules_keep_their_invariants(grid: Grid) -> None:
    frame = _read(grid)
    if frame is None:
        return
    judged = evaluate(frame.cases, RULES, AS_OF)
    valid = ~judged["_invalid"]
    waiting = judged.loc[valid & judged["waiting_hours"].notna(), "waiting_hours"]
    assert (waiting >= 0).all(), "a valid case never waits a negative time"

    shown = judged["shown"].astype(bool)
    assert judged.loc[shown, "flag"].isin(FLAG_ORDER).all(), "every shown row has one flag"
    assert judged.loc[~shown, "flag"].isna().all(), "a row not shown has no flag"

    for _, case in judged[shown].iterrows():
        holding = [name for name, column in CONDITIONS.items() if bool(case[column])]
        if holding:
            assert case["flag"] == holding[0], (case["flag"], holding)
        else:
            assert case["flag"] in ("ON TRACK", "RESOLVED")
        if case["Status"] in ("Resolved", "Closed"):
            assert case["flag"] not in ("OVERDUE", "DUE SOON", "OUR TURN", "ESCALATE")
        if case["flag"] == "INVALID":
            assert any(p.row == case["_row"] for p in frame.errors)
    closed = judged["Status"].eq("Closed") & valid
    resolved = closed & judged["Resolution"].notna()
    assert judged.loc[resolved, "flag"].isna().all(), "Closed cases with a Resolution never show"
    shown_closed = judged.loc[closed & judged["shown"].astype(bool), "flag"]
    assert shown_closed.eq("REOPEN").all(), "a Closed case shows only to be reopened"


@PROPERTY_SETTINGS
@given(grids(), st.sampled_from(["en", "zh"]))
def test_any_readable_grid_renders_both_tabs_and_markdown(grid: Grid, lang: str) -> None:
    frame = _read(grid)
    if frame is None:
        return
    judged = evaluate(frame.cases, RULES, AS_OF)
    view = status_view(judged, frame.problems_by_row(), RULES, LABELS, AS_OF, lang)
    status = render_status(view, RULES, LABELS, lang, GENERATED)
    if len(view.rows):
        assert len(status.rows) == len(view.rows) + 2  # the title line and the header
    report = weekly_report(judged, RULES, AS_OF, None)
    weekly = render_weekly(report, RULES, LABELS, lang, GENERATED)
    assert weekly.rows
    text = weekly_markdown(report, RULES, LABELS, lang, GENERATED)
    assert text.startswith("## ")
