"""The rules and schema files are checked value by value on load: one sentence naming the file
and the key, and nothing reaches the workbook before that."""

import copy
import hashlib
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from caseloop.cli import main
from caseloop.config import CHANNELS, FLAG_ORDER, PRIORITIES, STATUSES, load_rules
from caseloop.datafiles import DEFAULT_RULES, DEFAULT_SCHEMA, RULES_CHECK
from caseloop.errors import CaseloopError
from caseloop.schema import load_schema

from caselog import NOW, case, write_xlsx

NOW_TEXT = NOW.isoformat(timespec="minutes")
DEFAULT = yaml.safe_load(DEFAULT_RULES.read_text(encoding="utf-8"))
COLOUR = 'write a colour as "#RRGGBB", e.g. "#FF0000".'
HOURS = "write hours as a number above 0 and at most 87600 (10 years), e.g. 24."


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def rules_file(tmp_path: Path, path: str, value_yaml: str | None, name="rules.yaml") -> Path:
    """The default rules with the value at ``path`` (dots; "a.b") replaced, or removed (None).

    The value is given as YAML text, so it is read the way a person's typo would be.
    """
    data = copy.deepcopy(DEFAULT)
    *parents, last = path.split(".")
    node = data
    for key in parents:
        node = node[key]
    if value_yaml is None:
        del node[last]
    else:
        node[last] = yaml.safe_load(value_yaml)
    target = tmp_path / name
    target.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return target


def refusal(tmp_path: Path, path: str, value_yaml: str | None) -> str:
    target = rules_file(tmp_path, path, value_yaml)
    load_rules.cache_clear()
    with pytest.raises(CaseloopError) as caught:
        load_rules(target)
    message = caught.value.message
    assert message.startswith(f"{target}: "), message
    assert "\n" not in message
    return message[len(f"{target}: ") :]


