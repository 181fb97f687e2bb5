"""Session services for the integration tests: a real Kafka broker and a real PostgreSQL.

Each comes from, in order: the environment (KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL), a
testcontainer when a Docker daemon answers, else a local process started here (the Maven-
fetched broker, Debian's PostgreSQL). When none can be had the fixture errors: a missing
service is a failure, never a skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from common.settings import PipelineSettings
from ops.local_kafka import LocalKafka
from ops.local_postgres import LocalPostgres
from tests.support.databases import scratch_database
from tests.support.ports import free_port, free_port_pair, restartable_port

TESTS = Path(__file__).parent
#: The marker each top-level test directory gives its tests.
DIRECTORY_MARKERS = {"unit": pytest.mark.unit, "integration": pytest.mark.integration}
KAFKA_IMAGE = "apache/kafka:4.0.2"
POSTGRES_IMAGE = "postgres:16"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`unit` and `integration` come from where a test lives, not from its module."""
    for item in items:
        marker = DIRECTORY_MARKERS.get(item.path.relative_to(TESTS).parts[0])
        if marker is not None:
            item.add_marker(marker)


def docker_answers() -> bool:
    """True when a Docker daemon answers (the client alone is not enough)."""
    if shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(["docker", "info"], capture_output=True, timeout=10, check=False)
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if bootstrap := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield bootstrap
    elif docker_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer(KAFKA_IMAGE).with_kraft() as container:
            yield container.get_bootstrap_server()
    else:
        port = free_port_pair()
        broker = LocalKafka(tmp_path_factory.mktemp("kafka"), port=port, controller_port=port + 1)
        broker.start()
        try:
            yield broker.bootstrap
        finally:
            broker.stop()


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A PostgreSQL server on which the suite may create and drop databases."""
    if url := os.environ.get("DATABASE_URL"):
        yield url
    elif docker_answers():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer(POSTGRES_IMAGE, driver=None) as container:
            yield container.get_connection_url()
    else:
        # Not under pytest's tmp dir: that is 0700 root-owned and the server runs as postgres.
        directory = Path(tempfile.mkdtemp(prefix="payments-pg-"))
        server = LocalPostgres(directory, port=free_port(), durable=False)
        server.start()
        try:
            yield server.admin_url
        finally:
            server.stop(remove=True)


@pytest.fixture(scope="session")
def database_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh database for this test run, dropped at the end."""
    with scratch_database(postgres_server_url) as url:
        yield url


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[LocalKafka]:
    """A broker of this test's own, which it may stop and start (same data directory and
    ports across restarts) without disturbing any other test."""
    port = restartable_port(2)
    broker = LocalKafka(tmp_path / "kafka", port=port, controller_port=port + 1, heap="512m")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@contextmanager
def _local_postgres(port: int, *, durable: bool) -> Iterator[LocalPostgres]:
    directory = Path(tempfile.mkdtemp(prefix="payments-own-pg-"))
    server = LocalPostgres(directory, port=port, durable=durable)
    server.start()
    try:
        yield server
    finally:
        server.stop(remove=True)


@pytest.fixture
def own_postgres() -> Iterator[LocalPostgres]:
    """A PostgreSQL of this test's own, so stopping it disturbs no other test."""
    with _local_postgres(restartable_port(), durable=False) as server:
        yield server


@pytest.fixture
def durable_postgres() -> Iterator[LocalPostgres]:
    """A PostgreSQL of this test's own with production durability (fsync,
    synchronous_commit and full_page_writes on)."""
    with _local_postgres(free_port(), durable=True) as server:
        yield server


@pytest.fixture
def make_settings(kafka_bootstrap: str) -> Callable[..., PipelineSettings]:
    """Settings on the session broker with a topic prefix of this test's own."""

    def make(**overrides: Any) -> PipelineSettings:
        values: dict[str, Any] = {
            "kafka_bootstrap_servers": kafka_bootstrap,
            "topic_prefix": f"t{uuid.uuid4().hex[:10]}-",
            "topic_partitions": 4,
        }
        values.update(overrides)
        return PipelineSettings(_env_file=None, **values)

    return make
