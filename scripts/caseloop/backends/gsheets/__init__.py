"""The Google Sheets backend: read the case log and write generated tabs in one batchUpdate.

Modules, in the order a sync uses them: ``auth`` (credentials), ``http_client`` (the retrying
transport), ``workbook`` (the three API calls), ``batch`` with ``cells``, ``charts`` and
``marks`` (the requests, built without I/O), ``api_errors`` (Google's refusals as sentences).
"""

from .auth import LoadedCredentials, credentials_path, load_credentials
from .cells import date_serial
from .http_client import RetryingHTTPClient
from .workbook import GoogleWorkbook, open_google_workbook, spreadsheet_key

__all__ = [
    "GoogleWorkbook",
    "LoadedCredentials",
    "RetryingHTTPClient",
    "credentials_path",
    "date_serial",
    "load_credentials",
    "open_google_workbook",
    "spreadsheet_key",
]
