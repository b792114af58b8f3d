"""Helpers for the tests that try to break caseloop: run it, and prove what it did not touch."""

from __future__ import annotations

import html
import io
import json
import os
import re
import subprocess
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import openpyxl
from click.testing import CliRunner, Result

from caseloop.cli import main

NOW_TEXT = "2026-11-20T18:00"

# The only members of a team's workbook a sync or report may rewrite (README, "Which parts of an
# Excel file change"); every other member must come out byte for byte as it went in.
MAY_CHANGE = {
    "[Content_Types].xml",
    "_rels/.rels",
    "xl/workbook.xml",
    "xl/_rels/workbook.xml.rels",
    "xl/styles.xml",
    "docProps/custom.xml",
}
# Members a first sync or report may add: its sheet part and what that refers to.
MAY_ADD = re.compile(
    r"xl/worksheets/sheet\d+\.xml|xl/worksheets/_rels/sheet\d+\.xml\.rels"
    r"|xl/drawings/(_rels/)?drawing\d+\.xml(\.rels)?|xl/charts/chart\d+\.xml|docProps/custom\.xml"
)


def run(*args: Any, obj: dict[str, Any] | None = None) -> Result:
    """caseloop through Click's runner, with stdout and stderr kept apart."""
    return CliRunner().invoke(main, [str(a) for a in args], obj=obj)


def assert_one_sentence(result: Result, *fragments: str, exit_code: int = 2) -> None:
    """The refusal contract: the exit code, one line on stderr naming the problem, no traceback."""
    assert result.exit_code == exit_code, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("caseloop: "), result.stderr
    assert "Traceback" not in result.output and "unexpected error" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def folder_state(folder: Path) -> dict[str, bytes | None]:
    """Every file below ``folder`` with its content (None for folders), to compare before/after."""
    state: dict[str, bytes | None] = {}
    for path in sorted(folder.rglob("*")):
        state[str(path.relative_to(folder))] = None if path.is_dir() else path.read_bytes()
    return state


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def assert_only_caseloop_parts_changed(before: bytes, after: bytes) -> None:
    """Team parts byte-identical; only the allowed parts changed; only generated parts added."""
    old, new = members(before), members(after)
    assert set(old) <= set(new), f"members dropped: {sorted(set(old) - set(new))}"
    changed = sorted(name for name in old if old[name] != new[name] and name not in MAY_CHANGE)
    assert not changed, f"team parts changed: {changed}"
    added = sorted(name for name in set(new) - set(old) if not MAY_ADD.fullmatch(name))
    assert not added, f"unexpected new members: {added}"
    with zipfile.ZipFile(io.BytesIO(after)) as archive:
        assert archive.testzip() is None


def status_table(path: Path, tab: str = "Status") -> list[dict[str, Any]]:
    """The generated tab's rows as dicts by header (row 2), read back with openpyxl."""
    sheet = openpyxl.load_workbook(path)[tab]
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    header = list(rows[0])
    return [dict(zip(header, row, strict=True)) for row in rows[1:]]


def sheet_parts(path: Path, tabs: list[str]) -> dict[str, bytes]:
    """The sheet XML of each named tab, found through workbook.xml and its relationships."""
    with zipfile.ZipFile(path) as archive:
        workbook = archive.read("xl/workbook.xml").decode()
        rels = archive.read("xl/_rels/workbook.xml.rels").decode()
        rel_of = {
            html.unescape(name): rel_id
            for name, rel_id in re.findall(r'<sheet name="([^"]+)"[^>]*r:id="([^"]+)"', workbook)
        }
        target_of = {
            re.search(r'Id="([^"]+)"', rel).group(1): re.search(r'Target="([^"]+)"', rel).group(1)
            for rel in re.findall(r"<Relationship [^>]*>", rels)
        }
        return {
            tab: archive.read("xl/" + target_of[rel_of[tab]].removeprefix("/xl/")) for tab in tabs
        }


def authorized_user_file(
    path: Path, token: str = "test", *, refresh_token: str = "unused", client_secret: str = "unused"
) -> Path:
    """Google authorized-user credentials whose token google-auth uses as is until 2999 (no
    refresh, so nothing goes to Google's token endpoint); only its owner may read the file."""
    path.write_text(
        json.dumps(
            {
                "type": "authorized_user",
                "token": token,
                "expiry": "2999-01-01T00:00:00Z",
                "refresh_token": refresh_token,
                "client_id": "unused.apps.googleusercontent.com",
                "client_secret": client_secret,
            }
        )
    )
    path.chmod(0o600)
    return path


def can_mount() -> bool:
    return os.geteuid() == 0


@contextmanager
def tmpfs(folder: Path, size: str) -> Iterator[Path]:
    """A small RAM file system on ``folder`` (root only), unmounted afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode != 0:
        raise OSError(mounted.stderr.decode(errors="replace").strip())
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def remount_read_only(folder: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
