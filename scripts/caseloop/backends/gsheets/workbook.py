"""The Google Sheets backend: read the case log and write generated tabs in one batchUpdate."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import gspread
from gspread.exceptions import APIError

from ...errors import CaseloopError, RefusedError
from ...model import Cell, CellValue, Chart, Range, SheetModel, Style
from ..base import CellError, Grid, WriteResult
from .http_client import RetryingHTTPClient

# Only the Sheets API: caseloop opens sheets by key and never needs Drive.
SCOPES = ["https://www.googleapis.com/auth/spreadsheets"]
MARK_KEY = "caseloop"  # developer metadata key on every tab caseloop generates

# The option that renames each kind of generated tab, for the refusal message.
RENAME_OPTION = {"status": "--status-tab", "weekly": "--report-tab"}

# What UNFORMATTED_VALUE returns for a formula that failed: the error's text.
ERROR_TEXTS = frozenset(
    {"#N/A", "#REF!", "#VALUE!", "#DIV/0!", "#NUM!", "#NAME?", "#NULL!", "#ERROR!", "#SPILL!"}
)

SHEETS_EPOCH = dt.datetime(1899, 12, 30)
DEFAULT_DATETIME_PATTERN = "yyyy-mm-dd hh:mm"
DEFAULT_DATE_PATTERN = "yyyy-mm-dd"
DEFAULT_COLUMN_PX = 100  # Google's width for a column nobody resized
BORDER_GREY = "#BFBFBF"

_URL_KEY = re.compile(r"^https?://docs\.google\.com/spreadsheets/(?:u/\d+/)?d/([A-Za-z0-9_-]+)")
_PREFIX = "gsheet:"


# --- where the log is -------------------------------------------------------------------------


def spreadsheet_key(log: str) -> str:
    """The spreadsheet key in a Google Sheets URL or ``gsheet:KEY``."""
    log = log.strip()
    if log.startswith(_PREFIX):
        key = log[len(_PREFIX) :].strip()
        if re.fullmatch(r"[A-Za-z0-9_-]+", key):
            return key
    elif match := _URL_KEY.match(log):
        return match.group(1)
    raise CaseloopError(
        f"{log!r} is not a Google Sheets address; use https://docs.google.com/spreadsheets/d/KEY/… "
        "or gsheet:KEY."
    )


# --- credentials ------------------------------------------------------------------------------


@dataclass
class LoadedCredentials:
    """Credentials and what may be said about them (never the secret parts)."""

    credentials: Any  # google.auth.credentials.Credentials
    path: Path | None
    service_account_email: str | None = None
    warnings: list[str] = field(default_factory=list)


def credentials_path(
    explicit: str | None, defaults: Sequence[Path | str] | None = None
) -> Path | None:
    """--credentials, else GOOGLE_APPLICATION_CREDENTIALS, else gspread's default files.

    ``defaults`` replaces gspread's default locations (for tests)."""
    if explicit:
        return Path(explicit).expanduser()
    from_env = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if from_env:
        return Path(from_env).expanduser()
    if defaults is None:
        from gspread.auth import DEFAULT_AUTHORIZED_USER_FILENAME, DEFAULT_SERVICE_ACCOUNT_FILENAME

        defaults = (DEFAULT_SERVICE_ACCOUNT_FILENAME, DEFAULT_AUTHORIZED_USER_FILENAME)
    for default in defaults:
        if Path(default).is_file():
            return Path(default)
    return None


