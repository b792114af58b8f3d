"""The Status view's rows, without any file: Notes, Next action, context and pass-through."""

import datetime as dt

import pandas as pd

from caseloop.config import load_labels, load_rules
from caseloop.frame import build_frame
from caseloop.rules import evaluate
from caseloop.schema import load_schema
from caseloop.views import CONTEXT_KEYS, status_view

from caselog import HEADERS, NOW, case, grid

SCHEMA, RULES, LABELS = load_schema(), load_rules(), load_labels()
AS_OF = pd.Timestamp(NOW)
H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)
COLUMNS = [*HEADERS, "Store", "Promised By", "Deadline Type"]


def view(*cases, lang="en"):
    frame = build_frame(grid(list(cases), headers=COLUMNS), SCHEMA, RULES, AS_OF)
    judged = evaluate(frame.cases, RULES, AS_OF)
    return status_view(judged, frame.problems_by_row(), RULES, LABELS, AS_OF, lang)


def by_id(v, case_id):
    return v.rows.set_index("case_id").loc[case_id]


def test_store_summary_and_a_full_context_pass_through():
    c = case(Store="NorthPeak Gear", Summary="Listing suppressed")
    row = view(c).rows.iloc[0]
    assert (row["Store"], row["Summary"]) == ("NorthPeak Gear", "Listing suppressed")
    assert set(row["context"]) == set(CONTEXT_KEYS)
    assert row["context"]["case_id"] == c["Case ID"]
    assert row["context"]["duplicate_of"] == "[case ID]"
    assert "None" not in "".join(row["context"].values())


def test_our_turn_past_the_open_limit_says_reply_first():
    row = view(
        case(Category="Payments", Opened_At=NOW - 128 * H, Last_Reply_At=NOW - 105 * H)
    ).rows.iloc[0]
    assert row["flag"] == "OUR TURN"
    assert row["notes"].startswith("Reply first; open 128 h (over the 72 h limit for High")
    assert "Supervisor" not in row["next_action"]


def test_duplicates_name_the_oldest_and_the_oldest_names_them():
    old = case(Category="Listing", ASIN="B0DUPLICAT", Opened_At=NOW - 10 * H)
    new = case(Category="Listing", ASIN="B0DUPLICAT", Opened_At=NOW - 2 * H)
    v = view(old, new)
    newer = by_id(v, new["Case ID"])
    assert newer["flag"] == "DUPLICATE"
    assert f"add this to case {old['Case ID']} and flag it urgent" in newer["next_action"]
    assert newer["context"]["duplicate_of"] == old["Case ID"]
    oldest = by_id(v, old["Case ID"])
    assert f"Newer open cases on the same problem: {new['Case ID']}" in oldest["notes"]


def test_reopen_names_the_case_to_reopen():
    closed = case(Status="Closed", Opened_At=NOW - 9 * D, Resolved_At=NOW - 2 * D)
    row = view(closed).rows.iloc[0]
    assert row["flag"] == "REOPEN"
    assert (
        row["next_action"]
        == f"Reopen case {closed['Case ID']} in the Case Log instead of opening a new one."
    )
    assert row["notes"].startswith("Closed ")


def test_a_passed_deadline_does_not_say_act_before():
    row = view(case(Opened_At=NOW - 12 * D, Deadline=NOW - 5 * D)).rows.iloc[0]
    assert row["flag"] == "DEADLINE"
    assert row["next_action"].startswith("The deadline passed 5 d ago")
    assert "before" not in row["next_action"]
    assert row["context"]["passed_for"] == "5 d"
    assert "passed 5 d ago" in row["notes"]


def test_a_computed_a_to_z_deadline_is_shown_and_explained():
    row = view(case(Marketplace="UK", Opened_At=NOW - 10 * H, Deadline_Type="A-to-z")).rows.iloc[0]
    assert row["flag"] == "DEADLINE"
    assert row["context"]["deadline"] == f"{NOW + 38 * H:%Y-%m-%d %H:%M}"
    assert "A-to-z deadline computed: Opened At + 48 h (UK)" in row["notes"]


def test_a_promise_means_wait():
    promised = NOW + 20 * H
    row = view(case(Opened_At=NOW - 30 * H, Promised_By=promised)).rows.iloc[0]
    assert row["flag"] == "ON TRACK"
    assert row["next_action"] == f"Amazon promised an answer by {promised:%Y-%m-%d %H:%M}; wait."
    zh = view(case(Opened_At=NOW - 30 * H, Promised_By=promised), lang="zh").rows.iloc[0]
    assert zh["next_action"].startswith("亚马逊承诺在")


