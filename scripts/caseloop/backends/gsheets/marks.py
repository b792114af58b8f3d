"""Which tabs are caseloop's: the developer metadata mark, and the refusal to touch any other."""

from __future__ import annotations

from typing import Any

from ...model import SheetModel
from ...ports import TEAM_TAB, TabPlan, plan_tab

MARK_KEY = "caseloop"  # developer metadata key on every tab caseloop generates
# The id of the run that last wrote a tab, so a write whose answer was lost can be read back.
RUN_KEY = "caseloop-run"
# The mark value of a hidden tab a large write is staged in ("staging:<unix time>").
STAGING = "staging"


def is_ours(sheet: dict[str, Any]) -> bool:
    """Whether the tab in ``sheet`` (its metadata) carries caseloop's mark."""
    return any(m.get("metadataKey") == MARK_KEY for m in sheet.get("developerMetadata", []))


def kind_of(sheet: dict[str, Any]) -> str | None:
    """The kind of report ("status", "weekly") caseloop's mark names, if the tab has one."""
    for mark in sheet.get("developerMetadata", []):
        if mark.get("metadataKey") == MARK_KEY:
            return mark.get("metadataValue")
    return None


def plan_tabs(tabs: list[SheetModel], sheets: list[dict[str, Any]]) -> list[TabPlan]:
    """Where each tab of ``tabs`` goes (``ports.plan_tab``), every one decided before anything is
    sent, so a refusal writes nothing: caseloop's tab of the kind is found by its mark."""
    ordered = sorted(sheets, key=lambda s: s["properties"].get("index", 0))
    found = [
        (s["properties"]["title"], (kind_of(s) or "") if is_ours(s) else TEAM_TAB) for s in ordered
    ]
    return [plan_tab(m.title, m.kind, m.default_titles, found) for m in tabs]
