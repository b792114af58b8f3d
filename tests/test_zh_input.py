"""What a Shenzhen team really types in its case log: Chinese labels, headers, dates and layout."""

from __future__ import annotations

import datetime as dt

import openpyxl
import pandas as pd
import pytest
from google.oauth2.credentials import Credentials

from caseloop.backends.gsheets import open_google_workbook
from caseloop.backends.xlsx import read as xlsx_read
from caseloop.backends.xlsx.workbook import ExcelWorkbook
from caseloop.config import load_labels, load_rules
from caseloop.datafiles import DEFAULT_RULES
from caseloop.frame import build_frame
from caseloop.ports import Grid
from caseloop.problems import CATALOGUE, render
from caseloop.schema import load_schema

from caselog import HEADERS, NOW, case, grid
from fakesheets import fake_client_class

pytest_plugins = ["fakesheets.fixtures"]

SCHEMA, RULES = load_schema(), load_rules()
AS_OF = pd.Timestamp(NOW)


def frame_of(g: Grid):
    return build_frame(g, SCHEMA, RULES, AS_OF)


def read_one(**values):
    f = frame_of(grid([case(**values)]))
    return f.cases.iloc[0], f.problems


# --- labels --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "typed", "canonical"),
    [
        ("Status", "跟进中", "Open"),
        ("Status", "待处理", "Open"),
        ("Status", "已完结", "Resolved"),
        ("Channel", "后台", "Case"),
        ("Channel", "开case", "Case"),
        ("Channel", "邮箱", "Email"),
        ("Category", "账号", "Account health"),
        ("Category", "品牌备案", "Brand Registry"),
        ("Priority", "紧急", "High"),
        ("Priority", "一般", "Normal"),
        ("Marketplace", "US站", "US"),
        ("Marketplace", "uk站", "UK"),
        ("Marketplace", "美国站", "US"),
        ("Marketplace", "Amazon.com", "US"),
        ("Marketplace", "amazon.co.uk", "UK"),
        ("Marketplace", "www.amazon.co.jp", "JP"),
        ("Marketplace", "amazon.co.jp", "JP"),
        ("Marketplace", ".de", "DE"),
        ("Marketplace", "亚马逊美国", "US"),
        ("Marketplace", "亚马逊日本站", "JP"),
        ("Marketplace", "Amazon UK", "UK"),
    ],
)
def test_chinese_and_domain_labels_read_as_their_value(column, typed, canonical):
    extra = {"Resolved_At": NOW - dt.timedelta(hours=1), "Resolution": "Fixed"}
    values = {column.replace(" ", "_"): typed, **(extra if canonical == "Resolved" else {})}
    row, problems = read_one(**values)
    assert row[column] == canonical
    assert [p for p in problems if p.column == column] == []


def test_answered_in_chinese_is_a_seller_central_label_of_our_turn():
    # 已回复 is Seller Central's "Answered": the case is Open and the reply is ours.
    assert RULES.status_label_vocab["已回复"] == "Answered"
    assert RULES.status_label_turns["Answered"] == "us"
    sent = NOW - dt.timedelta(hours=5)
    reply = NOW - dt.timedelta(hours=3)
    row, problems = read_one(
        Status="已回复",
        Opened_At=sent,
        Last_Sent_At=sent,
        First_Reply_At=reply,
        Last_Reply_At=reply,
    )
    assert row["status_label"] == "Answered"
    assert problems == []


def test_to_be_handled_is_plain_open_whose_turn_the_timestamps_tell():
    row, _ = read_one(Status="待处理")
    assert row["Status"] == "Open"
    assert row["status_label"] is None


def test_logistics_asks_which_category_and_is_judged_with_the_default():
    row, problems = read_one(Category="物流")
    assert row["Category"] is None
    [p] = problems
    assert (p.code, p.severity, p.cell) == ("ambiguous-value", "warning", "Cases!C2")
    assert p.message == (
        'Category "物流" could mean FBA shipment (FBA货件) or Orders & returns (订单与退货); '
        "type the one you mean."
    )
    assert row["_defaults"] == ("Category",)


def test_logistics_is_an_fba_shipment_when_the_team_says_so(tmp_path):
    # A team that ships everything through FBA adds 物流 to the category's aliases.
    team = tmp_path / "rules.yaml"
    source = DEFAULT_RULES.read_text(encoding="utf-8")
    assert "aliases: [FBA物流, 发货" in source
    team.write_text(
        source.replace("aliases: [FBA物流, 发货", "aliases: [物流, FBA物流, 发货"), encoding="utf-8"
    )
    f = build_frame(grid([case(Category="物流")]), SCHEMA, load_rules(team), AS_OF)
    assert f.cases.iloc[0]["Category"] == "FBA shipment"
    assert f.problems == []


