"""Commit new workbook bytes to disk safely: lock, check nobody saved meanwhile, back up, rename."""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from ..errors import CaseloopError, RefusedError

Fingerprint = tuple[int, int, str]  # (size, mtime_ns, sha256)

BACKUP_FOLDER = ".caseloop-backup"
TEMP_PREFIX = ".~caseloop-tmp-"
PAUSE_VARIABLE = "CASELOOP_TEST_PAUSE_BEFORE_RENAME"
# A temp file of another workbook in the same folder may belong to a sync running right now;
# only one this old is surely left over from a killed run.
FOREIGN_TEMP_MAX_AGE_S = 3600
# A lock file without a readable pid may be one being written this instant; only an old one is stale.
UNREADABLE_LOCK_MAX_AGE_S = 60


def fingerprint(path: Path | str, content: bytes | None = None) -> Fingerprint:
    """What the file looked like when it was read: size, modification time and content hash.

    Pass ``content`` when the caller has just read the file, so it is not read twice.
    """
    path = Path(path)
    try:
        stat = path.stat()
        digest = hashlib.sha256()
        if content is not None:
            digest.update(content)
        else:
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    except OSError as exc:
        raise CaseloopError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    return (stat.st_size, stat.st_mtime_ns, digest.hexdigest())


def _changed_since(path: Path, read_fingerprint: Fingerprint) -> bool:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return True
    size, mtime_ns, _ = read_fingerprint
    if (stat.st_size, stat.st_mtime_ns) != (size, mtime_ns):
        return True
    # Same size and time: compare content too, for file systems with coarse timestamps.
    return fingerprint(path) != read_fingerprint


def office_lock_file(path: Path) -> Path | None:
    """The lock file Excel (``~$name``) or LibreOffice (``.~lock.name#``) keeps while ``path`` is open."""
    candidates = [
        path.with_name("~$" + path.name),
        path.with_name(f".~lock.{path.name}#"),
    ]
    return next((candidate for candidate in candidates if candidate.exists()), None)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, it just belongs to someone else
    except OSError:
        return False
    return True


def _disk_error(path: Path, exc: OSError) -> CaseloopError:
    if exc.errno == errno.ENOSPC:
        why = "the disk is full"
    elif exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        why = "the folder is read-only or you may not write there"
    else:
        why = exc.strerror or str(exc)
    return CaseloopError(f"Cannot write {path}: {why}; the workbook was left as it was.")


@contextlib.contextmanager
def _sync_lock(target: Path) -> Iterator[None]:
    """caseloop's own lock next to ``target``, so two syncs on one file never interleave."""
    lock = target.with_name(f".~caseloop-{target.name}.lock")
    for attempt in range(2):
        try:
            descriptor = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            break
        except FileExistsError:
            if attempt == 0 and _lock_is_stale(lock):
                with contextlib.suppress(FileNotFoundError):
                    lock.unlink()
                continue
            raise RefusedError(
                f"Another caseloop sync is running on {target} (lock file {lock.name}); "
                "wait for it to finish and run again."
            ) from None
        except OSError as exc:
            raise _disk_error(target, exc) from None
    try:
        os.write(descriptor, str(os.getpid()).encode())
    finally:
        os.close(descriptor)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            if lock.read_text().strip() == str(os.getpid()):
                lock.unlink()


def _lock_is_stale(lock: Path) -> bool:
    try:
        text = lock.read_text().strip()
        age = time.time() - lock.stat().st_mtime
    except FileNotFoundError:
        return True
    except OSError:
        return False
    if text.isdigit():
        return not _pid_alive(int(text))
    return age > UNREADABLE_LOCK_MAX_AGE_S


def _remove_stale_temps(folder: Path, target: Path) -> None:
    """Temp files a killed run left behind: this workbook's (we hold its lock) and old others."""
    own_prefix = f"{TEMP_PREFIX}{target.name}-"
    now = time.time()
    for leftover in folder.glob(f"{TEMP_PREFIX}*"):
        with contextlib.suppress(OSError):
            if (
                leftover.name.startswith(own_prefix)
                or now - leftover.stat().st_mtime > FOREIGN_TEMP_MAX_AGE_S
            ):
                leftover.unlink()


