"""`payments run`: the whole pipeline on this machine, supervised in one terminal.

The broker (unless KAFKA_BOOTSTRAP_SERVERS names one), the topics, then each component as a
child process. Ctrl-C (or SIGTERM) stops the components in reverse order, then the broker;
children are tied to this process, so even a SIGKILL of it leaves no orphan.
"""

from __future__ import annotations

import logging
import signal
import subprocess  # nosec B404
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from common.kafka import make_admin
from common.settings import PipelineSettings
from common.topics import create_topics, pipeline_topic_specs
from ops.local_kafka import LocalKafka
from ops.processes import spawn, terminate_group

log = logging.getLogger("payments.stack")
STOP_TIMEOUT_SECONDS = 15.0


@dataclass(frozen=True)
class Component:
    name: str
    argv: Sequence[str]


def pipeline_components() -> list[Component]:
    """The processes webhooks flow through, in start order. The sink migrates the database
    itself."""
    cli = [sys.executable, "-m", "ops.cli"]
    return [
        Component("ingress", [*cli, "ingress"]),
        Component("worker", [*cli, "worker"]),
        Component("sink", [*cli, "sink"]),
    ]


def components() -> list[Component]:
    """Every process of the local stack: the pipeline's, then the admin process."""
    return [*pipeline_components(), Component("admin", [sys.executable, "-m", "ops.cli", "admin"])]


class _Stop(Exception):
    """A stop signal arrived."""


def _raise_stop(signum: int, _frame: FrameType | None) -> None:
    raise _Stop(signal.Signals(signum).name)


def run_stack(settings: PipelineSettings, state_dir: Path, broker: LocalKafka | None) -> int:
    """Run until a signal or a component's death; return the exit code."""
    state_dir.mkdir(parents=True, exist_ok=True)
    previous = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    running: list[tuple[Component, subprocess.Popen[bytes]]] = []
    try:
        if broker is not None:
            seconds = broker.start(tie_to_parent=True)
            log.info("broker ready", extra={"bootstrap": broker.bootstrap, "seconds": seconds})
        for result in create_topics(make_admin(settings), pipeline_topic_specs(settings)):
            log.info("topic", extra={"topic": result.spec.name, "outcome": result.outcome})
        for component in components():
            running.append((component, spawn(component.argv)))
            log.info("started", extra={"component": component.name})
        return _watch(running)
    except _Stop as stop:
        log.info("stopping", extra={"signal": str(stop)})
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for component, process in reversed(running):
            terminate_group(process.pid, STOP_TIMEOUT_SECONDS, process)
            log.info("stopped", extra={"component": component.name})
        if broker is not None:
            broker.stop()
            log.info("broker stopped")


def _watch(running: list[tuple[Component, subprocess.Popen[bytes]]]) -> int:
    while True:
        for component, process in running:
            if process.poll() is not None:
                log.error("component exited", extra={"component": component.name})
                return 1
        time.sleep(0.5)
