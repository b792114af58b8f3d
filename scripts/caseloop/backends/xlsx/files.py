"""The file steps a commit is made of: fingerprints, chunked reads, syncs and disk errors."""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from ...errors import CaseloopError, RefusedError

Fingerprint = tuple[int, int, str]  # (size, mtime_ns, sha256)

TEMP_PREFIX = ".~caseloop-tmp-"
# Copies and in-place writes go in blocks of this size (read at each call: tests make it small,
# so that a step can land in the middle of a copy).
COPY_CHUNK = 1 << 20


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def real_path(path: Path | str) -> Path:
    """Where a workbook reached through symbolic links really lives (the path itself otherwise)."""
    path = Path(path)
    return path.resolve() if path.is_symlink() else path


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


def refuse_changed(path: Path) -> None:
    # caseloop's own runs queue on its lock, so a change can only be someone's save.
    raise RefusedError.said("changed", path=path)


def refuse_if_changed(path: Path, read_fingerprint: Fingerprint | None) -> None:
    if read_fingerprint is not None and _changed_since(path, read_fingerprint):
        refuse_changed(path)


def disk_why(exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full"
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return "the folder is read-only or you may not write there"
    return exc.strerror or str(exc)


def disk_error(path: Path, exc: OSError) -> CaseloopError:
    return CaseloopError(f"Cannot write {path}: {disk_why(exc)}; the workbook was left as it was.")


def file_blocks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as source:
        while block := source.read(COPY_CHUNK):
            yield block


def byte_blocks(data: bytes) -> Iterable[memoryview]:
    view = memoryview(data)
    return (view[start : start + COPY_CHUNK] for start in range(0, len(data), COPY_CHUNK))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    for block in file_blocks(path):
        digest.update(block)
    return digest.hexdigest()


def remove_quietly(path: Path | None) -> None:
    if path is not None:
        with contextlib.suppress(OSError):
            path.unlink()


def fsync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError, AttributeError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
