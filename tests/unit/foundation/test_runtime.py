"""Startup objects are frozen out of the garbage collector's full collections."""

import gc
from collections.abc import Iterator

import pytest

from common.runtime import freeze_startup_objects


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


@pytest.mark.usefixtures("unfrozen")
def test_objects_alive_at_startup_are_frozen_and_later_garbage_is_still_collected() -> None:
    built_at_startup: list[list[object]] = [[] for _ in range(1000)]
    freeze_startup_objects()
    assert gc.get_freeze_count() >= len(built_at_startup)

    cycle: list[object] = []
    cycle.append(cycle)  # garbage only the collector can free
    del cycle
    assert gc.collect() >= 1
