"""Whether Excel or LibreOffice has a workbook open: the lock file each keeps beside it."""

from __future__ import annotations

from pathlib import Path

from ...errors import RefusedError


def office_lock_file(path: Path) -> Path | None:
    """The lock file Excel (``~$name``) or LibreOffice (``.~lock.name#``) keeps while ``path`` is open."""
    candidates = [
        path.with_name("~$" + path.name),
        path.with_name(f".~lock.{path.name}#"),
    ]
    return next((candidate for candidate in candidates if candidate.exists()), None)


def refuse_if_open(given: Path, real: Path) -> None:
    """Excel keeps its lock file beside the name it opened: a link's, or the real file's."""
    for checked in dict.fromkeys([given, real]):
        lock_file = office_lock_file(checked)
        if lock_file is not None:
            raise RefusedError.said("office_open", path=checked, lock=lock_file.name)
