"""Splice caseloop's generated tabs into a team's .xlsx/.xlsm, copying every other zip member as is.

Only these members may change: the generated sheets with their drawings, charts and ``_rels``
(placed beside the workbook part, wherever it is); the workbook part and its ``_rels``;
``[Content_Types].xml``; the styles part (appended to, never reordered); ``docProps/custom.xml``
(old marks removed); and the calc chain is dropped only when it lists cells of a generated tab
being replaced. Every textual edit honours the part's namespace prefixes, and the result is
compared with the original before it is written. Every other member keeps its compressed
bytes, copied a piece at a time; only its zip headers are written anew.

Which tab is caseloop's is told by the sheet-scoped name ``_caseloop_tab`` (``workbook_part``),
or by an old custom-property mark whose tab still holds caseloop's header row (``marks``).
"""

from __future__ import annotations

import io
import os
import posixpath
import re
import shutil
from dataclasses import dataclass
from typing import IO, BinaryIO

from ...errors import CaseloopError, RefusedError
from ...model import Range, SheetModel
from ...ports import TEAM_TAB, TabPlan, plan_tab
from .build import build
from .content_types import CT_RELATIONSHIPS, CT_WORKSHEET, ContentTypes
from .kept import OldRows, old_rows, splice_rows
from .marks import OldMarks, carries_content
from .package import COPY_CHUNK, Package, Source
from .relationships import (
    REL_CALC_CHAIN,
    REL_WORKSHEET,
    part_closure,
    read_rels,
    relative,
    rels_name,
    rels_xml,
    source_of,
)
from .styles import TeamStyles, restyle_sheet
from .verify import Facts, check_kept, package_facts
from .workbook_part import FILTER_NAME, MARK_NAME, Sheet, WorkbookPart, filter_formula
from .xmltext import escape

_CALC_CELL = re.compile(rb"<(?:[\w.-]+:)?c\b([^>]*)>")
_CALC_SHEET = re.compile(rb"""\bi\s*=\s*["'](\d+)["']""")


@dataclass
class _Plan:
    model: SheetModel
    title: str  # the title as written (the existing tab's spelling when replacing)
    index: int | None = None  # position among the tabs, once known
    part: str | None = None  # the sheet part it goes to, once known
    old_rows: OldRows | None = None  # rows of the replaced tab kept as they are (KeptRows)


def _drop_calc_chain(
    package: Package, workbook: WorkbookPart, sheet_ids: set[int], content_types: ContentTypes
) -> None:
    """Drop calcChain.xml if it lists cells of a tab being replaced (Excel rebuilds it on open)."""
    rel = workbook.rel_of(REL_CALC_CHAIN)
    if rel is None or rel.part is None or not sheet_ids:
        return
    with package.open(rel.part) as stream:
        if stream is None or not _lists_cells_of(stream, sheet_ids):
            return
    package.remove(rel.part)
    package.remove(rels_name(rel.part))
    content_types.remove(rel.part)
    workbook.remove_rel(rel.id)


def _lists_cells_of(stream: IO[bytes], sheet_ids: set[int]) -> bool:
    """Whether the calc chain names a cell of one of ``sheet_ids``, read a piece at a time."""
    current = None
    tail = b""
    while True:
        piece = stream.read(COPY_CHUNK)
        data = tail + piece
        # Scan up to the last "<" only: an entry cut in two is scanned whole with the next piece.
        cut = data.rfind(b"<") if piece else len(data)
        cut = len(data) if cut < 0 else cut
        data, tail = data[:cut], data[cut:]
        for match in _CALC_CELL.finditer(data):
            found = _CALC_SHEET.search(match.group(1))
            current = int(found.group(1)) if found else current  # no i: the last entry's sheet
            if current in sheet_ids:
                return True
        if not piece:
            return False


def _remove_generated_parts(package: Package, sheet_part: str, content_types: ContentTypes) -> None:
    """Remove what an old generated sheet referred to, except parts something else refers to too."""
    closure = part_closure(package, sheet_part)
    ours = {part.casefold() for part in closure}
    referenced: set[str] = set()
    for key in package.names():
        if not key.endswith(".rels"):
            continue
        source = source_of(key)
        if source in ours:
            continue
        # Parsed, not matched as text: attributes may be single-quoted or the part prefixed.
        for rel in read_rels(package, source):
            if rel.part:
                referenced.add(rel.part.casefold())
    kept: set[str] = set()
    for part in closure[1:]:
        if part.casefold() in referenced:
            kept |= {p.casefold() for p in part_closure(package, part)}
    for part in closure[1:]:
        if part.casefold() not in kept:
            package.remove(part)
            package.remove(rels_name(part))
            content_types.remove(part)
    package.remove(rels_name(sheet_part))


