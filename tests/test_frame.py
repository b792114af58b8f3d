"""Reading the Cases tab: header detection, aliases, every date form, Case IDs, problems."""

import ast
import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

import caseloop
from caseloop.config import load_labels, load_rules
from caseloop.datafiles import DEFAULT_SCHEMA
from caseloop.errors import CaseloopError
from caseloop.frame import build_frame
from caseloop.ports import CellError, Grid
from caseloop.problems import CATALOGUE, LABEL_GROUP, TemplateFieldError, problem, template_fields
from caseloop.schema import load_schema

from caselog import HEADERS, NOW, case, grid

SCHEMA, RULES = load_schema(), load_rules()
AS_OF = pd.Timestamp(NOW)


def frame_of(g: Grid):
    return build_frame(g, SCHEMA, RULES, AS_OF)


def codes(f) -> list[tuple[str, str]]:
    return [(p.code, p.cell) for p in f.problems]


def test_header_found_below_a_title_and_unknown_columns_ignored():
    g = grid([case()], headers=HEADERS + ["Internal note"], above=[["Team Shenzhen case log"], []])
    f = frame_of(g)
    assert f.header_row == 3
    assert f.ignored_headers == ["Internal note"]
    assert f.problems == []
    assert len(f.cases) == 1


def test_header_below_row_10_is_not_found():
    g = grid([case()], above=[[None]] * 10)
    with pytest.raises(CaseloopError, match="No header row found in the first 10 rows"):
        frame_of(g)


def test_chinese_full_width_and_zero_width_headers():
    zh = [SCHEMA.field(h).zh for h in HEADERS]
    zh[0] = "ＣＡＳＥ　ＩＤ"  # full-width letters and space
    zh[5] = "状\u200b态"  # zero-width space inside
    f = frame_of(
        grid(
            [case(Status="处理中", Channel="电话", Category="广告", Marketplace="美国站")],
            labels=zh,
        )
    )
    row = f.cases.iloc[0]
    assert (row["Status"], row["Channel"], row["Category"], row["Marketplace"]) == (
        "Open",
        "Phone",
        "Advertising",
        "US",
    )
    assert f.problems == []


def test_missing_required_column_suggests_the_misspelt_header():
    headers = ["Case ID", "Marketplace", "Category", "Channel", "Status", "Opend At", "Summary"]
    with pytest.raises(
        CaseloopError, match=r'no column Opened At.*"Opend At" looks like "Opened At"'
    ):
        frame_of(grid([], headers=headers))


def test_two_header_cells_with_the_same_column_are_refused():
    headers = HEADERS + ["案例编号"]
    with pytest.raises(
        CaseloopError, match=r"Cases!A1 and Cases!U1 are both the column \"Case ID\""
    ):
        frame_of(grid([], headers=headers))


def test_empty_tab():
    with pytest.raises(CaseloopError, match="is empty"):
        frame_of(Grid("Cases", []))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-11-18", dt.datetime(2026, 11, 18)),
        ("2026-11-18 09:30", dt.datetime(2026, 11, 18, 9, 30)),
        ("2026-11-18T09:30:15", dt.datetime(2026, 11, 18, 9, 30, 15)),
        ("2026/11/18 09:30", dt.datetime(2026, 11, 18, 9, 30)),
        ("2026年11月18日 09:30", dt.datetime(2026, 11, 18, 9, 30)),
        ("2026年11月18日", dt.datetime(2026, 11, 18)),
        ("2026-11-18T01:30Z", dt.datetime(2026, 11, 18, 9, 30)),  # UTC → Asia/Shanghai
        ("2026-11-18T09:30+09:00", dt.datetime(2026, 11, 18, 8, 30)),
        (46344.5, dt.datetime(2026, 11, 18, 12, 0)),  # an Excel serial
        (dt.datetime(2026, 11, 18, 9, 30), dt.datetime(2026, 11, 18, 9, 30)),
        (dt.date(2026, 11, 18), dt.datetime(2026, 11, 18)),
        ("２０２６－１１－１８　０９：３０", dt.datetime(2026, 11, 18, 9, 30)),
    ],
)
def test_every_accepted_date_form(text, expected):
    f = frame_of(grid([case(Opened_At=text)]))
    assert f.problems == []
    assert f.cases.iloc[0]["Opened At"] == pd.Timestamp(expected)


