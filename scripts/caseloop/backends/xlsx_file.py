"""Commit new workbook bytes to disk safely: lock, write a temp file, back up, check, rename.

When a new file could not be given the workbook's owner (another member of the team runs
caseloop), the workbook is rewritten in place instead, behind a backup and an intent journal
that the next run repairs from if this one is interrupted.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import json
import os
import re
import secrets
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import CaseloopError, RefusedError

Fingerprint = tuple[int, int, str]  # (size, mtime_ns, sha256)

BACKUP_FOLDER = ".caseloop-backup"
TEMP_PREFIX = ".~caseloop-tmp-"
# A temp file of another workbook in the same folder may belong to a sync running right now;
# only one this old is surely left over from a killed run.
FOREIGN_TEMP_MAX_AGE_S = 3600
# A lock file without a readable pid may be one being written this instant; only an old one is stale.
UNREADABLE_LOCK_MAX_AGE_S = 60
# No run takes hours (a million cases sync in under two minutes): an older lock is left over,
# whatever process now has its pid, and whichever computer wrote it.
LOCK_MAX_AGE_S = 2 * 3600
# How long a run waits for another caseloop run on the same workbook (the Monday report and the
# ten-minute sync start together), and how often it looks.
LOCK_WAIT_S = 120.0
LOCK_POLL_S = 0.25
COPY_CHUNK = 1 << 20
ACL_XATTR = "system.posix_acl_access"
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")


def on_step(step: str, where: Path) -> None:
    """Called at each step of a commit; does nothing. Tests replace it to step in at that moment.

    The steps, in order: "temp-written", "backup-copying" (after the first block of the backup),
    "backup-written", "before-rename" (then the last check, then the rename), "renamed".
    Rewritten in place: "backup-copying", "backup-written", "journal-written", "before-write"
    (then the last check), "writing-in-place" (after the first block), "written-in-place" (all
    written and synced; the journal is removed next).
    """


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


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


def _refuse_if_open(given: Path, real: Path) -> None:
    """Excel keeps its lock file beside the name it opened: a link's, or the real file's."""
    for checked in dict.fromkeys([given, real]):
        lock_file = office_lock_file(checked)
        if lock_file is not None:
            raise RefusedError(
                f"{checked} is open in Excel or LibreOffice (lock file {lock_file.name}); "
                "close it and run again."
            )


def real_path(path: Path | str) -> Path:
    """Where a workbook reached through symbolic links really lives (the path itself otherwise)."""
    path = Path(path)
    return path.resolve() if path.is_symlink() else path


def _pid_alive(pid: int) -> bool:
    if os.name == "nt":
        return True  # os.kill(pid, 0) would end that process on Windows: the lock's age decides
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, it just belongs to someone else
    except (OSError, OverflowError):
        return False
    return True


def _disk_why(exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full"
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return "the folder is read-only or you may not write there"
    return exc.strerror or str(exc)


def _disk_error(path: Path, exc: OSError) -> CaseloopError:
    return CaseloopError(f"Cannot write {path}: {_disk_why(exc)}; the workbook was left as it was.")


def lock_path(target: Path | str) -> Path:
    """caseloop's own lock file for a workbook, beside the real file."""
    target = real_path(target)
    return target.with_name(f".~caseloop-{target.name}.lock")


def journal_path(target: Path | str) -> Path:
    """Where a run rewriting a workbook in place notes what it is doing, beside the lock."""
    target = real_path(target)
    return target.with_name(f".~caseloop-{target.name}.journal")


@dataclass
class _Holder:
    """What a lock file says about the run holding it."""

    pid: int | None
    host: str | None
    since: str | None
    age_s: float
    inode: int
    readable: bool

    @property
    def stale(self) -> bool:
        if self.age_s > LOCK_MAX_AGE_S:
            return True  # a pid may have been reused since: age decides
        if self.pid is None:
            # Empty or garbled: a run killed while writing it, or one writing it this instant.
            return self.readable and self.age_s > UNREADABLE_LOCK_MAX_AGE_S
        if self.host is not None and self.host != socket.gethostname():
            return False  # a pid on another computer cannot be checked from here
        return not _pid_alive(self.pid)

    def describe(self) -> str:
        who = f"process {self.pid}" if self.pid is not None else "a run"
        where = f" on {self.host}" if self.host else ""
        since = f" since {self.since}" if self.since else ""
        return f"{who}{where}{since}"


