"""CPU and memory of the end-to-end benchmark's components, from /proc (Linux).

A component is the process groups of the `payments` processes started for it, the broker
is the process listening on the broker's port, and PostgreSQL is the server listening on
its port together with its backends.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Callable, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = resource.getpagesize()

# Indexes into the fields of /proc/pid/stat after the command name (proc(5) numbers - 3).
_PPID, _PGRP, _UTIME, _STIME, _CUTIME, _CSTIME, _RSS = 1, 2, 11, 12, 13, 14, 21

_Figure = Callable[[list[str]], float]


@dataclass(frozen=True)
class Components:
    """The processes of each component: process group leaders of the pipeline's own, and
    the pids of the broker and the PostgreSQL server (None: not found on this machine)."""

    groups: Mapping[str, list[int]]
    broker: int | None
    postgresql: int | None

    @classmethod
    def find(cls, groups: Mapping[str, list[int]], broker_port: int, pg_port: int) -> Components:
        return cls(groups, listening_pid(broker_port), listening_pid(pg_port))

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds so far of each component. PostgreSQL's include the backends that
        ended (the server adds them up when it reaps them)."""
        return self._per_component(_cpu, lambda fields: _cpu(fields, reaped=True))

    def rss_bytes(self) -> dict[str, float]:
        """Resident memory of each component now, summed over its processes. PostgreSQL's
        counts a shared buffer page once in every backend that touched it."""
        return self._per_component(_rss, _rss)

    def _per_component(self, each: _Figure, server: _Figure) -> dict[str, float]:
        stats = dict(_process_stats())
        totals = {
            name: sum(each(fields) for fields in stats.values() if int(fields[_PGRP]) in leaders)
            for name, leaders in self.groups.items()
        }
        if self.broker in stats:
            totals["broker"] = each(stats[self.broker])
        if self.postgresql in stats:
            backends = (f for f in stats.values() if int(f[_PPID]) == self.postgresql)
            totals["postgresql"] = server(stats[self.postgresql]) + sum(map(each, backends))
        return totals


def _process_stats() -> Iterator[tuple[int, list[str]]]:
    """(pid, the fields of /proc/pid/stat after the command name) of every process."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError):  # gone meanwhile
            yield int(stat.parent.name), stat.read_text().rsplit(")", 1)[1].split()


def _cpu(fields: list[str], *, reaped: bool = False) -> float:
    """utime + stime (and the reaped children's, with `reaped`) in seconds."""
    columns = (_UTIME, _STIME, _CUTIME, _CSTIME) if reaped else (_UTIME, _STIME)
    return sum(int(fields[i]) for i in columns) / CLOCK_TICKS


def _rss(fields: list[str]) -> float:
    return int(fields[_RSS]) * PAGE_BYTES


def listening_pid(port: int) -> int | None:
    """The process with a TCP socket listening on `port` on this machine, if any."""
    sockets = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state, inode = (line.split()[i] for i in (1, 3, 9))
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                sockets.add(f"socket:[{inode}]")
    for fd in Path("/proc").glob("[0-9]*/fd/*"):
        with suppress(OSError):
            if os.readlink(fd) in sockets:
                return int(fd.parts[2])
    return None
