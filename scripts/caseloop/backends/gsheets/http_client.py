"""A gspread HTTP client that retries what is worth retrying, then gives up with one sentence."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Mapping, MutableMapping
from http import HTTPStatus
from typing import Any, ClassVar

import requests
from google.auth.exceptions import RefreshError, TransportError
from gspread.exceptions import APIError
from gspread.http_client import FileType, HTTPClient, ParamsType

from ...errors import CaseloopError, OptionError
from .batch import compact_json

# Quota (429) and the transient server errors Google documents as safe to retry. Anything else
# (400, 401, 403, 404) will not change by asking again.
RETRYABLE_STATUS: frozenset[int] = frozenset({429, 500, 502, 503, 504})
# Answers to a write that do not say whether Google applied it: 504 DEADLINE_EXCEEDED "may be
# returned even if the operation has completed successfully" (google.rpc.Code), and a 500 or
# 502 from the front end may come after the backend finished. 429 and 503 are refusals.
AMBIGUOUS_STATUS: frozenset[int] = frozenset({500, 502, 504})


def _status_words(status: int) -> str:
    try:
        phrase = HTTPStatus(status).phrase.lower()
    except ValueError:
        return str(status)
    return f"{status} ({phrase})"


def retry_after_seconds(response: requests.Response) -> float | None:
    """The wait a ``Retry-After`` header asks for, in seconds (delta or HTTP date), if any."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


# The problem when Google's sign-in service itself failed (compared by identity).
TOKEN_TROUBLE: dict[str, str] = {"problem": "token endpoint", "problem_zh": "令牌接口"}


class WriteApplied(Exception):
    """A write whose answer was an error or was lost, but which the read-back found applied."""


