"""Committing a workbook to disk: refusals, backups, --output, disk errors, locks and leftovers."""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import io
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from caseloop.backends.xlsx import commit, files
from caseloop.backends.xlsx import lock as locking
from caseloop.backends.xlsx.backups import BACKUP_FOLDER
from caseloop.backends.xlsx.commit import commit_workbook
from caseloop.backends.xlsx.files import fingerprint
from caseloop.backends.xlsx.lock import CaseloopLock
from caseloop.errors import CaseloopError, RefusedError

OLD = b"PK old version of the team's workbook"
NEW = b"PK new version with the Status tab"


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    path = tmp_path / "team.xlsx"
    path.write_bytes(OLD)
    return path


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".~caseloop"))


def test_commit_replaces_the_file_and_keeps_a_backup(workbook: Path) -> None:
    workbook.chmod(0o640)
    written, backup = commit_workbook(workbook, NEW, read_fingerprint=fingerprint(workbook))
    assert written == workbook and workbook.read_bytes() == NEW
    assert backup is not None and backup.parent.name == BACKUP_FOLDER and backup.read_bytes() == OLD
    assert backup.name.startswith("team-") and backup.suffix == ".xlsx"
    assert workbook.stat().st_mode & 0o777 == 0o640, "the team's permissions stay"
    assert leftovers(workbook.parent) == []


def test_open_in_excel_is_refused(workbook: Path) -> None:
    (workbook.parent / "~$team.xlsx").write_bytes(b"owner")
    with pytest.raises(RefusedError, match=r"team\.xlsx is open in Excel.*close it and run again"):
        commit_workbook(workbook, NEW, read_fingerprint=fingerprint(workbook))
    assert workbook.read_bytes() == OLD
    assert leftovers(workbook.parent) == []


def test_open_in_libreoffice_is_refused(workbook: Path) -> None:
    (workbook.parent / ".~lock.team.xlsx#").write_text("user,host")
    with pytest.raises(RefusedError, match="open in Excel or LibreOffice"):
        commit_workbook(workbook, NEW, read_fingerprint=fingerprint(workbook))
    assert workbook.read_bytes() == OLD


def test_changed_since_read_is_refused(workbook: Path) -> None:
    seen = fingerprint(workbook)
    workbook.write_bytes(OLD + b" plus a row someone typed")
    with pytest.raises(RefusedError, match="changed since caseloop read it.*run again"):
        commit_workbook(workbook, NEW, read_fingerprint=seen)
    assert workbook.read_bytes().endswith(b"someone typed")


def test_same_size_and_time_but_other_content_is_refused(workbook: Path) -> None:
    seen = fingerprint(workbook)
    stat = workbook.stat()
    workbook.write_bytes(OLD.upper())
    os.utime(workbook, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    with pytest.raises(RefusedError, match="changed since"):
        commit_workbook(workbook, NEW, read_fingerprint=seen)


def test_backups_are_rotated(workbook: Path) -> None:
    folder = workbook.parent / BACKUP_FOLDER
    folder.mkdir()
    unrelated = folder / "team-archive-20200101-000000.xlsx"  # another workbook's backup
    unrelated.write_bytes(b"keep me")
    for n in range(8):
        commit_workbook(workbook, b"version %d" % (n + 1), read_fingerprint=fingerprint(workbook))
    ours = sorted(p for p in folder.iterdir() if p != unrelated)
    assert len(ours) == 5
    assert sorted(p.read_bytes() for p in ours) == [b"version %d" % n for n in range(3, 8)]
    assert unrelated.read_bytes() == b"keep me"
    assert workbook.read_bytes() == b"version 8"


def test_output_leaves_the_original_untouched(workbook: Path, tmp_path: Path) -> None:
    before = workbook.read_bytes()
    output = tmp_path / "copy" / "synced.xlsx"
    output.parent.mkdir()
    written, backup = commit_workbook(
        workbook, NEW, read_fingerprint=fingerprint(workbook), output=output
    )
    assert (written, backup) == (output, None)
    assert output.read_bytes() == NEW and workbook.read_bytes() == before
    assert not (workbook.parent / BACKUP_FOLDER).exists()


def test_macro_workbook_backups_keep_xlsm(tmp_path: Path) -> None:
    path = tmp_path / "team.xlsm"
    path.write_bytes(OLD)
    _, backup = commit_workbook(path, NEW, read_fingerprint=fingerprint(path))
    assert backup is not None and backup.suffix == ".xlsm"


def _mount_tmpfs(folder: Path, options: str) -> bool:
    if os.geteuid() != 0:
        return False
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True
    )
    return result.returncode == 0


