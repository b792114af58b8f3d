"""Notes and Next action fit Excel's cell limit (32,767 UTF-16 units) with the flag's reason
first and long lists summarised, on the Status tab written and read back."""

import datetime as dt

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from python_calamine import CalamineWorkbook

from caseloop.cells import CELL_LIMIT, fit_text, utf16_len
from caseloop.cli import main
from caseloop.config import load_labels, load_rules
from caseloop.frame import build_frame
from caseloop.playbook import load_playbook, with_deadline_evidence
from caseloop.render import render_status
from caseloop.rules import evaluate
from caseloop.schema import load_schema
from caseloop.views import status_view

from caselog import NOW, case, grid, write_xlsx

SCHEMA, RULES, LABELS = load_schema(), load_rules(), load_labels()
AS_OF = pd.Timestamp(NOW)
H = dt.timedelta(hours=1)
NOW_TEXT = NOW.isoformat(timespec="minutes")
# 2,700 related case IDs that are not rows of the log: 35,100 characters as one list.
UNKNOWN = [str(30000000000 + i) for i in range(2700)]


def escalated_case(related=UNKNOWN):
    """Two follow-ups, Amazon past its 24 h target: ESCALATE for its follow-ups."""
    return case(
        Case_ID="12345678901",
        Opened_At=NOW - 30 * H,
        Last_Sent_At=NOW - 28 * H,
        Follow_ups=2,
        Related_Cases=", ".join(related),
    )


def view_of(cases, lang="en"):
    """The view as the engine builds it, with the playbook's Next action sentences."""
    playbook = load_playbook()
    rules = with_deadline_evidence(RULES, playbook)
    frame = build_frame(grid(cases), SCHEMA, rules, AS_OF)
    judged = evaluate(frame.cases, rules, AS_OF)
    return status_view(judged, frame.problems_by_row(), rules, LABELS, AS_OF, lang, playbook)


def test_the_reason_comes_first_and_the_unknown_ids_are_summarised():
    row = view_of([escalated_case()]).rows.iloc[0]
    assert row["flag"] == "ESCALATE"
    notes, action = row["notes"], row["next_action"]
    assert notes.startswith("2 follow-ups and Amazon is still past its target · ")
    assert (
        "Related Cases names " + ", ".join(UNKNOWN[:50]) + ", … and 2,650 more, which is not"
    ) in notes
    # The reason (the playbook's escalation route for the category) first, then the IDs.
    assert action.startswith("Raise it with advertising support (Contact Us › Advertising)")
    assert action.endswith("Related cases: " + ", ".join(UNKNOWN[:50]) + ", … and 2,650 more.")
    assert utf16_len(notes) <= CELL_LIMIT and utf16_len(action) <= CELL_LIMIT


def test_chinese_summary():
    row = view_of([escalated_case()], "zh").rows.iloc[0]
    assert row["next_action"].endswith(", ".join(UNKNOWN[:50]) + ", …另有 2,650 个。")


def test_a_short_list_is_kept_whole():
    ids = UNKNOWN[:50]
    row = view_of([case(Related_Cases=", ".join(ids))]).rows.iloc[0]
    assert ", ".join(ids) in row["notes"] and "more" not in row["notes"]


def test_fit_text_keeps_whole_parts_and_counts_utf16_units():
    parts = ["reason", "😀" * 20_000, "tail"]  # the emoji part alone is 40,000 units
    text = fit_text(parts, LABELS, "en")
    assert text.startswith("reason · ") and utf16_len(text) <= CELL_LIMIT
    assert text.endswith("… and 2 more notes") or text.endswith("…")
    # Never half an astral character: the text encodes as UTF-16 without surrogates left alone.
    text.encode("utf-16-le")
    long_parts = [f"part {i} " + "x" * 1000 for i in range(40)]
    text = fit_text(long_parts, LABELS, "en")
    assert text.startswith("part 0 ") and text.endswith(" · … and 8 more notes")
    assert utf16_len(text) <= CELL_LIMIT
    assert fit_text(["a", "b"], LABELS, "en") == "a · b"


def test_every_rendered_text_cell_fits():
    view = view_of([escalated_case()])
    view.rows.loc[0, "notes"] = "😀" * 40_000
    model = render_status(view, RULES, LABELS, "en", NOW, None)
    for row in model.rows:
        for cell in row:
            if isinstance(cell.value, str):
                assert utf16_len(cell.value) <= CELL_LIMIT


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_written_cells_hold_the_reason_and_are_not_cut(tmp_path, lang):
    # A cell of the log holds 32,767 characters at most: 2,500 IDs are 32,498.
    related = UNKNOWN[:2500]
    log = write_xlsx(tmp_path / "log.xlsx", [escalated_case(related)])
    # Without the Draft column, whose fill note would add to the Notes view_of builds.
    result = CliRunner().invoke(
        main, ["sync", str(log), "--now", NOW_TEXT, "--lang", lang, "--no-drafts"]
    )
    assert result.exit_code == 0, result.output
    expected = view_of([escalated_case(related)], lang).rows.iloc[0]
    more = "… and 2,450 more" if lang == "en" else "…另有 2,450 个"
    assert more in expected["notes"] and more in expected["next_action"]
    sheet = openpyxl.load_workbook(log)["Status" if lang == "en" else "状态"]
    header = [c.value for c in sheet[2]]
    values = {h: c.value for h, c in zip(header, sheet[3], strict=True)}
    notes_label = "Notes" if lang == "en" else "备注"
    action_label = "Next action" if lang == "en" else "下一步"
    assert values[notes_label] == expected["notes"]
    assert values[action_label] == expected["next_action"]
    rows = CalamineWorkbook.from_path(str(log)).get_sheet_by_name(sheet.title).to_python()
    assert rows[2][header.index(notes_label)] == expected["notes"]
