"""Faults during a sync: killed processes, a save in the middle, a refusing disk, two syncs at
once, and Google misbehaving. Afterwards the workbook or sheet is the old one or the new one,
whole; the message and exit code say which.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import caseloop.engine
from caseloop.engine import Settings, load, status_model, write
from caseloop.errors import RefusedError

from caselog import HEADERS, case, write_xlsx
from fakesheets import FakeSheetsServer, Fault, fake_client_class
from hostile import (
    NOW_TEXT,
    assert_one_sentence,
    assert_only_caseloop_parts_changed,
    authorized_user_file,
    can_mount,
    folder_state,
    run,
    tmpfs,
)

pytest_plugins = ["fakesheets.fixtures"]

GENERATED = dt.datetime(2026, 11, 20, 18, 5)

# A real `caseloop sync` in a child process. The "generated at" line is pinned so the new
# workbook is known byte for byte in advance; KILL_AT names a point where the child SIGKILLs
# itself (a kill at an exact moment, which a timer from outside cannot hit reliably); "step:NAME"
# kills it at that on_step. IN_PLACE=1 makes it write in place, as a member of the team who does
# not own the workbook does.
CHILD = """
import datetime as dt, functools, os, signal, sys, time
import caseloop.engine
from caseloop.backends import open_workbook
from caseloop.backends.xlsx import commit, files
from caseloop.cli import main

caseloop.engine.generated_at = lambda settings: dt.datetime(2026, 11, 20, 18, 5)
point = os.environ.get("KILL_AT", "")
pause_step, _, pause_s = os.environ.get("PAUSE_AT", "").partition(":")
real_replace = os.replace

def die():
    os.kill(os.getpid(), signal.SIGKILL)

def fsync(fd):  # the temp file is written, not yet on disk
    die()

def step(name, where):
    if name == pause_step:
        time.sleep(float(pause_s))
    if point == "backup" and name == "backup-copying":  # the first block of the backup copied
        die()
    if point == "step:" + name:
        die()

def replace(src, dst):  # everything ready, the rename not done
    if os.path.basename(dst).endswith(".xlsx") and ".caseloop-backup" not in str(dst):
        die()
    real_replace(src, dst)

def after_rename(folder):  # the new file is in place, the folder not yet synced
    die()

caseloop.engine.open_workbook = functools.partial(open_workbook, on_step=step)
files.COPY_CHUNK = 4096  # so a kill during the backup or an in-place write leaves half
if os.environ.get("IN_PLACE"):
    commit.rename_keeps_owner = lambda original: False
if point == "temp-write":
    os.fsync = fsync
elif point == "rename":
    os.replace = replace
elif point == "after-rename":
    commit.fsync_folder = after_rename
print("ready", flush=True)
sys.argv = ["caseloop", *sys.argv[1:]]
main()
"""


def leftovers(folder: Path) -> list[str]:
    """caseloop's temp and lock files, in the folder and in its backup folder."""
    found = [p.name for p in folder.glob(".~caseloop*")]
    found += [p.name for p in (folder / ".caseloop-backup").glob(".~caseloop*")]
    return sorted(found)


def start_sync(log: Path, **env: str) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, "sync", str(log), "--now", NOW_TEXT],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready", "the child could not start"
    return child


