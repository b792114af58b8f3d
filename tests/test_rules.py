"""The rules, without any file: whose turn, waiting, targets and every flag with its boundaries."""

import dataclasses
import datetime as dt

import pandas as pd
import pytest

from caseloop.config import load_rules
from caseloop.frame import build_frame
from caseloop.ports import CellError
from caseloop.rules import evaluate
from caseloop.schema import load_schema

from caselog import HEADERS, NOW, case, grid

SCHEMA, RULES = load_schema(), load_rules()
AS_OF = pd.Timestamp(NOW)
H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)
# The default test log plus the columns of issue 10.
COLUMNS = [*HEADERS, "Store", "Promised By", "Deadline Type"]


def read(*cases, rules=RULES):
    return build_frame(grid(list(cases), headers=COLUMNS), SCHEMA, rules, AS_OF)


def judge(*cases, rules=RULES):
    return evaluate(read(*cases, rules=rules).cases, rules, AS_OF)


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


def test_escalate_when_open_longer_than_the_priority_limit_and_amazon_is_past_target():
    # Payments default to High (72 h); an explicit Low priority allows 336 h.
    out = flags(
        case(Category="Payments", Opened_At=NOW - 73 * H, Last_Sent_At=NOW - 25 * H),
        case(
            Category="Payments", Priority="Low", Opened_At=NOW - 73 * H, Last_Sent_At=NOW - 25 * H
        ),
        # Open too long, but Amazon is within its target: wait.
        case(Category="Payments", Opened_At=NOW - 73 * H, Last_Sent_At=NOW - 1 * H),
    )
    assert out == ["ESCALATE", "OVERDUE", "ON TRACK"]


def test_no_escalation_on_our_turn_whatever_the_age():
    out = judge(
        case(Category="Payments", Opened_At=NOW - 128 * H, Last_Reply_At=NOW - 105 * H),
        case(Opened_At=NOW - 128 * H, Last_Reply_At=NOW - 1 * H, Follow_ups=5),
    )
    assert out["flag"].tolist() == ["OUR TURN", "OUR TURN"]
    assert not out["needs_escalation"].any()
    assert out["our_turn_over_limit"].tolist() == [True, False]  # High 72 h vs Normal 168 h


def _recurring(*last, asin="B0TESTASIN"):
    return (
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
        *last,
    )


def test_recurring_is_a_note_until_amazon_is_past_target():
    asin = "B0TESTASIN"
    out = judge(
        *_recurring(
            case(Category="Listing", ASIN=asin, Opened_At=NOW - 8 * H),
            case(Category="Listing", ASIN="B0OTHERASN", Opened_At=NOW - 8 * H),
        )
    )
    assert out["flag"].tolist()[2:] == ["ON TRACK", "ON TRACK"]
    third = out.iloc[2]
    assert third["recurring"] and third["recurring_key"] == f"ASIN {asin}"
    assert third["recurring_count"] == 3


def test_recurring_escalates_on_amazons_turn_past_target_quoting_every_related_id():
    asin = "B0TESTASIN"
    out = judge(
        *_recurring(
            case(
                Category="Listing", ASIN=asin, Opened_At=NOW - 30 * H, Related_Cases="10000000001"
            ),
            case(Category="Listing", ASIN=asin, Opened_At=NOW - 30 * H, Last_Reply_At=NOW - H),
        )
    )
    # The fourth is the same problem opened again: a duplicate of the third.
    assert out["flag"].tolist()[2:] == ["ESCALATE", "DUPLICATE"]
    ids = out["Case ID"].tolist()
    # The two earlier cases, the other open one and the linked ID that is not in the log.
    assert out.iloc[2]["related_all"] == sorted([ids[0], ids[1], ids[3], "10000000001"])


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
    out = judge(
        case(Opened_At=NOW - 1 * H, Related_Cases="11111111111, 22222222222"),
        case(Opened_At=NOW - 30 * H, Related_Cases="33333333333, 44444444444"),
    )
    assert out["flag"].tolist() == ["ON TRACK", "ESCALATE"]
    assert out["recurring"].all()
    assert out.iloc[0]["related_all"] == ["11111111111", "22222222222"]


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