def test_recurring_within_target_is_a_note_for_the_answer_base():
    asin = "B0RECURRIN"
    earlier = [
        case(
            Category="Listing",
            ASIN=asin,
            Status="Resolved",
            Opened_At=NOW - days * D,
            Resolved_At=NOW - (days - 1) * D,
            Resolution="Fixed",
        )
        for days in (20, 10)
    ]
    v = view(*earlier, case(Category="Listing", ASIN=asin, Opened_At=NOW - 8 * H))
    row = v.rows[v.rows["flag"] == "ON TRACK"].iloc[0]
    assert f"3rd case on ASIN {asin} in 30 days — add the answer to the answer base" in row["notes"]


def test_a_broken_row_is_flagged_with_its_problem_and_counted_apart():
    v = view(case(Follow_ups="两三次", Deadline=NOW + 10 * H), case())
    row = v.rows.iloc[0]
    assert row["flag"] == "DEADLINE"
    assert 'Follow-ups "两三次" is not a whole number' in row["notes"]
    assert "Judged with defaults for Follow-ups" in row["notes"]
    assert v.data_problems == 1 and v.counts["INVALID"] == 0


def playbook_view(*cases, lang="en"):
    """The view as the engine builds it: the playbook's sentences and evidence by deadline."""
    from caseloop.playbook import load_playbook, with_deadline_evidence

    playbook = load_playbook()
    rules = with_deadline_evidence(RULES, playbook)
    frame = build_frame(grid(list(cases), headers=COLUMNS), SCHEMA, rules, AS_OF)
    judged = evaluate(frame.cases, rules, AS_OF)
    return status_view(judged, frame.problems_by_row(), rules, LABELS, AS_OF, lang, playbook)


def test_account_health_escalates_through_the_appeal_quoting_every_related_case_once():
    related = ["11111111111", "22222222222", "33333333333"]
    c = case(
        Category="Account health",
        Opened_At=NOW - 100 * H,
        Last_Sent_At=NOW - 30 * H,
        Related_Cases=", ".join(related),
    )
    row = playbook_view(c).rows.iloc[0]
    assert row["flag"] == "ESCALATE"
    assert row["next_action"].startswith("Appeal from Performance › Account Health")
    for case_id in related:
        assert row["next_action"].count(case_id) == 1
    zh = playbook_view(c, lang="zh").rows.iloc[0]
    assert zh["next_action"].startswith("通过「绩效 › 账户状况」申诉")


def test_a_to_z_deadline_says_where_to_respond():
    c = case(Marketplace="UK", Opened_At=NOW - 10 * H, Deadline_Type="A-to-z")
    row = playbook_view(c).rows.iloc[0]
    assert row["flag"] == "DEADLINE"
    assert row["next_action"].startswith(
        f"Respond before {NOW + 38 * H:%Y-%m-%d %H:%M} under Performance › A-to-z Guarantee Claims"
    )


def test_a_chargeback_payments_case_needs_its_order_id():
    chargeback = case(Category="Payments", Opened_At=NOW - 1 * H, Deadline_Type="Chargeback")
    plain = case(Category="Payments", Opened_At=NOW - 1 * H)
    v = playbook_view(chargeback, plain)
    assert by_id(v, chargeback["Case ID"])["flag"] == "NEEDS INFO"
    assert "Order ID" in by_id(v, chargeback["Case ID"])["next_action"]
    assert by_id(v, plain["Case ID"])["flag"] != "NEEDS INFO"


def test_an_escalation_without_related_cases_shows_no_placeholder():
    c = case(Category="Tax & VAT", Opened_At=NOW - 200 * H, Last_Sent_At=NOW - 30 * H)
    for lang in ("en", "zh"):
        row = playbook_view(c, lang=lang).rows.iloc[0]
        assert row["flag"] == "ESCALATE"
        assert "[" not in row["next_action"] and "{" not in row["next_action"]


def test_our_turn_by_status_without_a_reply_time_claims_no_answer_time():
    c = case(Status="Needs your attention", Opened_At=NOW - 12 * H, Last_Sent_At=NOW - 9 * H)
    row = view(c).rows.iloc[0]
    assert row["flag"] == "OUR TURN"
    assert "Amazon answered" not in row["notes"]
    assert "Status says the reply is ours; our last message was 9.0 h ago" in row["notes"]


def test_needs_info_says_what_is_missing_first():
    c = case(Category="FBA shipment", Opened_At=NOW - 2 * H)
    en = playbook_view(c).rows.iloc[0]
    assert en["flag"] == "NEEDS INFO"
    assert en["next_action"].startswith("Missing Shipment ID. ")
    zh = playbook_view(c, lang="zh").rows.iloc[0]
    assert zh["next_action"].startswith("缺少：")
