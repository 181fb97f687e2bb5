"""Free loopback ports for services a test starts."""

from __future__ import annotations

import random
import socket
from pathlib import Path

from ops.processes import free_port as free_port  # re-exported for the tests


def free_port_pair() -> int:
    """A port whose successor is free too (the local broker's controller takes port + 1)."""
    for _ in range(50):
        port = free_port()
        try:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", port + 1))
        except OSError:
            continue
        return port
    raise RuntimeError("no two consecutive free ports")


def restartable_port(count: int = 1) -> int:
    """The first of `count` consecutive free ports, below the kernel's ephemeral range: while
    a server the test stops and starts again is down, no outgoing connection can take its
    port (one in the ephemeral range can, and the restart then fails to bind)."""
    ephemeral = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
    for port in random.sample(range(10_000, int(ephemeral[0]) - count), 200):
        if all(_bindable(p) for p in range(port, port + count)):
            return port
    raise RuntimeError(f"no {count} consecutive free ports below the ephemeral range")


def _bindable(port: int) -> bool:
    try:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))
    except OSError:
        return False
    return True