def _read_holder(lock: Path) -> _Holder | None:
    try:
        stat = lock.stat()
    except FileNotFoundError:
        return None
    age = time.time() - stat.st_mtime
    try:
        text = lock.read_text(encoding="utf-8", errors="replace").strip()
    except FileNotFoundError:
        return None
    except OSError:
        return _Holder(None, None, None, age, stat.st_ino, readable=False)
    pid = host = since = None
    if text.isdigit():  # written by caseloop before locks named their host
        pid = int(text)
    else:
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            data = json.loads(text)
            pid, host, since = int(data["pid"]), str(data["host"]), data.get("since")
    return _Holder(pid, host, since, age, stat.st_ino, readable=True)


class CaseloopLock:
    """caseloop's own lock on a workbook (``.~caseloop-NAME.lock``), so runs on one file queue.

    Taken before the workbook is read and held until it is written: the file cannot change
    between the two because of another caseloop run. The lock file names the process, the
    computer and the time, so a lock left by a dead process is recognised and taken over.
    Once taken, a workbook left half-written by an interrupted run is put right first; what was
    done is in ``repaired`` (one sentence), to be passed on as a warning.
    """

    def __init__(self, target: Path | str) -> None:
        self.target = real_path(target)
        self.path = lock_path(self.target)
        self.token = secrets.token_hex(8)
        self.held = False
        self.repaired: str | None = None

    def acquire(self, wait_s: float | None = None) -> CaseloopLock:
        """Take the lock, waiting up to ``wait_s`` (default LOCK_WAIT_S) for another run."""
        deadline = time.monotonic() + (LOCK_WAIT_S if wait_s is None else wait_s)
        while not self._create():
            holder = _read_holder(self.path)
            if holder is None:
                continue  # released just now
            if holder.stale:
                self._break(holder)
                continue
            if time.monotonic() >= deadline:
                raise RefusedError(
                    f"Another caseloop run holds {self.target} ({holder.describe()}, lock file "
                    f"{self.path.name}); wait for it to finish and run again, or delete the lock "
                    "file if no caseloop run is going on."
                )
            time.sleep(LOCK_POLL_S)
        self.held = True
        try:
            self.repaired = _repair(self.target)
        except BaseException:
            self.release()
            raise
        return self

    def _create(self) -> bool:
        content = json.dumps(
            {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "since": _utc_now().strftime("%Y-%m-%d %H:%M:%S UTC"),
                "token": self.token,
            }
        ).encode()
        try:
            descriptor = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        except FileExistsError:
            return False
        except OSError as exc:
            raise _disk_error(self.target, exc) from None
        try:
            try:
                written = os.write(descriptor, content)
            finally:
                os.close(descriptor)  # on a network share a full disk may show only here
            if written != len(content):
                raise OSError(errno.ENOSPC, "short write")
        except OSError as exc:
            # An empty lock would block the next run for a minute: never leave one.
            with contextlib.suppress(OSError):
                self.path.unlink()
            raise _disk_error(self.target, exc) from None
        return True

    def _break(self, holder: _Holder) -> None:
        """Remove a stale lock, unless another run replaced it since it was judged stale."""
        aside = self.path.with_name(f"{self.path.name}-stale-{self.token}")
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise _disk_error(self.target, exc) from None
        with contextlib.suppress(OSError):
            if aside.stat().st_ino != holder.inode:
                # A fresh lock of another run was moved: put it back (never over a newer one).
                with contextlib.suppress(OSError):
                    os.link(aside, self.path)
        with contextlib.suppress(OSError):
            aside.unlink()

    def release(self) -> None:
        """Remove the lock file if it is still this run's."""
        if not self.held:
            return
        self.held = False
        with contextlib.suppress(OSError, ValueError, TypeError):
            if json.loads(self.path.read_text(encoding="utf-8")).get("token") == self.token:
                self.path.unlink()

    def __enter__(self) -> CaseloopLock:
        return self.acquire() if not self.held else self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


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


