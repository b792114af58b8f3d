"""``[Content_Types].xml``: Overrides added and removed as text, in the part's own prefix."""

from __future__ import annotations

import re
from urllib.parse import unquote

from lxml import etree

from .package import Package, unreadable_error
from .xmltext import attrs, decode, element_pattern, escape, insert_in, parse, qualified

CT_WORKSHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
CT_STYLES = "application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"
CT_RELATIONSHIPS = "application/vnd.openxmlformats-package.relationships+xml"


class ContentTypes:
    """[Content_Types].xml, edited as text: Overrides added and removed, nothing else touched."""

    NAME = "[Content_Types].xml"

    def __init__(self, package: Package) -> None:
        data = package.read(self.NAME)
        if data is None:
            raise unreadable_error()
        self.package = package
        self.text = decode(data, self.NAME)
        self.original = self.text
        root = parse(data, self.NAME)
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
        tag = qualified("Override", self.prefix)
        entry = f'<{tag} PartName="/{escape(part)}" ContentType="{escape(content_type)}"/>'
        edited = insert_in(self.text, "Types", self.prefix, entry)
        if edited is None:
            raise unreadable_error()
        self.text = edited
        self.overrides[f"/{part}".casefold()] = content_type

    def remove(self, part: str) -> None:
        key = f"/{part}".casefold()
        if key not in self.overrides:
            return
        del self.overrides[key]

        def drop(match: re.Match[str]) -> str:
            part_name = unquote(attrs(match.group(1)).get("PartName", ""))
            return "" if part_name.casefold() == key else match.group(0)

        self.text = re.sub(element_pattern("Override"), drop, self.text, flags=re.S)

    def ensure_default(self, extension: str, content_type: str) -> None:
        if extension in self.defaults:
            return
        tag = qualified("Default", self.prefix)
        entry = f'<{tag} Extension="{extension}" ContentType="{content_type}"/>'
        edited = insert_in(self.text, "Types", self.prefix, entry)
        if edited is None:
            raise unreadable_error()
        self.text = edited
        self.defaults.add(extension)

    def save(self) -> None:
        if self.text != self.original:
            self.package.write(self.NAME, self.text.encode("utf-8"))
