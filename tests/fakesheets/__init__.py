"""A stateful fake of the Google Sheets v4 API on loopback, for tests through real gspread."""

from .client import fake_client_class
from .server import FakeSheetsServer, Fault, LoggedRequest
from .state import FakeCell, FakeSheet, FakeSpreadsheet

__all__ = [
    "FakeCell",
    "FakeSheet",
    "FakeSheetsServer",
    "FakeSpreadsheet",
    "Fault",
    "LoggedRequest",
    "fake_client_class",
]