def _copy_generated(
    generated: Package,
    generated_types: ContentTypes,
    source_sheet: str,
    package: Package,
    content_types: ContentTypes,
    target_sheet: str,
    sheet_xml: bytes,
    workbook_folder: str,
) -> None:
    """Put one generated sheet and every part it refers to into the team's package."""
    closure = part_closure(generated, source_sheet)
    renamed = {source_sheet: target_sheet}
    taken: set[str] = {target_sheet.casefold()}
    for part in closure[1:]:
        # xlsxwriter puts drawings and charts under xl/; the team's workbook part may live elsewhere.
        folder, base = posixpath.split(part)
        folder = posixpath.normpath(
            posixpath.join(workbook_folder or ".", posixpath.relpath(folder, "xl"))
        )
        folder = "" if folder == "." else folder
        stem, ext = posixpath.splitext(base)
        pattern = posixpath.join(folder, re.sub(r"\d+$", "", stem) + "{}" + ext)
        renamed[part] = package.free_name(pattern, taken)
        taken.add(renamed[part].casefold())
    package.remove(rels_name(target_sheet))
    for part in closure:
        new_name = renamed[part]
        content = sheet_xml if part == source_sheet else generated.read(part) or b""
        package.write(new_name, content)
        content_type = generated_types.type_of(part)
        if content_type:
            content_types.set(new_name, content_type)
        rels = read_rels(generated, part)
        if rels:
            package.write(
                rels_name(new_name),
                rels_xml(
                    (
                        rel.id,
                        rel.type,
                        relative(new_name, renamed[rel.part]) if rel.part else rel.target,
                        rel.part is None,
                    )
                    for rel in rels
                ),
            )


def splice_tabs(original: bytes, tabs: list[SheetModel]) -> bytes:
    """The workbook ``original`` with ``tabs`` written into it, as bytes (see ``splice_to``)."""
    if not tabs:
        return original
    out = io.BytesIO()
    splice_to(original, tabs, out)
    return out.getvalue()


def splice_to(source: Source, tabs: list[SheetModel], out: BinaryIO) -> None:
    """Write the workbook ``source`` with ``tabs`` written into it to ``out``; every other part is left as is.

    ``source`` is the workbook's bytes, its path, or a seekable file; the new zip is written to
    ``out`` from where it stands. Members caseloop does not change are copied as they are
    stored, a piece at a time, so memory does not grow with the team's other tabs and media.

    A tab caseloop made before is replaced where it stands; a new one is added after the last
    tab. A tab is caseloop's when it carries caseloop's sheet-scoped name (``_caseloop_tab``),
    which moves with the tab when it is renamed or moved and goes when it is deleted, in Excel
    and in LibreOffice alike; an old custom-property mark counts only while the tab still holds
    caseloop's header row. A tab of the same name (in any case) that is not caseloop's is refused.

    A structure-locked workbook (Review > Protect Workbook) gets no new tab: Excel forbids adding
    sheets there, so that is refused. Rewriting a tab caseloop made before is allowed there:
    it adds, removes, renames, moves and hides no tab, which is all the lock protects.

    When a team formula, defined name or chart reads one of the generated tabs, the workbook
    asks the office suite to recalculate on open (``fullCalcOnLoad`` on ``calcPr``), so those
    cells do not keep results computed from the old tab.

    Before anything is written, the result is checked against the original: every relationship,
    content type, tab and defined name must still be there (except what belonged to a replaced
    tab), or nothing is written; when ``out`` can be read back, the written zip is checked too.
    """
    if not tabs:
        _copy_whole(source, out)
        return
    titles = [tab.title.casefold() for tab in tabs]
    if len(set(titles)) != len(titles):
        raise CaseloopError("Two generated tabs were given the same name; give each its own name.")
    with Package(source) as package:
        _splice(package, tabs, out)


