"""A read cache of an Excel workbook's History tab: the rows as read, kept in .caseloop-backup/
and used only while the tab's bytes are the ones they were read from (the sheet stays the truth)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import __version__
from .config import Labels, Rules
from .history import COLUMNS, History, Read, _words_of_flags, _words_of_statuses, started_of
from .ports import Grid

_FORMAT = 1
_TEXT_COLUMNS = (*(c for c in COLUMNS if c != "as_of"), "services")


def cache_files(workbook: Path) -> tuple[Path, Path]:
    """The key file and the rows file of ``workbook``'s cache, in its backup folder."""
    from .backends.xlsx.backups import BACKUP_FOLDER

    folder = workbook.parent / BACKUP_FOLDER
    return (
        folder / f"{workbook.name}.history-cache.json",
        folder / f"{workbook.name}.history-cache.rows.json",
    )


def _meaning(rules: Rules, labels: Labels) -> str:
    """What reading the tab depends on besides its bytes: the words of every language."""
    words = [labels.raw, _words_of_flags(rules, labels), _words_of_statuses(rules), COLUMNS]
    text = json.dumps(words, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def part_key(package: Any, kind: str) -> dict[str, Any] | None:
    """The key of caseloop's tab of ``kind`` in an open ``Package``: its name, and the CRC-32
    and sizes of its sheet part and of the shared strings (from the zip's directory, nothing
    inflated); None when there is no such tab."""
    sheet = next(
        (
            s
            for index, s in enumerate(package.sheets)
            if package.marks.get(index) == kind and s.kind == "worksheet" and s.part
        ),
        None,
    )
    if sheet is None:
        return None
    members = {info.filename.casefold(): info for info in package.archive.infolist()}

    def of(part: str | None) -> list[int] | None:
        info = members.get((part or "").casefold())
        return None if info is None else [info.CRC, info.file_size, info.compress_size]

    rels = package.relationships(package.workbook_part)
    strings = next((p for k, p in rels.values() if k == "sharedStrings"), None)
    return {
        "format": _FORMAT,
        "version": __version__,
        "tab": sheet.name,
        "sheet": of(sheet.part),
        "strings": of(strings),
        "date1904": bool(package.date1904),
    }


def load_cached(path: Path, key: dict[str, Any], rules: Rules, labels: Labels) -> Read | None:
    """The History read from the cache when its key is ``key``; None otherwise (missing,
    stale or unreadable: the tab is read as usual)."""
    try:
        key_file, rows_file = cache_files(path)
        stored = json.loads(key_file.read_text(encoding="utf-8"))
        if stored.get("key") != {**key, "meaning": _meaning(rules, labels)}:
            return None
        data = json.loads(rows_file.read_text(encoding="utf-8"))
        if data.get("token") != stored.get("token"):
            return None
        return _read_of(data)
    except Exception:  # noqa: BLE001 - a cache problem only means the tab is read
        return None


def _plain(values: list[Any]) -> bool:
    """Text and blanks only (None, or the NaN pandas leaves in a column), which JSON keeps as
    they are (checked in C: a year of History is hundreds of thousands of cells)."""
    return pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty")


def _read_of(data: dict[str, Any]) -> Read:
    rows = data["rows"]
    n = len(rows["as_of"])
    stamps = np.array(rows["as_of"], dtype="int64").view("datetime64[ns]")
    columns: dict[str, Any] = {"as_of": pd.Series(stamps)}
    for column in _TEXT_COLUMNS:
        values = rows[column]
        if len(values) != n or not _plain(values):
            raise ValueError("not a cache of History rows")
        columns[column] = pd.Series(values, dtype=object)
    frame = pd.DataFrame(columns)[[*COLUMNS, "services"]]
    frame["as_of"] = frame["as_of"].astype("datetime64[ns]")
    header = tuple(str(h) for h in data["header"])
    history = History(frame, started=started_of(frame, None))
    return Read(history, None, False, int(data["header_row"]), int(data["last_row"]), header)


def after_write(previous: Read, added: Grid, rules: Rules, labels: Labels) -> Read | None:
    """The Read the written tab gives back when the splice kept ``previous``'s rows and put
    the rendered rows of ``added`` (the title line, the header, this run's rows) below them;
    None when that cannot be told without reading the tab."""
    from .history import read_history

    if previous.history is None or previous.header_row != 2:
        return None
    new = read_history(added, rules, labels)
    if new.history is None or new.header_row != 2:
        return None
    n_new = len(added.rows) - 2
    if len(new.history.rows) != n_new:
        return None  # a blank rendered row would be skipped by the reader: not this case
    # In the tab the old rows come first, then this run's: the reader's stable sort (newest
    # first) keeps that order among rows of the same time, and so does this one.
    rows = pd.concat([previous.history.rows, new.history.rows], ignore_index=True)
    rows = rows.sort_values("as_of", kind="stable", ascending=False).reset_index(drop=True)
    for column in _TEXT_COLUMNS:
        # As the reader's frame has it: a column holding text has NaN for its blanks, one
        # with no text at all None (pandas infers a text column from a list of str and None).
        values = rows[column]
        blank = values.isna()
        if blank.any():
            fill: Any = float("nan") if not blank.all() else None
            rows[column] = pd.Series(
                [fill if b else v for v, b in zip(values.tolist(), blank.tolist(), strict=True)],
                dtype=object,
            )
    history = History(rows, started=started_of(rows, None))
    return Read(history, None, False, 2, previous.last_row + n_new, new.header)


def save(path: Path, key: dict[str, Any], read: Read, rules: Rules, labels: Labels) -> None:
    """Keep ``read`` as the cache of the workbook at ``path`` whose History tab has ``key``;
    quietly nothing when it cannot be written (the next run reads the tab)."""
    from .backends.xlsx.backups import backup_folder

    with contextlib.suppress(Exception):
        assert read.history is not None and read.header_row is not None
        rows = read.history.rows
        key_file, rows_file = cache_files(path)
        token = secrets.token_hex(8)
        payload: dict[str, Any] = {"as_of": rows["as_of"].astype("int64").tolist()}
        for column in _TEXT_COLUMNS:
            values = rows[column].tolist()
            if not _plain(values):
                return  # only text and blanks (None, NaN) round-trip exactly
            payload[column] = values
        data = {
            "token": token,
            "header_row": read.header_row,
            "last_row": read.last_row,
            "header": list(read.header),
            "rows": payload,
        }
        backup_folder(path)
        # The key is removed first and written last: a run stopped midway leaves no key that
        # points at rows it does not describe.
        key_file.unlink(missing_ok=True)
        _write(rows_file, json.dumps(data, ensure_ascii=False))
        stored = {"key": {**key, "meaning": _meaning(rules, labels)}, "token": token}
        _write(key_file, json.dumps(stored, ensure_ascii=False))


def forget(path: Path) -> None:
    """Remove the cache of ``path`` (its tab no longer matches what a run could tell)."""
    for file in cache_files(path):
        with contextlib.suppress(OSError):
            file.unlink(missing_ok=True)


def _write(file: Path, text: str) -> None:
    temp = file.with_name(f".{file.name}.{secrets.token_hex(4)}.tmp")
    try:
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, file)
    finally:
        with contextlib.suppress(OSError):
            temp.unlink(missing_ok=True)
