"""The read cache of the History tab on Excel (.caseloop-backup/<book>.history-cache.*): written
after a sync that kept the tab's rows, used while the tab's bytes are those it was read from,
ignored when the team edited the tab or the cache is damaged, never for Google; a sync reads the
same History and writes the same tabs with it as without it."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from libreoffice import LibreOffice, available
from test_history import (
    KEY,
    LABELS,
    RULES,
    T1,
    T2,
    authorized_user_file,
    edit_excel,
    edits,
    history_rows,
    iso,
    sync,
    the_cases,
)

from caseloop.backends.xlsx.workbook import ExcelWorkbook
from caseloop.cli import main
from caseloop.history import Read, read_history
from caseloop.history_cache import cache_files, load_cached, part_key

from caselog import HEADERS, write_xlsx
from fakesheets import FakeSheetsServer, fake_client_class

pytest_plugins = ["fakesheets.fixtures"]

T3 = T2 + dt.timedelta(hours=6)


def read_tab(path: Path) -> Read:
    """The History tab read the usual way (calamine)."""
    book = ExcelWorkbook(path)
    try:
        return read_history(book.read_ours("history"), RULES, LABELS)
    finally:
        book.close()


def cached(path: Path) -> Read | None:
    book = ExcelWorkbook(path)
    try:
        key = part_key(book.package, "history")
        assert key is not None
        return load_cached(path, key, RULES, LABELS)
    finally:
        book.close()


def assert_same_read(one: Read, other: Read) -> None:
    assert one.history is not None and other.history is not None
    pd.testing.assert_frame_equal(one.history.rows, other.history.rows)
    assert one.history.started == other.history.started
    assert (one.header_row, one.last_row, one.header) == (
        other.header_row,
        other.last_row,
        other.header,
    )


def two_syncs(tmp_path: Path) -> Path:
    """The baseline at T1, then the team's edits and a sync at T2 (rows kept: a cache)."""
    log = write_xlsx(tmp_path / "log.xlsx", the_cases(), HEADERS)
    sync(log, T1)
    edit_excel(log, *edits())
    sync(log, T2)
    return log


