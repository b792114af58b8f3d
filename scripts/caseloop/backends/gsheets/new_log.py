"""``caseloop init`` for Google Sheets: the new log's tabs added to an existing sheet in one
batchUpdate (tabs, values, formats, frozen header, widths, data validation).

Requests as in Google's Sheets API v4 reference (spreadsheets.batchUpdate, Request):
AddSheetRequest, UpdateCellsRequest, RepeatCellRequest, SetDataValidationRequest (a
DataValidationRule: a BooleanCondition, inputMessage, strict, showCustomUi) and
UpdateDimensionPropertiesRequest.
"""

from __future__ import annotations

from typing import Any

import gspread
from gspread.exceptions import APIError

from ...errors import CaseloopError
from ...newlog import EARLIEST, FIRST_ROW, LAST_ROW, LATEST, Column, NewLog, column_letter
from ...schema import normalize_label
from .api_errors import api_failure
from .auth import load_credentials
from .batch import column_pixels
from .cells import rgb
from .http_client import RetryingHTTPClient
from .workbook import spreadsheet_key

HEADER_FILL = "#DDEBF7"


def _grid(sheet_id: int, r0: int, r1: int, c0: int, c1: int) -> dict[str, int]:
    return {
        "sheetId": sheet_id,
        "startRowIndex": r0,
        "endRowIndex": r1,
        "startColumnIndex": c0,
        "endColumnIndex": c1,
    }


def _text(value: str, **fmt: Any) -> dict[str, Any]:
    cell: dict[str, Any] = {"userEnteredValue": {"stringValue": value}}
    if fmt:
        cell["userEnteredFormat"] = fmt
    return cell


def _rows(sheet_id: int, rows: list[list[dict[str, Any]]]) -> dict[str, Any]:
    return {
        "updateCells": {
            "start": {"sheetId": sheet_id, "rowIndex": 0, "columnIndex": 0},
            "rows": [{"values": row} for row in rows],
            "fields": "userEnteredValue,userEnteredFormat,note",
        }
    }


