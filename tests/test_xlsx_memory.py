"""A sync's memory does not grow with the team's other parts: a workbook carrying a large picture
is synced (in place and to --output) by the real command, whose peak memory is measured."""

from __future__ import annotations

import datetime as dt
import io
import os
import struct
import subprocess
import sys
import textwrap
import zipfile
import zlib
from pathlib import Path

import pytest
import xlsxwriter
from python_calamine import CalamineWorkbook

from caseloop.engine import Loaded, Settings, load, status_model, write
from caseloop.errors import RefusedError
from caseloop.model import SheetModel

from caselog import HEADERS, NOW, case, write_xlsx

NOW_TEXT = NOW.isoformat(timespec="minutes")
MEDIA = "xl/media/image1.png"
MEDIA_MB = 80
# A sync of a small log peaks near 90 MB (benchmarks/RESULTS.md), with or without the picture
# when nothing holds it. The code that read the workbook into memory peaked at 370 MB here (the
# file held 3 to 4 times over); 150 MB leaves room for the small parts the read and the splice
# hold, never for a second copy of the picture.
PEAK_LIMIT_MB = 150


def _tiny_png() -> bytes:
    """A valid 1x1 PNG, so xlsxwriter inserts a real picture (drawing, relationships, type)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def _workbook_with_large_picture(folder: Path) -> Path:
    """A case log whose Templates tab shows a picture of MEDIA_MB of incompressible bytes
    (stored, as a zip holds an already-compressed photo), written a piece at a time."""
    pictured = folder / "pictured.xlsx"
    book = xlsxwriter.Workbook(str(pictured))
    stamp = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    sheet = book.add_worksheet("Cases")
    sheet.write_row(0, 0, HEADERS)
    for r, row in enumerate([case(), case(Status="Resolved"), case()], start=1):
        for c, header in enumerate(HEADERS):
            value = row.get(header)
            if isinstance(value, dt.datetime):
                sheet.write_datetime(r, c, value, stamp)
            elif value is not None:
                sheet.write(r, c, value)
    picture = io.BytesIO(_tiny_png())
    book.add_worksheet("Templates").insert_image("C3", "logo.png", {"image_data": picture})
    book.close()
    log = folder / "case_log.xlsx"
    with (
        zipfile.ZipFile(pictured) as source,
        zipfile.ZipFile(log, "w", zipfile.ZIP_DEFLATED) as out,
    ):
        assert MEDIA in source.namelist(), source.namelist()
        for info in source.infolist():
            if info.filename != MEDIA:
                out.writestr(info.filename, source.read(info))
        stored = zipfile.ZipInfo(MEDIA, (1980, 1, 1, 0, 0, 0))  # ZIP_STORED
        with out.open(stored, "w") as big:
            for _ in range(MEDIA_MB):
                big.write(os.urandom(1 << 20))
    pictured.unlink()
    return log


def _peak_of(*args: str) -> tuple[int, float, str, str]:
    """Run caseloop in a fresh interpreter started by a small one, which reports its child's
    peak RSS (a child forked from pytest itself would be charged pytest's memory)."""
    probe = textwrap.dedent(
        """
        import resource, subprocess, sys
        done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        print(done.returncode, peak_kb, repr(done.stdout), repr(done.stderr), sep="\\n")
        """
    )
    command = [sys.executable, "-c", "from caseloop.cli import main; main()", *args]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    run = subprocess.run(
        [sys.executable, "-c", probe, *command], capture_output=True, text=True, env=env, check=True
    )
    code, peak_kb, stdout, stderr = run.stdout.splitlines()
    return int(code), int(peak_kb) / 1024, eval(stdout), eval(stderr)  # noqa: S307 (our repr)


def _media_of(path: Path) -> tuple[int, int, int]:
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(MEDIA)
        return info.CRC, info.file_size, info.compress_type


def _status_rows(path: Path) -> list[list]:
    book = CalamineWorkbook.from_path(str(path))
    return book.get_sheet_by_name("Status").to_python()


def test_a_sync_beside_a_large_picture_stays_in_bounded_memory(tmp_path: Path) -> None:
    log = _workbook_with_large_picture(tmp_path)
    size_mb = log.stat().st_size / 2**20
    assert size_mb > MEDIA_MB
    picture = _media_of(log)

    out = tmp_path / "copy" / "case_log.xlsx"
    code, copy_peak, stdout, stderr = _peak_of(
        "sync", str(log), "--now", NOW_TEXT, "--output", str(out)
    )
    print(f"sync --output of a {size_mb:.0f} MB workbook: peak RSS {copy_peak:.0f} MB")
    assert code == 0, (stdout, stderr)
    assert _media_of(out) == picture
    assert len(_status_rows(out)) > 2

    # Again over caseloop's own copy, which is checked (caseloop's? saved meanwhile?) first.
    code, again_peak, stdout, stderr = _peak_of(
        "sync", str(log), "--now", NOW_TEXT, "--output", str(out)
    )
    print(f"sync --output over the copy: peak RSS {again_peak:.0f} MB")
    assert code == 0, (stdout, stderr)
    assert _media_of(out) == picture

    code, peak, stdout, stderr = _peak_of("sync", str(log), "--now", NOW_TEXT)
    print(f"sync in place of a {size_mb:.0f} MB workbook: peak RSS {peak:.0f} MB")
    assert code == 0, (stdout, stderr)
    assert "Wrote 'Status'" in stdout
    assert _media_of(log) == picture
    assert len(_status_rows(log)) > 2
    # The picture was kept with the rest of the workbook, and never held in memory whole.
    assert copy_peak < PEAK_LIMIT_MB, f"peak {copy_peak:.0f} MB for --output"
    assert again_peak < PEAK_LIMIT_MB, f"peak {again_peak:.0f} MB for --output over the copy"
    assert peak < PEAK_LIMIT_MB, f"peak {peak:.0f} MB in place"


# --- the splice copies from the file: it must be the version that was read ----------------------


def _loaded(log: Path, output: Path | None = None) -> tuple[Loaded, SheetModel]:
    settings = Settings(log=str(log), now=NOW_TEXT, output=str(output) if output else None)
    loaded = load(settings, for_writing=True)
    model, _ = status_model(loaded, settings)
    return loaded, model


def _caseloop_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".~caseloop*"))


