"""The Excel backend: read a tab (``read``), write generated tabs by splicing the zip and
committing the new file safely (``commit``)."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import BinaryIO

from ...errors import CaseloopError
from ...model import SheetModel
from ...ports import Grid, Workbook, WriteResult
from .commit import commit_workbook
from .files import fingerprint, refuse_changed
from .in_place import journal_path
from .lock import CaseloopLock
from .outputs import check_output
from .read import Package, PackageError, SheetReadError, read_sheet
from .steps import OnStep, no_step

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls and password-encrypted .xlsx
ZIP_MAGIC = b"PK\x03\x04"
EXCEL_SUFFIXES = (".xlsx", ".xlsm")


def _same_file(one: Path, other: Path) -> bool:
    try:
        return one.exists() and other.exists() and one.samefile(other)
    except OSError:
        return False


class ExcelWorkbook:
    """A team's .xlsx/.xlsm file, read from disk (never whole into memory); all-or-nothing writes.

    ``on_step``: called at each step of the commit (see ``steps.no_step``); tests step in there.
    """

    single_table = False  # the case tab is found by name among the workbook's tabs
    read_only = False  # an .xlsx/.xlsm file is written by splicing the generated tabs in

    def __init__(
        self,
        path: str | Path,
        output: str | Path | None = None,
        *,
        will_write: bool = False,
        on_step: OnStep = no_step,
    ) -> None:
        self.path = Path(path)
        self.output = Path(output) if output else None
        self.output_fingerprint = None
        self.location = str(self.path)
        self.on_step = on_step
        self._lock: CaseloopLock | None = None
        in_place = self.output is None or _same_file(self.output, self.path)
        if in_place:
            self.output = None  # --output naming LOG itself: updated in place, with a backup
        if will_write and in_place and self.path.is_file():
            # Taken before reading: another caseloop run on this file finishes first, so the
            # file cannot change between this run's read and its write because of caseloop.
            self._lock = CaseloopLock(self.path, on_step=on_step).acquire()
            repaired = self._lock.repaired
        elif self.path.is_file() and journal_path(self.path).exists():
            # A run rewriting the file in place is at work, or was interrupted: wait for it, or
            # put the file right, under the lock, before reading it.
            reader = CaseloopLock(self.path, on_step=on_step).acquire()
            reader.release()
            repaired = reader.repaired
        else:
            repaired = None
        # The engine passes these on as warnings (Google's are about credentials).
        self.warnings: list[str] = [repaired] if repaired else []
        try:
            self._read_file()
            if self.output is not None:
                self.output, self.output_fingerprint = check_output(self.path, self.output)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Let other caseloop runs at the workbook, and let go of the file (idempotent)."""
        package: Package | None = getattr(self, "package", None)
        if package is not None:
            package.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _read_file(self) -> None:
        path = self.path
        if path.suffix.lower() == ".xls":
            raise CaseloopError(
                f"{path} is a legacy .xls workbook; open it in Excel and save it as .xlsx "
                "(File › Save As › Excel Workbook), then run caseloop on the .xlsx."
            )
        if not path.exists():
            raise CaseloopError(f"{path} does not exist; check the path.")
        if path.is_dir():
            raise CaseloopError(
                f"{path} is a folder, not a workbook; give the .xlsx file inside it."
            )
        # The fingerprint is taken first and the file read after it, each from the file as it
        # lies (never held whole in memory). A save landing between the two makes the content
        # read differ from the fingerprint, so the commit refuses: the safe direction.
        self.fingerprint = fingerprint(path)
        if self.fingerprint[0] == 0:
            raise CaseloopError(f"{path} is empty (0 bytes); it is not a workbook.")
        try:
            with path.open("rb") as handle:
                head = handle.read(8)
        except OSError as exc:
            raise CaseloopError(f"Cannot read {path}: {exc.strerror or exc}.") from None
        if head == OLE_MAGIC:
            raise CaseloopError(
                f"{path} is password-protected (encrypted) or an old .xls file; save an "
                "unprotected .xlsx copy in Excel and run caseloop on that."
            )
        if not head.startswith(ZIP_MAGIC):
            raise CaseloopError(f"{path} is not an Excel workbook (.xlsx); check the file.")
        try:
            # workbook.xml and its relationships only: the tabs are read when asked for, so an
            # exotic sheet beside the case tab (a dialog or macro sheet) does not stop the run.
            self.package = Package(path)
        except PackageError as exc:
            raise CaseloopError(
                f"{path} is damaged or not a complete .xlsx workbook ({exc}); "
                "open it in Excel to repair it, or restore a backup."
            ) from None

    def tab_names(self) -> list[str]:
        return [sheet.name for sheet in self.package.sheets]

    def read_tab(self, title: str) -> Grid:
        try:
            return read_sheet(self.package, title)
        except SheetReadError as exc:
            raise CaseloopError(
                f'Cannot read the tab "{title}" of {self.path} ({exc}); '
                "open the file in Excel and save it again."
            ) from None

    def read_tab_and_ours(self, title: str, kind: str) -> tuple[Grid, Grid | None]:
        """The tab ``title`` and caseloop's tab of ``kind`` (by its sheet-scoped mark), both
        from the version of the file that was read."""
        return self.read_tab(title), self.read_ours(kind)

    def read_ours(self, kind: str) -> Grid | None:
        """caseloop's tab of ``kind`` (by its sheet-scoped mark, whatever its name); None if none."""
        ours = next(
            (
                sheet.name
                for index, sheet in enumerate(self.package.sheets)
                if self.package.marks.get(index) == kind and sheet.kind == "worksheet"
            ),
            None,
        )
        return self.read_tab(ours) if ours is not None else None

    def write_tabs(self, tabs: list[SheetModel]) -> WriteResult:
        def write(out: BinaryIO) -> None:
            # The new version is spliced from the file straight into the temp file, member by
            # member, so memory does not grow with the team's other tabs and media.
            self._splice_from_read_version(tabs, out)

        if self.output is not None:
            try:
                self.output.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise CaseloopError(
                    f"Cannot create the folder {self.output.parent}: {exc.strerror or exc}."
                ) from None
        try:
            written, backup = commit_workbook(
                self.path,
                write,
                read_fingerprint=self.fingerprint,
                output=self.output,
                lock=self._lock,
                output_fingerprint=self.output_fingerprint,
                on_step=self.on_step,
            )
        finally:
            self.close()
        return WriteResult(
            target=str(written),
            tabs=[t.title for t in tabs],
            backup=str(backup) if backup else None,
        )

    def _splice_from_read_version(self, tabs: list[SheetModel], out: BinaryIO) -> None:
        """Splice ``tabs`` into the version of the file that was read, or refuse."""
        # Here, not at the top: the splice (and xlsxwriter) is loaded only to write.
        from .splice import splice_to

        try:
            source = self.path.open("rb")
        except FileNotFoundError:
            refuse_changed(self.path)  # moved or deleted since it was read
        except OSError as exc:
            raise CaseloopError(f"Cannot read {self.path}: {exc.strerror or exc}.") from None
        with source:
            # Opened now, but the version read was the one fingerprinted: a file saved over
            # meanwhile is refused here, before anything is written from it.
            size, mtime_ns, digest = self.fingerprint
            stat = os.fstat(source.fileno())
            if (stat.st_size, stat.st_mtime_ns) != (size, mtime_ns):
                refuse_changed(self.path)
            try:
                splice_to(source, tabs, out)
            except CaseloopError:
                # A file edited in place after the read may not even be a zip any more: that is
                # a change since the read, not a damaged workbook.
                if _content_changed(source, digest):
                    refuse_changed(self.path)
                raise
            # In place, the commit checks the file again after the backup, just before it is
            # replaced. A copy elsewhere is checked here: the team's parts were copied from this
            # handle, so its content must be the one read (the same size and time are no proof
            # on file systems with coarse timestamps).
            if self.output is not None and _content_changed(source, digest):
                refuse_changed(self.path)


def _content_changed(source: io.BufferedReader, digest: str) -> bool:
    source.seek(0)
    return hashlib.file_digest(source, "sha256").hexdigest() != digest


# mypy checks here that the class has all of the port.
_: type[Workbook] = ExcelWorkbook
