"""The History tab's old rows kept as they are on Excel (``KeptRows``): copied byte for byte by
the splice, the new rows added below them, read back by openpyxl, calamine and LibreOffice as
if the whole tab had been written again; and every case where they cannot be kept (a filter
hid rows, old rows to drop, a tab in the other language) writes the whole tab instead."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from libreoffice import LibreOffice, available
from python_calamine import CalamineWorkbook
from test_history import (
    LABELS,
    RULES,
    T1,
    T2,
    edit_excel,
    edits,
    history_rows,
    judged_at,
    sync,
    the_cases,
)

from caseloop.backends.xlsx.read import Package
from caseloop.history import (
    COLUMNS,
    History,
    changes,
    notified_cells,
    record_delivery,
    render_history,
    updated,
)

from caselog import HEADERS, write_xlsx

T3 = T2 + dt.timedelta(hours=6)
_ROW = re.compile(rb'<row\b[^>]*?\sr="(\d+)"')


def history_part(path: Path, title: str = "History") -> bytes:
    """The History tab's sheet XML (found through workbook.xml and its relationships)."""
    package = Package(path)
    try:
        sheet = package.sheet(title)
        assert sheet is not None and sheet.part is not None
        with package.open(sheet.part) as stream:
            return stream.read()
    finally:
        package.close()


def data_rows(xml: bytes) -> bytes:
    """The sheet's rows below the header, as bytes."""
    close = xml.index(b"</sheetData>")
    start = next(m.start() for m in _ROW.finditer(xml) if int(m.group(1)) > 2)
    return xml[start:close]


def values_openpyxl(path: Path, title: str = "History") -> list[tuple[Any, ...]]:
    sheet = openpyxl.load_workbook(path, read_only=True)[title]
    return [tuple(r) for r in sheet.iter_rows(values_only=True)]


def values_calamine(path: Path, title: str = "History") -> list[tuple[Any, ...]]:
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(title).to_python()
    return [tuple(None if v == "" else v for v in r) for r in rows]


def three_syncs(tmp_path: Path) -> tuple[Path, bytes, list[dict[str, Any]]]:
    """T1 (the baseline), T2 (after the edits), T3 (the clock alone); the tab's rows below the
    header after T2 and the rows read after T2."""
    log = write_xlsx(tmp_path / "log.xlsx", the_cases(), HEADERS)
    sync(log, T1)
    edit_excel(log, *edits())  # openpyxl saves the tab too: shared strings, its own XML
    sync(log, T2)
    before = data_rows(history_part(log))
    rows = history_rows(log)
    return log, before, rows


def test_old_rows_are_copied_byte_for_byte_and_new_rows_go_below(tmp_path: Path) -> None:
    log, before, rows = three_syncs(tmp_path)
    result = sync(log, T3)
    after = history_part(log)
    # The rows of the earlier runs are the very bytes the last file held ...
    assert data_rows(after).startswith(before)
    # ... and this run's rows follow them, oldest run first.
    now = history_rows(log)
    assert now[: len(rows)] == rows
    added = now[len(rows) :]
    assert added and {r["As of"] for r in added} == {T3.strftime("%Y-%m-%d %H:%M")}
    assert f"History: {len(added)} change(s)" in result.output
    # The filter and the used range reach the last new row.
    last = len(now) + 2
    assert f'<autoFilter ref="A2:I{last}"/>'.encode() in after
    assert f'<dimension ref="A1:I{last}"/>'.encode() in after
    assert openpyxl.load_workbook(log)["History"].auto_filter.ref == f"A2:I{last}"
    with zipfile.ZipFile(log) as book:  # the filter's defined name, which Excel uses
        assert f"'History'!$A$2:$I${last}" in book.read("xl/workbook.xml").decode()
    # Both readers see the same tab, and the next run finds nothing new.
    assert values_openpyxl(log) == values_calamine(log)
    assert "History: 0 change(s)" in sync(log, T3).output


def test_a_filter_that_hid_rows_means_the_whole_tab_is_written_again(tmp_path: Path) -> None:
    log, _, rows = three_syncs(tmp_path)
    book = openpyxl.load_workbook(log)
    book["History"].row_dimensions[4].hidden = True
    book.save(log)
    sync(log, T3)
    assert not re.search(rb'hidden="(1|true)"', history_part(log))
    assert history_rows(log)[: len(rows)] == rows
    assert values_openpyxl(log) == values_calamine(log)


