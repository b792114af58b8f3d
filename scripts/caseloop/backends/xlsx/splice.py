"""Splice caseloop's generated tabs into a team's .xlsx/.xlsm, copying every other zip member as is.

The caseloop mark is a hidden defined name scoped to the tab, ``_caseloop_tab``, whose value is
the tab's kind (``"status"``): Excel and LibreOffice both move a sheet-scoped name with its
sheet when it is renamed or moved and drop it when the sheet is deleted (LibreOffice 7.4 checked
in tests), so a team tab made later under the same title is never taken for caseloop's. The
custom document property ``caseloop:<title>`` of earlier versions is still read, but trusted
only while the tab holds caseloop's header row; a tab written now loses that property.

Only these members may change: the generated sheets with their drawings, charts and ``_rels``
(placed beside the workbook part, wherever it is); the workbook part and its ``_rels``;
``[Content_Types].xml``; the styles part (appended to, never reordered); ``docProps/custom.xml``
(old marks removed); and the calc chain is dropped only when it lists cells of a generated tab
being replaced. Every textual edit honours the part's namespace prefixes, and the result is
compared with the original before it is returned. Every other member keeps its compressed
bytes; only its zip headers are written anew.
"""

from __future__ import annotations

import copy
import datetime as dt
import io
import math
import posixpath
import re
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from urllib.parse import quote, unquote

import xlsxwriter
from lxml import etree
from xlsxwriter.exceptions import XlsxWriterException

from ...errors import CaseloopError, RefusedError
from ...model import Cell, Chart, SheetModel, Style
from ...ports import TEAM_TAB, check_may_write

NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
NS_DOC_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
NS_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
NS_CUSTOM = "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"
NS_VT = "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"
REL_OFFICE_DOCUMENT = NS_DOC_REL + "/officeDocument"
REL_WORKSHEET = NS_DOC_REL + "/worksheet"
REL_STYLES = NS_DOC_REL + "/styles"
REL_CALC_CHAIN = NS_DOC_REL + "/calcChain"
REL_SHARED_STRINGS = NS_DOC_REL + "/sharedStrings"
REL_CUSTOM = NS_DOC_REL + "/custom-properties"
CT_WORKSHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
CT_STYLES = "application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"
CT_CUSTOM = "application/vnd.openxmlformats-officedocument.custom-properties+xml"
CUSTOM_FMTID = "{D5CDD505-2E9C-101B-9397-08002B2CF9AE}"  # the one fmtid all custom properties use
MARK_PREFIX = "caseloop:"  # the custom-property mark of caseloop before issue 16 (still read)
MARK_NAME = "_caseloop_tab"  # the sheet-scoped defined name that marks caseloop's tabs
FILTER_NAME = "_xlnm._FilterDatabase"
# The elements CT_Workbook allows before calcPr, in order.
_BEFORE_CALC_PR = (
    "fileVersion",
    "fileSharing",
    "workbookPr",
    "workbookProtection",
    "bookViews",
    "sheets",
    "functionGroups",
    "externalReferences",
    "definedNames",
)
XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
DEFAULT_DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
DEFAULT_DATE_FORMAT = "yyyy-mm-dd"
BORDER_GREY = "#BFBFBF"
# Parts larger than this are deflated at level 1: for a 100k-row tab that is ~0.4 s faster than
# level 6 for a file ~20% larger, and the scheduled sync's speed matters more.
FAST_DEFLATE_ABOVE = 8 * 1024 * 1024
_ZIP32_LIMIT = 0xFFFFFFFF
# Excel itself stamps every member with the DOS epoch; doing the same keeps output reproducible.
_DOS_EPOCH = (1980, 1, 1, 0, 0, 0)

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
# XML allows either quote around an attribute value; producers use both.
_ATTR = re.compile(r"""([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_COUNT_ATTR = re.compile(r"""(\scount\s*=\s*)(["'])\d*\2""")


def _unbroken_error() -> CaseloopError:
    return CaseloopError(
        "The workbook is not a readable .xlsx or .xlsm file (it may be damaged, "
        "password-protected or in another format); open it in Excel and save it again."
    )


# --- the zip container ---------------------------------------------------------------------


class _Package:
    """The zip as parts: reads members, records changes, and writes a new zip with raw copies."""

    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(data))
            self.infos = self.zip.infolist()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            raise _unbroken_error() from None
        # OPC part names are case-insensitive, so every lookup goes through the folded name.
        self.original = {info.filename.casefold(): info for info in self.infos}
        self.changed: dict[str, tuple[str, bytes]] = {}
        self.removed: set[str] = set()
        self.dropped: set[str] = set()  # every original member caseloop removed, even if rewritten

    def has(self, name: str) -> bool:
        key = name.casefold()
        return key in self.changed or (key in self.original and key not in self.removed)

    def read(self, name: str) -> bytes | None:
        key = name.casefold()
        if key in self.changed:
            return self.changed[key][1]
        info = self.original.get(key)
        if info is None or key in self.removed:
            return None
        try:
            return self.zip.read(info)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
            raise _unbroken_error() from None

    def write(self, name: str, content: bytes) -> None:
        key = name.casefold()
        self.removed.discard(key)
        stored_name = self.original[key].filename if key in self.original else name
        self.changed[key] = (stored_name, content)

    def remove(self, name: str) -> None:
        key = name.casefold()
        self.changed.pop(key, None)
        if key in self.original:
            self.removed.add(key)
            self.dropped.add(key)

    def names(self) -> set[str]:
        """Folded names of every member the output will hold."""
        kept = {key for key in self.original if key not in self.removed}
        return kept | set(self.changed)

    def free_name(self, pattern: str, taken: set[str] | None = None) -> str:
        """The first ``pattern.format(n)`` (n = 1, 2, ...) that names no member."""
        used = self.names() | (taken or set())
        n = 1
        while pattern.format(n).casefold() in used:
            n += 1
        return pattern.format(n)

    def to_bytes(self) -> bytes:
        writer = _ZipWriter()
        for info in self.infos:
            key = info.filename.casefold()
            if key in self.removed:
                continue
            if key in self.changed:
                name, content = self.changed.pop(key)
                writer.add_new(name, content)
            else:
                writer.add_raw(self.data, info)
        for name, content in self.changed.values():
            writer.add_new(name, content)
        return writer.finish(self.zip.comment)


def _strip_zip64(extra: bytes) -> bytes:
    """Extra fields without the zip64 one: the sizes it carried go into the plain headers."""
    kept = bytearray()
    pos = 0
    while pos + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, pos)
        if tag != 0x0001:
            kept += extra[pos : pos + 4 + size]
        pos += 4 + size
    return bytes(kept)


