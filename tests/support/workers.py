"""`payments worker` subprocesses (as in production) for the end-to-end tests."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from common.settings import PipelineSettings
from ops.bench.worker import worker_env
from ops.processes import spawn, terminate_group
from tests.support.ports import free_port

SECRET = "whsec_end_to_end"


@dataclass
class Workers:
    """`payments worker` subprocesses, each with its data dir under `directory/data` and its
    log at `directory/<worker id>.log`."""

    directory: Path
    running: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    metrics_ports: dict[str, int] = field(default_factory=dict)

    def start(self, settings: PipelineSettings, worker_id: str, module: str = "ops.cli") -> None:
        """`module`: another entry point with the worker's command line (a faulty worker)."""
        port = self.metrics_ports[worker_id] = free_port()
        env = worker_env(settings, self.directory / "data", worker_id, port)
        # The child writes to its own copy of the descriptor.
        with (self.directory / f"{worker_id}.log").open("ab") as log:
            argv = [sys.executable, "-m", module, "worker"]
            self.running[worker_id] = spawn(argv, log=log, env=env)

    def stop(self, worker_id: str) -> None:
        """SIGTERM, as an orderly shutdown would send it (killed after 20 s)."""
        process = self.running.pop(worker_id)
        terminate_group(process.pid, 20.0, process)
