"""The schema and rules files are valid data, and agree with each other and the spec."""

import json

from frictionless import Schema

from caseloop.config import CHANNELS, FLAG_ORDER, load_rules
from caseloop.datafiles import DEFAULT_SCHEMA
from caseloop.schema import load_schema


def test_schema_is_a_valid_frictionless_table_schema():
    schema = Schema.from_descriptor(str(DEFAULT_SCHEMA))
    report = schema.metadata_validate(schema.to_descriptor())
    assert [e.message for e in report] == []
    assert len(schema.fields) == 24  # with Promised By and Deadline Type


def test_every_field_has_a_chinese_name_and_required_columns_match_the_spec():
    data = json.loads(DEFAULT_SCHEMA.read_text(encoding="utf-8"))
    assert all(f["zh"] and f["zh"] in f["aliases"] for f in data["fields"])
    assert load_schema().required == [
        "Case ID",
        "Marketplace",
        "Category",
        "Channel",
        "Status",
        "Opened At",
        "Summary",
    ]


def test_rules_defaults_from_the_article():
    rules = load_rules()
    assert rules.reply_targets == {"Case": 24, "Email": 48, "Chat": 1, "Phone": 1}
    assert (rules.our_reply_hours, rules.due_soon_ratio, rules.deadline_warn_hours) == (
        24,
        0.75,
        48,
    )
    assert rules.max_open_hours == {"High": 72, "Normal": 168, "Low": 336}
    assert (rules.escalate_follow_ups, rules.recurring_window_days, rules.recurring_min_cases) == (
        2,
        30,
        3,
    )
    assert len(rules.categories) == 11 and set(rules.flags) == set(FLAG_ORDER)
    assert set(rules.zh_labels["Channel"]) == set(CHANNELS)
    assert len(rules.zh_labels["Marketplace"]) == 23
    assert rules.vocab["Marketplace"]["美国站"] == "US" and rules.vocab["Marketplace"]["gb"] == "UK"
    assert rules.vocab["Marketplace"]["澳洲"] == "AU"
