"""Which tabs are caseloop's: the developer metadata mark, and the refusal to touch any other."""

from __future__ import annotations

from typing import Any

from ...errors import RefusedError
from ...model import SheetModel

MARK_KEY = "caseloop"  # developer metadata key on every tab caseloop generates

# The option that renames each kind of generated tab, for the refusal message.
RENAME_OPTION = {"status": "--status-tab", "weekly": "--report-tab"}


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
        if existing is not None and not is_ours(existing):
            raise RefusedError(_refusal(model))
        if existing is not None and kind_of(existing) not in (None, model.kind):
            option = RENAME_OPTION.get(model.kind, "the tab option")
            raise RefusedError(
                f'The tab "{model.title}" holds another of caseloop\'s reports; caseloop will '
                f"not write over it. Give the generated tab another name with {option} NAME."
            )


def _refusal(model: SheetModel) -> str:
    option = RENAME_OPTION.get(model.kind)
    rename = f"with {option} NAME" if option else "with its option"
    return (
        f'The spreadsheet already has its own tab "{model.title}" that caseloop did not make; '
        f"caseloop will not touch it. Rename that tab, or give the generated tab another name "
        f"{rename}."
    )
