"""The answer base (答疑库): solved cases grouped into problems (by ID, by Related Cases, by
similar English and Chinese Summaries, never across problems), the cases still missing an answer
by owner, the "Last time" note on open cases, and the Answers tab on Excel and on Google."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from caseloop.answers import build_answers
from caseloop.cli import main
from caseloop.config import load_labels, load_rules
from caseloop.frame import build_frame
from caseloop.rules import evaluate
from caseloop.schema import load_schema
from caseloop.views import status_view

from caselog import HEADERS, NOW, case, grid, write_xlsx

SCHEMA, RULES, LABELS = load_schema(), load_rules(), load_labels()
AS_OF = pd.Timestamp(NOW)
H = dt.timedelta(hours=1)
COLUMNS = [*HEADERS, "Amazon Response"]


def solved(case_id: str, summary: str, days_ago: float = 10, took_h: float = 30, **values):
    opened = NOW - dt.timedelta(days=days_ago)
    row = {
        "Case_ID": case_id,
        "Category": "FBA inventory",
        "Status": "Resolved",
        "Opened_At": opened,
        "First_Reply_At": opened + 2 * H,
        "Resolved_At": opened + took_h * H,
        "Summary": summary,
        "Resolution": "Reimbursed",
    }
    row.update(values)
    return case(**row)


def judged(*cases):
    frame = build_frame(grid(list(cases), headers=COLUMNS), SCHEMA, RULES, AS_OF)
    return evaluate(frame.cases, RULES, AS_OF)


def groups(*cases, rules=RULES) -> list[set[str]]:
    base = build_answers(judged(*cases), rules)
    return sorted((set(ids) for ids in base.problems["case_ids"]), key=lambda s: sorted(s))


# --- grouping ----------------------------------------------------------------------------------


def test_a_shared_asin_groups_two_wordings_of_one_problem():
    first = "B0KRRWT0N6: 12 units lost in warehouse, reimburse"
    second = "Lost units of B0KRRWT0N6, asking for reimbursement"  # 65: below the Summary bar
    got = groups(
        solved("17300000001", first, ASIN="B0KRRWT0N6"),
        solved("17300000002", second, ASIN="B0KRRWT0N6"),
    )
    assert got == [{"17300000001", "17300000002"}]
    # Without the shared ASIN the same two Summaries are not alike enough.
    apart = groups(solved("17300000003", first), solved("17300000004", second))
    assert apart == [{"17300000003"}, {"17300000004"}]


def test_one_asin_with_two_different_problems_stays_two_problems():
    got = groups(
        solved(
            "17300000011",
            "B0KRRWT0N6 suppressed for a missing main image",
            ASIN="B0KRRWT0N6",
            Category="Listing",
            Resolution="Image uploaded again",
        ),
        solved(
            "17300000012",
            "B0KRRWT0N6 buy box price alert, price is correct",
            ASIN="B0KRRWT0N6",
            Category="Listing",
            Resolution="Alert cleared",
        ),
    )
    assert got == [{"17300000011"}, {"17300000012"}]


def test_a_related_cases_chain_groups_its_cases():
    got = groups(
        solved(
            "17300000021", "Shipment FBA1F3S11MHK received 36 units short", Category="FBA shipment"
        ),
        solved(
            "17300000022",
            "Second case: still 36 units short, first one closed",
            Category="FBA shipment",
            Related_Cases="17300000021",
        ),
        solved(
            "17300000023",
            "Shipment FBA1AAAA1111 still 36 units short, third case",
            Category="FBA shipment",
            Related_Cases="17300000022",
        ),
    )
    # 21-22 share no ID and score 62, below the Summary bar alone; the chain links them.
    assert got == [{"17300000021", "17300000022", "17300000023"}]
    unlinked = groups(
        solved(
            "17300000024", "Shipment FBA1F3S11MHK received 36 units short", Category="FBA shipment"
        ),
        solved(
            "17300000025",
            "Second case: still 36 units short, first one closed",
            Category="FBA shipment",
        ),
    )
    assert unlinked == [{"17300000024"}, {"17300000025"}]


def test_a_chain_of_loosely_related_cases_does_not_merge_two_problems():
    got = groups(
        solved(
            "17300000031",
            "Settlement report for 1-14 Oct missing on US",
            Category="Payments",
            Resolution="Report available",
        ),
        solved(
            "17300000032",
            "Disbursement on US on hold for 12 days, no reason shown",
            Category="Payments",
            Related_Cases="17300000031",
            Resolution="Hold released",
        ),
    )
    assert got == [{"17300000031"}, {"17300000032"}]


def test_similar_english_summaries_group_without_any_shared_id():
    got = groups(
        solved(
            "17300000041",
            "Disbursement on hold, no reason given in the payments dashboard",
            Category="Payments",
        ),
        solved(
            "17300000042",
            "Disbursement held again, no reason given in payments dashboard",
            Category="Payments",
        ),
        solved(
            "17300000043", "Need copies of VAT invoices for Q3 selling fees", Category="Payments"
        ),
    )
    assert got == [{"17300000041", "17300000042"}, {"17300000043"}]


def test_similar_chinese_summaries_group_character_by_character():
    got = groups(
        solved("17300000051", "账户被暂停，需要提交行动计划", Category="Account health"),
        solved("17300000052", "账户又被暂停了，要提交行动计划申诉", Category="Account health"),
        solved("17300000053", "后台登录需要二次验证，收不到验证码", Category="Account health"),
    )
    assert got == [{"17300000051", "17300000052"}, {"17300000053"}]


def test_the_same_words_in_two_categories_are_two_problems():
    got = groups(
        solved("17300000061", "Asked for help, agent fixed it", Category="Listing"),
        solved("17300000062", "Asked for help, agent fixed it", Category="Advertising"),
    )
    assert got == [{"17300000061"}, {"17300000062"}]


def test_the_threshold_comes_from_rules_yaml():
    pair = (
        solved(
            "17300000071",
            "Disbursement on hold, no reason given in the payments dashboard",
            Category="Payments",
        ),
        solved(
            "17300000072",
            "Disbursement held again, no reason given in payments dashboard",
            Category="Payments",
        ),
    )
    assert len(groups(*pair)) == 1
    strict = dataclasses.replace(RULES, answer_similarity=99)
    assert len(groups(*pair, rules=strict)) == 2


# --- what a row says -----------------------------------------------------------------------------


def test_a_problem_row_counts_its_cases_and_shows_the_latest_answer():
    base = build_answers(
        judged(
            solved(
                "17300000081",
                "Removal order cancelled by the system, please recreate",
                days_ago=30,
                took_h=24,
                Channel="Email",
                Resolution="Agent recreated it",
            ),
            solved(
                "17300000082",
                "Removal order cancelled by system, recreate please",
                days_ago=20,
                took_h=72,
                Channel="Phone",
                Resolution="Recreated on the phone",
                Amazon_Response="Removal recreated by the agent",
            ),
            solved(
                "17300000083",
                "Removal order was cancelled by the system, recreate it",
                days_ago=5,
                took_h=48,
                Channel="Phone",
                Resolution="Removal shipped",
            ),
            solved("17300000084", "Stranded inventory after relisting", days_ago=3),
        ),
        RULES,
    )
    top = base.problems.iloc[0]
    assert top["times"] == 3 and base.problems.iloc[1]["times"] == 1  # most frequent first
    assert top["problem"] == "Removal order was cancelled by the system, recreate it"
    assert top["what_worked"] == "Removal shipped"
    assert top["amazon_said"] == "Removal recreated by the agent"
    assert top["channel"] == "Phone"
    assert top["median_days"] == pytest.approx(2.0)
    assert top["case_ids"] == ["17300000083", "17300000082", "17300000081"]
    assert top["last_seen"] == pd.Timestamp(NOW - dt.timedelta(days=5))


def test_resolved_cases_without_a_resolution_are_listed_by_owner():
    base = build_answers(
        judged(
            solved("17300000091", "Listing blocked", Owner="Zhang Min", Resolution=None),
            solved("17300000092", "Campaign paused", Owner="Chen Jing", Resolution="  "),
            solved("17300000093", "Lost units", Owner="Chen Jing", Resolution="Reimbursed"),
        ),
        RULES,
    )
    assert base.missing[["owner", "case_id"]].values.tolist() == [
        ["Chen Jing", "17300000092"],
        ["Zhang Min", "17300000091"],
    ]
    assert [ids for ids in base.problems["case_ids"]] == [["17300000093"]]


# --- the payoff on the Status tab ----------------------------------------------------------------


def test_an_open_case_on_a_solved_problem_notes_what_worked_last_time():
    rows = judged(
        solved(
            "17300000101",
            "Removal order cancelled by the system, please recreate",
            took_h=72,
            Channel="Phone",
            Resolution="Agent recreated the removal on the call",
        ),
        case(
            Case_ID="17300000102",
            Category="FBA inventory",
            Opened_At=NOW - 1 * H,
            Summary="Removal order cancelled by the system again, recreate please",
        ),
        case(
            Case_ID="17300000103",
            Category="FBA inventory",
            Opened_At=NOW - 1 * H,
            Summary="Inbound shipment checked in short",
        ),
    )
    base = build_answers(rows, RULES)
    view = status_view(rows, {}, RULES, LABELS, AS_OF, "en", answers=base).rows
    notes = view.set_index("case_id")["notes"]
    assert (
        "Last time: case 17300000101, solved in 3 d on Phone: "
        "Agent recreated the removal on the call" in notes["17300000102"]
    )
    assert "Last time" not in str(notes["17300000103"])
    zh = status_view(rows, {}, RULES, LABELS, AS_OF, "zh", answers=base).rows
    assert (
        "上次：工单 17300000101，通过电话解决，用时 3 天："
        in zh.set_index("case_id").loc["17300000102", "notes"]
    )


# --- the tab, on Excel and on Google -------------------------------------------------------------


def demo_cases():
    return [
        solved(
            "17300000201",
            "Removal order cancelled by the system, please recreate",
            Owner="Li Wei",
            Channel="Phone",
            Resolution="Recreated on the phone",
        ),
        solved(
            "17300000202",
            "Removal order cancelled by system, recreate please",
            Owner="Li Wei",
            Channel="Phone",
            Resolution="Removal shipped",
            days_ago=4,
        ),
        solved(
            "17300000203",
            "Listing suppressed for missing image",
            Category="Listing",
            Owner="Zhang Min",
            Resolution="Image uploaded",
        ),
        solved(
            "17300000204",
            "Campaign paused by the system",
            Category="Advertising",
            Owner="Chen Jing",
            Resolution=None,
        ),
        case(Case_ID="17300000205", Category="FBA inventory", Summary="Removal order cancelled"),
    ]


def read_tab(path: Path, title: str) -> list[tuple]:
    book = openpyxl.load_workbook(path)
    return [tuple(r) for r in book[title].iter_rows(values_only=True)]


def test_caseloop_answers_writes_the_tab_into_a_real_workbook(tmp_path):
    log = write_xlsx(tmp_path / "log.xlsx", demo_cases(), headers=COLUMNS)
    before = read_tab(log, "Cases")
    out = tmp_path / "out.xlsx"
    result = CliRunner().invoke(
        main, ["answers", str(log), "--now", "2026-11-20T18:00", "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert (
        "Wrote 'Answers' (2 solved problems, 1 resolved case(s) without an answer)" in result.output
    )
    rows = read_tab(out, "Answers")
    assert rows[0][0].startswith("Answers (答疑库) — 2 problems solved, from 4 resolved cases")
    assert rows[1] == (
        "Category",
        "Problem (latest Summary)",
        "Times",
        "Last seen",
        "Median days to resolve",
        "Resolved most often on",
        "What worked (latest Resolution)",
        "What Amazon said (latest)",
        "Case IDs",
    )
    assert rows[2][:3] == ("FBA inventory", "Removal order cancelled by system, recreate please", 2)
    assert rows[2][5:7] == ("Phone", "Removal shipped")
    assert rows[2][8] == "17300000202, 17300000201"
    assert rows[3][:3] == ("Listing", "Listing suppressed for missing image", 1)
    gap = next(i for i, r in enumerate(rows) if str(r[0]).startswith("Answer missing"))
    assert rows[gap + 2][:5] == (
        "Advertising",
        "Campaign paused by the system",
        "Chen Jing",
        rows[gap + 2][3],
        "17300000204",
    )
    assert read_tab(out, "Cases") == before  # the team's tab is never rewritten


def test_report_writes_the_answers_tab_with_the_weekly_summary_in_chinese(tmp_path):
    log = write_xlsx(tmp_path / "log.xlsx", demo_cases(), headers=COLUMNS)
    out = tmp_path / "out.xlsx"
    result = CliRunner().invoke(
        main,
        ["report", str(log), "--now", "2026-11-20T18:00", "--output", str(out), "--lang", "zh"],
    )
    assert result.exit_code == 0, result.output
    assert "已将「答疑库」写入" in result.output
    book = openpyxl.load_workbook(out)
    assert {"周报", "答疑库"} <= set(book.sheetnames)
    rows = [tuple(r) for r in book["答疑库"].iter_rows(values_only=True)]
    assert rows[1][0] == "问题类型" and rows[2][0] == "FBA库存" and rows[2][5] == "电话"


pytest_plugins = ["fakesheets.fixtures"]


@pytest.mark.parametrize("command", ["report", "answers"])
def test_the_answers_tab_on_a_google_sheet_in_at_most_four_requests(fake_sheets, tmp_path, command):
    from test_gsheets_sync import authorized_user_file

    from fakesheets import fake_client_class

    key = "1AnswersSheetKey_caseloop"
    book = fake_sheets.add_spreadsheet(key, timezone="Asia/Shanghai")
    rows = [COLUMNS] + [[c.get(h) for h in COLUMNS] for c in demo_cases()]
    book.add_sheet("Cases", rows)
    cases_before = dict(book.sheet("Cases").cells)
    fake_sheets.clear_log()
    result = CliRunner().invoke(
        main,
        [
            command,
            f"gsheet:{key}",
            "--credentials",
            str(authorized_user_file(tmp_path)),
            "--now",
            "2026-11-20T18:00",
        ],
        obj={"http_client": fake_client_class(fake_sheets.url)},
    )
    assert result.exit_code == 0, result.output
    assert len(fake_sheets.log) <= 4
    answers = fake_sheets.book(key).sheet("Answers")
    assert answers.cell(1, 0).value == "Category"
    assert [answers.cell(2, c).value for c in (0, 2, 6, 8)] == [
        "FBA inventory",
        2,
        "Removal shipped",
        "17300000202, 17300000201",
    ]
    assert fake_sheets.book(key).sheet("Cases").cells == cases_before
