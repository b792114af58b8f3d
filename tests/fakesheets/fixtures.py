"""pytest fixtures: the fake on loopback, and a guard that keeps every test off the internet."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from .server import FakeSheetsServer

LOOPBACK = {"127.0.0.1", "::1", "localhost"}


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any name lookup other than loopback fails, so nothing can reach Google by mistake."""
    real_getaddrinfo = socket.getaddrinfo

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in LOOPBACK:
            raise socket.gaierror(socket.EAI_NONAME, f"network disabled in tests ({name})")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    # A proxy from the environment would otherwise carry loopback requests elsewhere.
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def fake_sheets(no_network: None) -> Iterator[FakeSheetsServer]:
    """A started fake Sheets API; stopped after the test."""
    with FakeSheetsServer() as server:
        yield server
