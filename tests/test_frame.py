"""Reading the Cases tab: header detection, aliases, every date form, Case IDs, problems."""

import datetime as dt

import pandas as pd
import pytest

from caseloop.config import load_rules, load_schema
from caseloop.errors import CaseloopError
from caseloop.frame import build_frame
from caseloop.ports import CellError, Grid

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
        ("31/02/2026", "ambiguous-date"),
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
    (p,) = f.errors
    assert p.cell == "Cases!D4"
    assert "Case (工单), Phone (电话), Chat (在线聊天), Email (邮件)" in p.message


def test_required_values_and_resolved_at_when_resolved():
    f = frame_of(grid([case(Summary=None), case(Status="Resolved")]))
    assert [(p.code, p.cell) for p in f.errors] == [
        ("required", "Cases!S2"),
        ("resolved-at-missing", "Cases!L3"),
    ]


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
    assert [(p.code, p.cell) for p in f.errors] == [
        ("not-a-number", "Cases!K2"),
        ("below-minimum", "Cases!K3"),
    ]
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
    assert f.problems == []
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
