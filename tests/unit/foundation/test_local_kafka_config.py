import hashlib
from pathlib import Path

import pytest

from ops.local_kafka import BrokerError, LocalKafka, ensure_jars


def parse(properties: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in properties.splitlines() if line)


def test_listens_on_loopback_with_the_configured_ports(tmp_path: Path) -> None:
    config = parse(LocalKafka(tmp_path, port=19092, controller_port=19093).server_properties())
    assert config["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert config["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    assert config["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert config["process.roles"] == "broker,controller"
    assert config["log.dirs"] == str(tmp_path / "logs")


def test_topics_are_never_created_by_accident(tmp_path: Path) -> None:
    config = parse(LocalKafka(tmp_path).server_properties())
    assert config["auto.create.topics.enable"] == "false"


def test_extra_config_overrides(tmp_path: Path) -> None:
    broker = LocalKafka(tmp_path, extra_config={"num.partitions": "3"})
    assert parse(broker.server_properties())["num.partitions"] == "3"


def test_pid_is_none_without_a_running_broker(tmp_path: Path) -> None:
    broker = LocalKafka(tmp_path)
    assert broker.pid() is None
    broker.data_dir.mkdir(exist_ok=True)
    broker.pid_file.write_text("999999999")  # stale: no such process
    assert broker.pid() is None
    assert broker.stop() is False


def test_jars_are_cached_per_pom(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYMENTS_CACHE_DIR", str(tmp_path))
    pom = tmp_path / "pom.xml"
    pom.write_text("<project/>")
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()[:16]
    libs = tmp_path / f"kafka-{digest}" / "libs"
    libs.mkdir(parents=True)
    (libs / ".complete").touch()
    monkeypatch.setenv("PATH", "")  # Maven unreachable: only the cache can answer
    assert ensure_jars(pom) == libs
    pom.write_text("<project><!-- changed --></project>")
    with pytest.raises(BrokerError, match="mvn"):  # a changed pom needs a new fetch
        ensure_jars(pom)
