"""Startup objects are frozen out of the garbage collector's full collections; a service
can raise the youngest generation's threshold and shorten the thread switch interval while
it runs."""

import gc
import sys
from collections.abc import Iterator

import pytest

from common.runtime import (
    first_generation_threshold,
    freeze_startup_objects,
    thread_switch_interval,
)

RAISED = 10_000


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


def test_the_first_generation_threshold_is_raised_within_the_block_then_restored() -> None:
    before = gc.get_threshold()
    with first_generation_threshold(RAISED):
        assert gc.get_threshold() == (RAISED, *before[1:])
    assert gc.get_threshold() == before


def test_the_thread_switch_interval_is_shortened_within_the_block_then_restored() -> None:
    before = sys.getswitchinterval()
    with thread_switch_interval(before / 10):
        assert sys.getswitchinterval() == pytest.approx(before / 10)
    assert sys.getswitchinterval() == before
