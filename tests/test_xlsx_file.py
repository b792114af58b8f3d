"""Committing a workbook to disk: refusals, backups, --output, disk errors, locks and leftovers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from caseloop.backends.xlsx_file import BACKUP_FOLDER, commit_workbook, fingerprint
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


def test_a_running_sync_holds_the_file(workbook: Path) -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (workbook.parent / ".~caseloop-team.xlsx.lock").write_text(str(other.pid))
        with pytest.raises(RefusedError, match="Another caseloop sync is running on .*team.xlsx"):
            commit_workbook(workbook, NEW, read_fingerprint=fingerprint(workbook))
        assert workbook.read_bytes() == OLD
    finally:
        other.kill()
        other.wait()
    # Once that process is gone, its lock is stale and is taken over.
    commit_workbook(workbook, NEW, read_fingerprint=fingerprint(workbook))
    assert workbook.read_bytes() == NEW
    assert leftovers(workbook.parent) == []


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
import sys
from pathlib import Path
from caseloop.backends.xlsx_file import commit_workbook, fingerprint
path = Path(sys.argv[1])
commit_workbook(path, b"PK never finished", read_fingerprint=fingerprint(path))
"""


def test_a_sync_killed_before_the_rename_leaves_the_original(workbook: Path) -> None:
    folder = workbook.parent
    env = {**os.environ, "CASELOOP_TEST_PAUSE_BEFORE_RENAME": "30"}
    sync = subprocess.Popen([sys.executable, "-c", KILLED_SYNC, str(workbook)], env=env)
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
    assert len(leftovers(folder)) == 2  # its lock and its temp file
    commit_workbook(workbook, NEW, read_fingerprint=fingerprint(workbook))
    assert workbook.read_bytes() == NEW
    assert leftovers(folder) == []
