"""Rewrite a workbook in place, behind a backup and an intent journal, for when a new file could
not keep its owner; and repair what such a write left when it was interrupted."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import zipfile
from collections.abc import Iterable
from pathlib import Path

from ...errors import CaseloopError
from . import files
from .backups import BACKUP_FOLDER, backup, backup_folder
from .files import (
    TEMP_PREFIX,
    disk_error,
    file_blocks,
    fsync_folder,
    real_path,
    refuse_changed,
    remove_quietly,
    sha256_of,
)
from .office_lock import refuse_if_open
from .ownership import me, not_yours
from .steps import OnStep, no_step


def journal_path(target: Path | str) -> Path:
    """Where a run rewriting a workbook in place notes what it is doing, beside the lock."""
    target = real_path(target)
    return target.with_name(f".~caseloop-{target.name}.journal")


def probe_writable(target: Path) -> None:
    """Refuse, before anything is written, a workbook this user may not write into."""
    try:
        os.close(os.open(target, os.O_WRONLY | getattr(os, "O_BINARY", 0)))
    except (PermissionError, IsADirectoryError):
        raise not_yours(target, target.stat()) from None
    except OSError as exc:
        raise disk_error(target, exc) from None


def open_same(target: Path, original: os.stat_result | None) -> int:
    """The workbook opened for writing, refused if it is no longer the file that was read."""
    descriptor = os.open(target, os.O_WRONLY | getattr(os, "O_BINARY", 0))
    now = os.fstat(descriptor)
    if original is not None and (now.st_dev, now.st_ino) != (original.st_dev, original.st_ino):
        os.close(descriptor)
        refuse_changed(target)  # a colleague's save replaced it since the last check
    return descriptor


def write_into(
    descriptor: int,
    target: Path,
    blocks: Iterable[bytes | memoryview],
    step: str | None = None,
    on_step: OnStep = no_step,
) -> None:
    """Overwrite the open workbook with ``blocks``, cut it to their length, and sync it.

    The same file (inode) keeps its owner, group, mode and access list, whoever writes it.
    ``step``: the step passed to ``on_step`` once the first block is in the file.
    """
    with os.fdopen(descriptor, "wb") as handle:
        first = True
        for block in blocks:
            handle.write(block)
            if first and step is not None:
                handle.flush()
                on_step(step, target)
            first = False
        handle.truncate()
        handle.flush()
        os.fsync(handle.fileno())


def put_back(target: Path, copy: Path) -> bool:
    """Write the backup's bytes into the workbook in place; False if that failed too."""
    try:
        write_into(open_same(target, None), target, file_blocks(copy))
    except OSError:
        return False
    return True


def write_journal(target: Path, copy: Path, old_sha: str, new_sha: str) -> Path:
    """Note, durably, that ``target`` is about to be rewritten in place and how to undo it."""
    journal = journal_path(target)
    intent = {
        # Relative to the workbook's folder: a share may be mounted elsewhere on another computer.
        "backup": os.path.relpath(copy, target.parent),
        "old_sha256": old_sha,
        "new_sha256": new_sha,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": files.utc_now().strftime("%Y-%m-%d %H:%M:%S UTC"),
    }
    # Written whole under a temp name, then renamed: a journal is either complete or absent.
    partial = target.with_name(f"{TEMP_PREFIX}{target.name}-journal-{secrets.token_hex(4)}")
    try:
        descriptor = os.open(partial, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        with os.fdopen(descriptor, "wb") as handle:
            # Readable whatever the umask: the next run may be another member of the team.
            with contextlib.suppress(OSError, AttributeError):
                os.fchmod(handle.fileno(), 0o644)
            handle.write(json.dumps(intent).encode())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, journal)
    except BaseException:
        remove_quietly(partial)
        raise
    fsync_folder(target.parent)
    return journal


def _whole_workbook(path: Path) -> bool:
    """Whether ``path`` is a complete zip whose every member reads back with its checksum (a
    write cut short leaves no end record, or one whose directory points at other bytes)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.testzip() is None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError):
        return False


def repair(target: Path, on_step: OnStep = no_step) -> str | None:
    """Finish what an interrupted in-place write left: called holding caseloop's lock.

    The workbook holds the new version whole (the journal is dropped), the old one (never
    touched: dropped too), or a mix of both: then the old version is put back from the backup,
    keeping the half-written file as a backup too. Returns one sentence when it put one back.
    """
    journal = journal_path(target)
    try:
        text = journal.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CaseloopError(
            f"Cannot read {journal}, left by an interrupted caseloop run on {target}: "
            f"{exc.strerror or exc}; run caseloop as a member of the file's group."
        ) from None
    try:
        intent = json.loads(text)
        saved = target.parent / str(intent["backup"])
        old_sha, new_sha = str(intent["old_sha256"]), str(intent["new_sha256"])
    except (ValueError, TypeError, KeyError):
        raise CaseloopError(
            f"{journal} is not a journal caseloop can read; if {target} opens in Excel, delete "
            f"{journal.name} and run again, or else copy the newest backup from {BACKUP_FOLDER} "
            "over it first."
        ) from None
    refuse_if_open(target, target)
    try:
        current = sha256_of(target)
        if current in (new_sha, old_sha) or _whole_workbook(target):
            # All written (only the journal's removal was missing), none written, or a whole
            # workbook someone saved over the interrupted write: theirs is kept, never rolled
            # back. Only a file that is not a complete zip is caseloop's half.
            journal.unlink()
            fsync_folder(target.parent)
            return None
        backup_ok = saved.is_file() and sha256_of(saved) == old_sha
    except OSError as exc:
        raise CaseloopError(
            f"Cannot read {target} or its backup to finish an interrupted caseloop run: "
            f"{exc.strerror or exc}."
        ) from None
    if not backup_ok:
        raise CaseloopError(
            f"{target} was left half-written by an interrupted caseloop run and its backup "
            f"{saved} is missing or changed; copy the newest good backup from "
            f"{target.parent / BACKUP_FOLDER} over it, then delete {journal.name}."
        )
    try:
        descriptor = open_same(target, None)  # first: may this user write it at all?
        try:
            # Kept in case it is not caseloop's half at all (someone saved in between).
            half, _ = backup(
                target, None, target.stat(), backup_folder(target), strict=False, on_step=on_step
            )
        except BaseException:
            os.close(descriptor)
            raise
        write_into(descriptor, target, file_blocks(saved))
        journal.unlink()
        fsync_folder(target.parent)
    except OSError as exc:
        why = (
            f"{me()} may not write to it"
            if isinstance(exc, PermissionError)
            else exc.strerror or str(exc)
        )
        raise CaseloopError(
            f"{target} was left half-written by an interrupted caseloop run and caseloop cannot "
            f"put the previous version back ({why}); copy {saved} over it, then delete "
            f"{journal.name}."
        ) from None
    return (
        f"{target} was left half-written by an interrupted caseloop run; the version before it "
        f"was put back from {saved} (the half-written file is kept as {half})."
    )
