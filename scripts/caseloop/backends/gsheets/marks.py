"""Which tabs are caseloop's: the developer metadata mark, and the refusal to touch any other."""

from __future__ import annotations

from typing import Any

from ...model import SheetModel
from ...ports import NO_TAB, TEAM_TAB, check_may_write

MARK_KEY = "caseloop"  # developer metadata key on every tab caseloop generates


def is_ours(sheet: dict[str, Any]) -> bool:
    """Whether the tab in ``sheet`` (its metadata) carries caseloop's mark."""
    return any(m.get("metadataKey") == MARK_KEY for m in sheet.get("developerMetadata", []))


def kind_of(sheet: dict[str, Any]) -> str | None:
    """The kind of report ("status", "weekly") caseloop's mark names, if the tab has one."""
    for mark in sheet.get("developerMetadata", []):
        if mark.get("metadataKey") == MARK_KEY:
            return mark.get("metadataValue")
    return None


def check_writable(tabs: list[SheetModel], by_title: dict[str, dict[str, Any]]) -> None:
    """Refuse, before anything is sent, to write over a tab caseloop did not make for that kind."""
    for model in tabs:
        existing = by_title.get(model.title)
        if existing is None:
            found = NO_TAB
        elif not is_ours(existing):
            found = TEAM_TAB
        else:
            found = kind_of(existing) or ""
        check_may_write(model.title, model.kind, found)
