"""The alert texts: a sync's digest, the first run's line, quiet hours, owner mentions, the
weekly digest, and the rules that steer them (notify.on, quiet_hours, owners)."""

import copy
import dataclasses
import datetime as dt
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from caseloop.alerts import (
    Alert,
    first_run_digest,
    in_quiet_hours,
    quiet_until,
    split_message,
    split_quiet,
    sync_digest,
    weekly_digest,
)
from caseloop.config import DEFAULT_NOTIFY_ON, FLAG_ORDER, load_labels, load_rules
from caseloop.datafiles import DEFAULT_RULES
from caseloop.engine import Settings, close, load, weekly
from caseloop.errors import CaseloopError

SAMPLE = Path(__file__).parents[1] / "sample_data"
RULES = load_rules()
LABELS = load_labels()
DEFAULT = yaml.safe_load(DEFAULT_RULES.read_text(encoding="utf-8"))
DUE = dt.datetime(2026, 11, 21, 9, 0)


def alert(flag="OVERDUE", case_id="17344950200", **values):
    fields = {
        "store": "Velden Kitchen",
        "marketplace": "FR",
        "category": "Orders & returns",
        "owner": "Zhang Min",
        "action": "Follow up on the case, or request a phone callback; reopen it rather than "
        "open a duplicate.",
        "due": DUE,
    }
    fields.update(values)
    return Alert(flag=flag, case_id=case_id, **fields)


def rules_with(tmp_path: Path, **settings) -> object:
    """The default rules with top-level settings replaced, loaded the way caseloop loads them."""
    data = copy.deepcopy(DEFAULT)
    data.pop(True, None)  # PyYAML reads notify's key on as true; the test writes its own
    data.update(settings)
    path = tmp_path / f"rules-{len(list(tmp_path.iterdir()))}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return load_rules(path)


def digest(alerts, lang="en", **kw):
    return sync_digest(
        alerts, lang=lang, link="out/case_log.xlsx", rules=RULES, labels=LABELS, **kw
    )


# --- the sync digest ---------------------------------------------------------------------------


def test_each_line_names_flag_case_store_marketplace_category_owner_action_and_due():
    [message] = digest([alert()])
    line = next(line for line in message.splitlines() if "17344950200" in line)
    assert line == (
        "- **OVERDUE** · 17344950200 · Velden Kitchen (FR) · Orders & returns · Zhang Min · "
        "Follow up on the case, or request a phone callback · due 2026-11-21 09:00"
    )
    assert message.startswith("**caseloop: 1 case(s) to act on**")
    assert message.endswith("Status tab: out/case_log.xlsx")


def test_a_deadline_line_says_deadline_and_a_case_without_owner_says_so():
    [message] = digest(
        [alert("DEADLINE", owner=None, store=None, action="Act before the deadline.")]
    )
    assert "- **DEADLINE** · 17344950200 · FR · Orders & returns · no owner · " in message
    assert message.splitlines()[2].endswith("· Act before the deadline · deadline 2026-11-21 09:00")


def test_lines_are_grouped_by_flag_worst_first_in_the_rules_order():
    flags = ["OUR TURN", "REOPEN", "DEADLINE", "OVERDUE", "ESCALATE", "DEADLINE", "DUPLICATE"]
    alerts = [alert(f, case_id=str(17300000000 + i)) for i, f in enumerate(flags)]
    [message] = digest(alerts)
    shown = re.findall(r"^- \*\*([A-Z ]+)\*\*", message, flags=re.M)
    assert shown == sorted(flags, key=FLAG_ORDER.index)
    # A blank line between two flags, none inside one.
    body = message.split("\n\n", 1)[1].rsplit("\n\n", 1)[0]
    groups = [g.splitlines() for g in body.split("\n\n")]
    assert [len(g) for g in groups] == [2, 1, 1, 1, 1, 1]


def test_plain_markdown_without_tables():
    messages = digest([alert(f, case_id=str(17300000000 + i)) for i, f in enumerate(FLAG_ORDER)])
    for message in messages:
        assert "|" not in message and not re.search(r"^\s*[-:]{3,}\s*$", message, flags=re.M)


def test_only_the_flags_of_notify_on_are_sent_and_nothing_means_no_message():
    assert set(DEFAULT_NOTIFY_ON) == set(RULES.notify_on)
    quiet = [alert(f) for f in ("NEEDS INFO", "DUE SOON", "ON TRACK", "RESOLVED")]
    assert digest(quiet) == []
    assert digest([]) == []
    [message] = digest([*quiet, alert("ESCALATE", case_id="17338085060")])
    assert "17338085060" in message and "NEEDS INFO" not in message