def test_the_ambiguous_warning_has_a_chinese_sentence():
    labels = load_labels()
    entry = CATALOGUE["ambiguous-value"]
    zh = labels.raw["problems"][entry.template]["zh"]
    text = render(
        entry.template,
        {
            "column": "问题类型",
            "value": "「物流」",
            "choices": "x",
            "choices_zh": "FBA货件或订单与退货",
        },
        "zh",
    )
    assert zh and text == "问题类型「物流」可能指FBA货件或订单与退货，请改成其中一个。"


def test_an_unknown_marketplace_lists_the_chinese_names_it_accepts():
    _, problems = read_one(Marketplace="火星站")
    [p] = problems
    assert p.message.startswith('Marketplace "火星站" is not one of: US (美国), CA (加拿大), ')


# --- headers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "field"),
    [
        ("Case号", "Case ID"),
        ("case 号", "Case ID"),
        ("开case时间", "Opened At"),
        ("提交日期", "Opened At"),
        ("国家", "Marketplace"),
        ("跟进人", "Owner"),
        ("亚马逊回复", "Amazon Response"),
        ("亚马逊回复摘要", "Amazon Response"),
        ("我方最近发送时间", "Last Sent At"),
        ("亚马逊首次回复时间", "First Reply At"),
        ("亚马逊最近回复时间", "Last Reply At"),
    ],
)
def test_chinese_headers_teams_use(typed, field):
    headers = [*HEADERS, "Amazon Response"]
    labels = [SCHEMA.field(h).zh for h in headers]
    labels[headers.index(field)] = typed
    f = frame_of(grid([case(**{"Amazon Response": "已补充发票"})], headers=headers, labels=labels))
    assert f.columns[field] == headers.index(field)
    assert f.ignored_headers == []
    assert f.problems == []


# --- Follow-ups ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "count"), [("2次", 2), ("2 次", 2), ("３次", 3), ("0次", 0)])
def test_follow_ups_typed_with_a_count_word(typed, count):
    row, problems = read_one(Follow_ups=typed)
    assert problems == []
    assert row["Follow-ups"] == count


@pytest.mark.parametrize("typed", ["见备注", "2次半", "次", "两次"])
def test_follow_ups_that_are_still_not_a_count(typed):
    _, problems = read_one(Follow_ups=typed)
    assert [p.code for p in problems] == ["not-a-number"]


# --- dates ---------------------------------------------------------------------------------------


def opened(text: str, now: dt.datetime = NOW):
    """Opened At read from ``text`` as of ``now``: the time and the problem codes."""
    c = case(Opened_At=text)
    f = build_frame(grid([c]), SCHEMA, RULES, pd.Timestamp(now))
    return f.cases.iloc[0]["Opened At"], [p.code for p in f.problems]


