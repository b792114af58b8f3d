"""Prefix-aware helpers for parsing OOXML parts and editing them as text without reserialising."""

from __future__ import annotations

import re

from lxml import etree

from ...errors import CaseloopError

NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
# XML allows either quote around an attribute value; producers use both.
_ATTR = re.compile(r"""([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_COUNT_ATTR = re.compile(r"""(\scount\s*=\s*)(["'])\d*\2""")


def parse(data: bytes, part: str) -> etree._Element:
    """The root of the part's XML, or one sentence naming the part that is not well-formed."""
    try:
        return etree.fromstring(data, PARSER)
    except etree.XMLSyntaxError:
        raise CaseloopError(
            f"The workbook part {part} is not well-formed XML; open the file in Excel and save it again."
        ) from None


def decode(data: bytes, part: str) -> str:
    """The part as text, for textual edits; parts that are not UTF-8 are refused."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CaseloopError(
            f"The workbook part {part} is not UTF-8 encoded; open the file in Excel and save it again."
        ) from None


def escape(value: str) -> str:
    """``value`` escaped for an attribute value or element text."""
    return (
        value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def unescape(value: str) -> str:
    """An attribute value as read by a parser (the five predefined entities resolved)."""
    return (
        value.replace("&quot;", '"')
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
    )


def attrs(tag_text: str) -> dict[str, str]:
    """The attributes of one start tag, by local name (prefixes dropped), still XML-escaped."""
    return {
        name.split(":")[-1]: double or single for name, double, single in _ATTR.findall(tag_text)
    }


def prefix_of(root: etree._Element, namespace: str) -> str | None:
    """The prefix ``namespace`` is bound to on the root ("" when it is the default namespace)."""
    for prefix, uri in root.nsmap.items():
        if uri == namespace:
            return prefix or ""
    return None


def qualified(tag: str, prefix: str) -> str:
    """``tag`` as the document spells it under ``prefix`` ("" for the default namespace)."""
    return f"{prefix}:{tag}" if prefix else tag


def with_prefix(snippet: str, prefix: str) -> str:
    """Unprefixed elements of ``snippet`` renamed into the document's prefix for its namespace."""
    if not prefix:
        return snippet
    return re.sub(r"<(/?)(?=[A-Za-z_])(?![\w.-]+:)", rf"<\1{prefix}:", snippet)


def insert_in(
    text: str, tag: str, prefix: str, snippet: str, count: int | None = None
) -> str | None:
    """``snippet`` added at the end of the first ``<tag>`` element (and its count set), or None."""
    name = qualified(tag, prefix)
    start = re.search(rf"<{re.escape(name)}(?=[\s/>])([^>]*?)(/?)>", text)
    if start is None:
        return None
    attributes = start.group(1)
    if count is not None and _COUNT_ATTR.search(attributes):
        attributes = _COUNT_ATTR.sub(rf"\g<1>\g<2>{count}\g<2>", attributes)
    if start.group(2):  # <tag/>: open it up
        return f"{text[: start.start()]}<{name}{attributes}>{snippet}</{name}>{text[start.end() :]}"
    end = re.compile(rf"</{re.escape(name)}\s*>").search(text, start.end())
    if end is None:
        return None
    close = end.start()
    return f"{text[: start.start()]}<{name}{attributes}>{text[start.end() : close]}{snippet}{text[close:]}"


def element_pattern(tag: str) -> str:
    """A regex for one whole ``tag`` element under any prefix, empty or not; group 1 is its attributes."""
    return rf"<(?:[\w.-]+:)?{tag}\b([^>]*?)(?:/>|(?<!/)>.*?</(?:[\w.-]+:)?{tag}\s*>)"


def qualified_element_pattern(name: str) -> str:
    """A regex for one whole element spelled exactly ``name`` (prefix included); group 1 is its attributes."""
    return rf"<{re.escape(name)}\b([^>]*?)(?:/>|(?<!/)>.*?</{re.escape(name)}\s*>)"


def element_key(element: etree._Element) -> tuple:
    """A comparable form of an element: same key means same meaning, whatever the prefixes or order of attributes."""
    children = tuple(element_key(child) for child in element if isinstance(child.tag, str))
    return (
        element.tag,
        tuple(sorted(element.attrib.items())),
        (element.text or "").strip(),
        children,
    )


def snippet(element: etree._Element, prefix: str) -> str:
    """A SpreadsheetML element as text in the document's prefix, without its own xmlns."""
    text = etree.tostring(element, encoding="unicode", with_tail=False)
    return with_prefix(text.replace(f' xmlns="{NS_MAIN}"', ""), prefix)