def test_the_chinese_digest_uses_the_rules_chinese_words():
    [message] = digest([alert(), alert("DEADLINE", case_id="17347636172", marketplace="UK")], "zh")
    assert message.startswith("**caseloop：2 个案例需要处理**")
    assert (
        "- **即将截止** · 17347636172 · Velden Kitchen（英国） · 订单与退货 · Zhang Min · "
        in message
    )
    assert "- **亚马逊超时** · 17344950200 · Velden Kitchen（法国） · " in message
    assert "截止 2026-11-21 09:00" in message and "应回复 2026-11-21 09:00" in message
    assert message.endswith("状态表：out/case_log.xlsx")


def test_the_next_action_is_a_few_words():
    long = "Ask for a supervisor " + "and quote every related case " * 10
    [message] = digest([alert("ESCALATE", action=long)])
    line = message.splitlines()[2]
    action = line.split(" · ")[5]
    assert len(action) <= 80 and action.endswith("…")


# --- the size of a message ---------------------------------------------------------------------


def chinese_alerts(n):
    return [
        alert(
            FLAG_ORDER[1 + i % 6],
            case_id=str(17300000000 + i),
            store="星辰家居旗舰店" * 2,
            owner="王芳",
            category="FBA inventory",
            action="在工单上发一条简短的跟进消息，或申请电话回呼；请重开原工单，不要新开重复工单。",
        )
        for i in range(n)
    ]


def test_a_long_chinese_digest_is_split_into_messages_of_at_most_4000_bytes():
    alerts = chinese_alerts(30)
    messages = digest(alerts, "zh")
    assert len(messages) == 2
    assert all(len(m.encode("utf-8")) <= 4000 for m in messages)
    assert len(messages[0].encode("utf-8")) > 3000  # the first is filled, not cut short
    assert messages[0].startswith("**caseloop：30 个案例需要处理（1/2）**")
    assert messages[1].startswith("**caseloop：30 个案例需要处理（2/2）**")
    shown = [cid for m in messages for cid in re.findall(r"· (173\d{8}) ·", m)]
    assert sorted(shown) == sorted(a.case_id for a in alerts)  # each case once
    assert all(m.endswith("状态表：out/case_log.xlsx") for m in messages)


def test_past_three_messages_the_last_ends_with_and_n_more():
    alerts = chinese_alerts(200)
    messages = digest(alerts, "zh")
    assert len(messages) == 3
    assert all(len(m.encode("utf-8")) <= 4000 for m in messages)
    more = re.search(r"……另有 (\d+) 个，请查看状态表", messages[-1])
    assert more, messages[-1][-200:]
    shown = [cid for m in messages for cid in re.findall(r"· (173\d{8}) ·", m)]
    assert len(shown) + int(more.group(1)) == 200
    english = digest(alerts[:150], "en")
    assert re.search(r"… and \d+ more — see the Status tab", english[-1])


def test_max_bytes_is_kept_whatever_the_fields_hold():
    huge = alert(store="店" * 5000, owner="人" * 3000, action="做" * 9000)
    for max_bytes in (600, 1000, 4000):
        messages = digest([huge, *chinese_alerts(20)], "zh", max_bytes=max_bytes)
        assert messages and all(len(m.encode("utf-8")) <= max_bytes for m in messages)


def test_split_message_cuts_between_lines_for_a_smaller_service_limit():
    [message] = digest(chinese_alerts(12), "zh")
    pieces = split_message(message, 2048)
    assert len(pieces) >= 2 and all(len(p.encode("utf-8")) <= 2048 for p in pieces)
    assert "\n".join(pieces).replace("\n\n", "\n").count("· 173") == message.count("· 173")
    assert split_message("short", 2048) == ["short"]


# --- owners -----------------------------------------------------------------------------------


def test_an_owner_is_mentioned_with_the_handle_of_the_owners_map():
    owners = {"Zhang Min": "<@U012ZHANG>", "wang fang": "wangfang"}
    [message] = digest(
        [
            alert(),
            alert("ESCALATE", case_id="17339394126", owner="Wang  Fang"),
            alert("REOPEN", case_id="17320653208", owner="Emma"),
        ],
        owners=owners,
    )
    assert "· Zhang Min <@U012ZHANG> ·" in message
    assert "· Wang Fang @wangfang ·" in message  # matched ignoring case and spaces; @ added
    assert "· Emma ·" in message  # no handle: the name alone


