"""The Workbook port: every backend has all of it, and the engine and CLI use nothing else.

Library errors that a command-line option fixes name the setting, never its spelling.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from google.oauth2.credentials import Credentials
from gspread.exceptions import APIError

from caseloop import engine
from caseloop.backends import open_workbook
from caseloop.backends.csvfile import CsvWorkbook
from caseloop.backends.gsheets import load_credentials, open_google_workbook
from caseloop.backends.gsheets.api_errors import api_failure
from caseloop.cli import OPTIONS, main
from caseloop.config import load_rules
from caseloop.errors import OptionError
from caseloop.model import SheetModel
from caseloop.ports import Grid, Workbook, WriteResult
from caseloop.schema import load_schema
from caseloop.weekly import Week

from fakesheets import FakeSheetsServer, fake_client_class

pytest_plugins = ["fakesheets.fixtures"]

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "case_log.xlsx"
KEY = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcd"
HEADER = ["Case ID", "Marketplace", "Category", "Channel", "Status", "Opened At", "Summary"]
CASE = ["12345678901", "US", "Advertising", "Case", "Open", "2026-03-02 09:30", "Stuck in review"]


def protocol_members() -> set[str]:
    """The names the Workbook protocol declares: its attributes and its methods."""
    return {
        name
        for name, value in vars(Workbook).items()
        if isinstance(value, property) or inspect.isfunction(value)
        if not name.startswith("_")
    } | set(Workbook.__annotations__)


def write_csv(path: Path) -> Path:
    path.write_text(",".join(HEADER) + "\n" + ",".join(CASE) + "\n", encoding="utf-8")
    return path


def test_the_protocol_names_everything_the_engine_and_cli_ask_of_a_backend() -> None:
    assert protocol_members() == {
        "location",
        "single_table",
        "read_only",
        "warnings",
        "tab_names",
        "read_tab",
        "read_tab_and_ours",
        "write_tabs",
        "close",
    }


def test_a_csv_export_is_a_workbook(tmp_path: Path) -> None:
    book = CsvWorkbook(write_csv(tmp_path / "cases.csv"))
    assert isinstance(book, Workbook)
    assert (book.single_table, book.read_only, book.warnings) == (True, True, [])
    book.close()
    book.close()  # idempotent


def test_an_excel_file_is_a_workbook() -> None:
    book = open_workbook(str(SAMPLE))
    try:
        assert isinstance(book, Workbook)
        assert (book.single_table, book.read_only, book.warnings) == (False, False, [])
    finally:
        book.close()
        book.close()


def test_a_google_sheet_is_a_workbook(fake_sheets: FakeSheetsServer) -> None:
    fake_sheets.add_spreadsheet(KEY).add_sheet("Cases", [HEADER])
    book = open_google_workbook(
        f"gsheet:{KEY}",
        http_client=fake_client_class(fake_sheets.url),
        credentials_object=Credentials(token="test"),
    )
    assert isinstance(book, Workbook)
    assert (book.single_table, book.read_only, book.warnings) == (False, False, [])
    book.close()


class StrictWorkbook:
    """Exactly the protocol, remembering every name asked of it: a backend the engine and the
    CLI may only talk to through the port."""

    def __init__(self, *, read_only: bool = False, warnings: list[str] | None = None) -> None:
        self.location = "strict.book"
        self.single_table = read_only
        self.read_only = read_only
        self.warnings = list(warnings or [])
        self.asked: set[str] = set()
        self.closed = 0

    def __getattribute__(self, name: str) -> Any:
        if not name.startswith("_") and name not in ("asked", "closed"):
            object.__getattribute__(self, "asked").add(name)
        return object.__getattribute__(self, name)

    def tab_names(self) -> list[str]:
        return ["export" if self.read_only else "Cases"]

    def read_tab(self, title: str) -> Grid:
        return Grid(title=title, rows=[list(HEADER), list(CASE)])

    def read_tab_and_ours(self, title: str, kind: str) -> tuple[Grid, Grid | None]:
        return self.read_tab(title), None

    def write_tabs(self, tabs: list[SheetModel]) -> WriteResult:
        return WriteResult(target=self.location, tabs=[t.title for t in tabs])

    def close(self) -> None:
        self.closed += 1


def use(monkeypatch: pytest.MonkeyPatch, book: StrictWorkbook) -> StrictWorkbook:
    monkeypatch.setattr(engine, "open_workbook", lambda *args, **kwargs: book)
    return book


def test_the_engine_uses_only_the_protocol(monkeypatch: pytest.MonkeyPatch) -> None:
    book = use(monkeypatch, StrictWorkbook(warnings=["the file was put right"]))
    settings = engine.Settings(log="strict.book", now="2026-03-03T09:00")
    loaded = engine.load(settings)
    assert loaded.warnings == ["the file was put right"]
    assert len(loaded.frame.cases) == 1
    engine.write(loaded, [SheetModel("Status", [])])
    engine.close(loaded.workbook)
    assert book.closed == 1
    assert book.asked <= protocol_members()


def test_a_single_table_is_the_case_tab_whatever_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    book = use(monkeypatch, StrictWorkbook(read_only=True))
    loaded = engine.load(engine.Settings(log="strict.book", sheet="Cases", now="2026-03-03"))
    assert loaded.frame.tab == "export"
    assert book.asked <= protocol_members()


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["sync", "--dry-run"], "(a CSV export: sync can only show these rows, not write them)"),
        (["report"], "add --markdown FILE (or --markdown -) to get the report as Markdown."),
    ],
)
def test_the_cli_asks_the_port_whether_it_can_write(
    monkeypatch: pytest.MonkeyPatch, args: list[str], said: str
) -> None:
    book = use(monkeypatch, StrictWorkbook(read_only=True))
    result = CliRunner().invoke(main, [*args, "strict.book", "--now", "2026-03-03T09:00"])
    assert said in result.output
    assert book.closed == 1
    assert book.asked <= protocol_members()


def google_refusal(status: int) -> APIError:
    answer = requests.Response()
    answer.status_code = status
    answer._content = b'{"error": {"code": 401, "message": "no", "status": "UNAUTHENTICATED"}}'
    return APIError(answer)


def csv_write(tmp_path: Path) -> None:
    CsvWorkbook(write_csv(tmp_path / "cases.csv")).write_tabs([])


def no_credentials(tmp_path: Path) -> None:
    load_credentials(None, defaults=[tmp_path / "absent.json"])


def raise_it(error: Exception) -> None:
    raise error


CASES: list[tuple[str, Callable[[Path], Any]]] = [
    ("now", lambda _: engine.parse_now("tomorrow", load_rules())),
    ("now", lambda _: engine.parse_now("1500-01-01T00:00", load_rules())),
    ("week", lambda _: Week.parse("2026-47")),
    ("week", lambda _: Week.parse("1677-W01")),
    ("sheet", lambda _: engine.Settings(log="x.xlsx", sheet=" ")),
    ("sheet", lambda _: engine.find_case_tab(["Sheet1"], None, "x.xlsx")),
    ("rules", lambda tmp: load_rules(tmp / "nope.yaml")),
    ("schema", lambda tmp: load_schema(tmp / "nope.json")),
    ("output", lambda _: open_workbook(f"gsheet:{KEY}", output="copy.xlsx")),
    ("markdown", lambda _: engine.check_markdown_path("report.xlsx", "log.xlsx")),
    ("markdown", csv_write),
    ("credentials", no_credentials),
    (
        "credentials",
        lambda _: raise_it(
            api_failure(google_refusal(401), key=KEY, account_email=None, writing=False)
        ),
    ),
]


@pytest.mark.parametrize(("setting", "call"), CASES)
def test_library_errors_name_the_setting_and_leave_its_spelling_to_the_cli(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, setting: str, call: Callable[[Path], Any]
) -> None:
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    with pytest.raises(OptionError) as failed:
        call(tmp_path)
    assert failed.value.setting == setting
    assert "{option}" in failed.value.template
    assert OPTIONS[setting] not in failed.value.template
    assert OPTIONS[setting] in str(failed.value.for_option(OPTIONS[setting]))
