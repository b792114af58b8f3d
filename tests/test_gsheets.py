"""The Google Sheets backend through unmodified gspread, over HTTP, against the loopback fake."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from google.oauth2.credentials import Credentials

from caseloop.backends.gsheets import GoogleWorkbook, open_google_workbook
from caseloop.errors import CaseloopError, RefusedError, TabTakenError
from caseloop.model import Cell, Chart, Range, Series, SheetModel, Style
from caseloop.ports import CellError

from fakesheets import FakeSheetsServer, Fault, fake_client_class

pytest_plugins = ["fakesheets.fixtures"]

KEY = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcd"
SA_EMAIL = "caseloop-sync@seller-ops.iam.gserviceaccount.com"
OPENED = dt.datetime(2026, 3, 2, 9, 30)

HEADER_STYLE = Style(bold=True, bg="#1F3864", font_color="#FFFFFF", border=True)
OVERDUE = Style(bg="#F4CCCC", border=True)
ON_TRACK = Style(bg="#D9EAD3", border=True)
WHEN = Style(bg="#D9EAD3", border=True, num_format="yyyy-mm-dd hh:mm")


def seed(fake: FakeSheetsServer, cases: int = 3) -> None:
    """A team's spreadsheet: a note above the table, the Cases tab, and a tab of their own."""
    book = fake.add_spreadsheet(KEY, timezone="Asia/Shanghai")
    rows: list[list[Any]] = [
        ["Team case log — edit freely"],
        ["Case ID", "Marketplace", "Opened At", "Follow-ups", "Summary", "Escalated"],
    ]
    for n in range(cases):
        rows.append(
            [
                str(12345678900 + n),
                "US" if n % 2 else "美国站",
                OPENED + dt.timedelta(hours=n),
                n % 3,
                f"Listing suppressed #{n}",
                n % 2 == 0,
            ]
        )
    book.add_sheet("Cases", rows)
    book.add_sheet("Notes", [["our own notes"]])


def open_fake(fake: FakeSheetsServer, log: str = f"gsheet:{KEY}", **knobs: Any) -> GoogleWorkbook:
    """How every test here opens the fake: the real factory, a client class, a test token."""
    return open_google_workbook(
        log,
        http_client=fake_client_class(fake.url, **knobs),
        credentials_object=Credentials(token="test"),
    )