def test_the_owners_map_comes_from_the_rules_file(tmp_path):
    rules = rules_with(tmp_path, owners={"Zhang Min": "@zhangmin"})
    assert rules.owners == {"Zhang Min": "@zhangmin"}
    [message] = sync_digest([alert()], lang="en", link="x", rules=rules, labels=LABELS)
    assert "· Zhang Min @zhangmin ·" in message


# --- quiet hours ------------------------------------------------------------------------------


def test_quiet_hours_hold_alerts_but_a_deadline_goes_through(tmp_path):
    rules = rules_with(tmp_path, quiet_hours="22:00-08:00")
    assert rules.quiet_hours == (dt.time(22, 0), dt.time(8, 0))
    alerts = [alert("OVERDUE"), alert("DEADLINE", case_id="17347636172"), alert("ESCALATE")]
    night = dt.datetime(2026, 11, 20, 23, 30)
    send, held = split_quiet(alerts, night, rules)
    assert [a.flag for a in send] == ["DEADLINE"]
    assert [a.flag for a in held] == ["OVERDUE", "ESCALATE"]
    assert quiet_until(night, rules) == dt.datetime(2026, 11, 21, 8, 0)
    early = dt.datetime(2026, 11, 21, 7, 59)
    assert split_quiet(alerts, early, rules)[1] and quiet_until(early, rules) == dt.datetime(
        2026, 11, 21, 8, 0
    )
    for awake in (dt.datetime(2026, 11, 21, 8, 0), dt.datetime(2026, 11, 21, 21, 59)):
        assert split_quiet(alerts, awake, rules) == (alerts, [])
        assert quiet_until(awake, rules) is None


def test_a_window_within_one_day_and_a_time_with_a_zone(tmp_path):
    rules = rules_with(tmp_path, quiet_hours="12:00-13:30")
    assert in_quiet_hours(dt.datetime(2026, 11, 20, 12, 45), rules)
    assert not in_quiet_hours(dt.datetime(2026, 11, 20, 13, 30), rules)
    # 04:30 UTC is 12:30 in Shanghai, the rules' time zone.
    assert in_quiet_hours(dt.datetime(2026, 11, 20, 4, 30, tzinfo=dt.UTC), rules)


def test_no_quiet_hours_by_default():
    assert RULES.quiet_hours is None
    alerts = [alert()]
    assert split_quiet(alerts, dt.datetime(2026, 11, 20, 3, 0), RULES) == (alerts, [])


# --- the rules file -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings, expected",
    [
        ({"quiet_hours": "25:00-08:00"}, 'quiet_hours is "25:00-08:00"; write the window as'),
        ({"quiet_hours": "22:00"}, 'quiet_hours is "22:00"; write the window as "22:00-08:00"'),
        ({"quiet_hours": "22:00-22:00"}, "starts and ends at the same time"),
        ({"notify": {"on": ["OVERDUE", "LATE"]}}, 'notify.on.1 is "LATE"; the flags are INVALID'),
        ({"notify": {"on": "OVERDUE"}}, 'notify.on is "OVERDUE"; write a list of flags'),
        ({"notify": {"when": ["OVERDUE"]}}, "notify.when is not a setting caseloop knows"),
        ({"owners": ["Li Lei"]}, "owners is a list; write a mapping of owners to chat handles"),
        ({"owners": {"Li Lei": ""}}, "owners.Li Lei is empty"),
    ],
)
def test_a_wrong_alert_setting_is_named(tmp_path, settings, expected):
    with pytest.raises(CaseloopError) as caught:
        rules_with(tmp_path, **settings)
    assert expected in str(caught.value)


def test_notify_on_as_written_in_the_shipped_file_and_an_empty_list(tmp_path):
    assert "on: [DEADLINE, ESCALATE, DUPLICATE, REOPEN, OVERDUE, OUR TURN, INVALID]" in (
        DEFAULT_RULES.read_text(encoding="utf-8")
    )
    assert rules_with(tmp_path, notify={"on": ["OVERDUE", "DEADLINE"]}).notify_on == (
        "DEADLINE",
        "OVERDUE",
    )
    none = rules_with(tmp_path, notify={"on": []})
    assert none.notify_on == ()
    assert sync_digest([alert()], lang="en", link="x", rules=none, labels=LABELS) == []


# --- the first run ----------------------------------------------------------------------------