def test_a_copy_is_not_made_from_a_log_saved_over_after_the_read(tmp_path: Path) -> None:
    log = write_xlsx(tmp_path / "case_log.xlsx", [case() for _ in range(5)])
    out = tmp_path / "copy.xlsx"
    loaded, model = _loaded(log, out)
    # Someone saves in Excel meanwhile: a new file renamed over the one that was read.
    theirs = write_xlsx(tmp_path / "saved-by-excel.xlsx", [case() for _ in range(6)])
    os.replace(theirs, log)
    saved = log.read_bytes()
    with pytest.raises(RefusedError, match="changed since caseloop read it"):
        write(loaded, [model])
    assert not out.exists()
    assert log.read_bytes() == saved
    assert _caseloop_files(tmp_path) == []


def _offset_in(log: Path, member: str) -> int:
    """Where the stored bytes of ``member`` start in the file (after its local header)."""
    with zipfile.ZipFile(log) as archive:
        info = archive.getinfo(member)
    with log.open("rb") as handle:
        handle.seek(info.header_offset + 26)
        name_length, extra_length = struct.unpack("<HH", handle.read(4))
    return info.header_offset + 30 + name_length + extra_length + info.compress_size // 2


@pytest.mark.parametrize("where", ["zip directory", "a part copied as is", "the case tab"])
@pytest.mark.parametrize("output", [True, False])
def test_a_log_edited_with_the_same_size_and_time_is_refused(
    tmp_path: Path, where: str, output: bool
) -> None:
    """A coarse-timestamp file system can show an edited file with its old size and time: the
    content spliced is compared with the one read, whether the edit breaks the zip, sits in a
    part the splice copies without reading (docProps/app.xml) or in one it reads."""
    log = write_xlsx(tmp_path / "case_log.xlsx", [case() for _ in range(5)])
    out = tmp_path / "copy.xlsx" if output else None
    loaded, model = _loaded(log, out)
    stat = log.stat()
    at = {
        "zip directory": stat.st_size - 30,
        "a part copied as is": _offset_in(log, "docProps/app.xml"),
        "the case tab": _offset_in(log, "xl/worksheets/sheet1.xml"),
    }[where]
    with log.open("r+b") as handle:  # an edit in place: same size, same inode
        handle.seek(at)
        byte = handle.read(1)[0]
        handle.seek(at)
        handle.write(bytes([byte ^ 0x01]))
    os.utime(log, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert (log.stat().st_size, log.stat().st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)
    edited = log.read_bytes()
    with pytest.raises(RefusedError, match="changed since caseloop read it"):
        write(loaded, [model])
    assert log.read_bytes() == edited
    assert out is None or not out.exists()
    assert _caseloop_files(tmp_path) == []
    assert not (tmp_path / ".caseloop-backup").exists()


@pytest.mark.parametrize("output", [False, True])
def test_a_log_deleted_after_the_read_is_refused_and_nothing_written(
    tmp_path: Path, output: bool
) -> None:
    log = write_xlsx(tmp_path / "case_log.xlsx", [case() for _ in range(5)])
    out = tmp_path / "copy.xlsx" if output else None
    loaded, model = _loaded(log, out)
    log.unlink()
    with pytest.raises(RefusedError, match="changed since caseloop read it"):
        write(loaded, [model])
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_an_unchanged_log_is_copied_and_then_synced_in_place(tmp_path: Path) -> None:
    """The same checks let the ordinary runs through: a copy, a second copy over caseloop's own
    copy, and a sync in place."""
    log = write_xlsx(tmp_path / "case_log.xlsx", [case() for _ in range(5)])
    before = log.read_bytes()
    out = tmp_path / "copy.xlsx"
    for _ in range(2):
        loaded, model = _loaded(log, out)
        write(loaded, [model])
        assert log.read_bytes() == before
        assert "Status" in CalamineWorkbook.from_path(str(out)).sheet_names
    loaded, model = _loaded(log)
    write(loaded, [model])
    assert CalamineWorkbook.from_path(str(log)).sheet_names == ["Cases", "Status"]
    assert _caseloop_files(tmp_path) == []
