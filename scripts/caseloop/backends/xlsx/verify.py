"""The check before committing: every relationship, content type, tab and defined name of the original survives."""

from __future__ import annotations

from urllib.parse import unquote

from lxml import etree

from ...errors import CaseloopError
from .content_types import ContentTypes
from .package import Package
from .relationships import NS_DOC_REL, NS_PKG_REL, source_of
from .workbook_part import WorkbookPart
from .xmltext import NS_MAIN, parse

# What must survive a splice, by kind ("relationship", "content type", "tab", "defined name").
Facts = dict[str, set[tuple]]


def package_facts(package: Package) -> Facts | None:
    """What must survive a splice, read from the package's small XML parts (None: unreadable)."""
    try:
        return _facts(package)
    except CaseloopError:
        return None


def _facts(package: Package) -> Facts:
    rels = set()
    for key in package.names():
        if key.endswith(".rels"):
            for element in parse(package.read(key) or b"", key).iter(
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
    types = parse(package.read(ContentTypes.NAME) or b"", ContentTypes.NAME)
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
    workbook = WorkbookPart(package)
    root = parse(package.read(workbook.part) or b"", workbook.part)
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


def check_kept(
    before: Facts | None,
    after: Facts | None,
    dropped_parts: set[str],
    dropped_rels: set[tuple[str, str]],
    own_names: set[tuple[str, str]],
) -> None:
    """Refuse the result unless everything of the original is still in it, but what caseloop replaced."""
    if before is None or after is None:
        raise _lost("part", "of its parts")
    for what, facts in before.items():
        for fact in facts - after[what]:
            if what == "relationship":
                rels_part, rel_id = fact[0], fact[1]
                if rels_part in dropped_parts or source_of(rels_part) in dropped_parts:
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
