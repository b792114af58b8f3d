"""sync --notify end to end over real sockets on 127.0.0.1: the first run's one line, nothing
when nothing changed, exactly the case that turned urgent, a service that fails then recovers
(exit 3, retried, delivered once), quiet hours, --dry-run, --all, e-mail, and the same on a
Google Sheet (the fake) in at most 4 requests; the History tab's Notified cells say what
happened and no URL secret is ever shown or written."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner
from receivers import Inbox

from caseloop.cli import main
from caseloop.datafiles import DEFAULT_RULES

from caselog import HEADERS, write_xlsx
from fakesheets import FakeSheetsServer, fake_client_class
from hostile import authorized_user_file as hostile_credentials

pytest_plugins = ["fakesheets.fixtures"]

NOW = dt.datetime(2026, 11, 20, 18, 0)
SECRET = "S3CRETtoken9"
OVERDUE_ID = "17000000001"
CALM_ID = "17000000002"
DEADLINE_ID = "17000000003"
HEADERS_WITH_STORE = [*HEADERS, "Store"]


def at(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


def cases(deadline: dt.datetime | None = None) -> list[dict[str, Any]]:
    """A case waiting on Amazon since 16:00 (a Case answers within 24 h: OVERDUE from 16:00 the
    next day), one opened at 18:00 (still in time then), and with ``deadline`` a claim due then."""
    rows = [
        {
            "Case ID": OVERDUE_ID,
            "Store": "NorthPeak Gear",
            "Marketplace": "US",
            "Category": "Advertising",
            "Channel": "Case",
            "Status": "Open",
            "Opened At": NOW - dt.timedelta(hours=2),
            "Follow-ups": 0,
            "Owner": "Li Wei",
            "Summary": "Campaign stuck in review",
        },
        {
            "Case ID": CALM_ID,
            "Store": "Lumora Home",
            "Marketplace": "UK",
            "Category": "Listing",
            "Channel": "Case",
            "Status": "Open",
            "Opened At": NOW,
            "Follow-ups": 0,
            "Owner": "Emma",
            "Summary": "Listing suppressed",
            "ASIN": "B0C1234567",
        },
    ]
    if deadline is not None:
        rows.append(
            {
                "Case ID": DEADLINE_ID,
                "Store": "Velden Kitchen",
                "Marketplace": "DE",
                "Category": "Orders & returns",
                "Channel": "Case",
                "Status": "Open",
                "Opened At": NOW - dt.timedelta(hours=1),
                "Deadline": deadline,
                "Follow-ups": 0,
                "Owner": "Wang Fang",
                "Summary": "A-to-z claim on order 114-1234567-1234567",
                "Order ID": "114-1234567-1234567",
            }
        )
    return rows


def make_log(path: Path, deadline: dt.datetime | None = None) -> Path:
    return write_xlsx(path, cases(deadline), headers=HEADERS_WITH_STORE)


def sync(log: Path | str, now: dt.datetime, *extra: Any, obj: Any = None) -> Any:
    args = ["sync", str(log), "--now", at(now), *(str(a) for a in extra)]
    return CliRunner().invoke(main, args, obj=obj)


def history_rows(path: Path) -> list[dict[str, Any]]:
    """The History tab's rows under its header, by column name."""
    sheet = openpyxl.load_workbook(path, read_only=True)["History"]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    header = rows[1]
    return [dict(zip(header, r, strict=False)) for r in rows[2:]]


