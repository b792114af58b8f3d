"""Relationship parts (``_rels/*.rels``): reading, resolving targets, and editing in the part's own prefix."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote, unquote

from lxml import etree

from .package import Package, unreadable_error
from .xmltext import XML_DECLARATION, attrs, element_pattern, escape, insert_in, parse, qualified

NS_DOC_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
NS_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
REL_OFFICE_DOCUMENT = NS_DOC_REL + "/officeDocument"
REL_WORKSHEET = NS_DOC_REL + "/worksheet"
REL_STYLES = NS_DOC_REL + "/styles"
REL_CALC_CHAIN = NS_DOC_REL + "/calcChain"
REL_SHARED_STRINGS = NS_DOC_REL + "/sharedStrings"
REL_CUSTOM = NS_DOC_REL + "/custom-properties"


@dataclass(frozen=True)
class Rel:
    id: str
    type: str
    target: str
    part: str | None  # the resolved member name for internal targets


def rels_name(part: str) -> str:
    """The relationships part of ``part`` ("" for the package's own)."""
    folder, base = posixpath.split(part)
    return posixpath.join(folder, "_rels", f"{base}.rels")


def source_of(rels_part: str) -> str:
    """The part a relationships part belongs to (the inverse of ``rels_name``)."""
    folder, base = posixpath.split(rels_part)
    return posixpath.join(posixpath.dirname(folder), base.removesuffix(".rels"))


def resolve(source_part: str, target: str) -> str:
    """The member name a relationship's internal target points to."""
    target = unquote(target.split("#")[0])
    if target.startswith("/"):
        return posixpath.normpath(target.lstrip("/"))
    return posixpath.normpath(posixpath.join(posixpath.dirname(source_part), target))


def relative(source_part: str, target_part: str) -> str:
    """The target to write in ``source_part``'s relationships to point at ``target_part``."""
    return quote(
        posixpath.relpath(target_part, posixpath.dirname(source_part) or "."), safe="/._-~"
    )


def read_rels(package: Package, part: str) -> list[Rel]:
    """The relationships of ``part``, parsed (so any prefix and either quote are read right)."""
    name = rels_name(part)
    data = package.read(name)
    if data is None:
        return []
    rels = []
    for element in parse(data, name).iter(f"{{{NS_PKG_REL}}}Relationship"):
        target = element.get("Target", "")
        external = element.get("TargetMode", "Internal") == "External"
        rels.append(
            Rel(
                id=element.get("Id", ""),
                type=element.get("Type", ""),
                target=target,
                part=None if external or not target else resolve(part, target),
            )
        )
    return rels


def rels_xml(rels: Iterable[tuple[str, str, str, bool]]) -> bytes:
    """A new relationships part holding ``(id, type, target, external)`` entries."""
    items = "".join(
        f'<Relationship Id="{escape(rid)}" Type="{escape(rtype)}" Target="{escape(target)}"'
        + (' TargetMode="External"' if external else "")
        + "/>"
        for rid, rtype, target, external in rels
    )
    return (
        XML_DECLARATION + f'<Relationships xmlns="{NS_PKG_REL}">{items}</Relationships>'
    ).encode()


def add_relationship(
    text: str, name: str, rel_id: str, rel_type: str, target: str, external: bool = False
) -> str:
    """``text`` (a relationships part, maybe empty) with one more relationship, in its own prefix."""
    if not text.strip():
        return rels_xml([(rel_id, rel_type, target, external)]).decode()
    root = parse(text.encode("utf-8"), name)
    if etree.QName(root).namespace != NS_PKG_REL:
        raise unreadable_error()
    # Old openpyxl wrote <ns0:Relationships xmlns:ns0=...>: an unprefixed entry would be in no
    # namespace and every reader would skip it, or worse, the part would be thrown away.
    prefix = root.prefix or ""
    entry = (
        f'<{qualified("Relationship", prefix)} Id="{escape(rel_id)}" Type="{escape(rel_type)}" '
        f'Target="{escape(target)}"' + (' TargetMode="External"' if external else "") + "/>"
    )
    edited = insert_in(text, "Relationships", prefix, entry)
    if edited is None:
        raise unreadable_error()
    return edited


def remove_relationship(text: str, rel_id: str) -> str:
    """``text`` without the relationship ``rel_id``, whatever its prefix or quotes."""

    def drop(match: re.Match[str]) -> str:
        return "" if attrs(match.group(1)).get("Id") == rel_id else match.group(0)

    return re.sub(element_pattern("Relationship"), drop, text, flags=re.S)


def part_closure(package: Package, part: str) -> list[str]:
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
        queue += [rel.part for rel in read_rels(package, current) if rel.part]
    return seen