class RetryingHTTPClient(HTTPClient):
    """gspread's ``HTTPClient`` with bounded, jittered retries and a request counter.

    gspread's own ``BackOffHTTPClient`` never gives up and ignores ``Retry-After``, so a
    scheduled sync could hang for hours; this one stops after ``max_tries`` attempts or
    ``total_budget`` seconds, whichever comes first. The knobs are class attributes so a test
    subclass can shrink the waits without patching anything.

    Google's per-minute quota frees "after 1 minute" (Sheets API usage limits), so the budget
    outlasts a minute whose quota another script already spent: the last try starts no earlier
    than ``total_budget - max_delay`` (68 s) after the first.
    """

    max_tries: ClassVar[int] = 10
    base_delay: ClassVar[float] = 2.0  # first wait; doubles each retry, with jitter
    max_delay: ClassVar[float] = 32.0
    total_budget: ClassVar[float] = 100.0  # seconds of waiting plus answering, all tries
    request_timeout: ClassVar[float] = 60.0  # per attempt
    # Plain Callable, not ClassVar: staticmethod makes them plain functions on the instance,
    # while a ClassVar Callable tells the type checker they would be bound to ``self``.
    sleep: Callable[[float], None] = staticmethod(time.sleep)
    clock: Callable[[], float] = staticmethod(time.monotonic)

    def __init__(self, auth: Any, session: requests.Session | None = None) -> None:
        super().__init__(auth, session)
        self.timeout = self.request_timeout
        self.requests_sent = 0  # every HTTP attempt, retries included: what the quota sees
        self.retries = 0
        self.largest_body = 0  # bytes of the biggest request body sent
        # Set by the workbook around a write: reads the sheet back once and says whether the
        # write was applied (True), was not (False), or cannot be told (None).
        self.check_write: Callable[[], bool | None] | None = None
        self._single_try = False

    def get_once(self, key: str) -> dict[str, Any] | None:
        """The spreadsheet's metadata in one try, no retries; None when that try fails."""
        self._single_try = True
        try:
            return dict(self.fetch_sheet_metadata(key))
        except (APIError, CaseloopError, requests.RequestException):
            return None
        finally:
            self._single_try = False

    def _wait_before(self, attempt: int, retry_after: float | None) -> float:
        # Jitter (a random wait between half and all of the backoff) keeps several schedulers
        # that hit the same quota from retrying in lockstep.
        backoff = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        wait = random.uniform(backoff / 2, backoff)
        if retry_after is not None:
            wait = max(wait, retry_after)
        return wait

    def request(
        self,
        method: str,
        endpoint: str,
        params: ParamsType | None = None,
        data: bytes | None = None,
        json: Mapping[str, Any] | None = None,
        files: FileType = None,
        headers: MutableMapping[str, str] | None = None,
    ) -> requests.Response:
        if json is not None and data is None:
            # Compact JSON: the spaces json.dumps puts after separators are a tenth of a big body.
            data, json = compact_json(json), None
            headers = {**(headers or {}), "Content-Type": "application/json"}
        if data is not None:
            self.largest_body = max(self.largest_body, len(data))
        started = self.clock()
        waited = 0.0
        attempt = 0
        max_tries = 1 if self._single_try else self.max_tries
        # A write that timed out or lost its connection may have been applied all the same; a
        # refusal of its retry (e.g. "a sheet with that name already exists") then says nothing
        # about whether the sheet changed.
        unanswered_write = False
        while True:
            attempt += 1
            self.requests_sent += 1
            retry_after: float | None = None
            answered = False  # did Google answer (and so refuse) this attempt?
            try:
                return super().request(
                    method,
                    endpoint,
                    params=params,
                    data=data,
                    json=json,
                    files=files,
                    headers=headers,
                )
            except APIError as error:
                status = error.response.status_code
                if status in AMBIGUOUS_STATUS and method.lower() != "get":
                    # A 5xx after Google applied the batch is possible (DEADLINE_EXCEEDED "may
                    # be returned even if the operation has completed successfully").
                    unanswered_write = self._read_back(unanswered_write)
                if status not in RETRYABLE_STATUS and unanswered_write:
                    raise CaseloopError.said(
                        "gsheets_retry_refused",
                        status=_status_words(status),
                        **_outcome(method, answered=False),
                    ) from None
                if status not in RETRYABLE_STATUS:
                    raise
                retry_after = retry_after_seconds(error.response)
                answered = True
                problem = _trouble("answering", status=_status_words(status))
            except requests.Timeout:
                problem = _trouble("timeout", seconds=f"{self.timeout:g}")
                if method.lower() != "get":
                    unanswered_write = self._read_back(True)
                    answered = not unanswered_write  # the read-back found it not applied
            except requests.ConnectionError as error:
                problem = _trouble("unreachable", reason=_connection_reason(error))
                if method.lower() != "get":
                    unanswered_write = self._read_back(True)
                    answered = not unanswered_write  # the read-back found it not applied
            except RefreshError as error:
                if not getattr(error, "retryable", False):
                    raise _credentials_refused(error, self.auth) from None
                # The token endpoint itself failed (5xx, "temporarily_unavailable") after
                # google-auth's own tries: Google's outage, not the key. Retried like a 503.
                problem = TOKEN_TROUBLE
                answered = True
            except TransportError:
                problem = _trouble("refresh")

            if self._give_up(attempt, max_tries, started, waited, retry_after):
                raise self._failure(
                    problem, attempt, started, waited, method, answered and not unanswered_write
                )
            waited += self._pause()

    def _read_back(self, unanswered: bool) -> bool:
        """After a write's answer was lost or was a 5xx: read the sheet back once. Raises
        ``WriteApplied`` when the write is there; returns whether it is still unknown."""
        if self.check_write is None:
            return unanswered
        verdict = self.check_write()
        if verdict is True:
            raise WriteApplied()
        return verdict is None

    def _give_up(
        self, attempt: int, max_tries: int, started: float, waited: float, retry_after: float | None
    ) -> bool:
        # Counting the waits too keeps the budget honest when a test's sleep returns at once.
        elapsed = max(self.clock() - started, waited)
        self._next_wait = self._wait_before(attempt, retry_after)
        return attempt >= max_tries or elapsed + self._next_wait > self.total_budget

    def _pause(self) -> float:
        self.retries += 1
        self.sleep(self._next_wait)
        return self._next_wait

    def _failure(
        self,
        problem: dict[str, str],
        attempt: int,
        started: float,
        waited: float,
        method: str,
        answered: bool,
    ) -> CaseloopError:
        elapsed = max(self.clock() - started, waited)
        if problem is TOKEN_TROUBLE:
            return CaseloopError.said(
                "gsheets_token_unavailable", tries=attempt, seconds=f"{elapsed:.0f}"
            )
        return CaseloopError.said(
            "gsheets_gave_up",
            tries=attempt,
            tries_word="try" if attempt == 1 else "tries",
            seconds=f"{elapsed:.0f}",
            **problem,
            **_outcome(method, answered=answered),
        )