@pytest.mark.parametrize(
    "text, code",
    [
        ("2026/13/02", "not-a-date"),
        ("2026-02-31", "not-a-date"),
        ("31/02/2026", "not-a-date"),  # 31 is the day: February has no 31st
        ("03/11/2026", "ambiguous-date"),
        ("yesterday", "not-a-date"),
        ("2026-11-20T25:00", "not-a-date"),
        (12.5, "not-a-date"),
        (True, "not-a-date"),
    ],
)
def test_bad_dates_name_their_cell_and_make_the_row_invalid(text, code):
    f = frame_of(grid([case(), case(Opened_At=text)]))
    assert codes(f) == [(code, "Cases!G3")]
    assert f.cases["_invalid"].tolist() == [False, True]


def test_spreadsheet_error_cells_are_problems():
    f = frame_of(grid([case(Opened_At=CellError("#N/A"), Marketplace=CellError("#REF!"))]))
    assert sorted(codes(f)) == [("cell-error", "Cases!B2"), ("cell-error", "Cases!G2")]
    assert "#N/A" in f.problems[1].message or "#N/A" in f.problems[0].message


def test_case_ids_stored_as_numbers_read_back_as_digits():
    f = frame_of(
        grid(
            [
                case(Case_ID=12345678901.0),
                case(Case_ID=12345678902),
                case(Case_ID=" １２３４５６７８９０３ "),
            ]
        )
    )
    assert f.cases["Case ID"].tolist() == ["12345678901", "12345678902", "12345678903"]
    assert f.problems == []


def test_case_id_shortened_by_excel_is_an_error_and_odd_ids_a_warning():
    f = frame_of(grid([case(Case_ID="1.23457E+10"), case(Case_ID="PH-0012")]))
    assert [(p.severity, p.code, p.cell) for p in f.problems] == [
        ("error", "case-id-shortened", "Cases!A2"),
        ("warning", "case-id-format", "Cases!A3"),
    ]


def test_duplicate_case_id_names_both_rows():
    f = frame_of(grid([case(Case_ID="12345678901"), case(), case(Case_ID=12345678901)]))
    (p,) = f.errors
    assert p.cell == "Cases!A4"
    assert "also in row 2 (Cases!A2)" in p.message
    assert f.cases["_invalid"].tolist() == [False, False, True]


def test_enums_accept_seller_central_labels_and_list_allowed_values():
    f = frame_of(
        grid([case(Status="Work in progress"), case(Status="answered"), case(Channel="Fax")])
    )
    assert f.cases["Status"].tolist()[:2] == ["Open", "Open"]
    # The label itself is kept as its own piece of data: it says whose turn it is.
    assert f.cases["status_label"].tolist() == ["Work in progress", "Answered", None]
    (p,) = f.errors
    assert p.cell == "Cases!D4"
    assert "Case (工单), Phone (电话), Chat (在线聊天), Email (邮件)" in p.message


def test_required_values_and_resolved_at_when_resolved():
    f = frame_of(grid([case(Summary=None), case(Status="Resolved")]))
    # Summary is required but no flag needs it: a warning, the row is still judged.
    assert [(p.code, p.cell) for p in f.errors] == [("resolved-at-missing", "Cases!L3")]
    assert [(p.code, p.cell) for p in f.warnings] == [
        ("required", "Cases!S2"),
        ("no-resolution", "Cases!T3"),
    ]
    assert f.cases["_invalid"].tolist() == [False, True]
    assert f.cases["_defaults"].tolist() == [("Summary",), ()]


def test_order_of_dates_and_the_future():
    f = frame_of(
        grid(
            [
                case(Last_Reply_At=NOW - dt.timedelta(hours=5)),
                case(Opened_At=NOW + dt.timedelta(hours=1)),
            ]
        )
    )
    assert [(p.code, p.cell) for p in f.errors] == [
        ("before-opened", "Cases!J2"),
        ("in-future", "Cases!G3"),
    ]


def test_patterns_and_unknown_related_cases_are_warnings():
    f = frame_of(
        grid(
            [
                case(
                    Order_ID="123-456",
                    ASIN="B0ABC",
                    Shipment_ID="FBA15ABCD123",
                    Related_Cases="99999999999、12345",
                )
            ]
        )
    )
    assert f.errors == []
    assert [(p.code, p.cell) for p in f.warnings] == [
        ("pattern", "Cases!N2"),
        ("pattern", "Cases!O2"),
        ("unknown-related", "Cases!Q2"),
    ]


