"""`payments admin` as a child process on a free port, as `payments run` starts it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ops.processes import free_port, spawn, terminate_group
from tests.support.answering import wait_answering

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
        wait_answering(f"{url}/health", START_TIMEOUT_SECONDS, lambda: process.poll() is None)
        yield url
    finally:
        terminate_group(process.pid, 10.0, process)