@pytest.mark.parametrize(
    ("typed", "now", "expected"),
    [
        # Without a year: the most recent such date not after now + 1 day.
        ("11/20", NOW, dt.datetime(2026, 11, 20)),
        ("11月20日 14:00", NOW, dt.datetime(2026, 11, 20, 14, 0)),
        ("11月20号 9:05", NOW, dt.datetime(2026, 11, 20, 9, 5)),
        ("11/19 17:30", NOW, dt.datetime(2026, 11, 19, 17, 30)),
        ("12/30", NOW, dt.datetime(2025, 12, 30)),
        ("12月31日 23:00", dt.datetime(2027, 1, 1, 8, 0), dt.datetime(2026, 12, 31, 23, 0)),
        # 上午, 下午, 晚上 and the like, and AM / PM.
        ("2026/11/20 上午9:30", NOW, dt.datetime(2026, 11, 20, 9, 30)),
        ("2026/11/20 下午2:30", NOW, dt.datetime(2026, 11, 20, 14, 30)),
        ("2026/11/19 晚上9点", NOW, dt.datetime(2026, 11, 19, 21, 0)),
        ("2026年11月20日下午3点半", NOW, dt.datetime(2026, 11, 20, 15, 30)),
        ("2026-11-20 下午12:10", NOW, dt.datetime(2026, 11, 20, 12, 10)),
        ("2026-11-20 中午12点", NOW, dt.datetime(2026, 11, 20, 12, 0)),
        ("2026/11/20 凌晨1:15", NOW, dt.datetime(2026, 11, 20, 1, 15)),
        ("2026-11-20 下午14:00", NOW, dt.datetime(2026, 11, 20, 14, 0)),
        ("2026-11-20 2:30 PM", NOW, dt.datetime(2026, 11, 20, 14, 30)),
        ("2026-11-20 12:30am", NOW, dt.datetime(2026, 11, 20, 0, 30)),
        ("11月20日 上午10点", NOW, dt.datetime(2026, 11, 20, 10, 0)),
        ("2026-11-20 14点", NOW, dt.datetime(2026, 11, 20, 14, 0)),
        # Marketplace time zones, moved to the team's (Asia/Shanghai).
        ("2026-11-19 09:00 PST", NOW, dt.datetime(2026, 11, 20, 1, 0)),
        ("2026-11-19 09:00 PDT", NOW, dt.datetime(2026, 11, 20, 0, 0)),
        ("2026-11-19 09:00 EST", NOW, dt.datetime(2026, 11, 19, 22, 0)),
        ("2026-11-19 09:00 EDT", NOW, dt.datetime(2026, 11, 19, 21, 0)),
        ("2026-11-19 09:00 GMT", NOW, dt.datetime(2026, 11, 19, 17, 0)),
        ("2026-11-19 09:00 BST", NOW, dt.datetime(2026, 11, 19, 16, 0)),
        ("2026-11-19 09:00 CET", NOW, dt.datetime(2026, 11, 19, 16, 0)),
        ("2026-11-19 09:00 CEST", NOW, dt.datetime(2026, 11, 19, 15, 0)),
        ("2026-11-19 09:00 JST", NOW, dt.datetime(2026, 11, 19, 8, 0)),
        ("2026-11-19 09:00 AEST", NOW, dt.datetime(2026, 11, 19, 7, 0)),
        ("2026-11-19 09:00 AEDT", NOW, dt.datetime(2026, 11, 19, 6, 0)),
        ("2026-11-19 09:00 北京时间", NOW, dt.datetime(2026, 11, 19, 9, 0)),
        ("2026-11-19 09:00（北京时间）", NOW, dt.datetime(2026, 11, 19, 9, 0)),
        ("2026-11-19 9:00 pst", NOW, dt.datetime(2026, 11, 20, 1, 0)),
        ("2026-11-19 下午3点 PST", NOW, dt.datetime(2026, 11, 20, 7, 0)),
        ("11/19 09:00 JST", NOW, dt.datetime(2026, 11, 19, 8, 0)),
        # A day-first (or month-first) date is read when one of the two cannot be a month.
        ("20/11/2026", NOW, dt.datetime(2026, 11, 20)),
        ("19/11/2026 09:30", NOW, dt.datetime(2026, 11, 19, 9, 30)),
        ("11/19/2026 09:30", NOW, dt.datetime(2026, 11, 19, 9, 30)),
        ("05/05/2026", NOW, dt.datetime(2026, 5, 5)),
        ("19/11", NOW, dt.datetime(2026, 11, 19)),
        # What was read before still is.
        ("2026-11-20 09:30", NOW, dt.datetime(2026, 11, 20, 9, 30)),
        ("2026年11月20日9时30分", NOW, dt.datetime(2026, 11, 20, 9, 30)),
        ("2026/11/20T9:30:15+08:00", NOW, dt.datetime(2026, 11, 20, 9, 30, 15)),
    ],
)
def test_date_forms_teams_type(typed, now, expected):
    value, problems = opened(typed, now)
    assert problems == []
    assert value == pd.Timestamp(expected)


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("03/04/2026", "ambiguous-date"),
        ("3/4", "ambiguous-date"),
        ("13/13/2026", "not-a-date"),
        ("2026/11/20 上午13:00", "not-a-date"),
        ("2026/11/20 下午25:00", "not-a-date"),
        ("2026-11-19 09:00 CST", "not-a-date"),  # China, Central US or Cuba: no guess
        ("2月30日", "not-a-date"),
        ("2026-11-20 9", "not-a-date"),
    ],
)
def test_date_forms_still_refused(typed, code):
    value, problems = opened(typed)
    assert problems == [code]
    assert pd.isna(value)


def test_an_event_without_a_year_a_day_ahead_is_this_year_and_in_the_future():
    # Not last year's 21 November: a day of slack for clocks and time zones, then named.
    value, problems = opened("11/21 09:00")
    assert value == pd.Timestamp(2026, 11, 21, 9)
    assert problems == ["in-future"]
    value, problems = opened("1/1", dt.datetime(2026, 12, 31, 8, 0))
    assert value == pd.Timestamp(2027, 1, 1)
    assert problems == ["in-future"]
    value, problems = opened("11/22")
    assert value == pd.Timestamp(2025, 11, 22)


def test_a_deadline_without_a_year_is_the_next_one():
    # Deadlines and promises look ahead: typed on 11/20, 11/25 is this year's, 1/15 next year's.
    f = frame_of(
        grid(
            [case(Deadline="11/25 12:00"), case(Deadline="1/15"), case(Deadline="11/13")],
        )
    )
    assert f.cases["Deadline"].tolist() == [
        pd.Timestamp(2026, 11, 25, 12),
        pd.Timestamp(2027, 1, 15),
        pd.Timestamp(2026, 11, 13),
    ]
    assert f.problems == []


# --- layout: merged cells ------------------------------------------------------------------------


