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

# Quota (429) and the transient server errors Google documents as safe to retry. Anything else
# (400, 401, 403, 404) will not change by asking again.
RETRYABLE_STATUS: frozenset[int] = frozenset({429, 500, 502, 503, 504})


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


class RetryingHTTPClient(HTTPClient):
    """gspread's ``HTTPClient`` with bounded, jittered retries and a request counter.

    gspread's own ``BackOffHTTPClient`` never gives up and ignores ``Retry-After``, so a
    scheduled sync could hang for hours; this one stops after ``max_tries`` attempts or
    ``total_budget`` seconds, whichever comes first. The knobs are class attributes so a test
    subclass can shrink the waits without patching anything.
    """

    max_tries: ClassVar[int] = 5
    base_delay: ClassVar[float] = 2.0  # first wait; doubles each retry, with jitter
    max_delay: ClassVar[float] = 32.0
    total_budget: ClassVar[float] = 70.0  # seconds of waiting plus answering, all tries
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
        started = self.clock()
        waited = 0.0
        attempt = 0
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
                if status not in RETRYABLE_STATUS and unanswered_write:
                    raise CaseloopError(
                        "Google Sheets did not answer a write in time and then refused its retry "
                        f"({_status_words(status)}); "
                        f"{_outcome(method, answered=False)} — run again later."
                    ) from None
                if status not in RETRYABLE_STATUS:
                    raise
                retry_after = retry_after_seconds(error.response)
                answered = True
                problem = f"kept answering {_status_words(status)}"
            except requests.Timeout:
                problem = f"did not answer within {self.timeout:g} s"
                unanswered_write = method.lower() != "get"
            except requests.ConnectionError as error:
                problem = f"could not be reached ({_connection_reason(error)})"
                unanswered_write = method.lower() != "get"
            except RefreshError:
                # google-auth refreshes on 401; a refusal there is about the credentials, and the
                # error text may quote the token endpoint's answer, so none of it is repeated.
                raise OptionError(
                    "credentials",
                    "Google refused the credentials (the token was rejected or could not be "
                    "refreshed); check the {option} file or GOOGLE_APPLICATION_CREDENTIALS.",
                ) from None
            except TransportError:
                problem = "could not be reached to refresh the credentials"

            # Counting the waits too keeps the budget honest when a test's sleep returns at once.
            elapsed = max(self.clock() - started, waited)
            wait = self._wait_before(attempt, retry_after)
            if attempt >= self.max_tries or elapsed + wait > self.total_budget:
                raise CaseloopError(
                    f"Google Sheets {problem} after {attempt} "
                    f"{'try' if attempt == 1 else 'tries'} over {elapsed:.0f} s; "
                    f"{_outcome(method, answered=answered and not unanswered_write)}"
                    " — run again later."
                )
            self.retries += 1
            waited += wait
            self.sleep(wait)


def _outcome(method: str, *, answered: bool) -> str:
    # A refused batchUpdate is applied all or nothing, so an error answer means nothing changed;
    # a write that timed out or lost its connection may have been applied before the cut.
    if method.lower() == "get" or answered:
        return "nothing was written"
    return "the generated tabs may or may not have been updated (the next run rewrites them)"


def _connection_reason(error: requests.ConnectionError) -> str:
    text = str(error).lower()
    if "reset" in text or "aborted" in text or "remote end closed" in text:
        return "connection reset"
    if "name or service" in text or "resolve" in text or "getaddrinfo" in text:
        return "name lookup failed"
    if "refused" in text:
        return "connection refused"
    return "connection error"