def test_blank_rows_between_and_below_are_skipped_and_rows_keep_sheet_numbers():
    g = grid([case(), {}, case(Opened_At="bad")])
    g.rows.extend([[None] * len(HEADERS)] * 5000)
    f = frame_of(g)
    assert f.cases["_row"].tolist() == [2, 4]
    assert codes(f) == [("not-a-date", "Cases!G4")]


def test_follow_ups_must_be_whole_and_not_negative():
    f = frame_of(
        grid(
            [
                case(Follow_ups="two"),
                case(Follow_ups=-1),
                case(Follow_ups="3"),
                case(Follow_ups=2.0),
            ]
        )
    )
    # Warnings: the row is judged with Follow-ups 0 rather than hidden as INVALID.
    assert f.errors == []
    assert [(p.code, p.cell) for p in f.warnings] == [
        ("not-a-number", "Cases!K2"),
        ("below-minimum", "Cases!K3"),
    ]
    assert f.cases["Follow-ups"].isna().tolist()[:2] == [True, True]
    assert f.cases["_defaults"].tolist() == [("Follow-ups",), ("Follow-ups",), (), ()]
    assert f.cases["Follow-ups"].tolist()[2:] == [3, 2]


def test_reopened_and_crossed_replies_are_warnings():
    f = frame_of(
        grid(
            [
                case(Status="Reopened", Resolved_At=NOW - dt.timedelta(hours=1)),
                case(
                    First_Reply_At=NOW - dt.timedelta(hours=1),
                    Last_Reply_At=NOW - dt.timedelta(hours=1.5),
                ),
            ]
        )
    )
    assert f.errors == []
    assert [(p.code, p.cell) for p in f.warnings] == [
        ("open-with-resolved-at", "Cases!L2"),
        ("last-before-first-reply", "Cases!J3"),
    ]


def test_google_serials_in_the_repeated_hour_are_kept():
    # 2026-10-25 02:30 happens twice in Berlin; the sheet's serial must not be lost.
    serial = (pd.Timestamp("2026-10-25 02:30") - pd.Timestamp("1899-12-30")) / pd.Timedelta(days=1)
    g = grid([case(Opened_At=serial)])
    g.timezone, g.dates_as_serials = "Europe/Berlin", True
    f = frame_of(g)
    assert f.problems == []
    # 02:30 CET (the later one) is 09:30 in Shanghai.
    assert f.cases.iloc[0]["Opened At"] == pd.Timestamp("2026-10-25 09:30")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026年11月20日9时30分", dt.datetime(2026, 11, 20, 9, 30)),
        ("2026年11月20日09时30分", dt.datetime(2026, 11, 20, 9, 30)),
        ("2026年11月20日 9时5分", dt.datetime(2026, 11, 20, 9, 5)),
        ("2026年11月20日09时30分15秒", dt.datetime(2026, 11, 20, 9, 30, 15)),
        ("2026年11月20日 09时30分15秒", dt.datetime(2026, 11, 20, 9, 30, 15)),
        ("2026年11月20日9时30分5秒", dt.datetime(2026, 11, 20, 9, 30, 5)),
        ("2026年11月20日9点30分", dt.datetime(2026, 11, 20, 9, 30)),
        ("2026年11月20日9:30", dt.datetime(2026, 11, 20, 9, 30)),
        ("2026年11月20日 9:30:15", dt.datetime(2026, 11, 20, 9, 30, 15)),
        ("2026-11-20 9:30", dt.datetime(2026, 11, 20, 9, 30)),
        ("2026-11-20 9:05:07", dt.datetime(2026, 11, 20, 9, 5, 7)),
    ],
)
def test_chinese_times_with_one_digit_hours_and_with_or_without_seconds(text, expected):
    f = frame_of(grid([case(Opened_At=text)]))
    assert f.problems == []
    assert f.cases.iloc[0]["Opened At"] == pd.Timestamp(expected)


@pytest.mark.parametrize("text", ["2026-11-20 09:3015", "2026-11-209:30"])
def test_run_together_times_are_not_guessed(text):
    f = frame_of(grid([case(Opened_At=text)]))
    assert codes(f) == [("not-a-date", "Cases!G2")]


