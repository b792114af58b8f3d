"""The fake's HTTP side: Sheets v4 routes on 127.0.0.1, a request log and queued faults."""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from .batch import InvalidRequest, apply_batch
from .state import FakeSpreadsheet, split_range
from .values import BadRange, value_range

# Google's status names and default messages for the errors the fake gives.
ERRORS: dict[int, tuple[str, str]] = {
    400: ("INVALID_ARGUMENT", "Request contains an invalid argument."),
    401: (
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
        "cookie or other valid authentication credential.",
    ),
    403: ("PERMISSION_DENIED", "The caller does not have permission"),
    404: ("NOT_FOUND", "Requested entity was not found."),
    429: (
        "RESOURCE_EXHAUSTED",
        "Quota exceeded for quota metric 'Write requests' and limit 'Write requests per minute "
        "per user' of service 'sheets.googleapis.com' for consumer 'project_number:0'.",
    ),
    500: ("INTERNAL", "Internal error encountered."),
    502: ("UNAVAILABLE", "Bad Gateway"),
    503: ("UNAVAILABLE", "The service is currently unavailable."),
    504: ("DEADLINE_EXCEEDED", "The request timed out."),
}

PREFIX = "/v4/spreadsheets/"
TOKEN_PATH = "/token"  # tests point credentials' token_uri here instead of oauth2.googleapis.com
DEFAULT_CALLER = "caseloop-sync@seller-ops.iam.gserviceaccount.com"


@dataclass(frozen=True)
class Fault:
    """What the next matching request meets instead of (or before) a normal answer.

    ``status``: answer with that error (Google's JSON shape), with ``retry_after`` as the header.
    ``delay``: wait that long first (then answer normally unless ``status`` or ``reset``).
    ``reset``: drop the connection without an answer (a TCP reset).
    ``method``/``path_contains``: only requests that match take this fault.
    """

    status: int | None = None
    retry_after: str | None = None
    delay: float = 0.0
    reset: bool = False
    message: str | None = None
    method: str | None = None
    path_contains: str | None = None
    # Apply the request first, then answer ``status`` anyway: Google documents that
    # DEADLINE_EXCEEDED "may be returned even if the operation has completed successfully"
    # (Sheets API troubleshooting / google.rpc.Code), and a 5xx from its front end says nothing
    # about whether the backend applied the batch.
    applied: bool = False

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method:
            return False
        return not self.path_contains or self.path_contains in path


@dataclass
class LoggedRequest:
    method: str
    path: str  # decoded, without the query
    params: dict[str, list[str]]
    body: Any
    status: int = 0  # 0 when the connection was dropped
    fault: Fault | None = None
    size: int = 0  # bytes of the request body as sent

    @property
    def kind(self) -> str:
        """ "metadata", "values", "batchGet", "batchUpdate" or "other"."""
        rest = self.path[len(PREFIX) :] if self.path.startswith(PREFIX) else ""
        if self.path == TOKEN_PATH:
            return "token"
        if rest.endswith(":batchUpdate"):
            return "batchUpdate"
        if "/values:batchGet" in rest:
            return "batchGet"
        if "/values/" in rest:
            return "values"
        if rest and "/" not in rest and ":" not in rest:
            return "metadata"
        return "other"


@dataclass
class _ApiError(Exception):
    status: int
    message: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


