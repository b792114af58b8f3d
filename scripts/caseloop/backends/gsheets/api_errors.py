"""Google's error answers as one sentence naming the sheet and what to do about it."""

from __future__ import annotations

import re

from gspread.exceptions import APIError

from ...errors import TAB_SETTING, CaseloopError, OptionError, RefusedError, RefusedOptionError
from ...model import SheetModel

# Google's 400s that mean the sheet changed between caseloop's read and its write (a tab or
# chart deleted, a tab of that name added by another run): worth one fresh read and retry.
_STALE = ("No grid with id", "No embedded object with id", "already exists")
_NAME_TAKEN = re.compile(r'A sheet with the name "(.*)" already exists')
_CELL_LIMIT = re.compile(r"above the limit of (\d+) cells")


def is_stale(error: APIError) -> bool:
    """Whether Google refused a write because the metadata it was built from is out of date."""
    message = str(error.error.get("message", ""))
    return error.response.status_code == 400 and any(text in message for text in _STALE)


def api_failure(
    error: APIError,
    *,
    key: str,
    account_email: str | None,
    writing: bool,
    tabs: list[SheetModel] = (),  # type: ignore[assignment]
) -> CaseloopError:
    """The ``CaseloopError`` for Google's refusal ``error`` of a request about sheet ``key``.

    ``account_email`` is the service account's address when known, so a sharing problem can
    name who to share the sheet with; ``writing`` tells a refused update from a refused read;
    ``tabs`` are the generated tabs being written, which the sentence names.
    """
    status = error.response.status_code
    message = " ".join(str(error.error.get("message", "")).split())
    if writing and status == 400 and tabs:
        refusal = _refused_write(message, tabs, account_email)
        if refusal is not None:
            return refusal
    if status == 404:
        return CaseloopError(
            f"Google Sheet {key} was not found; check the URL (the part between /d/ and "
            "/edit) and that the sheet was not deleted."
        )
    if status == 401:
        return OptionError(
            "credentials",
            "Google refused the credentials (401 unauthenticated); check the {option} "
            "file or GOOGLE_APPLICATION_CREDENTIALS.",
        )
    if status == 403:
        if "has not been used" in message or "is disabled" in message:
            return CaseloopError(
                "The Google Sheets API is not enabled for the Google Cloud project of these "
                "credentials; enable it in the Cloud console (APIs & Services → Library)."
            )
        who = account_email
        account = who if who else "the Google account of these credentials"
        address = "that address" if who else "that account"
        if writing:
            return CaseloopError(
                f"caseloop can read the sheet but not change it: share it with {account} as Editor."
            )
        return CaseloopError(
            f"The sheet is not shared with {account}; share it with {address} as Editor."
        )
    verb = "the update" if writing else "the request"
    return CaseloopError(
        f"Google Sheets refused {verb} ({status} {error.error.get('status', '')}): {message}"
    )


def _refused_write(
    message: str, tabs: list[SheetModel], account_email: str | None
) -> CaseloopError | None:
    """Google's 400s to a write of ``tabs`` in caseloop's words, naming the tab and the way out."""
    model = tabs[0]
    tab = model.title
    if "protected cell or object" in message:
        account = account_email or "the Google account of these credentials"
        return RefusedError.said("gsheets_protected", tab=tab, account=account)
    if match := _CELL_LIMIT.search(message):
        from .batch import grid_size

        rows, cols = grid_size(model)
        return CaseloopError.said(
            "gsheets_cell_limit", tab=tab, rows=rows, cols=cols, limit=f"{int(match[1]):,}"
        )
    if match := _NAME_TAKEN.search(message):
        named = next((m for m in tabs if m.title.casefold() == match[1].casefold()), model)
        return RefusedOptionError.said_for(
            TAB_SETTING.get(named.kind, "tab"),
            "gsheets_name_clash",
            other=match[1],
            tab=named.title,
        )
    if any(text in message for text in _STALE):
        return CaseloopError.said("gsheets_changed", tab=tab)
    return None