def test_serials_of_a_1904_workbook_count_from_1904():
    opened = dt.datetime(2026, 11, 20, 9, 30)
    serial_1904 = (opened - dt.datetime(1904, 1, 1)) / dt.timedelta(days=1)
    g = grid([case(Opened_At=serial_1904), case(Opened_At=1000.0)])
    g.date1904 = True
    f = frame_of(g)
    assert f.cases.iloc[0]["Opened At"] == pd.Timestamp(opened)
    # Implausible serials are named with the number the cell holds.
    assert [(p.code, p.cell) for p in f.problems] == [("not-a-date", "Cases!G3")]
    assert '"1000"' in f.problems[0].message
    g.date1904 = False
    assert frame_of(g).cases.iloc[0]["Opened At"] == pd.Timestamp(opened) - pd.Timedelta(days=1462)


def test_repeated_headers_and_totals_lines_are_not_cases():
    zh = [SCHEMA.field(h).zh for h in HEADERS]
    g = grid(
        [
            case(),
            dict(zip(HEADERS, HEADERS, strict=True)),
            {"Case ID": "TOTAL", "Follow-ups": 4},
            dict(zip(HEADERS, zh, strict=True)),
            {"Marketplace": " 合计 ", "Follow-ups": 2},
            {"Category": "总计"},
            {"Case ID": "Totals", "Summary": "2 cases"},
            case(),
        ]
    )
    f = frame_of(g)
    # The header again is skipped silently; each totals line is said once, as not counted.
    assert codes(f) == [
        ("totals-row", "Cases!A4"),
        ("totals-row", "Cases!B6"),
        ("totals-row", "Cases!C7"),
        ("totals-row", "Cases!A8"),
    ]
    assert f.problems[1].message == (
        'Row 6 is a totals line (" 合计 "), not a case; caseloop does not count it.'
    )
    assert {p.severity for p in f.problems} == {"warning"}
    assert f.cases["_row"].tolist() == [2, 9]


def test_a_totals_word_after_a_case_id_or_with_a_date_is_a_case():
    g = grid(
        [
            case(Summary="Total"),  # the Case ID comes first: a case whose summary says Total
            {"Marketplace": "Total", "Case ID": "12345678901"},  # Case ID is not a totals word
        ],
        headers=["Marketplace", *[h for h in HEADERS if h != "Marketplace"]],
    )
    f = frame_of(g)
    assert f.cases["_row"].tolist() == [2, 3]
    assert ("required", "Cases!G3") in codes(f)


def test_table_totals_rows_from_the_workbook_are_skipped():
    g = grid([case(), case(), {"Case ID": 2, "Follow-ups": 0}])
    g.skip_rows = {4}
    f = frame_of(g)
    assert f.problems == [] and f.cases["_row"].tolist() == [2, 3]


def test_rows_read_sparsely_keep_their_sheet_numbers():
    g = grid([case(), case(Opened_At="bad")], above=[["Team log"], []])
    g.row_numbers = [1, 2, 3, 4, 1_048_576]
    g.rows[1] = ["note"]  # row 2 is not blank here: only the numbers say where rows are
    f = frame_of(g)
    assert (f.header_row, f.cases["_row"].tolist()) == (3, [4, 1_048_576])
    assert codes(f) == [("not-a-date", "Cases!G1048576")]


def test_a_header_beyond_row_10_is_not_found_when_rows_are_sparse():
    g = grid([case()], above=[["Team log"]])
    g.row_numbers = [1, 11, 12]
    with pytest.raises(CaseloopError, match="No header row found"):
        frame_of(g)


def test_formulas_without_a_saved_result_are_named_and_the_row_still_judged():
    late = NOW - dt.timedelta(hours=30)
    g = grid([case(Opened_At=late, Last_Sent_At=late), case()])
    reply, opened = HEADERS.index("Last Reply At"), HEADERS.index("Opened At")
    g.rows[2][opened] = ""  # calamine reads a formula without a result as ""
    g.unsaved_formulas = {(1, reply), (2, opened), (40, reply)}
    f = frame_of(g)
    assert [(p.severity, p.code, p.cell) for p in f.problems] == [
        ("error", "formula-no-result", "Cases!G3"),
        ("warning", "formula-no-result", "Cases!J2"),
    ]
    assert f.cases["_invalid"].tolist() == [False, True]


