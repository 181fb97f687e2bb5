"""`payments demo` against the real local stack: `payments run` itself (ingress, worker,
sink and admin as its subprocesses, credentials of its own) on the session's broker and a scratch
PostgreSQL. Every step of the demo must pass."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from common.settings import PipelineSettings
from ops.cli import app
from ops.demo import STEPS
from ops.processes import free_port, spawn, terminate_group
from tests.support.databases import scratch_database

pytestmark = pytest.mark.integration

#: Configuration `payments run` fills in with local credentials when it is absent.
LOCAL_CREDENTIALS = (
    "STRIPE_WEBHOOK_SECRETS",
    "PAYPAL_WEBHOOK_ID",
    "PAYPAL_CERT_DIR",
    "PAYPAL_CERT_CACHE_DIR",
    "ADMIN_TOKENS",
)


@pytest.fixture
def stack_env(
    make_settings: Callable[..., PipelineSettings], postgres_server_url: str
) -> Iterator[dict[str, str]]:
    """The environment of a local stack of this test's own: topics, database, ports, groups."""
    settings = make_settings()
    with scratch_database(postgres_server_url) as database_url:
        yield {
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


@pytest.fixture
def state_dir(stack_env: dict[str, str], tmp_path: Path) -> Iterator[Path]:
    """`payments run --state-dir` running until the test ends; its log is printed on failure."""
    state = tmp_path / "state"
    env = {k: v for k, v in os.environ.items() if k not in LOCAL_CREDENTIALS} | stack_env
    log_path = tmp_path / "stack.log"
    with log_path.open("ab") as log:
        process = spawn(
            [sys.executable, "-m", "ops.cli", "run", "--state-dir", str(state)], log=log, env=env
        )
    try:
        yield state
    finally:
        terminate_group(process.pid, 30.0, process)
        sys.stdout.write(log_path.read_text()[-20_000:])  # shown by pytest when the test fails


def test_every_demo_step_passes_against_the_running_stack(
    state_dir: Path, stack_env: dict[str, str]
) -> None:
    env: dict[str, str | None] = {name: None for name in LOCAL_CREDENTIALS}
    env |= stack_env
    arguments = ["demo", "--state-dir", str(state_dir), "--wait", "180", "--timeout", "120"]
    result = CliRunner().invoke(app, arguments, env=env)

    print(result.output)
    assert result.exit_code == 0, result.output
    for name, _ in STEPS:
        assert f"[ok] {name}:" in result.output
    assert "FAILED" not in result.output
    assert "demo passed" in result.output
