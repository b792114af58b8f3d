"""A read-only backend for a case log exported as CSV (validate and report --markdown only)."""

from __future__ import annotations

import csv
from pathlib import Path

from ..errors import CaseloopError, OptionError
from ..model import SheetModel
from ..ports import Grid, Workbook, WriteResult


class CsvWorkbook:
    """A CSV file seen as a workbook with one tab, named after the file."""

    read_only = True  # nothing can be written back into a CSV

    single_table = True  # its one tab is the case tab, whatever the file is called

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        self.warnings: list[str] = []
        if not self.path.exists():
            raise CaseloopError(f"{self.path} does not exist; check the path.")
        if self.path.is_dir():
            raise CaseloopError(f"{self.path} is a folder, not a CSV file.")
        try:
            raw = self.path.read_bytes()
        except OSError as exc:
            raise CaseloopError(f"Cannot read {self.path}: {exc.strerror or exc}.") from None
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = raw.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise CaseloopError(f"{self.path} is not UTF-8 or GB18030 text; save it as UTF-8 CSV.")
        self._rows = [list(r) for r in csv.reader(text.splitlines())]

    def tab_names(self) -> list[str]:
        return [self.path.stem]

    def read_tab(self, title: str) -> Grid:
        return Grid(
            title=self.path.stem, rows=[[c if c != "" else None for c in r] for r in self._rows]
        )

    def read_tab_and_ours(self, title: str, kind: str) -> tuple[Grid, Grid | None]:
        return self.read_tab(title), None  # a CSV export holds no tab of caseloop's

    def write_tabs(self, tabs: list[SheetModel]) -> WriteResult:
        raise OptionError(
            "markdown",
            f"{self.path} is a CSV file and caseloop cannot write tabs into it; "
            "use the .xlsx workbook or the Google Sheet, or report {option}.",
        )

    def close(self) -> None:
        """Nothing to let go: the file was read whole when opened."""


# mypy checks here that the class has all of the port.
_: type[Workbook] = CsvWorkbook
