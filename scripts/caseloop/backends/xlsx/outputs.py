"""Where a copy may be written instead of the case log itself: never over a file caseloop did
not write."""

from __future__ import annotations

import contextlib
from pathlib import Path

from ...errors import OptionError
from .files import Fingerprint, fingerprint


def check_output(log: Path | str, output: Path | str) -> tuple[Path | None, Fingerprint | None]:
    """Where the copy may be written: (None, None) when it is LOG itself, else (path, fingerprint).

    Refuses a name whose suffix does not fit the workbook, and an existing file caseloop did not
    write (a colleague's workbook is never replaced); a copy caseloop wrote before may be
    replaced, and its fingerprint is returned so a save made meanwhile is not lost. The
    refusals name the ``output`` setting.
    """
    # Here, not at the top: the splice (and xlsxwriter) is loaded only when a copy is asked for.
    from .workbook_part import generated_tabs

    log, output = Path(log), Path(output)
    with contextlib.suppress(OSError):
        if output.exists() and log.exists() and output.samefile(log):
            return None, None
    want = log.suffix.lower()
    if output.suffix.lower() != want:
        what = "a macro-enabled workbook (.xlsm)" if want == ".xlsm" else "an Excel workbook"
        raise OptionError(
            "output",
            f"{{option}} {output} must end in {want} like {log.name}: caseloop writes {what} "
            "there.",
        )
    if not output.exists():
        return output, None
    if not output.is_file():
        raise OptionError(
            "output",
            f"{{option}} {output} is a folder or a device; give the path of an {want} file.",
        )
    # Fingerprinted first, then asked whose it is, each from the file (never held whole): a save
    # between the two makes the commit refuse, the safe direction.
    found = fingerprint(output)
    try:
        ours = bool(generated_tabs(output))
    except Exception:  # not a workbook at all, or one we cannot read: not ours either way
        ours = False
    if not ours:
        raise OptionError(
            "output",
            f"{{option}} {output} already exists and caseloop did not write it, so caseloop will "
            "not replace it; give a new file name.",
        )
    return output, found
