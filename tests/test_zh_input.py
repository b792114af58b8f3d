"""What a Shenzhen team really types in its case log: Chinese labels, headers, dates and layout."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from caseloop.config import load_labels, load_rules
from caseloop.datafiles import DEFAULT_RULES
from caseloop.frame import build_frame
from caseloop.ports import Grid
from caseloop.problems import CATALOGUE, render
from caseloop.schema import load_schema

from caselog import HEADERS, NOW, case, grid

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