class FakeSheetsServer:
    """A stateful Sheets v4 fake. Start it, point a client at ``url``, inspect ``books``."""

    def __init__(
        self,
        tokens: frozenset[str] = frozenset({"test"}),
        *,
        callers: dict[str, str] | None = None,
    ) -> None:
        self.books: dict[str, FakeSpreadsheet] = {}
        self.log: list[LoggedRequest] = []
        self.tokens = set(tokens)
        # Who each access token belongs to, for protections (requestingUserCanEdit is per caller).
        self.callers: dict[str, str] = {t: DEFAULT_CALLER for t in self.tokens}
        self.callers.update(callers or {})
        self.tokens |= set(self.callers)
        # The token endpoint: refresh tokens it no longer accepts (revoked, or expired: Google's
        # OAuth 2.0 answer is 400 {"error": "invalid_grant", ...}, RFC 6749 section 5.2).
        self.revoked_refresh_tokens: set[str] = set()
        # A per-minute quota already spent by another script: every request answers 429
        # RESOURCE_EXHAUSTED (without Retry-After, as Sheets does) while ``clock()`` is below
        # ``quota_closed_until``. Tests share a virtual clock with the client's sleep.
        self.clock: Callable[[], float] = time.monotonic
        self.quota_closed_until: float = float("-inf")
        # Google recommends at most 2 MB per request (usage limits page); a test sets this to
        # refuse bigger bodies outright, so a request over it cannot go unnoticed.
        self.max_body_bytes: int | None = None
        self._faults: deque[Fault] = deque()
        self._lock = threading.RLock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle

    def start(self) -> FakeSheetsServer:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._httpd = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.02},  # stop() waits for one poll
            name="fakesheets",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeSheetsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._httpd is not None, "start() the fake first"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    # seeding

    def add_spreadsheet(self, key: str = "KEY", **settings: Any) -> FakeSpreadsheet:
        with self._lock:
            book = FakeSpreadsheet(key=key, **settings)
            self.books[key] = book
            return book

    def book(self, key: str = "KEY") -> FakeSpreadsheet:
        """The spreadsheet as it is now (a batchUpdate replaces the object: look it up again)."""
        with self._lock:
            return self.books[key]

    def edit(self, key: str, title: str, a1: str, value: Any, *, result: Any = None) -> None:
        """A person types into a cell while caseloop runs."""
        with self._lock:
            self.books[key].put(title, a1, value, result=result)

    # faults and log

    def inject(self, *faults: Fault) -> None:
        with self._lock:
            self._faults.extend(faults)

    def pending_faults(self) -> int:
        with self._lock:
            return len(self._faults)

    def clear_log(self) -> None:
        with self._lock:
            self.log.clear()

    def requests_of(self, kind: str) -> list[LoggedRequest]:
        with self._lock:
            return [r for r in self.log if r.kind == kind]

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            if self._faults and self._faults[0].matches(method, path):
                return self._faults.popleft()
            return None

    # the API

    def token(self, form: dict[str, list[str]]) -> tuple[int, Any]:
        """The OAuth 2.0 token endpoint: a refresh token (or a service account's JWT) for an
        access token the Sheets routes accept."""
        refresh = form.get("refresh_token", [""])[0]
        if refresh in self.revoked_refresh_tokens:
            return 400, {
                "error": "invalid_grant",
                "error_description": "Token has been expired or revoked.",
            }
        return 200, {"access_token": "test", "expires_in": 3599, "token_type": "Bearer"}

    def handle(
        self, method: str, path: str, params: dict[str, list[str]], body: Any, auth: str | None
    ) -> tuple[int, Any]:
        if not path.startswith(PREFIX):
            raise _ApiError(404, "Method not found.")
        token = auth[len("Bearer ") :] if auth and auth.startswith("Bearer ") else None
        if token not in self.tokens:
            raise _ApiError(401)
        caller = self.callers.get(token or "", DEFAULT_CALLER)
        if self.clock() < self.quota_closed_until:
            raise _ApiError(429)
        rest = path[len(PREFIX) :]
        with self._lock:
            if method == "POST" and rest.endswith(":batchUpdate"):
                key = rest[: -len(":batchUpdate")]
                book = self._book(key)
                if book.read_only:
                    raise _ApiError(403)
                try:
                    new_book, answer = apply_batch(
                        book, body if isinstance(body, dict) else {}, caller
                    )
                except InvalidRequest as error:
                    raise _ApiError(400, str(error)) from None
                self.books[key] = new_book
                return 200, answer
            if method != "GET":
                raise _ApiError(404, "Method not found.")
            if "/values:batchGet" in rest:
                key = rest.split("/values:batchGet")[0]
                book = self._book(key)
                ranges = params.get("ranges", [])
                return 200, {
                    "spreadsheetId": key,
                    "valueRanges": [self._values(book, r, params) for r in ranges],
                }
            if "/values/" in rest:
                key, _, a1 = rest.partition("/values/")
                return 200, self._values(self._book(key), a1, params)
            if "/" not in rest and ":" not in rest:
                return 200, self._book(rest).resource(caller)
        raise _ApiError(404, "Method not found.")

    def _book(self, key: str) -> FakeSpreadsheet:
        book = self.books.get(key)
        if book is None:
            raise _ApiError(404)
        if book.denied:
            raise _ApiError(403)
        return book

    def _values(
        self, book: FakeSpreadsheet, a1: str, params: dict[str, list[str]]
    ) -> dict[str, Any]:
        title, cells = split_range(a1)
        if not book.has_sheet(title):
            raise _ApiError(400, f"Unable to parse range: {a1}")
        try:
            return value_range(book.sheet(title), cells, params)
        except BadRange as error:
            raise _ApiError(400, str(error)) from None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a thread sleeping in a slow-answer fault must not hold up stop()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that time out or are reset on purpose are not errors here


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Google's front end
    fake: FakeSheetsServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        params = parse_qs(parts.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        if path == TOKEN_PATH:
            body = parse_qs(raw.decode("utf-8", "replace"))
        entry = LoggedRequest(method, path, params, body, size=len(raw))
        with self.fake._lock:
            self.fake.log.append(entry)
        fault = self.fake._take_fault(method, path)
        entry.fault = fault
        try:
            if fault is not None:
                if fault.delay:
                    time.sleep(fault.delay)
                if fault.reset:
                    self._reset()
                    return
                if fault.applied:
                    self._answer(method, path, params, body, len(raw))
                if fault.status:
                    headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                    raise _ApiError(fault.status, fault.message, headers)
            status, answer = self._answer(method, path, params, body, len(raw))
        except _ApiError as error:
            name, default = ERRORS.get(error.status, ("UNKNOWN", "Unknown error."))
            status = error.status
            answer = {
                "error": {"code": status, "message": error.message or default, "status": name}
            }
            entry.status = status
            self._send(status, answer, error.headers)
            return
        entry.status = status
        self._send(status, answer, {})

    def _answer(
        self, method: str, path: str, params: dict[str, list[str]], body: Any, size: int
    ) -> tuple[int, Any]:
        if path == TOKEN_PATH and method == "POST":
            return self.fake.token(body or {})
        limit = self.fake.max_body_bytes
        if limit is not None and size > limit:
            raise _ApiError(400, f"Request payload size exceeds the limit: {limit} bytes.")
        return self.fake.handle(method, path, params, body, self.headers.get("Authorization"))

    def _send(self, status: int, answer: Any, headers: dict[str, str]) -> None:
        data = json.dumps(answer, ensure_ascii=False, indent=2).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True  # the client gave up (a timeout test)

    def _reset(self) -> None:
        # SO_LINGER with a zero timeout makes close() send a RST instead of a polite FIN.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._serve("PUT")
