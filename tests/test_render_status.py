"""The Status tab as a team reads it: Store and Summary columns, readable related IDs, and flag
colours everyone can tell apart (colour-blind readers too), read back from a real .xlsx."""

import datetime as dt
from itertools import combinations
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from coloraide import Color

from caseloop.backends.xlsx.build import FontDefaults, build
from caseloop.cli import main
from caseloop.config import load_labels, load_rules
from caseloop.render import (
    STATUS_TAB_COLUMNS,
    SUMMARY_MAX_WIDTH,
    WRAPPED_WIDTHS,
    render_status,
    shorten,
    text_width,
    wrapped_lines,
)
from caseloop.views import STATUS_COLUMNS, StatusView

from caselog import NOW, case, write_xlsx

RULES, LABELS = load_rules(), load_labels()
AS_OF = pd.Timestamp(NOW)
# Every flag the rules colour, and OUR TURN once more for its "late" shade.
LOOKS = [(flag, False) for flag in RULES.flags] + [("OUR TURN", True)]
RELATED = [str(17000000000 + i) for i in range(10)]
LONG_SUMMARY = "危险品审核 dangerous-goods review of ASIN B0TEST1234 " * 8
VISIONS = {
    "normal": None,
    "deuteranopia": "deutan",
    "protanopia": "protan",
    "tritanopia": "tritan",
}
# CIEDE2000 between any two flag fills; tritanopia (about 1 in 10,000) gets a lower bar.
MIN_DISTANCE = {"normal": 10, "deuteranopia": 10, "protanopia": 10, "tritanopia": 6}


def view_with_every_flag() -> StatusView:
    records = []
    for i, (flag, late) in enumerate(LOOKS):
        records.append(
            {
                **{column: None for column in STATUS_COLUMNS},
                "case_id": str(17100000000 + i),
                "marketplace": "JP",
                "category": "FBA shipment",
                "channel": "Case",
                "owner": "Li Wei",
                "whose_turn": "us" if flag == "OUR TURN" else "amazon",
                "waiting_hours": 5.0,
                "flag": flag,
                "next_action": "Ask for a supervisor. Related cases: " + ", ".join(RELATED) + ".",
                "notes": "Open 128 h",
                "late": late,
                "Store": f"Store {i % 4 + 1}",
                "Summary": LONG_SUMMARY if i == 0 else f"Short summary {i}",
            }
        )
    rows = pd.DataFrame(records)
    counts = {flag: int((rows["flag"] == flag).sum()) for flag in RULES.flags}
    return StatusView(rows=rows, counts=counts, as_of=AS_OF)


@pytest.fixture(scope="module")
def status_sheet(tmp_path_factory):
    model = render_status(view_with_every_flag(), RULES, LABELS, "en", NOW)
    data, _ = build([("Status", model)], FontDefaults(), date_1904=False)
    path = tmp_path_factory.mktemp("status") / "status.xlsx"
    path.write_bytes(data)
    return openpyxl.load_workbook(path)["Status"]


def rgb(color) -> str:
    return "#" + str(color.rgb)[-6:].upper()


def header(sheet) -> list[str]:
    return [c.value for c in sheet[2]]


def test_store_follows_marketplace_and_summary_follows_category(status_sheet):
    names = header(status_sheet)
    assert names[names.index("Marketplace") + 1] == "Store"
    assert names[names.index("Category") + 1] == "Summary"
    assert len(names) == len(STATUS_TAB_COLUMNS) == len(STATUS_COLUMNS) + 2
    store = names.index("Store") + 1
    assert [status_sheet.cell(3 + i, store).value for i in range(4)] == [
        "Store 1",
        "Store 2",
        "Store 3",
        "Store 4",
    ]


def test_a_long_summary_is_shortened_wrapped_and_its_column_stays_narrow(status_sheet):
    column = header(status_sheet).index("Summary") + 1
    long_cell = status_sheet.cell(3, column)
    assert long_cell.value.endswith("…")
    assert text_width(long_cell.value) <= SUMMARY_MAX_WIDTH
    assert LONG_SUMMARY.startswith(long_cell.value[:-1])
    assert long_cell.alignment.wrap_text
    assert status_sheet.cell(4, column).value == "Short summary 1"
    letter = openpyxl.utils.get_column_letter(column)
    assert status_sheet.column_dimensions[letter].width <= WRAPPED_WIDTHS["summary"] + 1


def test_next_action_keeps_every_related_id_and_wraps(status_sheet):
    column = header(status_sheet).index("Next action") + 1
    for row in range(3, 3 + len(LOOKS)):
        cell = status_sheet.cell(row, column)
        assert all(case_id in cell.value for case_id in RELATED)
        assert cell.alignment.wrap_text
    letter = openpyxl.utils.get_column_letter(column)
    assert status_sheet.column_dimensions[letter].width <= WRAPPED_WIDTHS["next_action"] + 1


