"""`payments demo` against the real local stack: `payments run` itself (ingress, worker,
sink and admin as its subprocesses, credentials of its own) on the session's broker and a scratch
PostgreSQL. Every step of the demo must pass."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from common.settings import PipelineSettings
from ops.cli import app
from ops.demo import STEPS
from tests.support.databases import scratch_database
from tests.support.local_stack import LOCAL_CREDENTIALS, running_stack, stack_environment


@pytest.fixture
def stack_env(
    make_settings: Callable[..., PipelineSettings], postgres_server_url: str
) -> Iterator[dict[str, str]]:
    """The environment of a local stack of this test's own: topics, database, ports, groups."""
    with scratch_database(postgres_server_url) as database_url:
        yield stack_environment(make_settings(), database_url)


@pytest.fixture
def state_dir(stack_env: dict[str, str], tmp_path: Path) -> Iterator[Path]:
    """`payments run --state-dir` running until the test ends; its log is printed on failure."""
    with running_stack(stack_env, tmp_path / "state", tmp_path / "stack.log") as state:
        yield state


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
