"""Message drafts: every template renders for every category, full and empty, nothing from a cell
runs, missing values are brackets the Notes name, a broken template is named with its file."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from caseloop.config import load_labels, load_rules
from caseloop.drafts import (
    TEMPLATES_DIR,
    context,
    draft_case,
    draft_lang,
    load_templates,
    on_status_tab,
    render,
    situation,
)
from caseloop.errors import CaseloopError
from caseloop.frame import build_frame
from caseloop.playbook import load_playbook
from caseloop.rules import evaluate
from caseloop.schema import load_schema
from caseloop.views import status_view

from caselog import HEADERS, NOW, case, grid

SCHEMA, RULES, LABELS, PLAYBOOK = load_schema(), load_rules(), load_labels(), load_playbook()
TEMPLATES = load_templates()
AS_OF = pd.Timestamp(NOW)
H = dt.timedelta(hours=1)
COLUMNS = [*HEADERS, "Store", "Promised By", "Deadline Type", "Amazon Response"]
HOLES = re.compile(r"None|\bnan\b|NaT|\{\{|\}\}|[:：][ \t]+$|\(\)|（）| ,| \.$", re.M)


def judged(*cases):
    frame = build_frame(grid(list(cases), headers=COLUMNS), SCHEMA, RULES, AS_OF)
    return evaluate(frame.cases, RULES, AS_OF)


def one(**values):
    return judged(case(**values)).iloc[0].to_dict()


def full_case(category: str) -> dict:
    return one(
        Category=category,
        Store="NorthPeak Gear",
        Order_ID="111-8012116-0164821",
        ASIN="B0KRRWT0N6",
        Shipment_ID="FBA1F3S11MHK",
        Related_Cases="17300000001, 17300000002",
        Amazon_Response="We are looking into it.",
        Opened_At=NOW - 100 * H,
        Last_Sent_At=NOW - 60 * H,
        Follow_ups=2,
        Deadline=NOW + 20 * H,
        Deadline_Type="Other",
    )


def empty_case(category: str) -> dict:
    # Only what a row must have: no store, no IDs, no owner, no answer from Amazon.
    return one(Category=category, Owner=None, Summary="Something is wrong")


def test_the_situations_the_issue_asks_for_all_have_an_english_template():
    wanted = {
        "first-contact",
        "follow-up",
        "callback",
        "escalate",
        "reopen",
        "keep-open",
        "merge",
        "a-to-z",
        "chargeback",
        "needs-info",
    }
    assert wanted <= set(TEMPLATES.kinds)
    assert all("en" in TEMPLATES.langs[k] for k in TEMPLATES.kinds)
    # Chinese where Chinese support answers, and the internal note.
    assert {"first-contact", "follow-up", "needs-info"} <= {
        k for k in TEMPLATES.kinds if "zh" in TEMPLATES.langs[k]
    }


@pytest.mark.parametrize("category", sorted(RULES.categories))
@pytest.mark.parametrize("make", [full_case, empty_case], ids=["full", "empty"])
def test_every_template_renders_for_every_category_without_holes(category, make):
    row = make(category)
    for kind, langs in TEMPLATES.langs.items():
        for lang in langs:
            draft = render(TEMPLATES, kind, lang, context(row, RULES, PLAYBOOK, lang))
            assert draft.text.strip(), (kind, lang)
            assert not HOLES.search(draft.text), (kind, lang, draft.text)
            assert "[]" not in draft.text
            # Every bracket in the text is one the Notes will name, and vice versa.
            for bracket in draft.missing:
                assert bracket in draft.text


def test_a_full_row_fills_its_ids_and_an_empty_row_shows_brackets():
    full = draft_case(full_case("Orders & returns"), TEMPLATES, RULES, PLAYBOOK, "en", "follow-up")
    assert "111-8012116-0164821" in full.text and "NorthPeak Gear" in full.text
    assert "[order ID]" not in full.text and full.missing == []
    empty = draft_case(
        empty_case("Orders & returns"), TEMPLATES, RULES, PLAYBOOK, "en", "follow-up"
    )
    assert "Order ID: [order ID]" in empty.text
    assert "[store name]" in empty.text and "[your name]" in empty.text
    assert {"[order ID]", "[store name]", "[your name]"} <= set(empty.missing)
    assert {"Order ID", "Store", "Owner"} <= set(empty.fill_columns(TEMPLATES))


def test_a_summary_holding_template_code_comes_out_literally():
    row = one(Summary="{{ 7*7 }} and {% for x in range(3) %}x{% endfor %} {{ ''.__class__ }}")
    draft = draft_case(row, TEMPLATES, RULES, PLAYBOOK, "en", "first-contact")
    assert "{{ 7*7 }} and {% for x in range(3) %}x{% endfor %} {{ ''.__class__ }}" in draft.text
    assert "49" not in draft.text


def test_plain_text_is_not_html_escaped():
    row = one(Summary='Orders & returns <b> "quoted"', Store="Tom & Jerry's")
    draft = draft_case(row, TEMPLATES, RULES, PLAYBOOK, "en", "follow-up")
    assert 'Orders & returns <b> "quoted"' in draft.text and "Tom & Jerry's" in draft.text
    assert "&amp;" not in draft.text


def test_escalation_quotes_every_related_id_and_how_long_it_waited():
    rows = judged(
        case(
            Case_ID="17300000010",
            Category="Payments",
            Opened_At=NOW - 200 * H,
            Last_Sent_At=NOW - 80 * H,
            Follow_ups=3,
            Related_Cases="17300000001, 17300000002, 17300000003",
        )
    )
    row = rows.iloc[0].to_dict()
    assert row["flag"] == "ESCALATE"
    draft = draft_case(row, TEMPLATES, RULES, PLAYBOOK, "en")
    assert draft.kind == "escalate"
    for related in ("17300000001", "17300000002", "17300000003"):
        assert related in draft.text
    assert "Transfer to Supervisor" in draft.text and "Urgent escalation" in draft.text
    assert "3 days" in draft.text  # waited 80 h for Amazon
    assert "8 days" in draft.text  # open 200 h


def test_the_situation_follows_the_flag():
    overdue_phone = one(Channel="Phone", Opened_At=NOW - 5 * H)
    assert overdue_phone["flag"] == "OVERDUE" and situation(overdue_phone) == "callback"
    atoz = one(
        Category="Orders & returns",
        Order_ID="111-8012116-0164821",
        Deadline_Type="A-to-z",
        Opened_At=NOW - 40 * H,
    )
    assert atoz["flag"] == "DEADLINE" and situation(atoz) == "a-to-z"
    text = draft_case(atoz, TEMPLATES, RULES, PLAYBOOK, "en").text
    assert text.startswith("Order ID: 111-8012116-0164821")
    needs = one(Category="FBA shipment", Store="S")
    assert needs["flag"] == "NEEDS INFO" and situation(needs) == "needs-info"
    assert on_status_tab(needs) is None  # a note to the owner, not a message to Amazon
    ours = one(Last_Reply_At=NOW - 1 * H, Opened_At=NOW - 3 * H, Store="S")
    assert ours["flag"] == "OUR TURN" and situation(ours) == "keep-open"
    logged = one(Case_ID="T-0042", Store="S")
    assert situation(logged) == on_status_tab(logged) == "first-contact"


def test_first_contact_carries_the_categorys_checklist():
    row = one(Category="IP complaint", ASIN="B0KRRWT0N6", Store="S")
    text = draft_case(row, TEMPLATES, RULES, PLAYBOOK, "en", "first-contact").text
    assert "ASIN: B0KRRWT0N6" in text
    for item in ("brand authorisation or licence", "purchase invoices"):
        assert f"- {item}" in text


def test_english_to_amazon_chinese_only_where_chinese_support_answers():
    assert draft_lang(TEMPLATES, "follow-up", "Account health", "zh") == "zh"
    assert draft_lang(TEMPLATES, "follow-up", "FBA shipment", "zh") == "zh"
    assert draft_lang(TEMPLATES, "follow-up", "Listing", "zh") == "en"
    assert draft_lang(TEMPLATES, "escalate", "Account health", "zh") == "en"  # no zh template
    assert draft_lang(TEMPLATES, "follow-up", "Account health", "en") == "en"
    assert draft_lang(TEMPLATES, "needs-info", "Listing", "zh") == "zh"  # to the team
    row = one(Category="Account health", Store="北峰户外", Marketplace="JP")
    text = draft_case(row, TEMPLATES, RULES, PLAYBOOK, "zh", "follow-up").text
    assert "您好" in text and "日本" in text and "北峰户外" in text


def test_the_status_tab_drafts_rows_that_need_a_message_and_notes_what_to_fill():
    rows = [
        case(Case_ID="17300000020", Channel="Email", Opened_At=NOW - 60 * H),  # OVERDUE
        case(Case_ID="17300000021", Opened_At=NOW - 1 * H),  # ON TRACK: nothing to send
    ]
    frame = build_frame(grid(rows, headers=COLUMNS), SCHEMA, RULES, AS_OF)
    judged_rows = evaluate(frame.cases, RULES, AS_OF)
    view = status_view(
        judged_rows, {}, RULES, LABELS, AS_OF, "en", PLAYBOOK, templates=TEMPLATES
    ).rows.set_index("case_id")
    assert view.loc["17300000020", "flag"] == "OVERDUE"
    assert "I am following up on case 17300000020" in view.loc["17300000020", "draft"]
    assert "Draft: fill [store name] before sending" in view.loc["17300000020", "notes"]
    assert pd.isna(view.loc["17300000021", "draft"])
    bare = status_view(judged_rows, {}, RULES, LABELS, AS_OF, "en", PLAYBOOK)
    assert "draft" not in bare.rows


def _copy_templates(tmp_path: Path) -> Path:
    folder = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, folder)
    return folder


def test_a_syntax_error_is_named_with_its_file_and_line(tmp_path):
    folder = _copy_templates(tmp_path)
    (folder / "follow-up.en.j2").write_text("Dear Amazon Support,\n{% if case_id %}\nno end\n")
    with pytest.raises(CaseloopError, match=r"follow-up\.en\.j2: line \d+: .*Jinja2 syntax"):
        load_templates(folder)


def test_an_unknown_field_is_named_with_its_file(tmp_path):
    folder = _copy_templates(tmp_path)
    (folder / "escalate.en.j2").write_text("Case {{ case_id }} order {{ order_number }}\n")
    with pytest.raises(CaseloopError, match=r"escalate\.en\.j2: names \{\{ order_number \}\}"):
        load_templates(folder)


def test_a_team_adds_a_situation_without_touching_code(tmp_path):
    folder = _copy_templates(tmp_path)
    (folder / "thank-you.en.j2").write_text("Thank you for resolving case {{ case_id }}.\n")
    templates = load_templates(folder)
    row = one(Case_ID="17300000030")
    draft = draft_case(row, templates, RULES, PLAYBOOK, "en", "thank-you")
    assert draft.text == "Thank you for resolving case 17300000030."


def test_a_template_cannot_reach_python_internals(tmp_path):
    folder = _copy_templates(tmp_path)
    (folder / "probe.en.j2").write_text("{{ case_id.__class__.__mro__[1].__subclasses__() }}\n")
    templates = load_templates(folder)
    with pytest.raises(CaseloopError, match=r"probe\.en\.j2: .*unsafe|probe\.en\.j2: .*access"):
        draft_case(one(), templates, RULES, PLAYBOOK, "en", "probe")


# --- the commands, on the demo ------------------------------------------------------------------

SAMPLE = Path(__file__).parent.parent / "sample_data" / "case_log.xlsx"
NOW_TEXT = "2026-11-20T18:00"
MESSAGE_FLAGS = {"DEADLINE", "ESCALATE", "DUPLICATE", "REOPEN", "OVERDUE"}


def cli(*args: str):
    from click.testing import CliRunner

    from caseloop.cli import main

    return CliRunner().invoke(main, [str(a) for a in args])


def status_rows(path: Path) -> list[dict]:
    import openpyxl

    sheet = openpyxl.load_workbook(path)["Status"]
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def test_sync_puts_a_ready_english_draft_on_each_row_that_needs_a_message(tmp_path):
    out = tmp_path / "out.xlsx"
    result = cli("sync", SAMPLE, "--now", NOW_TEXT, "--output", out)
    assert result.exit_code == 0, result.output
    rows = status_rows(out)
    need = [r for r in rows if r["Flag"] in MESSAGE_FLAGS]
    assert len(need) == 12  # DEADLINE 4, ESCALATE 3, DUPLICATE 1, REOPEN 1, OVERDUE 3
    for row in need:
        text = row["Draft message"]
        # A claim response (pasted on the Performance page) quotes the order, not the case.
        assert text and (row["Case ID"] in text or "Order ID: " in text), row["Case ID"]
        assert not HOLES.search(text) and not re.search(r"[\u4e00-\u9fff]", text), text
        for bracket in re.findall(r"\[[^\]]+\]", text):
            assert bracket in row["Notes"], (row["Case ID"], bracket)  # Notes say what to fill
    assert all(r["Draft message"] is None for r in rows if r["Flag"] not in MESSAGE_FLAGS)
    escalate = next(r for r in need if r["Case ID"] == "17339394126")
    assert "Transfer to Supervisor" in escalate["Draft message"]
    assert "17316819433" in escalate["Draft message"]  # its related case


def test_no_drafts_leaves_the_column_off(tmp_path):
    out = tmp_path / "out.xlsx"
    assert cli("sync", SAMPLE, "--now", NOW_TEXT, "--output", out, "--no-drafts").exit_code == 0
    rows = status_rows(out)
    assert "Draft message" not in rows[0] and "Flag" in rows[0]
    assert not any("Draft: fill" in str(r["Notes"]) for r in rows)


def test_draft_prints_the_follow_up_of_an_overdue_case():
    result = cli("draft", SAMPLE, "17321722314", "--now", NOW_TEXT)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Dear Amazon Support,\n\nI am following up on case 17321722314")
    assert "Best regards,\nZhang Min\nVelden Kitchen" in result.stdout


def test_draft_of_an_unknown_case_names_the_nearest_ids_in_one_sentence():
    result = cli("draft", SAMPLE, "1732172231", "--now", NOW_TEXT)
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output
    assert lines[0].startswith('caseloop: No case "1732172231" in the tab "Cases" of ')
    assert "the nearest Case IDs are 17321722314" in lines[0]


def test_draft_kind_chooses_the_situation_and_brackets_go_to_stderr():
    result = cli("draft", SAMPLE, "17321722314", "--now", NOW_TEXT, "--kind", "reopen")
    assert result.exit_code == 0, result.output
    assert "I would like to reopen case 17321722314" in result.stdout
    assert "fill in before sending: [date closed], [what is still not fixed]" in result.stderr
    unknown = cli("draft", SAMPLE, "17321722314", "--now", NOW_TEXT, "--kind", "thanks")
    assert unknown.exit_code == 2
    assert 'no template for the situation "thanks"; the situations are a-to-z,' in unknown.stderr


def test_draft_lang_zh_is_chinese_only_where_chinese_support_answers():
    account = cli("draft", SAMPLE, "17334497807", "--now", NOW_TEXT, "--lang", "zh")
    assert account.exit_code == 0, account.output
    assert account.stdout.startswith("您好，") and "17334497807" in account.stdout
    payments = cli("draft", SAMPLE, "17338085060", "--now", NOW_TEXT, "--lang", "zh")
    assert payments.stdout.startswith("Dear Amazon Support,")
    assert "「收款」类问题由亚马逊英文团队处理，草稿为英文。" in payments.stderr
    resolved = cli("draft", SAMPLE, "17326323329", "--now", NOW_TEXT, "--lang", "zh")
    assert resolved.exit_code == 2 and "状态是「已解决」" in resolved.stderr


def test_validate_templates_names_a_broken_template_with_its_file(tmp_path):
    clean = cli("validate", SAMPLE, "--now", NOW_TEXT, "--templates")
    assert clean.exit_code == 1  # the demo's two INVALID rows; the templates are fine
    assert "Templates: 10 situations in " in clean.stdout
    folder = _copy_templates(tmp_path)
    (folder / "keep-open.en.j2").write_text(
        "Please keep case {{ case_id }} open until {{ reply_date }}.\n"
    )
    typo = cli("validate", SAMPLE, "--now", NOW_TEXT, "--templates", folder)
    assert typo.exit_code == 2
    assert f"{folder / 'keep-open.en.j2'}: names {{{{ reply_date }}}}" in typo.stderr
    assert re.search(r"did you mean [a-z_, ]*\breply_by\b", typo.stderr)
    (folder / "keep-open.en.j2").write_text("Please keep {% for %} open.\n")
    broken = cli("validate", SAMPLE, "--now", NOW_TEXT, "--templates", folder)
    assert broken.exit_code == 2 and "keep-open.en.j2: line 1:" in broken.stderr
    (folder / "keep-open.en.j2").write_text("Open since {{ opened | round }}.\n")
    failing = cli("validate", SAMPLE, "--now", NOW_TEXT, "--templates", folder)
    assert failing.exit_code == 2 and "keep-open.en.j2:" in failing.stderr
