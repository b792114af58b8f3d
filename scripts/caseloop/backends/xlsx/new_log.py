"""``caseloop init`` for Excel: a new .xlsx case log written with xlsxwriter, never over a file."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import xlsxwriter

from ...errors import CaseloopError
from ...newlog import EARLIEST, FIRST_ROW, LAST_ROW, LATEST, NewLog, check_new_file

HEADER_FILL = "#DDEBF7"
INPUT_TITLE_MAX = 32  # Excel's limits on a data validation's input title and message
INPUT_MESSAGE_MAX = 255


def check_new_path(path: Path) -> None:
    """Refuse what ``create_xlsx`` could not create: an existing file, a missing folder, a name
    that is not .xlsx (Excel would refuse a macro-free .xlsm, and .xls is another format)."""
    if path.suffix.lower() != ".xlsx":
        raise CaseloopError.said("init_not_xlsx", path=str(path))
    check_new_file(path)


def list_source(log: NewLog, index: int) -> str:
    """The dropdown's source: the filled cells at the top of a Lists column.

    Not the whole fixed range: Excel's "ignore blank" lets any value through a list whose range
    holds an empty cell, so the range ends at the last value (COUNTA), and grows as the team
    adds values under it.
    """
    letter, first, last = log.list_range(index)
    sheet = "'" + log.lists_tab.replace("'", "''") + "'"
    return (
        f"=OFFSET({sheet}!${letter}${first},0,0,"
        f"MAX(1,COUNTA({sheet}!${letter}${first}:${letter}${last})),1)"
    )


def build_xlsx(log: NewLog) -> bytes:
    """The workbook's bytes: Cases (header, checks, formats), Lists and How to."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    header = book.add_format(
        {"bold": True, "bg_color": HEADER_FILL, "text_wrap": True, "valign": "top", "border": 1}
    )
    cases = book.add_worksheet(log.cases_tab)
    for c, column in enumerate(log.columns):
        fmt: Any = (
            book.add_format({"num_format": column.number_format}) if column.number_format else None
        )
        cases.set_column(c, c, column.width, fmt)
        cases.write_string(0, c, column.header, header)
        cases.data_validation(
            0,
            c,
            0,
            c,
            {
                "validate": "any",
                "input_title": column.header[:INPUT_TITLE_MAX],
                "input_message": column.hint[:INPUT_MESSAGE_MAX],
            },
        )
        check = log.checks.get(column.kind)
        if check is None:
            continue
        rule: dict[str, Any] = {
            "error_title": check.title[:INPUT_TITLE_MAX],
            "error_message": check.message[:INPUT_MESSAGE_MAX],
            "error_type": "stop" if check.strict else "warning",
            "ignore_blank": True,
        }
        if column.list_index is not None:
            rule |= {"validate": "list", "source": list_source(log, column.list_index)}
        elif column.kind == "datetime":
            rule |= {
                "validate": "date",
                "criteria": "between",
                "minimum": EARLIEST,
                "maximum": LATEST,
            }
        elif column.kind == "count":
            rule |= {"validate": "integer", "criteria": ">=", "value": 0}
        cases.data_validation(FIRST_ROW - 1, c, LAST_ROW - 1, c, rule)
    cases.freeze_panes(1, 0)
    cases.set_row(0, 32)
    cases.activate()

    lists = book.add_worksheet(log.lists_tab)
    for c, values in enumerate(log.lists):
        lists.set_column(c, c, max(14, 2 * len(values.header) + 2))
        lists.write_string(0, c, values.header, header)
        for r, value in enumerate(values.values, start=1):
            lists.write_string(r, c, value)
    note_column = len(log.lists) + 1
    lists.set_column(note_column, note_column, 60, book.add_format({"text_wrap": True}))
    lists.write_string(
        0, note_column, log.lists_note, book.add_format({"italic": True, "text_wrap": True})
    )
    lists.freeze_panes(1, 0)

    howto = book.add_worksheet(log.howto_tab)
    howto.set_column(0, 0, 22)
    howto.set_column(1, 1, 90, book.add_format({"text_wrap": True, "valign": "top"}))
    heading = book.add_format({"bold": True, "font_size": 12})
    flag_formats: dict[tuple[str, str | None], Any] = {}
    for r, row in enumerate(log.howto):
        colours = log.flag_rows.get(r)
        for c, text in enumerate(row):
            if r in log.heading_rows:
                howto.write_string(r, c, text, heading)
            elif colours is not None and c == 0:
                if colours not in flag_formats:
                    fill, font = colours
                    flag_formats[colours] = book.add_format(
                        {"bold": True, "bg_color": fill, "font_color": font or "#000000"}
                    )
                howto.write_string(r, c, text, flag_formats[colours])
            else:
                howto.write_string(r, c, text)
    book.close()
    return buffer.getvalue()


def create_xlsx(log: NewLog, path: Path) -> None:
    """Write the new log at ``path``; a file that appeared there meanwhile is left alone."""
    check_new_path(path)
    data = build_xlsx(log)
    try:
        # "x": created only if nothing is there, so a file that appeared since the check is safe.
        with open(path, "xb") as out:
            try:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            except BaseException:
                out.close()
                path.unlink(missing_ok=True)
                raise
    except FileExistsError:
        raise CaseloopError.said("init_exists", path=str(path)) from None
    except OSError as error:
        raise CaseloopError(
            f"Cannot create {path}: {error.strerror or error}; nothing was written."
        ) from None


__all__ = ["build_xlsx", "check_new_path", "create_xlsx", "list_source"]