def wait_for_temp(folder: Path, child: subprocess.Popen[str], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not list(folder.glob(".~caseloop-tmp-*")):
        assert child.poll() is None, f"the sync ended early: {child.communicate()}"
        assert time.monotonic() < deadline, "the sync never wrote its temp file"
        time.sleep(0.01)


def kill(child: subprocess.Popen[str]) -> None:
    if child.poll() is None:
        child.send_signal(signal.SIGKILL)
    child.communicate()


@pytest.fixture
def pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """In this process too, the generated tab says the same "generated at" as the children."""
    monkeypatch.setattr(caseloop.engine, "generated_at", lambda settings: GENERATED)


@pytest.fixture
def versions(tmp_path: Path, pinned_clock: None) -> tuple[Path, bytes, bytes]:
    """The team's workbook, its bytes, and the bytes a sync of it writes."""
    (tmp_path / "team").mkdir()
    log = write_xlsx(
        tmp_path / "team" / "case_log.xlsx",
        [case(Case_ID=str(12345678900 + n), Owner=f"Owner {n}") for n in range(400)],
        extra_tabs={"Lists": [["Listing"], ["Payments"]]},
    )
    old = log.read_bytes()
    out = tmp_path / "expected.xlsx"
    assert run("sync", log, "--now", NOW_TEXT, "--output", out).exit_code == 0
    new = out.read_bytes()
    out.unlink()
    assert new != old
    assert_only_caseloop_parts_changed(old, new)
    return log, old, new


def assert_next_sync_cleans_up(log: Path, old: bytes) -> None:
    for lock in log.parent.glob(".~caseloop-*.lock"):
        if lock.read_text() == "":
            # Killed between creating the lock and writing into it: such a lock is only taken
            # over once it is a minute old (it might be one being written this instant), and
            # the next run would wait that minute.
            os.utime(lock, (time.time() - 120, time.time() - 120))
    result = run("sync", log, "--now", NOW_TEXT)
    assert result.exit_code == 0, result.output
    assert leftovers(log.parent) == []
    assert_only_caseloop_parts_changed(old, log.read_bytes())


def assert_backups_whole(folder: Path, versions: set[bytes]) -> None:
    for backup in (folder / ".caseloop-backup").glob("*.xlsx"):
        assert backup.read_bytes() in versions, f"{backup.name} is not a whole earlier version"


@pytest.mark.parametrize(
    "point, survivor",
    [
        ("temp-write", "old"),
        ("pause", "old"),
        ("backup", "old"),
        ("rename", "old"),
        ("after-rename", "new"),
    ],
)
def test_a_sync_killed_at_each_step_leaves_the_old_or_the_new_workbook(
    versions: tuple[Path, bytes, bytes], point: str, survivor: str
) -> None:
    log, old, new = versions
    if point == "pause":
        child = start_sync(log, PAUSE_AT="before-rename:30")
        wait_for_temp(log.parent, child)
        kill(child)
    else:
        child = start_sync(log, KILL_AT=point)
        child.communicate(timeout=60)
        assert child.returncode == -signal.SIGKILL, child.returncode
    assert log.read_bytes() == (old if survivor == "old" else new)
    assert leftovers(log.parent), "the killed run leaves its lock or temp file behind"
    assert_backups_whole(log.parent, {old})
    assert_next_sync_cleans_up(log, old)


@pytest.mark.parametrize(
    "step, survivor",
    [
        ("backup-copying", "old"),
        ("journal-written", "old"),
        ("before-write", "old"),
        ("writing-in-place", "old"),  # half written: put back from the backup
        ("written-in-place", "new"),  # all written, the journal not yet removed
    ],
)
def test_an_in_place_sync_killed_at_each_step_is_old_or_new_once_the_next_run_looks(
    versions: tuple[Path, bytes, bytes], step: str, survivor: str
) -> None:
    log, old, new = versions
    child = start_sync(log, KILL_AT=f"step:{step}", IN_PLACE="1")
    child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL, child.returncode
    left = log.read_bytes()
    if step == "writing-in-place":
        assert left not in (old, new), "the kill landed in the middle of the write"
    # Any next run, even one that only reads, first finishes what the killed one left.
    result = run("validate", log, "--now", NOW_TEXT)
    assert result.exit_code == 0, result.output
    assert log.read_bytes() == (old if survivor == "old" else new)
    put_back = [line for line in result.stderr.splitlines() if "put back" in line]
    assert len(put_back) == (1 if step == "writing-in-place" else 0), result.stderr
    assert_backups_whole(log.parent, {old, left})
    assert_next_sync_cleans_up(log, old)


def test_syncs_killed_after_random_delays_leave_old_or_new(
    versions: tuple[Path, bytes, bytes],
) -> None:
    log, old, new = versions
    started = time.monotonic()
    start_sync(log).communicate(timeout=60)
    full_run = time.monotonic() - started  # from "ready" to done, import time excluded
    chance = random.Random(20261120)
    seen = set()
    for _ in range(16):
        log.write_bytes(old)
        child = start_sync(log)
        time.sleep(chance.uniform(0, full_run * 1.1))
        kill(child)
        after = log.read_bytes()
        assert after in (old, new), "the workbook is neither the old nor the new version"
        seen.add("new" if after == new else "old")
        assert_backups_whole(log.parent, {old, new})
        log.write_bytes(old)
        assert_next_sync_cleans_up(log, old)
    assert seen == {"old", "new"}, f"the kills never landed on both sides of the rename: {seen}"


def test_a_save_during_the_write_is_never_overwritten(tmp_path: Path, pinned_clock: None) -> None:
    log = write_xlsx(tmp_path / "case_log.xlsx", [case() for _ in range(20)])
    child = start_sync(log, PAUSE_AT="temp-written:1")
    wait_for_temp(tmp_path, child)
    # Someone saves in Excel meanwhile: a new file renamed over the old one.
    theirs = write_xlsx(tmp_path / "saved-by-excel.xlsx", [case() for _ in range(21)])
    os.replace(theirs, log)
    saved = log.read_bytes()
    _, stderr = child.communicate(timeout=60)
    assert child.returncode == 2
    assert "changed since caseloop read it (someone saved it meanwhile); run again." in stderr
    assert log.read_bytes() == saved
    assert not (tmp_path / ".caseloop-backup").exists()
    assert leftovers(tmp_path) == []


def test_a_save_between_reading_and_writing_is_refused(tmp_path: Path) -> None:
    log = write_xlsx(tmp_path / "case_log.xlsx", [case() for _ in range(5)])
    settings = Settings(log=str(log), now=NOW_TEXT)
    loaded = load(settings)
    model, _ = status_model(loaded, settings)
    with log.open("r+b") as handle:  # an edit in place, same size, same inode
        data = bytearray(handle.read())
        data[-30] ^= 0x01
        handle.seek(0)
        handle.write(data)
    edited = log.read_bytes()
    with pytest.raises(RefusedError, match="changed since caseloop read it"):
        write(loaded, [model])
    assert log.read_bytes() == edited
    assert leftovers(tmp_path) == []


def backups_of(log: Path) -> list[bytes]:
    """The backups of ``log``, oldest first (caseloop's names end in a sequence number)."""
    found = (log.parent / ".caseloop-backup").glob(f"{log.stem}-*Z-*{log.suffix}")
    return [p.read_bytes() for p in sorted(found, key=lambda p: int(p.stem.rsplit("-", 1)[1]))]


def test_a_second_sync_waits_for_the_first_and_both_write(
    versions: tuple[Path, bytes, bytes],
) -> None:
    log, old, new = versions
    first = start_sync(log, PAUSE_AT="temp-written:3")
    wait_for_temp(log.parent, first)  # the first holds the lock now
    second = start_sync(log)
    second_out, second_err = second.communicate(timeout=60)
    first_out, first_err = first.communicate(timeout=60)
    assert (first.returncode, second.returncode) == (0, 0), (first_err, second_err)
    assert "Wrote 'Status'" in first_out and "Wrote 'Status'" in second_out
    # One after the other: the second read what the first wrote, and backed that up.
    assert backups_of(log) == [old, new]
    assert_only_caseloop_parts_changed(old, log.read_bytes())
    assert leftovers(log.parent) == []


def test_two_syncs_started_together_never_interleave(versions: tuple[Path, bytes, bytes]) -> None:
    log, old, new = versions
    pause = {"PAUSE_AT": "before-rename:1"}
    children = [start_sync(log, **pause), start_sync(log, **pause)]
    outcomes = [(child.communicate(timeout=60)[1], child.returncode) for child in children]
    assert [code for _, code in outcomes] == [0, 0], outcomes
    assert backups_of(log) == [old, new]
    assert_only_caseloop_parts_changed(old, log.read_bytes())
    assert leftovers(log.parent) == []


def test_a_full_disk_leaves_the_workbook_and_no_temp_file(
    tmp_path: Path, pinned_clock: None
) -> None:
    if not can_mount():
        pytest.skip("filling a disk needs a small tmpfs, and mounting one needs root")
    # Random text does not compress much, so the sizes below are what the disk must hold.
    cases = [case(Summary=os.urandom(300).hex()) for _ in range(100)]
    sample = write_xlsx(tmp_path / "sample.xlsx", cases)
    assert run("sync", sample, "--now", NOW_TEXT, "--output", tmp_path / "new.xlsx").exit_code == 0
    old_kb = sample.stat().st_size // 1024 + 8
    new_kb = (tmp_path / "new.xlsx").stat().st_size // 1024 + 8
    # Room for the workbook but not its new version; then for both but not the backup too.
    for size, stage in ((old_kb + new_kb // 2, "temp-file"), (old_kb + new_kb + 8, "backup")):
        folder = tmp_path / stage
        try:
            with tmpfs(folder, f"{size}k"):
                log = folder / "case_log.xlsx"
                log.write_bytes(sample.read_bytes())
                before = folder_state(folder)
                result = run("sync", log, "--now", NOW_TEXT)
                assert_one_sentence(result, "the disk is full; the workbook was left as it was")
                assert folder_state(folder) == before, stage
        except OSError as error:
            pytest.skip(f"cannot mount a tmpfs here: {error}")


# --- Google ------------------------------------------------------------------------------------

KEY = "1FaultySheetKey_caseloop"
URL = f"https://docs.google.com/spreadsheets/d/{KEY}/edit"


@pytest.fixture
def credentials(tmp_path: Path) -> Path:
    return authorized_user_file(tmp_path / "authorized_user.json")


def _seed(fake: FakeSheetsServer, key: str = KEY) -> None:
    book = fake.add_spreadsheet(key, timezone="Asia/Shanghai")
    rows = [HEADERS] + [
        [c.get(h) for h in HEADERS] for c in [case(Case_ID=str(12345678900 + n)) for n in range(30)]
    ]
    book.add_sheet("Cases", rows)
    book.add_sheet("Team notes", [["ours"]])


def snapshot(fake: FakeSheetsServer, key: str = KEY) -> dict[str, Any]:
    """What a person sees: every tab with its values and formulas."""
    return {
        sheet.title: {pos: (cell.value, cell.formula) for pos, cell in sheet.cells.items()}
        for sheet in fake.book(key).sheets
    }


@pytest.fixture
def google(
    fake_sheets: FakeSheetsServer, credentials: Path, pinned_clock: None
) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """The sheet before a sync, and as a sync writes it (made on a twin spreadsheet)."""
    _seed(fake_sheets)
    _seed(fake_sheets, "TWIN")
    before = snapshot(fake_sheets)
    twin = sync_google(fake_sheets, credentials, log="gsheet:TWIN")
    assert twin.exit_code == 0, twin.output
    after = snapshot(fake_sheets, "TWIN")
    fake_sheets.clear_log()
    yield before, after


def sync_google(fake: FakeSheetsServer, credentials: Path, log: str = URL, **knobs: Any) -> Any:
    client = fake_client_class(fake.url, **knobs)
    return run(
        "sync", log, "--credentials", credentials, "--now", NOW_TEXT, obj={"http_client": client}
    )


def settle() -> None:
    """Let requests that were still sleeping in a slow-answer fault finish on the server."""
    time.sleep(0.6)


def test_a_storm_of_429s_is_waited_out(
    fake_sheets: FakeSheetsServer, credentials: Path, google: tuple[dict, dict]
) -> None:
    before, after = google
    fake_sheets.inject(*[Fault(status=429, retry_after="0")] * 4)
    result = sync_google(fake_sheets, credentials)
    assert result.exit_code == 0, result.output
    assert snapshot(fake_sheets) == after
    assert fake_sheets.requests_of("batchUpdate")[-1].status == 200


def test_429_until_caseloop_gives_up_writes_nothing(
    fake_sheets: FakeSheetsServer, credentials: Path, google: tuple[dict, dict]
) -> None:
    before, _ = google
    fake_sheets.inject(*[Fault(status=429, method="POST")] * 10)
    result = sync_google(fake_sheets, credentials)
    assert_one_sentence(
        result,
        "Google Sheets kept answering 429 (too many requests) after 10 tries",
        "nothing was written — run again later.",
    )
    assert snapshot(fake_sheets) == before


def test_503_on_every_request(
    fake_sheets: FakeSheetsServer, credentials: Path, google: tuple[dict, dict]
) -> None:
    before, _ = google
    fake_sheets.inject(*[Fault(status=503)] * 10)
    result = sync_google(fake_sheets, credentials)
    assert_one_sentence(result, "kept answering 503 (service unavailable)", "nothing was written")
    assert snapshot(fake_sheets) == before
    assert fake_sheets.requests_of("batchUpdate") == []


def test_403_after_the_reads(
    fake_sheets: FakeSheetsServer, credentials: Path, google: tuple[dict, dict]
) -> None:
    before, _ = google
    fake_sheets.inject(Fault(status=403, method="POST"))  # GETs pass a POST fault by
    result = sync_google(fake_sheets, credentials)
    assert_one_sentence(result, "caseloop can read the sheet but not change it", "as Editor")
    assert snapshot(fake_sheets) == before
    assert [r.kind for r in fake_sheets.log] == ["metadata", "values", "batchUpdate"]


def test_a_connection_reset_is_retried(
    fake_sheets: FakeSheetsServer, credentials: Path, google: tuple[dict, dict]
) -> None:
    _, after = google
    fake_sheets.inject(Fault(reset=True, method="GET"), Fault(reset=True, method="POST"))
    result = sync_google(fake_sheets, credentials)
    assert result.exit_code == 0, result.output
    assert snapshot(fake_sheets) == after


def test_connection_reset_on_every_write_is_honest_about_the_outcome(
    fake_sheets: FakeSheetsServer, credentials: Path, google: tuple[dict, dict]
) -> None:
    before, _ = google
    fake_sheets.inject(*[Fault(reset=True, method="POST")] * 10)
    result = sync_google(fake_sheets, credentials)
    # Each lost answer is settled by reading the sheet back once: the write is not there.
    assert_one_sentence(result, "could not be reached (connection reset)", "nothing was written")
    assert snapshot(fake_sheets) == before  # the fake dropped them all before applying any
    assert [r.kind for r in fake_sheets.log[2:6]] == ["batchUpdate", "metadata"] * 2


def test_connection_reset_on_every_request_after_the_reads_is_honest_about_the_outcome(
    fake_sheets: FakeSheetsServer, credentials: Path, google: tuple[dict, dict]
) -> None:
    before, _ = google
    # The write's answer is lost and so is the read-back meant to settle it.
    fake_sheets.inject(*[Fault(reset=True, method=m) for m in ("POST", "GET")] * 10)
    result = sync_google(fake_sheets, credentials, clock=lambda: 0.0)
    assert_one_sentence(
        result, "could not be reached (connection reset)", "may or may not have been updated"
    )
    assert snapshot(fake_sheets) == before


def test_a_slow_write_beyond_the_timeout_is_retried_and_applied_once(
    fake_sheets: FakeSheetsServer, credentials: Path, google: tuple[dict, dict]
) -> None:
    _, after = google
    fake_sheets.inject(Fault(delay=0.5, method="POST"))
    result = sync_google(fake_sheets, credentials, request_timeout=0.2)
    assert result.exit_code == 0, result.output
    settle()  # the slow first attempt arrives late and is refused whole
    assert snapshot(fake_sheets) == after


def test_a_slow_write_that_lands_before_its_retry_ends_written(
    fake_sheets: FakeSheetsServer, credentials: Path, google: tuple[dict, dict]
) -> None:
    _, after = google
    fake_sheets.inject(Fault(delay=0.3, method="POST"))
    # The retry waits longer than the slow attempt takes: the first write is applied after the
    # read-back found it missing, the retry is refused (the tab it adds exists now), and the
    # write is rebuilt from a fresh read, once.
    result = sync_google(
        fake_sheets, credentials, request_timeout=0.1, base_delay=1.0, max_delay=1.0
    )
    assert result.exit_code == 0, result.output
    settle()
    assert snapshot(fake_sheets) == after
    # The next run replaces the tab it made.
    assert sync_google(fake_sheets, credentials).exit_code == 0
    assert snapshot(fake_sheets) == after


def test_slow_answers_every_time(
    fake_sheets: FakeSheetsServer, credentials: Path, google: tuple[dict, dict]
) -> None:
    before, after = google
    fake_sheets.inject(*[Fault(delay=0.4, method="GET")] * 10)
    result = sync_google(fake_sheets, credentials, request_timeout=0.1)
    assert_one_sentence(result, "did not answer within 0.1 s after 10 tries", "nothing was written")
    settle()
    assert snapshot(fake_sheets) == before