def _name(number: int, lookup: str) -> str:
    import grp
    import pwd

    try:
        if lookup == "user":
            return pwd.getpwuid(number).pw_name
        return grp.getgrgid(number).gr_name
    except (KeyError, OverflowError):
        return str(number)


class _OwnerNotKept(RefusedError):
    """A new file could not be given the workbook's owner, group or access list."""


def _who(original: os.stat_result) -> str:
    owner, group = _name(original.st_uid, "user"), _name(original.st_gid, "group")
    who = f"{owner}:{group}"
    if who != f"{original.st_uid}:{original.st_gid}":
        who += f" ({original.st_uid}:{original.st_gid})"
    return who


def _me() -> str:
    return _name(os.geteuid(), "user") if hasattr(os, "geteuid") else "you"


def _rename_keeps_owner(original: os.stat_result) -> bool:
    """Whether a new file made by this process can be given the workbook's owner and group."""
    if not hasattr(os, "geteuid"):
        return True  # Windows: a new file there is not given away to its maker this way
    euid = os.geteuid()
    if euid == 0:
        return True  # root may chown (where it may not, a squashed share, chown says so)
    if original.st_uid != euid:
        return False  # only root may give a file to another user
    return original.st_gid == os.getegid() or original.st_gid in os.getgroups()


def _keep_ownership(
    new: Path, target: Path, original: os.stat_result, *, strict: bool = True
) -> None:
    """Give ``new`` the owner, group, mode and access list of the file it will replace.

    A file owned by the team's group must stay the team's: a new file would belong to whoever
    ran caseloop, and the rest of the team could no longer open its own log. ``strict=False``
    (a backup made by another member of the team) keeps what may be kept: the group when the
    member is in it, the mode and the access list.
    """
    mine = os.stat(new)
    uid = original.st_uid if mine.st_uid != original.st_uid else -1
    gid = original.st_gid if mine.st_gid != original.st_gid else -1
    if (uid, gid) != (-1, -1):
        try:
            os.chown(new, uid, gid)
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EACCES, errno.EINVAL):
                raise
            if strict:
                owner = _name(original.st_uid, "user")
                group = _name(original.st_gid, "group")
                raise _OwnerNotKept(
                    f"{target} belongs to {_who(original)} and caseloop, running as {_me()}, "
                    f"cannot give the new version that owner and group; run caseloop as {owner} "
                    f"(in group {group}), or write a copy with --output; the workbook was left "
                    "as it was."
                ) from None
            with contextlib.suppress(OSError):
                os.chown(new, -1, gid)
    acl = None
    with contextlib.suppress(OSError, AttributeError):
        acl = os.getxattr(target, ACL_XATTR)
    if acl:
        try:
            os.setxattr(new, ACL_XATTR, acl)
        except OSError:
            if strict:
                raise _OwnerNotKept(
                    f"caseloop cannot give the new version of {target} the access list (ACL) "
                    "the file has now; the workbook was left as it was."
                ) from None
    # After chown (which may clear set-id bits); with an ACL, the group bits are its mask.
    os.chmod(new, original.st_mode & 0o7777)


def _write_temp(target: Path, new_bytes: bytes, original: os.stat_result | None) -> Path:
    temp = target.with_name(f"{TEMP_PREFIX}{target.name}-{secrets.token_hex(4)}")
    # Created with 0o666 so the umask applies, as it would to any file the user saves.
    descriptor = os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(new_bytes)
            handle.flush()
            os.fsync(handle.fileno())
        if original is not None:
            _keep_ownership(temp, target, original)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    return temp


def _backup_folder(target: Path, create: bool = True) -> Path:
    """``.caseloop-backup`` beside the workbook, made for the team like the folder it is in."""
    folder = target.parent / BACKUP_FOLDER
    if not folder.is_dir():
        if folder.exists() or folder.is_symlink():
            raise CaseloopError(
                f"Cannot keep a backup of {target}: {folder} is a file, not a folder; rename or "
                "remove that file and run again; the workbook was left as it was."
            )
        if not create:
            return folder
        try:
            folder.mkdir()
        except FileExistsError:
            pass
        else:
            # Whoever runs caseloop next (another member of the team) must be able to add to it.
            with contextlib.suppress(OSError):
                parent = target.parent.stat()
                os.chown(folder, -1, parent.st_gid)
                os.chmod(folder, parent.st_mode & 0o7777)
    return folder


