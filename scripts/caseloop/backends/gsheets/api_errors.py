"""Google's error answers as one sentence naming the sheet and what to do about it."""

from __future__ import annotations

from gspread.exceptions import APIError

from ...errors import CaseloopError, OptionError


def api_failure(
    error: APIError, *, key: str, account_email: str | None, writing: bool
) -> CaseloopError:
    """The ``CaseloopError`` for Google's refusal ``error`` of a request about sheet ``key``.

    ``account_email`` is the service account's address when known, so a sharing problem can
    name who to share the sheet with; ``writing`` tells a refused update from a refused read.
    """
    status = error.response.status_code
    message = " ".join(str(error.error.get("message", "")).split())
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