@pytest.fixture
def read_only_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder holding team.xlsx that cannot be written to, by root or anyone else."""
    folder = tmp_path / "shared"
    folder.mkdir()
    if os.geteuid() != 0:
        (folder / "team.xlsx").write_bytes(OLD)
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    # root ignores permission bits: only a read-only mount stops it.
    if not _mount_tmpfs(folder, "size=1m"):
        pytest.skip("cannot mount a tmpfs here to make a read-only folder")
    try:
        (folder / "team.xlsx").write_bytes(OLD)
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def test_read_only_folder_is_one_sentence_and_leaves_the_file(read_only_folder: Path) -> None:
    path = read_only_folder / "team.xlsx"
    with pytest.raises(
        CaseloopError, match=r"Cannot write .*team\.xlsx: the folder is read-only"
    ) as error:
        commit_workbook(path, NEW, read_fingerprint=fingerprint(path))
    assert not isinstance(error.value, RefusedError)
    assert path.read_bytes() == OLD
    assert leftovers(read_only_folder) == []


def test_full_disk_is_one_sentence_and_leaves_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "small"
    folder.mkdir()
    if not _mount_tmpfs(folder, "size=64k"):
        pytest.skip("cannot mount a small tmpfs here to fill the disk")
    try:
        path = folder / "team.xlsx"
        path.write_bytes(OLD)
        with pytest.raises(
            CaseloopError, match="the disk is full; the workbook was left as it was"
        ):
            commit_workbook(path, os.urandom(256 * 1024), read_fingerprint=fingerprint(path))
        assert path.read_bytes() == OLD
        assert leftovers(folder) == []
    finally:
        subprocess.run(["umount", str(folder)], check=False)


@pytest.fixture
def short_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """Wait for another run's lock a moment, not the two minutes a real run waits."""
    monkeypatch.setattr(locking, "LOCK_WAIT_S", 0.6)
    monkeypatch.setattr(locking, "LOCK_POLL_S", 0.05)


def write_lock(workbook: Path, pid: int, host: str, age_s: float = 0, legacy: bool = False) -> Path:
    lock = workbook.with_name(f".~caseloop-{workbook.name}.lock")
    if legacy:  # what caseloop wrote before locks carried a host and a time
        lock.write_text(str(pid))
    else:
        lock.write_text(f'{{"pid": {pid}, "host": "{host}", "since": "2026-11-17T08:00:00Z"}}')
    then = time.time() - age_s
    os.utime(lock, (then, then))
    return lock


@pytest.fixture
def live_process() -> Iterator[int]:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield other.pid
    other.kill()
    other.wait()


def test_a_running_sync_holds_the_file(workbook: Path, short_wait: None, live_process: int) -> None:
    write_lock(workbook, live_process, socket.gethostname())
    with pytest.raises(RefusedError) as refused:
        commit_workbook(workbook, NEW, read_fingerprint=fingerprint(workbook))
    message = str(refused.value)
    assert "Another caseloop run holds" in message and "team.xlsx" in message
    assert f"process {live_process} on {socket.gethostname()}" in message
    assert "saved" not in message, "caseloop's own run is never blamed on a colleague"
    assert workbook.read_bytes() == OLD


def test_a_lock_whose_process_died_is_taken_over(workbook: Path, short_wait: None) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    write_lock(workbook, dead.pid, socket.gethostname())
    commit_workbook(workbook, NEW, read_fingerprint=fingerprint(workbook))
    assert workbook.read_bytes() == NEW
    assert leftovers(workbook.parent) == []


@pytest.mark.parametrize("legacy", [False, True])
def test_an_old_lock_naming_a_reused_pid_is_stale(
    workbook: Path, short_wait: None, live_process: int, legacy: bool
) -> None:
    # Three days old, and its pid now belongs to some other live process (a `sleep`).
    write_lock(workbook, live_process, socket.gethostname(), age_s=3 * 86400, legacy=legacy)
    commit_workbook(workbook, NEW, read_fingerprint=fingerprint(workbook))
    assert workbook.read_bytes() == NEW
    assert leftovers(workbook.parent) == []