_BACKUP_KINDS = [
    # UTC time and a sequence number counting up across all backups of the workbook.
    (1, r"(?P<stamp>\d{8}-\d{6})Z-(?P<n>\d+)"),
    # Local time and a number within that second, from caseloop before the sequence.
    (0, r"(?P<stamp>\d{8}-\d{6})(?:-(?P<n>\d+))?"),
]


def _backups(folder: Path, target: Path) -> list[tuple[tuple[int, int, str], Path]]:
    """This workbook's backups, oldest first: by sequence, never by a clock that may go back."""
    found = []
    patterns = [
        (kind, re.compile(rf"{re.escape(target.stem)}-{body}{re.escape(target.suffix)}"))
        for kind, body in _BACKUP_KINDS
    ]
    with contextlib.suppress(OSError):
        for candidate in folder.iterdir():
            for kind, pattern in patterns:
                match = pattern.fullmatch(candidate.name)
                if match and kind == 1:
                    found.append(((1, int(match["n"]), match["stamp"]), candidate))
                elif match:
                    found.append(
                        ((0, 0, f"{match['stamp']}-{int(match['n'] or 1):09d}"), candidate)
                    )
                if match:
                    break
    found.sort()
    return found


def _backup(
    target: Path,
    expected: Fingerprint | None,
    original: os.stat_result,
    folder: Path,
    *,
    strict: bool = True,
) -> tuple[Path, str]:
    """Copy the current version into the backup folder, checking it is the version read.

    Returns the backup and the sha256 of what was copied. ``strict``: as ``_keep_ownership``.
    """
    existing = _backups(folder, target)
    number = max((key[1] for key, _ in existing if key[0] == 1), default=0) + 1
    stamp = _utc_now().astimezone(dt.UTC).strftime("%Y%m%d-%H%M%S")
    backup = folder / f"{target.stem}-{stamp}Z-{number}{target.suffix}"
    # Copied under a temp name and renamed: a run killed mid-copy leaves no half backup that
    # looks like a whole one, only a temp file the next run removes.
    partial = folder / f"{TEMP_PREFIX}{target.name}-backup-{secrets.token_hex(4)}"
    digest = hashlib.sha256()
    size = 0
    try:
        with target.open("rb") as source, partial.open("xb") as copy:
            while block := source.read(COPY_CHUNK):
                copy.write(block)
                digest.update(block)
                if size == 0:
                    copy.flush()
                    on_step("backup-copying", partial)
                size += len(block)
            copy.flush()
            os.fsync(copy.fileno())
        if expected is not None and (size, digest.hexdigest()) != (expected[0], expected[2]):
            _refuse_changed(target)  # saved while it was being copied: not the version read
        _keep_ownership(partial, target, original, strict=strict)
        os.utime(partial, ns=(original.st_atime_ns, original.st_mtime_ns))
        os.replace(partial, backup)
    except BaseException:
        _remove_quietly(partial)
        raise
    return backup, digest.hexdigest()


def _prune_backups(folder: Path, target: Path, keep_backups: int) -> None:
    for _, old in _backups(folder, target)[:-keep_backups]:
        _remove_quietly(old)


def _remove_quietly(path: Path | None) -> None:
    if path is not None:
        with contextlib.suppress(OSError):
            path.unlink()


def _fsync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError, AttributeError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _refuse_changed(path: Path) -> None:
    # caseloop's own runs queue on its lock, so a change can only be someone's save.
    raise RefusedError(
        f"{path} changed since caseloop read it (someone saved it meanwhile); run again."
    )


def _refuse_if_changed(path: Path, read_fingerprint: Fingerprint | None) -> None:
    if read_fingerprint is not None and _changed_since(path, read_fingerprint):
        _refuse_changed(path)


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
        raise CaseloopError(
            f"Cannot write {target}: the file is read-only; the workbook was left as it was."
        )
    if locked:
        raise _not_yours(target, stat)