def status_model(rows: int = 3, *, chart: bool = True, title: str = "Status") -> SheetModel:
    header = ["Case ID", "Flag", "Waiting (h)", "Due at", "Escalate", "Next action"]
    body = [[Cell(h, HEADER_STYLE) for h in header]]
    awkward = ["=1+1", "+44 20 7946 0000", "@supervisor", "-3 days"]
    for n in range(rows):
        style = OVERDUE if n < rows // 2 else ON_TRACK
        body.append(
            [
                Cell(
                    awkward[n % len(awkward)] if n < len(awkward) else str(12345678900 + n), style
                ),
                Cell("OVERDUE" if n < rows // 2 else "ON TRACK", style),
                Cell(30.5 + n, style),
                Cell(OPENED + dt.timedelta(days=1, hours=n), WHEN),
                Cell(n % 2 == 0, style),
                Cell("follow up on the case", style),
            ]
        )
    charts = []
    if chart:
        charts.append(
            Chart(
                title="Waiting by case",
                categories=Range(1, 0, rows, 0),
                series=(
                    Series("Waiting (h)", Range(1, 2, rows, 2), kind="column", color="#4472C4"),
                    Series("Flag", Range(1, 1, rows, 1), kind="line"),
                ),
                anchor_row=1,
                anchor_col=8,
                y_title="hours",
            )
        )
    return SheetModel(
        title=title,
        rows=body,
        col_widths=[14, 12, 10, 16, 8, 30],
        freeze_rows=1,
        auto_filter=Range(0, 0, rows, 5),
        charts=charts,
        kind="status",
    )


def rgb(hex_color: str) -> dict[str, float]:
    return {
        k: int(hex_color[i : i + 2], 16) / 255 for k, i in (("red", 1), ("green", 3), ("blue", 5))
    }


# --- reading ----------------------------------------------------------------------------------


def test_reads_cases_tab_as_typed_grid_in_two_requests(fake_sheets: FakeSheetsServer) -> None:
    seed(fake_sheets)
    fake_sheets.edit(KEY, "Cases", "G3", "=VLOOKUP(A3,Notes!A:B,2,FALSE)", result="#N/A")

    workbook = open_fake(fake_sheets)
    grid = workbook.read_tab("Cases")

    assert workbook.tab_names() == ["Cases", "Notes"]
    assert grid.timezone == "Asia/Shanghai"
    assert grid.dates_as_serials is True
    assert grid.rows[0] == ["Team case log — edit freely", None, None, None, None, None, None]
    assert grid.rows[1][:3] == ["Case ID", "Marketplace", "Opened At"]
    opened_serial = (OPENED - dt.datetime(1899, 12, 30)) / dt.timedelta(days=1)
    assert grid.rows[2] == [
        "12345678900",
        "美国站",
        pytest.approx(opened_serial),
        0,
        "Listing suppressed #0",
        True,
        CellError("#N/A"),
    ]
    assert all(len(row) == 7 for row in grid.rows)  # padded to a rectangle
    assert [(r.method, r.kind) for r in fake_sheets.log] == [("GET", "metadata"), ("GET", "values")]
    values = fake_sheets.log[1]
    assert values.path.endswith("/values/'Cases'")
    assert values.params["valueRenderOption"] == ["UNFORMATTED_VALUE"]
    assert values.params["dateTimeRenderOption"] == ["SERIAL_NUMBER"]
    assert fake_sheets.log[0].params == {"includeGridData": ["false"]}


def test_reading_an_unknown_tab_names_the_tabs(fake_sheets: FakeSheetsServer) -> None:
    seed(fake_sheets)
    with pytest.raises(CaseloopError, match=r'no tab "案例".*Cases, Notes'):
        open_fake(fake_sheets).read_tab("案例")


@pytest.mark.parametrize(
    "log",
    [
        f"https://docs.google.com/spreadsheets/d/{KEY}/edit#gid=0",
        f"https://docs.google.com/spreadsheets/u/1/d/{KEY}/edit?usp=sharing",
        f"gsheet:{KEY}",
    ],
)
def test_opens_every_form_of_address(fake_sheets: FakeSheetsServer, log: str) -> None:
    seed(fake_sheets)
    workbook = open_fake(fake_sheets, log)
    assert workbook.location == f"https://docs.google.com/spreadsheets/d/{KEY}"
    assert fake_sheets.log[0].path == f"/v4/spreadsheets/{KEY}"


# --- writing ----------------------------------------------------------------------------------


def test_writes_status_tab_typed_styled_and_marked(fake_sheets: FakeSheetsServer) -> None:
    seed(fake_sheets)
    cases_before = dict(fake_sheets.book(KEY).sheet("Cases").cells)
    workbook = open_fake(fake_sheets)
    workbook.read_tab("Cases")

    result = workbook.write_tabs([status_model(rows=4)])

    assert result.tabs == ["Status"]
    assert result.requests == 3
    book = fake_sheets.book(KEY)
    assert book.titles() == ["Cases", "Notes", "Status"]
    status = book.sheet("Status")
    # Text that looks like a formula, a phone number or a mention stays text.
    for a1, text in (
        ("A2", "=1+1"),
        ("A3", "+44 20 7946 0000"),
        ("A4", "@supervisor"),
        ("A5", "-3 days"),
    ):
        assert status.cell(a1).value == text
        assert status.cell(a1).formula is None
    assert status.value("C2") == 30.5
    assert status.value("E2") is True and status.value("E3") is False
    due = status.cell("D2")
    assert due.value == pytest.approx(
        (OPENED + dt.timedelta(days=1) - dt.datetime(1899, 12, 30)).days + 9.5 / 24
    )
    assert due.format["numberFormat"] == {"type": "DATE_TIME", "pattern": "yyyy-mm-dd hh:mm"}
    # Colours: header, then each row by its flag.
    header = status.cell("A1").format
    assert header["backgroundColor"] == rgb("#1F3864")
    assert header["textFormat"] == {"bold": True, "foregroundColor": rgb("#FFFFFF")}
    assert header["borders"]["top"]["style"] == "SOLID"
    assert status.cell("F2").format["backgroundColor"] == rgb("#F4CCCC")
    assert status.cell("F5").format["backgroundColor"] == rgb("#D9EAD3")
    # Grid, freeze, filter, widths.
    assert (status.row_count, status.column_count) == (5, 9)  # the chart's anchor is column I
    assert status.frozen_rows == 1
    assert status.basic_filter["range"] == {
        "sheetId": status.sheet_id,
        "startRowIndex": 0,
        "endRowIndex": 5,
        "startColumnIndex": 0,
        "endColumnIndex": 6,
    }
    assert status.column_px[0] == 14 * 7 + 10 and status.column_px[5] == 30 * 7 + 10
    assert status.column_px[8] == 100
    # The caseloop mark, then the tag of the run that wrote it (read back after a lost answer).
    mark, run = status.developer_metadata
    assert run["metadataKey"] == "caseloop-run" and len(run["metadataValue"]) == 12
    assert [mark] == [
        {
            "metadataKey": "caseloop",
            "metadataValue": "status",
            "location": {"locationType": "SHEET", "sheetId": status.sheet_id},
            "visibility": "DOCUMENT",
            "metadataId": status.developer_metadata[0]["metadataId"],
        }
    ]
    # The chart: columns and a line over the case IDs, names from the header row.
    (chart,) = status.charts
    basic = chart["spec"]["basicChart"]
    assert basic["chartType"] == "COMBO"
    assert [s["type"] for s in basic["series"]] == ["COLUMN", "LINE"]
    assert basic["headerCount"] == 1
    assert basic["domains"][0]["domain"]["sourceRange"]["sources"][0]["startRowIndex"] == 0
    assert chart["position"]["overlayPosition"]["anchorCell"]["columnIndex"] == 8
    # The team's tabs are exactly as they were, and no request even pointed at them.
    assert book.sheet("Cases").cells == cases_before
    batch = fake_sheets.requests_of("batchUpdate")[0].body
    cases_id = book.sheet("Cases").sheet_id
    assert f'"sheetId": {cases_id},' not in json.dumps(batch) and cases_id not in _sheet_ids(batch)


def _sheet_ids(tree: Any) -> set[int]:
    if isinstance(tree, dict):
        found = {tree["sheetId"]} if "sheetId" in tree else set()
        for value in tree.values():
            found |= _sheet_ids(value)
        return found
    if isinstance(tree, list):
        return set().union(*(_sheet_ids(v) for v in tree)) if tree else set()
    return set()


def test_values_go_as_typed_cells_never_formulas(fake_sheets: FakeSheetsServer) -> None:
    seed(fake_sheets)
    open_fake(fake_sheets).write_tabs([status_model(rows=4, chart=False)])

    body = fake_sheets.requests_of("batchUpdate")[0].body
    entered = [
        cell["userEnteredValue"]
        for request in body["requests"]
        if "updateCells" in request
        for row in request["updateCells"].get("rows", [])
        for cell in row.get("values", [])
        if "userEnteredValue" in cell
    ]
    kinds = {kind for value in entered for kind in value}
    assert kinds == {"stringValue", "numberValue", "boolValue"}
    assert {"stringValue": "=1+1"} in entered


@pytest.mark.parametrize("cases", [10, 5000])
def test_a_sync_costs_at_most_four_requests(fake_sheets: FakeSheetsServer, cases: int) -> None:
    seed(fake_sheets, cases=cases)

    workbook = open_fake(fake_sheets)
    grid = workbook.read_tab("Cases")
    result = workbook.write_tabs([status_model(rows=cases)])

    assert len(grid.rows) == cases + 2
    assert result.requests == len(fake_sheets.log) == 3
    assert [r.kind for r in fake_sheets.log] == ["metadata", "values", "batchUpdate"]
    assert fake_sheets.book(KEY).sheet("Status").used_size() == (cases + 1, 6)
    # Formats travel as a few blocks, not once per cell: the batch does not grow with the rows.
    assert result.details["batch_requests"] < 40


def test_second_run_replaces_the_tab_whole(fake_sheets: FakeSheetsServer) -> None:
    seed(fake_sheets)
    open_fake(fake_sheets).write_tabs([status_model(rows=40)])
    first = fake_sheets.book(KEY).sheet("Status")
    old_chart = first.charts[0]["chartId"]
    fake_sheets.edit(KEY, "Status", "K30", "someone typed here")
    fake_sheets.clear_log()

    result = open_fake(fake_sheets).write_tabs([status_model(rows=3)])

    assert result.requests == 2  # metadata + batchUpdate
    book = fake_sheets.book(KEY)
    assert book.titles() == ["Cases", "Notes", "Status"]
    status = book.sheet("Status")
    assert status.sheet_id == first.sheet_id
    assert (status.row_count, status.column_count) == (4, 9)
    assert status.used_size() == (4, 6)
    assert status.value("K30") is None
    assert [c["chartId"] for c in status.charts] != [old_chart] and len(status.charts) == 1
    # The mark and this run's tag; the first run's tag is gone.
    assert [m["metadataKey"] for m in status.developer_metadata] == ["caseloop", "caseloop-run"]
    assert status.basic_filter["range"]["endRowIndex"] == 4


def test_second_write_in_the_same_run_needs_no_new_metadata(fake_sheets: FakeSheetsServer) -> None:
    seed(fake_sheets)
    workbook = open_fake(fake_sheets)
    workbook.write_tabs([status_model()])
    workbook.write_tabs([status_model(rows=2)])

    assert [r.kind for r in fake_sheets.log] == ["metadata", "batchUpdate", "batchUpdate"]
    assert len(fake_sheets.book(KEY).sheet("Status").charts) == 1


def test_a_new_tab_without_filter_or_chart_drops_the_old_ones(
    fake_sheets: FakeSheetsServer,
) -> None:
    seed(fake_sheets)
    open_fake(fake_sheets).write_tabs([status_model()])
    plain = SheetModel(title="Status", rows=[[Cell("nothing to do")]], kind="status")

    open_fake(fake_sheets).write_tabs([plain])

    status = fake_sheets.book(KEY).sheet("Status")
    assert status.charts == [] and status.basic_filter is None and status.frozen_rows == 0
    assert status.values() == [["nothing to do"]]
    assert status.cell("A1").format == {}


def test_people_typing_in_cases_between_read_and_write_keep_their_edits(
    fake_sheets: FakeSheetsServer,
) -> None:
    seed(fake_sheets)
    workbook = open_fake(fake_sheets)
    workbook.read_tab("Cases")
    fake_sheets.edit(KEY, "Cases", "E3", "Amazon answered, waiting on us")
    fake_sheets.edit(KEY, "Cases", "A40", "12345678999")

    workbook.write_tabs([status_model()])

    cases = fake_sheets.book(KEY).sheet("Cases")
    assert cases.value("E3") == "Amazon answered, waiting on us"
    assert cases.value("A40") == "12345678999"


@pytest.mark.parametrize(
    ("kind", "option"), [("status", "--status-tab"), ("weekly", "--report-tab")]
)
def test_refuses_a_team_tab_with_the_generated_name(
    fake_sheets: FakeSheetsServer, kind: str, option: str
) -> None:
    seed(fake_sheets)
    fake_sheets.book(KEY).add_sheet("Status", [["the team's own status board"]])
    model = status_model()
    model.kind = kind

    with pytest.raises(RefusedError) as refused:
        open_fake(fake_sheets).write_tabs([model])

    # The library names the tab and its kind; the CLI names the option that renames it.
    assert isinstance(refused.value, TabTakenError)
    assert (refused.value.title, refused.value.kind) == ("Status", kind)
    assert str(refused.value.for_option(option)) == (
        'The spreadsheet already has its own tab "Status" that caseloop did not make; caseloop '
        f"will not touch it. Rename that tab, or give the generated tab another name with {option} NAME."
    )
    assert fake_sheets.requests_of("batchUpdate") == []
    assert fake_sheets.book(KEY).sheet("Status").values() == [["the team's own status board"]]


def test_refusal_of_one_tab_writes_none(fake_sheets: FakeSheetsServer) -> None:
    seed(fake_sheets)
    fake_sheets.book(KEY).add_sheet("Weekly Summary", [["ours"]])
    weekly = SheetModel(title="Weekly Summary", rows=[[Cell("W")]], kind="weekly")

    with pytest.raises(RefusedError):
        open_fake(fake_sheets).write_tabs([status_model(), weekly])

    assert not fake_sheets.book(KEY).has_sheet("Status")


def test_a_tab_deleted_between_read_and_write_is_written_from_a_fresh_read(
    fake_sheets: FakeSheetsServer,
) -> None:
    seed(fake_sheets)
    open_fake(fake_sheets).write_tabs([status_model()])
    workbook = open_fake(fake_sheets)
    # Someone deletes the generated tab after caseloop read the metadata: Google refuses the
    # batch whole ("No grid with id"), caseloop reads the sheet again and writes once more.
    book = fake_sheets.book(KEY)
    book.sheets.remove(book.sheet("Status"))
    fake_sheets.clear_log()

    workbook.write_tabs([status_model()])

    assert [(r.kind, r.status) for r in fake_sheets.log] == [
        ("batchUpdate", 400),
        ("metadata", 200),
        ("batchUpdate", 200),
    ]
    assert fake_sheets.book(KEY).sheet("Status").values()[1][1] == "OVERDUE"


# --- retries and errors -----------------------------------------------------------------------


def test_429_is_retried_after_the_wait_google_asks_for(fake_sheets: FakeSheetsServer) -> None:
    seed(fake_sheets)
    waits: list[float] = []
    fake_sheets.inject(Fault(status=429, retry_after="7", method="POST"))

    result = open_fake(fake_sheets, sleep=waits.append).write_tabs([status_model()])

    assert waits == [7.0]
    assert result.requests == 3 and result.details["retries"] == 1
    assert [r.status for r in fake_sheets.log] == [200, 429, 200]
    assert fake_sheets.book(KEY).has_sheet("Status")


def test_waits_grow_with_jitter_and_stay_bounded(fake_sheets: FakeSheetsServer) -> None:
    seed(fake_sheets)
    waits: list[float] = []
    fake_sheets.inject(*[Fault(status=503, method="GET")] * 4)

    open_fake(fake_sheets, sleep=waits.append, base_delay=1.0, max_delay=3.0)

    assert len(waits) == 4
    assert 0.5 <= waits[0] <= 1.0 and 1.0 <= waits[1] <= 2.0
    assert all(w <= 3.0 for w in waits)


def test_persistent_503_ends_in_one_sentence_and_an_unchanged_sheet(
    fake_sheets: FakeSheetsServer,
) -> None:
    seed(fake_sheets)
    workbook = open_fake(fake_sheets)
    before = fake_sheets.book(KEY).resource()
    fake_sheets.inject(*[Fault(status=503)] * 11)

    with pytest.raises(CaseloopError) as failed:
        workbook.write_tabs([status_model()])

    message = str(failed.value)
    assert message.startswith(
        "Google Sheets kept answering 503 (service unavailable) after 10 tries"
    )
    assert "nothing was written" in message and "\n" not in message
    assert len(fake_sheets.requests_of("batchUpdate")) == 10
    assert fake_sheets.pending_faults() == 1
    assert fake_sheets.book(KEY).resource() == before


def test_gives_up_when_the_time_budget_is_spent(fake_sheets: FakeSheetsServer) -> None:
    seed(fake_sheets)
    fake_sheets.inject(*[Fault(status=429, retry_after="30")] * 5)

    with pytest.raises(CaseloopError, match=r"kept answering 429 .* after 3 tries"):
        open_fake(fake_sheets, sleep=lambda seconds: None, total_budget=70.0)


def test_slow_answer_is_retried(fake_sheets: FakeSheetsServer) -> None:
    seed(fake_sheets)
    fake_sheets.inject(Fault(delay=1.0, method="GET"))

    workbook = open_fake(fake_sheets, request_timeout=0.2)

    assert workbook.tab_names() == ["Cases", "Notes"]
    assert workbook.requests_made == 2


def test_slow_answers_every_time_end_in_a_clear_error(fake_sheets: FakeSheetsServer) -> None:
    seed(fake_sheets)
    fake_sheets.inject(*[Fault(delay=0.6, method="GET")] * 2)

    with pytest.raises(CaseloopError, match=r"did not answer within 0.2 s after 2 tries"):
        open_fake(fake_sheets, request_timeout=0.2, max_tries=2)


def test_connection_reset_is_retried(fake_sheets: FakeSheetsServer) -> None:
    seed(fake_sheets)
    workbook = open_fake(fake_sheets)
    fake_sheets.inject(Fault(reset=True, method="POST"))

    result = workbook.write_tabs([status_model()])

    assert result.details["retries"] == 1
    assert [r.status for r in fake_sheets.requests_of("batchUpdate")] == [0, 200]
    assert len(fake_sheets.book(KEY).sheet("Status").charts) == 1


def test_lost_connection_on_a_write_does_not_claim_nothing_was_written(
    fake_sheets: FakeSheetsServer,
) -> None:
    seed(fake_sheets)
    workbook = open_fake(fake_sheets, max_tries=2)
    # The write's answer is lost, and so is the read-back that would have settled it.
    fake_sheets.inject(*[Fault(reset=True, method=m) for m in ("POST", "GET")] * 2)

    with pytest.raises(
        CaseloopError, match=r"could not be reached \(connection reset\).*may or may not"
    ):
        workbook.write_tabs([status_model()])


def test_400_is_not_retried(fake_sheets: FakeSheetsServer) -> None:
    seed(fake_sheets)
    fake_sheets.inject(Fault(status=400, message="Invalid requests[0].addSheet: nope"))

    with pytest.raises(
        CaseloopError, match=r"refused the request \(400 INVALID_ARGUMENT\): Invalid requests"
    ):
        open_fake(fake_sheets)
    assert len(fake_sheets.log) == 1


@pytest.fixture
def service_account_file(tmp_path: Path) -> Path:
    # Only client_email is read when a credentials object carries the transport, so the key is
    # a placeholder: no token is ever requested from Google.
    path = tmp_path / "sa.json"
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "seller-ops",
                "private_key_id": "0",
                "private_key": "placeholder",
                "client_email": SA_EMAIL,
                "client_id": "1",
                "token_uri": "https://oauth2.googleapis.com/token",
            }
        )
    )
    path.chmod(0o600)
    return path


