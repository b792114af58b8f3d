"""Commit a new version of a workbook to disk safely: lock, write a temp file, back up, check,
rename.

When a new file could not be given the workbook's owner (another member of the team runs
caseloop), the workbook is rewritten in place instead (``in_place``), behind a backup and an
intent journal that the next run repairs from if this one is interrupted.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

from ...errors import CaseloopError
from . import files
from .backups import backup, backup_folder, prune_backups
from .files import (
    TEMP_PREFIX,
    Fingerprint,
    byte_blocks,
    disk_error,
    disk_why,
    fsync_folder,
    real_path,
    refuse_if_changed,
    remove_quietly,
)
from .in_place import open_same, probe_writable, put_back, write_into, write_journal
from .lock import CaseloopLock, lock_path
from .office_lock import refuse_if_open
from .ownership import OwnerNotKept, keep_ownership, not_yours, rename_keeps_owner
from .steps import OnStep, no_step

# The new version of a workbook: its bytes, or a function that writes them into a file.
Writer = Callable[[BinaryIO], None]
NewVersion = bytes | Writer

# A temp file of another workbook in the same folder may belong to a sync running right now;
# only one this old is surely left over from a killed run.
FOREIGN_TEMP_MAX_AGE_S = 3600


def commit_workbook(
    path: Path,
    new: NewVersion,
    *,
    read_fingerprint: Fingerprint | None,
    output: Path | None = None,
    keep_backups: int = 5,
    lock: CaseloopLock | None = None,
    output_fingerprint: Fingerprint | None = None,
    on_step: OnStep = no_step,
) -> tuple[Path, Path | None]:
    """Write ``new`` over ``path`` (or to ``output``); returns (written path, backup path).

    ``new`` is the new version's bytes, or a writer ``write(out)`` that writes it into the open
    temp file ``out`` (so a large workbook need not be held in memory).
    Refuses when the file is open in Excel or LibreOffice, changed since it was read, or another
    caseloop run holds it past the wait. The new version goes to a temp file in the same folder
    with the file's owner, group and mode; the current version is copied to the backup folder;
    only then is the file checked unchanged and the temp file renamed over it, so the workbook
    is always either the old or the new version and a save made meanwhile is never lost.
    When the temp file could not be given the owner (a member of the team who does not own the
    file runs caseloop), the backup is made and a journal written, then the file is checked and
    rewritten in place, so it stays its owner's; a run interrupted there is undone by the next.
    ``lock`` is the caller's lock on the target, taken before it read the file. ``on_step`` is
    called at each step (see ``steps.no_step``); tests pass one to step in at that moment.
    """
    given = Path(output) if output is not None else Path(path)
    target = real_path(given)
    in_place = output is None or target.resolve() == real_path(path).resolve()
    expected = read_fingerprint if in_place else output_fingerprint
    refuse_if_open(given, target)
    _refuse_unwritable(target)
    own_lock = None
    if lock is None or not lock.held or lock.path != lock_path(target):
        own_lock = CaseloopLock(target, on_step=on_step).acquire()
    try:
        return _commit_locked(target, new, expected, keep_backups, on_step)
    finally:
        if own_lock is not None:
            own_lock.release()


def _commit_locked(
    target: Path, new: NewVersion, expected: Fingerprint | None, keep_backups: int, on_step: OnStep
) -> tuple[Path, Path | None]:
    folder = target.parent
    try:
        original = target.stat()
    except FileNotFoundError:
        original = None  # a new --output file gets the usual permissions
    except OSError as exc:
        raise disk_error(target, exc) from None
    # A new file renamed over the workbook would belong to whoever runs caseloop: when it cannot
    # be given the workbook's owner, the workbook is rewritten in place (the same file).
    in_place = original is not None and not rename_keeps_owner(original)
    if in_place:
        probe_writable(target)
    backups = None
    if original is not None:
        # A file in its way is named before anything is written; the folder itself is made
        # only once the new version could be given the file's owner.
        backups = backup_folder(target, create=False)
    _remove_stale_temps(folder, target)
    if backups is not None:
        _remove_stale_temps(backups, target)
    temp: Path | None = None
    try:
        # In place, bytes are written from memory; a writer's output is staged in a temp file.
        if not in_place or not isinstance(new, bytes):
            temp = _write_temp(target, new)
        if temp is not None and not in_place and original is not None:
            try:
                keep_ownership(temp, target, original)
            except OwnerNotKept:
                # chown refused although the rules said it would work (root on a squashed share).
                probe_writable(target)
                in_place = True
    except BaseException as exc:
        remove_quietly(temp)
        if isinstance(exc, OSError):
            raise disk_error(target, exc) from None
        raise
    if in_place and isinstance(new, bytes):
        remove_quietly(temp)
        temp = None
    if original is None or (keep_backups <= 0 and not in_place):
        backups = None  # in place, a backup is needed to undo an interrupted write
    made: Path | None = None
    staged: BinaryIO | None = None
    journal: Path | None = None
    writing = replaced = half_written = False
    folder_existed = backups is not None and backups.is_dir()
    try:
        if temp is not None:
            on_step("temp-written", temp)
        old_sha = ""
        if backups is not None and original is not None:
            made, old_sha = backup(
                target,
                expected,
                original,
                backup_folder(target),
                strict=not in_place,
                on_step=on_step,
            )
            on_step("backup-written", made)
        if in_place:
            assert made is not None and original is not None
            blocks: Iterable[bytes | memoryview]
            if isinstance(new, bytes):
                new_sha, blocks = hashlib.sha256(new).hexdigest(), byte_blocks(new)
            else:
                assert temp is not None
                # Read from an open handle with the name gone, so a run killed from here on
                # leaves no staged copy beside the workbook (a reading command does not clear it).
                staged = temp.open("rb")
                remove_quietly(temp)
                temp = None
                new_sha = hashlib.file_digest(staged, "sha256").hexdigest()
                staged.seek(0)
                blocks = iter(lambda: staged.read(files.COPY_CHUNK), b"")
            journal = write_journal(target, made, old_sha, new_sha)
            on_step("journal-written", journal)
            on_step("before-write", target)
            # The last check, after the backup copy (seconds for a large file on a share).
            refuse_if_changed(target, expected)
            descriptor = open_same(target, original)
            writing = True
            write_into(descriptor, target, blocks, "writing-in-place", on_step)
            replaced = True
            on_step("written-in-place", target)
            # Written: a journal that could not be removed is dropped by the next run.
            remove_quietly(journal)
            journal = None
            fsync_folder(folder)
        else:
            assert temp is not None
            on_step("before-rename", target)
            refuse_if_changed(target, expected)
            os.replace(temp, target)
            replaced = True
            temp = None
            fsync_folder(folder)
            on_step("renamed", target)
    except BaseException as exc:
        if writing and not replaced:
            assert made is not None
            if not put_back(target, made):
                half_written = True  # journal and backup kept: the next run puts it back
                raise CaseloopError(
                    f"Cannot write {target} ({_why(exc)}) nor put the previous version back; "
                    f"the next caseloop run puts it back from {made}."
                ) from None
        if isinstance(exc, OSError):
            raise disk_error(target, exc) from None
        raise
    finally:
        remove_quietly(temp)
        if staged is not None:
            staged.close()
        if not replaced and not half_written:
            # Nothing was replaced (or the old version was put back), so nothing needed backing
            # up and no journal is needed; older backups were not pruned.
            remove_quietly(journal)
            remove_quietly(made)
            if backups is not None and not folder_existed:
                with contextlib.suppress(OSError):
                    backups.rmdir()  # made by this run, and empty again
    if backups is not None and keep_backups <= 0:
        remove_quietly(made)  # made only to undo an interrupted write
        made = None
        if not folder_existed:
            with contextlib.suppress(OSError):
                backups.rmdir()
    elif backups is not None:
        prune_backups(backups, target, keep_backups)
    return target, made


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return disk_why(exc)
    return "interrupted" if isinstance(exc, KeyboardInterrupt) else type(exc).__name__


def _write_temp(target: Path, new: NewVersion) -> Path:
    """The new version in a temp file beside the workbook, synced to disk."""
    temp = target.with_name(f"{TEMP_PREFIX}{target.name}-{secrets.token_hex(4)}")
    # Created with 0o666 so the umask applies, as it would to any file the user saves.
    descriptor = os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            if isinstance(new, bytes):
                handle.write(new)
            else:
                new(handle)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        remove_quietly(temp)
        raise
    return temp


def _remove_stale_temps(folder: Path, target: Path) -> None:
    """Temp files a killed run left behind: this workbook's (we hold its lock) and old others."""
    own_prefix = f"{TEMP_PREFIX}{target.name}-"
    now = time.time()
    with contextlib.suppress(OSError):
        for leftover in folder.glob(f"{TEMP_PREFIX}*"):
            with contextlib.suppress(OSError):
                if (
                    leftover.name.startswith(own_prefix)
                    or now - leftover.stat().st_mtime > FOREIGN_TEMP_MAX_AGE_S
                ):
                    leftover.unlink()
    with contextlib.suppress(OSError):
        for aside in folder.glob(".~caseloop-*.lock-stale-*"):
            if now - aside.stat().st_mtime > FOREIGN_TEMP_MAX_AGE_S:
                aside.unlink()


def _refuse_unwritable(target: Path) -> None:
    """A target that is a folder or device, or a file marked read-only, is never replaced."""
    try:
        stat = target.stat()
    except OSError:
        return  # a new --output file; the folder's own permissions are checked by writing
    if not target.is_file():
        raise CaseloopError(
            f"Cannot write {target}: it is not a workbook file (a folder or a device); "
            "give the path of an .xlsx file."
        )
    # Permission bits, not just access(): root may write anything, but a file someone marked
    # read-only is a request to leave it alone. (A read-only folder fails when written to.)
    locked = os.access(target.parent, os.W_OK) and not os.access(target, os.W_OK)
    if not stat.st_mode & 0o222:
        raise CaseloopError.said("read_only", target=target)
    if locked:
        raise not_yours(target, stat)
