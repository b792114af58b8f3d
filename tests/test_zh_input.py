"""What a Shenzhen team really types in its case log: Chinese labels, headers, dates and layout."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from google.oauth2.credentials import Credentials

from caseloop.backends.gsheets import open_google_workbook
from caseloop.backends.xlsx import read as xlsx_read
from caseloop.backends.xlsx.workbook import ExcelWorkbook
from caseloop.cli import main
from caseloop.config import load_labels, load_rules
from caseloop.datafiles import DEFAULT_RULES
from caseloop.engine import Settings, close, judge, load
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
    assert zh and text == "问题类型填的「物流」可能指FBA货件或订单与退货；请改成其中一个。"


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


# --- the Done-when: a copy of the zh sample as a Shenzhen team really types it --------------------

SAMPLE_ZH = Path(__file__).resolve().parents[1] / "sample_data" / "case_log_zh.xlsx"
SAMPLE_NOW = "2026-11-20T18:00"
RENAMED_HEADERS = {
    "案例编号": "Case号",
    "提交时间": "开case时间",
    "站点": "国家",
    "负责人": "跟进人",
    "回复摘要": "亚马逊回复",
    "最近跟进时间": "我方最近发送时间",
    "首次回复时间": "亚马逊首次回复时间",
}
# Per column, the values a team types instead, taken in turn (the same value where a list ends
# with it, so the clean forms stay among them).
TYPED_INSTEAD = {
    "状态": {"处理中": ["跟进中", "待处理"], "已解决": ["已完结"]},
    "联系渠道": {"工单": ["后台", "开case", "工单"], "邮件": ["邮箱"]},
    "问题类型": {"账户健康": ["账号"], "品牌注册": ["品牌备案"]},
    "优先级": {"高": ["紧急"], "中": ["一般"]},
    "国家": {
        "美国": ["US站", "Amazon.com", "亚马逊美国", "美国"],
        "英国": ["uk站", "amazon.co.uk"],
        "日本": ["amazon.co.jp", "亚马逊日本"],
        "德国": [".de", "德国站"],
    },
}
DATE_HEADERS = ("开case时间", "我方最近发送时间", "亚马逊首次回复时间", "最近回复时间", "解决时间")


def _typed_date(when: dt.datetime, turn: int) -> str:
    """A Beijing time as a team types it: without a year, with 上午/下午/晚上, day first, or in
    the marketplace's PST."""
    half_day = "上午" if when.hour < 12 else "下午" if when.hour < 18 else "晚上"
    clock12 = when.hour if when.hour <= 12 else when.hour - 12
    forms = [
        f"{when.month}月{when.day}日 {when:%H:%M}",
        # 8/12 could be either (refused, as 03/04/2026 is); 11/20 cannot.
        f"{when.month}/{when.day} {when.hour}:{when:%M}"
        if when.day > 12
        else f"{when.month}月{when.day}号 {when.hour}点{when:%M}",
        f"{when:%Y/%m/%d} {half_day}{clock12}:{when:%M}",
        f"{(when - dt.timedelta(hours=16)):%Y-%m-%d %H:%M} PST",
    ]
    if when.day > 12:
        forms.append(f"{when:%d/%m/%Y %H:%M}")
    return forms[turn % len(forms)]


