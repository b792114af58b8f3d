"""The weekly numbers, computed by hand for a small log, and the tab and Markdown built from them."""

import datetime as dt
import re

import pandas as pd
import pytest

from caseloop.config import load_labels, load_rules
from caseloop.errors import CaseloopError, OptionError
from caseloop.frame import build_frame
from caseloop.markdown import weekly_markdown
from caseloop.render import render_weekly
from caseloop.rules import evaluate
from caseloop.schema import load_schema
from caseloop.weekly import Week, default_week, weekly_report

from caselog import case, grid

SCHEMA, RULES, LABELS = load_schema(), load_rules(), load_labels()
AS_OF = pd.Timestamp("2026-11-24 12:00")  # a Tuesday in 2026-W48
D = dt.datetime


def small_log():
    return [
        # Sunday 23:59 of W46: belongs to W46, resolved in W47 after 48 h.
        case(
            Case_ID="10000000001",
            Opened_At=D(2026, 11, 15, 23, 59),
            First_Reply_At=D(2026, 11, 16, 9, 59),
            Status="Resolved",
            Resolved_At=D(2026, 11, 17, 23, 59),
            Resolution="ok",
        ),
        # Monday 00:00 of W47: first reply after 60 h, over the 48 h e-mail target.
        case(
            Case_ID="10000000002",
            Channel="Email",
            Opened_At=D(2026, 11, 16, 0, 0),
            First_Reply_At=D(2026, 11, 18, 12, 0),
        ),
        # No First Reply At and no follow-up: Last Reply At stands in (0.5 h, within 1 h chat target).
        case(
            Case_ID="10000000003",
            Channel="Chat",
            Opened_At=D(2026, 11, 17, 10, 0),
            Last_Reply_At=D(2026, 11, 17, 10, 30),
            Status="Closed",
            Resolved_At=D(2026, 11, 19, 10, 0),
        ),
        case(
            Case_ID="10000000004",
            Opened_At=D(2026, 11, 18, 8, 0),
            First_Reply_At=D(2026, 11, 19, 4, 0),
            Status="Resolved",
            Resolved_At=D(2026, 11, 22, 20, 0),
            Resolution="ok",
        ),
        # A phone case Amazon never answered, one follow-up: OVERDUE at as_of.
        case(Case_ID="10000000005", Channel="Phone", Opened_At=D(2026, 11, 19, 9, 0), Follow_ups=1),
        case(Case_ID="10000000006", Opened_At="2026/13/02"),
    ]


def report_for(cases, week=None, as_of=AS_OF):
    frame = build_frame(grid(cases), SCHEMA, RULES, as_of)
    return weekly_report(evaluate(frame.cases, RULES, as_of), RULES, as_of, week)


def row(report, label):
    weeks = report.weeks.set_index("week")
    return weeks.loc[label].to_dict()


def test_default_week_is_the_last_complete_one():
    assert default_week(AS_OF).label == "2026-W47"
    assert default_week(pd.Timestamp("2026-11-23 00:00")).label == "2026-W47"


def test_week_numbers_by_hand():
    report = report_for(small_log())
    assert report.week.label == "2026-W47"
    assert len(report.weeks) == 12 and report.weeks["week"].iloc[-1] == "2026-W47"
    w47 = row(report, "2026-W47")
    assert (w47["opened"], w47["resolved"], w47["closed"], w47["open_at_end"]) == (4, 2, 1, 2)
    # First replies 60, 0.5 and 20 h; the phone case has none.
    assert w47["first_reply_median"] == 20
    assert w47["first_reply_p90"] == pytest.approx(52.0)  # 20 + 0.8 × (60 − 20)
    assert w47["first_reply_within_target"] == pytest.approx(200 / 3)
    # Resolutions 48 h and 108 h: an even count, so the median is their mean.
    assert w47["resolution_median"] == 78
    # Case 2 has been open 204 h at as_of (Normal limit 168 h) but Amazon answered it: our
    # turn, so no escalation (reply first); case 5 waits on Amazon past its target.
    assert (w47["escalated"], w47["overdue"]) == (0, 1)
    assert report.not_counted == 1


def test_sunday_2359_and_monday_0000_fall_in_different_weeks():
    report = report_for(small_log())
    w46 = row(report, "2026-W46")
    assert (w46["opened"], w46["open_at_end"], w46["first_reply_median"]) == (1, 1, 10)
    # Flags of a past week cannot be rebuilt from the log: blank, not zero.
    assert w46["escalated"] is None and w46["overdue"] is None


def test_an_empty_week_has_zero_counts_and_unknown_times():
    report = report_for(small_log(), Week.parse("2026-W30"))
    w30 = row(report, "2026-W30")
    assert (w30["opened"], w30["resolved"], w30["open_at_end"]) == (0, 0, 0)
    assert w30["first_reply_median"] is None and w30["resolution_median"] is None
    assert w30["escalated"] is None
    assert report.oldest.empty and report.recurring.empty


