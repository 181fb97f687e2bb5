"""`payments run` as a child process: the whole local stack (ingress, worker, sink, admin)
on the session's broker and a database of the test's own, with its own ports and groups."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from common.settings import PipelineSettings
from ops.processes import free_port, spawn, terminate_group

#: Configuration `payments run` fills in with local credentials when it is absent.
LOCAL_CREDENTIALS = (
    "STRIPE_WEBHOOK_SECRETS",
    "PAYPAL_WEBHOOK_ID",
    "PAYPAL_CERT_DIR",
    "PAYPAL_CERT_CACHE_DIR",
    "ADMIN_TOKENS",
)


def stack_environment(settings: PipelineSettings, database_url: str) -> dict[str, str]:
    """Topics, database, ports and groups of a stack of its own."""
    return {
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "TOPIC_PREFIX": settings.topic_prefix,
        "DATABASE_URL": database_url,
        "INGRESS_PORT": str(free_port()),
        "WORKER_METRICS_PORT": str(free_port()),
        "SINK_METRICS_PORT": str(free_port()),
        "ADMIN_PORT": str(free_port()),
        "SINK_GROUP_ID": f"{settings.topic_prefix}sink",
        "WORKER_SESSION_TIMEOUT_SECONDS": "6",
    }


@contextmanager
def running_stack(environment: dict[str, str], state: Path, log_path: Path) -> Iterator[Path]:
    """`payments run --state-dir state` until the block ends; the tail of its log is printed
    afterwards (pytest shows it when the test fails)."""
    inherited = {k: v for k, v in os.environ.items() if k not in LOCAL_CREDENTIALS}
    with log_path.open("ab") as log:
        process = spawn(
            [sys.executable, "-m", "ops.cli", "run", "--state-dir", str(state)],
            log=log,
            env=inherited | environment,
        )
    try:
        yield state
    finally:
        terminate_group(process.pid, 30.0, process)
        sys.stdout.write(log_path.read_text()[-20_000:])