def _credentials_refused(error: RefreshError, credentials: Any) -> OptionError:
    """The sentence for a refusal at Google's token endpoint. Only the OAuth error code is
    repeated: the rest of the answer may quote the request."""
    details = error.args[1] if len(error.args) > 1 and isinstance(error.args[1], dict) else {}
    code = str(details.get("error", ""))
    if code == "invalid_grant":
        if hasattr(credentials, "service_account_email"):
            return OptionError.said_for("credentials", "gsheets_key_revoked")
        return OptionError.said_for("credentials", "gsheets_signin_expired")
    # google-auth refreshes on 401; a refusal there is about the credentials.
    return OptionError(
        "credentials",
        "Google refused the credentials (the token was rejected or could not be "
        "refreshed); check the {option} file or GOOGLE_APPLICATION_CREDENTIALS.",
    )


def _outcome(method: str, *, answered: bool) -> dict[str, str]:
    """What became of the write, as the fields ``outcome`` (English) and ``outcome_zh``."""
    # A refused batchUpdate is applied all or nothing, so an error answer means nothing changed;
    # a write that timed out or lost its connection may have been applied before the cut.
    key = "nothing" if method.lower() == "get" or answered else "maybe"
    return _phrase("outcome", key)


def _trouble(kind: str, **fields: str) -> dict[str, str]:
    """What went wrong with Google, as the fields ``problem`` and ``problem_zh``."""
    if "reason" in fields:  # the connection's trouble, worded per language too
        reason = _phrase("reason", fields["reason"])
        return {
            "problem": _phrase("trouble", kind)["problem"].format(reason=reason["reason"]),
            "problem_zh": _phrase("trouble", kind)["problem_zh"].format(reason=reason["reason_zh"]),
        }
    words = _phrase("trouble", kind)
    return {name: text.format(**fields) for name, text in words.items()}


def _phrase(group: str, key: str) -> dict[str, str]:
    """A phrase of labels.yaml ``gsheets_phrases`` in English and Chinese, as the fields a
    message template of ``errors:`` takes (``problem`` / ``problem_zh`` ...)."""
    from ...config import load_labels

    field = {"outcome": "outcome", "trouble": "problem", "reason": "reason"}[group]
    labels = load_labels()
    name = f"{group}_{key}"
    return {
        field: labels.get("gsheets_phrases", name, "en"),
        f"{field}_zh": labels.get("gsheets_phrases", name, "zh"),
    }


def _connection_reason(error: requests.ConnectionError) -> str:
    """Which connection trouble it was: a key of ``gsheets_phrases`` (reason_...)."""
    text = str(error).lower()
    if "reset" in text or "aborted" in text or "remote end closed" in text:
        return "reset"
    if "name or service" in text or "resolve" in text or "getaddrinfo" in text:
        return "lookup"
    if "refused" in text:
        return "refused"
    return "other"