def test_far_cells_are_warnings_naming_the_cell():
    g = grid([case()])
    g.far_cells = [(1_048_575, 16_383, " ")]
    f = frame_of(g)
    (p,) = f.problems
    assert (p.severity, p.code, p.cell, p.row) == ("warning", "far-cell", "Cases!XFD1048576", None)
    assert p.message.startswith('This cell holds " " far from the case log; clear it')


def test_case_dates_centuries_away_are_refused_with_their_cell():
    # 322 years before NOW: more than a datetime64[ns] difference holds; refused, not a crash.
    f = frame_of(grid([case(Opened_At=dt.datetime(1704, 6, 19, 3, 25)), case()]))
    assert codes(f) == [("date-out-of-range", "Cases!G2")]


H = dt.timedelta(hours=1)


def test_every_problem_code_is_worded_as_before():
    """One sheet with every problem the frame finds, and the exact sentence of each."""
    cases = [
        case(Case_ID="12345678901", Follow_ups="x"),
        case(Follow_ups=-1),
        case(Opened_At=dt.datetime(9999, 12, 31)),
        case(Last_Sent_At="03/04/2026"),
        case(Deadline="soon"),
        case(Case_ID="1.23457E+11"),
        case(Case_ID="CHAT-7"),
        case(Case_ID="12345678901"),
        case(Channel="Seller Forums", Marketplace="Mars", Category="物流"),
        case(Order_ID="123"),
        case(Related_Cases="99999999999"),
        case(Status="Resolved"),
        case(First_Reply_At=NOW - 72 * H),
        case(Last_Reply_At=NOW + 24 * H),
        case(First_Reply_At=NOW - 1 * H, Last_Reply_At=NOW - 1.5 * H),
        case(Status="Open", Resolved_At=NOW - H),
        case(Summary=None),
        case(Owner=CellError("#N/A")),
        case(),
        case(Status="Needs your attention"),
        case(Status="Pending Amazon action", Last_Reply_At=NOW - 1 * H),
        case(Promised_By=NOW - 48 * H),
        {"Case ID": "合计", "Follow-ups": 3},
    ]
    g = grid(cases, headers=[*HEADERS, "Promised By"])
    g.far_cells = [(4999, 2, "junk")]
    g.unsaved_formulas = {(19, HEADERS.index("Summary")), (19, HEADERS.index("Owner"))}
    found = [(p.severity, p.code, p.cell, p.message) for p in frame_of(g).problems]
    # Only the fields a flag needs make errors; the others are warnings, judged by default.
    assert found == [
        (
            "error",
            "date-out-of-range",
            "Cases!G4",
            'Opened At "9999-12-31 00:00" is too far in the past or future to be a case date; check the year.',
        ),
        (
            "error",
            "ambiguous-date",
            "Cases!H5",
            'Last Sent At "03/04/2026" could be day/month or month/day; write it as YYYY-MM-DD HH:MM so nobody has to guess.',
        ),
        (
            "error",
            "not-a-date",
            "Cases!M6",
            'Deadline "soon" is not a date; use a date cell or text like 2026-11-20 09:30.',
        ),
        (
            "error",
            "case-id-shortened",
            "Cases!A7",
            'Case ID "1.23457E+11" is a number Excel shortened to scientific notation; retype the full ID as text.',
        ),
        (
            "error",
            "duplicate-case-id",
            "Cases!A9",
            "Case ID 12345678901 is also in row 2 (Cases!A2); keep one row per case and log follow-ups in that row.",
        ),
        (
            "error",
            "unknown-value",
            "Cases!D10",
            'Channel "Seller Forums" is not one of: Case (工单), Phone (电话), Chat (在线聊天), Email (邮件).',
        ),
        (
            "error",
            "resolved-at-missing",
            "Cases!L13",
            "Resolved At is empty but Status is Resolved; add when it was resolved.",
        ),
        (
            "error",
            "before-opened",
            "Cases!I14",
            'First Reply At "2026-11-17 18:00" is before Opened At "2026-11-20 16:00"; check both dates.',
        ),
        (
            "error",
            "in-future",
            "Cases!J15",
            'Last Reply At "2026-11-21 18:00" is in the future (after 2026-11-20 18:00); check the date.',
        ),
        (
            "warning",
            "far-cell",
            "Cases!C5000",
            'This cell holds "junk" far from the case log; clear it (it makes the tab huge to read).',
        ),
        (
            "warning",
            "not-a-number",
            "Cases!K2",
            'Follow-ups "x" is not a whole number; type a count such as 0, 1 or 2.',
        ),
        ("warning", "below-minimum", "Cases!K3", 'Follow-ups "-1" cannot be below 0.'),
        (
            "warning",
            "case-id-format",
            "Cases!A8",
            'Case ID "CHAT-7" is not an Amazon case ID (8 to 12 digits); fine for a phone or chat contact logged under the team\'s own ID.',
        ),
        (
            "warning",
            "unknown-value",
            "Cases!B10",
            'Marketplace "Mars" is not one of: US (美国), CA (加拿大), MX (墨西哥), BR (巴西), UK (英国), DE (德国), FR (法国), IT (意大利), ES (西班牙), NL (荷兰), SE (瑞典), PL (波兰), BE (比利时), TR (土耳其), AE (阿联酋), SA (沙特), EG (埃及), IN (印度), JP (日本), AU (澳大利亚), SG (新加坡), IE (爱尔兰), ZA (南非).',
        ),
        (
            "warning",
            "ambiguous-value",
            "Cases!C10",
            'Category "物流" could mean FBA shipment (FBA货件) or Orders & returns (订单与退货); type the one you mean.',
        ),
        (
            "warning",
            "pattern",
            "Cases!N11",
            'Order ID "123" does not look like an Amazon Order ID (like 123-1234567-1234567); check it.',
        ),
        (
            "warning",
            "unknown-related",
            "Cases!Q12",
            "Related Cases names 99999999999, which is not a Case ID in this log.",
        ),
        (
            "warning",
            "no-resolution",
            "Cases!T13",
            "Resolution is empty for a resolved case; note how it ended so the team can reuse the answer.",
        ),
        (
            "warning",
            "last-before-first-reply",
            "Cases!J16",
            "Last Reply At is before First Reply At; check which answer came last.",
        ),
        (
            "warning",
            "open-with-resolved-at",
            "Cases!L17",
            "Resolved At is filled but the case is open; if it was reopened, clear Resolved At.",
        ),
        ("warning", "required", "Cases!S18", "Summary is empty; every case needs it."),
        (
            "warning",
            "cell-error",
            "Cases!R19",
            'Owner holds the spreadsheet error "#N/A"; fix the formula or type the value.',
        ),
        (
            "warning",
            "formula-no-result",
            "Cases!R20",
            "Owner is a formula with no saved result; open and save the workbook in Excel.",
        ),
        (
            "warning",
            "formula-no-result",
            "Cases!S20",
            "Summary is a formula with no saved result; open and save the workbook in Excel.",
        ),
        (
            "warning",
            "status-turn-mismatch",
            "Cases!F21",
            'Status "Needs your attention" says the reply is ours, but Last Reply At is empty or before Last Sent At; caseloop follows Status: fill Last Reply At with when Amazon last answered.',
        ),
        (
            "warning",
            "status-turn-mismatch",
            "Cases!F22",
            'Status "Pending Amazon action" says Amazon is working on it, but Last Sent At is before Last Reply At; caseloop follows Status: fill Last Sent At with when we last wrote to Amazon.',
        ),
        (
            "warning",
            "promised-before-opened",
            "Cases!U23",
            'Promised By "2026-11-18 18:00" is before Opened At "2026-11-20 16:00"; check the date (the channel\'s reply target is used meanwhile).',
        ),
        (
            "warning",
            "totals-row",
            "Cases!A24",
            'Row 24 is a totals line ("合计"), not a case; caseloop does not count it.',
        ),
    ]
    assert {p[1] for p in found} | {"resolved-at-missing"} == set(CATALOGUE)


