"""Issue 12, the edges a scheduled job meets on a team's Google Sheet: names that differ only in
case, two runs at once, protections, the cell limit, a quota minute already spent, a write Google
applied before it failed, Google's sign-in service down, revoked credentials, and big writes.

Every test goes through the real CLI or the real ``GoogleWorkbook``, real gspread and google-auth,
over HTTP on loopback to the project's fake (tests/fakesheets), which answers as Google does.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import _exponential_backoff as auth_backoff
from google.oauth2 import credentials as user_credentials

import caseloop.engine
from caseloop.backends.gsheets import RetryingHTTPClient, batch
from caseloop.engine import Settings, load, status_model, weekly, weekly_model, write
from caseloop.errors import CaseloopError
from caseloop.model import Cell, SheetModel, Style

from caselog import HEADERS, case
from fakesheets import FakeSheetsServer, FakeSpreadsheet, Fault, fake_client_class
from fakesheets.server import DEFAULT_CALLER
from hostile import NOW_TEXT, assert_one_sentence, authorized_user_file, run

pytest_plugins = ["fakesheets.fixtures"]

KEY = "1EdgesSheetKey_caseloop"
URL = f"https://docs.google.com/spreadsheets/d/{KEY}/edit"
GENERATED = dt.datetime(2026, 11, 20, 18, 5)


# --- the team's sheet and how caseloop is run against it --------------------------------------


def seed(fake: FakeSheetsServer, key: str = KEY, cases: int = 30) -> FakeSpreadsheet:
    book = fake.add_spreadsheet(key, timezone="Asia/Shanghai")
    rows = [HEADERS] + [
        [c.get(h) for h in HEADERS]
        for c in [case(Case_ID=str(12345678900 + n)) for n in range(cases)]
    ]
    book.add_sheet("Cases", rows)
    book.add_sheet("Team notes", [["ours"]])
    return book


def snapshot(fake: FakeSheetsServer, key: str = KEY, *, visible_only: bool = False) -> dict:
    """What a person sees: every tab with its values and formulas (hidden tabs left out when
    ``visible_only``: the web UI does not show them)."""
    return {
        sheet.title: {pos: (cell.value, cell.formula) for pos, cell in sheet.cells.items()}
        for sheet in fake.book(key).sheets
        if not (visible_only and sheet.hidden)
    }


def against(
    fake: FakeSheetsServer,
    credentials: Path,
    *args: str,
    command: str = "sync",
    log: str = URL,
    **knobs: Any,
) -> Any:
    client = fake_client_class(fake.url, **knobs)
    return run(
        command,
        log,
        "--credentials",
        credentials,
        "--now",
        NOW_TEXT,
        *args,
        obj={"http_client": client},
    )


@pytest.fixture(autouse=True)
def pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every run says the same "generated at", so two sheets written alike compare equal."""
    monkeypatch.setattr(caseloop.engine, "generated_at", lambda settings: GENERATED)


@pytest.fixture
def user_file(tmp_path: Path) -> Path:
    """Authorized-user credentials whose token google-auth uses as is (no token endpoint)."""
    return authorized_user_file(tmp_path / "authorized_user.json")


@pytest.fixture
def google(fake_sheets: FakeSheetsServer, user_file: Path) -> Iterator[tuple[dict, dict]]:
    """The sheet before a sync, and as a sync writes it (made on a twin spreadsheet)."""
    seed(fake_sheets)
    seed(fake_sheets, "TWIN")
    before = snapshot(fake_sheets)
    twin = against(fake_sheets, user_file, log="gsheet:TWIN")
    assert twin.exit_code == 0, twin.output
    after = snapshot(fake_sheets, "TWIN")
    fake_sheets.clear_log()
    yield before, after


@pytest.fixture(scope="module")
def private_key_pem() -> str:
    """A real RSA key, so google-auth signs a real JWT for the fake's token endpoint."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def service_account_file(path: Path, fake: FakeSheetsServer, pem: str) -> Path:
    """A service-account key whose token endpoint is the fake's; its e-mail is the caller the
    fake's protections know (the access token the fake hands out belongs to it)."""
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "seller-ops",
                "private_key_id": "1",
                "private_key": pem,
                "client_email": DEFAULT_CALLER,
                "client_id": "1",
                "token_uri": fake.url + "/token",
            }
        )
    )
    path.chmod(0o600)
    return path