def _not_yours(target: Path, stat: os.stat_result) -> CaseloopError:
    """The file may be written by others (its owner, its group) but not by this user."""
    return CaseloopError(
        f"Cannot write {target}: it belongs to {_who(stat)} with mode {stat.st_mode & 0o777:04o} "
        f"and {_me()} may not write to it; run caseloop as a user who may, or write a copy with "
        "--output; the workbook was left as it was."
    )


def check_output(log: Path | str, output: Path | str) -> tuple[Path | None, Fingerprint | None]:
    """Where ``--output`` may write: (None, None) when it is LOG itself, else (path, fingerprint).

    Refuses a name whose suffix does not fit the workbook, and an existing file caseloop did not
    write (a colleague's workbook is never replaced); a copy caseloop wrote before may be
    replaced, and its fingerprint is returned so a save made meanwhile is not lost.
    """
    from .xlsx.workbook_part import generated_tabs

    log, output = Path(log), Path(output)
    with contextlib.suppress(OSError):
        if output.exists() and log.exists() and output.samefile(log):
            return None, None
    want = log.suffix.lower()
    if output.suffix.lower() != want:
        what = "a macro-enabled workbook (.xlsm)" if want == ".xlsm" else "an Excel workbook"
        raise CaseloopError(
            f"--output {output} must end in {want} like {log.name}: caseloop writes {what} there."
        )
    if not output.exists():
        return output, None
    if not output.is_file():
        raise CaseloopError(
            f"--output {output} is a folder or a device; give the path of an {want} file."
        )
    try:
        data = output.read_bytes()
    except OSError as exc:
        raise CaseloopError(f"Cannot read {output}: {exc.strerror or exc}.") from None
    try:
        ours = bool(generated_tabs(data))
    except Exception:  # not a workbook at all, or one we cannot read: not ours either way
        ours = False
    if not ours:
        raise CaseloopError(
            f"--output {output} already exists and caseloop did not write it, so caseloop will "
            "not replace it; give a new file name."
        )
    return output, fingerprint(output, data)


def commit_workbook(
    path: Path,
    new_bytes: bytes,
    *,
    read_fingerprint: Fingerprint | None,
    output: Path | None = None,
    keep_backups: int = 5,
    lock: CaseloopLock | None = None,
    output_fingerprint: Fingerprint | None = None,
) -> tuple[Path, Path | None]:
    """Write ``new_bytes`` over ``path`` (or to ``output``); returns (written path, backup path).

    Refuses when the file is open in Excel or LibreOffice, changed since it was read, or another
    caseloop run holds it past the wait. The new version goes to a temp file in the same folder
    with the file's owner, group and mode; the current version is copied to the backup folder;
    only then is the file checked unchanged and the temp file renamed over it, so the workbook
    is always either the old or the new version and a save made meanwhile is never lost.
    When the temp file could not be given the owner (a member of the team who does not own the
    file runs caseloop), the backup is made and a journal written, then the file is checked and
    rewritten in place, so it stays its owner's; a run interrupted there is undone by the next.
    ``lock`` is the caller's lock on the target, taken before it read the file.
    """
    given = Path(output) if output is not None else Path(path)
    target = real_path(given)
    in_place = output is None or target.resolve() == real_path(path).resolve()
    expected = read_fingerprint if in_place else output_fingerprint
    _refuse_if_open(given, target)
    _refuse_unwritable(target)
    own_lock = None
    if lock is None or not lock.held or lock.path != lock_path(target):
        own_lock = CaseloopLock(target).acquire()
    try:
        return _commit_locked(target, new_bytes, expected, keep_backups)
    finally:
        if own_lock is not None:
            own_lock.release()