def messy_zh_copy(path: Path) -> Path:
    """The zh sample with every entry issue 11 lists typed the way teams type them."""
    book = openpyxl.load_workbook(SAMPLE_ZH)
    sheet = book["案例"]
    header_row = 4
    for cell in sheet[header_row]:
        cell.value = RENAMED_HEADERS.get(cell.value, cell.value)
    col = {cell.value: cell.column for cell in sheet[header_row]}
    turns: dict[str, int] = {}
    logistics_done = False
    for r in range(header_row + 1, sheet.max_row + 1):
        for header, swaps in TYPED_INSTEAD.items():
            cell = sheet.cell(r, col[header])
            if cell.value in swaps:
                n = turns[header] = turns.get(header, -1) + 1
                cell.value = swaps[cell.value][n % len(swaps[cell.value])]
        follow = sheet.cell(r, col["跟进次数"])
        if isinstance(follow.value, int) and follow.value > 0:
            follow.value = f"{follow.value}次" if r % 2 else f"{follow.value} 次"
        for header in DATE_HEADERS:
            cell = sheet.cell(r, col[header])
            if isinstance(cell.value, dt.datetime) and (r + col[header]) % 2:
                n = turns["date"] = turns.get("date", -1) + 1
                cell.value = _typed_date(cell.value, n)
        # 物流 on a resolved FBA shipment case: a warning asking which, the flag unchanged.
        category = sheet.cell(r, col["问题类型"])
        resolved = sheet.cell(r, col["状态"]).value == "已完结"
        if not logistics_done and category.value == "FBA货件" and resolved:
            category.value = "物流"
            logistics_done = True
    assert logistics_done
    last = sheet.max_row
    # The header again in the middle, as after pasting a block from another file.
    middle = 70
    sheet.insert_rows(middle)
    for c, cell in enumerate(sheet[header_row], start=1):
        sheet.cell(middle, c).value = cell.value
    last += 1
    # Category and Owner merged over two cases that share them.
    merged = {"问题类型": False, "跟进人": False}
    for header in merged:
        c = col[header]
        for r in range(middle + 1, last):
            top, below = sheet.cell(r, c).value, sheet.cell(r + 1, c).value
            if top is not None and top == below and top != "物流":
                sheet.merge_cells(start_row=r, start_column=c, end_row=r + 1, end_column=c)
                merged[header] = True
                break
    assert all(merged.values())
    # A totals line under the cases.
    sheet.cell(last + 1, col["Case号"]).value = "合计"
    sheet.cell(last + 1, col["问题描述"]).value = f"{last - header_row - 1} 个案例"
    sheet.cell(last + 1, col["跟进次数"]).value = 134
    book.save(path)
    return path


def _validated(log: Path) -> dict:
    result = CliRunner().invoke(
        main, ["validate", str(log), "--now", SAMPLE_NOW, "--format", "json"]
    )
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.output)


def _flags(log: Path) -> dict[str, str]:
    settings = Settings(log=str(log), now=SAMPLE_NOW)
    loaded = load(settings)
    try:
        judged = judge(loaded, settings)
    finally:
        close(loaded.workbook)
    return dict(zip(judged["Case ID"], judged["flag"], strict=True))


def test_the_messy_zh_sample_validates_and_syncs_like_the_clean_one(tmp_path):
    messy = messy_zh_copy(tmp_path / "case_log_zh_messy.xlsx")
    typed_cells = [
        str(v) for row in openpyxl.load_workbook(messy)["案例"].iter_rows(values_only=True)
        for v in row if v is not None
    ]  # fmt: skip
    listed = [
        "已回复", "跟进中", "已完结", "待处理", "后台", "邮箱", "账号", "品牌备案", "紧急", "一般",
        "2次", "US站", "uk站", "Amazon.com", "amazon.co.uk", "亚马逊美国", "物流", "合计",
    ]  # fmt: skip
    assert [word for word in listed if word not in typed_cells] == []
    for form in (
        r"^\d+月\d+日 ",
        r"^\d+/\d+ ",
        "上午",
        "下午",
        "晚上",
        " PST$",
        r"^\d\d/\d\d/2026",
    ):
        assert any(re.search(form, v) for v in typed_cells), form
    clean, typed = _validated(SAMPLE_ZH), _validated(messy)
    assert typed["cases"] == clean["cases"]
    # No error from what the team typed: only the sample's own two broken rows (worded with
    # the messy copy's own headers, e.g. 开case时间, so compared by code and column).
    assert [(e["code"], e["column"]) for e in typed["errors"]] == [
        (e["code"], e["column"]) for e in clean["errors"]
    ]
    # Warnings: the sample's own, plus 物流 asking which and the totals line, once each.
    before = [(w["code"], w["column"]) for w in clean["warnings"]]
    after = [(w["code"], w["column"]) for w in typed["warnings"]]
    assert sorted(after) == sorted([*before, ("ambiguous-value", "Category"), ("totals-row", None)])
    assert _flags(messy) == _flags(SAMPLE_ZH)