@pytest.mark.parametrize(
    "path, value, expected",
    [
        # The colour typos: YAML reads 0xFF0000 as the number 16711680.
        ("flags.OVERDUE.color", "0xFF0000", f"flags.OVERDUE.color is 16711680; {COLOUR}"),
        ("flags.OVERDUE.color", '"#80FF7C80"', f'flags.OVERDUE.color is "#80FF7C80"; {COLOUR}'),
        ("flags.OVERDUE.color", '"#F00"', f'flags.OVERDUE.color is "#F00"; {COLOUR}'),
        ("flags.OVERDUE.color", "reddish", f'flags.OVERDUE.color is "reddish"; {COLOUR}'),
        (
            "flags.DEADLINE.font_color",
            '"FFFFFF"',
            f'flags.DEADLINE.font_color is "FFFFFF"; {COLOUR}',
        ),
        ("flags.OUR TURN.late_color", "[1, 2]", f"flags.OUR TURN.late_color is a list; {COLOUR}"),
        ("reply_targets.Case", "0", f"reply_targets.Case is 0; {HOURS}"),
        ("reply_targets.Email", "-4", f"reply_targets.Email is -4; {HOURS}"),
        ("reply_targets.Chat", ".nan", f"reply_targets.Chat is .nan; {HOURS}"),
        ("reply_targets.Phone", ".inf", f"reply_targets.Phone is .inf; {HOURS}"),
        ("reply_targets.Case", '"24h"', f'reply_targets.Case is "24h"; {HOURS}'),
        ("reply_targets.Case", "true", f"reply_targets.Case is true; {HOURS}"),
        ("reply_targets.Case", "1.0e+300", f"reply_targets.Case is 1e+300; {HOURS}"),
        ("our_reply_hours", "", f"our_reply_hours is empty; {HOURS}"),
        ("deadline_warn_hours", "-.inf", f"deadline_warn_hours is -.inf; {HOURS}"),
        ("escalate.max_open_hours.High", "0", f"escalate.max_open_hours.High is 0; {HOURS}"),
        (
            "reply_targets.by_priority",
            "{High: {Case: .nan}}",
            f"reply_targets.by_priority.High.Case is .nan; {HOURS}",
        ),
        (
            "resolved_visible_days",
            "0",
            "resolved_visible_days is 0; write days as a number above 0 and at most 3650 (10 years), e.g. 7.",
        ),
        (
            "escalate.recurring.window_days",
            ".nan",
            "escalate.recurring.window_days is .nan; write days as a number above 0 and at most 3650 (10 years), e.g. 7.",
        ),
        (
            "due_soon_ratio",
            "0",
            "due_soon_ratio is 0; write a share above 0 and at most 1, e.g. 0.75.",
        ),
        (
            "due_soon_ratio",
            "1.5",
            "due_soon_ratio is 1.5; write a share above 0 and at most 1, e.g. 0.75.",
        ),
        (
            "escalate.follow_ups",
            "0",
            "escalate.follow_ups is 0; write a whole number from 1 to 1000, e.g. 2.",
        ),
        (
            "escalate.follow_ups",
            "1.5",
            "escalate.follow_ups is 1.5; write a whole number from 1 to 1000, e.g. 2.",
        ),
        (
            "escalate.follow_ups",
            "yes",
            "escalate.follow_ups is true; write a whole number from 1 to 1000, e.g. 2.",
        ),
        (
            "escalate.recurring.min_cases",
            "1",
            "escalate.recurring.min_cases is 1; write a whole number from 2 to 1000 "
            "(a problem recurs when it comes back), e.g. 3.",
        ),
        (
            "categories.Listing.priority",
            "Urgent",
            'categories.Listing.priority is "Urgent"; use High, Normal or Low.',
        ),
        (
            "escalate.max_open_hours",
            "{High: 72, Urgent: 24}",
            'escalate.max_open_hours names "Urgent"; use High, Normal or Low.',
        ),
        (
            "reply_targets.by_priority",
            "{Urgent: {Case: 12}}",
            'reply_targets.by_priority names "Urgent"; use High, Normal or Low.',
        ),
        (
            "reply_targets.by_priority",
            "{High: {Fax: 12}}",
            'reply_targets.by_priority.High names "Fax"; use Case, Phone, Chat or Email.',
        ),
        (
            "timezone",
            "Mars/Olympus_Mons",
            'timezone is "Mars/Olympus_Mons"; use an IANA time-zone name such as Asia/Shanghai.',
        ),
        (
            "timezone",
            "8",
            "timezone is 8; use an IANA time-zone name such as Asia/Shanghai.",
        ),
        (
            "categories.Listing.evidence",
            "ASIN",
            'categories.Listing.evidence is "ASIN"; write a list of columns, e.g. [ASIN, Order ID].',
        ),
        (
            "categories.Listing.zh",
            "123",
            'categories.Listing.zh is 123; write text (in quotes when YAML would read it otherwise, e.g. "123").',
        ),
        (
            "flags.OVERDUE.action",
            "",
            'flags.OVERDUE.action is empty; write text (in quotes when YAML would read it otherwise, e.g. "123").',
        ),
        (
            "due_soon_ration",
            "0.5",
            "due_soon_ration is not a setting caseloop knows; remove it or correct its name "
            "(the settings here are timezone, reply_targets, after_live_answer_hours, "
            "our_reply_hours, due_soon_ratio, deadline_warn_hours, resolved_visible_days, "
            "reopen_window_days, deadline_types, escalate, answers, categories, channels, statuses, "
            "priorities, marketplace_words, marketplaces, ambiguous, flags, notify, quiet_hours, "
            "owners, history).",
        ),
        (
            "flags.OVERDUE.colour",
            '"#FF0000"',
            "flags.OVERDUE.colour is not a setting caseloop knows; remove it or correct its name "
            "(the settings here are zh, color, font_color, late_color, action, action_zh, action_passed, action_passed_zh).",
        ),
        (
            "flags.OVERDU",
            '{color: "#FF0000", action: x}',
            'flags names "OVERDU"; the flags are ' + ", ".join(FLAG_ORDER) + ".",
        ),
        ("flags.OVERDUE", None, "flags has no OVERDUE; add it (see sheets_schema/rules.yaml)."),
        (
            "flags.OVERDUE.action",
            None,
            "flags.OVERDUE has no action; add it (see sheets_schema/rules.yaml).",
        ),
        ("statuses.Closed", None, "statuses has no Closed; add it (see sheets_schema/rules.yaml)."),
        (
            "channels.Fax",
            "{zh: 传真}",
            'channels names "Fax"; use Case, Phone, Chat or Email.',
        ),
        (
            "marketplaces.NO",
            "{zh: 挪威}",
            'marketplaces names false; write the code in quotes, e.g. "NO" '
            "(YAML reads NO, YES, ON and OFF as true or false).",
        ),
        ("reply_targets", "24", "reply_targets is 24; write a mapping of settings (key: value)."),
        ("categories", "{}", "categories is empty; name at least one category."),
        # Issue 10's settings.
        (
            "reopen_window_days",
            "0",
            "reopen_window_days is 0; write days as a number above 0 and at most 3650 (10 years), "
            "e.g. 7.",
        ),
        ("after_live_answer_hours", "-1", f"after_live_answer_hours is -1; {HOURS}"),
        (
            "deadline_types.A-to-z.window_hours.UK",
            "-48",
            f"deadline_types.A-to-z.window_hours.UK is -48; {HOURS}",
        ),
        (
            "deadline_types.Chargeback.window_hours.default",
            "0",
            f"deadline_types.Chargeback.window_hours.default is 0; {HOURS}",
        ),
        (
            "statuses.Open.labels.Answered.turn",
            "ours",
            'statuses.Open.labels.Answered.turn is "ours"; write us (the reply is ours) or amazon '
            "(Amazon is working on it).",
        ),
        (
            "flags.DUPLICATE",
            None,
            "flags has no DUPLICATE; add it (see sheets_schema/rules.yaml).",
        ),
    ],
)
def test_every_rules_value_is_checked_and_named(tmp_path, path, value, expected):
    if path == "marketplaces.NO":  # the key itself is the typo: YAML reads NO as false
        target = tmp_path / "rules.yaml"
        text = DEFAULT_RULES.read_text(encoding="utf-8")
        target.write_text(
            text.replace("  US: {zh: 美国", "  NO: {zh: 挪威}\n  US: {zh: 美国"), "utf-8"
        )
        load_rules.cache_clear()
        with pytest.raises(CaseloopError) as caught:
            load_rules(target)
        assert caught.value.message == f"{target}: {expected}"
        return
    message = refusal(tmp_path, path, value)
    assert message == expected or message.startswith(expected[:-1] + " ("), message


