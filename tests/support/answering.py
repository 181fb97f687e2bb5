"""Waiting for a server a test started to answer."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx


def wait_answering(url: str, timeout: float, alive: Callable[[], bool] = lambda: True) -> None:
    """Until `url` answers 200; fails at `timeout`, or as soon as `alive()` says the server
    died."""
    deadline = time.monotonic() + timeout
    while True:
        if not alive():
            raise RuntimeError(f"the server behind {url} exited")
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing answered at {url} in {timeout:.0f}s")
        time.sleep(0.3)