def _splice(package: Package, tabs: list[SheetModel], out: BinaryIO) -> None:
    content_types = ContentTypes(package)
    workbook = WorkbookPart(package)
    old_marks = OldMarks(package)
    styles = TeamStyles(package, workbook)

    plans: list[_Plan] = []
    replaced_ids: set[int] = set()
    placed, removed = _place(package, workbook, old_marks, tabs)
    for tab, existing in zip(tabs, placed, strict=True):
        if existing is None:
            plans.append(_Plan(tab, tab.title))
            continue
        index, sheet = existing
        plan = _Plan(tab, tab.title, index, sheet.part)
        plan.old_rows = _keep_rows(package, tab, sheet.name, sheet.part)
        if sheet.name != tab.title:
            workbook.rename_sheet(index, tab.title)
        plans.append(plan)
        replaced_ids.add(sheet.sheet_id)
    for plan in plans:
        if plan.old_rows is None:
            plan.model.render_kept()  # no-op unless it asked to keep rows that are not there
    replaced_ids |= {workbook.sheets[index].sheet_id for index in removed}
    new_tabs = [plan.title for plan in plans if plan.part is None]
    if new_tabs and workbook.structure_locked:
        raise RefusedError(
            f"The workbook's structure is protected (Review > Protect Workbook), so caseloop cannot "
            f'add the tab "{new_tabs[0]}"; unprotect the workbook structure in Excel and run again.'
        )
    recalculate = _team_reads_tabs(package, workbook, plans)
    before = package_facts(package)  # what must survive, read before anything changes

    built, mimic = build(
        [(plan.title, plan.model) for plan in plans], styles.fonts, workbook.date_1904
    )
    generated = Package(built)
    generated_types = ContentTypes(generated)
    generated_book = WorkbookPart(generated)
    generated_styles = generated.read("xl/styles.xml") or b""
    xf_map = styles.merge(generated_styles, content_types)

    # Old drawings and charts of replaced tabs go first, so their names can be used again.
    for plan in plans:
        if plan.part is not None:
            _remove_generated_parts(package, plan.part, content_types)
    for index in removed:
        gone = workbook.sheets[index].part or ""
        _remove_generated_parts(package, gone, content_types)
        package.remove(gone)
        content_types.remove(gone)
    _drop_calc_chain(package, workbook, replaced_ids, content_types)

    sheet_pattern = posixpath.join(workbook.folder, "worksheets", "sheet{}.xml")
    for plan, generated_sheet in zip(plans, generated_book.sheets, strict=True):
        if plan.part is None:
            plan.part = package.free_name(sheet_pattern)
            package.write(plan.part, b"")  # reserve the name before the next tab picks one
            plan.index = workbook.add_sheet(plan.title, plan.part)
        source = generated_sheet.part or ""
        sheet_xml = restyle_sheet(generated.read(source) or b"", xf_map, mimic)
        if plan.old_rows is not None and plan.model.kept is not None:
            spliced = splice_rows(sheet_xml, plan.old_rows, plan.model.kept.first_row)
            if spliced is None:  # cannot happen after _keep_rows' checks; refuse, never guess
                raise CaseloopError(
                    f'caseloop could not keep the rows of the tab "{plan.title}"; nothing was '
                    "written; run again."
                )
            sheet_xml = spliced
        _copy_generated(
            generated,
            generated_types,
            source,
            package,
            content_types,
            plan.part,
            sheet_xml,
            workbook.folder,
        )
        content_types.set(plan.part, CT_WORKSHEET)
        workbook.set_filter_name(
            plan.index or 0, filter_formula(plan.title, plan.model.auto_filter)
        )
        workbook.set_mark(plan.index or 0, plan.model.kind)

    # Removed last, once every name of the kept tabs is written: later names move down with them.
    facts = _Moves(workbook, removed)
    workbook.remove_sheets(removed)
    for plan in plans:
        plan.index = facts.shift(plan.index or 0)
    # Old marks stay only for tabs that still exist and were not written now.
    written = {plan.title.casefold() for plan in plans}
    old_marks.keep_only({sheet.name.casefold() for sheet in workbook.sheets} - written)
    if recalculate:
        workbook.request_full_calc()
    styles.save()
    workbook.save()
    content_types.ensure_default("rels", CT_RELATIONSHIPS)
    content_types.save()

    own_names = {
        (name.casefold(), str(plan.index)) for plan in plans for name in (FILTER_NAME, MARK_NAME)
    }
    dropped_rels = {(workbook.rels_name.casefold(), rel_id) for rel_id in workbook.removed_rels}

    expected = facts.expected(before)

    def check(after: Facts | None) -> None:
        check_kept(expected, after, package.dropped, dropped_rels, own_names)

    check(package_facts(package))
    start = out.tell() if out.seekable() else None
    package.write_to(out)
    if start is not None and out.readable():
        # Read the zip back as a reader will: its small XML parts only, never the copied members.
        end = out.tell()
        out.seek(start)
        check(_written_facts(out))
        out.seek(end)