def test_a_fresh_lock_of_another_host_is_respected_until_it_is_old(
    workbook: Path, short_wait: None
) -> None:
    # Its pid means nothing here (the process runs on another computer sharing the folder).
    lock = write_lock(workbook, 999_999_999, "another-computer", age_s=60)
    with pytest.raises(RefusedError, match="process 999999999 on another-computer"):
        commit_workbook(workbook, NEW, read_fingerprint=fingerprint(workbook))
    assert workbook.read_bytes() == OLD and lock.exists()
    three_hours_ago = time.time() - 3 * 3600
    os.utime(lock, (three_hours_ago, three_hours_ago))
    commit_workbook(workbook, NEW, read_fingerprint=fingerprint(workbook))
    assert workbook.read_bytes() == NEW


def test_the_lock_says_who_holds_it_and_is_removed_after(workbook: Path) -> None:
    lock = CaseloopLock(workbook).acquire()
    text = lock.path.read_text()
    assert str(os.getpid()) in text and socket.gethostname() in text
    assert lock.path.name == ".~caseloop-team.xlsx.lock"
    lock.release()
    assert leftovers(workbook.parent) == []


def test_a_waiting_run_gets_the_lock_once_it_is_released(workbook: Path) -> None:
    first = CaseloopLock(workbook).acquire()
    releaser = threading.Timer(0.5, first.release)
    releaser.start()
    try:
        second = CaseloopLock(workbook).acquire()  # waits, then holds it
        assert second.held
        commit_workbook(workbook, NEW, read_fingerprint=fingerprint(workbook), lock=second)
        second.release()
    finally:
        releaser.join()
    assert workbook.read_bytes() == NEW
    assert leftovers(workbook.parent) == []


