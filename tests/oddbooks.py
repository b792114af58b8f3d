"""Odd but valid workbooks, made the way other producers write them: a real workbook altered at the zip/XML level."""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from collections.abc import Callable

from lxml import etree

NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
NS_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
NS_CT = "http://schemas.openxmlformats.org/package/2006/content-types"
NS_MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
NS_X14AC = "http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac"


def members(data: bytes) -> dict[str, bytes]:
    archive = zipfile.ZipFile(io.BytesIO(data))
    return {info.filename: archive.read(info) for info in archive.infolist()}


def rezip(parts: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in parts.items():
            archive.writestr(name, content)
    return out.getvalue()


def alter(data: bytes, edits: dict[str, Callable[[bytes], bytes]]) -> bytes:
    """The workbook with each named member passed through its edit."""
    parts = members(data)
    for name, edit in edits.items():
        parts[name] = edit(parts[name])
    return rezip(parts)


def reprefix(xml: bytes, namespace: str, prefix: str) -> bytes:
    """The same XML with ``namespace`` written under ``prefix`` (as ElementTree or ClosedXML do)."""
    source = etree.fromstring(xml)

    def nsmap_of(element: etree._Element) -> dict[str | None, str]:
        mapping = {key: uri for key, uri in element.nsmap.items() if uri != namespace}
        mapping[prefix] = namespace
        return mapping

    def copy(element: etree._Element, parent: etree._Element | None) -> etree._Element:
        if parent is None:
            new = etree.Element(element.tag, dict(element.attrib), nsmap=nsmap_of(element))
        else:
            new = etree.SubElement(parent, element.tag, dict(element.attrib))
        new.text, new.tail = element.text, element.tail
        for child in element:
            if isinstance(child.tag, str):
                copy(child, new)
        return new

    root = copy(source, None)
    text = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
    assert f"<{prefix}:".encode() in text
    return text


def old_openpyxl(data: bytes) -> bytes:
    """Relationship parts and content types under ElementTree's ``ns0:`` prefix (old openpyxl)."""
    parts = members(data)
    for name in list(parts):
        if name.endswith(".rels"):
            parts[name] = reprefix(parts[name], NS_PKG_REL, "ns0")
    parts["[Content_Types].xml"] = reprefix(parts["[Content_Types].xml"], NS_CT, "ns0")
    return rezip(parts)


def closedxml(data: bytes) -> bytes:
    """Workbook, styles and sheet parts under the ``x:`` prefix, as ClosedXML writes them."""
    parts = members(data)
    for name in list(parts):
        if (
            name == "xl/workbook.xml"
            or name == "xl/styles.xml"
            or name.startswith("xl/worksheets/sheet")
        ):
            if name.endswith(".xml"):
                parts[name] = reprefix(parts[name], NS_MAIN, "x")
    return rezip(parts)


def hancell_styles(styles: bytes) -> bytes:
    """Some fonts and cell formats wrapped in mc:AlternateContent, one Choice and one Fallback each.

    Excel takes one entry from each AlternateContent; a reader that counts only direct <font>
    or <xf> children counts too few, one that counts every <xf> too many.
    """
    root = etree.fromstring(styles)
    fonts = root.find(f"{{{NS_MAIN}}}fonts")
    xfs = root.find(f"{{{NS_MAIN}}}cellXfs")

    def wrap(container: etree._Element, index: int) -> None:
        item = container[index]
        alternate = etree.Element(
            f"{{{NS_MC}}}AlternateContent", nsmap={"mc": NS_MC, "x14ac": NS_X14AC}
        )
        choice = etree.SubElement(alternate, f"{{{NS_MC}}}Choice", Requires="x14ac")
        fallback = etree.SubElement(alternate, f"{{{NS_MC}}}Fallback")
        choice.append(etree.fromstring(etree.tostring(item)))
        fallback.append(etree.fromstring(etree.tostring(item)))
        container.replace(item, alternate)

    assert fonts is not None and xfs is not None and len(fonts) >= 2 and len(xfs) >= 2
    wrap(fonts, 1)
    for index in range(1, len(xfs)):
        wrap(xfs, index)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def move_workbook(data: bytes, folder: str, keep_styles: bool = False) -> bytes:
    """Every part under ``xl/`` moved to ``folder/`` (relative targets inside keep working).

    keep_styles: leave ``xl/styles.xml`` where it was (openpyxl looks for it only there).
    """
    parts = members(data)
    moved: dict[str, bytes] = {}
    for name, content in parts.items():
        stays = not name.startswith("xl/") or (keep_styles and name == "xl/styles.xml")
        moved[name if stays else folder + name[2:]] = content
    moved["_rels/.rels"] = moved["_rels/.rels"].replace(
        b'Target="xl/', f'Target="{folder}/'.encode()
    )
    types = moved["[Content_Types].xml"].replace(
        b'PartName="/xl/', f'PartName="/{folder}/'.encode()
    )
    if keep_styles:
        types = types.replace(
            f'PartName="/{folder}/styles.xml"'.encode(), b'PartName="/xl/styles.xml"'
        )
        rels = f"{folder}/_rels/workbook.xml.rels"
        moved[rels] = moved[rels].replace(b'Target="styles.xml"', b'Target="../xl/styles.xml"')
    moved["[Content_Types].xml"] = types
    assert all(not n.startswith("xl/") or n == "xl/styles.xml" and keep_styles for n in moved)
    return rezip(moved)


def empty_styles(data: bytes) -> bytes:
    """The styles part reduced to a bare ``<styleSheet/>`` (some minimal generators write that)."""
    return alter(data, {"xl/styles.xml": lambda _: f'<styleSheet xmlns="{NS_MAIN}"/>'.encode()})


def lock_structure(data: bytes) -> bytes:
    """Review > Protect Workbook (structure): ``<workbookProtection lockStructure="1"/>``."""

    def edit(xml: bytes) -> bytes:
        # workbookProtection comes right before bookViews in the schema's order.
        return re.sub(
            rb"<bookViews\b", b'<workbookProtection lockStructure="1"/><bookViews', xml, count=1
        )

    return alter(data, {"xl/workbook.xml": edit})


def relationships(data: bytes) -> dict[str, set[tuple[str, str, str]]]:
    """Every relationship of every part: rels part -> {(Id, Type, Target)}."""
    found = {}
    for name, content in members(data).items():
        if name.endswith(".rels"):
            found[name] = {
                (rel.get("Id"), rel.get("Type"), rel.get("Target"))
                for rel in etree.fromstring(content).iter(f"{{{NS_PKG_REL}}}Relationship")
            }
    return found


def workbook_part(data: bytes) -> str:
    rels = etree.fromstring(members(data)["_rels/.rels"])
    for rel in rels.iter(f"{{{NS_PKG_REL}}}Relationship"):
        if rel.get("Type", "").endswith("/officeDocument"):
            return posixpath.normpath(rel.get("Target", "").lstrip("/"))
    raise AssertionError("no workbook part")
