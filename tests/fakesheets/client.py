"""The HTTP client tests hand to caseloop: the real retrying client, pointed at the fake."""

from __future__ import annotations

from typing import Any

from caseloop.backends.gsheets import RetryingHTTPClient

GOOGLE = "https://sheets.googleapis.com"


def fake_client_class(base_url: str, **knobs: Any) -> type[RetryingHTTPClient]:
    """A ``RetryingHTTPClient`` subclass that sends Google's URLs to ``base_url``.

    ``knobs`` override the retry class attributes (``base_delay``, ``request_timeout``,
    ``sleep``…) so retry tests run in milliseconds; gspread itself is not touched.
    """

    def request(
        self: RetryingHTTPClient, method: str, endpoint: str, *args: Any, **kwargs: Any
    ) -> Any:
        if not endpoint.startswith(GOOGLE):
            # Anything else (Drive, the token endpoint) has no business in these tests.
            raise AssertionError(f"caseloop tried to reach {endpoint}")
        return RetryingHTTPClient.request(
            self, method, base_url + endpoint[len(GOOGLE) :], *args, **kwargs
        )

    # A generous timeout: a big batch on a slow or busy machine must not look like a hang.
    # Tests of the timeout itself pass their own short ``request_timeout``.
    attributes: dict[str, Any] = {"base_delay": 0.001, "max_delay": 0.01, "request_timeout": 60.0}
    for name, value in knobs.items():
        # Plain functions would otherwise be bound as methods and receive the client as ``self``.
        attributes[name] = staticmethod(value) if name in ("sleep", "clock") else value
    attributes["request"] = request
    return type("FakeSheetsHTTPClient", (RetryingHTTPClient,), attributes)
