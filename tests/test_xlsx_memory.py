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

import xlsxwriter
from python_calamine import CalamineWorkbook

from caselog import HEADERS, NOW, case

NOW_TEXT = NOW.isoformat(timespec="minutes")
MEDIA = "xl/media/image1.png"
MEDIA_MB = 80
# A sync of a small log peaks near 90 MB (benchmarks/RESULTS.md); the reading and the splice
# may hold small parts, never the picture. Holding the whole workbook once already breaks this
# (the code before streaming peaked near 2.2x the file plus that baseline).
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

    code, peak, stdout, stderr = _peak_of("sync", str(log), "--now", NOW_TEXT)
    print(f"sync in place of a {size_mb:.0f} MB workbook: peak RSS {peak:.0f} MB")
    assert code == 0, (stdout, stderr)
    assert "Wrote 'Status'" in stdout
    assert _media_of(log) == picture
    assert len(_status_rows(log)) > 2
    # The picture was kept with the rest of the workbook, and never held in memory whole.
    assert copy_peak < PEAK_LIMIT_MB, f"peak {copy_peak:.0f} MB for --output"
    assert peak < PEAK_LIMIT_MB, f"peak {peak:.0f} MB in place"
