"""The rules, without any file: whose turn, waiting, targets and every flag with its boundaries."""

import dataclasses
import datetime as dt

import pandas as pd
import pytest

from caseloop.config import load_rules, load_schema
from caseloop.frame import build_frame
from caseloop.rules import evaluate

from caselog import NOW, case, grid

SCHEMA, RULES = load_schema(), load_rules()
AS_OF = pd.Timestamp(NOW)
H = dt.timedelta(hours=1)


def judge(*cases, rules=RULES):
    frame = build_frame(grid(list(cases)), SCHEMA, rules, AS_OF)
    return evaluate(frame.cases, rules, AS_OF)


def flags(*cases, rules=RULES):
    return judge(*cases, rules=rules)["flag"].tolist()


def test_amazon_turn_waiting_and_due_at():
    out = judge(case(Channel="Email", Opened_At=NOW - 30 * H, Last_Sent_At=NOW - 10 * H)).iloc[0]
    assert out["whose_turn"] == "amazon"
    assert out["waiting_hours"] == 10
    assert out["target_hours"] == 48
    assert out["due_at"] == pd.Timestamp(NOW + 38 * H)
    assert out["open_hours"] == 30


def test_our_turn_counts_from_amazons_last_reply():
    out = judge(case(Opened_At=NOW - 30 * H, Last_Reply_At=NOW - 5 * H)).iloc[0]
    assert (out["whose_turn"], out["waiting_hours"], out["target_hours"]) == ("us", 5, 24)
    assert out["flag"] == "OUR TURN"


def test_a_tie_between_last_sent_and_last_reply_is_our_turn():
    t = NOW - 3 * H
    assert (
        judge(case(Opened_At=NOW - 9 * H, Last_Sent_At=t, Last_Reply_At=t)).iloc[0]["whose_turn"]
        == "us"
    )
    later = judge(
        case(Opened_At=NOW - 9 * H, Last_Sent_At=t + dt.timedelta(minutes=1), Last_Reply_At=t)
    )
    assert later.iloc[0]["whose_turn"] == "amazon"


def test_first_reply_stands_in_for_an_empty_last_reply():
    out = judge(case(Opened_At=NOW - 9 * H, First_Reply_At=NOW - 2 * H)).iloc[0]
    assert out["whose_turn"] == "us"


@pytest.mark.parametrize(
    "waiting, expected",
    [(17.9, "ON TRACK"), (18, "DUE SOON"), (23.9, "DUE SOON"), (24, "DUE SOON"), (24.1, "OVERDUE")],
)
def test_target_boundaries_for_a_seller_central_case(waiting, expected):
    # Case target 24 h, due soon from 0.75 × 24 = 18 h; exactly at target is not yet overdue.
    assert flags(case(Opened_At=NOW - dt.timedelta(hours=waiting))) == [expected]


def test_chat_and_phone_targets_are_one_hour():
    assert flags(
        case(Channel="Chat", Opened_At=NOW - 2 * H), case(Channel="Phone", Opened_At=NOW - 0.5 * H)
    ) == ["OVERDUE", "ON TRACK"]


def test_escalate_after_two_follow_ups_past_target():
    assert flags(
        case(Opened_At=NOW - 30 * H, Follow_ups=1), case(Opened_At=NOW - 30 * H, Follow_ups=2)
    ) == ["OVERDUE", "ESCALATE"]


def test_escalate_when_open_longer_than_the_priority_limit():
    # Payments default to High (72 h); an explicit Low priority allows 336 h.
    out = flags(
        case(Category="Payments", Opened_At=NOW - 73 * H, Last_Reply_At=NOW - 1 * H),
        case(
            Category="Payments", Priority="Low", Opened_At=NOW - 73 * H, Last_Reply_At=NOW - 1 * H
        ),
    )
    assert out == ["ESCALATE", "OUR TURN"]


def test_recurring_problem_escalates_the_open_cases():
    asin = "B0TESTASIN"
    out = judge(
        case(
            Category="Listing",
            ASIN=asin,
            Opened_At=NOW - 20 * 24 * H,
            Status="Resolved",
            Resolved_At=NOW - 19 * 24 * H,
        ),
        case(
            Category="Listing",
            ASIN=asin,
            Opened_At=NOW - 10 * 24 * H,
            Status="Closed",
            Resolved_At=NOW - 9 * 24 * H,
        ),
        case(Category="Listing", ASIN=asin, Opened_At=NOW - 1 * H),
        case(Category="Listing", ASIN="B0OTHERASN", Opened_At=NOW - 1 * H),
    )
    assert out["flag"].tolist()[2:] == ["ESCALATE", "ON TRACK"]
    assert out.iloc[2]["recurring_key"] == f"ASIN {asin}"


