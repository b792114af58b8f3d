"""Shared test set-up: the fast core and the `slow` marker for everything else."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from receivers import Receiver

# Pure modules tested without files, servers or subprocesses: `pytest -m "not slow"` runs
# just these (a few seconds) for a developer's inner loop. CI runs everything.
FAST_MODULES = {"test_rules", "test_frame", "test_weekly", "test_schema"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1] if item.module else ""
        if module not in FAST_MODULES and item.get_closest_marker("slow") is None:
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def receiver() -> Iterator[Callable[..., Receiver]]:
    """Make webhooks on 127.0.0.1 (``receiver(codes=[500])`` answers 500 first); all closed
    after the test."""
    made: list[Receiver] = []

    def make(codes: tuple[int, ...] | list[int] = ()) -> Receiver:
        made.append(Receiver(codes))
        return made[-1]

    yield make
    for r in made:
        r.close()