def _commit_locked(
    target: Path, new_bytes: bytes, expected: Fingerprint | None, keep_backups: int
) -> tuple[Path, Path | None]:
    folder = target.parent
    try:
        original = target.stat()
    except FileNotFoundError:
        original = None  # a new --output file gets the usual permissions
    except OSError as exc:
        raise _disk_error(target, exc) from None
    # A new file renamed over the workbook would belong to whoever runs caseloop: when it cannot
    # be given the workbook's owner, the workbook is rewritten in place (the same file).
    in_place = original is not None and not _rename_keeps_owner(original)
    if in_place:
        _probe_writable(target)
    backups = None
    if original is not None:
        # A file in its way is named before anything is written; the folder itself is made
        # only once the new version could be given the file's owner.
        backups = _backup_folder(target, create=False)
    _remove_stale_temps(folder, target)
    if backups is not None:
        _remove_stale_temps(backups, target)
    temp: Path | None = None
    if not in_place:
        try:
            temp = _write_temp(target, new_bytes, original)
        except _OwnerNotKept:
            # chown refused although the rules said it would work (root on a squashed share).
            _probe_writable(target)
            in_place = True
        except OSError as exc:
            raise _disk_error(target, exc) from None
    if original is None or (keep_backups <= 0 and not in_place):
        backups = None  # in place, a backup is needed to undo an interrupted write
    backup: Path | None = None
    journal: Path | None = None
    writing = replaced = half_written = False
    folder_existed = backups is not None and backups.is_dir()
    try:
        if temp is not None:
            on_step("temp-written", temp)
        old_sha = ""
        if backups is not None and original is not None:
            backup, old_sha = _backup(
                target, expected, original, _backup_folder(target), strict=not in_place
            )
            on_step("backup-written", backup)
        if in_place:
            assert backup is not None and original is not None
            new_sha = hashlib.sha256(new_bytes).hexdigest()
            journal = _write_journal(target, backup, old_sha, new_sha)
            on_step("journal-written", journal)
            on_step("before-write", target)
            # The last check, after the backup copy (seconds for a large file on a share).
            _refuse_if_changed(target, expected)
            descriptor = _open_same(target, original)
            writing = True
            _write_into(descriptor, target, _blocks(new_bytes), "writing-in-place")
            replaced = True
            on_step("written-in-place", target)
            # Written: a journal that could not be removed is dropped by the next run.
            _remove_quietly(journal)
            journal = None
            _fsync_folder(folder)
        else:
            assert temp is not None
            on_step("before-rename", target)
            _refuse_if_changed(target, expected)
            os.replace(temp, target)
            replaced = True
            temp = None
            _fsync_folder(folder)
            on_step("renamed", target)
    except BaseException as exc:
        if writing and not replaced:
            assert backup is not None
            if not _put_back(target, backup):
                half_written = True  # journal and backup kept: the next run puts it back
                raise CaseloopError(
                    f"Cannot write {target} ({_why(exc)}) nor put the previous version back; "
                    f"the next caseloop run puts it back from {backup}."
                ) from None
        if isinstance(exc, OSError):
            raise _disk_error(target, exc) from None
        raise
    finally:
        _remove_quietly(temp)
        if not replaced and not half_written:
            # Nothing was replaced (or the old version was put back), so nothing needed backing
            # up and no journal is needed; older backups were not pruned.
            _remove_quietly(journal)
            _remove_quietly(backup)
            if backups is not None and not folder_existed:
                with contextlib.suppress(OSError):
                    backups.rmdir()  # made by this run, and empty again
    if backups is not None and keep_backups <= 0:
        _remove_quietly(backup)  # made only to undo an interrupted write
        backup = None
        if not folder_existed:
            with contextlib.suppress(OSError):
                backups.rmdir()
    elif backups is not None:
        _prune_backups(backups, target, keep_backups)
    return target, backup


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return _disk_why(exc)
    return "interrupted" if isinstance(exc, KeyboardInterrupt) else type(exc).__name__


# --- in place: for a workbook a new file could not keep the owner of ---------------------------


def _probe_writable(target: Path) -> None:
    """Refuse, before anything is written, a workbook this user may not write into."""
    try:
        os.close(os.open(target, os.O_WRONLY | getattr(os, "O_BINARY", 0)))
    except (PermissionError, IsADirectoryError):
        raise _not_yours(target, target.stat()) from None
    except OSError as exc:
        raise _disk_error(target, exc) from None


def _blocks(data: bytes) -> Iterable[memoryview]:
    view = memoryview(data)
    return (view[start : start + COPY_CHUNK] for start in range(0, len(data), COPY_CHUNK))


