"""A workbook shared by a team and by several caseloop runs: runs queue on caseloop's own lock,
the file keeps its owner, group and mode, and an output never lands on a file it must not."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest

from caseloop.backends.xlsx import lock as locking
from caseloop.backends.xlsx.backups import BACKUP_FOLDER

from caselog import case, write_xlsx
from hostile import NOW_TEXT, assert_one_sentence, can_mount, folder_state, run, tmpfs

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob(".~caseloop*"))


def tabs(path: Path) -> list[str]:
    return openpyxl.load_workbook(path, read_only=True).sheetnames


def caseloop(
    *args: object,
    user: tuple[int, int, int] | None = None,
    script: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[str]:
    """The real command line in its own process, as root or (uid, gid, extra group) via setpriv.

    ``script``: Python run instead of ``-m caseloop.cli`` (one that steps in at a commit step).
    """
    command = [sys.executable, *(["-c", script] if script else ["-m", "caseloop.cli"])]
    command += map(str, args)
    if user is not None:
        uid, gid, group = user
        command = ["setpriv", f"--reuid={uid}", f"--regid={gid}", f"--groups={group}", *command]
    env = {**os.environ, "PYTHONPATH": str(SCRIPTS), "PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return write_xlsx(
        tmp_path / "team_log.xlsx",
        [case(Case_ID=str(12345678900 + n)) for n in range(200)],
        extra_tabs={"Lists": [["Listing"]]},
    )


# --- item 1: two caseloop runs on one workbook queue ------------------------------------------


def test_a_sync_and_a_report_started_in_the_same_second_both_succeed(log: Path) -> None:
    for attempt in range(3):
        runs = [
            caseloop("sync", log, "--now", NOW_TEXT, "--quiet"),
            caseloop("report", log, "--now", NOW_TEXT, "--quiet"),
        ]
        outcomes = [(child.wait(timeout=300), child.communicate()[1]) for child in runs]
        assert outcomes == [(0, ""), (0, "")], (attempt, outcomes)
        assert sorted(tabs(log)) == [
            "Answers",
            "Cases",
            "History",
            "Lists",
            "Status",
            "Weekly Summary",
        ]
        assert leftovers(log.parent) == []


HOLDING_SYNC = """
import functools, sys, time
import caseloop.engine
from caseloop.backends import open_workbook
from caseloop.cli import main
def hold(step, where):
    if step == "temp-written":
        print("holding", flush=True)
        time.sleep(2)