def test_backlog_oldest_and_breakdowns():
    report = report_for(small_log())
    assert report.backlog_at == pd.Timestamp("2026-11-23 00:00")
    assert report.backlog == {
        "lt_1d": 0,
        "d1_3": 0,
        "d3_7": 1,
        "d7_14": 1,
        "ge_14d": 0,
        "stale": 0,
        "total": 2,
    }
    assert report.oldest["case_id"].tolist() == ["10000000002", "10000000005"]
    assert report.oldest["open_hours"].tolist() == [168.0, 87.0]
    by_channel = report.by["channel"].set_index("channel")
    assert by_channel.loc["Email", "opened"] == 1 and by_channel.loc["Chat", "closed"] == 1
    assert by_channel.loc["Phone", "overdue"] == 1


def test_stale_cases_have_no_message_for_seven_days():
    cases = [
        case(
            Opened_At=D(2026, 11, 1, 9),
            Last_Reply_At=D(2026, 11, 2, 9),
            Last_Sent_At=D(2026, 11, 3, 9),
        )
    ]
    assert report_for(cases).backlog["stale"] == 1
    fresh = [case(Opened_At=D(2026, 11, 1, 9), Last_Sent_At=D(2026, 11, 20, 9))]
    assert report_for(fresh).backlog["stale"] == 0


def test_recurring_problems_list_their_case_ids():
    asin = "B0RECUR0001"[:10]
    cases = [case(Category="Listing", ASIN=asin, Opened_At=D(2026, 11, d, 9)) for d in (2, 9, 16)]
    recurring = report_for(cases).recurring
    assert recurring[["category", "key", "cases"]].values.tolist() == [
        ["Listing", f"ASIN {asin}", 3]
    ]
    assert recurring["case_ids"].iloc[0] == ", ".join(c["Case ID"] for c in cases)


def test_iso_weeks_across_the_year_boundary():
    # 2026 starts on a Thursday, so it has an ISO week 53 (Dec 28 – Jan 3); 2027 has 52.
    assert Week.parse("2026-W53").start == pd.Timestamp("2026-12-28")
    assert Week.parse("2026-W53").shifted(1) == Week(2027, 1)
    assert Week(2027, 1).start == pd.Timestamp("2027-01-04")
    with pytest.raises(
        CaseloopError, match="2027 has no week 53; its ISO weeks run 2027-W01 to 2027-W52"
    ):
        Week.parse("2027-W53")
    cases = [case(Opened_At=D(2027, 1, 3, 23, 59)), case(Opened_At=D(2027, 1, 4, 0, 0))]
    report = report_for(cases, Week(2027, 1), as_of=pd.Timestamp("2027-01-10 12:00"))
    assert (row(report, "2026-W53")["opened"], row(report, "2027-W01")["opened"]) == (1, 1)
    with pytest.raises(CaseloopError, match="is not an ISO week"):
        Week.parse("47/2026")


def test_a_log_with_one_case():
    report = report_for([case(Opened_At=D(2026, 11, 18, 9))])
    assert row(report, "2026-W47")["opened"] == 1
    assert row(report, "2026-W47")["first_reply_median"] is None


def test_markdown_holds_the_same_numbers_as_the_tab():
    report = report_for(small_log())
    now = dt.datetime(2026, 11, 24, 12, 0)
    model = render_weekly(report, RULES, LABELS, "en", now)
    text = weekly_markdown(report, RULES, LABELS, "en", now)
    tab_rows = {
        r[0].value: [c.value for c in r]
        for r in model.rows
        if r and isinstance(r[0].value, str) and re.fullmatch(r"\d{4}-W\d{2}", r[0].value)
    }
    md_rows = {
        cells[0]: cells
        for line in text.splitlines()
        if line.startswith("| 2026-W")
        for cells in [[c.strip() for c in line.strip("|").split("|")]]
    }
    assert tab_rows.keys() == md_rows.keys() and len(tab_rows) == 12
    for week, values in tab_rows.items():
        for tab_value, md_value in zip(values, md_rows[week], strict=True):
            if tab_value is None:
                assert md_value == ""
            elif isinstance(tab_value, float):
                assert float(md_value) == pytest.approx(tab_value, abs=0.51)
            else:
                assert md_value == str(tab_value)
    assert "1 rows not counted, see caseloop validate." in text
    assert "<" not in text.replace("< 1 day", "")  # no HTML


