"""`payments admin` as a child process on a free port, as `payments run` starts it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from ops.processes import free_port, spawn, terminate_group

START_TIMEOUT_SECONDS = 30.0


def admin_command() -> list[str]:
    return [sys.executable, "-m", "ops.cli", "admin"]


def run_admin_briefly(environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`payments admin` in the foreground, for a start that is expected to be refused."""
    env = os.environ | environment
    return subprocess.run(
        admin_command(), env=env, capture_output=True, text=True, timeout=60, check=False
    )


@contextmanager
def admin_process(environment: dict[str, str], log: Path) -> Iterator[str]:
    """The admin process's base URL while the block runs; its output goes to `log`."""
    port = free_port()
    env = os.environ | environment | {"ADMIN_HOST": "127.0.0.1", "ADMIN_PORT": str(port)}
    with log.open("ab") as output:
        process = spawn(admin_command(), log=output, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process)
        yield url
    finally:
        terminate_group(process.pid, 10.0, process)


def _wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"payments admin exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"payments admin did not answer on {url}")
