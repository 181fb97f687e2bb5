"""Every `payments` verb, against a broker and a database that do not answer, or with a
wrong argument: one line on stderr saying what failed, a non-zero exit, no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.ports import free_port

# Verbs that do one job and exit, and the service that fails them first.
ONE_SHOT = {
    ("topics", "create"): "Kafka broker",
    ("topics", "describe"): "Kafka broker",
    ("topics", "scale", "--partitions", "2", "--dry-run"): "Kafka broker",
    ("db", "upgrade"): "database",
    ("dlq", "list"): "Kafka broker",
    ("dlq", "show"): "Kafka broker",
    ("dlq", "replay", "--dry-run"): "Kafka broker",
    ("dlq", "purge", "--before", "2020-01-01"): "Kafka broker",
    ("reconcile", "--since", "2020-01-01"): "database",
    ("bench", "sink", "--events", "10", "--batch-size", "5"): "database",
    ("bench", "ingress", "--requests", "10", "--duration", "2"): "Kafka broker",
    ("bench", "worker", "--events", "10"): "Kafka broker",
    ("bench", "e2e", "--rate", "1", "--duration", "5"): "database",
}
# Components: what they logged (JSON) may precede the failure line.
COMPONENTS = {("worker",): "Kafka broker", ("sink",): "database"}
WRONG_ARGUMENTS = [
    ("topics", "create", "--bogus"),
    ("topics", "scale", "--partitions", "many"),
    ("dlq", "purge"),
    ("bench", "sink", "--events", "10"),
    ("sign", "stripe", "/nonexistent/body.json"),
    ("no-such-verb",),
]


@pytest.fixture(scope="module")
def dead_services() -> dict[str, str]:
    """An environment whose broker and database ports have nothing listening."""
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
        "DATABASE_URL": f"postgresql+psycopg://payments:secret@127.0.0.1:{free_port()}/payments",
    }


def payments(args: tuple[str, ...], env: dict[str, str], cwd: Path) -> tuple[int, list[str]]:
    result = subprocess.run(
        [sys.executable, "-m", "ops.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return result.returncode, result.stderr.splitlines()


def run_all(
    verbs: list[tuple[str, ...]], env: dict[str, str], cwd: Path
) -> dict[tuple[str, ...], tuple[int, list[str]]]:
    """Concurrently: most of them wait out the same bounded timeouts."""
    with ThreadPoolExecutor(len(verbs)) as pool:
        return dict(zip(verbs, pool.map(lambda v: payments(v, env, cwd), verbs), strict=True))


def test_every_verb_says_in_one_line_which_service_did_not_answer(
    dead_services: dict[str, str], tmp_path: Path
) -> None:
    services = ONE_SHOT | COMPONENTS
    for verb, (code, stderr) in run_all(list(services), dead_services, tmp_path).items():
        service = services[verb]
        assert code != 0, verb
        assert not any("Traceback" in line for line in stderr), (verb, stderr)
        if verb in ONE_SHOT:
            assert len(stderr) == 1, (verb, stderr)
        else:
            assert all(json.loads(line) for line in stderr[:-1]), (verb, stderr)
        assert stderr[-1].startswith(f"error: the {service} at "), (verb, stderr)
        assert "secret" not in stderr[-1]


def test_a_wrong_argument_is_one_line_naming_the_help(
    dead_services: dict[str, str], tmp_path: Path
) -> None:
    for verb, (code, stderr) in run_all(WRONG_ARGUMENTS, dead_services, tmp_path).items():
        assert code == 2, verb
        assert len(stderr) == 1, (verb, stderr)
        assert stderr[0].startswith("error: ")
        assert stderr[0].endswith(" --help`")


def test_a_wrong_setting_is_one_line_naming_the_variable(
    dead_services: dict[str, str], tmp_path: Path
) -> None:
    code, stderr = payments(
        ("topics", "describe"), {**dead_services, "TOPIC_PARTITIONS": "many"}, tmp_path
    )
    assert code == 2
    assert len(stderr) == 1
    assert stderr[0].startswith("error: invalid setting TOPIC_PARTITIONS: ")
