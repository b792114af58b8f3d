"""caseloop's own lock on a workbook, so that runs on one file queue, and the rules that tell a
lock left by a dead run from one held by a live one."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from ...errors import RefusedError
from . import files
from .files import disk_error, real_path
from .in_place import repair
from .steps import OnStep, no_step

# A lock file without a readable pid may be one being written this instant; only an old one is stale.
UNREADABLE_LOCK_MAX_AGE_S = 60
# No run takes hours (a million cases sync in under two minutes): an older lock is left over,
# whatever process now has its pid, and whichever computer wrote it.
LOCK_MAX_AGE_S = 2 * 3600
# How long a run waits for another caseloop run on the same workbook (the Monday report and the
# ten-minute sync start together), and how often it looks.
LOCK_WAIT_S = 120.0
LOCK_POLL_S = 0.25


def lock_path(target: Path | str) -> Path:
    """caseloop's own lock file for a workbook, beside the real file."""
    target = real_path(target)
    return target.with_name(f".~caseloop-{target.name}.lock")


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

    def describe_zh(self) -> str:
        who = f"进程 {self.pid}" if self.pid is not None else "一个任务"
        where = f"，电脑 {self.host}" if self.host else ""
        since = f"，开始于 {self.since}" if self.since else ""
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
    done is in ``repaired`` (one sentence), to be passed on as a warning. ``on_step``: see
    ``steps.no_step`` (the repair's backup copy is one).
    """

    def __init__(self, target: Path | str, *, on_step: OnStep = no_step) -> None:
        self.target = real_path(target)
        self.path = lock_path(self.target)
        self.token = secrets.token_hex(8)
        self.held = False
        self.repaired: str | None = None
        self.on_step = on_step

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
                raise RefusedError.said(
                    "lock_held",
                    target=self.target,
                    holder=holder.describe(),
                    holder_zh=holder.describe_zh(),
                    lock=self.path.name,
                )
            time.sleep(LOCK_POLL_S)
        self.held = True
        try:
            self.repaired = repair(self.target, self.on_step)
        except BaseException:
            self.release()
            raise
        return self

    def _create(self) -> bool:
        content = json.dumps(
            {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "since": files.utc_now().strftime("%Y-%m-%d %H:%M:%S UTC"),
                "token": self.token,
            }
        ).encode()
        try:
            descriptor = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        except FileExistsError:
            return False
        except OSError as exc:
            raise disk_error(self.target, exc) from None
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
            raise disk_error(self.target, exc) from None
        return True

    def _break(self, holder: _Holder) -> None:
        """Remove a stale lock, unless another run replaced it since it was judged stale."""
        aside = self.path.with_name(f"{self.path.name}-stale-{self.token}")
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise disk_error(self.target, exc) from None
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
