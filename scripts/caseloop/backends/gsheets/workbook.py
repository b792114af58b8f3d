"""A Google Sheet as a caseloop workbook: one metadata GET, one values GET, one batchUpdate."""

from __future__ import annotations

import re
import uuid
from typing import Any

import gspread
from gspread.exceptions import APIError

from ...errors import CaseloopError
from ...model import SheetModel
from ...ports import Grid, Workbook, WriteResult
from .api_errors import api_failure, is_stale
from .auth import LoadedCredentials, load_credentials
from .batch import write_batches
from .cells import read_value
from .http_client import RetryingHTTPClient, WriteApplied
from .marks import RUN_KEY, is_ours, kind_of

_URL_KEY = re.compile(r"^https?://docs\.google\.com/spreadsheets/(?:u/\d+/)?d/([A-Za-z0-9_-]+)")
_PREFIX = "gsheet:"
# Unformatted values keep numbers numbers and dates serials; the formatted text would depend on
# each cell's display format and the sheet's locale.
_READ_PARAMS: dict[str, str | int | bool | float | list[str] | None] = {
    "valueRenderOption": "UNFORMATTED_VALUE",
    "dateTimeRenderOption": "SERIAL_NUMBER",
    "majorDimension": "ROWS",
}


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

    single_table = False  # the case tab is found by name among the sheet's tabs
    read_only = False  # whether the account may write is Google's answer to the batchUpdate

    def __init__(self, key: str, client: gspread.Client, loaded: LoadedCredentials) -> None:
        self.key = key
        self.location = f"https://docs.google.com/spreadsheets/d/{key}"
        self._http = client.http_client
        self._service_account_email = loaded.service_account_email
        self.warnings: list[str] = list(loaded.warnings)  # about the credentials file
        self._metadata: dict[str, Any] | None = None
        self._calls = 0  # logical API calls, for clients that do not count their own attempts
        self._read_back: dict[str, Any] | None = None  # the metadata a write check last read

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
            answer = self._http.values_get(self.key, _quoted_title(title), params=_READ_PARAMS)
        except APIError as error:
            raise self._api_failure(error, writing=False) from None
        return self._grid(title, answer)

    def read_tab_and_ours(self, title: str, kind: str) -> tuple[Grid, Grid | None]:
        """The tab ``title`` and caseloop's tab of ``kind`` (by its developer-metadata mark) in
        one values batchGet; a plain values GET when there is no such tab."""
        ours = next(
            (s["properties"]["title"] for s in self._sheets() if is_ours(s) and kind_of(s) == kind),
            None,
        )
        if ours is None or ours == title:
            return self.read_tab(title), None
        self._calls += 1
        try:
            answer = self._http.values_batch_get(
                self.key, [_quoted_title(title), _quoted_title(ours)], params=_READ_PARAMS
            )
        except APIError as error:
            raise self._api_failure(error, writing=False) from None
        ranges = answer.get("valueRanges", [{}, {}])
        return self._grid(title, ranges[0]), self._grid(ours, ranges[1])

    def _grid(self, title: str, answer: dict[str, Any]) -> Grid:
        rows = [[read_value(v) for v in row] for row in answer.get("values", [])]
        width = max((len(row) for row in rows), default=0)
        for row in rows:
            row.extend([None] * (width - len(row)))
        return Grid(
            title=title,
            rows=rows,
            timezone=self.timezone,
            dates_as_serials=True,
            merged_cells=self._merges(title),
        )

    def _merges(self, title: str) -> list[tuple[int, int, int, int]]:
        """The tab's merged cells, from the metadata already fetched (no request of its own)."""
        sheet = next(s for s in self._sheets() if s["properties"]["title"] == title)
        return [
            (
                m.get("startRowIndex", 0),
                m.get("startColumnIndex", 0),
                m["endRowIndex"] - 1,
                m["endColumnIndex"] - 1,
            )
            for m in sheet.get("merges", [])
            if "endRowIndex" in m and "endColumnIndex" in m
        ]

    # writing

    def write_tabs(self, tabs: list[SheetModel]) -> WriteResult:
        """Replace or create every tab of ``tabs``, all or nothing.

        Usually one atomic batchUpdate; a tab too big for one request is staged (see
        ``batch.write_batches``). When Google refuses because the sheet changed since it was
        read (a concurrent run deleted a chart or added the tab), the metadata is read again and
        the write rebuilt once.
        """
        for tab in tabs:
            tab.render_kept()  # every row is sent (the History's old rows too)
        for attempt in (1, 2):
            run = uuid.uuid4().hex[:12]
            bodies = write_batches(
                tabs,
                self.metadata.get("sheets", []),
                self.timezone,
                run,
                account_email=self._service_account_email,
            )
            try:
                for number, requests in enumerate(bodies):
                    self._send(requests, run, number, last=number == len(bodies) - 1)
                break
            except APIError as error:
                if attempt == 1 and is_stale(error):
                    self.refresh_metadata()
                    continue
                raise self._api_failure(error, writing=True, tabs=tabs) from None
        return WriteResult(
            target=self.location,
            tabs=[model.title for model in tabs],
            requests=self.requests_made,
            details={
                "batch_requests": sum(len(b) for b in bodies),
                "batches": len(bodies),
                "largest_body": getattr(self._http, "largest_body", None),
                "retries": getattr(self._http, "retries", 0),
            },
        )

    def update_cells(self, kind: str, cells: list[tuple[int, int, str | None]]) -> None:
        """Set the text of a few cells (row, column, 0-based) of caseloop's tab of ``kind`` in
        one batchUpdate, formats kept: a sync's Notified cells once its alerts went out. The
        tab is found by its mark in the metadata the write returned (no request of its own)."""
        if not cells:
            return
        sheet = next((s for s in self._sheets() if is_ours(s) and kind_of(s) == kind), None)
        if sheet is None:
            raise CaseloopError(
                f"The Google Sheet {self.key} has no tab of caseloop's {kind} any more; "
                "run caseloop sync again."
            )
        sheet_id = sheet["properties"].get("sheetId", 0)
        requests = [
            {
                "updateCells": {
                    "start": {"sheetId": sheet_id, "rowIndex": row, "columnIndex": column},
                    "rows": [
                        {"values": [{"userEnteredValue": {"stringValue": text}} if text else {}]}
                    ],
                    "fields": "userEnteredValue",
                }
            }
            for row, column, text in cells
        ]
        self._calls += 1
        http: Any = self._http
        # Setting a cell's text again changes nothing: a lost answer is simply sent again.
        http.check_write = lambda: False
        try:
            self._http.batch_update(self.key, {"requests": requests})
        except APIError as error:
            raise self._api_failure(error, writing=True) from None
        finally:
            http.check_write = None

    def _send(self, requests: list[dict[str, Any]], run: str, number: int, *, last: bool) -> None:
        """One batchUpdate of a write; its lost or failed answer is settled by reading back."""
        body: dict[str, Any] = {"requests": requests}
        if last:
            # The answer carries the new metadata (sheet ids, chart ids) so a later write in the
            # same run needs no extra GET.
            body |= {"includeSpreadsheetInResponse": True, "responseIncludeGridData": False}
        tag = run if last else f"{run}:stage" if number == 0 else None
        self._calls += 1
        # A plain gspread client (a test's) lacks the hook; setting it there does no harm.
        http: Any = self._http
        http.check_write = (lambda: self._was_applied(tag)) if tag else (lambda: False)
        try:
            answer = self._http.batch_update(self.key, body)
        except WriteApplied:
            if last:
                self._metadata = self._read_back
            return
        finally:
            http.check_write = None
        if last:
            self._metadata = answer.get("updatedSpreadsheet")

    def _was_applied(self, tag: str) -> bool | None:
        """Read the sheet back once: does a tab carry this write's run tag? None: unknown."""
        get_once = getattr(self._http, "get_once", None)
        metadata = get_once(self.key) if get_once is not None else None
        if metadata is None:
            return None
        self._read_back = metadata
        return any(
            mark.get("metadataKey") == RUN_KEY and mark.get("metadataValue") == tag
            for sheet in metadata.get("sheets", [])
            for mark in sheet.get("developerMetadata", [])
        )

    def close(self) -> None:
        """Nothing to let go: gspread's session holds no lock on the sheet."""

    # errors

    def _api_failure(
        self,
        error: APIError,
        *,
        writing: bool,
        tabs: list[SheetModel] = (),  # type: ignore[assignment]
    ) -> CaseloopError:
        return api_failure(
            error,
            key=self.key,
            account_email=self._service_account_email,
            writing=writing,
            tabs=list(tabs),
        )


def _quoted_title(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


# mypy checks here that the class has all of the port.
_: type[Workbook] = GoogleWorkbook
