"""Open the case log wherever it lives: an Excel file, a CSV export or a Google Sheet."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import CaseloopError, OptionError
from ..ports import Workbook

if TYPE_CHECKING:
    from .xlsx.steps import OnStep


def is_google(log: str) -> bool:
    """A Google Sheet address or gsheet:KEY. Loose on purpose: a mistyped sheet address
    should get the Google backend's "check the address" answer, not "not an .xlsx file"."""
    return log.startswith("gsheet:") or "docs.google.com/spreadsheets" in log


def open_workbook(
    log: str,
    *,
    output: str | None = None,
    credentials: str | None = None,
    http_client: Any = None,
    will_write: bool = False,
    on_step: OnStep | None = None,
    to: str | None = None,
) -> Workbook:
    """The backend for LOG: a Google Sheet URL or gsheet:KEY, a .csv, or an .xlsx/.xlsm file.

    ``will_write``: the caller means to write the tab into an Excel LOG, so caseloop's lock on
    it is taken before it is read (call ``close()`` on the workbook if no write follows).
    ``on_step``: called at each step of an Excel commit (see ``xlsx.steps``); tests step in there.
    ``to``: a companion workbook (``xlsx.companion``) the tabs go into; LOG is only read.
    """
    if to is not None:
        if not str(to).strip():
            raise OptionError.said_for("to", "to_empty")
        if output:
            raise OptionError.said_for("to", "to_and_output")
        from .xlsx.companion import CompanionWorkbook, check_companion

        # Checked before the log is opened: a --to naming a team's workbook is refused first.
        check_companion(Path(to), None if is_google(log) else log)
        source = open_workbook(log, credentials=credentials, http_client=http_client)
        return CompanionWorkbook(source, to, will_write=will_write)
    if output is not None and not str(output).strip():
        # An empty --output is a slip (a shell variable that was not set), never "in place".
        raise OptionError(
            "output",
            "{option} is empty; give the path of the copy to write, or leave {option} out to "
            "update the log itself.",
        )
    if is_google(log):
        from .gsheets import open_google_workbook

        if output:
            raise OptionError(
                "output", "{option} is for Excel files; a Google Sheet is always updated in place."
            )
        return open_google_workbook(log, credentials, http_client=http_client)
    suffix = Path(log).suffix.lower()
    if suffix == ".csv":
        from .csvfile import CsvWorkbook

        return CsvWorkbook(log)
    from .xlsx.workbook import EXCEL_SUFFIXES, ExcelWorkbook

    if suffix not in EXCEL_SUFFIXES + (".xls",):
        raise CaseloopError(
            f"{log} is not a case log caseloop can open: give an .xlsx or .xlsm file, "
            "a .csv export, or a Google Sheets URL."
        )
    if on_step is not None:
        return ExcelWorkbook(log, output=output, will_write=will_write, on_step=on_step)
    return ExcelWorkbook(log, output=output, will_write=will_write)