def _keep_rows(
    package: Package, model: SheetModel, old_title: str, part: str | None
) -> OldRows | None:
    """The old rows ``model`` keeps (``KeptRows``) when the tab it replaces is the one they
    were read from, as read; the model's auto-filter then reaches its last new row."""
    kept = model.kept
    if kept is None or part is None or old_title != kept.source_title:
        return None
    old = old_rows(package.read(part) or b"", kept)
    if old is None:
        return None
    # The namespaces must fit the generated part's (xlsxwriter declares these two).
    if old.declarations.get(b"") != _MAIN or old.declarations.get(b"r", _RELS) != _RELS:
        return None
    f = model.auto_filter
    if f is not None:
        last = old.last_row - 1 + len(model.rows) - kept.first_row
        model.auto_filter = Range(f.first_row, f.first_col, last, f.last_col)
    return old


_MAIN = b"http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELS = b"http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def _written_facts(out: BinaryIO) -> Facts | None:
    try:
        written = Package(out)
    except CaseloopError:
        return None
    return package_facts(written)


def _copy_whole(source: Source, out: BinaryIO) -> None:
    """The workbook as it is: nothing to splice into it."""
    if isinstance(source, bytes | bytearray | memoryview):
        out.write(source)
    elif isinstance(source, str | os.PathLike):
        with open(source, "rb") as stream:
            shutil.copyfileobj(stream, out, COPY_CHUNK)
    else:
        source.seek(0)
        shutil.copyfileobj(source, out, COPY_CHUNK)


def _team_reads_tabs(package: Package, workbook: WorkbookPart, plans: list[_Plan]) -> bool:
    """Whether a team part (formula, defined name, chart...) refers to one of the generated tabs."""
    titles = {title for plan in plans for title in (plan.title, plan.model.title)}
    indices = {plan.index for plan in plans if plan.index is not None}
    parts = {plan.part for plan in plans if plan.part}
    return bool(_tabs_read_by_team(package, workbook, titles, indices, parts, first_only=True))


def _tabs_read_by_team(
    package: Package,
    workbook: WorkbookPart,
    titles: set[str],
    indices: set[int],
    parts: set[str],
    *,
    first_only: bool = False,
) -> set[str]:
    """The ``titles`` (folded) a team part refers to: a formula, a defined name, a chart...

    The names caseloop keeps for the tabs at ``indices`` and the ``parts`` of caseloop's tabs
    (with what they refer to) are not the team's; ``first_only`` stops at the first found.
    """
    needles: dict[bytes, str] = {}
    for title in titles:
        escaped = escape(title).encode("utf-8")
        quoted = escape(title.replace("'", "''")).encode("utf-8")
        for needle in (escaped + b"!", b"'" + quoted + b"'!", b"&apos;" + quoted + b"&apos;!"):
            needles[needle.lower()] = title.casefold()
    if not needles:
        return set()
    pattern = re.compile(b"|".join(re.escape(n) for n in needles), re.IGNORECASE)
    found: set[str] = set()

    def done() -> bool:
        return bool(found) if first_only else len(found) == len(set(needles.values()))

    # The workbook's own names, without the ones caseloop keeps for its tabs.
    local = {str(index) for index in indices}
    for name, scope, value in workbook.names:
        ours = name.casefold() in (FILTER_NAME.casefold(), MARK_NAME.casefold()) and scope in local
        if not ours:
            found |= {
                needles[m.group(0).lower()] for m in pattern.finditer(escape(value).encode("utf-8"))
            }
            if done():
                return found
    skip = set()
    for part in parts:
        skip |= {p.casefold() for p in part_closure(package, part)}
    skip |= {workbook.part.casefold(), ContentTypes.NAME.casefold()}
    width = max(len(n) for n in needles)
    for key in sorted(package.names()):
        if key in skip or not key.endswith(".xml") or key.startswith("docprops/"):
            continue
        found |= {needles[hit] for hit in _stream_finds(package, key, pattern, width)}
        if done():
            return found
    return found


