"""The Google Sheets backend: read the case log and write generated tabs in one batchUpdate."""

from .http_client import RetryingHTTPClient
from .workbook import (
    GoogleWorkbook,
    credentials_path,
    date_serial,
    load_credentials,
    open_google_workbook,
    spreadsheet_key,
)

__all__ = [
    "GoogleWorkbook",
    "RetryingHTTPClient",
    "credentials_path",
    "date_serial",
    "load_credentials",
    "open_google_workbook",
    "spreadsheet_key",
]