@pytest.fixture
def token_endpoint(fake_sheets: FakeSheetsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """google-auth gives authorized-user credentials Google's token endpoint whatever the file
    says ("always overrides"); here it is the fake's."""
    monkeypatch.setattr(
        user_credentials, "_GOOGLE_OAUTH2_TOKEN_ENDPOINT", fake_sheets.url + "/token"
    )


def expired_user_file(path: Path, fake: FakeSheetsServer, refresh_token: str = "r1") -> Path:
    """Authorized-user credentials with no access token: google-auth asks the token endpoint
    (the fake's, see ``token_endpoint``) for one with the refresh token before the first
    request."""
    path.write_text(
        json.dumps(
            {
                "type": "authorized_user",
                "refresh_token": refresh_token,
                "client_id": "c.apps.googleusercontent.com",
                "client_secret": "s",
            }
        )
    )
    path.chmod(0o600)
    return path


@pytest.fixture
def no_auth_waits(monkeypatch: pytest.MonkeyPatch, token_endpoint: None) -> list[float]:
    """google-auth's own retries at the token endpoint wait 1 s, then 2 s: recorded, not slept."""
    waits: list[float] = []
    monkeypatch.setattr(auth_backoff, "time", SimpleNamespace(sleep=waits.append))
    return waits


class VirtualClock:
    """Time for the client's waits and the fake's quota window: a wait moves it, nothing sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def real_policy(clock: VirtualClock) -> dict[str, Any]:
    """The client's own retry policy (not the shrunk waits of the other tests), on ``clock``."""
    return {
        "base_delay": RetryingHTTPClient.base_delay,
        "max_delay": RetryingHTTPClient.max_delay,
        "sleep": clock.sleep,
        "clock": clock,
    }


# --- 1. Google's 400s in caseloop's words -----------------------------------------------------


def test_a_team_tab_named_status_in_lower_case_is_refused_before_anything_is_sent(
    fake_sheets: FakeSheetsServer, user_file: Path
) -> None:
    seed(fake_sheets).add_sheet("status", [["the team's own status notes"]])
    before = snapshot(fake_sheets)

    result = against(fake_sheets, user_file)

    assert_one_sentence(
        result, 'tab "status" that caseloop did not make', "Rename that tab", "--status-tab NAME"
    )
    assert "INVALID_ARGUMENT" not in result.output and "already exists" not in result.output
    assert fake_sheets.requests_of("batchUpdate") == []
    assert snapshot(fake_sheets) == before


def test_caseloops_own_tab_renamed_STATUS_is_written_in_place(  # noqa: N802 - the tab's name
    fake_sheets: FakeSheetsServer, user_file: Path
) -> None:
    seed(fake_sheets)
    assert against(fake_sheets, user_file).exit_code == 0
    book = fake_sheets.book(KEY)
    book.sheet("Status").title = "STATUS"  # a teammate renames it in the web UI
    fake_sheets.edit(KEY, "Cases", "A40", "12345678999")

    result = against(fake_sheets, user_file)

    assert result.exit_code == 0, result.output
    assert fake_sheets.book(KEY).titles() == ["Cases", "Team notes", "STATUS", "History"]
    assert [r.status for r in fake_sheets.requests_of("batchUpdate")] == [200, 200]
    column = [row[0] for row in fake_sheets.book(KEY).sheet("STATUS").values()]
    assert "12345678999" in column or 12345678999 in column


def chart_tab(rows: int = 3) -> SheetModel:
    """A generated tab with a chart, as the Weekly Summary has."""
    from caseloop.model import Chart, Range, Series

    style = Style(border=True)
    body = [[Cell("Week", style), Cell("Opened", style)]]
    body += [[Cell(f"2026-W{40 + n}", style), Cell(n + 1, style)] for n in range(rows)]
    chart = Chart(
        title="Opened",
        categories=Range(1, 0, rows, 0),
        series=(Series("Opened", Range(1, 1, rows, 1), kind="column"),),
        anchor_row=1,
        anchor_col=4,
    )
    return SheetModel(title="Weekly Summary", rows=body, charts=[chart], kind="weekly")


def open_workbook(fake: FakeSheetsServer, **knobs: Any) -> Any:
    from google.oauth2.credentials import Credentials

    from caseloop.backends.gsheets import open_google_workbook

    return open_google_workbook(
        f"gsheet:{KEY}",
        http_client=fake_client_class(fake.url, **knobs),
        credentials_object=Credentials(token="test"),
    )


def test_two_reports_at_once_both_succeed(fake_sheets: FakeSheetsServer) -> None:
    seed(fake_sheets)
    open_workbook(fake_sheets).write_tabs([chart_tab()])
    # Both runs read the sheet, with its chart; the first replaces the chart, so the chart the
    # second was going to delete is gone ("No embedded object with id").
    first, second = open_workbook(fake_sheets), open_workbook(fake_sheets)
    first.write_tabs([chart_tab(4)])
    fake_sheets.clear_log()

    second.write_tabs([chart_tab(5)])

    assert [(r.kind, r.status) for r in fake_sheets.log] == [
        ("batchUpdate", 400),
        ("metadata", 200),
        ("batchUpdate", 200),
    ]
    assert "No embedded object with id" in fake_sheets.log[0].answer["error"]["message"]
    weekly_tab = fake_sheets.book(KEY).sheet("Weekly Summary")
    assert len(weekly_tab.charts) == 1 and weekly_tab.used_size() == (6, 2)


def test_a_tab_that_keeps_changing_under_the_write_is_one_sentence(
    fake_sheets: FakeSheetsServer, user_file: Path
) -> None:
    seed(fake_sheets)
    before = snapshot(fake_sheets)
    # Google refuses the write twice for a tab deleted meanwhile (each time after a fresh read).
    gone = "Invalid requests[3].updateCells: No grid with id: 7"
    fake_sheets.inject(*[Fault(status=400, method="POST", message=gone)] * 2)

    result = against(fake_sheets, user_file)

    assert_one_sentence(
        result, 'The Google Sheet changed while caseloop was writing "Status"', "Run again."
    )
    assert "No grid with id" not in result.output
    assert [r.kind for r in fake_sheets.log] == [
        "metadata",
        "values",
        "batchUpdate",
        "metadata",
        "batchUpdate",
    ]
    assert snapshot(fake_sheets) == before


def test_a_sheet_near_ten_million_cells_is_one_sentence_with_the_way_out(
    fake_sheets: FakeSheetsServer, user_file: Path
) -> None:
    book = seed(fake_sheets)
    # The team's archive tab takes the sheet to a few thousand cells below Google's limit.
    archive = book.add_sheet("Archive 2024", column_count=26)
    archive.row_count += (book.cell_limit - book.grid_cells()) // 26 - 4
    assert 0 < book.cell_limit - book.grid_cells() < 200
    before = snapshot(fake_sheets)

    result = against(fake_sheets, user_file)

    assert_one_sentence(
        result,
        'Writing "Status" (',
        "past Google's limit of 10,000,000 cells",
        "nothing was written",
        "Delete unused rows and columns",
    )
    assert "would increase the number of cells" not in result.output
    assert snapshot(fake_sheets) == before


# --- 2. a protected generated tab -------------------------------------------------------------


def test_a_protected_status_tab_is_refused_before_writing_naming_tab_and_account(
    fake_sheets: FakeSheetsServer, tmp_path: Path, private_key_pem: str
) -> None:
    credentials = service_account_file(tmp_path / "sa.json", fake_sheets, private_key_pem)
    seed(fake_sheets)
    assert against(fake_sheets, credentials).exit_code == 0
    # A teammate protects the generated tab: only the team and the owner may edit it.
    fake_sheets.book(KEY).protect("Status", editors=["lead@seller-ops.example"])
    before = snapshot(fake_sheets)
    fake_sheets.clear_log()

    result = against(fake_sheets, credentials)

    assert_one_sentence(
        result,
        'The tab "Status" of the Google Sheet is protected',
        f"add {DEFAULT_CALLER} as an editor",
        "nothing was written",
    )
    assert "protected cell or object" not in result.output
    assert fake_sheets.requests_of("batchUpdate") == []  # refused before writing
    assert snapshot(fake_sheets) == before


def test_a_warning_only_protection_keeps_working(
    fake_sheets: FakeSheetsServer, tmp_path: Path, private_key_pem: str
) -> None:
    credentials = service_account_file(tmp_path / "sa.json", fake_sheets, private_key_pem)
    seed(fake_sheets)
    assert against(fake_sheets, credentials).exit_code == 0
    fake_sheets.book(KEY).protect("Status", warning_only=True)
    # The Cases tab is protected from this account too: caseloop only reads it.
    fake_sheets.book(KEY).protect("Cases", editors=["lead@seller-ops.example"])
    fake_sheets.edit(KEY, "Cases", "A40", "12345678999")

    result = against(fake_sheets, credentials)

    assert result.exit_code == 0, result.output
    column = [row[0] for row in fake_sheets.book(KEY).sheet("Status").values()]
    assert "12345678999" in column or 12345678999 in column


def test_a_protection_that_lists_the_account_keeps_working(
    fake_sheets: FakeSheetsServer, tmp_path: Path, private_key_pem: str
) -> None:
    credentials = service_account_file(tmp_path / "sa.json", fake_sheets, private_key_pem)
    seed(fake_sheets)
    assert against(fake_sheets, credentials).exit_code == 0
    fake_sheets.book(KEY).protect("Status", editors=[DEFAULT_CALLER])

    assert against(fake_sheets, credentials).exit_code == 0


# --- 3. a quota minute already spent ----------------------------------------------------------


@pytest.mark.parametrize("storm", [50.0, 60.0, 68.0])
def test_a_429_storm_is_waited_out_with_the_real_policy(
    fake_sheets: FakeSheetsServer, user_file: Path, google: tuple[dict, dict], storm: float
) -> None:
    _, after = google
    clock = VirtualClock()
    fake_sheets.clock = clock
    # Another script spent the minute's quota: everything answers 429 for ``storm`` seconds.
    fake_sheets.quota_closed_until = storm

    result = against(fake_sheets, user_file, **real_policy(clock))

    assert result.exit_code == 0, result.output
    assert snapshot(fake_sheets) == after
    assert sum(clock.waits) >= storm
    assert [r.status for r in fake_sheets.log if r.status != 429] == [200, 200, 200]


def test_a_429_storm_on_the_write_is_waited_out(fake_sheets: FakeSheetsServer) -> None:
    seed(fake_sheets)
    clock = VirtualClock()
    fake_sheets.clock = clock
    workbook = open_workbook(fake_sheets, **real_policy(clock))
    fake_sheets.quota_closed_until = clock.now + 60.0  # the minute starts as caseloop writes

    result = workbook.write_tabs([chart_tab()])

    assert clock.now >= 60.0 and result.details["retries"] == len(clock.waits)
    assert fake_sheets.book(KEY).sheet("Weekly Summary").used_size() == (4, 2)


def test_a_storm_longer_than_the_budget_gives_up_saying_how_long_it_waited(
    fake_sheets: FakeSheetsServer, user_file: Path, google: tuple[dict, dict]
) -> None:
    before, _ = google
    clock = VirtualClock()
    fake_sheets.clock = clock
    fake_sheets.quota_closed_until = 3600.0

    result = against(fake_sheets, user_file, **real_policy(clock))

    assert_one_sentence(
        result, "Google Sheets kept answering 429 (too many requests) after", "nothing was written"
    )
    assert 68.0 <= sum(clock.waits) <= RetryingHTTPClient.total_budget
    assert snapshot(fake_sheets) == before


def test_the_give_up_sentence_is_in_the_users_language(
    fake_sheets: FakeSheetsServer, user_file: Path, google: tuple[dict, dict]
) -> None:
    before, _ = google
    clock = VirtualClock()
    fake_sheets.clock = clock
    fake_sheets.quota_closed_until = 3600.0

    result = against(fake_sheets, user_file, "--lang", "zh", **real_policy(clock))

    assert_one_sentence(
        result, "Google 表格一直返回「429 (too many requests)」，重试", "没有写入任何内容"
    )
    assert "nothing was written" not in result.output
    assert snapshot(fake_sheets) == before


# --- 4. a write Google applied before it failed -----------------------------------------------


@pytest.mark.parametrize("status", [504, 500, 502])
def test_a_write_applied_then_answered_with_an_error_exits_0(
    fake_sheets: FakeSheetsServer, user_file: Path, google: tuple[dict, dict], status: int
) -> None:
    _, after = google
    fake_sheets.inject(Fault(status=status, method="POST", applied=True))

    result = against(fake_sheets, user_file)

    assert result.exit_code == 0, result.output
    assert snapshot(fake_sheets) == after
    # The write once, then the read-back that found this run's tag; no second write.
    assert [(r.kind, r.status) for r in fake_sheets.log] == [
        ("metadata", 200),
        ("values", 200),
        ("batchUpdate", status),
        ("metadata", 200),
    ]


def test_a_504_that_was_not_applied_is_retried(
    fake_sheets: FakeSheetsServer, user_file: Path, google: tuple[dict, dict]
) -> None:
    _, after = google
    fake_sheets.inject(Fault(status=504, method="POST"))

    result = against(fake_sheets, user_file)

    assert result.exit_code == 0, result.output
    assert snapshot(fake_sheets) == after
    assert [(r.kind, r.status) for r in fake_sheets.log][2:] == [
        ("batchUpdate", 504),
        ("metadata", 200),
        ("batchUpdate", 200),
    ]


def test_504s_never_applied_end_in_nothing_was_written(
    fake_sheets: FakeSheetsServer, user_file: Path, google: tuple[dict, dict]
) -> None:
    before, _ = google
    fake_sheets.inject(*[Fault(status=504, method="POST")] * 10)

    result = against(fake_sheets, user_file)

    assert_one_sentence(
        result,
        "Google Sheets kept answering 504 (gateway timeout) after 10 tries",
        "nothing was written — run again later.",
    )
    assert snapshot(fake_sheets) == before


def test_a_504_whose_read_back_fails_too_says_may_or_may_not(
    fake_sheets: FakeSheetsServer, user_file: Path, google: tuple[dict, dict]
) -> None:
    before, _ = google
    fake_sheets.inject(*[Fault(status=504, method=m) for m in ("POST", "GET")] * 10)

    result = against(fake_sheets, user_file)

    assert_one_sentence(result, "kept answering 504", "may or may not have been updated")
    assert "nothing was written" not in result.output
    assert snapshot(fake_sheets) == before


def test_a_staged_write_applied_then_504_on_its_last_batch_exits_0(
    fake_sheets: FakeSheetsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(fake_sheets)
    monkeypatch.setattr(batch, "SINGLE_BATCH_BYTES", 50_000)
    monkeypatch.setattr(batch, "CHUNK_BYTES", 50_000)
    model = big_model(200)
    workbook = open_workbook(fake_sheets)
    bodies = len(batch.write_batches([big_model(200)], workbook.metadata["sheets"], None, "x"))
    assert bodies >= 3
    fake_sheets.inject(
        *[Fault(method="POST")] * (bodies - 1), Fault(status=504, method="POST", applied=True)
    )

    workbook.write_tabs([model])

    assert [r.status for r in fake_sheets.requests_of("batchUpdate")][-1] == 504
    assert fake_sheets.requests_of("metadata")[-1].status == 200  # the read-back
    assert fake_sheets.book(KEY).titles() == ["Cases", "Team notes", "Status"]
    assert fake_sheets.book(KEY).sheet("Status").used_size() == (201, 6)


# --- 5. Google's sign-in service and revoked credentials --------------------------------------


@pytest.mark.parametrize("status", [500, 503])
def test_the_token_endpoint_failing_is_googles_outage_not_the_key(
    fake_sheets: FakeSheetsServer, tmp_path: Path, no_auth_waits: list[float], status: int
) -> None:
    seed(fake_sheets)
    before = snapshot(fake_sheets)
    credentials = expired_user_file(tmp_path / "user.json", fake_sheets)
    fake_sheets.inject(*[Fault(status=status, path_contains="/token")] * 100)
    clock = VirtualClock()

    result = against(fake_sheets, credentials, **real_policy(clock))

    assert_one_sentence(
        result,
        "Google's sign-in service (the token endpoint) kept failing after",
        "this is Google's outage, not your key",
        "Nothing was written",
    )
    assert "check the --credentials" not in result.output
    assert no_auth_waits  # google-auth retried on its own first
    assert {r.kind for r in fake_sheets.log} == {"token"}
    assert snapshot(fake_sheets) == before


def test_a_token_endpoint_that_recovers_lets_the_sync_through(
    fake_sheets: FakeSheetsServer, tmp_path: Path, no_auth_waits: list[float]
) -> None:
    seed(fake_sheets)
    credentials = expired_user_file(tmp_path / "user.json", fake_sheets)
    # google-auth tries three times itself; caseloop tries again after its own wait.
    fake_sheets.inject(*[Fault(status=503, path_contains="/token")] * 4)

    result = against(fake_sheets, credentials)

    assert result.exit_code == 0, result.output
    assert fake_sheets.book(KEY).has_sheet("Status")


def test_a_revoked_sign_in_asks_to_sign_in_again(
    fake_sheets: FakeSheetsServer, tmp_path: Path, token_endpoint: None
) -> None:
    seed(fake_sheets)
    credentials = expired_user_file(tmp_path / "user.json", fake_sheets, "revoked-token")
    fake_sheets.revoked_refresh_tokens.add("revoked-token")

    result = against(fake_sheets, credentials)

    assert_one_sentence(
        result,
        "the sign-in saved in the --credentials file has expired or was revoked",
        "sign in again",
    )
    assert "revoked-token" not in result.output
    assert [(r.kind, r.status) for r in fake_sheets.log] == [("token", 400)]  # not retried


def test_a_revoked_service_account_key_asks_for_a_new_key(
    fake_sheets: FakeSheetsServer, tmp_path: Path, private_key_pem: str
) -> None:
    seed(fake_sheets)
    credentials = service_account_file(tmp_path / "sa.json", fake_sheets, private_key_pem)
    fake_sheets.revoked_service_accounts.add(DEFAULT_CALLER)

    result = against(fake_sheets, credentials)

    assert_one_sentence(
        result,
        "Google no longer accepts the service-account key in the --credentials file",
        "create a new JSON key",
    )
    assert "BEGIN PRIVATE KEY" not in result.output
    assert [(r.kind, r.status) for r in fake_sheets.log] == [("token", 400)]


def test_the_fake_token_endpoint_sees_the_service_accounts_jwt(
    fake_sheets: FakeSheetsServer, tmp_path: Path, private_key_pem: str
) -> None:
    """The fake reads who signed the grant, as Google does, from the JWT google-auth sends."""
    seed(fake_sheets)
    credentials = service_account_file(tmp_path / "sa.json", fake_sheets, private_key_pem)

    assert against(fake_sheets, credentials).exit_code == 0

    (grant,) = [r for r in fake_sheets.log if r.kind == "token"]
    payload = grant.body["assertion"][0].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["iss"] == DEFAULT_CALLER


# --- 6. requests stay under 2 MB, and the team sees the old tab or the new one ----------------


def big_model(rows: int) -> SheetModel:
    """A Status tab of ``rows`` rows of about 700 bytes each, in bands of two styles."""
    header = Style(bold=True, bg="#1F3864", font_color="#FFFFFF", border=True)
    shades = [Style(bg="#F4CCCC", border=True), Style(bg="#D9EAD3", border=True)]
    body = [[Cell(h, header) for h in ("Case ID", "Flag", "Owner", "Notes", "Next", "Waiting")]]
    for n in range(rows):
        style = shades[(n // 50) % 2]
        body.append(
            [
                Cell(str(12345678900 + n), style),
                Cell("OVERDUE" if n % 3 else "ON TRACK", style),
                Cell(f"Owner {n % 17}", style),
                Cell(f"Case {n}: " + "buyer says the listing is still suppressed; " * 6, style),
                Cell(
                    f"Follow up {n}: " + "ask for the appeal status and the evidence; " * 5, style
                ),
                Cell(30.5 + n, style),
            ]
        )
    return SheetModel(title="Status", rows=body, col_widths=[14] * 6, freeze_rows=1, kind="status")


def test_a_write_past_2_mb_goes_in_requests_under_2_mb_and_the_team_sees_old_or_new(
    fake_sheets: FakeSheetsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(fake_sheets)
    seed(fake_sheets, "TWIN")
    fake_sheets.max_body_bytes = 2_000_000  # Google's recommended most; the fake refuses more
    open_workbook(fake_sheets).write_tabs([big_model(20)])  # last week's Status tab
    old = snapshot(fake_sheets, visible_only=True)
    seen: list[dict] = []
    fake_sheets.on_batch.append(
        lambda book: (
            seen.append(
                {
                    s.title: {p: (c.value, c.formula) for p, c in s.cells.items()}
                    for s in book.sheets
                    if not s.hidden
                }
            )
            if book.key == KEY
            else None
        )
    )
    fake_sheets.clear_log()

    result = open_workbook(fake_sheets).write_tabs([big_model(4000)])

    writes = fake_sheets.requests_of("batchUpdate")
    assert result.details["batches"] == len(writes) >= 3
    assert all(w.status == 200 for w in writes)
    assert max(w.size for w in writes) < 2_000_000 == fake_sheets.max_body_bytes
    assert result.details["largest_body"] == max(w.size for w in writes)
    # The same tab written in one request (no limit on the twin) is what the team now sees.
    fake_sheets.max_body_bytes = None
    monkeypatch.setattr(batch, "SINGLE_BATCH_BYTES", 10**9)
    twin = open_google_twin(fake_sheets)
    twin.write_tabs([big_model(20)])
    twin.write_tabs([big_model(4000)])
    new = snapshot(fake_sheets, "TWIN", visible_only=True)
    assert snapshot(fake_sheets, visible_only=True) == new != old
    assert [s for s in fake_sheets.book(KEY).sheets if s.hidden] == []  # no staging tab left
    twin_status, status = (fake_sheets.book(k).sheet("Status") for k in ("TWIN", KEY))
    assert status.cell("D2").format == twin_status.cell("D2").format
    assert status.column_px == twin_status.column_px
    assert (status.row_count, status.column_count) == (twin_status.row_count, 6)
    # Between any two requests the team saw last week's tab or this week's, nothing between.
    assert len(seen) == len(writes) and all(state in (old, new) for state in seen)


def open_google_twin(fake: FakeSheetsServer) -> Any:
    from google.oauth2.credentials import Credentials

    from caseloop.backends.gsheets import open_google_workbook

    return open_google_workbook(
        "gsheet:TWIN",
        http_client=fake_client_class(fake.url),
        credentials_object=Credentials(token="test"),
    )


def test_a_staged_write_stopped_halfway_leaves_the_old_tab(
    fake_sheets: FakeSheetsServer,
) -> None:
    seed(fake_sheets)
    fake_sheets.max_body_bytes = 2_000_000
    open_workbook(fake_sheets).write_tabs([big_model(20)])
    old = snapshot(fake_sheets, visible_only=True)
    workbook = open_workbook(fake_sheets)
    # The second request (a fill of the hidden tab) keeps failing until caseloop gives up.
    fake_sheets.inject(Fault(method="POST"), *[Fault(status=503, method="POST")] * 10)

    with pytest.raises(CaseloopError, match="kept answering 503"):
        workbook.write_tabs([big_model(4000)])

    assert snapshot(fake_sheets, visible_only=True) == old
    # The next run writes the tab whole; the staging tab left behind stays hidden meanwhile.
    open_workbook(fake_sheets).write_tabs([big_model(4000)])
    status = fake_sheets.book(KEY).sheet("Status")
    assert status.used_size() == (4001, 6) and not status.hidden


# --- Also: a sync and a report on the same sheet at the same moment ---------------------------


def test_a_sync_and_a_report_at_the_same_moment_both_succeed(
    fake_sheets: FakeSheetsServer, tmp_path: Path, user_file: Path
) -> None:
    seed(fake_sheets)
    # Last Monday's tabs exist, so both runs replace a tab and its chart.
    assert against(fake_sheets, user_file).exit_code == 0
    assert against(fake_sheets, user_file, command="report").exit_code == 0
    fake_sheets.edit(KEY, "Cases", "A40", "12345678999")
    settings = Settings(
        log=URL,
        credentials=str(user_file),
        now=NOW_TEXT,
        http_client=fake_client_class(fake_sheets.url),
    )
    both_read = threading.Barrier(2, timeout=30)
    errors: list[BaseException] = []

    def sync() -> None:
        loaded = load(settings, for_writing=True)
        model, _ = status_model(loaded, settings)
        both_read.wait()  # both have read the sheet before either writes
        write(loaded, [model])

    def report() -> None:
        loaded = load(settings, for_writing=True)
        model = weekly_model(weekly(loaded, settings, None), settings, None, loaded.lang)
        both_read.wait()
        write(loaded, [model])

    def guarded(job: Any) -> None:
        try:
            job()
        except BaseException as error:  # noqa: BLE001 - handed to the test thread
            errors.append(error)

    threads = [threading.Thread(target=guarded, args=(job,)) for job in (sync, report)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert all(r.status == 200 for r in fake_sheets.requests_of("batchUpdate"))
    book = fake_sheets.book(KEY)
    assert book.titles()[:2] == ["Cases", "Team notes"]
    assert sorted(book.titles()[2:]) == ["Answers", "History", "Status", "Weekly Summary"]
    column = [row[0] for row in book.sheet("Status").values()]
    assert "12345678999" in column or 12345678999 in column
    assert len(book.sheet("Weekly Summary").charts) >= 1