def _quoted(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


def _rule(log: NewLog, column: Column, col: int) -> dict[str, Any] | None:
    """The column's DataValidationRule, or None for free text."""
    check = log.checks.get(column.kind)
    if check is None:
        return None
    if column.list_index is not None:
        letter, first, last = log.list_range(column.list_index)
        # ONE_OF_RANGE skips the empty cells of its range, so the range may run past the values.
        condition = {
            "type": "ONE_OF_RANGE",
            "values": [
                {"userEnteredValue": f"={_quoted(log.lists_tab)}!{letter}{first}:{letter}{last}"}
            ],
        }
    elif column.kind == "datetime":
        condition = {
            "type": "DATE_BETWEEN",
            "values": [
                {"userEnteredValue": EARLIEST.isoformat()},
                {"userEnteredValue": LATEST.isoformat()},
            ],
        }
    else:
        # No whole-number condition exists: a formula relative to the range's first cell.
        cell = f"{column_letter(col)}{FIRST_ROW}"
        condition = {
            "type": "CUSTOM_FORMULA",
            "values": [
                {"userEnteredValue": f"=AND(ISNUMBER({cell}),{cell}>=0,{cell}=INT({cell}))"}
            ],
        }
    return {
        "condition": condition,
        "inputMessage": check.message,
        "strict": check.strict,
        "showCustomUi": column.list_index is not None,
    }


def init_requests(log: NewLog, used_ids: set[int]) -> list[dict[str, Any]]:
    """Every request of the one batchUpdate that adds the new log's three tabs."""
    ids: list[int] = []
    candidate = 1
    while len(ids) < 3:
        if candidate not in used_ids:
            ids.append(candidate)
        candidate += 1
    cases_id, lists_id, howto_id = ids
    columns = log.columns
    header = {
        "backgroundColor": rgb(HEADER_FILL),
        "textFormat": {"bold": True},
        "wrapStrategy": "WRAP",
        "verticalAlignment": "TOP",
    }
    requests: list[dict[str, Any]] = []
    howto_rows = max(len(log.howto) + 5, 50)
    for sheet_id, title, index, row_count, column_count in (
        (cases_id, log.cases_tab, 0, LAST_ROW, len(columns)),
        (lists_id, log.lists_tab, 1, max(500, len(log.lists) + 1), len(log.lists) + 2),
        (howto_id, log.howto_tab, 2, howto_rows, 2),
    ):
        requests.append(
            {
                "addSheet": {
                    "properties": {
                        "sheetId": sheet_id,
                        "title": title,
                        "index": index,
                        "gridProperties": {
                            "rowCount": row_count,
                            "columnCount": column_count,
                            # The How to tab scrolls as a page; the others keep their header.
                            "frozenRowCount": 0 if sheet_id == howto_id else 1,
                        },
                    }
                }
            }
        )
    # Cases: the header, with each column's help as the header cell's note (a validation rule
    # needs a condition, so a note is how Sheets shows help on a free-text header).
    requests.append(
        _rows(cases_id, [[{**_text(c.header, **header), "note": c.hint} for c in columns]])
    )
    for col, column in enumerate(columns):
        below = _grid(cases_id, FIRST_ROW - 1, LAST_ROW, col, col + 1)
        if column.number_format is not None:
            number = (
                {"type": "TEXT"}
                if column.number_format == "@"
                else {"type": "DATE_TIME", "pattern": column.number_format}
            )
            requests.append(
                {
                    "repeatCell": {
                        "range": below,
                        "cell": {"userEnteredFormat": {"numberFormat": number}},
                        "fields": "userEnteredFormat.numberFormat",
                    }
                }
            )
        rule = _rule(log, column, col)
        if rule is not None:
            requests.append({"setDataValidation": {"range": below, "rule": rule}})
        requests.append(_width(cases_id, col, column.width))
    # Lists: a column per dropdown, and a note on how to extend them.
    height = max((len(v.values) for v in log.lists), default=0) + 1
    grid: list[list[dict[str, Any]]] = [
        [{} for _ in range(len(log.lists) + 2)] for _ in range(height)
    ]
    for col, values in enumerate(log.lists):
        grid[0][col] = _text(values.header, **header)
        for r, value in enumerate(values.values, start=1):
            grid[r][col] = _text(value)
        requests.append(_width(lists_id, col, max(14, 2 * len(values.header) + 2)))
    grid[0][len(log.lists) + 1] = _text(
        log.lists_note, textFormat={"italic": True}, wrapStrategy="WRAP"
    )
    requests.append(_width(lists_id, len(log.lists) + 1, 60))
    requests.append(_rows(lists_id, grid))
    # How to: headings in bold, each flag in its Status-tab colours.
    howto: list[list[dict[str, Any]]] = []
    for r, row in enumerate(log.howto):
        cells = [_text(text) for text in row] + [{}] * (2 - len(row))
        if r in log.heading_rows and row:
            cells[0] = _text(row[0], textFormat={"bold": True, "fontSize": 12})
        elif r in log.flag_rows:
            fill, font = log.flag_rows[r]
            cells[0] = _text(
                row[0],
                backgroundColor=rgb(fill),
                textFormat={"bold": True, "foregroundColor": rgb(font or "#000000")},
            )
        if len(row) > 1:
            cells[1] = _text(row[1], wrapStrategy="WRAP", verticalAlignment="TOP")
        howto.append(cells)
    requests.append(_rows(howto_id, howto))
    requests.append(_width(howto_id, 0, 22))
    requests.append(_width(howto_id, 1, 90))
    return requests


def _width(sheet_id: int, col: int, chars: int) -> dict[str, Any]:
    return {
        "updateDimensionProperties": {
            "range": {
                "sheetId": sheet_id,
                "dimension": "COLUMNS",
                "startIndex": col,
                "endIndex": col + 1,
            },
            "properties": {"pixelSize": column_pixels(chars)},
            "fields": "pixelSize",
        }
    }


def init_google(
    log: NewLog,
    location: str,
    credentials: str | None = None,
    *,
    http_client: type[gspread.HTTPClient] | None = None,
) -> tuple[str, list[str]]:
    """Add the new log's tabs to the Google Sheet at ``location`` in one batchUpdate; refuse a
    sheet that already has a case tab. Returns the sheet's address and credential warnings."""
    key = spreadsheet_key(location)
    loaded = load_credentials(credentials)
    client = gspread.Client(auth=loaded.credentials, http_client=http_client or RetryingHTTPClient)
    http = client.http_client
    email = loaded.service_account_email
    try:
        metadata = http.fetch_sheet_metadata(key)
    except APIError as error:
        raise api_failure(error, key=key, account_email=email, writing=False) from None
    sheets = [s["properties"] for s in metadata.get("sheets", [])]
    case_names = {normalize_label(n) for n in log.case_tab_aliases}
    for props in sheets:
        if normalize_label(props["title"]) in case_names:
            raise CaseloopError.said("init_gsheet_has_cases", tab=props["title"])
    ours = {normalize_label(t) for t in (log.lists_tab, log.howto_tab)}
    for props in sheets:
        if normalize_label(props["title"]) in ours:
            raise CaseloopError.said("init_gsheet_tab_taken", tab=props["title"])
    requests = init_requests(log, {int(p.get("sheetId", 0)) for p in sheets})
    try:
        http.batch_update(key, {"requests": requests})
    except APIError as error:
        raise api_failure(error, key=key, account_email=email, writing=True) from None
    return f"https://docs.google.com/spreadsheets/d/{key}", list(loaded.warnings)