def test_rows_are_tall_enough_for_their_wrapped_text(status_sheet):
    # Excel and LibreOffice keep a row at one line on opening: the height is written for them.
    names = header(status_sheet)
    wrapped = [names.index(label) + 1 for label in ("Summary", "Next action", "Notes")]
    for row in range(3, 3 + len(LOOKS)):
        lines = max(
            wrapped_lines(
                str(status_sheet.cell(row, c).value or ""),
                status_sheet.column_dimensions[openpyxl.utils.get_column_letter(c)].width,
            )
            for c in wrapped
        )
        assert lines >= 2  # ten related IDs do not fit one line of Next action
        assert status_sheet.row_dimensions[row].height >= 15 * lines
    assert wrapped_lines("B0TEST1234 " * 12, 40) == 4  # three 10-wide words a line


def test_each_row_carries_its_flag_word_fill_and_font(status_sheet):
    flag_column = header(status_sheet).index("Flag") + 1
    for i, (flag, late) in enumerate(LOOKS):
        info = RULES.flags[flag]
        row = 3 + i
        assert status_sheet.cell(row, flag_column).value == flag
        for column in range(1, len(STATUS_TAB_COLUMNS) + 1):
            cell = status_sheet.cell(row, column)
            wanted = info.late_color if late else info.color
            assert rgb(cell.fill.fgColor) == wanted.upper(), (flag, column)
            if info.font_color:
                assert rgb(cell.font.color) == info.font_color.upper()


def written_looks(sheet) -> dict[str, tuple[str, str]]:
    """Fill and text colour of each flag's row as written (default text is black)."""
    looks = {}
    for i, (flag, late) in enumerate(LOOKS):
        cell = sheet.cell(3 + i, 1)
        color = cell.font.color
        font = rgb(color) if color is not None and color.type == "rgb" else "#000000"
        looks[f"{flag}{' (late)' if late else ''}"] = (rgb(cell.fill.fgColor), font)
    return looks


def distance(a: str, b: str, vision: str | None) -> float:
    first, second = Color(a), Color(b)
    if vision:
        first, second = first.filter(vision), second.filter(vision)
    return first.delta_e(second, method="2000")


@pytest.mark.parametrize("vision", VISIONS)
def test_every_pair_of_flag_fills_is_far_apart(status_sheet, vision):
    looks = written_looks(status_sheet)
    assert len(looks) == len(RULES.flags) + 1
    close = [
        (a, b, round(distance(looks[a][0], looks[b][0], VISIONS[vision]), 1))
        for a, b in combinations(looks, 2)
        if distance(looks[a][0], looks[b][0], VISIONS[vision]) < MIN_DISTANCE[vision]
    ]
    assert not close, close


def test_deadline_and_escalate_do_not_look_alike_for_anyone(status_sheet):
    looks = written_looks(status_sheet)
    for vision in VISIONS.values():
        assert distance(looks["DEADLINE"][0], looks["ESCALATE"][0], vision) > 25


def test_the_flag_word_is_readable_on_its_fill(status_sheet):
    for name, (fill, font) in written_looks(status_sheet).items():
        assert Color(fill).contrast(font) >= 4.5, name


def test_the_old_palette_would_have_failed_the_check():
    """The check can fail: DEADLINE #C00000 and ESCALATE #8B0000 were too alike."""
    assert distance("#C00000", "#8B0000", "deutan") < 25


def test_shorten_counts_chinese_as_two_columns():
    assert shorten("短" * 10, 9) == "短" * 4 + "…"
    assert shorten("  spaced\n text  ", 40) == "spaced text"


def test_a_synced_log_gets_the_new_columns_and_colours(tmp_path):
    log = tmp_path / "log.xlsx"
    overdue = case(
        Opened_At=NOW - dt.timedelta(hours=30), Last_Sent_At=NOW - dt.timedelta(hours=30)
    )
    write_xlsx(log, [overdue, case()])
    result = CliRunner().invoke(main, ["sync", str(log), "--now", NOW.isoformat()])
    assert result.exit_code == 0, result.output
    sheet = openpyxl.load_workbook(log)["Status"]
    names = header(sheet)
    assert "Store" in names and "Summary" in names
    flags = {sheet.cell(r, names.index("Flag") + 1).value: r for r in range(3, sheet.max_row + 1)}
    assert rgb(sheet.cell(flags["OVERDUE"], 1).fill.fgColor) == RULES.flags["OVERDUE"].color
    assert rgb(sheet.cell(flags["ON TRACK"], 1).fill.fgColor) == RULES.flags["ON TRACK"].color


def test_the_readme_flags_table_shows_the_colours_the_rules_use():
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    table = readme.split("| flag | 中文 | when | colour | next action |", 1)[1].split("\n\n", 1)[0]
    rows = {line.split("|")[1].strip(): line for line in table.splitlines()[2:]}
    assert set(rows) == set(RULES.flags)
    for flag, info in RULES.flags.items():
        for colour in (info.color, info.late_color):
            if colour:
                assert f"`{colour}`" in rows[flag], flag