def test_resolved_shows_for_seven_days_and_closed_with_a_resolution_never():
    out = judge(
        case(Status="Resolved", Opened_At=NOW - 200 * H, Resolved_At=NOW - 6 * 24 * H),
        case(Status="Resolved", Opened_At=NOW - 300 * H, Resolved_At=NOW - 8 * 24 * H),
        case(Status="Closed", Opened_At=NOW - 100 * H, Resolved_At=NOW - 1 * H, Resolution="Fixed"),
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


# -- issue 10: Seller Central's status labels ---------------------------------------------------


@pytest.mark.parametrize(
    "label, turn",
    [
        ("Answered", "us"),
        ("Needs your attention", "us"),
        ("需要您关注", "us"),
        ("已回复", "us"),
        ("Work in progress", "amazon"),
        ("Pending Amazon action", "amazon"),
        ("等待亚马逊处理", "amazon"),
        ("Reopened", "amazon"),
    ],
)
def test_seller_central_labels_carry_the_turn(label, turn):
    # Timestamps that agree with the label: no warning.
    times = (
        {"Last_Reply_At": NOW - 3 * H}
        if turn == "us"
        else {"First_Reply_At": NOW - 5 * H, "Last_Sent_At": NOW - 3 * H}
    )
    frame = read(case(Status=label, Opened_At=NOW - 9 * H, **times))
    out = evaluate(frame.cases, RULES, AS_OF).iloc[0]
    assert (out["Status"], out["whose_turn"], out["turn_source"]) == ("Open", turn, "status")
    assert out["status_label"] is not None
    assert frame.problems == []


def test_plain_open_takes_the_turn_from_the_timestamps():
    out = judge(case(Status="Open"), case(Status="处理中", Last_Reply_At=NOW - H))
    assert out["whose_turn"].tolist() == ["amazon", "us"]
    assert out["turn_source"].tolist() == ["timestamps", "timestamps"]
    assert out["status_label"].isna().all()


def test_a_label_that_disagrees_with_the_timestamps_wins_and_names_the_timestamp_to_fill():
    frame = read(
        # Needs your attention, but Amazon never answered by the timestamps.
        case(Status="Needs your attention", Opened_At=NOW - 30 * H),
        # Pending Amazon action, but Amazon answered after our last message.
        case(Status="Pending Amazon action", Opened_At=NOW - 30 * H, Last_Reply_At=NOW - 20 * H),
    )
    out = evaluate(frame.cases, RULES, AS_OF)
    assert out["whose_turn"].tolist() == ["us", "amazon"]
    assert out["flag"].tolist() == ["OUR TURN", "DUE SOON"]  # waiting 20 h of 24 since the reply
    assert [(p.severity, p.code, p.cell) for p in frame.problems] == [
        ("warning", "status-turn-mismatch", "Cases!F2"),
        ("warning", "status-turn-mismatch", "Cases!F3"),
    ]
    assert "fill Last Reply At" in frame.problems[0].message
    assert "fill Last Sent At" in frame.problems[1].message


# -- issue 10: duplicates and reopen --------------------------------------------------------------


def test_duplicate_on_every_open_case_of_a_problem_but_the_oldest():
    asin = "B0DUPLICATE"[:10]
    out = judge(
        case(Category="Listing", ASIN=asin, Opened_At=NOW - 5 * H),
        case(Category="Listing", ASIN=asin, Opened_At=NOW - 20 * H),  # the oldest: DUE SOON
        case(Category="Listing", ASIN=asin, Opened_At=NOW - 2 * H),
        # Not the same problem: another category, or closed.
        case(Category="FBA inventory", ASIN=asin, Opened_At=NOW - 2 * H),
        case(
            Category="Listing",
            ASIN=asin,
            Status="Closed",
            Opened_At=NOW - 60 * H,
            Resolved_At=NOW - 50 * H,
            Resolution="Fixed",
        ),
    )
    ids = out["Case ID"].tolist()
    assert out["flag"].tolist() == ["DUPLICATE", "DUE SOON", "DUPLICATE", "ON TRACK", None]
    assert out["duplicate_of"].tolist()[:4] == [ids[1], None, ids[1], None]
    assert out.iloc[1]["duplicates"] == sorted([ids[0], ids[2]])


def test_no_duplicate_across_marketplaces_or_stores():
    # Each marketplace and each store is its own Seller Central case list: nothing to merge.
    asin = "B0SAMEASIN"
    out = judge(
        case(Category="Listing", ASIN=asin, Marketplace="US", Opened_At=NOW - 5 * H),
        case(Category="Listing", ASIN=asin, Marketplace="JP", Opened_At=NOW - 2 * H),
        case(Category="Listing", ASIN=asin, Marketplace="US", Store="B", Opened_At=NOW - 1 * H),
        case(Category="Listing", ASIN=asin, Marketplace="US", Opened_At=NOW - 1 * H),
    )
    assert out["flag"].tolist()[:3] == ["ON TRACK", "ON TRACK", "ON TRACK"]
    assert out["flag"].tolist()[3] == "DUPLICATE"
    assert out["duplicate_of"].tolist()[3] == out["Case ID"].tolist()[0]


def test_duplicate_through_related_cases_and_above_overdue():
    first = case(Opened_At=NOW - 40 * H)
    out = judge(
        first,
        case(Category="Payments", Opened_At=NOW - 30 * H, Related_Cases=first["Case ID"]),
    )
    assert out["flag"].tolist() == ["OVERDUE", "DUPLICATE"]
    assert out.iloc[1]["overdue"]  # the worse flag shows, the condition stays for Notes


@pytest.mark.parametrize(
    "closed_days_ago, resolution, expected",
    [(3, None, "REOPEN"), (14, None, "REOPEN"), (14.1, None, None), (3, "Refund issued", None)],
)
def test_reopen_a_closed_unresolved_case_inside_the_window(closed_days_ago, resolution, expected):
    out = judge(
        case(
            Status="Closed",
            Opened_At=NOW - 20 * D,
            Resolved_At=NOW - closed_days_ago * D,
            Resolution=resolution,
        )
    )
    assert out["flag"].tolist() == [expected]


def test_no_reopen_when_an_open_case_already_carries_the_problem():
    closed = case(
        Category="Listing",
        ASIN="B0REOPENED",
        Status="Closed",
        Opened_At=NOW - 5 * D,
        Resolved_At=NOW - 3 * D,
    )
    again = case(Category="Listing", ASIN="B0REOPENED", Opened_At=NOW - 2 * D)
    assert flags(closed, again)[0] is None
    assert flags(closed)[0] == "REOPEN"


# -- issue 10: phone and chat, promised dates ----------------------------------------------------


def test_phone_target_runs_only_until_the_first_answer():
    out = judge(
        # A finished callback 2.5 h ago; we sent the documents the agent asked for right after.
        case(
            Channel="Phone",
            Opened_At=NOW - 3 * H,
            First_Reply_At=NOW - 2.5 * H,
            Last_Sent_At=NOW - 2.4 * H,
        ),
        case(Channel="Phone", Opened_At=NOW - 2 * H),  # no callback yet
        case(
            Channel="Chat",
            Opened_At=NOW - 26 * H,
            First_Reply_At=NOW - 26 * H,
            Status="Work in progress",
        ),
    )
    assert out["target_hours"].tolist() == [24, 1, 24]
    assert out["flag"].tolist() == ["ON TRACK", "OVERDUE", "OVERDUE"]


def test_promised_by_replaces_the_target_on_amazons_turn():
    sent = NOW - 30 * H
    out = judge(
        case(Opened_At=sent, Promised_By=NOW + 10 * H),  # target 40 h: 30 of 40 = 75 %
        case(Opened_At=sent, Promised_By=NOW + 20 * H),  # 30 of 50
        case(Opened_At=sent, Promised_By=NOW - 1 * H),  # the promise passed
        case(Opened_At=sent, Promised_By=NOW + 20 * H, Last_Reply_At=NOW - H),  # our turn
    )
    assert out["flag"].tolist() == ["DUE SOON", "ON TRACK", "OVERDUE", "OUR TURN"]
    assert out["due_at"].tolist()[:3] == [
        pd.Timestamp(NOW + 10 * H),
        pd.Timestamp(NOW + 20 * H),
        pd.Timestamp(NOW - 1 * H),
    ]
    assert out["target_hours"].tolist() == [40, 50, 29, 24]
    assert pd.isna(out.iloc[3]["promised_by"])


def test_promised_by_before_opened_at_is_named_and_ignored():
    frame = read(case(Opened_At=NOW - 30 * H, Promised_By=NOW - 40 * H))
    (p,) = frame.problems
    assert (p.severity, p.code, p.cell) == ("warning", "promised-before-opened", "Cases!V2")
    out = evaluate(frame.cases, RULES, AS_OF).iloc[0]
    assert (out["flag"], out["target_hours"]) == ("OVERDUE", 24)
    assert out["judged_with_defaults"] == ["Promised By"]


# -- issue 10: deadlines by kind -------------------------------------------------------------------


def test_a_to_z_deadline_is_computed_per_marketplace():
    opened = NOW - 10 * H
    out = judge(
        case(Marketplace="US", Opened_At=opened, Deadline_Type="A-to-z"),
        case(Marketplace="UK", Opened_At=opened, Deadline_Type="A-to-z索赔"),
        case(Marketplace="DE", Opened_At=opened, Deadline_Type="A-to-z"),  # the default window
        case(Marketplace="UK", Opened_At=opened, Deadline_Type="Chargeback"),
        case(Marketplace="US", Opened_At=opened, Deadline_Type="Appeal"),  # no window
        case(Marketplace="UK", Opened_At=opened, Deadline_Type="A-to-z", Deadline=NOW + 100 * H),
    )
    assert out["deadline_at"].tolist()[:4] == [
        pd.Timestamp(opened + 72 * H),
        pd.Timestamp(opened + 48 * H),
        pd.Timestamp(opened + 72 * H),
        pd.Timestamp(opened + 168 * H),
    ]
    assert pd.isna(out.iloc[4]["deadline_at"])
    assert out.iloc[5]["deadline_at"] == pd.Timestamp(NOW + 100 * H)  # a typed Deadline wins
    assert out["deadline_computed"].tolist() == [True, True, True, True, False, False]
    assert out["deadline_kind"].tolist()[:2] == ["A-to-z", "A-to-z"]
    # US: 62 h left; UK: 38 h left, inside deadline_warn_hours.
    assert out["flag"].tolist() == [
        "ON TRACK",
        "DEADLINE",
        "ON TRACK",
        "ON TRACK",
        "ON TRACK",
        "ON TRACK",
    ]


def test_a_passed_deadline_is_marked_passed():
    out = judge(case(Opened_At=NOW - 10 * D, Deadline_Type="Chargeback", Marketplace="US"))
    row = out.iloc[0]
    assert (row["flag"], row["deadline_passed"]) == ("DEADLINE", True)
    assert row["deadline_hours_left"] == -3 * 24


def test_an_unknown_deadline_type_is_a_warning_naming_the_cell():
    frame = read(case(Deadline_Type="Lawsuit"))
    (p,) = frame.problems
    assert (p.severity, p.code, p.cell) == ("warning", "unknown-value", "Cases!W2")
    assert "A-to-z" in p.message
    assert evaluate(frame.cases, RULES, AS_OF)["flag"].tolist() == ["ON TRACK"]


# -- issue 10: never hide an alert ----------------------------------------------------------------


def test_bad_follow_ups_and_a_near_deadline_still_show_deadline():
    frame = read(case(Follow_ups="见备注", Deadline=NOW + 10 * H, Marketplace="火星站"))
    assert {(p.severity, p.code) for p in frame.problems} == {
        ("warning", "not-a-number"),
        ("warning", "unknown-value"),
    }
    out = evaluate(frame.cases, RULES, AS_OF).iloc[0]
    assert out["flag"] == "DEADLINE"
    assert out["judged_with_defaults"] == ["Marketplace", "Follow-ups"]
    assert out["follow_ups"] == 0


@pytest.mark.parametrize(
    "broken",
    [
        {"Category": "杂项"},
        {"Priority": "Urgent"},
        {"Owner": CellError("#N/A")},
        {"Summary": None},
        {"Follow_ups": -1},
    ],
)
def test_a_broken_field_the_flag_does_not_need_is_judged_with_its_default(broken):
    out = judge(case(Opened_At=NOW - 30 * H, **broken)).iloc[0]
    assert out["flag"] == "OVERDUE"
    assert len(out["judged_with_defaults"]) == 1


def test_a_row_whose_turn_cannot_be_read_is_invalid_unless_a_deadline_is_near():
    out = judge(
        case(Channel="Fax"),
        case(Channel="Fax", Deadline=NOW + 5 * H),
        case(Last_Reply_At="yesterday", Deadline=NOW - 5 * H),
        case(Status="Closed", Channel="Fax", Deadline=NOW + 5 * H),
    )
    assert out["flag"].tolist() == ["INVALID", "DEADLINE", "DEADLINE", "INVALID"]
    assert out["_invalid"].all()