def test_several_problems_are_counted_after_the_first(tmp_path):
    target = rules_file(tmp_path, "flags.OVERDUE.color", "0xFF0000")
    text = target.read_text(encoding="utf-8").replace("our_reply_hours: 24", "our_reply_hours: -1")
    target.write_text(text.replace("due_soon_ratio: 0.75", "due_soon_ratio: 2"), "utf-8")
    load_rules.cache_clear()
    with pytest.raises(CaseloopError, match=r"; write .*\(and 2 more problems in the file\)\.$"):
        load_rules(target)


def test_a_key_written_twice_is_named_with_its_lines(tmp_path):
    target = tmp_path / "rules.yaml"
    text = DEFAULT_RULES.read_text(encoding="utf-8")
    target.write_text(text.replace("escalate:\n", "escalate:\n  follow_ups: 5\n", 1), "utf-8")
    first = text[: text.index("escalate:")].count("\n") + 2
    second = target.read_text("utf-8").splitlines().index("  follow_ups: 2") + 1
    load_rules.cache_clear()
    with pytest.raises(CaseloopError) as caught:
        load_rules(target)
    assert caught.value.message == (
        f'{target}: "follow_ups" is written twice, at lines {first} and {second}; keep one.'
    )


def test_missing_keys_are_each_counted(tmp_path):
    target = tmp_path / "rules.yaml"
    target.write_text("flags: null\n", encoding="utf-8")
    load_rules.cache_clear()
    with pytest.raises(CaseloopError) as caught:
        load_rules(target)
    # reply_targets, categories, channels, statuses, priorities, marketplaces missing; flags empty
    assert caught.value.message == (
        f"{target}: the file has no reply_targets; add it (see sheets_schema/rules.yaml) "
        "(and 6 more problems in the file)."
    )


