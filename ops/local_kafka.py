"""A real single-node Apache Kafka (KRaft) on loopback, without Docker.

The broker's jars come from Maven Central through the pinned `pom.xml` beside this file and
are cached outside the repo (keyed by the pom's hash), so only the first start downloads.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import socket
import subprocess  # nosec B404
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka.admin import AdminClient

from ops.processes import spawn, terminate_group

POM = Path(__file__).with_name("pom.xml")
SLF4J_SIMPLE_OPTIONS = (
    "-Dorg.slf4j.simpleLogger.showDateTime=true",
    "-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSS",
)


#: Brokers started by this process, by pid: holding the handle lets `stop` reap the child
#: instead of leaving a zombie (and Python warning about a still-running subprocess).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


class BrokerError(RuntimeError):
    """The local broker could not be fetched, started or stopped."""


def cache_root() -> Path:
    return Path(os.environ.get("PAYMENTS_CACHE_DIR", Path.home() / ".cache" / "payments-pipeline"))


def ensure_jars(pom: Path = POM) -> Path:
    """Fetch the broker's jars once; return the directory that holds them."""
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()[:16]
    libs = cache_root() / f"kafka-{digest}" / "libs"
    if (libs / ".complete").exists():
        return libs
    staging = libs.with_name("libs.partial")
    shutil.rmtree(staging, ignore_errors=True)
    command = [
        _require("mvn"),
        "-q",
        "-B",
        "-f",
        str(pom),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={staging}",
        "-DincludeScope=runtime",
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # nosec B603
    if result.returncode != 0:
        raise BrokerError(f"fetching Kafka jars failed: {_tail(result.stdout + result.stderr)}")
    (staging / ".complete").touch()
    shutil.rmtree(libs, ignore_errors=True)
    staging.rename(libs)
    return libs


def _require(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        raise BrokerError(f"`{program}` is not on PATH; the local broker needs Java 17+ and Maven")
    return path


@dataclass(frozen=True)
class LocalKafka:
    """One broker+controller process with its data, config, log and pid under `data_dir`."""

    data_dir: Path
    port: int = 9092
    controller_port: int = 9093
    heap: str = "1g"
    extra_config: dict[str, str] = field(default_factory=dict)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "broker.pid"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "broker.log"

    def server_properties(self) -> str:
        config = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": (
                f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}"
            ),
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.data_dir / "logs"),
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "8",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            # Topics are created on purpose by `payments topics create`; a typo must not
            # silently create a one-partition topic that breaks co-partitioning.
            "auto.create.topics.enable": "false",
            # A single local node: the default 3 s delay only slows every test's first join.
            "group.initial.rebalance.delay.ms": "0",
            # On restart the controller refuses the node's new registration until the old
            # incarnation's session expires (DuplicateBrokerRegistrationException): a short
            # session lets a warm start go ahead instead of waiting out the default one.
            "broker.heartbeat.interval.ms": "500",
            "broker.session.timeout.ms": "2000",
        }
        config.update(self.extra_config)
        return "".join(f"{key}={value}\n" for key, value in config.items())

    def pid(self) -> int | None:
        """The broker's pid if it is running, else None (a stale pid file is ignored)."""
        try:
            pid = int(self.pid_file.read_text())
            os.kill(pid, 0)
        except (FileNotFoundError, ValueError, ProcessLookupError):
            return None
        return pid

    def is_ready(self, timeout: float = 1.0) -> bool:
        """True once the broker answers a metadata request listing itself."""
        try:  # a plain connect first: librdkafka would log every refused connection
            socket.create_connection(("127.0.0.1", self.port), timeout=timeout).close()
        except OSError:
            return False
        try:
            metadata = AdminClient({"bootstrap.servers": self.bootstrap}).list_topics(
                timeout=timeout
            )
        except Exception:  # librdkafka raises KafkaException with many codes; all mean "not yet"
            return False
        return bool(metadata.brokers)

    def start(self, timeout: float = 60.0, tie_to_parent: bool = False) -> float:
        """Start the broker (formatting storage on first start); return seconds to ready.

        With `tie_to_parent` the broker dies with the calling process (the local stack);
        without it, it keeps running after `payments kafka start` returns.
        """
        if self.pid() is not None:
            raise BrokerError(
                f"a broker is already running from {self.data_dir} (pid {self.pid()})"
            )
        started = time.monotonic()
        libs = ensure_jars()
        java = _require("java")
        classpath = f"{libs}/*"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        properties = self.data_dir / "server.properties"
        properties.write_text(self.server_properties())
        if not (self.data_dir / "logs" / "meta.properties").exists():
            self._format(java, classpath, properties)
        with self.log_file.open("ab") as log:
            command = [java, f"-Xmx{self.heap}", *SLF4J_SIMPLE_OPTIONS, "-cp", classpath]
            process = spawn(
                [*command, "kafka.Kafka", str(properties)],
                log=log,
                tie_to_parent=tie_to_parent,
            )
        _CHILDREN[process.pid] = process
        self.pid_file.write_text(str(process.pid))
        deadline = started + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise BrokerError(f"broker exited with {process.returncode}; see {self.log_file}")
            if self.is_ready():
                return time.monotonic() - started
            time.sleep(0.2)
        self.stop()
        raise BrokerError(f"broker not ready after {timeout:.0f}s; see {self.log_file}")

    def _format(self, java: str, classpath: str, properties: Path) -> None:
        command = [
            java,
            "-cp",
            classpath,
            "kafka.tools.StorageTool",
            "format",
            # "=" form: a random id may start with "-", which argparse would take for an option
            "--cluster-id=" + base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="),
            "-c",
            str(properties),
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # nosec B603
        if result.returncode != 0:
            raise BrokerError(f"formatting storage failed: {_tail(result.stdout + result.stderr)}")

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the broker: SIGTERM (controlled shutdown), SIGKILL after `timeout`.

        Returns False when no broker was running.
        """
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        terminate_group(pid, timeout, _CHILDREN.pop(pid, None))
        self.pid_file.unlink(missing_ok=True)
        return True


def _tail(output: str, lines: int = 15) -> str:
    return "\n".join(output.strip().splitlines()[-lines:])