def test_a_closed_case_without_a_resolved_column_names_its_status_cell():
    g = grid([case(Status="Closed")], headers=[h for h in HEADERS if h != "Resolved At"])
    found = [(p.severity, p.code, p.cell, p.message) for p in frame_of(g).problems]
    assert found == [
        (
            "error",
            "resolved-at-missing",
            "Cases!F2",
            "Status is Closed but the tab has no Resolved At column; add one with when it was closed.",
        ),
    ]


def _problem_codes_in_code() -> dict[str, list[str]]:
    """Every code given to problem() or a column's problem()/problems() in caseloop's source."""
    used: dict[str, list[str]] = {}
    root = Path(caseloop.__file__).parent
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            first = node.args[0]
            if name in ("problem", "problems") and isinstance(first, ast.Constant):
                used.setdefault(first.value, []).append(f"{path.name}:{node.lineno}")
    return used


def test_every_problem_code_in_the_code_is_in_the_catalogue():
    used = _problem_codes_in_code()
    assert len(used) >= 20  # the scan finds the codes (it would pass vacuously otherwise)
    assert {code: where for code, where in used.items() if code not in CATALOGUE} == {}
    assert sorted(set(CATALOGUE) - set(used)) == []


def test_problems_are_built_only_through_the_catalogue():
    root = Path(caseloop.__file__).parent
    direct = []
    for path in sorted(root.rglob("*.py")):
        if path.name in ("errors.py", "problems.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Problem":
                direct.append(f"{path.relative_to(root)}:{node.lineno}")
    assert direct == []


def test_every_catalogue_entry_has_an_english_template_and_every_template_an_entry():
    templates = load_labels().raw[LABEL_GROUP]
    keys = [key for entry in CATALOGUE.values() for key in entry.templates]
    assert [k for k in keys if not (templates.get(k) or {}).get("en")] == []
    assert sorted(set(templates) - set(keys)) == []
    # A template names the fields it is filled with, never the problem's own cell.
    for key in keys:
        fields = template_fields(templates[key]["en"])
        assert "cell" not in fields, key


def test_a_missing_template_field_fails_loudly():
    with pytest.raises(TemplateFieldError, match=r'"not_a_date" names \{value\}'):
        problem("not-a-date", "Cases!G2", row=2, column="Opened At")
    with pytest.raises(KeyError):
        problem("no-such-code", "Cases!G2", column="Opened At")
    with pytest.raises(KeyError, match="no wording"):
        problem("pattern", "Cases!N2", column="Order ID", value='"1"', variant="nope")


def test_severity_comes_from_the_catalogue():
    p = problem("formula-no-result", "Cases!R2", row=2, column="Owner", required=False)
    assert (p.severity, p.code, p.row, p.column) == ("warning", "formula-no-result", 2, "Owner")
    assert (
        p.message == "Owner is a formula with no saved result; open and save the workbook in Excel."
    )
    assert problem("formula-no-result", "Cases!S2", column="Summary").severity == "error"


def _schema_with(tmp_path: Path, change) -> Path:
    data = json.loads(DEFAULT_SCHEMA.read_text(encoding="utf-8"))
    change({f["name"]: f for f in data["fields"]})
    target = tmp_path / "schema.json"
    target.write_text(json.dumps(data), encoding="utf-8")
    load_schema.cache_clear()
    return target


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda fields: fields["Opened At"].pop("role"),
            'no field has the role "opened"; caseloop needs it on one field of type datetime',
        ),
        (
            lambda fields: fields["Deadline"].update(role="resolved"),
            '"Resolved At" and "Deadline" have the role "resolved"; caseloop needs it on one',
        ),
        (
            lambda fields: (
                fields["Summary"].update(role="opened") or fields["Opened At"].pop("role")
            ),
            '"Summary" has the role "opened"; caseloop needs it on one field of type datetime',
        ),
        (
            lambda fields: fields["Owner"].update(role="owner"),
            'fields[18] ("Owner").role is "owner"; caseloop knows the roles case-id, opened',
        ),
    ],
)
def test_the_roles_the_checks_use_come_from_the_schema(tmp_path, change, expected):
    target = _schema_with(tmp_path, change)
    try:
        with pytest.raises(CaseloopError) as caught:
            load_schema(target)
    finally:
        load_schema.cache_clear()
    assert caught.value.message.startswith(f"{target}: {expected}")


def test_a_schema_written_before_roles_gets_them_by_the_core_names(tmp_path):
    def strip_roles(fields):
        for field in fields.values():
            field.pop("role", None)

    target = _schema_with(tmp_path, strip_roles)
    try:
        loaded = load_schema(target)
        default = load_schema(DEFAULT_SCHEMA)
    finally:
        load_schema.cache_clear()
    assert {f.name: f.role for f in loaded.fields} == {f.name: f.role for f in default.fields}