def test_chinese_labels():
    report = report_for(small_log())
    model = render_weekly(report, RULES, LABELS, "zh", dt.datetime(2026, 11, 24, 12, 0))
    assert model.title == "周报"
    texts = {c.value for r in model.rows for c in r if isinstance(c.value, str)}
    assert {"新增", "已解决", "期末未结", "首次回复达标率（%）", "电话", "在线聊天"} <= texts
    assert model.charts[0].title == "每周新增、已解决与期末未结"


def test_chart_series_point_at_the_week_rows():
    report = report_for(small_log())
    model = render_weekly(report, RULES, LABELS, "en", dt.datetime(2026, 11, 24, 12, 0))
    (chart,) = model.charts
    cats = chart.categories
    weeks = [model.rows[r][cats.first_col].value for r in range(cats.first_row, cats.last_row + 1)]
    assert weeks == report.weeks["week"].tolist()
    opened = chart.series[0].values
    assert [
        model.rows[r][opened.first_col].value for r in range(opened.first_row, opened.last_row + 1)
    ] == report.weeks["opened"].tolist()
    assert [s.kind for s in chart.series] == ["column", "column", "column", "line"]


def test_a_reopened_case_counts_as_open_whatever_its_old_resolved_at():
    reopened = case(Status="Reopened", Opened_At=D(2026, 11, 2, 9), Resolved_At=D(2026, 11, 5, 9))
    report = report_for([reopened])
    assert row(report, "2026-W47")["open_at_end"] == 1
    assert report.backlog["total"] == 1 and report.oldest["case_id"].tolist() == [
        reopened["Case ID"]
    ]


def test_breakdowns_add_up_to_the_week_row():
    # A chat case opened on Tuesday of W48 is overdue now: it belongs in the "now" columns of
    # its marketplace, category and channel although nothing happened to it in W47.
    late = case(
        Channel="Chat", Marketplace="FR", Category="Tax & VAT", Opened_At=D(2026, 11, 24, 9)
    )
    report = report_for(small_log() + [late])
    w47 = row(report, "2026-W47")
    assert w47["overdue"] == 2
    for name in ("category", "marketplace", "channel"):
        table = report.by[name]
        for metric in (
            "opened",
            "resolved",
            "closed",
            "open_at_end",
            "escalated",
            "overdue",
        ):
            assert sum(table[metric]) == w47[metric], (name, metric)
    assert "FR" in report.by["marketplace"]["marketplace"].tolist()


def test_oldest_open_cases_closed_since_show_their_status():
    closed_since = case(
        Status="Closed",
        Opened_At=D(2026, 11, 1, 9),
        Resolved_At=D(2026, 11, 23, 9),
        Resolution="Refunded",
    )
    report = report_for([closed_since])
    assert report.oldest["flag"].tolist() == ["Closed"]
    # Closed without a Resolution: the flag now says it should be reopened.
    unresolved = case(Status="Closed", Opened_At=D(2026, 11, 1, 9), Resolved_At=D(2026, 11, 23, 9))
    assert report_for([unresolved]).oldest["flag"].tolist() == ["REOPEN"]


def test_a_week_that_has_not_started_is_refused():
    with pytest.raises(
        CaseloopError,
        match="2026-W49 has not started at 2026-11-24 12:00; choose a week up to 2026-W48",
    ):
        report_for(small_log(), Week.parse("2026-W49"))
    assert report_for(small_log(), Week.parse("2026-W48")).week.label == "2026-W48"


def test_recurring_problems_agree_with_the_status_tab():
    # Opened 50, 25 and 1 day(s) before as_of: each within 30 days of the middle one.
    asin = "B0RECUR002"
    cases = [
        case(
            Category="Listing",
            ASIN=asin,
            Opened_At=AS_OF.to_pydatetime() - dt.timedelta(days=d),
            Status="Closed" if d > 1 else "Open",
            Resolved_At=AS_OF.to_pydatetime() - dt.timedelta(days=d - 1) if d > 1 else None,
        )
        for d in (50, 25, 1)
    ]
    frame = build_frame(grid(cases), SCHEMA, RULES, AS_OF)
    judged = evaluate(frame.cases, RULES, AS_OF)
    current = weekly_report(judged, RULES, AS_OF, Week.containing(AS_OF))
    status_recurring = bool(judged["recurring"].iloc[-1])
    listed = not current.recurring.empty
    assert status_recurring == listed


@pytest.mark.parametrize("text", ["1677-W01", "0000-W01", "1899-W52", "2200-W01", "9999-W52"])
def test_weeks_outside_the_years_caseloop_computes_with_are_refused(text):
    with pytest.raises(OptionError) as refused:
        Week.parse(text)
    # The library names the setting; the CLI spells its option.
    assert str(refused.value.for_option("--week")).startswith(f'--week "{text}" is out of range')
    assert Week.parse("1900-W01").start == pd.Timestamp("1900-01-01")
    assert Week.parse("2199-W52").label == "2199-W52"
