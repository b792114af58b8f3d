"""Backups of a workbook before caseloop replaces it: their folder, names, verified copy and
retention."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import re
import secrets
from pathlib import Path

from ...errors import CaseloopError
from . import files
from .files import TEMP_PREFIX, Fingerprint, refuse_changed, remove_quietly
from .ownership import keep_ownership
from .steps import OnStep, no_step

BACKUP_FOLDER = ".caseloop-backup"


def backup_folder(target: Path, create: bool = True) -> Path:
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


def backup(
    target: Path,
    expected: Fingerprint | None,
    original: os.stat_result,
    folder: Path,
    *,
    strict: bool = True,
    on_step: OnStep = no_step,
) -> tuple[Path, str]:
    """Copy the current version into the backup folder, checking it is the version read.

    Returns the backup and the sha256 of what was copied. ``strict``: as ``keep_ownership``.
    """
    existing = _backups(folder, target)
    number = max((key[1] for key, _ in existing if key[0] == 1), default=0) + 1
    stamp = files.utc_now().astimezone(dt.UTC).strftime("%Y%m%d-%H%M%S")
    made = folder / f"{target.stem}-{stamp}Z-{number}{target.suffix}"
    # Copied under a temp name and renamed: a run killed mid-copy leaves no half backup that
    # looks like a whole one, only a temp file the next run removes.
    partial = folder / f"{TEMP_PREFIX}{target.name}-backup-{secrets.token_hex(4)}"
    digest = hashlib.sha256()
    size = 0
    try:
        with target.open("rb") as source, partial.open("xb") as copy:
            while block := source.read(files.COPY_CHUNK):
                copy.write(block)
                digest.update(block)
                if size == 0:
                    copy.flush()
                    on_step("backup-copying", partial)
                size += len(block)
            copy.flush()
            os.fsync(copy.fileno())
        if expected is not None and (size, digest.hexdigest()) != (expected[0], expected[2]):
            refuse_changed(target)  # saved while it was being copied: not the version read
        keep_ownership(partial, target, original, strict=strict)
        os.utime(partial, ns=(original.st_atime_ns, original.st_mtime_ns))
        os.replace(partial, made)
    except BaseException:
        remove_quietly(partial)
        raise
    return made, digest.hexdigest()


def prune_backups(folder: Path, target: Path, keep_backups: int) -> None:
    """Remove this workbook's oldest backups, keeping the newest ``keep_backups``."""
    for _, old in _backups(folder, target)[:-keep_backups]:
        remove_quietly(old)
