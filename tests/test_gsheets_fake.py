"""The fake Sheets API itself: gspread's own calls work on it, and it answers in Google's shapes."""

from __future__ import annotations

import datetime as dt

import gspread
import pytest
import requests
from google.oauth2.credentials import Credentials

from fakesheets import FakeSheetsServer, Fault, fake_client_class

pytest_plugins = ["fakesheets.fixtures"]


@pytest.fixture
def client(fake_sheets: FakeSheetsServer) -> gspread.Client:
    book = fake_sheets.add_spreadsheet("K", timezone="Europe/London")
    book.add_sheet(
        "Case Log",
        [["Case ID", "Opened", "Done"], ["123", dt.datetime(2026, 1, 2, 3, 4), True], [], ["x"]],
    )
    return gspread.Client(Credentials(token="test"), http_client=fake_client_class(fake_sheets.url))


def test_gspread_reads_through_its_own_methods(client: gspread.Client) -> None:
    sheet = client.open_by_key("K")
    worksheet = sheet.worksheet("Case Log")
    assert sheet.timezone == "Europe/London"
    assert worksheet.get_all_values() == [
        ["Case ID", "Opened", "Done"],
        ["123", "2026-01-02 03:04", "TRUE"],
        ["", "", ""],
        ["x", "", ""],
    ]
    assert worksheet.get("A2:C2", value_render_option="UNFORMATTED_VALUE") == [
        ["123", pytest.approx(46024.1277777), True]
    ]
    dates = worksheet.get_values(
        "B2", value_render_option="UNFORMATTED_VALUE", date_time_render_option="FORMATTED_STRING"
    )
    assert dates == [["2026-01-02 03:04"]]


def test_gspread_writes_through_batch_update(
    client: gspread.Client, fake_sheets: FakeSheetsServer
) -> None:
    sheet = client.open_by_key("K")
    added = sheet.add_worksheet("Extra", rows=5, cols=3)
    added.freeze(rows=1)
    added.set_basic_filter("A1:C5")
    added.format("A1:C1", {"textFormat": {"bold": True}})

    extra = fake_sheets.book("K").sheet("Extra")
    assert (extra.row_count, extra.column_count, extra.frozen_rows) == (5, 3, 1)
    assert extra.basic_filter["range"]["endRowIndex"] == 5
    assert extra.cell("B1").format == {"textFormat": {"bold": True}}
    assert [w.title for w in sheet.worksheets()] == ["Case Log", "Extra"]


def test_values_answer_in_googles_shape(
    fake_sheets: FakeSheetsServer, client: gspread.Client
) -> None:
    answer = client.http_client.values_get(
        "K", "'Case Log'", params={"valueRenderOption": "UNFORMATTED_VALUE"}
    )
    # The used area, trailing empties left out, an empty row in the middle as [].
    assert answer["range"] == "'Case Log'!A1:C4"
    assert answer["majorDimension"] == "ROWS"
    assert answer["values"][2] == [] and answer["values"][3] == ["x"]
    batch = client.http_client.values_batch_get("K", ["'Case Log'!A1:B1", "'Case Log'!C9:C9"])
    assert [r["range"] for r in batch["valueRanges"]] == ["'Case Log'!A1:B1", "'Case Log'!C9:C9"]
    assert "values" not in batch["valueRanges"][1]


def test_a_batch_is_all_or_nothing(fake_sheets: FakeSheetsServer, client: gspread.Client) -> None:
    before = fake_sheets.book("K").resource()
    body = {
        "requests": [
            {"addSheet": {"properties": {"title": "New"}}},
            {"updateCells": {"start": {"sheetId": 999}, "rows": [], "fields": "*"}},
        ]
    }
    with pytest.raises(gspread.exceptions.APIError) as failed:
        client.http_client.batch_update("K", body)
    assert failed.value.error == {
        "code": 400,
        "message": "Invalid requests[1].updateCells: No grid with id: 999",
        "status": "INVALID_ARGUMENT",
    }
    assert fake_sheets.book("K").resource() == before


def test_unknown_request_kinds_are_refused(client: gspread.Client) -> None:
    with pytest.raises(gspread.exceptions.APIError, match='Unknown name "sortRange"'):
        client.http_client.batch_update("K", {"requests": [{"sortRange": {}}]})


def test_update_cells_over_a_range_clears_what_rows_do_not_cover(
    fake_sheets: FakeSheetsServer, client: gspread.Client
) -> None:
    body = {
        "requests": [
            {
                "updateCells": {
                    "range": {"sheetId": 0, "startRowIndex": 0, "endRowIndex": 4},
                    "rows": [{"values": [{"userEnteredValue": {"stringValue": "only"}}]}],
                    "fields": "userEnteredValue",
                }
            }
        ]
    }
    client.http_client.batch_update("K", body)
    assert fake_sheets.book("K").sheet("Case Log").values() == [["only"]]


def test_faults_come_in_order_with_googles_error_body(fake_sheets: FakeSheetsServer) -> None:
    fake_sheets.add_spreadsheet("K")
    fake_sheets.inject(Fault(status=429, retry_after="3"), Fault(status=503))
    url = f"{fake_sheets.url}/v4/spreadsheets/K"
    headers = {"Authorization": "Bearer test"}

    first = requests.get(url, headers=headers, timeout=5)
    second = requests.get(url, headers=headers, timeout=5)
    third = requests.get(url, headers=headers, timeout=5)

    assert first.status_code == 429 and first.headers["Retry-After"] == "3"
    assert first.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert second.json()["error"] == {
        "code": 503,
        "message": "The service is currently unavailable.",
        "status": "UNAVAILABLE",
    }
    assert third.status_code == 200
    assert [r.status for r in fake_sheets.log] == [429, 503, 200]


def test_no_token_no_answer(fake_sheets: FakeSheetsServer) -> None:
    fake_sheets.add_spreadsheet("K")
    answer = requests.get(f"{fake_sheets.url}/v4/spreadsheets/K", timeout=5)
    assert answer.status_code == 401
    assert answer.json()["error"]["status"] == "UNAUTHENTICATED"


def test_the_network_guard_blocks_other_hosts(no_network: None) -> None:
    with pytest.raises(requests.ConnectionError):
        requests.get("https://sheets.googleapis.com/v4/spreadsheets/K", timeout=5)
