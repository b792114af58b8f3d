"""Keep the rows of a generated tab being replaced as they are (``model.KeptRows``): the new
sheet part is the generated one with the old part's rows spliced in before the new rows.

A year of History is tens of thousands of rows; rendering them again through xlsxwriter on
every sync cost several times the sync itself. The old rows are copied as bytes instead: they
were written by caseloop (or saved by an office suite since) into this very workbook, so their
shared-string and style indices still hold. Anything unexpected in the old part (rows without
row numbers, hidden or filtered rows, another last row than the one read, a namespace clash)
means no copy: the caller renders the whole tab instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ...model import KeptRows

_ROW = re.compile(rb'<row\b[^>]*?\sr="(\d+)"')
_ROOT = re.compile(rb"<worksheet\b[^>]*>")
_DECLARATION = re.compile(rb'\sxmlns(?::([\w.-]+))?="([^"]*)"')
_IGNORABLE = re.compile(rb'\smc:Ignorable="[^"]*"')
_NEW_ROW = re.compile(rb'(<row r=")(\d+)(")')
_NEW_CELL = re.compile(rb'(<c r="[A-Z]+)(\d+)(")')
_DIMENSION = re.compile(rb'(<dimension ref="[A-Z]+\d+:[A-Z]+)(\d+)(")')
_HIDDEN = re.compile(rb"""\shidden=["'](?:1|true)["']""")


@dataclass(frozen=True)
class OldRows:
    """The rows of the old sheet part that are kept, as bytes, and what they need."""

    rows: bytes  # from the first kept <row> to the last, as they are
    last_row: int  # 1-based sheet row of the last one
    declarations: dict[bytes, bytes]  # prefix -> namespace of the old part's root ("" default)
    ignorable: bytes | None  # the root's mc:Ignorable attribute, if any


def _root_of(xml: bytes) -> tuple[re.Match[bytes], dict[bytes, bytes]] | None:
    root = _ROOT.search(xml, 0, 4096)
    if root is None:
        return None
    return root, {(m.group(1) or b""): m.group(2) for m in _DECLARATION.finditer(root.group(0))}


def old_rows(xml: bytes, kept: KeptRows) -> OldRows | None:
    """The rows from ``kept.first_row`` on of the old sheet part ``xml``, or None when they
    cannot be kept as they are."""
    found = _root_of(xml)
    if found is None:
        return None  # a prefixed root (<x:worksheet>): its rows are prefixed too
    root, declarations = found
    open_at = xml.find(b"<sheetData", root.end())
    if open_at < 0:
        return None
    open_end = xml.index(b">", open_at) + 1
    close = xml.find(b"</sheetData>", open_end)
    if xml[open_end - 2 : open_end] == b"/>" or close < 0:
        return None  # no rows at all: nothing read to keep
    start = None
    for match in _ROW.finditer(xml, open_end, close):
        if int(match.group(1)) > kept.first_row:
            start = match.start()
            break
    last = _ROW.match(xml, xml.rfind(b"<row", open_end, close))
    if start is None or last is None or int(last.group(1)) != kept.last_row:
        return None  # not the rows that were read
    rows = xml[start:close]
    if b"hidden=" in rows and _HIDDEN.search(rows):
        return None  # rows a filter hid: the new tab's filter starts clear, so show them
    ignorable = _IGNORABLE.search(root.group(0))
    return OldRows(rows, kept.last_row, declarations, ignorable.group(0) if ignorable else None)


def splice_rows(generated: bytes, old: OldRows, first_row: int) -> bytes | None:
    """The generated sheet part with ``old``'s rows after its first ``first_row`` rows and its
    own rows below them, renumbered; None when the namespaces of the two parts clash."""
    found = _root_of(generated)
    data_at = generated.find(b"<sheetData")
    close = generated.find(b"</sheetData>")
    if found is None or data_at < 0 or close < 0:
        return None
    root, declarations = found
    extra = b""
    for prefix, namespace in old.declarations.items():
        if prefix not in declarations:
            extra += b' xmlns:%s="%s"' % (prefix, namespace) if prefix else b""
        elif declarations[prefix] != namespace:
            return None
    if b"" not in old.declarations or old.declarations[b""] != declarations.get(b""):
        return None
    if old.ignorable and b"mc:Ignorable" not in root.group(0):
        extra += old.ignorable
    head = generated[: root.end() - 1] + extra + generated[root.end() - 1 : data_at]
    body = generated[data_at:close]
    new_at = None
    for match in _NEW_ROW.finditer(body):
        if int(match.group(2)) > first_row:
            new_at = match.start()
            break
    new = body[new_at:] if new_at is not None else b""
    body = body[:new_at] if new_at is not None else body
    shift = old.last_row - first_row
    count = len(_NEW_ROW.findall(new))

    def moved(match: re.Match[bytes]) -> bytes:
        return match.group(1) + str(int(match.group(2)) + shift).encode() + match.group(3)

    new = _NEW_CELL.sub(moved, _NEW_ROW.sub(moved, new))
    last = old.last_row + count
    head = _DIMENSION.sub(lambda m: m.group(1) + str(last).encode() + m.group(3), head, count=1)
    return head + body + old.rows + new + generated[close:]