def all_history_text(path: Path) -> str:
    sheet = openpyxl.load_workbook(path, read_only=True)["History"]
    return "\n".join(str(v) for row in sheet.iter_rows(values_only=True) for v in row if v)


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Apprise's retries of a failing service without the second's wait in between."""
    monkeypatch.setattr("caseloop.notify.RETRY_WAIT", 0.0)
    monkeypatch.delenv("CASELOOP_NOTIFY", raising=False)
    monkeypatch.delenv("CASELOOP_CONFIG", raising=False)


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no caseloop.toml of the developer's around
    return make_log(tmp_path / "cases.xlsx")


# --- the first run, no change, one case turning OVERDUE ---------------------------------------


def test_first_sync_sends_one_line_then_nothing_until_a_case_turns_overdue(log, receiver):
    hook = receiver()
    url = hook.url("json", f"/{SECRET}?token={SECRET}")

    first = sync(log, NOW, "--notify", url)
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines()[-1] == (
        "Alerts: told JSON (json://127.0.0.1) that caseloop now watches this log."
    )
    assert hook.accepted() == [
        f"caseloop now watches 2 open cases: ON TRACK 2.\n\nStatus tab: {log}"
    ]

    again = sync(log, NOW + dt.timedelta(minutes=10), "--notify", url)
    assert again.exit_code == 0, again.output
    assert len(hook.requests) == 1  # nothing changed: nothing sent
    assert "Alerts:" not in again.output

    # 16:00 the next day the first case has waited 24 h: OVERDUE. The other is DUE SOON (a
    # History row, no alert).
    later = sync(log, NOW + dt.timedelta(hours=23), "--notify", url)
    assert later.exit_code == 0, later.output
    assert "Alerts: 1 case(s) sent to JSON (json://127.0.0.1)." in later.stdout
    assert len(hook.requests) == 2
    message = hook.accepted()[-1]
    assert message == (
        "**caseloop: 1 case(s) to act on**\n\n"
        f"- **OVERDUE** · {OVERDUE_ID} · NorthPeak Gear (US) · Advertising · Li Wei · "
        f"Follow up on case {OVERDUE_ID} with one short message · due 2026-11-21 16:00\n\n"
        f"Status tab: {log}"
    )
    assert CALM_ID not in message
    rows = history_rows(log)
    newest = {r["Case ID"]: r for r in rows if r["As of"] == "2026-11-21 17:00"}
    assert newest[OVERDUE_ID]["To"] == "OVERDUE"
    assert newest[OVERDUE_ID]["Notified"] == "Sent: JSON (json://127.0.0.1)"
    assert newest[CALM_ID]["To"] == "DUE SOON" and newest[CALM_ID]["Notified"] is None

    # Two more runs: the alert is never sent twice.
    for minutes in (10, 20):
        quiet = sync(log, NOW + dt.timedelta(hours=23, minutes=minutes), "--notify", url)
        assert quiet.exit_code == 0, quiet.output
    assert len(hook.requests) == 2
    for result in (first, again, later):
        assert SECRET not in result.output
    assert SECRET not in all_history_text(log)


def test_dry_run_sends_nothing(log, receiver):
    hook = receiver()
    sync(log, NOW, "--notify", hook.url())
    result = sync(log, NOW + dt.timedelta(hours=23), "--notify", hook.url(), "--dry-run")
    assert result.exit_code == 0, result.output
    assert len(hook.requests) == 1  # the first run's line only


def test_without_notify_no_row_is_pending(log):
    sync(log, NOW)
    assert sync(log, NOW + dt.timedelta(hours=23)).exit_code == 0
    assert all(r["Notified"] is None for r in history_rows(log))


# --- delivery fails, then recovers -------------------------------------------------------------


def test_a_failing_service_exits_3_and_the_next_run_delivers_once(log, receiver):
    sync(log, NOW)  # the baseline, without alerts
    down = receiver(codes=[500] * 10)
    failed = sync(log, NOW + dt.timedelta(hours=23), "--notify", down.url("json", f"/{SECRET}"))
    assert failed.exit_code == 3, failed.output
    assert failed.stderr == (
        "caseloop: written; alerts not delivered to JSON (json://127.0.0.1), will retry.\n"
    )
    assert SECRET not in failed.output
    assert len(down.requests) == 3  # one try and Apprise's 2 retries
    # The tabs were written: the Status tab judges the new time, History says "will retry".
    status = openpyxl.load_workbook(log, read_only=True)["Status"]
    flags = {r[0]: r for r in status.iter_rows(values_only=True) if r and r[0] in (OVERDUE_ID,)}
    assert "OVERDUE" in flags[OVERDUE_ID]
    [row] = [r for r in history_rows(log) if r["Case ID"] == OVERDUE_ID and r["To"] == "OVERDUE"]
    assert row["Notified"] == "Not delivered, will retry"

    fixed = receiver()
    retried = sync(log, NOW + dt.timedelta(hours=23, minutes=10), "--notify", fixed.url())
    assert retried.exit_code == 0, retried.output
    [message] = fixed.accepted()
    assert f"- **OVERDUE** · {OVERDUE_ID} · NorthPeak Gear (US)" in message
    [row] = [r for r in history_rows(log) if r["Case ID"] == OVERDUE_ID and r["To"] == "OVERDUE"]
    assert row["Notified"] == "Sent: JSON (json://127.0.0.1)"

    assert (
        sync(log, NOW + dt.timedelta(hours=23, minutes=20), "--notify", fixed.url()).exit_code == 0
    )
    assert len(fixed.requests) == 1  # delivered once, never again
    assert SECRET not in all_history_text(log)


def test_an_alert_not_delivered_for_a_day_is_not_sent_any_more(log, receiver):
    sync(log, NOW)
    down = receiver(codes=[500] * 10)
    assert sync(log, NOW + dt.timedelta(hours=23), "--notify", down.url()).exit_code == 3
    fixed = receiver()
    late = sync(log, NOW + dt.timedelta(hours=48), "--notify", fixed.url())
    assert late.exit_code == 0, late.output
    # The other case turned OVERDUE since and is announced; the first one's alert is a day
    # old and is not sent any more.
    [message] = fixed.accepted()
    assert f"**OVERDUE** · {CALM_ID}" in message and OVERDUE_ID not in message


# --- quiet hours ---------------------------------------------------------------------------


def quiet_rules(tmp_path: Path) -> Path:
    text = DEFAULT_RULES.read_text(encoding="utf-8")
    assert 'quiet_hours: ""' in text
    path = tmp_path / "rules.yaml"
    path.write_text(text.replace('quiet_hours: ""', 'quiet_hours: "22:00-08:00"'), "utf-8")
    return path


def test_quiet_hours_hold_an_overdue_case_and_let_a_deadline_through(
    tmp_path, receiver, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    # The claim's deadline is 2026-11-23 18:00: within 48 h (DEADLINE) from 2026-11-21 18:00.
    log = make_log(tmp_path / "cases.xlsx", deadline=NOW + dt.timedelta(days=3))
    rules = quiet_rules(tmp_path)
    hook = receiver()
    first = sync(log, NOW, "--rules", rules, "--notify", hook.url())
    assert first.exit_code == 0, first.output
    assert len(hook.accepted()) == 1  # the "now watches" line

    night = NOW + dt.timedelta(hours=29)  # 2026-11-21 23:00, in the quiet hours
    result = sync(log, night, "--rules", rules, "--notify", hook.url())
    assert result.exit_code == 0, result.output
    assert "Alerts: 1 case(s) sent to JSON (json://127.0.0.1)." in result.stdout
    # Both other cases have waited over 24 h by now: both OVERDUE, both held.
    assert "Alerts: 2 case(s) held until 08:00 (quiet hours)." in result.stdout
    message = hook.accepted()[-1]
    assert f"**DEADLINE** · {DEADLINE_ID} · Velden Kitchen (DE)" in message
    assert "deadline 2026-11-23 18:00" in message
    assert OVERDUE_ID not in message and CALM_ID not in message
    notified = {
        r["Case ID"]: r["Notified"] for r in history_rows(log) if r["As of"] == "2026-11-21 23:00"
    }
    assert notified[DEADLINE_ID] == "Sent: JSON (json://127.0.0.1)"
    assert notified[OVERDUE_ID] == notified[CALM_ID] == "Held (quiet hours)"

    still_night = sync(log, night + dt.timedelta(hours=4), "--rules", rules, "--notify", hook.url())
    assert still_night.exit_code == 0, still_night.output
    assert len(hook.requests) == 2  # still held at 03:00

    morning = sync(
        log, NOW + dt.timedelta(hours=38, minutes=30), "--rules", rules, "--notify", hook.url()
    )
    assert morning.exit_code == 0, morning.output
    assert len(hook.requests) == 3
    message = hook.accepted()[-1]
    assert f"**OVERDUE** · {OVERDUE_ID}" in message and f"**OVERDUE** · {CALM_ID}" in message
    assert DEADLINE_ID not in message
    notified = {
        r["Case ID"]: r["Notified"] for r in history_rows(log) if r["As of"] == "2026-11-21 23:00"
    }
    assert notified[OVERDUE_ID] == "Sent: JSON (json://127.0.0.1)"
    assert (
        sync(log, NOW + dt.timedelta(hours=39), "--rules", rules, "--notify", hook.url()).exit_code
        == 0
    )
    assert len(hook.requests) == 3


# --- e-mail, companions, several logs -----------------------------------------------------


def test_an_overdue_case_by_email(log):
    sync(log, NOW)
    inbox = Inbox()
    try:
        result = sync(log, NOW + dt.timedelta(hours=23), "--notify", inbox.url())
    finally:
        inbox.close()
    assert result.exit_code == 0, result.output
    assert "Alerts: 1 case(s) sent to E-Mail (mailto://127.0.0.1)." in result.stdout
    [text] = inbox.texts()
    assert f"- OVERDUE · {OVERDUE_ID} · NorthPeak Gear (US) · Advertising · Li Wei" in text


def test_with_to_the_companion_holds_the_notified_cells_and_the_link(log, tmp_path, receiver):
    hook = receiver()
    companion = tmp_path / "status.xlsx"
    assert sync(log, NOW, "--to", companion, "--notify", hook.url()).exit_code == 0
    result = sync(log, NOW + dt.timedelta(hours=23), "--to", companion, "--notify", hook.url())
    assert result.exit_code == 0, result.output
    assert hook.accepted()[-1].endswith(f"Status tab: {companion}")
    [row] = [r for r in history_rows(companion) if r["To"] == "OVERDUE"]
    assert row["Notified"] == "Sent: JSON (json://127.0.0.1)"


def test_with_output_the_copy_holds_the_notified_cells(log, tmp_path, receiver):
    hook = receiver()
    copy = tmp_path / "out" / "copy.xlsx"
    assert sync(log, NOW, "--output", copy).exit_code == 0
    result = sync(
        copy, NOW + dt.timedelta(hours=23), "--output", tmp_path / "c2.xlsx", "--notify", hook.url()
    )
    assert result.exit_code == 0, result.output
    [row] = [r for r in history_rows(tmp_path / "c2.xlsx") if r["To"] == "OVERDUE"]
    assert row["Notified"] == "Sent: JSON (json://127.0.0.1)"
    assert hook.accepted()[-1].endswith(f"Status tab: {tmp_path / 'c2.xlsx'}")


def test_all_counts_a_log_whose_alerts_failed_as_written_and_exits_3(
    tmp_path, receiver, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    make_log(tmp_path / "a.xlsx")
    make_log(tmp_path / "b.xlsx")
    (tmp_path / "caseloop.toml").write_text(
        '[[logs]]\nname = "shop-a"\nlog = "a.xlsx"\n\n[[logs]]\nname = "shop-b"\nlog = "b.xlsx"\n',
        encoding="utf-8",
    )
    runner = CliRunner()
    assert runner.invoke(main, ["sync", "--all", "--now", at(NOW)]).exit_code == 0
    down = receiver(codes=[500] * 20)
    later = at(NOW + dt.timedelta(hours=23))
    result = runner.invoke(
        main, ["sync", "--all", "--now", later, "--notify", down.url("json", f"/{SECRET}")]
    )
    assert result.exit_code == 3, result.output
    assert result.stderr.splitlines() == [
        f"{name}: written; alerts not delivered to JSON (json://127.0.0.1), will retry."
        for name in ("shop-a", "shop-b")
    ]
    assert SECRET not in result.output
    for name in ("a.xlsx", "b.xlsx"):
        [row] = [r for r in history_rows(tmp_path / name) if r["To"] == "OVERDUE"]
        assert row["Notified"] == "Not delivered, will retry"


# --- Google Sheets (the fake) --------------------------------------------------------------

KEY = "1AlertSheetKey_caseloop"


def authorized_user_file(tmp_path: Path) -> Path:
    return hostile_credentials(tmp_path / "authorized_user.json")


def test_google_sync_sends_the_alert_and_records_it_in_at_most_4_requests(
    fake_sheets: FakeSheetsServer, tmp_path: Path, receiver, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    book = fake_sheets.add_spreadsheet(KEY, timezone="Asia/Shanghai")
    rows = [HEADERS_WITH_STORE] + [[c.get(h) for h in HEADERS_WITH_STORE] for c in cases()]
    book.add_sheet("Cases", rows)
    cases_before = dict(book.sheet("Cases").cells)
    obj = {"http_client": fake_client_class(fake_sheets.url)}
    creds = authorized_user_file(tmp_path)
    hook = receiver()
    url = hook.url("json", f"/{SECRET}")
    sheet = f"https://docs.google.com/spreadsheets/d/{KEY}"

    first = sync(f"gsheet:{KEY}", NOW, "--credentials", creds, "--notify", url, obj=obj)
    assert first.exit_code == 0, first.output
    assert [r.kind for r in fake_sheets.log] == ["metadata", "values", "batchUpdate"]
    assert hook.accepted() == [
        f"caseloop now watches 2 open cases: ON TRACK 2.\n\nStatus tab: {sheet}"
    ]

    fake_sheets.clear_log()
    again = sync(
        f"gsheet:{KEY}",
        NOW + dt.timedelta(minutes=10),
        "--credentials",
        creds,
        "--notify",
        url,
        obj=obj,
    )
    assert again.exit_code == 0, again.output
    assert [r.kind for r in fake_sheets.log] == ["metadata", "batchGet", "batchUpdate"]
    assert len(hook.requests) == 1

    fake_sheets.clear_log()
    later = sync(
        f"gsheet:{KEY}",
        NOW + dt.timedelta(hours=23),
        "--credentials",
        creds,
        "--notify",
        url,
        obj=obj,
    )
    assert later.exit_code == 0, later.output
    assert [r.kind for r in fake_sheets.log] == [
        "metadata",
        "batchGet",
        "batchUpdate",
        "batchUpdate",
    ]
    message = hook.accepted()[-1]
    assert f"- **OVERDUE** · {OVERDUE_ID} · NorthPeak Gear (US) · Advertising · Li Wei" in message
    assert message.endswith(f"Status tab: {sheet}") and CALM_ID not in message
    history = fake_sheets.book(KEY).sheet("History").values()
    header = history[1]
    found = [dict(zip(header, r, strict=False)) for r in history[2:]]
    [row] = [r for r in found if r.get("To") == "OVERDUE"]
    assert row["Case ID"] == OVERDUE_ID and row["Notified"] == "Sent: JSON (json://127.0.0.1)"
    assert not any(SECRET in str(v) for r in history for v in r)
    assert fake_sheets.book(KEY).sheet("Cases").cells == cases_before

    # A failing service on Google: exit 3, "will retry" on the sheet, delivered by the next run.
    down = receiver(codes=[500] * 10)
    fake_sheets.clear_log()
    failed = sync(
        f"gsheet:{KEY}",
        NOW + dt.timedelta(hours=47),
        "--credentials",
        creds,
        "--notify",
        down.url(),
        obj=obj,
    )
    assert failed.exit_code == 3, failed.output
    assert len(fake_sheets.log) <= 4
    fixed = receiver()
    retried = sync(
        f"gsheet:{KEY}",
        NOW + dt.timedelta(hours=47, minutes=10),
        "--credentials",
        creds,
        "--notify",
        fixed.url(),
        obj=obj,
    )
    assert retried.exit_code == 0, retried.output
    [message] = fixed.accepted()
    assert CALM_ID in message and "**OVERDUE**" in message


def test_a_file_changed_during_the_delivery_keeps_its_history_and_says_so(
    log, receiver, monkeypatch
):
    import os

    import caseloop.notify

    sync(log, NOW)
    real = caseloop.notify.deliver

    def deliver_while_someone_saves(targets, messages):
        done = real(targets, messages)
        stat = log.stat()
        os.utime(log, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # "saved" meanwhile
        return done

    monkeypatch.setattr(caseloop.notify, "deliver", deliver_while_someone_saves)
    hook = receiver()
    result = sync(log, NOW + dt.timedelta(hours=23), "--notify", hook.url())
    assert result.exit_code == 0, result.output
    assert len(hook.accepted()) == 1
    assert result.stderr == (
        f"caseloop: warning: {log} changed after this run wrote it (another caseloop run, or "
        "someone saved it): the alerts went out, but the Notified cells of its History still "
        "say Pending, so the next run may send them again.\n"
    )
    [row] = [r for r in history_rows(log) if r["To"] == "OVERDUE"]
    assert row["Notified"] == "Pending"


def test_a_new_case_past_its_deadline_is_announced_in_chinese(log, tmp_path, receiver):
    hook = receiver()
    companion = tmp_path / "status.xlsx"
    assert sync(log, NOW, "--to", companion, "--lang", "zh").exit_code == 0
    # A claim typed into the log after the first run, its deadline already 2 hours gone.
    make_log(log, deadline=NOW - dt.timedelta(hours=1))
    later = NOW + dt.timedelta(hours=1)
    result = sync(log, later, "--to", companion, "--lang", "zh", "--notify", hook.url())
    assert result.exit_code == 0, result.output
    assert "提醒：已将 1 个案例发送到 JSON (json://127.0.0.1)。" in result.stdout
    [message] = hook.accepted()
    assert message.startswith("**caseloop：1 个案例需要处理**\n\n")
    assert (
        f"- **已过截止** · {DEADLINE_ID} · Velden Kitchen（德国） · 订单与退货 · Wang Fang"
        in message
    )
    assert "截止 2026-11-20 17:00" in message
    assert message.endswith(f"状态表：{companion}")
    sheet = openpyxl.load_workbook(companion, read_only=True)["历史"]
    rows = [r for r in sheet.iter_rows(values_only=True) if r[1] == DEADLINE_ID]
    assert [(r[2], r[7]) for r in rows] == [("新案例", "已发送：JSON (json://127.0.0.1)")]


def test_owners_from_caseloop_toml_are_mentioned(log, tmp_path, receiver):
    (tmp_path / "caseloop.toml").write_text('[owners]\n"Li Wei" = "<@U012LIWEI>"\n', "utf-8")
    hook = receiver()
    sync(log, NOW)
    assert sync(log, NOW + dt.timedelta(hours=23), "--notify", hook.url()).exit_code == 0
    [message] = hook.accepted()
    assert (
        f"**OVERDUE** · {OVERDUE_ID} · NorthPeak Gear (US) · Advertising · Li Wei <@U012LIWEI> · "
        in message
    )