caseloop.engine.open_workbook = functools.partial(open_workbook, on_step=hold)
sys.argv = ["caseloop", *sys.argv[1:]]
main()
"""


def test_a_report_waits_for_a_sync_that_holds_the_workbook(log: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(SCRIPTS)}
    sync = subprocess.Popen(
        [sys.executable, "-c", HOLDING_SYNC, "sync", str(log), "--now", NOW_TEXT],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert sync.stdout is not None and sync.stdout.readline().strip() == "holding"
    report = caseloop("report", log, "--now", NOW_TEXT)  # starts while the sync holds the lock
    report_out, report_err = report.communicate(timeout=300)
    sync_out, sync_err = sync.communicate(timeout=300)
    assert (sync.returncode, report.returncode) == (0, 0), (sync_err, report_err)
    assert "Wrote 'Status'" in sync_out and "Wrote 'Weekly Summary'" in report_out
    assert tabs(log) == ["Cases", "Lists", "Status", "History", "Weekly Summary", "Answers"]
    assert len(list((log.parent / BACKUP_FOLDER).iterdir())) == 2


def test_a_run_that_waited_too_long_says_another_caseloop_run_holds_it(
    log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(locking, "LOCK_WAIT_S", 0.5)
    monkeypatch.setattr(locking, "LOCK_POLL_S", 0.05)
    holder = locking.CaseloopLock(log).acquire()
    before = log.read_bytes()
    try:
        result = run("report", log, "--now", NOW_TEXT)
    finally:
        holder.release()
    assert_one_sentence(result, "Another caseloop run holds", "team_log.xlsx", "run again")
    assert "saved" not in result.stderr
    assert log.read_bytes() == before and leftovers(log.parent) == []


def test_the_lock_is_released_on_every_path(log: Path) -> None:
    rules = log.parent / "rules.yaml"
    rules.write_text("this: [is not closed\n")
    paths = [
        ("validate", log, "--now", NOW_TEXT),
        ("sync", log, "--now", NOW_TEXT, "--dry-run"),
        ("sync", log, "--now", NOW_TEXT, "--sheet", "No such tab"),
        ("sync", log, "--now", NOW_TEXT, "--rules", rules),
        ("report", log, "--now", NOW_TEXT, "--week", "2099-W01"),
        ("report", log, "--now", NOW_TEXT, "--report-tab", "Cases"),
        ("sync", log, "--now", NOW_TEXT),
        ("report", log, "--now", NOW_TEXT),
    ]
    for args in paths:
        result = run(*args)
        assert result.exit_code in (0, 1, 2), (args, result.output)
        assert leftovers(log.parent) == [], args


def test_reading_commands_do_not_wait_for_a_running_sync(
    log: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(locking, "LOCK_WAIT_S", 0.5)
    holder = locking.CaseloopLock(log).acquire()
    try:
        assert run("validate", log, "--now", NOW_TEXT).exit_code == 0
        assert run("sync", log, "--now", NOW_TEXT, "--dry-run").exit_code == 0
        copy = tmp_path / "copy.xlsx"
        assert run("sync", log, "--now", NOW_TEXT, "--output", copy).exit_code == 0
        assert "Status" in tabs(copy)
    finally:
        holder.release()


# --- item 2: a sync by another member of the team keeps the file theirs -----------------------

ALICE, BOB, CAROL, TEAM = 1501, 1502, 1503, 2501


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """/srv/team-like folder root:team 0770 holding alice's workbook alice:team 0660."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("acting as other users needs root and setpriv")
    folder = Path(tempfile.mkdtemp(prefix="caseloop-shared-"))
    try:
        os.chown(folder, 0, TEAM)
        folder.chmod(0o770)
        write_xlsx(folder / "team_log.xlsx", [case() for _ in range(20)])
        os.chown(folder / "team_log.xlsx", ALICE, TEAM)
        (folder / "team_log.xlsx").chmod(0o660)
        yield folder
    finally:
        shutil.rmtree(folder)


def owner(path: Path) -> tuple[int, int, int]:
    stat = path.stat()
    return stat.st_uid, stat.st_gid, stat.st_mode & 0o777


def test_the_owner_syncing_keeps_the_teams_group_and_mode(shared_folder: Path) -> None:
    log = shared_folder / "team_log.xlsx"
    sync = caseloop("sync", log, "--now", NOW_TEXT, user=(ALICE, ALICE, TEAM))
    out, err = sync.communicate(timeout=300)
    assert sync.returncode == 0, err
    assert "Status" in tabs(log)
    assert owner(log) == (ALICE, TEAM, 0o660), "the team can still read and write its log"
    (backup,) = (shared_folder / BACKUP_FOLDER).iterdir()
    assert owner(backup) == (ALICE, TEAM, 0o660)
    assert owner(shared_folder / BACKUP_FOLDER)[1] == TEAM, "the team can use the backups too"
    # Now bob, another member of the team, can run the next sync in that backup folder.
    os.chown(log, BOB, TEAM)
    again = caseloop("sync", log, "--now", NOW_TEXT, user=(BOB, BOB, TEAM))
    assert again.wait(timeout=300) == 0, again.communicate()
    assert owner(log) == (BOB, TEAM, 0o660)


AS_ALICE, AS_BOB, AS_CAROL = (ALICE, ALICE, TEAM), (BOB, BOB, TEAM), (CAROL, CAROL, TEAM)


def read_as(user: tuple[int, int, int], path: Path) -> bytes | None:
    """The file's bytes as ``user`` reads them, or None when that user may not read it."""
    uid, gid, group = user
    command = ["setpriv", f"--reuid={uid}", f"--regid={gid}", f"--groups={group}", "cat", path]
    result = subprocess.run(list(map(str, command)), capture_output=True)
    return result.stdout if result.returncode == 0 else None


