"""A new case log described once (columns, dropdown lists, cell checks, help texts) for the
Excel and Google writers of ``caseloop init``, so the two cannot drift apart."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .config import FLAG_ORDER, Labels, Rules
from .errors import CaseloopError
from .schema import Schema, normalize_label

# Rows of the Cases tab the checks and formats cover (1-based, the header is row 1).
FIRST_ROW = 2
LAST_ROW = 5000
# Rows of the Lists tab a dropdown reads: room for the team to add values under the given ones.
LIST_LAST_ROW = 500
# The dates the date checks accept: wide enough for any case, narrow enough to catch 2026 → 226.
EARLIEST = dt.date(2000, 1, 1)
LATEST = dt.date(2099, 12, 31)
DATE_FORMAT = "yyyy-mm-dd hh:mm"
# Enum columns (values from rules.yaml) and the columns whose names the team gives.
ENUM_COLUMNS = ("Marketplace", "Category", "Channel", "Priority", "Status", "Deadline Type")
NAME_COLUMNS = ("Store", "Owner")
# Columns a spreadsheet would turn into numbers (11-digit case IDs become 1.2E+10): kept text.
TEXT_COLUMNS = ("Case ID", "Order ID", "Related Cases")
# Column widths in characters, by type; a few columns people write sentences in are wider.
WIDE_COLUMNS = {"Summary": 40, "Amazon Response": 40, "Resolution": 30, "Related Cases": 22}
LIST_SEPARATORS = re.compile("[,，、;；]")

Kind = Literal["text", "list", "names", "datetime", "count"]


@dataclass(frozen=True)
class Column:
    """One column of the Cases tab."""

    field: str  # the schema's canonical name
    header: str  # in the log's language
    kind: Kind
    width: int  # characters
    hint: str  # the short help on the header cell
    list_index: int | None = None  # the Lists tab column its dropdown reads
    number_format: str | None = None  # "@" text, or DATE_FORMAT


@dataclass(frozen=True)
class ValueList:
    """One column of the Lists tab: a header and the values a dropdown offers."""

    header: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Check:
    """The check on a kind of cell, with the message shown when a value fails it."""

    title: str
    message: str
    strict: bool  # refuse the value (True) or only warn


@dataclass(frozen=True)
class NewLog:
    """Everything a writer needs to lay out a new case log."""

    lang: str
    cases_tab: str
    lists_tab: str
    howto_tab: str
    columns: tuple[Column, ...]
    lists: tuple[ValueList, ...]
    checks: dict[str, Check]  # by Column.kind (not "text")
    lists_note: str
    howto: tuple[tuple[str, ...], ...]  # the How to tab, row by row
    # How to row index → the flag's fill and font colours, as on the Status tab.
    flag_rows: dict[int, tuple[str, str | None]] = field(default_factory=dict)
    heading_rows: tuple[int, ...] = ()  # How to rows shown as headings
    # The names of a case tab in any language: a sheet with one is not set up again.
    case_tab_aliases: tuple[str, ...] = ()

    def list_range(self, index: int) -> tuple[str, int, int]:
        """The Lists tab's column letter and first and last rows a dropdown reads."""
        return column_letter(index), 2, LIST_LAST_ROW