def test_the_first_run_sends_one_short_line():
    counts = [("DEADLINE", 4), ("OVERDUE", 3), ("ON TRACK", 8)]
    [message] = first_run_digest(15, counts, lang="en", link="out/case_log.xlsx", labels=LABELS)
    assert message == (
        "caseloop now watches 15 open cases: DEADLINE 4, OVERDUE 3, ON TRACK 8.\n\n"
        "Status tab: out/case_log.xlsx"
    )
    [zh] = first_run_digest(3, {"即将截止": 1, "正常等待": 2}, lang="zh", link="x", labels=LABELS)
    assert zh.startswith("caseloop 开始跟踪 3 个未结案例：即将截止 1、正常等待 2。")
    [empty] = first_run_digest(0, [], lang="en", link="x", labels=LABELS)
    assert empty.startswith("caseloop now watches this case log: no open cases yet.")


# --- the weekly digest --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_report():
    settings = Settings(log=str(SAMPLE / "case_log.xlsx"), now="2026-11-20T18:00")
    loaded = load(settings)
    try:
        return weekly(loaded, settings, None)
    finally:
        close(loaded.workbook)


@pytest.mark.slow
def test_the_weekly_digest_compares_with_the_week_before(sample_report):
    [message] = weekly_digest(
        sample_report, lang="en", link="out/case_log.xlsx", rules=RULES, labels=LABELS
    )
    rows = sample_report.weeks.to_dict("records")
    this, before = rows[-1], rows[-2]
    assert message.startswith("**caseloop weekly: 2026-W46 (2026-11-09 to 2026-11-15)**")
    assert f"- Opened: {this['opened']} (week before: {before['opened']})" in message
    assert f"- Open at week end: {this['open_at_end']} (week before: {before['open_at_end']})" in (
        message
    )
    oldest = sample_report.oldest.iloc[0]
    assert "**Oldest open cases**" in message and f"- {oldest['case_id']} · " in message
    assert "**Recurring problems**" not in message  # none in the sample's week: no heading
    assert message.endswith("Weekly Summary tab: out/case_log.xlsx")
    assert "|" not in message and len(message.encode("utf-8")) <= 4000
    [zh] = weekly_digest(sample_report, lang="zh", link="x", rules=RULES, labels=LABELS)
    assert zh.startswith("**caseloop 周报：2026 年第 46 周（11/09–11/15）**")
    assert f"- 新增：{this['opened']}（上周：{before['opened']}）" in zh
    assert "**最久未结的案例**" in zh and zh.endswith("周报表：x")


@pytest.mark.slow
def test_the_weekly_digest_lists_recurring_problems_in_the_runs_language(sample_report):
    recurring = pd.DataFrame(
        [
            {
                "category": "FBA shipment",
                "key": "Shipment ID FBA15ABCDE",
                "cases": 4,
                "case_ids": "",
            },
            {"category": "Listing", "key": "ASIN B0KRRWT0N6", "cases": 3, "case_ids": ""},
        ]
    )
    report = dataclasses.replace(sample_report, recurring=recurring)
    [message] = weekly_digest(report, lang="en", link="x", rules=RULES, labels=LABELS)
    assert "**Recurring problems**\n- FBA shipment · Shipment ID FBA15ABCDE · 4 cases\n" in message
    [zh] = weekly_digest(report, lang="zh", link="x", rules=RULES, labels=LABELS)
    assert (
        "**重复问题**\n- FBA货件 · 货件编号 FBA15ABCDE · 4 个案例\n- 商品 · ASIN B0KRRWT0N6" in zh
    )


@pytest.mark.slow
def test_the_weekly_digest_writes_hours_as_people_read_them(sample_report):
    weeks = sample_report.weeks.copy()
    weeks.loc[weeks.index[-1], "resolution_median"] = 60.96
    weeks.loc[weeks.index[-2], "resolution_median"] = 12.34
    report = dataclasses.replace(sample_report, weeks=weeks)
    [message] = weekly_digest(report, lang="zh", link="x", rules=RULES, labels=LABELS)
    assert "- 解决时长中位数（小时）：61（上周：12.3）" in message


@pytest.mark.slow
def test_the_weekly_digest_keeps_the_size_limit(sample_report):
    messages = weekly_digest(
        sample_report, lang="zh", link="x" * 900, rules=RULES, labels=LABELS, max_bytes=700
    )
    assert len(messages) >= 2 and all(len(m.encode("utf-8")) <= 700 for m in messages)