def open_with_file(fake: FakeSheetsServer, credentials_file: Path) -> GoogleWorkbook:
    return open_google_workbook(
        f"https://docs.google.com/spreadsheets/d/{KEY}/edit",
        str(credentials_file),
        http_client=fake_client_class(fake.url),
        credentials_object=Credentials(token="test"),
    )


def test_403_names_the_service_account_to_share_with(
    fake_sheets: FakeSheetsServer, service_account_file: Path
) -> None:
    seed(fake_sheets)
    fake_sheets.book(KEY).denied = True

    with pytest.raises(CaseloopError) as failed:
        open_with_file(fake_sheets, service_account_file)

    assert str(failed.value) == (
        f"The sheet is not shared with {SA_EMAIL}; share it with that address as Editor."
    )
    assert len(fake_sheets.log) == 1  # 403 is not retried


def test_403_on_write_asks_for_editor_access(
    fake_sheets: FakeSheetsServer, service_account_file: Path
) -> None:
    seed(fake_sheets)
    workbook = open_with_file(fake_sheets, service_account_file)
    fake_sheets.book(KEY).read_only = True

    with pytest.raises(
        CaseloopError,
        match=rf"can read the sheet but not change it: share it with {SA_EMAIL} as Editor",
    ):
        workbook.write_tabs([status_model()])
    assert not fake_sheets.book(KEY).has_sheet("Status")


def test_403_for_a_disabled_api_says_so(fake_sheets: FakeSheetsServer) -> None:
    seed(fake_sheets)
    fake_sheets.inject(
        Fault(
            status=403,
            message="Google Sheets API has not been used in project 123 before or it is disabled.",
        )
    )
    with pytest.raises(CaseloopError, match="Sheets API is not enabled"):
        open_fake(fake_sheets)


def test_404_says_to_check_the_url(fake_sheets: FakeSheetsServer) -> None:
    seed(fake_sheets)
    with pytest.raises(CaseloopError, match=r"Google Sheet NoSuchKey was not found; check the URL"):
        open_fake(fake_sheets, "gsheet:NoSuchKey")


def test_a_refused_token_is_one_sentence(fake_sheets: FakeSheetsServer) -> None:
    seed(fake_sheets)
    with pytest.raises(CaseloopError, match=r"^Google refused the credentials") as failed:
        open_google_workbook(
            f"gsheet:{KEY}",
            http_client=fake_client_class(fake_sheets.url),
            credentials_object=Credentials(token="expired"),
        )
    assert "expired" not in str(failed.value)
    assert [r.status for r in fake_sheets.log] == [401]
