"""Child processes that cannot outlive the process that started them."""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess  # nosec B404
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Runs in the child before exec: the kernel SIGTERMs it when its parent dies, so even a
    SIGKILLed supervisor leaves no orphan behind."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(
    argv: Sequence[str],
    *,
    log: IO[bytes] | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    tie_to_parent: bool = True,
) -> subprocess.Popen[bytes]:
    """Start `argv` in a session of its own (a terminal's Ctrl-C reaches only the supervisor,
    which stops children in order)."""
    return subprocess.Popen(  # nosec B603
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT if log is not None else None,
        env=env,
        cwd=cwd,
        start_new_session=True,
        preexec_fn=_die_with_parent if tie_to_parent else None,
    )


def terminate_group(pid: int, timeout: float, child: subprocess.Popen[bytes] | None = None) -> None:
    """SIGTERM the process group led by `pid`; SIGKILL it if it is still there after `timeout`.

    Pass our own `child` handle when there is one, so that it (not a bare waitpid) reaps it.
    """

    def alive() -> bool:
        return child.poll() is None if child is not None else is_alive(pid)

    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            return
        time.sleep(0.05)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    while alive():
        time.sleep(0.05)


def is_alive(pid: int) -> bool:
    """True while `pid` runs; reaps it when it is our exited child."""
    try:
        reaped, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # not our child: ask the kernel
        return _exists_and_not_zombie(pid)
    return reaped == 0


def _exists_and_not_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def free_port() -> int:
    """A loopback port nothing listens on now (for a child process to serve on)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