def backups(folder: Path) -> list[Path]:
    """The workbook's backups, oldest first (by the sequence number in the name)."""
    found = (folder / BACKUP_FOLDER).glob("team_log-*.xlsx")
    return sorted(found, key=lambda p: int(p.stem.rsplit("-", 1)[1]))


def test_another_member_syncs_and_the_file_stays_the_teams(shared_folder: Path) -> None:
    log = shared_folder / "team_log.xlsx"
    old, inode = log.read_bytes(), log.stat().st_ino
    sync = caseloop("sync", log, "--now", NOW_TEXT, user=AS_BOB)
    out, err = sync.communicate(timeout=300)
    assert (sync.returncode, err) == (0, ""), err
    assert "Wrote 'Status'" in out and "Status" in tabs(log)
    assert owner(log) == (ALICE, TEAM, 0o660), "still alice's, and the team's"
    assert log.stat().st_ino == inode, "rewritten in place: the same file"
    (backup,) = backups(shared_folder)
    assert owner(backup)[1:] == (TEAM, 0o660)
    assert read_as(AS_CAROL, backup) == old, "the rest of the team can read the backup"
    assert leftovers(shared_folder) == [], "no journal, temp or lock left"
    # alice, and anyone in the team, still reads and writes her log.
    assert read_as(AS_CAROL, log) == log.read_bytes()
    report = caseloop("report", log, "--now", NOW_TEXT, user=AS_ALICE)
    assert report.wait(timeout=300) == 0, report.communicate()
    assert tabs(log) == ["Cases", "Status", "History", "Weekly Summary", "Answers"]
    assert owner(log) == (ALICE, TEAM, 0o660)