def column_letter(index: int) -> str:
    """0-based column index as letters (0 → A, 26 → AA)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def split_names(text: str | None) -> tuple[str, ...]:
    """A list as typed on the command line: commas (also Chinese ，、), spaces kept inside names."""
    if not text:
        return ()
    names = [part.strip() for part in LIST_SEPARATORS.split(text)]
    return tuple(dict.fromkeys(name for name in names if name))


def _enum_values(rules: Rules, column: str, lang: str) -> list[str]:
    """The values of an enum column as the dropdown offers them, in ``lang``."""
    zh = rules.zh_labels[column]
    values = [zh[v] if lang == "zh" else v for v in rules.allowed(column)]
    if column == "Status":
        # Seller Central's own labels are read as Open with whose turn it is: offered too.
        labels = rules.status_label_zh
        values += [labels[v] if lang == "zh" else v for v in labels]
    return values


def _marketplaces(rules: Rules, asked: Iterable[str]) -> list[str]:
    """The canonical codes of the marketplaces asked for (any name caseloop reads)."""
    vocab = rules.vocab["Marketplace"]
    codes = []
    for name in asked:
        code = vocab.get(normalize_label(name))
        if code is None:
            raise CaseloopError.said(
                "init_bad_marketplace", value=f'"{name}"', value_zh=f"「{name}」"
            )
        codes.append(code)
    return list(dict.fromkeys(codes))


def describe(
    schema: Schema,
    rules: Rules,
    labels: Labels,
    lang: str = "en",
    *,
    stores: Iterable[str] = (),
    owners: Iterable[str] = (),
    marketplaces: Iterable[str] = (),
) -> NewLog:
    """The new log for this schema and these rules, in ``lang`` ("en" or "zh")."""

    def say(group: str, key: str) -> str:
        return labels.get(group, key, lang)

    hints = labels.raw.get("init_hints", {})
    lists: list[ValueList] = []
    columns: list[Column] = []
    chosen_marketplaces = _marketplaces(rules, marketplaces)
    for f in schema.fields:
        header = f.zh if lang == "zh" else f.name
        hint = say("init_hints", f.name) if f.name in hints else f.description
        kind: Kind = "text"
        values: list[str] | None = None
        if f.name in ENUM_COLUMNS and f.name in rules.zh_labels:
            kind = "list"
            values = _enum_values(rules, f.name, lang)
            if f.name == "Marketplace" and chosen_marketplaces:
                zh = rules.zh_labels["Marketplace"]
                values = [zh[c] if lang == "zh" else c for c in chosen_marketplaces]
        elif f.name in NAME_COLUMNS:
            kind = "names"
            values = list(split_names(",".join(stores if f.name == "Store" else owners)))
        elif f.type == "datetime":
            kind = "datetime"
        elif f.type == "integer":
            kind = "count"
        list_index = None
        if values is not None:
            list_index = len(lists)
            lists.append(ValueList(header, tuple(values)))
        number_format = (
            DATE_FORMAT if kind == "datetime" else "@" if f.name in TEXT_COLUMNS else None
        )
        width = WIDE_COLUMNS.get(f.name) or (17 if kind == "datetime" else 14)
        # Chinese characters take about two columns' width each.
        width = max(width, 2 * len(header) + 2 if lang == "zh" else len(header) + 2)
        columns.append(Column(f.name, header, kind, width, hint, list_index, number_format))
    checks = {
        "list": Check(say("init", "list_error_title"), say("init", "list_error"), True),
        # A new teammate or store is not yet on the list: a warning, not a refusal.
        "names": Check(say("init", "list_error_title"), say("init", "name_error"), False),
        "datetime": Check(say("init", "date_error_title"), say("init", "date_error"), True),
        "count": Check(say("init", "count_error_title"), say("init", "count_error"), True),
    }
    howto, flag_rows, headings = _howto(rules, labels, lang)
    return NewLog(
        lang=lang,
        cases_tab=say("init", "cases_tab"),
        lists_tab=say("init", "lists_tab"),
        howto_tab=say("init", "howto_tab"),
        columns=tuple(columns),
        lists=tuple(lists),
        checks=checks,
        lists_note=say("init", "lists_note"),
        howto=howto,
        flag_rows=flag_rows,
        heading_rows=headings,
        case_tab_aliases=tuple(dict.fromkeys(labels.raw["init"]["cases_tab"].values())),
    )


def _howto(
    rules: Rules, labels: Labels, lang: str
) -> tuple[tuple[tuple[str, ...], ...], dict[int, tuple[str, str | None]], tuple[int, ...]]:
    """The How to tab: how to keep the log, the checklist before a contact, the flags."""

    def say(group: str, key: str) -> str:
        return labels.get(group, key, lang)

    rows: list[tuple[str, ...]] = [(say("init", "howto_title"),)]
    headings = [0]
    for key in ("howto_record", "howto_times", "howto_sync"):
        rows.append(("", say("init", key)))
    rows.append(())
    headings.append(len(rows))
    rows.append((say("init", "checklist_title"),))
    for number, key in enumerate(labels.raw.get("init_checklist", {}), start=1):
        rows.append((f"{number}.", say("init_checklist", key)))
    rows.append(())
    headings.append(len(rows))
    rows.append((say("init", "flags_title"),))
    headings.append(len(rows))
    rows.append((say("init", "flag_column"), say("init", "meaning_column")))
    flag_rows: dict[int, tuple[str, str | None]] = {}
    meanings = labels.raw.get("init_flags", {})
    for name in FLAG_ORDER:
        flag = rules.flags.get(name)
        if flag is None or name not in meanings:
            continue
        flag_rows[len(rows)] = (flag.color, flag.font_color)
        rows.append((flag.zh if lang == "zh" else flag.name, say("init_flags", name)))
    return tuple(rows), flag_rows, tuple(headings)


def rules_copy_text(default_text: str, today: dt.date) -> str:
    """The default rules file with a header that says what the copy is and how it is used."""
    header = (
        f"# A copy of caseloop's default rules, written by `caseloop init --rules` on {today}.\n"
        "# Tune it for your team (reply targets, escalation limits, categories, aliases...), then\n"
        "# pass it to every command: caseloop sync LOG --rules THIS_FILE. caseloop checks every\n"
        "# value when it loads the file and names a typo with its key; nothing is written then.\n"
        "# Delete a key to fall back to its default only where the comment above it says so.\n"
        "#\n"
    )
    return header + default_text


def write_new_file(path: Path, text: str) -> None:
    """Create ``path`` with ``text``; never over an existing file (refused, nothing changed)."""
    check_new_file(path)
    try:
        with open(path, "x", encoding="utf-8", newline="\n") as out:
            out.write(text)
    except FileExistsError:
        raise CaseloopError.said("init_exists", path=str(path)) from None
    except OSError as error:
        raise CaseloopError(
            f"Cannot create {path}: {error.strerror or error}; nothing was written."
        ) from None


def check_new_file(path: Path) -> None:
    """Refuse a path that holds a file (or a dangling link) or whose folder is missing."""
    if path.exists() or path.is_symlink():
        raise CaseloopError.said("init_exists", path=str(path))
    if not path.parent.is_dir():
        raise CaseloopError.said("init_no_folder", folder=str(path.parent))