def test_good_values_load_as_written(tmp_path):
    target = rules_file(tmp_path, "flags.OVERDUE.color", '"#ff0000"')
    text = target.read_text(encoding="utf-8")
    text = text.replace("due_soon_ratio: 0.75", "due_soon_ratio: 1").replace(
        "follow_ups: 2", "follow_ups: 1"
    )
    target.write_text(text.replace("timezone: Asia/Shanghai", "timezone: Europe/Berlin"), "utf-8")
    load_rules.cache_clear()
    rules = load_rules(target)
    assert rules.flags["OVERDUE"].color == "#ff0000"
    assert rules.due_soon_ratio == 1.0 and rules.escalate_follow_ups == 1
    assert rules.timezone.key == "Europe/Berlin"


def test_the_check_of_the_rules_file_agrees_with_the_code():
    """The enums in rules' JSON Schema are the ones the code judges by."""
    import jsonschema

    check = json.loads(RULES_CHECK.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(check)
    defs = check["$defs"]
    assert defs["flag_name"]["enum"] == list(FLAG_ORDER)
    assert defs["channel"]["enum"] == list(CHANNELS)
    assert defs["priority"]["enum"] == list(PRIORITIES)
    assert check["properties"]["statuses"]["required"] == list(STATUSES)
    assert check["properties"]["flags"]["required"] == list(FLAG_ORDER)
    # The case-log schema lists the same enums.
    fields = {f["name"]: f for f in json.loads(DEFAULT_SCHEMA.read_text("utf-8"))["fields"]}
    assert fields["Channel"]["constraints"]["enum"] == list(CHANNELS)
    assert fields["Priority"]["constraints"]["enum"] == list(PRIORITIES)
    assert fields["Status"]["constraints"]["enum"] == list(STATUSES)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("command", ["sync", "report", "validate"])
def test_a_colour_typo_leaves_the_workbook_byte_identical(tmp_path, command):
    log = write_xlsx(tmp_path / "log.xlsx", [case()])
    before = digest(log)
    rules = rules_file(tmp_path, "flags.OVERDUE.color", "0xFF0000", name="team-rules.yaml")
    result = run(command, log, "--rules", rules, "--now", NOW_TEXT)
    assert result.exit_code == 2, result.output
    assert result.output == (f"caseloop: {rules}: flags.OVERDUE.color is 16711680; {COLOUR}\n")
    assert digest(log) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.xlsx", "team-rules.yaml"]


# -- the case-log schema ----------------------------------------------------------------------

SCHEMA_DATA = json.loads(DEFAULT_SCHEMA.read_text(encoding="utf-8"))


def schema_file(tmp_path: Path, change) -> Path:
    data = copy.deepcopy(SCHEMA_DATA)
    change(data)
    target = tmp_path / "schema.json"
    target.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return target


def _without(name):
    def change(data):
        data["fields"] = [f for f in data["fields"] if f["name"] != name]

    return change


def _field(field_name, **values):
    def change(data):
        for f in data["fields"]:
            if f["name"] == field_name:
                f.update(values)

    return change


def _constraint(name, **values):
    def change(data):
        for f in data["fields"]:
            if f["name"] == name:
                f.setdefault("constraints", {}).update(values)

    return change


def _as_dict(data):
    data["fields"] = {f["name"]: f for f in data["fields"]}


def _twice(data):
    data["fields"].append(copy.deepcopy(data["fields"][0]))


@pytest.mark.parametrize(
    "change, expected",
    [
        (_as_dict, "fields is a mapping; write a list of fields, each with a name and a type."),
        (
            _without("Case ID"),
            'fields has no field "Case ID"; caseloop needs it (type string), '
            "see sheets_schema/case_log.schema.json.",
        ),
        (
            _without("Opened At"),
            'fields has no field "Opened At"; caseloop needs it (type datetime), '
            "see sheets_schema/case_log.schema.json.",
        ),
        (
            _field("Follow-ups", type="number"),
            'fields[11] ("Follow-ups").type is "number"; caseloop reads the types string, datetime and integer.',
        ),
        (
            _field("Deadline", type="string"),
            'the field "Deadline" has type string; caseloop reads it as datetime, '
            "see sheets_schema/case_log.schema.json.",
        ),
        (_twice, 'the field "Case ID" is listed twice; keep one.'),
        (
            _field("ASIN", aliases="ASIN No"),
            'fields[15] ("ASIN").aliases is "ASIN No"; write a list of header names, e.g. ["ASIN", "产品编号"].',
        ),
        (
            _constraint("Order ID", pattern="(\\d{3}"),
            'fields[14] ("Order ID").constraints.pattern is "(\\d{3}"; write a valid regular expression.',
        ),
        (
            _constraint("Summary", required="yes"),
            'fields[19] ("Summary").constraints.required is "yes"; write true or false.',
        ),
        (
            _field("Owner", name=""),
            "fields[18].name is empty; write text.",
        ),
        (lambda data: data.pop("fields"), "the file has no fields; add it."),
    ],
)
def test_a_wrong_schema_is_named_in_one_sentence(tmp_path, change, expected):
    target = schema_file(tmp_path, change)
    load_schema.cache_clear()
    with pytest.raises(CaseloopError) as caught:
        load_schema(target)
    assert caught.value.message == f"{target}: {expected}"
    log = write_xlsx(tmp_path / "log.xlsx", [case()])
    before = digest(log)
    result = run("sync", log, "--schema", target, "--now", NOW_TEXT)
    assert result.exit_code == 2 and result.output == f"caseloop: {target}: {expected}\n"
    assert digest(log) == before


def test_an_unknown_evidence_column_is_named(tmp_path):
    rules = rules_file(tmp_path, "categories.Listing.evidence", "[ASIN, Tracking No]")
    log = write_xlsx(tmp_path / "log.xlsx", [case(Category="Listing", ASIN="B0ABCDEFGH")])
    before = digest(log)
    for command in ("validate", "sync", "report"):
        result = run(command, log, "--rules", rules, "--now", NOW_TEXT)
        assert result.exit_code == 2, result.output
        assert result.output.startswith(
            f'caseloop: {rules}: categories.Listing.evidence names "Tracking No", which is not '
            f"a column of the case-log schema {DEFAULT_SCHEMA}; use one of Case ID, Marketplace,"
        ), result.output
        assert len(result.output.splitlines()) == 1
    assert digest(log) == before


def test_a_team_column_added_to_the_schema_can_be_evidence(tmp_path):
    def add(data):
        data["fields"].append({"name": "Tracking No", "type": "string"})

    schema = schema_file(tmp_path, add)
    rules = rules_file(tmp_path, "categories.Listing.evidence", "[Tracking No]")
    log = write_xlsx(tmp_path / "log.xlsx", [case(Category="Listing")])
    result = run("sync", log, "--rules", rules, "--schema", schema, "--now", NOW_TEXT)
    assert result.exit_code == 0, result.output
    assert "NEEDS INFO 1" in result.output


def test_a_deadline_window_for_an_unknown_marketplace_is_named(tmp_path):
    target = rules_file(tmp_path, "deadline_types.A-to-z.window_hours.Mars", "48")
    load_rules.cache_clear()
    with pytest.raises(CaseloopError) as caught:
        load_rules(target)
    assert caught.value.message == (
        f'{target}: deadline_types.A-to-z.window_hours names "Mars", which is not a marketplace '
        "of the rules file; use default or a code under marketplaces (US, UK ...)."
    )