def _file_blocks(path: Path) -> Iterable[bytes]:
    with path.open("rb") as source:
        while block := source.read(COPY_CHUNK):
            yield block


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    for block in _file_blocks(path):
        digest.update(block)
    return digest.hexdigest()


def _open_same(target: Path, original: os.stat_result | None) -> int:
    """The workbook opened for writing, refused if it is no longer the file that was read."""
    descriptor = os.open(target, os.O_WRONLY | getattr(os, "O_BINARY", 0))
    now = os.fstat(descriptor)
    if original is not None and (now.st_dev, now.st_ino) != (original.st_dev, original.st_ino):
        os.close(descriptor)
        _refuse_changed(target)  # a colleague's save replaced it since the last check
    return descriptor


def _write_into(
    descriptor: int, target: Path, blocks: Iterable[bytes | memoryview], step: str | None = None
) -> None:
    """Overwrite the open workbook with ``blocks``, cut it to their length, and sync it.

    The same file (inode) keeps its owner, group, mode and access list, whoever writes it.
    ``step``: the on_step called once the first block is in the file.
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


def _put_back(target: Path, backup: Path) -> bool:
    """Write the backup's bytes into the workbook in place; False if that failed too."""
    try:
        _write_into(_open_same(target, None), target, _file_blocks(backup))
    except OSError:
        return False
    return True


def _write_journal(target: Path, backup: Path, old_sha: str, new_sha: str) -> Path:
    """Note, durably, that ``target`` is about to be rewritten in place and how to undo it."""
    journal = journal_path(target)
    intent = {
        # Relative to the workbook's folder: a share may be mounted elsewhere on another computer.
        "backup": os.path.relpath(backup, target.parent),
        "old_sha256": old_sha,
        "new_sha256": new_sha,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": _utc_now().strftime("%Y-%m-%d %H:%M:%S UTC"),
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
        _remove_quietly(partial)
        raise
    _fsync_folder(target.parent)
    return journal


def _repair(target: Path) -> str | None:
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
        backup = target.parent / str(intent["backup"])
        old_sha, new_sha = str(intent["old_sha256"]), str(intent["new_sha256"])
    except (ValueError, TypeError, KeyError):
        raise CaseloopError(
            f"{journal} is not a journal caseloop can read; if {target} opens in Excel, delete "
            f"{journal.name} and run again, or else copy the newest backup from {BACKUP_FOLDER} "
            "over it first."
        ) from None
    _refuse_if_open(target, target)
    try:
        current = _sha256_of(target)
        if current in (new_sha, old_sha):
            journal.unlink()  # all written (only the journal's removal was missing), or none
            _fsync_folder(target.parent)
            return None
        backup_ok = backup.is_file() and _sha256_of(backup) == old_sha
    except OSError as exc:
        raise CaseloopError(
            f"Cannot read {target} or its backup to finish an interrupted caseloop run: "
            f"{exc.strerror or exc}."
        ) from None
    if not backup_ok:
        raise CaseloopError(
            f"{target} was left half-written by an interrupted caseloop run and its backup "
            f"{backup} is missing or changed; copy the newest good backup from "
            f"{target.parent / BACKUP_FOLDER} over it, then delete {journal.name}."
        )
    try:
        descriptor = _open_same(target, None)  # first: may this user write it at all?
        try:
            # Kept in case it is not caseloop's half at all (someone saved in between).
            half, _ = _backup(target, None, target.stat(), _backup_folder(target), strict=False)
        except BaseException:
            os.close(descriptor)
            raise
        _write_into(descriptor, target, _file_blocks(backup))
        journal.unlink()
        _fsync_folder(target.parent)
    except OSError as exc:
        why = (
            f"{_me()} may not write to it"
            if isinstance(exc, PermissionError)
            else exc.strerror or str(exc)
        )
        raise CaseloopError(
            f"{target} was left half-written by an interrupted caseloop run and caseloop cannot "
            f"put the previous version back ({why}); copy {backup} over it, then delete "
            f"{journal.name}."
        ) from None
    return (
        f"{target} was left half-written by an interrupted caseloop run; the version before it "
        f"was put back from {backup} (the half-written file is kept as {half})."
    )