def test_another_member_syncs_and_the_access_list_stays(shared_folder: Path) -> None:
    if shutil.which("setfacl") is None:
        pytest.skip("setfacl is not installed (apt-get install acl)")
    log = shared_folder / "team_log.xlsx"
    added = subprocess.run(["setfacl", "-m", f"u:{CAROL + 10}:rw", str(log)], capture_output=True)
    if added.returncode != 0:
        pytest.skip(f"this file system keeps no access lists: {added.stderr.strip()!r}")

    def acl() -> str:
        return subprocess.run(
            ["getfacl", "--omit-header", "--numeric", str(log)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    before = acl()
    assert f"user:{CAROL + 10}:rw-" in before
    sync = caseloop("sync", log, "--now", NOW_TEXT, user=AS_BOB)
    _, err = sync.communicate(timeout=300)
    assert sync.returncode == 0, err
    assert "Status" in tabs(log)
    assert acl() == before and owner(log) == (ALICE, TEAM, 0o660)


def test_a_member_who_may_not_write_the_file_is_refused(shared_folder: Path) -> None:
    log = shared_folder / "team_log.xlsx"
    log.chmod(0o640)  # the team may read alice's log, not write it
    before = folder_state(shared_folder)
    sync = caseloop("sync", log, "--now", NOW_TEXT, user=AS_BOB)
    _, err = sync.communicate(timeout=300)
    assert sync.returncode == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("caseloop: "), err
    assert str(log) in lines[0] and "the workbook was left as it was" in lines[0]
    assert f"{ALICE}:{TEAM}" in lines[0] and "may not write to it" in lines[0]
    assert folder_state(shared_folder) == before
    assert owner(log) == (ALICE, TEAM, 0o640)


# A real sync whose "generated at" is pinned, so the workbook it writes is known byte for byte,
# and which dies (no cleanup, no finally) at the commit step named in DIE_AT.
PINNED_SYNC = """
import datetime as dt, functools, os, sys
import caseloop.engine
from caseloop.backends import open_workbook
from caseloop.backends.xlsx import files
from caseloop.cli import main

caseloop.engine.generated_at = lambda settings: dt.datetime(2026, 11, 20, 18, 5)
die_at = os.environ.get("DIE_AT")

def step(name, where):
    if name == die_at:
        os._exit(9)

caseloop.engine.open_workbook = functools.partial(open_workbook, on_step=step)
files.COPY_CHUNK = 4096  # so a run that dies while writing leaves half a file
sys.argv = ["caseloop", *sys.argv[1:]]
main()
"""


def synced(log: Path, into: Path) -> bytes:
    """What the pinned sync writes for ``log`` (run as root on a copy)."""
    into.mkdir()
    copy = Path(shutil.copy(log, into / log.name))
    sync = caseloop("sync", copy, "--now", NOW_TEXT, script=PINNED_SYNC)
    assert sync.wait(timeout=300) == 0, sync.communicate()
    return copy.read_bytes()


@pytest.mark.parametrize(
    ("die_at", "then_user", "then", "put_back"),
    [
        ("writing-in-place", AS_BOB, "sync", True),  # half written: the old one, then the new
        ("writing-in-place", AS_ALICE, "sync", True),
        ("writing-in-place", AS_CAROL, "validate", True),  # a reading command repairs too
        ("written-in-place", AS_CAROL, "validate", False),  # all written: the journal goes
        ("journal-written", AS_ALICE, "sync", False),  # nothing written yet
    ],
)
def test_a_member_killed_while_writing_in_place_is_repaired_by_the_next_run(
    shared_folder: Path,
    tmp_path: Path,
    die_at: str,
    then_user: tuple[int, int, int],
    then: str,
    put_back: bool,
) -> None:
    log = shared_folder / "team_log.xlsx"
    old = log.read_bytes()
    new = synced(log, tmp_path / "expected")
    killed = caseloop(
        "sync", log, "--now", NOW_TEXT, user=AS_BOB, script=PINNED_SYNC, env={"DIE_AT": die_at}
    )
    assert killed.wait(timeout=300) == 9, killed.communicate()
    journal = shared_folder / ".~caseloop-team_log.xlsx.journal"
    assert journal.exists(), "the run died with its intent on disk"
    left = log.read_bytes()
    if die_at == "writing-in-place":
        assert left not in (old, new) and left[:4096] == new[:4096], "half of the new version"
    else:
        assert left == (new if die_at == "written-in-place" else old)

    again = caseloop(then, log, "--now", NOW_TEXT, user=then_user, script=PINNED_SYNC)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    lines = err.strip().splitlines()
    if put_back:
        assert len(lines) == 1 and lines[0].startswith("caseloop: warning: "), err
        assert str(log) in lines[0] and "put back" in lines[0]
        assert any(b.read_bytes() == left for b in backups(shared_folder)), "the half is kept"
    else:
        assert lines == [], err
    expected = new if then == "sync" or die_at == "written-in-place" else old
    assert log.read_bytes() == expected
    assert owner(log) == (ALICE, TEAM, 0o660)
    assert leftovers(shared_folder) == []
    if then == "sync":
        assert backups(shared_folder)[-1].read_bytes() == old, "the old version was backed up"


# --- item 6 and 14: where an output may go ----------------------------------------------------


def test_markdown_over_the_log_itself_is_refused(log: Path) -> None:
    before = log.read_bytes()
    result = run("report", log, "--now", NOW_TEXT, "--markdown", log)
    assert_one_sentence(result, str(log))
    assert log.read_bytes() == before


@pytest.mark.parametrize("name", ["weekly.xlsx", "weekly.XLSM", "weekly.csv"])
def test_markdown_to_a_spreadsheet_name_is_refused(log: Path, name: str) -> None:
    before = log.read_bytes()
    result = run("report", log, "--now", NOW_TEXT, "--markdown", log.parent / name)
    assert_one_sentence(result, name, ".md")
    assert log.read_bytes() == before and not (log.parent / name).exists()


def test_markdown_into_a_missing_folder_is_refused_before_the_tab_is_written(log: Path) -> None:
    before = log.read_bytes()
    result = run("report", log, "--now", NOW_TEXT, "--markdown", log.parent / "nodir" / "w.md")
    assert_one_sentence(result, "nodir", "does not exist", "nothing was written")
    assert log.read_bytes() == before
    assert not (log.parent / BACKUP_FOLDER).exists()


def test_output_over_a_workbook_caseloop_did_not_write_is_refused(log: Path) -> None:
    colleague = write_xlsx(log.parent / "colleague.xlsx", [case()], tab="Budget")
    before = colleague.read_bytes()
    result = run("sync", log, "--now", NOW_TEXT, "--output", colleague)
    assert_one_sentence(result, "colleague.xlsx", "caseloop did not write", "new file name")
    assert colleague.read_bytes() == before


def test_output_caseloop_wrote_before_is_replaced_with_a_backup(log: Path) -> None:
    copy = log.parent / "out" / "copy.xlsx"
    assert run("sync", log, "--now", NOW_TEXT, "--output", copy).exit_code == 0
    first = copy.read_bytes()
    result = run("report", log, "--now", NOW_TEXT, "--output", copy)
    assert result.exit_code == 0, result.output
    assert tabs(copy) == ["Cases", "Lists", "Weekly Summary", "Answers"]
    (backup,) = (copy.parent / BACKUP_FOLDER).iterdir()
    assert backup.read_bytes() == first
    assert f"Previous version kept as {backup}" in result.output


@pytest.mark.parametrize("name", ["out.csv", "out.txt", "out", "out.xlsm"])
def test_output_whose_name_does_not_fit_the_content_is_refused(log: Path, name: str) -> None:
    result = run("sync", log, "--now", NOW_TEXT, "--output", log.parent / name)
    assert_one_sentence(result, name, ".xlsx")
    assert not (log.parent / name).exists()


def test_a_macro_workbook_is_not_written_as_xlsx(tmp_path: Path) -> None:
    log = write_xlsx(tmp_path / "team.xlsx", [case()])
    macro_log = log.rename(tmp_path / "team.xlsm")
    result = run("sync", macro_log, "--now", NOW_TEXT, "--output", tmp_path / "out.xlsx")
    assert_one_sentence(result, "out.xlsx", ".xlsm")
    assert not (tmp_path / "out.xlsx").exists()


def test_output_naming_the_log_itself_updates_it_in_place_with_a_backup(log: Path) -> None:
    result = run("sync", log, "--now", NOW_TEXT, "--output", log)
    assert result.exit_code == 0, result.output
    assert "Status" in tabs(log) and len(list((log.parent / BACKUP_FOLDER).iterdir())) == 1


def test_a_copy_is_written_while_the_log_is_open_in_excel(log: Path) -> None:
    (log.parent / f"~${log.name}").write_bytes(b"owner")
    before = log.read_bytes()
    result = run("report", log, "--now", NOW_TEXT, "--output", log.parent / "copy.xlsx")
    assert result.exit_code == 0, result.output
    assert log.read_bytes() == before and "Weekly Summary" in tabs(log.parent / "copy.xlsx")


# --- item 12: a completely full disk ---------------------------------------------------------


def test_a_completely_full_disk_is_one_sentence_and_leaves_no_lock(tmp_path: Path) -> None:
    if not can_mount():
        pytest.skip("filling a disk needs a small tmpfs, and mounting one needs root")
    sample = write_xlsx(tmp_path / "sample.xlsx", [case() for _ in range(20)])
    folder = tmp_path / "full"
    mount = tmpfs(folder, "256k")
    try:
        mount.__enter__()
    except OSError as error:
        pytest.skip(f"cannot mount a tmpfs here: {error}")
    try:
        log = folder / "team_log.xlsx"
        shutil.copy(sample, log)
        filler = folder / "filler"
        with filler.open("wb", buffering=0) as handle:  # fill every last block
            with contextlib.suppress(OSError):
                while True:
                    handle.write(b"\0" * 4096)
        before = folder_state(folder)
        for command in ("sync", "report"):
            result = run(command, log, "--now", NOW_TEXT)
            assert_one_sentence(result, "the disk is full", "the workbook was left as it was")
            assert folder_state(folder) == before, command
        filler.unlink()  # space again: the next run is not blocked by anything left over
        assert run("sync", log, "--now", NOW_TEXT).exit_code == 0
        assert leftovers(folder) == []
    finally:
        mount.__exit__(None, None, None)