def _place(
    package: Package, workbook: WorkbookPart, old_marks: OldMarks, tabs: list[SheetModel]
) -> tuple[list[tuple[int, Sheet] | None], set[int]]:
    """Where each tab goes (``ports.plan_tab``): the existing tab it rewrites, if any, and the
    indices of caseloop's stale tabs of the same kind to remove. Each model's ``title`` becomes
    its tab's name.

    A tab a team part reads by name keeps its name and stays: renaming or removing it would
    break that formula, chart or name. A structure-locked workbook keeps every name and tab.
    """

    def found(index: int, sheet: Sheet, model: SheetModel) -> str | None:
        if sheet.rel_type != REL_WORKSHEET or sheet.part is None:
            return TEAM_TAB  # a chart or dialog sheet is never caseloop's to write
        kind = workbook.mark_of(index)
        if kind is None and sheet.name.casefold() == model.title.casefold():
            old = old_marks.kind_of(sheet.name)
            if old is not None and carries_content(package, workbook, sheet.part, model):
                kind = old
        return TEAM_TAB if kind is None else kind

    listed = [
        [(sheet.name, found(index, sheet, model)) for index, sheet in enumerate(workbook.sheets)]
        for model in tabs
    ]

    def plan(pinned: set[str]) -> list[TabPlan]:
        return [
            plan_tab(model.title, model.kind, model.default_titles, found_tabs, pinned)
            for model, found_tabs in zip(tabs, listed, strict=True)
        ]

    plans = plan(set())
    moving = {
        name
        for p in plans
        for name in (*p.remove, *([p.existing] if p.existing not in (None, p.title) else []))
    }
    if moving:
        if workbook.structure_locked:
            pinned = {name.casefold() for name in moving}
        else:
            marked = set(workbook.marks)
            parts = {workbook.sheets[index].part or "" for index in marked}
            pinned = _tabs_read_by_team(package, workbook, moving, marked, parts - {""})
        if pinned:
            plans = plan(pinned)
    placed: list[tuple[int, Sheet] | None] = []
    removed: set[int] = set()
    for model, p in zip(tabs, plans, strict=True):
        model.title = p.title
        placed.append(workbook.find(p.existing) if p.existing is not None else None)
        for name in p.remove:
            hit = workbook.find(name)
            if hit is not None:
                removed.add(hit[0])
    return placed, removed


class _Moves:
    """How removing tabs moves the others, for the check against the original."""

    def __init__(self, workbook: WorkbookPart, removed: set[int]) -> None:
        self.removed = removed
        # (sheetId, rel id) -> the name after the splice, for every tab kept.
        self.renamed = {
            (str(sheet.sheet_id), sheet.rel_id): sheet.name
            for index, sheet in enumerate(workbook.sheets)
            if index not in removed
        }
        self.gone = {
            (str(workbook.sheets[index].sheet_id), workbook.sheets[index].rel_id)
            for index in removed
        }

    def shift(self, index: int) -> int:
        return index - sum(1 for gone in self.removed if gone < index)

    def expected(self, before: Facts | None) -> Facts | None:
        """The original's facts as the splice must leave them: tabs renamed or removed by
        caseloop, and the names scoped to tabs that moved, at their new positions."""
        if before is None:
            return None
        tabs = set()
        for name, sheet_id, rel_id in before["tab"]:
            if (sheet_id, rel_id) in self.gone:
                continue
            tabs.add((self.renamed.get((sheet_id, rel_id), name), sheet_id, rel_id))
        names = set()
        for name, scope, value in before["defined name"]:
            if scope is not None and scope.strip().isdigit():
                if int(scope) in self.removed:
                    continue
                scope = str(self.shift(int(scope)))
            names.add((name, scope, value))
        return {**before, "tab": tabs, "defined name": names}


def _stream_finds(
    package: Package, name: str, pattern: re.Pattern[bytes], width: int
) -> set[bytes]:
    """What of ``pattern`` member ``name`` contains (lower-cased), read in chunks so memory stays flat."""
    hits: set[bytes] = set()
    tail = b""
    with package.open(name) as stream:
        if stream is None:
            return hits
        while chunk := stream.read(COPY_CHUNK):
            data = tail + chunk
            hits |= {match.group(0).lower() for match in pattern.finditer(data)}
            tail = data[-width:]
    return hits
