"""Real receivers on 127.0.0.1 for alert tests (no internet): a webhook for Apprise's json://
and form:// that records what it took, and an SMTP inbox (aiosmtpd) for mailto://."""

from __future__ import annotations

import json
import socket
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    """A webhook on 127.0.0.1: records every request; answers with ``codes`` in turn, then 200."""

    def __init__(self, codes: Any = ()) -> None:
        self.requests: list[dict[str, Any]] = []
        self.codes = list(codes)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                code = receiver.codes.pop(0) if receiver.codes else 200
                receiver.requests.append(
                    {
                        "path": self.path,
                        "type": self.headers.get("Content-Type", ""),
                        "body": body.decode("utf-8"),
                        "code": code,
                    }
                )
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:  # the test's output stays clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, scheme: str = "json", path: str = "/hook") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def accepted(self) -> list[str]:
        """The messages the receiver took (answered 2xx), as JSON or form bodies."""
        out = []
        for request in self.requests:
            if request["code"] >= 300:
                continue
            if "json" in request["type"]:
                out.append(json.loads(request["body"])["message"])
            else:
                out.append(urllib.parse.parse_qs(request["body"])["message"][0])
        return out

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Inbox:
    """An SMTP server on 127.0.0.1 (aiosmtpd) keeping every envelope it receives."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.mail: list[Any] = []
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mail.append(envelope)
        return "250 OK"

    def url(self, to: str = "team@example.com") -> str:
        return f"mailto://127.0.0.1:{self.port}?from=caseloop@example.com&to={to}&mode=insecure"

    def texts(self) -> list[str]:
        """The plain-text body of every mail received."""
        import email
        from email import policy

        out = []
        for envelope in self.mail:
            mail = email.message_from_bytes(envelope.content, policy=policy.default)
            out.append(mail.get_body(preferencelist=("plain",)).get_content())
        return out

    def close(self) -> None:
        self.controller.stop()