def _write_temp(target: Path, new_bytes: bytes, mode: int | None) -> Path:
    temp = target.with_name(f"{TEMP_PREFIX}{target.name}-{secrets.token_hex(4)}")
    # Created with 0o666 so the umask applies, as it would to any file the user saves.
    descriptor = os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(new_bytes)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(temp, mode)  # keep the team's permissions on the file they share
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    return temp


def _backup(path: Path, keep_backups: int) -> Path | None:
    """Copy the current version into .caseloop-backup/ and keep only the newest ``keep_backups``."""
    if keep_backups <= 0:
        return None
    folder = path.parent / BACKUP_FOLDER
    folder.mkdir(exist_ok=True)
    pattern = re.compile(
        rf"{re.escape(path.stem)}-(\d{{8}}-\d{{6}})(?:-(\d+))?{re.escape(path.suffix)}"
    )
    existing = []  # (stamp, number within that second, file), oldest first once sorted
    for candidate in folder.iterdir():
        match = pattern.fullmatch(candidate.name)
        if match:
            existing.append((match.group(1), int(match.group(2) or 1), candidate))
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    # Several syncs within one second count up after the newest, never into a freed-up name.
    number = max((n for s, n, _ in existing if s == stamp), default=0) + 1
    suffix = f"-{number}" if number > 1 else ""
    backup = folder / f"{path.stem}-{stamp}{suffix}{path.suffix}"
    # Copied under a temp name and renamed: a run killed mid-copy leaves no half backup that
    # looks like a whole one, only a temp file the next run removes.
    partial = folder / f"{TEMP_PREFIX}{path.name}-backup"
    try:
        shutil.copy2(path, partial)
        os.replace(partial, backup)
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise
    existing.append((stamp, number, backup))
    existing.sort()
    for _, _, old in existing[:-keep_backups]:
        with contextlib.suppress(OSError):
            old.unlink()
    return backup


def _fsync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError, AttributeError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _refuse_if_changed(path: Path, read_fingerprint: Fingerprint | None) -> None:
    if read_fingerprint is not None and _changed_since(path, read_fingerprint):
        raise RefusedError(
            f"{path} changed since caseloop read it (someone saved it meanwhile); run again."
        )


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
    if not stat.st_mode & 0o222 or locked:
        raise CaseloopError(
            f"Cannot write {target}: the file is read-only; the workbook was left as it was."
        )


def commit_workbook(
    path: Path,
    new_bytes: bytes,
    *,
    read_fingerprint: Fingerprint | None,
    output: Path | None = None,
    keep_backups: int = 5,
) -> tuple[Path, Path | None]:
    """Write ``new_bytes`` over ``path`` (or to ``output``); returns (written path, backup path).

    Refuses when the file is open in Excel or LibreOffice, changed since it was read, or another
    caseloop sync holds it. The new version goes to a temp file in the same folder first and is
    renamed over the original, so the workbook is always either the old or the new version.
    """
    # A workbook reached through a symbolic link is replaced where it really lives.
    path = Path(path).resolve() if Path(path).is_symlink() else Path(path)
    target = Path(output) if output is not None else path
    target = target.resolve() if target.is_symlink() else target
    in_place = target.resolve() == path.resolve()
    for checked in {path, target}:
        lock_file = office_lock_file(checked)
        if lock_file is not None:
            raise RefusedError(
                f"{checked} is open in Excel or LibreOffice (lock file {lock_file.name}); "
                "close it and run again."
            )
    _refuse_unwritable(target)
    folder = target.parent
    with _sync_lock(target):
        if in_place:
            _refuse_if_changed(path, read_fingerprint)
        _remove_stale_temps(folder, target)
        _remove_stale_temps(path.parent / BACKUP_FOLDER, path)
        mode = None  # a new --output file gets the usual permissions
        with contextlib.suppress(OSError):
            mode = target.stat().st_mode & 0o7777
        temp: Path | None = None
        try:
            temp = _write_temp(target, new_bytes, mode)
            pause = os.environ.get(PAUSE_VARIABLE)
            if pause:
                time.sleep(float(pause))
            if in_place:
                # Writing a large temp file takes a while: a save made meanwhile must not be lost.
                _refuse_if_changed(path, read_fingerprint)
            backup = _backup(path, keep_backups) if in_place else None
            os.replace(temp, target)
            temp = None
            _fsync_folder(folder)
        except OSError as exc:
            raise _disk_error(target, exc) from None
        finally:
            if temp is not None:
                with contextlib.suppress(OSError):
                    temp.unlink()
    return target, backup