def merged_log(path):
    """A real workbook (openpyxl) whose Category spans rows 2-3 and Owner rows 3-5, as teams
    merge them, with the covered cells empty in the file."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Cases"
    sheet.append(HEADERS)
    categories = ["收款", None, "广告", "商品"]  # the second is under the first's merge
    owners = ["Chen Jing", "Li Wei", None, None]  # the last two are under the second's
    for category, owner in zip(categories, owners, strict=True):
        c = case(Category=category, Owner=owner)
        sheet.append([c.get(h) for h in HEADERS])
    sheet.merge_cells("C2:C3")  # Category of the first two cases
    sheet.merge_cells("R3:R5")  # Owner of cases two to four
    book.save(path)
    return path


@pytest.mark.parametrize("stream", [False, True])
def test_merged_cells_read_as_their_top_left_value_in_excel(tmp_path, stream):
    path = merged_log(tmp_path / "merged.xlsx")
    book = ExcelWorkbook(path)
    g = xlsx_read.read_sheet(book.package, "Cases", stream=stream)
    f = frame_of(g)
    assert f.cases["Category"].tolist() == ["Payments", "Payments", "Advertising", "Listing"]
    assert f.cases["Owner"].tolist()[1:] == ["Li Wei", "Li Wei", "Li Wei"]
    assert [p for p in f.problems if p.column in ("Category", "Owner")] == []


def test_merged_cells_of_the_header_and_elsewhere_do_not_spill(tmp_path):
    # A title merged over A1:H1 above the header fills only its own row.
    path = tmp_path / "title.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Cases"
    sheet.append(["深圳团队案例记录"])
    sheet.merge_cells("A1:H1")
    sheet.append(HEADERS)
    sheet.append([case().get(h) for h in HEADERS])
    book.save(path)
    f = frame_of(ExcelWorkbook(path).read_tab("Cases"))
    assert f.header_row == 2 and len(f.cases) == 1
    assert f.problems == []


def test_merged_cells_read_as_their_top_left_value_on_google(fake_sheets):
    key = "1MergedCellsKey0123456789abcdefghijklmnopqrs"
    book = fake_sheets.add_spreadsheet(key, timezone="Asia/Shanghai")
    rows = [HEADERS]
    for n, category in enumerate(["收款", None, "广告"]):
        c = case(Opened_At=NOW - dt.timedelta(hours=3 + n), Category=category)
        c["Owner"] = "Wang Fang" if n == 0 else None
        rows.append([c.get(h) for h in HEADERS])
    sheet = book.add_sheet("Cases", rows)
    owner = HEADERS.index("Owner")
    sheet.merges.append(
        {"sheetId": sheet.sheet_id, "startRowIndex": 1, "endRowIndex": 3,
         "startColumnIndex": 2, "endColumnIndex": 3}
    )  # fmt: skip
    sheet.merges.append(
        {"sheetId": sheet.sheet_id, "startRowIndex": 1, "endRowIndex": 4,
         "startColumnIndex": owner, "endColumnIndex": owner + 1}
    )  # fmt: skip
    workbook = open_google_workbook(
        f"gsheet:{key}",
        http_client=fake_client_class(fake_sheets.url),
        credentials_object=Credentials(token="test"),
    )
    f = frame_of(workbook.read_tab("Cases"))
    assert f.cases["Category"].tolist() == ["Payments", "Payments", "Advertising"]
    assert f.cases["Owner"].tolist() == ["Wang Fang"] * 3
    # The merges come with the metadata already fetched: no request more than before.
    assert workbook.requests_made == 2


# --- layout: repeated header, totals -------------------------------------------------------------


def test_a_chinese_header_repeated_mid_log_is_skipped_silently():
    labels = [SCHEMA.field(h).zh for h in HEADERS]
    labels[0], labels[6] = "Case号", "开case时间"
    g = grid([case(), case()], labels=labels)
    g.rows.insert(2, list(labels))
    f = frame_of(g)
    assert f.problems == []
    assert f.cases["_row"].tolist() == [2, 4]


@pytest.mark.parametrize("first", ["合计", "合计：", "合计: 2", "总计", "小计", "Total", "TOTAL:"])
def test_a_totals_row_is_skipped_with_one_line(first):
    totals = {"Case ID": first, "Follow-ups": 3, "Summary": "2 个案例"}
    f = frame_of(grid([case(), case(), totals]))
    assert len(f.cases) == 2
    [p] = f.problems
    assert (p.code, p.severity, p.cell) == ("totals-row", "warning", "Cases!A4")


def test_the_totals_line_has_a_chinese_sentence():
    key = CATALOGUE["totals-row"].template
    text = render(key, {"row_number": 140, "value": "「合计」"}, "zh")
    assert text == "第 140 行是合计行（「合计」），不是案例，不计入。"
