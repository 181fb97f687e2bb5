"""Process-level tuning shared by the long-running services."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager


def freeze_startup_objects() -> None:
    """Exclude every object alive now from future garbage collections.

    A service builds a few hundred thousand objects while it starts (FastAPI and pydantic
    models, cryptography, the Kafka client) that live as long as the process. A full
    (generation 2) collection walks all of them: in ingress that held the event loop long
    enough to set the webhooks' p99 latency. Frozen, they are never walked
    again; what the service allocates afterwards is collected as usual. Call it once the
    service is ready to serve.
    """
    gc.collect()
    gc.freeze()


@contextmanager
def first_generation_threshold(allocations: int) -> Iterator[None]:
    """Collect the youngest generation only after `allocations` net allocations (Python's
    default is 700) until the block ends. A service that allocates many short-lived objects
    per unit of work, freed by reference counting, otherwise has the collector walk them
    again and again while they are alive, for nothing."""
    before = gc.get_threshold()
    gc.set_threshold(allocations, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


@contextmanager
def thread_switch_interval(seconds: float) -> Iterator[None]:
    """Have a thread that holds the interpreter lock hand it over after `seconds` (Python's
    default is 5 ms) until the block ends. A thread coming back from a database round trip
    waits for the lock while another thread computes: with several round trips per
    transaction, the default interval adds tens of milliseconds to each."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(seconds)
    try:
        yield
    finally:
        sys.setswitchinterval(before)