def _dos_time(date_time: tuple[int, int, int, int, int, int]) -> tuple[int, int]:
    year, month, day, hour, minute, second = date_time
    return (hour << 11) | (minute << 5) | (second // 2), ((year - 1980) << 9) | (month << 5) | day


class _ZipWriter:
    """Writes local headers, data and the central directory; copied data is never re-deflated."""

    def __init__(self) -> None:
        self.chunks: list[bytes | memoryview] = []
        self.central: list[bytes] = []
        self.offset = 0

    def _emit(self, local: bytes, data: bytes | memoryview, central: bytes) -> None:
        if self.offset > _ZIP32_LIMIT:
            raise CaseloopError("The workbook would be larger than 4 GB; caseloop cannot write it.")
        self.chunks += [local, data]
        self.central.append(central)
        self.offset += len(local) + len(data)

    def add_raw(self, source: memoryview, info: zipfile.ZipInfo) -> None:
        start = info.header_offset
        head = bytes(source[start : start + 30])
        if len(head) < 30 or head[:4] != b"PK\x03\x04":
            raise _unbroken_error()
        name_len, extra_len = struct.unpack("<HH", head[26:30])
        name = bytes(source[start + 30 : start + 30 + name_len])
        local_extra = _strip_zip64(
            bytes(source[start + 30 + name_len : start + 30 + name_len + extra_len])
        )
        data_start = start + 30 + name_len + extra_len
        data = source[data_start : data_start + info.compress_size]
        if len(data) != info.compress_size or info.flag_bits & 0x1:
            raise _unbroken_error()
        # Bit 3 says "sizes follow the data in a descriptor"; the sizes now sit in the header and
        # the descriptor is not copied, so the bit must go.
        flags = info.flag_bits & ~0x08
        dostime, dosdate = _dos_time(info.date_time)
        self._entry(
            name,
            flags,
            info.compress_type,
            dostime,
            dosdate,
            info.CRC,
            info.compress_size,
            info.file_size,
            data,
            local_extra=local_extra,
            central_extra=_strip_zip64(info.extra),
            comment=info.comment,
            version_made=(info.create_system << 8) | info.create_version,
            version_needed=info.extract_version,
            internal_attr=info.internal_attr,
            external_attr=info.external_attr,
        )

    def add_new(self, name: str, content: bytes) -> None:
        level = 1 if len(content) > FAST_DEFLATE_ABOVE else 6
        deflater = zlib.compressobj(level, zlib.DEFLATED, -15)
        data = deflater.compress(content) + deflater.flush()
        try:
            encoded, flags = name.encode("ascii"), 0
        except UnicodeEncodeError:
            encoded, flags = name.encode("utf-8"), 0x800
        dostime, dosdate = _dos_time(_DOS_EPOCH)
        self._entry(
            encoded,
            flags,
            zipfile.ZIP_DEFLATED,
            dostime,
            dosdate,
            zlib.crc32(content),
            len(data),
            len(content),
            data,
        )

    def _entry(
        self,
        name: bytes,
        flags: int,
        method: int,
        dostime: int,
        dosdate: int,
        crc: int,
        compressed_size: int,
        size: int,
        data: bytes | memoryview,
        *,
        local_extra: bytes = b"",
        central_extra: bytes = b"",
        comment: bytes = b"",
        version_made: int = 20,
        version_needed: int = 20,
        internal_attr: int = 0,
        external_attr: int = 0,
    ) -> None:
        if compressed_size > _ZIP32_LIMIT or size > _ZIP32_LIMIT:
            raise CaseloopError(
                "A part of the workbook is larger than 4 GB; caseloop cannot write it."
            )
        if version_needed == 45:  # zip64 is gone from this entry
            version_needed = 20
        # The fields both headers share, in the order both hold them.
        shared = (flags, method, dostime, dosdate, crc, compressed_size, size, len(name))
        local = struct.pack("<4s5H3L2H", b"PK\x03\x04", version_needed, *shared, len(local_extra))
        central = struct.pack(
            "<4s6H3L5H2L",
            b"PK\x01\x02",
            version_made,
            version_needed,
            *shared,
            len(central_extra),
            len(comment),
            0,  # disk number
            internal_attr,
            external_attr,
            self.offset,
        )
        self._emit(local + name + local_extra, data, central + name + central_extra + comment)

    def finish(self, comment: bytes) -> bytes:
        if len(self.central) > 0xFFFF:
            raise CaseloopError("The workbook has too many parts for caseloop to write.")
        directory = b"".join(self.central)
        end = struct.pack(
            "<4s4H2LH",
            b"PK\x05\x06",
            0,
            0,
            len(self.central),
            len(self.central),
            len(directory),
            self.offset,
            len(comment),
        )
        return b"".join([*self.chunks, directory, end, comment])


# --- XML helpers ---------------------------------------------------------------------------


def _parse(data: bytes, part: str) -> etree._Element:
    try:
        return etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError:
        raise CaseloopError(
            f"The workbook part {part} is not well-formed XML; open the file in Excel and save it again."
        ) from None


def _text(data: bytes, part: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CaseloopError(
            f"The workbook part {part} is not UTF-8 encoded; open the file in Excel and save it again."
        ) from None


def _escape(value: str) -> str:
    return (
        value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def _string_constant(formula: str) -> str | None:
    """The text of a formula that is one string constant (``"status"``), else None."""
    formula = formula.strip().removeprefix("=")
    if len(formula) >= 2 and formula[0] == formula[-1] == '"':
        inner = formula[1:-1]
        if '"' not in inner.replace('""', ""):
            return inner.replace('""', '"')
    return None


def _attrs(tag_text: str) -> dict[str, str]:
    """The attributes of one start tag, by local name (prefixes dropped), still XML-escaped."""
    return {
        name.split(":")[-1]: double or single for name, double, single in _ATTR.findall(tag_text)
    }


def _prefix_of(root: etree._Element, namespace: str) -> str | None:
    """The prefix ``namespace`` is bound to on the root ("" when it is the default namespace)."""
    for prefix, uri in root.nsmap.items():
        if uri == namespace:
            return prefix or ""
    return None


def _qualified(tag: str, prefix: str) -> str:
    return f"{prefix}:{tag}" if prefix else tag


def _with_prefix(snippet: str, prefix: str) -> str:
    """Unprefixed elements of ``snippet`` renamed into the document's prefix for its namespace."""
    if not prefix:
        return snippet
    return re.sub(r"<(/?)(?=[A-Za-z_])(?![\w.-]+:)", rf"<\1{prefix}:", snippet)


def _insert_in(
    text: str, tag: str, prefix: str, snippet: str, count: int | None = None
) -> str | None:
    """``snippet`` added at the end of the first ``<tag>`` element (and its count set), or None."""
    name = _qualified(tag, prefix)
    start = re.search(rf"<{re.escape(name)}(?=[\s/>])([^>]*?)(/?)>", text)
    if start is None:
        return None
    attrs = start.group(1)
    if count is not None and _COUNT_ATTR.search(attrs):
        attrs = _COUNT_ATTR.sub(rf"\g<1>\g<2>{count}\g<2>", attrs)
    if start.group(2):  # <tag/>: open it up
        return f"{text[: start.start()]}<{name}{attrs}>{snippet}</{name}>{text[start.end() :]}"
    end = re.compile(rf"</{re.escape(name)}\s*>").search(text, start.end())
    if end is None:
        return None
    close = end.start()
    return (
        f"{text[: start.start()]}<{name}{attrs}>{text[start.end() : close]}{snippet}{text[close:]}"
    )


def _element_key(element: etree._Element) -> tuple:
    """A comparable form of an element: same key means same meaning, whatever the prefixes or order of attributes."""
    children = tuple(_element_key(child) for child in element if isinstance(child.tag, str))
    return (
        element.tag,
        tuple(sorted(element.attrib.items())),
        (element.text or "").strip(),
        children,
    )


def _snippet(element: etree._Element, prefix: str) -> str:
    text = etree.tostring(element, encoding="unicode", with_tail=False)
    return _with_prefix(text.replace(f' xmlns="{NS_MAIN}"', ""), prefix)


# --- relationships and content types ---------------------------------------------------------


@dataclass(frozen=True)
class _Rel:
    id: str
    type: str
    target: str
    part: str | None  # the resolved member name for internal targets


def _rels_name(part: str) -> str:
    folder, base = posixpath.split(part)
    return posixpath.join(folder, "_rels", f"{base}.rels")


def _resolve(source_part: str, target: str) -> str:
    target = unquote(target.split("#")[0])
    if target.startswith("/"):
        return posixpath.normpath(target.lstrip("/"))
    return posixpath.normpath(posixpath.join(posixpath.dirname(source_part), target))


def _read_rels(package: _Package, part: str) -> list[_Rel]:
    name = _rels_name(part)
    data = package.read(name)
    if data is None:
        return []
    rels = []
    for element in _parse(data, name).iter(f"{{{NS_PKG_REL}}}Relationship"):
        target = element.get("Target", "")
        external = element.get("TargetMode", "Internal") == "External"
        rels.append(
            _Rel(
                id=element.get("Id", ""),
                type=element.get("Type", ""),
                target=target,
                part=None if external or not target else _resolve(part, target),
            )
        )
    return rels


def _rels_xml(rels: Iterable[tuple[str, str, str, bool]]) -> bytes:
    items = "".join(
        f'<Relationship Id="{_escape(rid)}" Type="{_escape(rtype)}" Target="{_escape(target)}"'
        + (' TargetMode="External"' if external else "")
        + "/>"
        for rid, rtype, target, external in rels
    )
    return (
        XML_DECLARATION + f'<Relationships xmlns="{NS_PKG_REL}">{items}</Relationships>'
    ).encode()


def _element_pattern(tag: str) -> str:
    """A regex for one whole ``tag`` element under any prefix, empty or not; group 1 is its attributes."""
    return rf"<(?:[\w.-]+:)?{tag}\b([^>]*?)(?:/>|(?<!/)>.*?</(?:[\w.-]+:)?{tag}\s*>)"


def _add_relationship(
    text: str, rels_name: str, rel_id: str, rel_type: str, target: str, external: bool = False
) -> str:
    """``text`` (a relationships part, maybe empty) with one more relationship, in its own prefix."""
    if not text.strip():
        return _rels_xml([(rel_id, rel_type, target, external)]).decode()
    root = _parse(text.encode("utf-8"), rels_name)
    if etree.QName(root).namespace != NS_PKG_REL:
        raise _unbroken_error()
    # Old openpyxl wrote <ns0:Relationships xmlns:ns0=...>: an unprefixed entry would be in no
    # namespace and every reader would skip it, or worse, the part would be thrown away.
    prefix = root.prefix or ""
    entry = (
        f'<{_qualified("Relationship", prefix)} Id="{_escape(rel_id)}" Type="{_escape(rel_type)}" '
        f'Target="{_escape(target)}"' + (' TargetMode="External"' if external else "") + "/>"
    )
    edited = _insert_in(text, "Relationships", prefix, entry)
    if edited is None:
        raise _unbroken_error()
    return edited


def _remove_relationship(text: str, rel_id: str) -> str:
    def drop(match: re.Match[str]) -> str:
        return "" if _attrs(match.group(1)).get("Id") == rel_id else match.group(0)

    return re.sub(_element_pattern("Relationship"), drop, text, flags=re.S)


def _relative(source_part: str, target_part: str) -> str:
    return quote(
        posixpath.relpath(target_part, posixpath.dirname(source_part) or "."), safe="/._-~"
    )


def _part_closure(package: _Package, part: str) -> list[str]:
    """Every internal part reachable from ``part`` through relationships, ``part`` first."""
    seen: list[str] = []
    queue = [part]
    folded: set[str] = set()
    while queue:
        current = queue.pop(0)
        if current.casefold() in folded or not package.has(current):
            continue
        folded.add(current.casefold())
        seen.append(current)
        queue += [rel.part for rel in _read_rels(package, current) if rel.part]
    return seen


class _ContentTypes:
    """[Content_Types].xml, edited as text: Overrides added and removed, nothing else touched."""

    NAME = "[Content_Types].xml"

    def __init__(self, package: _Package) -> None:
        data = package.read(self.NAME)
        if data is None:
            raise _unbroken_error()
        self.package = package
        self.text = _text(data, self.NAME)
        self.original = self.text
        root = _parse(data, self.NAME)
        self.prefix = root.prefix or ""
        self.overrides = {
            unquote(element.get("PartName", "")).casefold(): element.get("ContentType", "")
            for element in root
            if etree.QName(element).localname == "Override"
        }
        self.defaults = {
            element.get("Extension", "").casefold()
            for element in root
            if etree.QName(element).localname == "Default"
        }

    def type_of(self, part: str) -> str | None:
        return self.overrides.get(f"/{part}".casefold())

    def set(self, part: str, content_type: str) -> None:
        if self.type_of(part) == content_type:
            return
        self.remove(part)
        tag = _qualified("Override", self.prefix)
        entry = f'<{tag} PartName="/{_escape(part)}" ContentType="{_escape(content_type)}"/>'
        edited = _insert_in(self.text, "Types", self.prefix, entry)
        if edited is None:
            raise _unbroken_error()
        self.text = edited
        self.overrides[f"/{part}".casefold()] = content_type

    def remove(self, part: str) -> None:
        key = f"/{part}".casefold()
        if key not in self.overrides:
            return
        del self.overrides[key]

        def drop(match: re.Match[str]) -> str:
            part_name = unquote(_attrs(match.group(1)).get("PartName", ""))
            return "" if part_name.casefold() == key else match.group(0)

        self.text = re.sub(_element_pattern("Override"), drop, self.text, flags=re.S)

    def ensure_default(self, extension: str, content_type: str) -> None:
        if extension in self.defaults:
            return
        tag = _qualified("Default", self.prefix)
        entry = f'<{tag} Extension="{extension}" ContentType="{content_type}"/>'
        edited = _insert_in(self.text, "Types", self.prefix, entry)
        if edited is None:
            raise _unbroken_error()
        self.text = edited
        self.defaults.add(extension)

    def save(self) -> None:
        if self.text != self.original:
            self.package.write(self.NAME, self.text.encode("utf-8"))


# --- the workbook part -----------------------------------------------------------------------


@dataclass
class _Sheet:
    name: str
    sheet_id: int
    rel_id: str
    part: str | None
    rel_type: str


class _WorkbookPart:
    """xl/workbook.xml and its relationships: the tabs in order, and textual edits to both."""

    def __init__(self, package: _Package) -> None:
        self.package = package
        office = [
            rel for rel in _read_rels(package, "") if rel.type == REL_OFFICE_DOCUMENT and rel.part
        ]
        if not office:
            if any(rel.type.endswith("/officeDocument") for rel in _read_rels(package, "")):
                raise CaseloopError(
                    "The workbook is saved in the Strict Open XML format, which caseloop cannot "
                    "write into; save it from Excel as a regular Excel Workbook (.xlsx)."
                )
            raise _unbroken_error()
        self.part = office[0].part or "xl/workbook.xml"
        # New parts go beside the workbook part, wherever the producer put it (not always xl/).
        self.folder = posixpath.dirname(self.part)
        self.removed_rels: set[str] = set()
        data = package.read(self.part)
        if data is None:
            raise _unbroken_error()
        root = _parse(data, self.part)
        if etree.QName(root).namespace != NS_MAIN:
            raise _unbroken_error()
        self.text = _text(data, self.part)
        self.original = self.text
        self.prefix = root.prefix or ""
        self.rel_prefix = _prefix_of(root, NS_DOC_REL)
        properties = root.find(f"{{{NS_MAIN}}}workbookPr")
        self.date_1904 = properties is not None and properties.get("date1904", "0") in ("1", "true")
        protection = root.find(f"{{{NS_MAIN}}}workbookProtection")
        self.structure_locked = protection is not None and protection.get(
            "lockStructure", "0"
        ).strip() in ("1", "true")
        # Sheet index -> kind, from the sheet-scoped names that mark caseloop's tabs.
        self.marks: dict[int, str] = {}
        self.names: list[tuple[str, str | None, str]] = []
        for element in root.iterfind(f"{{{NS_MAIN}}}definedNames/{{{NS_MAIN}}}definedName"):
            name, local = element.get("name", ""), element.get("localSheetId")
            value = (element.text or "").strip()
            self.names.append((name, local, value))
            if name.casefold() == MARK_NAME.casefold() and local is not None and local.isdigit():
                kind = _string_constant(value)
                if kind is not None:
                    self.marks[int(local)] = kind
        self.rels = {rel.id: rel for rel in _read_rels(package, self.part)}
        self.rels_name = _rels_name(self.part)
        rels_data = package.read(self.rels_name) or b""
        self.rels_text = _text(rels_data, self.rels_name)
        self.rels_original = self.rels_text
        self.sheets: list[_Sheet] = []
        sheets = root.find(f"{{{NS_MAIN}}}sheets")
        for element in sheets if sheets is not None else []:
            if etree.QName(element).localname != "sheet":
                continue
            rel = self.rels.get(element.get(f"{{{NS_DOC_REL}}}id", ""))
            self.sheets.append(
                _Sheet(
                    name=element.get("name", ""),
                    sheet_id=int(element.get("sheetId", "0") or 0),
                    rel_id=rel.id if rel else "",
                    part=rel.part if rel else None,
                    rel_type=rel.type if rel else "",
                )
            )

    def find(self, title: str) -> tuple[int, _Sheet] | None:
        # Excel treats tab names that differ only in case as the same name.
        for index, sheet in enumerate(self.sheets):
            if sheet.name.casefold() == title.casefold():
                return index, sheet
        return None

    def rel_of(self, rel_type: str) -> _Rel | None:
        return next((rel for rel in self.rels.values() if rel.type == rel_type), None)

    def mark_of(self, index: int) -> str | None:
        """The kind caseloop's sheet-scoped name gives the tab at ``index``, if it carries one."""
        return self.marks.get(index)

    def add_sheet(self, title: str, part: str) -> int:
        """Append a tab (new relationship and ``<sheet>`` at the end); returns its index."""
        rel_id = self.add_rel(REL_WORKSHEET, part)
        sheet_id = max((sheet.sheet_id for sheet in self.sheets), default=0) + 1
        tag = _qualified("sheet", self.prefix)
        if self.rel_prefix:
            rid_attr = f'{self.rel_prefix}:id="{rel_id}"'
        else:
            rid_attr = f'xmlns:r="{NS_DOC_REL}" r:id="{rel_id}"'
        entry = f'<{tag} name="{_escape(title)}" sheetId="{sheet_id}" {rid_attr}/>'
        edited = _insert_in(self.text, "sheets", self.prefix, entry)
        if edited is None:
            raise _unbroken_error()
        self.text = edited
        self.sheets.append(_Sheet(title, sheet_id, rel_id, part, REL_WORKSHEET))
        return len(self.sheets) - 1

    def add_rel(self, rel_type: str, part: str) -> str:
        numbers = [int(m.group(1)) for rid in self.rels if (m := re.fullmatch(r"rId(\d+)", rid))]
        rel_id = f"rId{max(numbers, default=0) + 1}"
        while rel_id in self.rels:
            rel_id += "x"
        target = _relative(self.part, part)
        self.rels_text = _add_relationship(self.rels_text, self.rels_name, rel_id, rel_type, target)
        self.rels[rel_id] = _Rel(rel_id, rel_type, target, part)
        return rel_id

    def remove_rel(self, rel_id: str) -> None:
        self.rels.pop(rel_id, None)
        self.removed_rels.add(rel_id)
        self.rels_text = _remove_relationship(self.rels_text, rel_id)

    def set_filter_name(self, index: int, formula: str | None) -> None:
        """The hidden ``_xlnm._FilterDatabase`` name Excel keeps for a tab's auto-filter."""
        self._set_local_name(FILTER_NAME, index, formula)

    def set_mark(self, index: int, kind: str) -> None:
        """Mark the tab at ``index`` as caseloop's ``kind`` tab with a sheet-scoped hidden name."""
        self._set_local_name(MARK_NAME, index, '"' + kind.replace('"', '""') + '"')
        self.marks[index] = kind

    def _set_local_name(self, name: str, index: int, formula: str | None) -> None:
        """Replace the hidden name ``name`` scoped to the tab at ``index`` (None: just remove it)."""
        name_tag = _qualified("definedName", self.prefix)

        def drop(match: re.Match[str]) -> str:
            attrs = _attrs(match.group(1))
            ours = attrs.get("name", "").casefold() == name.casefold() and attrs.get(
                "localSheetId", ""
            ).strip() == str(index)
            return "" if ours else match.group(0)

        self.text = re.sub(
            rf"<{re.escape(name_tag)}\b([^>]*?)(?:/>|(?<!/)>.*?</{re.escape(name_tag)}\s*>)",
            drop,
            self.text,
            flags=re.S,
        )
        if formula is None:
            return
        entry = f'<{name_tag} name="{name}" localSheetId="{index}" hidden="1">{_escape(formula)}</{name_tag}>'
        edited = _insert_in(self.text, "definedNames", self.prefix, entry)
        if edited is None:
            # No <definedNames> yet: it belongs after <sheets>, functionGroups and externalReferences.
            ends = [
                match.end()
                for tag in ("sheets", "functionGroups", "externalReferences")
                for match in re.finditer(
                    rf"</{re.escape(_qualified(tag, self.prefix))}\s*>|<{re.escape(_qualified(tag, self.prefix))}\b[^>]*/>",
                    self.text,
                )
            ]
            if not ends:
                raise _unbroken_error()
            at = max(ends)
            defined = _qualified("definedNames", self.prefix)
            edited = f"{self.text[:at]}<{defined}>{entry}</{defined}>{self.text[at:]}"
        self.text = edited

    def request_full_calc(self) -> None:
        """Ask the office suite to recalculate on open: ``fullCalcOnLoad="1"`` on calcPr, nothing else."""
        calc = _qualified("calcPr", self.prefix)
        found = re.search(rf"<{re.escape(calc)}(?=[\s/>])([^>]*?)(/?)>", self.text)
        if found is not None:
            attrs = found.group(1)
            flag = re.compile(r"""(\sfullCalcOnLoad\s*=\s*)(["'])[^"']*\2""")
            if flag.search(attrs):
                attrs = flag.sub(r"\g<1>\g<2>1\g<2>", attrs)
            else:
                attrs += ' fullCalcOnLoad="1"'
            self.text = f"{self.text[: found.start()]}<{calc}{attrs}{found.group(2)}>{self.text[found.end() :]}"
            return
        # No calcPr yet: it goes right after the last of the elements the schema puts before it.
        ends = [
            match.end()
            for tag in _BEFORE_CALC_PR
            for match in re.finditer(
                rf"</{re.escape(_qualified(tag, self.prefix))}\s*>|<{re.escape(_qualified(tag, self.prefix))}(?=[\s/])[^>]*/>",
                self.text,
            )
        ]
        if not ends:
            raise _unbroken_error()
        at = max(ends)
        self.text = f'{self.text[:at]}<{calc} fullCalcOnLoad="1"/>{self.text[at:]}'

    def save(self) -> None:
        if self.text != self.original:
            self.package.write(self.part, self.text.encode("utf-8"))
        if self.rels_text != self.rels_original:
            self.package.write(self.rels_name, self.rels_text.encode("utf-8"))


# --- the old caseloop mark (custom document properties) --------------------------------------


class _Marks:
    """The ``caseloop:<title>`` custom document properties that marked caseloop's tabs before issue 16.

    They name a title, not a sheet, so they outlive the tab: a tab of that title is caseloop's
    only if it still holds caseloop's content (see ``_carries_content``). Each tab caseloop
    writes now gets the sheet-scoped name instead, and its old property is dropped.
    """

    def __init__(self, package: _Package) -> None:
        self.package = package
        custom = next(
            (rel for rel in _read_rels(package, "") if rel.type == REL_CUSTOM and rel.part), None
        )
        self.part = custom.part if custom else None
        self.text: str | None = None
        self.marks: dict[str, str] = {}  # folded title -> kind
        self.titles: dict[str, str] = {}
        if self.part is None:
            return
        data = package.read(self.part)
        if data is None:
            self.part = None
            return
        self.text = _text(data, self.part)
        root = _parse(data, self.part)
        for element in root:
            if not isinstance(element.tag, str) or etree.QName(element).localname != "property":
                continue
            name = element.get("name", "")
            if name.startswith(MARK_PREFIX):
                title = name[len(MARK_PREFIX) :]
                self.marks[title.casefold()] = "".join(element.itertext()).strip()
                self.titles[title.casefold()] = title

    def kind_of(self, title: str) -> str | None:
        return self.marks.get(title.casefold())

    def keep_only(self, titles: set[str]) -> None:
        """Drop every old mark but those of ``titles`` (folded); the part is left alone if none go."""
        if self.text is None or self.part is None or set(self.marks) <= titles:
            return
        root = _parse(self.text.encode("utf-8"), self.part)
        prefix = _prefix_of(root, NS_CUSTOM) or ""
        property_tag = _qualified("property", prefix)

        def drop(match: re.Match[str]) -> str:
            name = _attrs(match.group(1)).get("name", "")
            gone = name.startswith(_escape(MARK_PREFIX)) and (
                _unescape(name[len(MARK_PREFIX) :]).casefold() not in titles
            )
            return "" if gone else match.group(0)

        text = re.sub(
            rf"<{re.escape(property_tag)}\b([^>]*?)(?:/>|(?<!/)>.*?</{re.escape(property_tag)}\s*>)",
            drop,
            self.text,
            flags=re.S,
        )
        self.package.write(self.part, text.encode("utf-8"))


def _unescape(value: str) -> str:
    """An attribute value as read by a parser (the five predefined entities resolved)."""
    return (
        value.replace("&quot;", '"')
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
    )


# --- public read-only questions --------------------------------------------------------------


def tab_names(original: bytes) -> list[str]:
    """The workbook's tab names, in tab order."""
    return [sheet.name for sheet in _WorkbookPart(_Package(original)).sheets]


def generated_tabs(original: bytes) -> dict[str, str]:
    """The tabs carrying caseloop's sheet-scoped mark, title -> kind ("status", "weekly").

    Tabs marked only the old way (a custom property naming the title) are not listed: that mark
    cannot tell caseloop's tab from a team's tab of the same name until its content is checked,
    which ``splice_tabs`` does before writing over one (and then marks it the new way).
    """
    workbook = _WorkbookPart(_Package(original))
    return {
        sheet.name: workbook.marks[index]
        for index, sheet in enumerate(workbook.sheets)
        if index in workbook.marks
    }


# --- building the generated sheets with xlsxwriter -------------------------------------------


@dataclass(frozen=True)
class _FontDefaults:
    name: str = "Calibri"
    size: float = 11
    family: int | None = 2


class _FormatCache:
    """One xlsxwriter format per distinct Style, so the workbook holds each look once."""

    def __init__(self, workbook: xlsxwriter.Workbook, fonts: _FontDefaults) -> None:
        self.workbook = workbook
        self.fonts = fonts
        self.formats: dict[Style, object] = {}
        # Hashing a Style hashes all its fields; most cells share a few Style objects, so look
        # them up by identity first (the Style is kept alive here so its id cannot be reused).
        self.by_identity: dict[int, tuple[Style, object]] = {}

    def get(self, style: Style) -> object:
        known = self.by_identity.get(id(style))
        if known is not None:
            return known[1]
        found = self._by_value(style)
        self.by_identity[id(style)] = (style, found)
        return found

    def _by_value(self, style: Style) -> object:
        found = self.formats.get(style)
        if found is None:
            properties: dict[str, object] = {
                "font_name": self.fonts.name,
                "font_size": style.size or self.fonts.size,
            }
            if self.fonts.family is not None:
                properties["font_family"] = self.fonts.family
            if style.bg:
                properties.update(bg_color=style.bg, pattern=1)
            if style.font_color:
                properties["font_color"] = style.font_color
            if style.bold:
                properties["bold"] = True
            if style.italic:
                properties["italic"] = True
            if style.num_format:
                properties["num_format"] = style.num_format
            if style.wrap:
                properties.update(text_wrap=True, valign="top")
            if style.border:
                properties.update(border=1, border_color=BORDER_GREY)
            found = self.formats[style] = self.workbook.add_format(properties)
        return found


def _write_cells(sheet, rows: list[list[Cell]], formats: _FormatCache) -> bool:
    """Write every cell; True if some text contains ' s="' (see ``_restyle_sheet``)."""
    text_may_mimic = False
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            value, style = cell.value, cell.style
            kind = type(value)
            if kind is str:
                # write_string, never write(): text that starts with = + - @ stays text.
                sheet.write_string(r, c, value, formats.get(style) if style else None)
                text_may_mimic = text_may_mimic or ' s="' in value
            elif value is None:
                if style:
                    sheet.write_blank(r, c, None, formats.get(style))
            elif (kind is float or kind is int) and math.isfinite(value):
                sheet.write_number(r, c, value, formats.get(style) if style else None)
            else:
                _write_other(sheet, r, c, value, style, formats)
    return text_may_mimic


def _write_other(
    sheet, r: int, c: int, value: object, style: Style | None, formats: _FormatCache
) -> None:
    """The less common values: booleans, dates, NaN/NaT, numpy scalars, anything else as text."""
    if hasattr(value, "item") and callable(value.item):
        value = value.item()  # numpy scalars that pandas hands over
    if value is None or value != value or (isinstance(value, float) and math.isinf(value)):
        if style:
            sheet.write_blank(r, c, None, formats.get(style))
    elif isinstance(value, bool):
        sheet.write_boolean(r, c, value, formats.get(style) if style else None)
    elif isinstance(value, int | float):
        sheet.write_number(r, c, value, formats.get(style) if style else None)
    elif isinstance(value, dt.date):  # datetimes too
        style = style or Style()
        if not style.num_format:
            is_datetime = isinstance(value, dt.datetime)
            style = replace(
                style, num_format=DEFAULT_DATETIME_FORMAT if is_datetime else DEFAULT_DATE_FORMAT
            )
        sheet.write_datetime(r, c, value, formats.get(style))
    else:
        sheet.write_string(r, c, str(value), formats.get(style) if style else None)


def _quoted_sheet(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


def _add_chart(workbook: xlsxwriter.Workbook, sheet, title: str, chart: Chart) -> None:
    if not chart.series:
        return
    charts: dict[str, object] = {}
    for series in chart.series:
        target = charts.get(series.kind)
        if target is None:
            target = charts[series.kind] = workbook.add_chart({"type": series.kind})
        options: dict[str, object] = {
            "name": series.name,
            "categories": [
                title,
                chart.categories.first_row,
                chart.categories.first_col,
                chart.categories.last_row,
                chart.categories.last_col,
            ],
            "values": [
                title,
                series.values.first_row,
                series.values.first_col,
                series.values.last_row,
                series.values.last_col,
            ],
        }
        if series.color and series.kind == "column":
            options.update(fill={"color": series.color}, border={"color": series.color})
        elif series.color:
            options.update(line={"color": series.color, "width": 2.25}, marker={"type": "none"})
        target.add_series(options)
    first_kind = chart.series[0].kind
    primary = charts.pop(first_kind)
    for other in charts.values():
        primary.combine(other)
    primary.set_title({"name": chart.title})
    primary.set_legend({"position": "bottom"})
    if chart.y_title:
        primary.set_y_axis({"name": chart.y_title})
    primary.set_size({"width": chart.width_px, "height": chart.height_px})
    sheet.insert_chart(chart.anchor_row, chart.anchor_col, primary)


def _build(
    tabs: list[tuple[str, SheetModel]], fonts: _FontDefaults, date_1904: bool
) -> tuple[bytes, bool]:
    """An xlsxwriter workbook holding only the generated tabs, under their final titles.

    Also says whether some text contains ' s="' (see ``_restyle_sheet``).
    """
    buffer = io.BytesIO()
    # constant_memory makes xlsxwriter write strings inline (t="inlineStr"), which is what the
    # team's file needs anyway (its sharedStrings.xml must not change), and streams rows to disk.
    workbook = xlsxwriter.Workbook(
        buffer,
        {
            "constant_memory": True,
            "tmpdir": tempfile.gettempdir(),
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
            "date_1904": date_1904,
            "remove_timezone": True,
        },
    )
    formats = _FormatCache(workbook, fonts)
    text_may_mimic = False
    try:
        for title, model in tabs:
            sheet = workbook.add_worksheet(title)
            for col, width in enumerate(model.col_widths):
                sheet.set_column(col, col, width)
            if model.freeze_rows:
                sheet.freeze_panes(model.freeze_rows, 0)
            if model.auto_filter is not None:
                f = model.auto_filter
                sheet.autofilter(f.first_row, f.first_col, f.last_row, f.last_col)
            text_may_mimic = _write_cells(sheet, model.rows, formats) or text_may_mimic
            for chart in model.charts:
                _add_chart(workbook, sheet, title, chart)
        workbook.close()
    except XlsxWriterException as exc:
        raise CaseloopError(f"caseloop could not build the generated tabs: {exc}.") from None
    return buffer.getvalue(), text_may_mimic


# --- styles ----------------------------------------------------------------------------------

# The lists a cell format points into, in the order styles.xml must hold them, with how many of
# their first entries are fixed defaults every workbook has (font 0; fills "none" and "gray125";
# border 0): the generated sheet's defaults map onto the team's defaults by position.
_STYLE_LISTS = (
    ("fonts", "font", 1),
    ("fills", "fill", 2),
    ("borders", "border", 1),
    ("cellXfs", "xf", 1),
)
_STYLES_ORDER = (
    "numFmts",
    "fonts",
    "fills",
    "borders",
    "cellStyleXfs",
    "cellXfs",
    "cellStyles",
    "dxfs",
)


def _style_entries(container: etree._Element | None, item_tag: str) -> list[tuple]:
    """The entries of a styles list as Excel counts them: one per item or per AlternateContent.

    Hancell wraps some fonts and formats in ``mc:AlternateContent`` (a Choice and a Fallback);
    Excel takes one of the two, so the wrapper is one entry, and it is never reused for ours.
    """
    entries: list[tuple] = []
    for position, child in enumerate(() if container is None else container):
        if not isinstance(child.tag, str):
            continue
        name = etree.QName(child)
        if name.namespace == NS_MAIN and name.localname == item_tag:
            entries.append(_element_key(child))
        elif name.localname == "AlternateContent":
            entries.append(("AlternateContent", position))
    return entries


class _TeamStyles:
    """The team's styles.xml: entries are reused when identical and appended otherwise."""

    def __init__(self, package: _Package, workbook: _WorkbookPart) -> None:
        self.package = package
        rel = workbook.rel_of(REL_STYLES)
        self.part = rel.part if rel else None
        data = package.read(self.part) if self.part else None
        self.workbook = workbook
        self.text: str | None = None
        self.entries: dict[str, list[tuple]] = {}
        self.added: dict[str, list[str]] = {}
        self.num_formats: dict[str, int] = {}  # format code -> id
        self.num_format_ids: set[int] = set()
        self.num_format_count = 0
        self.prefix = ""
        self.fonts = _FontDefaults()
        if data is None:
            return
        self.text = _text(data, self.part or "")
        root = _parse(data, self.part or "")
        self.prefix = root.prefix or ""
        for list_tag, item_tag, _ in _STYLE_LISTS:
            container = root.find(f"{{{NS_MAIN}}}{list_tag}")
            self.entries[list_tag] = _style_entries(container, item_tag)
            first_font = None if container is None else container.find(f".//{{{NS_MAIN}}}font")
            if list_tag == "fonts" and first_font is not None:
                self.fonts = self._font_defaults(first_font)
        num_fmts = root.find(f"{{{NS_MAIN}}}numFmts")
        self.num_format_count = len(_style_entries(num_fmts, "numFmt"))
        # Ids inside an AlternateContent (Choice and Fallback alike) are taken too.
        for element in [] if num_fmts is None else num_fmts.iter(f"{{{NS_MAIN}}}numFmt"):
            if element.get("numFmtId", "").isdigit():
                self.num_format_ids.add(int(element.get("numFmtId", "0")))
                self.num_formats.setdefault(
                    element.get("formatCode", ""), int(element.get("numFmtId", "0"))
                )

    @staticmethod
    def _font_defaults(font: etree._Element) -> _FontDefaults:
        def val(tag: str) -> str | None:
            element = font.find(f"{{{NS_MAIN}}}{tag}")
            return None if element is None else element.get("val")

        size, family = val("sz"), val("family")
        try:
            return _FontDefaults(
                name=val("name") or "Calibri",
                size=float(size) if size else 11,
                family=int(family) if family and family.isdigit() else None,
            )
        except ValueError:
            return _FontDefaults()

    def merge(self, generated_styles: bytes, content_types: _ContentTypes) -> dict[int, int]:
        """Map the generated workbook's cellXfs indices onto the team's, appending what is new."""
        generated = _parse(generated_styles, "generated styles")
        xfs = generated.findall(f"{{{NS_MAIN}}}cellXfs/{{{NS_MAIN}}}xf")
        if self.text is None:
            # A workbook without a styles part (rare, from minimal generators): ours becomes it.
            self.part = self.package.free_name(posixpath.join(self.workbook.folder, "styles{}.xml"))
            self.package.write(self.part, generated_styles)
            content_types.set(self.part, CT_STYLES)
            self.workbook.add_rel(REL_STYLES, self.part)
            return {index: index for index in range(len(xfs))}
        num_map = self._merge_num_formats(generated)
        maps: dict[str, dict[int, int]] = {}
        for list_tag, item_tag, fixed in _STYLE_LISTS[:3]:
            items = generated.findall(f"{{{NS_MAIN}}}{list_tag}/{{{NS_MAIN}}}{item_tag}")
            maps[list_tag] = {
                index: self._place(list_tag, item, index, fixed) for index, item in enumerate(items)
            }
        xf_map = {}
        for index, xf in enumerate(xfs):
            xf = copy.deepcopy(xf)
            for attribute, mapping in (
                ("fontId", maps["fonts"]),
                ("fillId", maps["fills"]),
                ("borderId", maps["borders"]),
                ("numFmtId", num_map),
            ):
                value = int(xf.get(attribute, "0"))
                xf.set(attribute, str(mapping.get(value, value)))
            xf_map[index] = self._place("cellXfs", xf, index, 1)
        return xf_map

    def _merge_num_formats(self, generated: etree._Element) -> dict[int, int]:
        mapping = {}
        for element in generated.iterfind(f"{{{NS_MAIN}}}numFmts/{{{NS_MAIN}}}numFmt"):
            code, old_id = element.get("formatCode", ""), int(element.get("numFmtId", "0"))
            if code not in self.num_formats:
                # Custom number formats are numbered from 164 up; take the next id nobody uses.
                new_id = max([163, *self.num_format_ids]) + 1
                self.num_formats[code] = new_id
                self.num_format_ids.add(new_id)
                self.num_format_count += 1
                element = copy.deepcopy(element)
                element.set("numFmtId", str(new_id))
                self.added.setdefault("numFmts", []).append(_snippet(element, self.prefix))
            mapping[old_id] = self.num_formats[code]
        return mapping

    def _place(self, list_tag: str, item: etree._Element, index: int, fixed: int) -> int:
        entries = self.entries.setdefault(list_tag, [])
        if index < fixed and index < len(entries):
            return index
        key = _element_key(item)
        if key in entries:
            return entries.index(key)
        entries.append(key)
        self.added.setdefault(list_tag, []).append(_snippet(item, self.prefix))
        return len(entries) - 1

    def save(self) -> None:
        if self.text is None or not self.added or self.part is None:
            return
        text = self.text
        for tag in _STYLES_ORDER:
            snippets = self.added.get(tag)
            if not snippets:
                continue
            count = self.num_format_count if tag == "numFmts" else len(self.entries[tag])
            edited = _insert_in(text, tag, self.prefix, "".join(snippets), count)
            if edited is None:
                edited = self._insert_list(text, tag, "".join(snippets), count)
            text = edited
        self.package.write(self.part, text.encode("utf-8"))

    def _insert_list(self, text: str, tag: str, snippets: str, count: int) -> str:
        """A whole new ``<tag>`` list, placed before the first later list the sheet has."""
        name = _qualified(tag, self.prefix)
        block = f'<{name} count="{count}">{snippets}</{name}>'
        later = _STYLES_ORDER[_STYLES_ORDER.index(tag) + 1 :] + ("tableStyles", "colors", "extLst")
        for other in later:
            match = re.search(rf"<{re.escape(_qualified(other, self.prefix))}(?=[\s/>])", text)
            if match:
                return text[: match.start()] + block + text[match.start() :]
        root = _qualified("styleSheet", self.prefix)
        closes = list(re.finditer(rf"</{re.escape(root)}\s*>", text))
        if closes:
            close = closes[-1].start()
            return text[:close] + block + text[close:]
        # An empty <styleSheet .../>: open it up around the new list.
        edited = _insert_in(text, "styleSheet", self.prefix, block)
        if edited is None:
            raise _unbroken_error()
        return edited


# --- the sheet part --------------------------------------------------------------------------

_CELL_STYLE_FAST = re.compile(rb' s="([0-9]+)"(?=[ />])')
_CELL_STYLE_SAFE = re.compile(rb'(<c r="[A-Z]+[0-9]+") s="([0-9]+)"')


def _restyle_sheet(xml: bytes, xf_map: dict[int, int], text_may_mimic: bool) -> bytes:
    """The generated sheet part with the team's style indices and without the "selected tab" flag."""
    data_at = xml.find(b"<sheetData")
    head, body = (xml[:data_at], xml[data_at:]) if data_at >= 0 else (xml, b"")
    # xlsxwriter selects its first tab; a second selected tab would group it with the team's.
    head = head.replace(b' tabSelected="1"', b"")
    table = {str(old).encode(): str(new).encode() for old, new in xf_map.items()}
    if all(old == new for old, new in table.items()):
        return head + body
    if text_may_mimic:
        # Some cell text contains ' s="': only rewrite attributes that follow a cell reference
        # (a "<" can never appear in text, it is escaped), at the cost of a slower substitution.
        body = _CELL_STYLE_SAFE.sub(lambda m: b'%s s="%s"' % (m.group(1), table[m.group(2)]), body)
        return head + body
    parts = _CELL_STYLE_FAST.split(body)
    parts[1::2] = [b' s="' + table[index] + b'"' for index in parts[1::2]]
    return head + b"".join(parts)


# --- the old mark's content check ----------------------------------------------------------------

_SIGNATURE_ROWS = 200  # caseloop's header rows sit near the top; no need to read further


def _signature(model: SheetModel) -> set[str]:
    """The texts of the tab's first header-like row (three or more texts), e.g. Status's column names."""
    for row in model.rows[1:_SIGNATURE_ROWS]:
        texts = {cell.value for cell in row if isinstance(cell.value, str) and cell.value.strip()}
        if len(texts) >= 3:
            return texts
    return set()


def _carries_content(
    package: _Package, workbook: _WorkbookPart, sheet_part: str, model: SheetModel
) -> bool:
    """Whether the sheet has a row holding every text of ``model``'s header row.

    This is how an old custom-property mark is checked: a team's own tab that merely took the
    title of a deleted caseloop tab (typed by hand, say) does not hold caseloop's header row.
    """
    wanted = _signature(model)
    data = package.read(sheet_part)
    if not wanted or data is None:
        return False
    rows: list[list[tuple[str, str]]] = []  # per row: (cell type, raw text)
    try:
        for _, row in etree.iterparse(
            io.BytesIO(data), tag=f"{{{NS_MAIN}}}row", huge_tree=True, resolve_entities=False
        ):
            cells = []
            for cell in row.iterfind(f"{{{NS_MAIN}}}c"):
                kind = cell.get("t", "n")
                if kind == "inlineStr":
                    text = (
                        "".join(cell.find(f"{{{NS_MAIN}}}is").itertext())
                        if cell.find(f"{{{NS_MAIN}}}is") is not None
                        else ""
                    )
                else:
                    value = cell.find(f"{{{NS_MAIN}}}v")
                    text = value.text or "" if value is not None else ""
                cells.append((kind, text))
            rows.append(cells)
            row.clear()
            if len(rows) >= _SIGNATURE_ROWS:
                break
    except etree.XMLSyntaxError:
        return False
    shared = _shared_strings(
        package,
        workbook,
        {int(text) for row in rows for kind, text in row if kind == "s" and text.strip().isdigit()},
    )
    for row in rows:
        texts = set()
        for kind, text in row:
            if kind == "s":
                texts.add(shared.get(int(text), "") if text.strip().isdigit() else "")
            elif kind in ("inlineStr", "str"):
                texts.add(text)
        if wanted <= texts:
            return True
    return False


def _shared_strings(package: _Package, workbook: _WorkbookPart, wanted: set[int]) -> dict[int, str]:
    """The shared strings at the ``wanted`` indices, reading the part only as far as needed."""
    rel = workbook.rel_of(REL_SHARED_STRINGS)
    data = package.read(rel.part) if rel and rel.part and wanted else None
    found: dict[int, str] = {}
    if data is None:
        return found
    last = max(wanted)
    try:
        for index, (_, item) in enumerate(
            etree.iterparse(
                io.BytesIO(data), tag=f"{{{NS_MAIN}}}si", huge_tree=True, resolve_entities=False
            )
        ):
            if index in wanted:
                # Phonetic runs (rPh) are not part of the text Excel shows.
                found[index] = "".join(
                    t.text or ""
                    for t in item.iter(f"{{{NS_MAIN}}}t")
                    if etree.QName(t.getparent()).localname != "rPh"
                )
            item.clear()
            if index >= last:
                break
    except etree.XMLSyntaxError:
        pass
    return found


# --- the check before committing ---------------------------------------------------------------


def _package_facts(package: _Package) -> dict[str, set[tuple]]:
    """What must survive a splice: relationships, content types, tabs and defined names."""
    rels = set()
    for key in package.names():
        if key.endswith(".rels"):
            for element in _parse(package.read(key) or b"", key).iter(
                f"{{{NS_PKG_REL}}}Relationship"
            ):
                rels.add(
                    (
                        key,
                        element.get("Id", ""),
                        element.get("Type", ""),
                        element.get("Target", ""),
                        element.get("TargetMode", "Internal"),
                    )
                )
    types = _parse(package.read(_ContentTypes.NAME) or b"", _ContentTypes.NAME)
    defaults = {
        ("Default", element.get("Extension", "").casefold(), element.get("ContentType", ""))
        for element in types
        if isinstance(element.tag, str) and etree.QName(element).localname == "Default"
    }
    overrides = {
        (
            "Override",
            unquote(element.get("PartName", "")).casefold(),
            element.get("ContentType", ""),
        )
        for element in types
        if isinstance(element.tag, str) and etree.QName(element).localname == "Override"
    }
    workbook = _WorkbookPart(package)
    root = _parse(package.read(workbook.part) or b"", workbook.part)
    sheets = {
        (
            element.get("name", ""),
            element.get("sheetId", ""),
            element.get(f"{{{NS_DOC_REL}}}id", ""),
        )
        for element in root.iterfind(f"{{{NS_MAIN}}}sheets/{{{NS_MAIN}}}sheet")
    }
    return {
        "relationship": rels,
        "content type": defaults | overrides,
        "tab": sheets,
        "defined name": set(workbook.names),
    }


def _verify(
    original: _Package,
    result: bytes,
    dropped_parts: set[str],
    dropped_rels: set[tuple[str, str]],
    own_names: set[tuple[str, str]],
) -> None:
    """Refuse the result unless everything of the original is still in it, but what caseloop replaced."""
    try:
        before, after = _package_facts(original), _package_facts(_Package(result))
    except CaseloopError:
        raise _lost("part", "of its parts") from None
    for what, facts in before.items():
        for fact in facts - after[what]:
            if what == "relationship":
                rels_part, rel_id = fact[0], fact[1]
                folder, base = posixpath.split(rels_part)
                source = posixpath.join(posixpath.dirname(folder), base.removesuffix(".rels"))
                if rels_part in dropped_parts or source in dropped_parts:
                    continue
                if (rels_part, rel_id) in dropped_rels:
                    continue
                raise _lost(what, f"{rel_id} of {rels_part}")
            if what == "content type" and fact[0] == "Override":
                if fact[1].lstrip("/") in dropped_parts:
                    continue
                raise _lost(what, f"of {fact[1]}")
            if what == "content type":
                raise _lost(what, f"of .{fact[1]} files")
            if what == "defined name" and (fact[0].casefold(), fact[1] or "") in own_names:
                continue
            raise _lost(what, f'"{fact[0]}"')


def _lost(what: str, detail: str) -> CaseloopError:
    return CaseloopError(
        f"caseloop stopped before saving because the updated workbook would have lost the {what} "
        f"{detail}, so nothing was written; please report this with the workbook's producer."
    )


# --- splicing --------------------------------------------------------------------------------


@dataclass
class _Plan:
    model: SheetModel
    title: str  # the title as written (the existing tab's spelling when replacing)
    index: int | None = None  # position among the tabs, once known
    part: str | None = None  # the sheet part it goes to, once known


def _drop_calc_chain(
    package: _Package, workbook: _WorkbookPart, sheet_ids: set[int], content_types: _ContentTypes
) -> None:
    """Drop calcChain.xml if it lists cells of a tab being replaced (Excel rebuilds it on open)."""
    rel = workbook.rel_of(REL_CALC_CHAIN)
    if rel is None or rel.part is None or not sheet_ids:
        return
    data = package.read(rel.part)
    if data is None:
        return
    current = None
    for match in re.finditer(rb"<(?:[\w.-]+:)?c\b([^>]*)>", data):
        found = re.search(rb"""\bi\s*=\s*["'](\d+)["']""", match.group(1))
        current = int(found.group(1)) if found else current  # an entry without i repeats the last
        if current in sheet_ids:
            package.remove(rel.part)
            package.remove(_rels_name(rel.part))
            content_types.remove(rel.part)
            workbook.remove_rel(rel.id)
            return


def _remove_generated_parts(
    package: _Package, sheet_part: str, content_types: _ContentTypes
) -> None:
    """Remove what an old generated sheet referred to, except parts something else refers to too."""
    closure = _part_closure(package, sheet_part)
    ours = {part.casefold() for part in closure}
    referenced: set[str] = set()
    for key in package.names():
        if not key.endswith(".rels"):
            continue
        folder, base = posixpath.split(key)
        source = posixpath.join(posixpath.dirname(folder), base[: -len(".rels")])
        if source in ours:
            continue
        # Parsed, not matched as text: attributes may be single-quoted or the part prefixed.
        for rel in _read_rels(package, source):
            if rel.part:
                referenced.add(rel.part.casefold())
    kept: set[str] = set()
    for part in closure[1:]:
        if part.casefold() in referenced:
            kept |= {p.casefold() for p in _part_closure(package, part)}
    for part in closure[1:]:
        if part.casefold() not in kept:
            package.remove(part)
            package.remove(_rels_name(part))
            content_types.remove(part)
    package.remove(_rels_name(sheet_part))


def _copy_generated(
    generated: _Package,
    generated_types: _ContentTypes,
    source_sheet: str,
    package: _Package,
    content_types: _ContentTypes,
    target_sheet: str,
    sheet_xml: bytes,
    workbook_folder: str,
) -> None:
    """Put one generated sheet and every part it refers to into the team's package."""
    closure = _part_closure(generated, source_sheet)
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
    package.remove(_rels_name(target_sheet))
    for part in closure:
        new_name = renamed[part]
        content = sheet_xml if part == source_sheet else generated.read(part) or b""
        package.write(new_name, content)
        content_type = generated_types.type_of(part)
        if content_type:
            content_types.set(new_name, content_type)
        rels = _read_rels(generated, part)
        if rels:
            package.write(
                _rels_name(new_name),
                _rels_xml(
                    (
                        rel.id,
                        rel.type,
                        _relative(new_name, renamed[rel.part]) if rel.part else rel.target,
                        rel.part is None,
                    )
                    for rel in rels
                ),
            )


def splice_tabs(original: bytes, tabs: list[SheetModel]) -> bytes:
    """The workbook ``original`` with ``tabs`` written into it; every other part is left as is.

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

    Before returning, the result is checked against the original: every relationship, content
    type, tab and defined name must still be there (except what belonged to a replaced tab),
    or nothing is returned.
    """
    if not tabs:
        return original
    titles = [tab.title.casefold() for tab in tabs]
    if len(set(titles)) != len(titles):
        raise CaseloopError("Two generated tabs were given the same name; give each its own name.")
    package = _Package(original)
    content_types = _ContentTypes(package)
    workbook = _WorkbookPart(package)
    old_marks = _Marks(package)
    styles = _TeamStyles(package, workbook)

    plans: list[_Plan] = []
    replaced_ids: set[int] = set()
    for tab in tabs:
        found = workbook.find(tab.title)
        if found is None:
            plans.append(_Plan(tab, tab.title))
            continue
        index, sheet = found
        kind = workbook.mark_of(index)
        if kind is None and sheet.part is not None and sheet.rel_type == REL_WORKSHEET:
            old = old_marks.kind_of(sheet.name)
            if old is not None and _carries_content(package, workbook, sheet.part, tab):
                kind = old
        ours = kind is not None and sheet.rel_type == REL_WORKSHEET and sheet.part is not None
        check_may_write(sheet.name, tab.kind, kind if ours else TEAM_TAB)
        plans.append(_Plan(tab, sheet.name, index, sheet.part))
        replaced_ids.add(sheet.sheet_id)
    new_tabs = [plan.title for plan in plans if plan.part is None]
    if new_tabs and workbook.structure_locked:
        raise RefusedError(
            f"The workbook's structure is protected (Review > Protect Workbook), so caseloop cannot "
            f'add the tab "{new_tabs[0]}"; unprotect the workbook structure in Excel and run again.'
        )
    recalculate = _team_reads_tabs(package, workbook, plans)

    built, mimic = _build(
        [(plan.title, plan.model) for plan in plans], styles.fonts, workbook.date_1904
    )
    generated = _Package(built)
    generated_types = _ContentTypes(generated)
    generated_book = _WorkbookPart(generated)
    generated_styles = generated.read("xl/styles.xml") or b""
    xf_map = styles.merge(generated_styles, content_types)

    # Old drawings and charts of replaced tabs go first, so their names can be used again.
    for plan in plans:
        if plan.part is not None:
            _remove_generated_parts(package, plan.part, content_types)
    _drop_calc_chain(package, workbook, replaced_ids, content_types)

    sheet_pattern = posixpath.join(workbook.folder, "worksheets", "sheet{}.xml")
    for plan, generated_sheet in zip(plans, generated_book.sheets, strict=True):
        if plan.part is None:
            plan.part = package.free_name(sheet_pattern)
            package.write(plan.part, b"")  # reserve the name before the next tab picks one
            plan.index = workbook.add_sheet(plan.title, plan.part)
        source = generated_sheet.part or ""
        sheet_xml = _restyle_sheet(generated.read(source) or b"", xf_map, mimic)
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
        filter_range = plan.model.auto_filter
        formula = None
        if filter_range is not None:
            formula = f"{_quoted_sheet(plan.title)}!{_cell(filter_range.first_row, filter_range.first_col)}:{_cell(filter_range.last_row, filter_range.last_col)}"
        workbook.set_filter_name(plan.index or 0, formula)
        workbook.set_mark(plan.index or 0, plan.model.kind)

    # Old marks stay only for tabs that still exist and were not written now.
    written = {plan.title.casefold() for plan in plans}
    old_marks.keep_only({sheet.name.casefold() for sheet in workbook.sheets} - written)
    if recalculate:
        workbook.request_full_calc()
    styles.save()
    workbook.save()
    content_types.ensure_default("rels", "application/vnd.openxmlformats-package.relationships+xml")
    content_types.save()
    result = package.to_bytes()
    own_names = {
        (name.casefold(), str(plan.index)) for plan in plans for name in (FILTER_NAME, MARK_NAME)
    }
    _verify(
        _Package(original),
        result,
        package.dropped,
        {(workbook.rels_name.casefold(), rel_id) for rel_id in workbook.removed_rels},
        own_names,
    )
    return result


def _team_reads_tabs(package: _Package, workbook: _WorkbookPart, plans: list[_Plan]) -> bool:
    """Whether a team part (formula, defined name, chart...) refers to one of the generated tabs."""
    needles = []
    for plan in plans:
        for title in {plan.title, plan.model.title}:
            escaped = _escape(title).encode("utf-8")
            quoted = _escape(title.replace("'", "''")).encode("utf-8")
            needles += [escaped + b"!", b"'" + quoted + b"'!", b"&apos;" + quoted + b"&apos;!"]
    pattern = re.compile(b"|".join(re.escape(n) for n in needles), re.IGNORECASE)
    # The workbook's own names, without the ones caseloop keeps for its tabs.
    indices = {str(plan.index) for plan in plans if plan.index is not None}
    for name, local, value in workbook.names:
        ours = (
            name.casefold() in (FILTER_NAME.casefold(), MARK_NAME.casefold()) and local in indices
        )
        if not ours and pattern.search(_escape(value).encode("utf-8")):
            return True
    skip = {plan.part.casefold() for plan in plans if plan.part}
    for plan in plans:
        if plan.part:
            skip |= {part.casefold() for part in _part_closure(package, plan.part)}
    skip |= {workbook.part.casefold(), _ContentTypes.NAME.casefold()}
    for key in sorted(package.names()):
        if key in skip or not key.endswith(".xml") or key.startswith("docprops/"):
            continue
        if _stream_contains(package, key, pattern, max(len(n) for n in needles)):
            return True
    return False


def _stream_contains(package: _Package, name: str, pattern: re.Pattern[bytes], width: int) -> bool:
    """Whether member ``name`` contains ``pattern``, read in chunks so memory stays flat."""
    info = package.original.get(name)
    if info is None:
        return False
    tail = b""
    try:
        with package.zip.open(info) as stream:
            while chunk := stream.read(1 << 20):
                data = tail + chunk
                if pattern.search(data):
                    return True
                tail = data[-width:]
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        raise _unbroken_error() from None
    return False


def _cell(row: int, col: int) -> str:
    letters = ""
    col += 1
    while col:
        col, rest = divmod(col - 1, 26)
        letters = chr(65 + rest) + letters
    return f"${letters}${row + 1}"