def test_a_lock_that_cannot_be_written_leaves_no_empty_lock(
    workbook: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = os.write

    def full_disk(descriptor: int, data: bytes) -> int:
        if b'"host"' in bytes(data):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(descriptor, data)

    monkeypatch.setattr(os, "write", full_disk)
    with pytest.raises(CaseloopError, match="the disk is full; the workbook was left as it was"):
        commit_workbook(workbook, NEW, read_fingerprint=fingerprint(workbook))
    assert leftovers(workbook.parent) == [], "no 0-byte lock is left to block the next run"
    monkeypatch.setattr(os, "write", real_write)
    commit_workbook(workbook, NEW, read_fingerprint=fingerprint(workbook))
    assert workbook.read_bytes() == NEW


def test_a_lock_that_cannot_be_created_is_one_sentence(
    workbook: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = os.open

    def no_inodes_left(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if str(path).endswith(".lock"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", no_inodes_left)
    with pytest.raises(CaseloopError, match="the disk is full"):
        commit_workbook(workbook, NEW, read_fingerprint=fingerprint(workbook))
    assert workbook.read_bytes() == OLD and leftovers(workbook.parent) == []


def test_stale_temp_files_are_cleaned_up(workbook: Path) -> None:
    folder = workbook.parent
    ours = folder / ".~caseloop-tmp-team.xlsx-dead"
    ours.write_bytes(b"half-written")
    fresh_other = folder / ".~caseloop-tmp-other.xlsx-1234"
    fresh_other.write_bytes(b"another sync may be writing this right now")
    old_other = folder / ".~caseloop-tmp-other.xlsx-5678"
    old_other.write_bytes(b"left by a run killed yesterday")
    yesterday = time.time() - 86400
    os.utime(old_other, (yesterday, yesterday))
    commit_workbook(workbook, NEW, read_fingerprint=fingerprint(workbook))
    assert leftovers(folder) == [fresh_other.name]


KILLED_SYNC = """
import sys, time
from pathlib import Path
from caseloop.backends.xlsx.commit import commit_workbook
from caseloop.backends.xlsx.files import fingerprint
pause = lambda step, where: time.sleep(30) if step == "before-rename" else None
path = Path(sys.argv[1])
commit_workbook(path, b"PK never finished", read_fingerprint=fingerprint(path), on_step=pause)
"""


def test_a_sync_killed_before_the_rename_leaves_the_original(workbook: Path) -> None:
    folder = workbook.parent
    sync = subprocess.Popen([sys.executable, "-c", KILLED_SYNC, str(workbook)])
    try:
        deadline = time.monotonic() + 20
        while not any(name.startswith(".~caseloop-tmp-") for name in leftovers(folder)):
            assert time.monotonic() < deadline, "the sync never wrote its temp file"
            assert sync.poll() is None, "the sync ended early"
            time.sleep(0.05)
    finally:
        sync.send_signal(signal.SIGKILL)
        sync.wait()
    assert workbook.read_bytes() == OLD
    assert len(leftovers(folder)) == 2  # its lock and its temp file (the backup is in its folder)
    commit_workbook(workbook, NEW, read_fingerprint=fingerprint(workbook))
    assert workbook.read_bytes() == NEW
    assert leftovers(folder) == []


# --- the order of a commit: back up, check, rename (a colleague's save is never lost) ---------

STEPS = ["temp-written", "backup-copying", "backup-written", "before-rename"]


def test_the_steps_run_in_order_back_up_then_check_then_rename(
    workbook: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reached: list[str] = []

    def note(step: str, where: Path) -> None:
        # What is on disk at each step says what has been done so far.
        reached.append(step)
        backups = list((workbook.parent / BACKUP_FOLDER).glob("team-*.xlsx"))
        if step == "before-rename":
            assert backups and backups[0].read_bytes() == OLD, "backed up before the rename"
            assert workbook.read_bytes() == OLD
        if step == "renamed":
            assert workbook.read_bytes() == NEW

    commit_workbook(workbook, NEW, read_fingerprint=fingerprint(workbook), on_step=note)
    assert reached == [*STEPS, "renamed"]


def _colleague_saves(path: Path, theirs: bytes, how: str) -> None:
    if how == "replaced":  # Excel: a new file renamed over the old one
        fresh = path.with_name("saved-by-excel.tmp")
        fresh.write_bytes(theirs)
        os.replace(fresh, path)
    else:  # written into the same file, same size, and the same time stamp
        stat = path.stat()
        with path.open("r+b") as handle:
            handle.write(theirs)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


@pytest.mark.parametrize("how", ["replaced", "rewritten"])
@pytest.mark.parametrize("step", STEPS)
def test_a_colleagues_save_at_any_step_is_kept_and_caseloop_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str, how: str
) -> None:
    path = tmp_path / "team.xlsx"
    old, theirs = os.urandom(64 * 1024), os.urandom(64 * 1024)
    path.write_bytes(old)
    seen = fingerprint(path)
    reached: list[str] = []

    def at_step(name: str, where: Path) -> None:
        reached.append(name)
        if name == step:
            _colleague_saves(path, theirs, how)

    monkeypatch.setattr(files, "COPY_CHUNK", 4096)  # so a save can land mid-copy
    with pytest.raises(RefusedError, match="changed since caseloop read it"):
        commit_workbook(path, NEW, read_fingerprint=seen, on_step=at_step)
    assert step in reached
    assert path.read_bytes() == theirs, "the colleague's save is kept"
    backups = tmp_path / BACKUP_FOLDER
    assert not backups.exists() or not any(backups.iterdir()), "no backup of a run that refused"
    assert leftovers(tmp_path) == []


# --- backups: UTC names with a sequence; a clock going back never deletes the new one --------


def test_a_backup_made_while_the_clock_goes_back_is_kept(
    workbook: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)]
    monkeypatch.setattr(files, "utc_now", lambda: clock[0])
    for n in range(5):
        commit_workbook(workbook, b"version %d" % n, read_fingerprint=fingerprint(workbook))
        clock[0] += dt.timedelta(minutes=10)
    clock[0] -= dt.timedelta(hours=3)  # NTP corrects the clock, or a daylight-saving mistake
    _, backup = commit_workbook(workbook, b"latest", read_fingerprint=fingerprint(workbook))
    assert backup is not None and backup.exists(), "the backup caseloop reports is kept"
    assert backup.read_bytes() == b"version 4"
    kept = sorted(p.read_bytes() for p in (workbook.parent / BACKUP_FOLDER).iterdir())
    assert kept == [b"version %d" % n for n in range(5)], "the oldest went, not the newest"


def test_backup_names_are_utc_time_and_a_sequence(
    workbook: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        files, "utc_now", lambda: dt.datetime(2026, 11, 20, 10, 0, 5, tzinfo=dt.UTC)
    )
    names = []
    for n in range(3):
        _, backup = commit_workbook(workbook, b"v%d" % n, read_fingerprint=fingerprint(workbook))
        assert backup is not None
        names.append(backup.name)
    assert names == [f"team-20261120-100005Z-{n}.xlsx" for n in (1, 2, 3)]


def test_backups_of_the_old_naming_go_first(workbook: Path) -> None:
    folder = workbook.parent / BACKUP_FOLDER
    folder.mkdir()
    for stamp in ("20991231-235959", "20991231-235959-2"):  # local time, from an older caseloop
        (folder / f"team-{stamp}.xlsx").write_bytes(b"old naming")
    for n in range(5):
        commit_workbook(workbook, b"v%d" % n, read_fingerprint=fingerprint(workbook))
    kept = sorted(p.read_bytes() for p in folder.iterdir())
    assert kept == sorted([OLD] + [b"v%d" % n for n in range(4)])


def test_a_file_named_like_the_backup_folder_is_named_in_the_message(workbook: Path) -> None:
    (workbook.parent / BACKUP_FOLDER).write_text("not a folder")
    with pytest.raises(CaseloopError) as refused:
        commit_workbook(workbook, NEW, read_fingerprint=fingerprint(workbook))
    message = str(refused.value)
    assert str(workbook.parent / BACKUP_FOLDER) in message and "is a file, not a folder" in message
    assert "the workbook was left as it was" in message
    assert workbook.read_bytes() == OLD and leftovers(workbook.parent) == []


# --- symbolic links and Excel's lock files ---------------------------------------------------


@pytest.mark.parametrize("office_lock", ["~$link.xlsx", ".~lock.link.xlsx#"])
def test_a_workbook_open_through_a_link_is_refused(tmp_path: Path, office_lock: str) -> None:
    real = tmp_path / "data" / "team.xlsx"
    real.parent.mkdir()
    real.write_bytes(OLD)
    link = tmp_path / "desk" / "link.xlsx"
    link.parent.mkdir()
    link.symlink_to(real)
    (link.parent / office_lock).write_text("someone,desk")  # Excel opened the link
    with pytest.raises(RefusedError, match="link.xlsx is open in Excel or LibreOffice"):
        commit_workbook(link, NEW, read_fingerprint=fingerprint(link))
    assert real.read_bytes() == OLD and link.is_symlink()


def test_a_workbook_open_where_it_really_lives_is_refused_through_the_link(tmp_path: Path) -> None:
    real = tmp_path / "team.xlsx"
    real.write_bytes(OLD)
    link = tmp_path / "desk.xlsx"
    link.symlink_to(real)
    (tmp_path / "~$team.xlsx").write_bytes(b"owner")
    with pytest.raises(RefusedError, match="team.xlsx is open in Excel"):
        commit_workbook(link, NEW, read_fingerprint=fingerprint(link))
    assert real.read_bytes() == OLD


def test_a_copy_may_be_written_while_the_log_is_open_in_excel(workbook: Path) -> None:
    (workbook.parent / "~$team.xlsx").write_bytes(b"owner")  # LOG is only read
    output = workbook.parent / "copy.xlsx"
    written, _ = commit_workbook(
        workbook, NEW, read_fingerprint=fingerprint(workbook), output=output
    )
    assert written == output and output.read_bytes() == NEW and workbook.read_bytes() == OLD


# --- owner, group, mode and access lists are kept ---------------------------------------------

needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="giving a file to another user needs root"
)
ACL_XATTR = "system.posix_acl_access"


def _acl(extra_user: int) -> bytes:
    """A POSIX access list (Linux's xattr form): owner rw, user ``extra_user`` rw, group r."""
    entries = [(0x01, 6, -1), (0x02, 6, extra_user), (0x04, 4, -1), (0x10, 6, -1), (0x20, 0, -1)]
    return struct.pack("<I", 2) + b"".join(
        struct.pack("<HHI", tag, perm, ident & 0xFFFFFFFF) for tag, perm, ident in entries
    )


def _owner(path: Path) -> tuple[int, int, int]:
    stat = path.stat()
    return stat.st_uid, stat.st_gid, stat.st_mode & 0o7777


@needs_root
def test_owner_group_and_mode_of_another_user_are_kept_and_on_the_backup(workbook: Path) -> None:
    os.chown(workbook, 1234, 2345)
    workbook.chmod(0o640)
    _, backup = commit_workbook(workbook, NEW, read_fingerprint=fingerprint(workbook))
    assert workbook.read_bytes() == NEW
    assert _owner(workbook) == (1234, 2345, 0o640)
    assert backup is not None and _owner(backup) == (1234, 2345, 0o640)


@needs_root
def test_an_access_list_is_kept_on_the_file_and_the_backup(workbook: Path) -> None:
    try:
        os.setxattr(workbook, ACL_XATTR, _acl(4321))
    except OSError as error:
        pytest.skip(f"this file system keeps no access lists: {error}")
    acl = os.getxattr(workbook, ACL_XATTR)
    mode = workbook.stat().st_mode & 0o7777
    _, backup = commit_workbook(workbook, NEW, read_fingerprint=fingerprint(workbook))
    assert backup is not None
    for path in (workbook, backup):
        assert os.getxattr(path, ACL_XATTR) == acl, path
        assert path.stat().st_mode & 0o7777 == mode


# --- in place, when a new file could not keep the owner (another member of the team runs it) --

IN_PLACE_STEPS = ["backup-copying", "backup-written", "journal-written", "before-write"]


@pytest.fixture
def in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if run by a member of the team who does not own the file: it is rewritten in place."""
    monkeypatch.setattr(commit, "rename_keeps_owner", lambda original: False)


def _journal(path: Path) -> Path:
    return path.with_name(f".~caseloop-{path.name}.journal")


@pytest.mark.parametrize("new", [NEW, NEW * 500], ids=["shorter", "longer"])
def test_in_place_the_steps_are_back_up_journal_check_write(
    workbook: Path, monkeypatch: pytest.MonkeyPatch, in_place: None, new: bytes
) -> None:
    inode = workbook.stat().st_ino
    reached: list[str] = []

    def note(step: str, where: Path) -> None:
        reached.append(step)
        journal = _journal(workbook)
        if step == "journal-written":
            (backup,) = (workbook.parent / BACKUP_FOLDER).glob("team-*.xlsx")
            intent = json.loads(journal.read_text())
            assert backup.read_bytes() == OLD
            assert workbook.parent / intent["backup"] == backup, "relative: mounts differ"
            assert intent["new_sha256"] == hashlib.sha256(new).hexdigest()
            assert intent["old_sha256"] == hashlib.sha256(OLD).hexdigest()
        if step == "before-write":
            assert workbook.read_bytes() == OLD and journal.exists()
        if step == "written-in-place":
            assert workbook.read_bytes() == new and journal.exists()

    monkeypatch.setattr(files, "COPY_CHUNK", 4096)
    _, backup = commit_workbook(workbook, new, read_fingerprint=fingerprint(workbook), on_step=note)
    expected = ["backup-copying", "backup-written", "journal-written", "before-write"]
    expected += ["writing-in-place", "written-in-place"]
    assert reached == expected
    assert workbook.read_bytes() == new and workbook.stat().st_ino == inode
    assert backup is not None and backup.read_bytes() == OLD
    assert leftovers(workbook.parent) == []


@pytest.mark.parametrize("how", ["replaced", "rewritten"])
@pytest.mark.parametrize("step", IN_PLACE_STEPS)
def test_in_place_a_colleagues_save_at_any_step_is_kept_and_caseloop_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_place: None, step: str, how: str
) -> None:
    path = tmp_path / "team.xlsx"
    old, theirs = os.urandom(64 * 1024), os.urandom(64 * 1024)
    path.write_bytes(old)
    seen = fingerprint(path)

    def at_step(name: str, where: Path) -> None:
        if name == step:
            _colleague_saves(path, theirs, how)

    monkeypatch.setattr(files, "COPY_CHUNK", 4096)
    with pytest.raises(RefusedError, match="changed since caseloop read it"):
        commit_workbook(path, NEW, read_fingerprint=seen, on_step=at_step)
    assert path.read_bytes() == theirs, "the colleague's save is kept"
    backups = tmp_path / BACKUP_FOLDER
    assert not backups.exists() or not any(backups.iterdir()), "no backup of a run that refused"
    assert leftovers(tmp_path) == []


def test_in_place_a_disk_error_while_writing_puts_the_old_version_back(
    workbook: Path, monkeypatch: pytest.MonkeyPatch, in_place: None
) -> None:
    def full(step: str, where: Path) -> None:
        if step == "writing-in-place":  # the first block of the new version is in the file
            assert workbook.read_bytes()[:8] == (NEW * 500)[:8]
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files, "COPY_CHUNK", 8)
    with pytest.raises(CaseloopError, match="the disk is full; the workbook was left as it was"):
        commit_workbook(workbook, NEW * 500, read_fingerprint=fingerprint(workbook), on_step=full)
    assert workbook.read_bytes() == OLD
    assert leftovers(workbook.parent) == []
    assert not (workbook.parent / BACKUP_FOLDER).exists(), "made by this run, and removed"


# --- the new version given as a writer, not as bytes (a large workbook streamed to disk) ------


def _writer(data: bytes, block: int = 1000) -> Any:
    """A writer that writes ``data`` into the file it is given, a block at a time."""

    def write(out: BinaryIO) -> None:
        for start in range(0, len(data), block):
            out.write(data[start : start + block])

    return write


def test_a_writer_is_written_to_the_temp_file_and_renamed(workbook: Path) -> None:
    reached: list[str] = []

    def note(step: str, where: Path) -> None:
        reached.append(step)
        if step == "temp-written":
            assert where.read_bytes() == NEW * 500 and workbook.read_bytes() == OLD

    written, backup = commit_workbook(
        workbook, _writer(NEW * 500), read_fingerprint=fingerprint(workbook), on_step=note
    )
    assert written == workbook and workbook.read_bytes() == NEW * 500
    assert backup is not None and backup.read_bytes() == OLD
    assert reached == [*STEPS, "renamed"]
    assert leftovers(workbook.parent) == []


def test_in_place_a_writer_is_staged_then_copied_into_the_same_file(
    workbook: Path, monkeypatch: pytest.MonkeyPatch, in_place: None
) -> None:
    new = NEW * 500
    inode = workbook.stat().st_ino
    reached: list[str] = []

    def note(step: str, where: Path) -> None:
        reached.append(step)
        if step == "journal-written":
            intent = json.loads(where.read_text())
            assert intent["new_sha256"] == hashlib.sha256(new).hexdigest()
        if step == "writing-in-place":
            assert workbook.read_bytes() not in (OLD, new), "copied a block at a time"

    monkeypatch.setattr(files, "COPY_CHUNK", 4096)
    _, backup = commit_workbook(
        workbook, _writer(new), read_fingerprint=fingerprint(workbook), on_step=note
    )
    assert reached == ["temp-written", *IN_PLACE_STEPS, "writing-in-place", "written-in-place"]
    assert workbook.read_bytes() == new and workbook.stat().st_ino == inode
    assert backup is not None and backup.read_bytes() == OLD
    assert leftovers(workbook.parent) == []


@pytest.mark.parametrize("how", ["renamed", "in place"])
def test_a_writer_that_fails_leaves_the_workbook_and_no_leftovers(
    workbook: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    if how == "in place":
        monkeypatch.setattr(commit, "rename_keeps_owner", lambda original: False)

    def broken(out: BinaryIO) -> None:
        out.write(NEW)
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(CaseloopError, match="the disk is full; the workbook was left as it was"):
        commit_workbook(workbook, broken, read_fingerprint=fingerprint(workbook))
    assert workbook.read_bytes() == OLD
    assert leftovers(workbook.parent) == []
    assert not (workbook.parent / BACKUP_FOLDER).exists()


KILLED_IN_PLACE = """
import os, sys
from pathlib import Path
from caseloop.backends.xlsx import commit, files
from caseloop.backends.xlsx.commit import commit_workbook
from caseloop.backends.xlsx.files import fingerprint
commit.rename_keeps_owner = lambda original: False
files.COPY_CHUNK = 64
die = lambda step, where: os._exit(9) if step == sys.argv[2] else None
path = Path(sys.argv[1])
commit_workbook(path, bytes.fromhex(sys.argv[3]), read_fingerprint=fingerprint(path), on_step=die)
"""


def _interrupted(workbook: Path, at: str) -> bytes:
    """Commit a new version in place in a process that dies at step ``at``; returns it."""
    new = NEW * 500
    child = subprocess.run([sys.executable, "-c", KILLED_IN_PLACE, str(workbook), at, new.hex()])
    assert child.returncode == 9
    return new


def test_a_half_written_workbook_is_put_back_by_the_next_run(workbook: Path) -> None:
    new = _interrupted(workbook, "writing-in-place")
    half = workbook.read_bytes()
    assert half not in (OLD, new) and _journal(workbook).exists()
    lock = CaseloopLock(workbook).acquire()
    try:
        assert lock.repaired is not None and "put back" in lock.repaired
        assert str(workbook) in lock.repaired
        assert workbook.read_bytes() == OLD and not _journal(workbook).exists()
        kept = [p.read_bytes() for p in (workbook.parent / BACKUP_FOLDER).iterdir()]
        assert sorted(kept) == sorted([OLD, half]), "the half-written file is kept as well"
    finally:
        lock.release()
    commit_workbook(workbook, NEW, read_fingerprint=fingerprint(workbook))
    assert workbook.read_bytes() == NEW and leftovers(workbook.parent) == []


def test_a_whole_workbook_saved_over_an_interrupted_write_is_kept(workbook: Path) -> None:
    # After the crash a colleague opened the backup, added a tab and saved over the log: a
    # complete workbook that is neither caseloop's old nor new version. It is theirs: the
    # journal goes, the file stays, no backup is put back over it.
    _interrupted(workbook, "writing-in-place")
    theirs = io.BytesIO()
    with zipfile.ZipFile(theirs, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet9.xml", "<worksheet>their new tab</worksheet>")
    workbook.write_bytes(theirs.getvalue())
    with CaseloopLock(workbook) as lock:
        assert lock.repaired is None
    assert workbook.read_bytes() == theirs.getvalue() and not _journal(workbook).exists()


def test_a_journal_whose_new_version_is_all_written_is_simply_dropped(workbook: Path) -> None:
    new = _interrupted(workbook, "written-in-place")
    assert workbook.read_bytes() == new and _journal(workbook).exists()
    with CaseloopLock(workbook) as lock:
        assert lock.repaired is None
    assert workbook.read_bytes() == new and leftovers(workbook.parent) == []
    (backup,) = (workbook.parent / BACKUP_FOLDER).iterdir()
    assert backup.read_bytes() == OLD


def test_a_journal_whose_backup_is_gone_is_one_sentence_and_touches_nothing(workbook: Path) -> None:
    _interrupted(workbook, "writing-in-place")
    half = workbook.read_bytes()
    for backup in (workbook.parent / BACKUP_FOLDER).iterdir():
        backup.write_bytes(b"someone edited the backup")
    with pytest.raises(CaseloopError) as refused:
        CaseloopLock(workbook).acquire()
    message = str(refused.value)
    assert str(workbook) in message and "half-written" in message and BACKUP_FOLDER in message
    assert workbook.read_bytes() == half and _journal(workbook).exists()
    assert not locking.lock_path(workbook).exists(), "the lock is let go"


def test_a_journal_is_not_repaired_while_the_workbook_is_open_in_excel(workbook: Path) -> None:
    _interrupted(workbook, "writing-in-place")
    half = workbook.read_bytes()
    (workbook.parent / "~$team.xlsx").write_bytes(b"owner")
    with pytest.raises(RefusedError, match="is open in Excel or LibreOffice"):
        CaseloopLock(workbook).acquire()
    assert workbook.read_bytes() == half and _journal(workbook).exists()


@needs_root
def test_a_file_of_another_user_is_rewritten_in_place_when_chown_is_refused(
    workbook: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    os.chown(workbook, 1234, 2345)
    workbook.chmod(0o640)
    inode = workbook.stat().st_ino

    def no_chown(*args: Any) -> None:
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "chown", no_chown)  # root squashed on a network share, say
    commit_workbook(workbook, NEW, read_fingerprint=fingerprint(workbook))
    assert workbook.read_bytes() == NEW and workbook.stat().st_ino == inode
    assert _owner(workbook) == (1234, 2345, 0o640)
    assert leftovers(workbook.parent) == []
