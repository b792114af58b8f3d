"""The History tab: one row per change between syncs, on real .xlsx files and on the fake
Google Sheet; the quiet baseline, a mangled tab, keep_days, notification bookkeeping, and the
Weekly Summary numbers it feeds."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import yaml
from click.testing import CliRunner

from caseloop.cli import main
from caseloop.config import load_labels, load_rules
from caseloop.datafiles import DEFAULT_RULES, DEFAULT_SCHEMA
from caseloop.frame import build_frame
from caseloop.history import (
    COLUMNS,
    History,
    changes,
    due_alerts,
    read_history,
    record_delivery,
    render_history,
    updated,
)
from caseloop.ports import Grid
from caseloop.rules import evaluate
from caseloop.schema import load_schema
from caseloop.weekly import Week, weekly_report

from caselog import HEADERS, case, write_xlsx
from fakesheets import FakeSheetsServer, fake_client_class
from hostile import authorized_user_file as hostile_credentials

pytest_plugins = ["fakesheets.fixtures"]

T1 = dt.datetime(2026, 11, 20, 18, 0)
T2 = dt.datetime(2026, 11, 21, 12, 0)
RULES = load_rules()
LABELS = load_labels()
SCHEMA = load_schema(DEFAULT_SCHEMA)


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


def the_cases() -> list[dict[str, Any]]:
    """Seven cases, each of which changes in its own way between T1 and T2 (see ``edits``)."""
    return [
        # Waits on Amazon, then Amazon answers: "Amazon answered", and its flag turns OUR TURN.
        case(
            Case_ID="11000000001",
            Opened_At=T1 - dt.timedelta(hours=10),
            Last_Sent_At=T1 - dt.timedelta(hours=3),
            Owner="Li Wei",
        ),
        # We follow up on it.
        case(
            Case_ID="11000000002",
            Opened_At=T1 - dt.timedelta(hours=10),
            Last_Sent_At=T1 - dt.timedelta(hours=5),
            Owner="Emma",
        ),
        # Resolved.
        case(Case_ID="11000000003", Owner="Emma"),
        # A row someone deletes.
        case(Case_ID="11000000004", Owner="Wang Fang", Category="Payments"),
        # Seller Central's label changes: Work in progress → Pending Amazon action.
        case(
            Case_ID="11000000005",
            Status="Work in progress",
            Opened_At=T1 - dt.timedelta(hours=10),
            Last_Reply_At=T1 - dt.timedelta(hours=4),
            Last_Sent_At=T1 - dt.timedelta(hours=1),
        ),
        # Resolved a year ago: never on the Status tab, so not in the baseline.
        case(
            Case_ID="11000000006",
            Status="Resolved",
            Opened_At=T1 - dt.timedelta(days=400),
            Last_Reply_At=T1 - dt.timedelta(days=399),
            Resolved_At=T1 - dt.timedelta(days=398),
            Resolution="Refunded",
        ),
        # Nothing happens to this one, but the clock makes it overdue (Chat: 1 h target).
        case(
            Case_ID="11000000007",
            Channel="Chat",
            Opened_At=T1 - dt.timedelta(minutes=20),
            Owner="Chen Jing",
        ),
    ]


def edits() -> tuple[dict[str, dict[str, Any]], set[str], list[dict[str, Any]]]:
    changed = {
        "11000000001": {"Last Reply At": T2 - dt.timedelta(hours=2)},
        "11000000002": {"Last Sent At": T2 - dt.timedelta(hours=1), "Follow-ups": 1},
        "11000000003": {
            "Status": "Resolved",
            "Resolved At": T2 - dt.timedelta(hours=3),
            "Resolution": "Fixed",
        },
        "11000000005": {"Status": "Pending Amazon action"},
    }
    new = [case(Case_ID="11000000008", Opened_At=T2 - dt.timedelta(hours=1), Owner="Emma")]
    return changed, {"11000000004"}, new


def edit_excel(
    path: Path,
    changed: dict[str, dict[str, Any]],
    deleted: set[str],
    new: list[dict[str, Any]],
) -> None:
    """Edit the Cases tab as a person would in Excel (openpyxl keeps caseloop's marks)."""
    book = openpyxl.load_workbook(path)
    sheet = book["Cases"]
    header = [c.value for c in sheet[1]]
    col = {name: header.index(name) + 1 for name in header if name}
    for r in range(sheet.max_row, 1, -1):
        case_id = str(sheet.cell(r, col["Case ID"]).value)
        if case_id in deleted:
            sheet.delete_rows(r)
        for name, value in changed.get(case_id, {}).items():
            sheet.cell(r, col[name]).value = value
    for row in new:
        sheet.append([row.get(h) for h in header])
    book.save(path)


def history_rows(path: Path, title: str = "History") -> list[dict[str, Any]]:
    sheet = openpyxl.load_workbook(path, read_only=True)[title]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    header = rows[1]
    return [dict(zip(header, r, strict=False)) for r in rows[2:]]


def sync(path: Path, now: dt.datetime, *extra: str) -> Any:
    result = CliRunner().invoke(main, ["sync", str(path), "--now", iso(now), *extra])
    assert result.exit_code == 0, result.output
    return result


def by_case(rows: list[dict[str, Any]], as_of: dt.datetime) -> dict[tuple[str, str], dict]:
    stamp = as_of.strftime("%Y-%m-%d %H:%M")
    return {(r["Case ID"], r["What changed"]): r for r in rows if r["As of"] == stamp}


# --- Excel ------------------------------------------------------------------------------------


def test_the_first_sync_writes_a_quiet_baseline_of_every_shown_case(tmp_path: Path) -> None:
    log = write_xlsx(tmp_path / "log.xlsx", the_cases(), HEADERS)
    result = sync(log, T1)
    assert "History" in result.output
    rows = history_rows(log)
    assert {r["What changed"] for r in rows} == {"Watched from here"}
    # The case resolved a year ago is not on the Status tab, so not in the baseline.
    assert sorted(r["Case ID"] for r in rows) == [f"1100000000{n}" for n in (1, 2, 3, 4, 5, 7)]
    assert all(r["Notified"] is None for r in rows)
    assert all(r["As of"] == "2026-11-20 18:00" for r in rows)
    first = next(r for r in rows if r["Case ID"] == "11000000001")
    assert first["Flag (after)"] == first["To"] == "ON TRACK" and first["Owner"] == "Li Wei"
    assert first["Seen (caseloop reads this)"].startswith("status=Open; flag=ON TRACK;")


def test_each_kind_of_change_is_one_row_on_excel(tmp_path: Path) -> None:
    log = write_xlsx(tmp_path / "log.xlsx", the_cases(), HEADERS)
    sync(log, T1)
    edit_excel(log, *edits())
    result = sync(log, T2)
    rows = by_case(history_rows(log), T2)
    assert "History: 9 change(s) recorded in 'History'." in result.output

    replied = rows[("11000000001", "Amazon answered")]
    assert (replied["From"], replied["To"]) == (None, "2026-11-21 10:00")
    turned = rows[("11000000001", "Flag")]
    assert (turned["From"], turned["To"], turned["Flag (after)"]) == (
        "ON TRACK",
        "OUR TURN",
        "OUR TURN",
    )
    followed = rows[("11000000002", "We followed up")]
    assert (followed["From"], followed["To"]) == ("2026-11-20 13:00 · 0", "2026-11-21 11:00 · 1")
    resolved = rows[("11000000003", "Resolved")]
    assert (resolved["From"], resolved["To"], resolved["Flag (after)"]) == (
        "Open",
        "Resolved",
        "RESOLVED",
    )
    # The deleted row keeps the last values seen: its flag, owner and state.
    gone = rows[("11000000004", "Row gone from the log")]
    assert (gone["From"], gone["To"], gone["Flag (after)"], gone["Owner"]) == (
        "ON TRACK",
        None,
        None,
        "Wang Fang",
    )
    assert gone["Seen (caseloop reads this)"].startswith("status=Open; flag=ON TRACK;")
    label = rows[("11000000005", "Status")]
    assert (label["From"], label["To"]) == ("Work in progress", "Pending Amazon action")
    overdue = rows[("11000000007", "Flag")]
    assert (overdue["From"], overdue["To"]) == ("ON TRACK", "OVERDUE")
    new = rows[("11000000008", "New case")]
    assert (new["From"], new["To"], new["Owner"]) == (None, "ON TRACK", "Emma")
    assert set(rows) == {
        ("11000000001", "Amazon answered"),
        ("11000000001", "Flag"),
        ("11000000002", "We followed up"),
        ("11000000003", "Resolved"),
        ("11000000004", "Row gone from the log"),
        ("11000000005", "Status"),
        ("11000000005", "Flag"),  # waiting 19 h of Amazon's 24: DUE SOON
        ("11000000007", "Flag"),
        ("11000000008", "New case"),
    }

    # The next sync with nothing changed adds nothing: the memory holds.
    before = history_rows(log)
    result = sync(log, T2 + dt.timedelta(minutes=10))
    assert "History: 0 change(s)" in result.output
    assert history_rows(log) == before


def test_a_closed_case_opened_again_is_reopened_and_the_language_can_change(
    tmp_path: Path,
) -> None:
    closed = case(
        Case_ID="11000000009",
        Status="Resolved",
        Resolved_At=T1 - dt.timedelta(hours=1),
        Last_Reply_At=T1 - dt.timedelta(hours=1.5),
        Resolution="Done",
    )
    log = write_xlsx(tmp_path / "log.xlsx", [closed], HEADERS)
    sync(log, T1)
    edit_excel(log, {"11000000009": {"Status": "Open", "Resolved At": None}}, set(), [])
    sync(log, T2, "--lang", "zh")
    book = openpyxl.load_workbook(log, read_only=True)
    assert "历史" in book.sheetnames and "History" not in book.sheetnames
    rows = history_rows(log, "历史")
    reopened = next(r for r in rows if r["变化"] == "重新打开")
    assert (reopened["原来"], reopened["现在"]) == ("已解决", "处理中")
    # The baseline written in English reads back, now worded in Chinese.
    assert any(r["变化"] == "开始记录" and r["变化后预警"] == "已解决" for r in rows)


def test_a_history_tab_edited_into_nonsense_is_started_afresh(tmp_path: Path) -> None:
    log = write_xlsx(tmp_path / "log.xlsx", the_cases(), HEADERS)
    sync(log, T1)
    book = openpyxl.load_workbook(log)
    book["History"]["I5"] = "see Emma's note"
    book.save(log)
    result = sync(log, T2)
    assert (
        'caseloop: warning: Row 5 of the tab "History" is not as caseloop wrote it (it was '
        "edited by hand), so caseloop starts the history afresh with this run." in result.output
    )
    rows = history_rows(log)
    assert {r["What changed"] for r in rows} == {"Watched from here"}
    assert {r["As of"] for r in rows} == {"2026-11-21 12:00"}

    book = openpyxl.load_workbook(log)
    book["History"].delete_rows(1, 2)  # the title and header lines gone
    book.save(log)
    result = sync(log, T2)
    assert "has lost caseloop's header row" in result.output
    assert len([line for line in result.output.splitlines() if "warning" in line]) == 1


def test_keep_days_drops_old_rows_but_keeps_what_caseloop_last_saw(tmp_path: Path) -> None:
    rules = yaml.safe_load(DEFAULT_RULES.read_text(encoding="utf-8"))
    rules["history"] = {"keep_days": 2}
    rules_path = tmp_path / "rules.yaml"
    rules_path.write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")
    log = write_xlsx(tmp_path / "log.xlsx", the_cases(), HEADERS)
    sync(log, T1, "--rules", str(rules_path))
    edit_excel(log, *edits())
    sync(log, T2, "--rules", str(rules_path))
    later = T2 + dt.timedelta(days=5)
    result = sync(log, later, "--rules", str(rules_path))
    rows = history_rows(log)
    # Every row is older than 2 days, so only the newest row of each case still on the Status
    # tab stays: the deleted case's row and the superseded baseline rows are gone.
    assert "11000000004" not in {r["Case ID"] for r in rows}
    ids = [r["Case ID"] for r in rows]
    assert len(ids) == len(set(ids))
    # ... and the memory still holds: the kept rows are what caseloop last saw.
    assert "History: 0 change(s)" in sync(log, later, "--rules", str(rules_path)).output
    assert "rows kept 2 days" in str(
        openpyxl.load_workbook(log, read_only=True)["History"]["A1"].value
    )
    assert result.exit_code == 0


def test_a_team_tab_called_history_is_left_alone(tmp_path: Path) -> None:
    log = write_xlsx(
        tmp_path / "log.xlsx",
        the_cases(),
        HEADERS,
        extra_tabs={"History": [["Our own notes"]]},
    )
    result = sync(log, T1)
    assert "'caseloop History'" in result.output
    book = openpyxl.load_workbook(log, read_only=True)
    assert [list(r) for r in book["History"].iter_rows(values_only=True)] == [["Our own notes"]]
    sync(log, T2)
    assert history_rows(log, "caseloop History")  # found again by its mark


# --- Google (the fake over real HTTP) ---------------------------------------------------------

KEY = "1HistorySheetKey_caseloop"


def authorized_user_file(tmp_path: Path) -> Path:
    return hostile_credentials(tmp_path / "authorized_user.json")


def test_history_on_a_google_sheet_in_at_most_four_requests(
    fake_sheets: FakeSheetsServer, tmp_path: Path
) -> None:
    source = write_xlsx(tmp_path / "seed.xlsx", the_cases(), HEADERS)
    seed = openpyxl.load_workbook(source, read_only=True)["Cases"]
    book = fake_sheets.add_spreadsheet(KEY, timezone="Asia/Shanghai")
    book.add_sheet("Cases", [list(r) for r in seed.iter_rows(values_only=True)])
    url = f"https://docs.google.com/spreadsheets/d/{KEY}/edit"
    args = ["--credentials", str(authorized_user_file(tmp_path))]
    obj = {"http_client": fake_client_class(fake_sheets.url)}
    runner = CliRunner()

    result = runner.invoke(main, ["sync", url, *args, "--now", iso(T1)], obj=obj)
    assert result.exit_code == 0, result.output
    assert [r.kind for r in fake_sheets.log] == ["metadata", "values", "batchUpdate"]

    # A person follows up on case 2 and deletes case 4's row (row 5 of the tab).
    header = HEADERS
    fake_sheets.edit(KEY, "Cases", f"{_col(header.index('Follow-ups'))}3", 1)
    for c in range(len(header)):
        fake_sheets.edit(KEY, "Cases", f"{_col(c)}5", None)
    fake_sheets.clear_log()
    result = runner.invoke(main, ["sync", url, *args, "--now", iso(T2)], obj=obj)
    assert result.exit_code == 0, result.output
    # The History tab is read in the same request as the cases.
    assert [r.kind for r in fake_sheets.log] == ["metadata", "batchGet", "batchUpdate"]
    history = fake_sheets.book(KEY).sheet("History")
    rows = [r for r in history.values()[2:] if r and r[0] == "2026-11-21 12:00"]
    changes_seen = {(r[1], r[2]) for r in rows}
    assert ("11000000002", "We followed up") in changes_seen
    assert ("11000000004", "Row gone from the log") in changes_seen
    assert ("11000000007", "Flag") in changes_seen
    followed = next(r for r in rows if r[2] == "We followed up")
    assert followed[3:5] == ["2026-11-20 13:00 · 0", "2026-11-20 13:00 · 1"]

    # The weekly report reads it too, in the same single read.
    fake_sheets.clear_log()
    result = runner.invoke(main, ["report", url, *args, "--now", iso(T2)], obj=obj)
    assert result.exit_code == 0, result.output
    assert [r.kind for r in fake_sheets.log] == ["metadata", "batchGet", "batchUpdate"]


def _col(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


# --- the library: notifications, reading back, the weekly numbers -----------------------------


def judged_at(cases: list[dict[str, Any]], now: dt.datetime) -> pd.DataFrame:
    from caselog import grid

    as_of = pd.Timestamp(now)
    return evaluate(build_frame(grid(cases), SCHEMA, RULES, as_of).cases, RULES, as_of)


def round_trip(history: History, lang: str = "en") -> History:
    """The History as its tab shows it, read back the way the next run reads it."""
    model = render_history(history, RULES, LABELS, lang, T2, 400)
    grid = Grid("History", [[cell.value for cell in row] for row in model.rows])
    read = read_history(grid, RULES, LABELS)
    assert read.history is not None and not read.afresh
    return read.history


def test_alerts_start_pending_and_are_sent_once(tmp_path: Path) -> None:
    cases = the_cases()
    first = changes(None, judged_at(cases, T1), pd.Timestamp(T1))
    history = updated(None, first, judged_at(cases, T1), pd.Timestamp(T1), 400)
    assert set(history.rows["notified"]) == {""}  # the baseline alerts nobody

    judged = judged_at(cases, T2)
    added = changes(round_trip(history), judged, pd.Timestamp(T2), notifying=True)
    history = updated(round_trip(history), added, judged, pd.Timestamp(T2), 400)
    rows = history.rows
    pending = rows.index[rows["notified"].eq("pending")]
    # Case 7 turned OVERDUE: the one alert. Case 1's flag did not change.
    assert rows.loc[pending, "case_id"].tolist() == ["11000000007"]
    assert list(due_alerts(history, pd.Timestamp(T2))) == list(pending)

    failed = round_trip(record_delivery(history, pending, failed=True))
    due = due_alerts(failed, pd.Timestamp(T2 + dt.timedelta(hours=23)))
    assert failed.rows.loc[due, "case_id"].tolist() == ["11000000007"]
    assert due_alerts(failed, pd.Timestamp(T2 + dt.timedelta(hours=25))).empty

    sent = round_trip(record_delivery(failed, due, delivered=["WeCom", "Slack"]))
    row = sent.rows[sent.rows["notified"].ne("")].iloc[0]
    assert (row["notified"], row["services"]) == ("sent", "WeCom, Slack")
    assert due_alerts(sent, pd.Timestamp(T2)).empty  # never twice once delivered
    model = render_history(sent, RULES, LABELS, "en", T2, 400)
    notified = COLUMNS.index("notified")
    texts = [r[notified].value for r in model.rows[2:] if r[notified].value]
    assert texts == ["Sent: WeCom, Slack"]

    held = round_trip(record_delivery(history, pending, held=pending, failed=True), "zh")
    assert due_alerts(held, pd.Timestamp(T2 + dt.timedelta(days=3))).tolist() == list(pending)


def weekly_with_history(now: dt.datetime, week: str) -> Any:
    """Case 1 is escalated from Tue to Thu of 2026-W45 and resolved; the history began in W44."""
    escalated = case(
        Case_ID="11000000001",
        Status="Resolved",
        Opened_At=dt.datetime(2026, 10, 28, 9),
        Last_Reply_At=dt.datetime(2026, 11, 5, 10),
        Resolved_At=dt.datetime(2026, 11, 5, 12),
        Resolution="Done",
        Owner="Li Wei",
    )
    seen = "status={s}; flag={f}; reply=; sent=; follow_ups=0"
    rows = pd.DataFrame(
        [
            (dt.datetime(2026, 11, 5, 12), "resolved", "Open", "Resolved", "RESOLVED", "Resolved"),
            (dt.datetime(2026, 11, 3, 9), "flag", "OVERDUE", "ESCALATE", "ESCALATE", "Open"),
            (dt.datetime(2026, 10, 30, 9), "flag", "ON TRACK", "OVERDUE", "OVERDUE", "Open"),
            (dt.datetime(2026, 10, 29, 9), "baseline", None, "ON TRACK", "ON TRACK", "Open"),
        ],
        columns=["as_of", "change", "from", "to", "flag", "status"],
    )
    rows["as_of"] = pd.to_datetime(rows["as_of"])
    rows["case_id"] = "11000000001"
    rows["owner"] = "Li Wei"
    rows["notified"] = ""
    rows["services"] = ""
    rows["seen"] = [
        seen.format(s=s, f=f) for s, f in zip(rows["status"], rows["flag"], strict=True)
    ]
    history = History(rows[[*COLUMNS, "services"]], started=rows["as_of"].min())
    judged = judged_at([escalated], now)
    return weekly_report(judged, RULES, pd.Timestamp(now), Week.parse(week), history)


def test_the_weekly_summary_counts_flags_carried_during_each_week() -> None:
    report = weekly_with_history(dt.datetime(2026, 11, 20, 18), "2026-W46")
    weeks = report.weeks.set_index("week")
    # Escalated Tue–Thu of W45: counted there; overdue in W44 and W45 (until escalated).
    assert weeks.loc["2026-W45", "escalated"] == 1 and weeks.loc["2026-W45", "overdue"] == 1
    assert weeks.loc["2026-W44", "escalated"] == 0 and weeks.loc["2026-W44", "overdue"] == 1
    assert weeks.loc["2026-W46", "escalated"] == 0
    # Weeks before the history began stay blank.
    assert weeks.loc["2026-W43", "escalated"] is None
    open_by_flag = report.open_by_flag.set_index("week")
    assert open_by_flag.loc["2026-W44", "OVERDUE"] == 1
    assert open_by_flag.loc["2026-W45", "OVERDUE"] == 0  # resolved by the end of W45
    assert open_by_flag.loc["2026-W43", "OVERDUE"] is None
    assert report.history_started == pd.Timestamp(2026, 10, 29, 9)


def test_the_weekly_summary_has_a_table_by_owner() -> None:
    report = weekly_with_history(dt.datetime(2026, 11, 7, 18), "2026-W45")
    owners = report.owners.set_index("owner")
    # Two alerts in W45? The turn into ESCALATE (Tue); OVERDUE came in W44.
    assert owners.loc["Li Wei", "alerts"] == 1
    assert owners.loc["Li Wei", "count"] == 0  # resolved by the end of the week
    from caseloop.markdown import weekly_markdown

    text = weekly_markdown(report, RULES, LABELS, "en", T2)
    assert "### 2026-W45 by owner" in text
    assert "| Li Wei | 0 | 1 |" in text
    assert "### Open cases by flag at each week's end" in text
