"""The Weekly Summary chart: Closed counts plotted beside Opened and Resolved, and the line of
open cases drawn straight (a smoothed line dipped below zero in LibreOffice)."""

import datetime as dt
import zipfile

import openpyxl
import pandas as pd
from click.testing import CliRunner
from lxml import etree

from caseloop.backends.gsheets.charts import chart_spec
from caseloop.cli import main
from caseloop.config import load_labels, load_rules
from caseloop.frame import build_frame
from caseloop.render import render_weekly
from caseloop.rules import evaluate
from caseloop.schema import load_schema
from caseloop.weekly import weekly_report

from caselog import NOW, case, grid, write_xlsx

SCHEMA, RULES, LABELS = load_schema(), load_rules(), load_labels()
C = "http://schemas.openxmlformats.org/drawingml/2006/chart"
H = dt.timedelta(hours=1)


def cases():
    """A week with an opened, a resolved and a closed case."""
    return [
        case(Opened_At=NOW - 30 * H),
        case(Opened_At=NOW - 50 * H, Status="Resolved", Resolved_At=NOW - 5 * H),
        case(Opened_At=NOW - 60 * H, Status="Closed", Resolved_At=NOW - 4 * H),
    ]


def weekly_model(lang="en"):
    as_of = pd.Timestamp(NOW)
    frame = build_frame(grid(cases()), SCHEMA, RULES, as_of)
    report = weekly_report(evaluate(frame.cases, RULES, as_of), RULES, as_of)
    return render_weekly(report, RULES, LABELS, lang, NOW)


def test_the_chart_plots_closed_counts_from_the_closed_column():
    model = weekly_model()
    (chart,) = model.charts
    names = [s.name for s in chart.series]
    assert names == ["Opened", "Resolved", "Closed", "Open at week end"]
    closed = chart.series[2]
    header_row = chart.categories.first_row - 1
    assert model.rows[header_row][closed.values.first_col].value == "Closed"
    assert closed.kind == "column"
    assert len({s.color for s in chart.series}) == 4
    assert [s.name for s in weekly_model("zh").charts[0].series][2] == "已关闭"


def test_google_sheets_gets_an_unsmoothed_line_and_the_closed_series():
    model = weekly_model()
    spec = chart_spec(model.charts[0], model, sheet_id=7)["spec"]["basicChart"]
    assert spec["lineSmoothing"] is False
    assert [s["type"] for s in spec["series"]] == ["COLUMN", "COLUMN", "COLUMN", "LINE"]


def chart_parts(path) -> list[etree._Element]:
    with zipfile.ZipFile(path) as package:
        return [
            etree.fromstring(package.read(name))
            for name in package.namelist()
            if name.startswith("xl/charts/chart")
        ]


def test_the_written_workbook_draws_the_line_straight_and_closed_columns(tmp_path):
    log = tmp_path / "log.xlsx"
    write_xlsx(log, cases())
    result = CliRunner().invoke(
        main, ["report", str(log), "--now", NOW.isoformat(), "--week", "2026-W47"]
    )
    assert result.exit_code == 0, result.output
    (chart,) = chart_parts(log)
    line_series = chart.findall(f".//{{{C}}}lineChart/{{{C}}}ser")
    assert len(line_series) == 1
    smooth = line_series[0].find(f"{{{C}}}smooth")
    assert smooth is not None and smooth.get("val") == "0"
    bars = chart.findall(f".//{{{C}}}barChart/{{{C}}}ser")
    references = [s.find(f"{{{C}}}val//{{{C}}}f").text for s in bars]
    sheet = openpyxl.load_workbook(log)["Weekly Summary"]
    headers = {
        cell.value: cell.column_letter
        for row in sheet.iter_rows(max_row=10)
        for cell in row
        if cell.value
    }
    assert any(f"${headers['Closed']}$" in ref for ref in references), references