def test_a_run_in_the_other_language_writes_the_whole_tab_in_it(tmp_path: Path) -> None:
    log, _, rows = three_syncs(tmp_path)
    sync(log, T3, "--lang", "zh")
    book = openpyxl.load_workbook(log, read_only=True)
    sheet = book["历史"]
    table = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert table[1][0] == LABELS.get("history_columns", "as_of", "zh")
    assert len(table) - 2 >= len(rows)
    # No English change word is left among the rows kept from the English runs.
    english = {LABELS.get("history_changes", c, "en") for c in ("baseline", "flag", "replied")}
    assert not english & {r[2] for r in table[2:]}


def test_rows_past_keep_days_are_dropped_in_one_go_after_the_slack(tmp_path: Path) -> None:
    cases = the_cases()
    first = changes(None, judged_at(cases, T1), pd.Timestamp(T1))
    history = updated(None, first, judged_at(cases, T1), pd.Timestamp(T1), 400)
    judged = judged_at(cases, T2)
    # A case gone from the log: its row is the one old enough to drop.
    gone = history.rows.assign(
        case_id="19999999999", as_of=pd.Timestamp(T1) - pd.Timedelta(days=10)
    ).iloc[:1]
    history = History(pd.concat([history.rows, gone], ignore_index=True), history.started)
    now = pd.Timestamp(T2)
    none_added = history.rows.iloc[:0]
    # 10 days old, kept 5 days: past keep_days, within a slack of 10 days: kept for now.
    kept = updated(history, none_added, judged, now, 5, 10)
    assert "19999999999" in set(kept.rows["case_id"])
    # Past keep_days by more than the slack: dropped (and only it).
    dropped = updated(history, none_added, judged, now, 5, 2)
    assert "19999999999" not in set(dropped.rows["case_id"])
    assert len(dropped.rows) == len(history.rows) - 1
    # Without slack, as before: dropped at once.
    assert len(updated(history, none_added, judged, now, 5).rows) == len(history.rows) - 1


def test_notified_cells_point_at_the_rows_as_the_tab_lays_them_out() -> None:
    cases = the_cases()
    first = changes(None, judged_at(cases, T1), pd.Timestamp(T1))
    history = updated(None, first, judged_at(cases, T1), pd.Timestamp(T1), 400)
    judged = judged_at(cases, T2)
    added = changes(history, judged, pd.Timestamp(T2), notifying=True)
    history = updated(history, added, judged, pd.Timestamp(T2), 400)
    pending = history.rows.index[history.rows["notified"].eq("pending")]
    assert len(pending) == 1
    sent = record_delivery(history, pending, delivered=["WeCom"])
    model = render_history(sent, RULES, LABELS, "en", T2, 400)
    cells = notified_cells(sent, pending, RULES, LABELS, "en")
    assert cells == [(cells[0][0], COLUMNS.index("notified"), "Sent: WeCom")]
    row = model.rows[cells[0][0]]
    assert row[COLUMNS.index("case_id")].value == sent.rows.at[pending[0], "case_id"]
    assert row[COLUMNS.index("notified")].value == "Sent: WeCom"
    # Oldest first: the baseline rows above this run's.
    stamps = [r[0].value for r in model.rows[2:]]
    assert stamps == sorted(stamps)


@pytest.mark.slow
@pytest.mark.skipif(not available(), reason="LibreOffice (soffice) is not installed")
def test_rows_saved_by_libreoffice_are_kept_and_read_back(tmp_path: Path) -> None:
    log, _, rows = three_syncs(tmp_path)
    saved = tmp_path / "saved.xlsx"
    LibreOffice(tmp_path / "lo").edit(log, saved, "type|Cases|Z1|note")
    before = data_rows(history_part(saved))
    sync(saved, T3)
    assert data_rows(history_part(saved)).startswith(before)
    assert history_rows(saved)[: len(rows)] == rows
    assert values_openpyxl(saved) == values_calamine(saved)
    # LibreOffice opens the result and shows the same rows.
    csv = LibreOffice(tmp_path / "lo2").sheet_csv(saved, "History")
    assert len(csv.strip().splitlines()) == len(history_rows(saved)) + 2