def tabs(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """History and Status below their title lines (which carry the time of writing)."""
    book = openpyxl.load_workbook(path, read_only=True)
    return {t: [tuple(r) for r in book[t].iter_rows(values_only=True)][1:] for t in book.sheetnames}


def fail_history_read(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Reading caseloop's History tab from a workbook fails; the calls are counted."""
    calls: list[str] = []

    def fail(self: ExcelWorkbook, kind: str) -> None:
        calls.append(kind)
        raise AssertionError("the History tab was read")

    monkeypatch.setattr(ExcelWorkbook, "read_ours", fail)
    return calls


def count_history_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = ExcelWorkbook.read_ours

    def counted(self: ExcelWorkbook, kind: str) -> Any:
        calls.append(kind)
        return real(self, kind)

    monkeypatch.setattr(ExcelWorkbook, "read_ours", counted)
    return calls


def without_cache(log: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "plain"
    folder.mkdir()
    return Path(shutil.copy2(log, folder / log.name))


def test_the_cache_holds_what_reading_the_written_tab_gives(tmp_path: Path) -> None:
    log = write_xlsx(tmp_path / "log.xlsx", the_cases(), HEADERS)
    sync(log, T1)
    # The baseline wrote the whole tab: no cache (the next run reads the tab).
    assert not any(f.exists() for f in cache_files(log))
    edit_excel(log, *edits())
    sync(log, T2)
    key_file, rows_file = cache_files(log)
    assert key_file.parent == tmp_path / ".caseloop-backup"
    assert key_file.exists() and rows_file.exists()
    from_cache = cached(log)
    assert from_cache is not None
    assert_same_read(from_cache, read_tab(log))
    sync(log, T3)
    again = cached(log)
    assert again is not None
    assert_same_read(again, read_tab(log))


def test_a_valid_cache_is_used_and_the_sync_writes_the_same_tabs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = two_syncs(tmp_path)
    plain = without_cache(log, tmp_path)
    assert cached(log) is not None and cached(plain) is None
    calls = fail_history_read(monkeypatch)
    sync(log, T3)  # reading the History tab would fail: the cache was used
    assert calls == []
    monkeypatch.undo()
    reads = count_history_reads(monkeypatch)
    sync(plain, T3)
    assert reads == ["history"]
    assert tabs(log) == tabs(plain)
    changed = [r for r in history_rows(log) if r["As of"] == "2026-11-21 18:00"]
    assert changed  # the clock alone turned some flags: new rows were added on the cache


def test_a_history_tab_the_team_edited_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = two_syncs(tmp_path)
    # Someone corrects an owner on the History tab and saves in Excel (here openpyxl).
    book = openpyxl.load_workbook(log)
    sheet = book["History"]
    header = [c.value for c in sheet[2]]
    sheet.cell(3, header.index("Owner") + 1, "Corrected Owner")
    book.save(log)
    assert cached(log) is None  # the tab's bytes changed: the key no longer fits
    plain = without_cache(log, tmp_path)
    reads = count_history_reads(monkeypatch)
    sync(log, T3)
    assert reads == ["history"]
    sync(plain, T3)
    assert tabs(log) == tabs(plain)
    assert any(r["Owner"] == "Corrected Owner" for r in history_rows(log))


@pytest.mark.parametrize("damage", ["rows", "key", "both", "token"])
def test_a_damaged_cache_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    log = two_syncs(tmp_path)
    plain = without_cache(log, tmp_path)
    key_file, rows_file = cache_files(log)
    if damage in ("rows", "both"):
        rows_file.write_bytes(rows_file.read_bytes()[:1000])
    if damage in ("key", "both"):
        key_file.write_text("{not json")
    if damage == "token":  # rows of another write beside this key
        rows_file.write_text(rows_file.read_text().replace('"token": "', '"token": "x', 1))
    assert cached(log) is None
    reads = count_history_reads(monkeypatch)
    sync(log, T3)
    assert reads == ["history"]
    sync(plain, T3)
    assert tabs(log) == tabs(plain)


def test_a_cache_that_cannot_be_written_does_not_stop_the_sync(tmp_path: Path) -> None:
    log = two_syncs(tmp_path)
    key_file, rows_file = cache_files(log)
    for file in (key_file, rows_file):
        file.unlink()
    rows_file.mkdir()  # a folder where the rows would go
    sync(log, T3)
    assert not key_file.exists()
    rows = history_rows(log)
    assert any(r["As of"] == "2026-11-21 18:00" for r in rows)


def test_no_cache_for_a_google_sheet(
    fake_sheets: FakeSheetsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    source = write_xlsx(tmp_path / "seed.xlsx", the_cases(), HEADERS)
    seed = openpyxl.load_workbook(source, read_only=True)["Cases"]
    book = fake_sheets.add_spreadsheet(KEY, timezone="Asia/Shanghai")
    book.add_sheet("Cases", [list(r) for r in seed.iter_rows(values_only=True)])
    url = f"https://docs.google.com/spreadsheets/d/{KEY}/edit"
    args = ["--credentials", str(authorized_user_file(tmp_path))]
    obj = {"http_client": fake_client_class(fake_sheets.url)}
    for now in (T1, T2, T3):
        fake_sheets.clear_log()
        result = CliRunner().invoke(main, ["sync", url, *args, "--now", iso(now)], obj=obj)
        assert result.exit_code == 0, result.output
    # The last sync read the History tab with the cases, in the one batchGet.
    assert [r.kind for r in fake_sheets.log] == ["metadata", "batchGet", "batchUpdate"]
    assert list(tmp_path.rglob("*history-cache*")) == []


@pytest.mark.parametrize("where", ["--output", "--to"])
def test_a_copy_or_a_companion_gets_the_cache_of_its_own_tab(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    log = write_xlsx(tmp_path / "log.xlsx", the_cases(), HEADERS)
    written = tmp_path / "out" / "written.xlsx"
    written.parent.mkdir()
    if where == "--output":
        sync(log, T1)  # the History tab is read from the log, the copy gets the new one
    else:
        sync(log, T1, "--to", str(written))
    edit_excel(log, *edits())
    sync(log, T2, where, str(written))
    assert not any(f.exists() for f in cache_files(log))
    from_cache = cached(written)
    assert from_cache is not None
    assert_same_read(from_cache, read_tab(written))
    if where == "--to":  # the companion's History is read from it: the cache is used
        plain = without_cache(written, tmp_path)
        calls = fail_history_read(monkeypatch)
        sync(log, T3, "--to", str(written))
        assert calls == []
        monkeypatch.undo()
        sync(log, T3, "--to", str(plain))
        assert tabs(written) == tabs(plain)


def test_the_notified_write_back_leaves_no_stale_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: Any
) -> None:
    monkeypatch.delenv("CASELOOP_NOTIFY", raising=False)
    log = two_syncs(tmp_path)
    hook = receiver()
    result = CliRunner().invoke(
        main, ["sync", str(log), "--now", iso(T3), "--notify", hook.url("json", "/hook")]
    )
    assert result.exit_code == 0, result.output
    assert hook.accepted()  # something was sent, so the Notified cells were written again
    from_cache = cached(log)
    # The first write's cache no longer fits the tab the write-back left.
    assert from_cache is None
    later = T3 + dt.timedelta(minutes=10)
    plain = without_cache(log, tmp_path)
    sync(log, later)
    sync(plain, later)
    assert tabs(log) == tabs(plain)


@pytest.mark.slow
@pytest.mark.skipif(not available(), reason="LibreOffice (soffice) is not installed")
def test_a_history_tab_saved_by_libreoffice_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = two_syncs(tmp_path)
    assert cached(log) is not None
    # Someone corrects an owner (column G) in LibreOffice and saves the workbook over itself.
    saved = tmp_path / "lo-saved" / log.name
    saved.parent.mkdir()
    LibreOffice(tmp_path / "lo").edit(log, saved, "type|History|G3|Corrected Owner")
    shutil.copyfile(saved, log)
    assert cached(log) is None
    plain = without_cache(log, tmp_path)
    reads = count_history_reads(monkeypatch)
    sync(log, T3)
    assert reads == ["history"]
    sync(plain, T3)
    assert tabs(log) == tabs(plain)
    assert any(r["Owner"] == "Corrected Owner" for r in history_rows(log))