def _read_credentials_json(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CaseloopError(f"The credentials file {path} does not exist.") from None
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or "not a text file"
        raise CaseloopError(f"The credentials file {path} cannot be read ({reason}).") from None
    try:
        info = json.loads(text)
    except ValueError:
        # The parser's message would quote the file's text, which may be a secret.
        raise CaseloopError(
            f"The credentials file {path} is not JSON; download the key again from Google Cloud."
        ) from None
    if not isinstance(info, dict):
        raise CaseloopError(
            f"The credentials file {path} is neither a service-account key nor "
            "authorized-user credentials."
        )
    return info


def load_credentials(
    explicit: str | None,
    *,
    build: bool = True,
    defaults: Sequence[Path | str] | None = None,
) -> LoadedCredentials:
    """Find and parse the credentials file; ``build=False`` only reads it (for the e-mail)."""
    path = credentials_path(explicit, defaults)
    if path is None:
        raise CaseloopError(
            "No Google credentials found: pass --credentials FILE (a service-account key or "
            "authorized-user JSON) or set GOOGLE_APPLICATION_CREDENTIALS."
        )
    info = _read_credentials_json(path)
    loaded = LoadedCredentials(credentials=None, path=path)
    if os.name == "posix" and path.stat().st_mode & 0o004:
        loaded.warnings.append(
            f"The credentials file {path} can be read by every user of this computer; "
            f"run: chmod 600 {path}"
        )
    kind = info.get("type")
    if kind == "service_account":
        email = info.get("client_email")
        loaded.service_account_email = email if isinstance(email, str) else None
        if build:
            from google.oauth2 import service_account

            try:
                loaded.credentials = service_account.Credentials.from_service_account_info(
                    info, scopes=SCOPES
                )
            except (ValueError, KeyError, TypeError):
                # google-auth's message may describe the key; say only which file is damaged.
                raise CaseloopError(
                    f"The service-account key {path} is incomplete or damaged; download a new "
                    "key from Google Cloud."
                ) from None
    elif kind == "authorized_user":
        if build:
            from google.oauth2.credentials import Credentials as UserCredentials

            try:
                # The scopes granted at sign-in (gspread asks for Sheets and Drive) stay as they
                # are: asking for others at refresh time can be refused.
                loaded.credentials = UserCredentials.from_authorized_user_info(info)
            except (ValueError, KeyError, TypeError):
                raise CaseloopError(
                    f"The authorized-user credentials {path} are incomplete; sign in again."
                ) from None
    elif "installed" in info or "web" in info:
        raise CaseloopError(
            f"The credentials file {path} is an OAuth client ID, not credentials; use a "
            "service-account key, or an authorized_user.json made by signing in once."
        )
    else:
        raise CaseloopError(
            f"The credentials file {path} is neither a service-account key nor "
            "authorized-user credentials."
        )
    return loaded


# --- opening ----------------------------------------------------------------------------------


def open_google_workbook(
    log: str,
    credentials: str | None = None,
    *,
    http_client: type[gspread.HTTPClient] | None = None,
    credentials_object: Any = None,
) -> GoogleWorkbook:
    """Open the Google Sheet ``log`` with one metadata request.

    ``credentials`` is the --credentials path. ``credentials_object`` (google-auth credentials)
    takes over the transport when given: no file is then looked for, and a ``credentials`` file
    named too is read only for the service account's e-mail and the permission warning.
    """
    key = spreadsheet_key(log)
    if credentials_object is not None:
        if credentials:
            loaded = load_credentials(credentials, build=False)
        else:
            loaded = LoadedCredentials(credentials=None, path=None)
        loaded.credentials = credentials_object
    else:
        loaded = load_credentials(credentials)
    client = gspread.Client(auth=loaded.credentials, http_client=http_client or RetryingHTTPClient)
    workbook = GoogleWorkbook(key, client, loaded)
    workbook.refresh_metadata()
    return workbook


class GoogleWorkbook:
    """A Google Sheet through gspread: one metadata GET, one values GET, one batchUpdate."""

    def __init__(self, key: str, client: gspread.Client, loaded: LoadedCredentials) -> None:
        self.key = key
        self.location = f"https://docs.google.com/spreadsheets/d/{key}"
        self._http = client.http_client
        self._service_account_email = loaded.service_account_email
        self.credential_warnings: list[str] = list(loaded.warnings)
        self._metadata: dict[str, Any] | None = None
        self._calls = 0  # logical API calls, for clients that do not count their own attempts

    # reading

    @property
    def requests_made(self) -> int:
        """HTTP requests this workbook has sent so far, retries included."""
        return getattr(self._http, "requests_sent", self._calls)

    @property
    def timezone(self) -> str | None:
        return self.metadata["properties"].get("timeZone")

    @property
    def metadata(self) -> dict[str, Any]:
        """The spreadsheet's metadata as last fetched or returned by our own batchUpdate."""
        if self._metadata is None:
            self.refresh_metadata()
        assert self._metadata is not None
        return self._metadata

    def refresh_metadata(self) -> None:
        self._calls += 1
        try:
            self._metadata = dict(self._http.fetch_sheet_metadata(self.key))
        except APIError as error:
            raise self._api_failure(error, writing=False) from None

    def _sheets(self) -> list[dict[str, Any]]:
        return sorted(
            self.metadata.get("sheets", []), key=lambda s: s["properties"].get("index", 0)
        )

    def tab_names(self) -> list[str]:
        return [sheet["properties"]["title"] for sheet in self._sheets()]

    def read_tab(self, title: str) -> Grid:
        names = self.tab_names()
        if title not in names:
            raise CaseloopError(
                f'The Google Sheet has no tab "{title}" (its tabs: {", ".join(names)}).'
            )
        self._calls += 1
        try:
            answer = self._http.values_get(
                self.key,
                _quoted_title(title),
                params={
                    # Unformatted values keep numbers numbers and dates serials; the formatted
                    # text would depend on each cell's display format and the sheet's locale.
                    "valueRenderOption": "UNFORMATTED_VALUE",
                    "dateTimeRenderOption": "SERIAL_NUMBER",
                    "majorDimension": "ROWS",
                },
            )
        except APIError as error:
            raise self._api_failure(error, writing=False) from None
        rows = [[_read_value(v) for v in row] for row in answer.get("values", [])]
        width = max((len(row) for row in rows), default=0)
        for row in rows:
            row.extend([None] * (width - len(row)))
        return Grid(title=title, rows=rows, timezone=self.timezone, dates_as_serials=True)

    # writing

    def write_tabs(self, tabs: list[SheetModel]) -> WriteResult:
        """Replace or create every tab of ``tabs`` in one atomic batchUpdate."""
        by_title = {s["properties"]["title"]: s for s in self.metadata.get("sheets", [])}
        used_ids = {s["properties"].get("sheetId", 0) for s in by_title.values()}
        tz = self.timezone
        requests: list[dict[str, Any]] = []
        for model in tabs:
            existing = by_title.get(model.title)
            if existing is not None and not _is_ours(existing):
                # Checked for every tab before anything is sent, so a refusal writes nothing.
                raise RefusedError(_refusal(model))
            if existing is not None and _kind_of(existing) not in (None, model.kind):
                option = RENAME_OPTION.get(model.kind, "the tab option")
                raise RefusedError(
                    f'The tab "{model.title}" holds another of caseloop\'s reports; caseloop will '
                    f"not write over it. Give the generated tab another name with {option} NAME."
                )
        for model in tabs:
            existing = by_title.get(model.title)
            if existing is None:
                sheet_id = _new_sheet_id(used_ids)
                used_ids.add(sheet_id)
                requests += create_requests(model, sheet_id)
            else:
                sheet_id = existing["properties"].get("sheetId", 0)
                requests += reset_requests(model, existing)
            requests += content_requests(model, sheet_id, tz)
        body = {
            "requests": requests,
            # The answer carries the new metadata (sheet ids, chart ids) so a later write in the
            # same run needs no extra GET.
            "includeSpreadsheetInResponse": True,
            "responseIncludeGridData": False,
        }
        self._calls += 1
        try:
            answer = self._http.batch_update(self.key, body)
        except APIError as error:
            raise self._api_failure(error, writing=True) from None
        self._metadata = answer.get("updatedSpreadsheet")
        return WriteResult(
            target=self.location,
            tabs=[model.title for model in tabs],
            requests=self.requests_made,
            details={
                "batch_requests": len(requests),
                "retries": getattr(self._http, "retries", 0),
            },
        )

    # errors

    def _api_failure(self, error: APIError, *, writing: bool) -> CaseloopError:
        status = error.response.status_code
        message = " ".join(str(error.error.get("message", "")).split())
        if status == 404:
            return CaseloopError(
                f"Google Sheet {self.key} was not found; check the URL (the part between /d/ and "
                "/edit) and that the sheet was not deleted."
            )
        if status == 401:
            return CaseloopError(
                "Google refused the credentials (401 unauthenticated); check the --credentials "
                "file or GOOGLE_APPLICATION_CREDENTIALS."
            )
        if status == 403:
            if "has not been used" in message or "is disabled" in message:
                return CaseloopError(
                    "The Google Sheets API is not enabled for the Google Cloud project of these "
                    "credentials; enable it in the Cloud console (APIs & Services → Library)."
                )
            who = self._service_account_email
            account = who if who else "the Google account of these credentials"
            address = "that address" if who else "that account"
            if writing:
                return CaseloopError(
                    f"caseloop can read the sheet but not change it: share it with {account} "
                    "as Editor."
                )
            return CaseloopError(
                f"The sheet is not shared with {account}; share it with {address} as Editor."
            )
        verb = "the update" if writing else "the request"
        return CaseloopError(
            f"Google Sheets refused {verb} ({status} {error.error.get('status', '')}): {message}"
        )


# --- what is read -----------------------------------------------------------------------------


def _quoted_title(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


def _read_value(value: Any) -> Any:
    if value == "":
        return None  # Sheets sends "" for an empty cell before a filled one in the same row
    if isinstance(value, str) and value in ERROR_TEXTS:
        return CellError(value)
    return value


def _is_ours(sheet: dict[str, Any]) -> bool:
    return any(m.get("metadataKey") == MARK_KEY for m in sheet.get("developerMetadata", []))


def _kind_of(sheet: dict[str, Any]) -> str | None:
    for mark in sheet.get("developerMetadata", []):
        if mark.get("metadataKey") == MARK_KEY:
            return mark.get("metadataValue")
    return None


def _refusal(model: SheetModel) -> str:
    option = RENAME_OPTION.get(model.kind)
    rename = f"with {option} NAME" if option else "with its option"
    return (
        f'The spreadsheet already has its own tab "{model.title}" that caseloop did not make; '
        f"caseloop will not touch it. Rename that tab, or give the generated tab another name "
        f"{rename}."
    )


def _new_sheet_id(used: set[int]) -> int:
    # Chosen here rather than by Google so the same batch can format the tab it creates.
    while True:
        candidate = random.randrange(1, 2**31 - 1)
        if candidate not in used:
            return candidate


# --- the batchUpdate requests -----------------------------------------------------------------


def grid_size(model: SheetModel) -> tuple[int, int]:
    """Rows and columns the tab needs: its cells, one row below the frozen ones, chart anchors."""
    rows = max(model.n_rows, model.freeze_rows + 1, 1)
    cols = max(model.n_cols, 1)
    for chart in model.charts:
        rows = max(rows, chart.anchor_row + 1)
        cols = max(cols, chart.anchor_col + 1)
    if model.auto_filter is not None:
        rows = max(rows, model.auto_filter.last_row + 1)
        cols = max(cols, model.auto_filter.last_col + 1)
    return rows, cols


def _grid_properties(model: SheetModel) -> dict[str, int]:
    rows, cols = grid_size(model)
    return {
        "rowCount": rows,
        "columnCount": cols,
        "frozenRowCount": model.freeze_rows,
        "frozenColumnCount": 0,
    }


def create_requests(model: SheetModel, sheet_id: int) -> list[dict[str, Any]]:
    """addSheet with our own sheetId, and the developer metadata that marks it as caseloop's."""
    return [
        {
            "addSheet": {
                "properties": {
                    "sheetId": sheet_id,
                    "title": model.title,
                    "sheetType": "GRID",
                    "gridProperties": _grid_properties(model),
                }
            }
        },
        {
            "createDeveloperMetadata": {
                "developerMetadata": {
                    "metadataKey": MARK_KEY,
                    "metadataValue": model.kind,
                    "location": {"sheetId": sheet_id},
                    "visibility": "DOCUMENT",
                }
            }
        },
    ]


def reset_requests(model: SheetModel, existing: dict[str, Any]) -> list[dict[str, Any]]:
    """Empty a tab caseloop made earlier: charts, filter, merges, then resize it to the model."""
    sheet_id = existing["properties"].get("sheetId", 0)
    requests: list[dict[str, Any]] = [
        {"deleteEmbeddedObject": {"objectId": chart["chartId"]}}
        for chart in existing.get("charts", [])
    ]
    if "basicFilter" in existing:
        requests.append({"clearBasicFilter": {"sheetId": sheet_id}})
    if existing.get("merges"):
        requests.append({"unmergeCells": {"range": {"sheetId": sheet_id}}})
    requests.append(
        {
            "updateSheetProperties": {
                "properties": {"sheetId": sheet_id, "gridProperties": _grid_properties(model)},
                "fields": "gridProperties.rowCount,gridProperties.columnCount,"
                "gridProperties.frozenRowCount,gridProperties.frozenColumnCount",
            }
        }
    )
    # Values, formats, notes and validation left by the earlier run (or typed by someone).
    requests.append({"updateCells": {"range": {"sheetId": sheet_id}, "fields": "*"}})
    return requests


def content_requests(model: SheetModel, sheet_id: int, tz: str | None) -> list[dict[str, Any]]:
    """Formats, values, widths, filter and charts of a freshly emptied tab.

    Formats go as one ``repeatCell`` per block of equal styles rather than inside every cell:
    the rows arrive sorted by flag, so a few dozen blocks carry what would otherwise be repeated
    in thousands of cells and keep the request body small.
    """
    requests = _format_requests(model, sheet_id)
    requests.append(
        {
            "updateCells": {
                "start": {"sheetId": sheet_id, "rowIndex": 0, "columnIndex": 0},
                "rows": [_row_data(row, tz) for row in model.rows],
                "fields": "userEnteredValue",
            }
        }
    )
    requests += _width_requests(model, sheet_id)
    if model.auto_filter is not None:
        requests.append(
            {"setBasicFilter": {"filter": {"range": grid_range(model.auto_filter, sheet_id)}}}
        )
    requests += [
        {"addChart": {"chart": chart_spec(chart, model, sheet_id)}} for chart in model.charts
    ]
    return requests


def grid_range(block: Range, sheet_id: int) -> dict[str, int]:
    """A model ``Range`` (inclusive) as a GridRange (end-exclusive)."""
    return {
        "sheetId": sheet_id,
        "startRowIndex": block.first_row,
        "endRowIndex": block.last_row + 1,
        "startColumnIndex": block.first_col,
        "endColumnIndex": block.last_col + 1,
    }


def cell_value(value: CellValue, tz: str | None) -> dict[str, Any] | None:
    """A model value as ExtendedValue. Text is always stringValue: never parsed, never a formula."""
    if value is None:
        return None
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return None  # JSON has no NaN; an empty cell says "no value" best
        return {"numberValue": value}
    if isinstance(value, dt.datetime | dt.date):
        return {"numberValue": date_serial(value, tz)}
    return {"stringValue": str(value)}


def date_serial(value: dt.date | dt.datetime, tz: str | None) -> float:
    """Days since 1899-12-30 as Sheets counts them; an aware datetime goes to the sheet's zone."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(_zone(tz)).replace(tzinfo=None)
        return (value - SHEETS_EPOCH) / dt.timedelta(days=1)
    return float((value - SHEETS_EPOCH.date()).days)


def _zone(tz: str | None) -> dt.tzinfo:
    try:
        return ZoneInfo(tz) if tz else dt.UTC
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def _row_data(row: list[Cell], tz: str | None) -> dict[str, Any]:
    values = [cell_value(cell.value, tz) for cell in row]
    while values and values[-1] is None:
        values.pop()  # trailing empties: the tab was just cleared
    return {"values": [{"userEnteredValue": v} if v is not None else {} for v in values]}


def _color(hex_color: str) -> dict[str, float]:
    hex_color = hex_color.lstrip("#")
    red, green, blue = (int(hex_color[i : i + 2], 16) / 255 for i in (0, 2, 4))
    return {"red": red, "green": green, "blue": blue}


def number_format(pattern: str) -> dict[str, str]:
    """An Excel number format as a Sheets NumberFormat (the pattern syntax is shared)."""
    pattern = re.sub(r"\[\$[^\]]*\]", "", pattern)  # Excel locale tags like [$-409]
    lowered = re.sub(r'"[^"]*"', "", pattern.lower())
    has_date = any(ch in lowered for ch in "yd") or "mmm" in lowered
    has_time = any(ch in lowered for ch in "hs") or "am/pm" in lowered
    if has_date and has_time:
        kind = "DATE_TIME"
    elif has_date:
        kind = "DATE"
    elif has_time:
        kind = "TIME"
    elif "%" in lowered:
        kind = "PERCENT"
    else:
        kind = "NUMBER"
    return {"type": kind, "pattern": pattern}


def cell_format(style: Style | None, default_pattern: str | None = None) -> dict[str, Any]:
    """A model ``Style`` as a Sheets CellFormat; ``default_pattern`` for dates without one."""
    fmt: dict[str, Any] = {}
    style = style or Style()
    if style.bg:
        fmt["backgroundColor"] = _color(style.bg)
    text: dict[str, Any] = {}
    if style.bold:
        text["bold"] = True
    if style.italic:
        text["italic"] = True
    if style.font_color:
        text["foregroundColor"] = _color(style.font_color)
    if style.size:
        text["fontSize"] = style.size
    if text:
        fmt["textFormat"] = text
    pattern = style.num_format or default_pattern
    if pattern:
        fmt["numberFormat"] = number_format(pattern)
    if style.wrap:
        fmt["wrapStrategy"] = "WRAP"
    if style.border:
        edge = {"style": "SOLID", "color": _color(BORDER_GREY)}
        fmt["borders"] = {side: edge for side in ("top", "bottom", "left", "right")}
    return fmt


def _format_key(cell: Cell) -> tuple[Style | None, str | None] | None:
    default = None
    if isinstance(cell.value, dt.datetime):
        default = DEFAULT_DATETIME_PATTERN
    elif isinstance(cell.value, dt.date):
        default = DEFAULT_DATE_PATTERN
    if cell.style is None and default is None:
        return None
    if cell.style is not None and cell.style.num_format:
        default = None  # the style's own pattern wins
    return (cell.style, default)


def _row_runs(row: list[Cell]) -> tuple[tuple[int, int, Any], ...]:
    """Runs of equal formats in one row: (first column, end column exclusive, format key)."""
    runs: list[tuple[int, int, Any]] = []
    for col, cell in enumerate(row):
        key = _format_key(cell)
        if runs and runs[-1][2] == key and runs[-1][1] == col:
            runs[-1] = (runs[-1][0], col + 1, key)
        elif key is not None:
            runs.append((col, col + 1, key))
    return tuple(runs)


def _format_requests(model: SheetModel, sheet_id: int) -> list[dict[str, Any]]:
    requests: list[dict[str, Any]] = []
    bands: list[tuple[int, int, tuple[tuple[int, int, Any], ...]]] = []  # rows with equal runs
    for index, row in enumerate(model.rows):
        runs = _row_runs(row)
        if bands and bands[-1][2] == runs and bands[-1][1] == index:
            bands[-1] = (bands[-1][0], index + 1, runs)
        else:
            bands.append((index, index + 1, runs))
    formats: dict[Any, dict[str, Any]] = {}
    for first_row, end_row, runs in bands:
        for first_col, end_col, key in runs:
            if key not in formats:
                formats[key] = cell_format(*key)
            requests.append(
                {
                    "repeatCell": {
                        "range": {
                            "sheetId": sheet_id,
                            "startRowIndex": first_row,
                            "endRowIndex": end_row,
                            "startColumnIndex": first_col,
                            "endColumnIndex": end_col,
                        },
                        "cell": {"userEnteredFormat": formats[key]},
                        "fields": "userEnteredFormat",
                    }
                }
            )
    return requests


def column_pixels(chars: float) -> int:
    """An Excel-style width in characters as pixels (about 7 px a character plus padding)."""
    return max(1, round(chars * 7 + 10))


def _width_requests(model: SheetModel, sheet_id: int) -> list[dict[str, Any]]:
    _, cols = grid_size(model)
    # Every column gets a width, default ones included, so widths of an earlier run vanish.
    widths = [
        column_pixels(model.col_widths[c]) if c < len(model.col_widths) else DEFAULT_COLUMN_PX
        for c in range(cols)
    ]
    requests = []
    start = 0
    for col in range(1, cols + 1):
        if col == cols or widths[col] != widths[start]:
            requests.append(
                {
                    "updateDimensionProperties": {
                        "range": {
                            "sheetId": sheet_id,
                            "dimension": "COLUMNS",
                            "startIndex": start,
                            "endIndex": col,
                        },
                        "properties": {"pixelSize": widths[start]},
                        "fields": "pixelSize",
                    }
                }
            )
            start = col
    return requests


def _cell_text(model: SheetModel, row: int, col: int) -> CellValue:
    if 0 <= row < len(model.rows) and col < len(model.rows[row]):
        return model.rows[row][col].value
    return None


def chart_spec(chart: Chart, model: SheetModel, sheet_id: int) -> dict[str, Any]:
    """A COMBO basic chart: column and line series over one category column."""
    # Sheets takes a series' name only from a header cell above its values, so use that row
    # when it holds the names the model gives.
    above = chart.categories.first_row - 1
    named = above >= 0 and all(
        series.values.first_row == chart.categories.first_row
        and _cell_text(model, above, series.values.first_col) == series.name
        for series in chart.series
    )
    shift = 1 if named else 0

    def source(block: Range) -> dict[str, Any]:
        grown = Range(block.first_row - shift, block.first_col, block.last_row, block.last_col)
        return {"sourceRange": {"sources": [grid_range(grown, sheet_id)]}}

    axes: list[dict[str, Any]] = [{"position": "BOTTOM_AXIS"}, {"position": "LEFT_AXIS"}]
    if chart.y_title:
        axes[1]["title"] = chart.y_title
    series_specs = []
    for series in chart.series:
        spec: dict[str, Any] = {
            "series": source(series.values),
            "targetAxis": "LEFT_AXIS",
            "type": "LINE" if series.kind == "line" else "COLUMN",
        }
        if series.color:
            spec["color"] = _color(series.color)
        series_specs.append(spec)
    return {
        "spec": {
            "title": chart.title,
            "basicChart": {
                "chartType": "COMBO",
                "legendPosition": "BOTTOM_LEGEND",
                "axis": axes,
                "domains": [{"domain": source(chart.categories)}],
                "series": series_specs,
                "headerCount": shift,
            },
        },
        "position": {
            "overlayPosition": {
                "anchorCell": {
                    "sheetId": sheet_id,
                    "rowIndex": chart.anchor_row,
                    "columnIndex": chart.anchor_col,
                },
                "widthPixels": chart.width_px,
                "heightPixels": chart.height_px,
            }
        },
    }