def test_recurring_needs_the_window():
    asin = "B0TESTASIN"
    out = flags(
        case(
            Category="Listing",
            ASIN=asin,
            Opened_At=NOW - 80 * 24 * H,
            Status="Closed",
            Resolved_At=NOW - 79 * 24 * H,
        ),
        case(
            Category="Listing",
            ASIN=asin,
            Opened_At=NOW - 40 * 24 * H,
            Status="Closed",
            Resolved_At=NOW - 39 * 24 * H,
        ),
        case(Category="Listing", ASIN=asin, Opened_At=NOW - 1 * H),
    )
    assert out == [None, None, "ON TRACK"]


def test_recurring_by_a_chain_of_related_cases():
    out = flags(case(Opened_At=NOW - 1 * H, Related_Cases="11111111111, 22222222222"))
    assert out == ["ESCALATE"]


def test_deadline_within_warning_hours_or_passed():
    out = flags(
        case(Deadline=NOW + 47 * H),
        case(Deadline=NOW - 1 * H),
        case(Deadline=NOW + 49 * H),
    )
    assert out == ["DEADLINE", "DEADLINE", "ON TRACK"]


def test_needs_info_when_the_category_evidence_is_empty():
    out = flags(
        case(Category="FBA shipment"),
        case(Category="FBA shipment", Shipment_ID="FBA15ABCD123"),
        case(Category="Orders & returns"),
    )
    assert out == ["NEEDS INFO", "ON TRACK", "NEEDS INFO"]


def test_severity_order_keeps_the_worst_and_notes_keep_the_rest():
    out = judge(case(Category="Listing", Opened_At=NOW - 30 * H, Deadline=NOW + 1 * H)).iloc[0]
    assert out["flag"] == "DEADLINE"
    assert out["overdue"] and out["missing_info"]


def test_resolved_shows_for_seven_days_and_closed_never():
    out = judge(
        case(Status="Resolved", Opened_At=NOW - 200 * H, Resolved_At=NOW - 6 * 24 * H),
        case(Status="Resolved", Opened_At=NOW - 300 * H, Resolved_At=NOW - 8 * 24 * H),
        case(Status="Closed", Opened_At=NOW - 100 * H, Resolved_At=NOW - 1 * H),
    )
    assert out["flag"].tolist() == ["RESOLVED", None, None]
    assert out["shown"].tolist() == [True, False, False]


def test_invalid_rows_are_flagged_and_not_judged():
    out = judge(case(Opened_At="2026/13/02"))
    assert out["flag"].tolist() == ["INVALID"]
    assert pd.isna(out.iloc[0]["waiting_hours"])


def test_targets_by_priority_and_custom_rules():
    rules = dataclasses.replace(
        RULES, reply_targets_by_priority={"High": {"Case": 12}}, due_soon_ratio=0.5
    )
    out = judge(
        case(Category="Payments", Opened_At=NOW - 13 * H), case(Opened_At=NOW - 13 * H), rules=rules
    )
    assert out["target_hours"].tolist() == [12, 24]
    assert out["flag"].tolist() == ["OVERDUE", "DUE SOON"]


def test_our_turn_turns_late_after_our_reply_hours():
    out = judge(
        case(Opened_At=NOW - 40 * H, Last_Reply_At=NOW - 30 * H),
        case(Opened_At=NOW - 40 * H, Last_Reply_At=NOW - 3 * H),
    )
    assert out["our_turn_late"].tolist() == [True, False]


def test_waiting_counts_real_hours_across_a_daylight_saving_change():
    # Berlin's clocks go back at 03:00 on 2026-10-25: noon to noon is 25 real hours.
    from zoneinfo import ZoneInfo

    berlin = dataclasses.replace(RULES, timezone=ZoneInfo("Europe/Berlin"))
    as_of = pd.Timestamp("2026-10-25 12:00")
    frame = build_frame(
        grid([case(Opened_At=dt.datetime(2026, 10, 24, 12, 0))]), SCHEMA, berlin, as_of
    )
    out = evaluate(frame.cases, berlin, as_of).iloc[0]
    assert out["waiting_hours"] == 25 and out["open_hours"] == 25
    assert out["due_at"] == pd.Timestamp("2026-10-25 11:00")  # 24 real hours after noon
    assert out["flag"] == "OVERDUE"


def test_a_deadline_exactly_48_hours_away_is_not_yet_deadline():
    assert flags(case(Deadline=NOW + 48 * H)) == ["ON TRACK"]
