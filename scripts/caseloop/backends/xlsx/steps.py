"""The steps of a commit, and the hook a test passes in to step in at one of them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

OnStep = Callable[[str, Path], None]


def no_step(step: str, where: Path) -> None:
    """Called at each step of a commit; does nothing. Tests pass their own to step in then.

    The steps, in order: "temp-written", "backup-copying" (after the first block of the backup),
    "backup-written", "before-rename" (then the last check, then the rename), "renamed".
    Rewritten in place: "backup-copying", "backup-written", "journal-written", "before-write"
    (then the last check), "writing-in-place" (after the first block), "written-in-place" (all
    written and synced; the journal is removed next). A new version given as a writer rather
    than bytes is first written to a temp file: "temp-written" comes first there too.
    """
