"""The zip in and out: splice_to streams the team's members, whatever the source, in bounded memory."""

from __future__ import annotations

import hashlib
import io
import os
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from python_calamine import CalamineWorkbook
from test_xlsx_splice import status_model, weekly_model

from caseloop.backends.xlsx.splice import splice_tabs, splice_to
from caseloop.backends.xlsx.workbook_part import WorkbookPart
from caseloop.errors import CaseloopError, TabTakenError

from rich_workbook import build_team_workbook

pytestmark = pytest.mark.filterwarnings("ignore:.*extension is not supported:UserWarning")
LARGE = 50 * 1024 * 1024
LARGE_MEMBER = "xl/media/recording1.bin"


def _with_large_member(team: Path, target: Path) -> None:
    """``team`` with one more member of LARGE random (incompressible) bytes, written in pieces."""
    with zipfile.ZipFile(team) as source, zipfile.ZipFile(target, "w") as out:
        for info in source.infolist():
            out.writestr(info, source.read(info))
        with out.open(zipfile.ZipInfo(LARGE_MEMBER), "w", force_zip64=False) as member:
            for _ in range(LARGE // (1024 * 1024)):
                member.write(os.urandom(1024 * 1024))


def _digest(path: Path, name: str) -> str:
    with zipfile.ZipFile(path) as book, book.open(name) as stream:
        digest = hashlib.sha256()
        while piece := stream.read(1024 * 1024):
            digest.update(piece)
        return digest.hexdigest()


def test_a_large_member_is_copied_in_pieces_not_held_in_memory(tmp_path: Path) -> None:
    source = tmp_path / "team-with-media.xlsx"
    _with_large_member(build_team_workbook(tmp_path / "team.xlsx"), source)
    target = tmp_path / "spliced.xlsx"
    tracemalloc.start()
    try:
        with open(target, "wb") as out:
            splice_to(source, [status_model(), weekly_model()], out)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < LARGE // 10, f"peak {peak / 1e6:.1f} MB while splicing around a 50 MB member"
    with zipfile.ZipFile(source) as before, zipfile.ZipFile(target) as after:
        old, new = before.getinfo(LARGE_MEMBER), after.getinfo(LARGE_MEMBER)
        assert (new.CRC, new.compress_size, new.file_size) == (
            old.CRC,
            old.compress_size,
            old.file_size,
        )
        assert after.testzip() is None
    assert _digest(target, LARGE_MEMBER) == _digest(source, LARGE_MEMBER)
    book = CalamineWorkbook.from_path(str(target))
    assert book.sheet_names[-2:] == ["Status", "Weekly Summary"]
    assert book.get_sheet_by_name("Status").to_python()[1][0] == "Case ID"


def test_a_path_a_file_and_bytes_give_what_splice_tabs_returns(tmp_path: Path) -> None:
    team = build_team_workbook(tmp_path / "team.xlsx")
    tabs = [status_model(), weekly_model()]
    expected = splice_tabs(team.read_bytes(), tabs)
    from_path, from_bytes, readable = io.BytesIO(), io.BytesIO(), tmp_path / "readable.xlsx"
    splice_to(team, tabs, from_path)
    splice_to(team.read_bytes(), tabs, from_bytes)
    # A file opened for reading too: the written zip is read back and checked before returning.
    with open(team, "rb") as source, open(readable, "w+b") as out:
        splice_to(source, tabs, out)
        assert out.tell() == len(expected)
    with open(tmp_path / "write-only.xlsx", "wb") as out:
        splice_to(str(team), tabs, out)
    assert from_path.getvalue() == expected
    assert from_bytes.getvalue() == expected
    assert readable.read_bytes() == expected
    assert (tmp_path / "write-only.xlsx").read_bytes() == expected


def test_nothing_to_splice_copies_the_workbook_as_it_is(tmp_path: Path) -> None:
    team = build_team_workbook(tmp_path / "team.xlsx")
    out = io.BytesIO()
    splice_to(team, [], out)
    assert out.getvalue() == team.read_bytes()


def _lose_a_sheet(self: WorkbookPart) -> None:
    self.text = self.text.replace('<sheet name="Lists"', '<sheetX name="Lists"', 1)
    self.package.write(self.part, self.text.encode())


def test_a_refused_splice_writes_nothing_to_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    team = build_team_workbook(tmp_path / "team.xlsx", own_status_tab="Status")
    out = io.BytesIO()
    with pytest.raises(TabTakenError):
        splice_to(team, [status_model()], out)
    assert out.getvalue() == b""
    # The check against the original runs before the first byte is written, too.
    monkeypatch.setattr(WorkbookPart, "save", _lose_a_sheet)
    with pytest.raises(CaseloopError, match="lost the tab"):
        splice_to(build_team_workbook(tmp_path / "plain.xlsx"), [status_model()], out)
    assert out.getvalue() == b""


def test_a_missing_source_is_named(tmp_path: Path) -> None:
    with pytest.raises(CaseloopError, match="nowhere.xlsx") as error:
        splice_to(tmp_path / "nowhere.xlsx", [status_model()], io.BytesIO())
    assert "\n" not in str(error.value)
