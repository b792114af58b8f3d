"""The Excel backend: read a tab with calamine, write generated tabs by splicing the zip."""

from __future__ import annotations

import io
import re
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..errors import CaseloopError
from ..model import SheetModel
from .base import CellError, Grid, WriteResult

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls and password-encrypted .xlsx
ZIP_MAGIC = b"PK\x03\x04"
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
_ERROR_CELL = re.compile(
    rb'<c r="([A-Z]+)(\d+)"[^>]*?t="e"[^>]*>(?:<f[^>]*?(?:/>|>.*?</f>))?<v>([^<]*)</v>'
)
_SHEET_ENTRY = re.compile(rb"<sheet\b[^>]*>")
_ATTR = re.compile(rb'([\w:]+)="([^"]*)"')


def _same_file(one: Path, other: Path) -> bool:
    try:
        return one.exists() and other.exists() and one.samefile(other)
    except OSError:
        return False


def _col_index(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ch - 64)
    return n - 1


class ExcelWorkbook:
    """A team's .xlsx/.xlsm file. Reads once into memory; writes all-or-nothing."""

    def __init__(
        self, path: str | Path, output: str | Path | None = None, *, will_write: bool = False
    ) -> None:
        from .xlsx_file import CaseloopLock, check_output, journal_path

        self.path = Path(path)
        self.output = Path(output) if output else None
        self.output_fingerprint = None
        self.location = str(self.path)
        self._lock: CaseloopLock | None = None
        in_place = self.output is None or _same_file(self.output, self.path)
        if in_place:
            self.output = None  # --output naming LOG itself: updated in place, with a backup
        if will_write and in_place and self.path.is_file():
            # Taken before reading: another caseloop run on this file finishes first, so the
            # file cannot change between this run's read and its write because of caseloop.
            self._lock = CaseloopLock(self.path).acquire()
            repaired = self._lock.repaired
        elif self.path.is_file() and journal_path(self.path).exists():
            # A run rewriting the file in place is at work, or was interrupted: wait for it, or
            # put the file right, under the lock, before reading it.
            reader = CaseloopLock(self.path).acquire()
            reader.release()
            repaired = reader.repaired
        else:
            repaired = None
        # The engine passes these on as warnings (Google's are about credentials).
        self.credential_warnings = [repaired] if repaired else []
        try:
            self._read_file()
            if self.output is not None:
                self.output, self.output_fingerprint = check_output(self.path, self.output)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Let other caseloop runs at the workbook (idempotent)."""
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
        from .xlsx_file import fingerprint

        try:
            self.original = path.read_bytes()
            # Hashed from the bytes just read: what a later "changed since" check compares.
            self.fingerprint = fingerprint(path, self.original)
        except OSError as exc:
            raise CaseloopError(f"Cannot read {path}: {exc.strerror or exc}.") from None
        head = self.original[:8]
        if not self.original:
            raise CaseloopError(f"{path} is empty (0 bytes); it is not a workbook.")
        if head == OLE_MAGIC:
            raise CaseloopError(
                f"{path} is password-protected (encrypted) or an old .xls file; save an "
                "unprotected .xlsx copy in Excel and run caseloop on that."
            )
        if not head.startswith(ZIP_MAGIC):
            raise CaseloopError(f"{path} is not an Excel workbook (.xlsx); check the file.")
        from python_calamine import CalamineWorkbook

        try:
            self._zip = zipfile.ZipFile(io.BytesIO(self.original))
            self._book = CalamineWorkbook.from_filelike(io.BytesIO(self.original))
            self._names = list(self._book.sheet_names)
        except Exception as exc:  # calamine raises several unrelated types for broken files
            raise CaseloopError(
                f"{path} is damaged or not a complete .xlsx workbook ({type(exc).__name__}); "
                "open it in Excel to repair it, or restore a backup."
            ) from None

    def tab_names(self) -> list[str]:
        return list(self._names)

    def read_tab(self, title: str) -> Grid:
        # calamine reads error cells (#N/A, #REF!) as empty, so the sheet XML is scanned for
        # them too: streamed, on a second thread, while calamine parses the same part.
        with ThreadPoolExecutor(max_workers=1) as pool:
            scan = pool.submit(self._error_cells, title)
            try:
                sheet = self._book.get_sheet_by_name(title)
                rows = sheet.to_python(skip_empty_area=False)
            except Exception as exc:
                raise CaseloopError(
                    f'Cannot read the tab "{title}" of {self.path} ({type(exc).__name__}); '
                    "open the file in Excel and save it again."
                ) from None
            errors = scan.result()
        for r, c, text in errors:
            if r < len(rows) and c < len(rows[r]):
                rows[r][c] = CellError(text)
        return Grid(title=title, rows=rows, has_error_cells=bool(errors))

    def _sheet_part(self, title: str) -> str | None:
        """The zip member of a tab, found through workbook.xml and its relationships."""
        try:
            workbook = self._zip.read("xl/workbook.xml")
            rels = self._zip.read("xl/_rels/workbook.xml.rels")
        except KeyError:
            return None
        rel_id = None
        for entry in _SHEET_ENTRY.findall(workbook):
            attrs = {k.split(b":")[-1]: v for k, v in _ATTR.findall(entry)}
            name = attrs.get(b"name", b"").decode("utf-8")
            name = name.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
            name = name.replace("&quot;", '"').replace("&apos;", "'")
            if name == title:
                rel_id = attrs.get(b"id")
        if rel_id is None:
            return None
        for rel in re.findall(rb"<Relationship\b[^>]*>", rels):
            attrs = dict(_ATTR.findall(rel))
            if attrs.get(b"Id") == rel_id:
                target = attrs[b"Target"].decode("utf-8")
                return target.lstrip("/") if target.startswith("/") else "xl/" + target
        return None

    def _error_cells(self, title: str) -> list[tuple[int, int, str]]:
        """(row, column, text) of every error cell of a tab, 0-based, from its sheet XML."""
        part = self._sheet_part(title)
        found: list[tuple[int, int, str]] = []
        if part is None:
            return found
        try:
            stream = self._zip.open(part)
        except (KeyError, zipfile.BadZipFile, NotImplementedError):
            return found
        overlap = 8192  # longer than any one error cell element
        tail = b""
        with stream:
            while True:
                chunk = stream.read(1 << 20)
                data = tail + chunk
                # Keep the end for the next round unless the part is done: a cell may straddle.
                cut = len(data) if not chunk else max(0, len(data) - overlap)
                if b't="e"' in data:
                    for match in _ERROR_CELL.finditer(data):
                        if match.start() < cut:
                            letters, row, text = match.groups()
                            found.append((int(row) - 1, _col_index(letters), text.decode("utf-8")))
                if not chunk:
                    return found
                tail = data[cut:]

    def write_tabs(self, tabs: list[SheetModel]) -> WriteResult:
        from .xlsx_file import commit_workbook
        from .xlsx_splice import splice_tabs

        new_bytes = splice_tabs(self.original, tabs)
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
                new_bytes,
                read_fingerprint=self.fingerprint,
                output=self.output,
                lock=self._lock,
                output_fingerprint=self.output_fingerprint,
            )
        finally:
            self.close()
        return WriteResult(
            target=str(written),
            tabs=[t.title for t in tabs],
            backup=str(backup) if backup else None,
        )
