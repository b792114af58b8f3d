"""Merging the generated tabs' styles into the team's styles part: reused when identical, appended otherwise."""

from __future__ import annotations

import copy
import posixpath
import re

from lxml import etree

from .build import FontDefaults
from .content_types import CT_STYLES, ContentTypes
from .package import Package, unreadable_error
from .relationships import REL_STYLES
from .workbook_part import WorkbookPart
from .xmltext import NS_MAIN, decode, element_key, insert_in, parse, qualified, snippet

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
            entries.append(element_key(child))
        elif name.localname == "AlternateContent":
            entries.append(("AlternateContent", position))
    return entries


class TeamStyles:
    """The team's styles.xml: entries are reused when identical and appended otherwise."""

    def __init__(self, package: Package, workbook: WorkbookPart) -> None:
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
        self.fonts = FontDefaults()
        if data is None:
            return
        self.text = decode(data, self.part or "")
        root = parse(data, self.part or "")
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
    def _font_defaults(font: etree._Element) -> FontDefaults:
        def val(tag: str) -> str | None:
            element = font.find(f"{{{NS_MAIN}}}{tag}")
            return None if element is None else element.get("val")

        size, family = val("sz"), val("family")
        try:
            return FontDefaults(
                name=val("name") or "Calibri",
                size=float(size) if size else 11,
                family=int(family) if family and family.isdigit() else None,
            )
        except ValueError:
            return FontDefaults()

    def merge(self, generated_styles: bytes, content_types: ContentTypes) -> dict[int, int]:
        """Map the generated workbook's cellXfs indices onto the team's, appending what is new."""
        generated = parse(generated_styles, "generated styles")
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
                self.added.setdefault("numFmts", []).append(snippet(element, self.prefix))
            mapping[old_id] = self.num_formats[code]
        return mapping

    def _place(self, list_tag: str, item: etree._Element, index: int, fixed: int) -> int:
        entries = self.entries.setdefault(list_tag, [])
        if index < fixed and index < len(entries):
            return index
        key = element_key(item)
        if key in entries:
            return entries.index(key)
        entries.append(key)
        self.added.setdefault(list_tag, []).append(snippet(item, self.prefix))
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
            edited = insert_in(text, tag, self.prefix, "".join(snippets), count)
            if edited is None:
                edited = self._insert_list(text, tag, "".join(snippets), count)
            text = edited
        self.package.write(self.part, text.encode("utf-8"))

    def _insert_list(self, text: str, tag: str, snippets: str, count: int) -> str:
        """A whole new ``<tag>`` list, placed before the first later list the sheet has."""
        name = qualified(tag, self.prefix)
        block = f'<{name} count="{count}">{snippets}</{name}>'
        later = _STYLES_ORDER[_STYLES_ORDER.index(tag) + 1 :] + ("tableStyles", "colors", "extLst")
        for other in later:
            match = re.search(rf"<{re.escape(qualified(other, self.prefix))}(?=[\s/>])", text)
            if match:
                return text[: match.start()] + block + text[match.start() :]
        root = qualified("styleSheet", self.prefix)
        closes = list(re.finditer(rf"</{re.escape(root)}\s*>", text))
        if closes:
            close = closes[-1].start()
            return text[:close] + block + text[close:]
        # An empty <styleSheet .../>: open it up around the new list.
        edited = insert_in(text, "styleSheet", self.prefix, block)
        if edited is None:
            raise unreadable_error()
        return edited


# --- the generated sheet part, pointed at the merged styles ----------------------------------

_CELL_STYLE_FAST = re.compile(rb' s="([0-9]+)"(?=[ />])')
_CELL_STYLE_SAFE = re.compile(rb'(<c r="[A-Z]+[0-9]+") s="([0-9]+)"')


def restyle_sheet(xml: bytes, xf_map: dict[int, int], text_may_mimic: bool) -> bytes:
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
