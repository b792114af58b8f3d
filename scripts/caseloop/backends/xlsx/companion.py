"""A companion workbook (--to): the generated tabs go into an .xlsx of caseloop's own beside the
log, so a log kept open in Excel all day is only read, never written."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import BinaryIO

from ...errors import CaseloopError, OptionError, RefusedError
from ...model import SheetModel
from ...ports import Grid, Workbook, WriteResult
from .build import FontDefaults, build
from .commit import _write_temp
from .files import fsync_folder, real_path, remove_quietly
from .lock import CaseloopLock
from .office_lock import refuse_if_open
from .package import Package
from .workbook import ExcelWorkbook
from .workbook_part import WorkbookPart, filter_formula, generated_tabs, tab_names


def check_companion(to: Path, log: str | None) -> bool:
    """Whether ``to`` may hold the generated tabs (True when it exists already), else refuse:
    not an .xlsx, the log itself, a folder, or a workbook holding a tab caseloop did not make."""
    if to.suffix.lower() != ".xlsx":
        raise OptionError.said_for("to", "to_suffix", to=to)
    if log is not None:
        with contextlib.suppress(OSError):
            same = real_path(to).resolve() == real_path(log).resolve()
            if same or (to.exists() and Path(log).exists() and to.samefile(log)):
                raise OptionError.said_for("to", "to_is_log", to=to)
    if not to.exists():
        if not to.parent.is_dir():
            raise OptionError.said_for("to", "to_no_folder", to=to, folder=to.parent)
        return False
    if not to.is_file():
        raise OptionError.said_for("to", "to_not_file", to=to)
    try:
        ours = generated_tabs(to)
        every = tab_names(to)
    except Exception:  # not a workbook, or one caseloop cannot read: not caseloop's either way
        ours, every = {}, [""]
    team = [name for name in every if name not in ours]
    if team or not every:
        raise OptionError.said_for(
            "to", "to_team_workbook", to=to, tab=team[0] if team and team[0] else "?"
        )
    return True


def new_companion(tabs: list[SheetModel], out: BinaryIO) -> None:
    """A new workbook holding only ``tabs``, each carrying caseloop's mark."""
    built, _ = build([(tab.title, tab) for tab in tabs], FontDefaults(), False)
    with Package(built) as package:
        workbook = WorkbookPart(package)
        for index, tab in enumerate(tabs):
            workbook.set_filter_name(index, filter_formula(tab.title, tab.auto_filter))
            workbook.set_mark(index, tab.kind)
        workbook.save()
        package.write_to(out)


class CompanionWorkbook:
    """Reads the case log from ``source`` (any backend) and writes into the companion ``to``.

    The log is opened for reading only, so Excel holding it open does not matter. The
    companion follows the log rules of any workbook caseloop writes: caseloop's lock, taken
    before it is read; a splice into its current version; a backup and an atomic rename; a
    refusal when it is open in Excel itself.
    """

    read_only = False  # the companion is always writable, whatever the log is

    def __init__(self, source: Workbook, to: str | Path, *, will_write: bool = False) -> None:
        self.source = source
        self.to = Path(to)
        self.location = source.location
        self.single_table = source.single_table
        self.warnings = list(source.warnings)
        self._lock: CaseloopLock | None = None
        self._existing: ExcelWorkbook | None = None
        try:
            log = getattr(source, "path", None)
            check_companion(self.to, str(log) if log is not None else None)
            if will_write:
                # Held from now until written, like the log's own lock: two runs writing the
                # same companion queue, and neither creates it over the other.
                self._lock = CaseloopLock(self.to).acquire()
                if self._lock.repaired:
                    self.warnings.append(self._lock.repaired)
                if check_companion(self.to, None):
                    self._existing = ExcelWorkbook(self.to)
        except BaseException:
            self.close()
            raise

    def tab_names(self) -> list[str]:
        return self.source.tab_names()

    def read_tab(self, title: str) -> Grid:
        return self.source.read_tab(title)

    def read_tab_and_ours(self, title: str, kind: str) -> tuple[Grid, Grid | None]:
        """The case tab from the log; caseloop's tab of ``kind`` (History) from the companion,
        where the generated tabs live. None when the companion is new, or when this run does not
        write (it was not opened then)."""
        grid = self.source.read_tab(title)
        if self._existing is None:
            return grid, None
        return grid, self._existing.read_ours(kind)

    def write_tabs(self, tabs: list[SheetModel]) -> WriteResult:
        try:
            self.source.close()  # read already; the log is never written
            if self._lock is None:  # a caller that did not say it would write
                self._lock = CaseloopLock(self.to).acquire()
                if check_companion(self.to, None):
                    self._existing = ExcelWorkbook(self.to)
            try:
                if self._existing is not None:
                    # The same lock instance the companion was read under: commit keeps it.
                    self._existing._lock = self._lock
                    written = self._existing.write_tabs(tabs)
                else:
                    written = self._create(tabs)
            except RefusedError as exc:
                if exc.key == "office_open":
                    raise RefusedError.said("companion_open", **exc.fields) from None
                raise
        finally:
            self.close()
        return WriteResult(target=str(self.to), tabs=[t.title for t in tabs], backup=written.backup)

    def _create(self, tabs: list[SheetModel]) -> WriteResult:
        """Write a new companion; never over a file that appeared meanwhile."""
        for tab in tabs:
            tab.render_kept()  # a new file has no rows to keep
        refuse_if_open(self.to, self.to)
        try:
            temp = _write_temp(self.to, lambda out: new_companion(tabs, out))
        except OSError as exc:
            raise CaseloopError(f"Cannot write {self.to}: {exc.strerror or exc}.") from None
        try:
            try:
                # A link fails when the name is taken: a file saved there since the check is
                # kept, never replaced.
                os.link(temp, self.to)
            except FileExistsError:
                raise RefusedError.said("changed", path=self.to) from None
            except OSError:
                # A file system without hard links (FAT, some shares): checked, then renamed.
                if self.to.exists():
                    raise RefusedError.said("changed", path=self.to) from None
                os.replace(temp, self.to)
            fsync_folder(self.to.parent)
        finally:
            remove_quietly(temp)
        return WriteResult(target=str(self.to), tabs=[t.title for t in tabs])

    def close(self) -> None:
        """Let go of the log, the companion and caseloop's lock on it (idempotent)."""
        with contextlib.suppress(Exception):
            self.source.close()
        if self._existing is not None:
            existing, self._existing = self._existing, None
            existing._lock = None  # released below, once
            existing.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None


_: type[Workbook] = CompanionWorkbook
