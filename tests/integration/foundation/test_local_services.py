"""The local broker's CLI, the local stack, and the real PostgreSQL."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
import pytest
from typer.testing import CliRunner

from ops.cli import app
from tests.support.ports import free_port, free_port_pair

pytestmark = pytest.mark.integration

PAYMENTS = [sys.executable, "-m", "ops.cli"]


def processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes that contain `text` (zombies excluded)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            continue
        if text in cmdline and state != "Z" and int(proc.name) != os.getpid():
            found.append(cmdline)
    return found


def test_kafka_start_status_stop_leaves_no_java(tmp_path: Path) -> None:
    port = free_port_pair()
    options = ["--data-dir", str(tmp_path), "--port", str(port), "--controller-port", str(port + 1)]
    runner = CliRunner()

    started = runner.invoke(app, ["kafka", "start", *options])
    assert started.exit_code == 0, started.output
    assert f"kafka ready on 127.0.0.1:{port}" in started.output
    assert processes_mentioning(str(tmp_path / "server.properties"))

    status = runner.invoke(app, ["kafka", "status", *options])
    assert status.exit_code == 0
    assert "kafka ready" in status.output

    again = runner.invoke(app, ["kafka", "start", *options])
    assert again.exit_code == 1
    assert "already running" in again.output

    stopped = runner.invoke(app, ["kafka", "stop", *options])
    assert stopped.exit_code == 0
    assert "kafka stopped" in stopped.output
    assert processes_mentioning(str(tmp_path / "server.properties")) == []

    status = runner.invoke(app, ["kafka", "status", *options])
    assert status.exit_code == 1
    assert "kafka stopped" in status.output
    assert "was not running" in runner.invoke(app, ["kafka", "stop", *options]).output


def start_stack(state_dir: Path, kafka_port: int, ingress_port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
    # Every port its own: another stack on this machine may hold the default ones.
    ports = ("ADMIN_PORT", "WORKER_METRICS_PORT", "SINK_METRICS_PORT")
    env.update({name: str(free_port()) for name in ports})
    env.update({"INGRESS_PORT": str(ingress_port), "TOPIC_PARTITIONS": "2"})
    with (state_dir / "stack.log").open("wb") as log:
        return subprocess.Popen(
            [*PAYMENTS, "run", "--state-dir", str(state_dir), "--kafka-port", str(kafka_port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def wait_ready(base: str, stack: subprocess.Popen[bytes], log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert stack.poll() is None, log.read_text()
        try:
            if httpx.get(f"{base}/ready", timeout=3).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError("the local stack did not become ready")


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGKILL])
def test_run_serves_and_leaves_no_orphan(tmp_path: Path, stop_signal: signal.Signals) -> None:
    """Ctrl-C stops everything in order; even a SIGKILLed supervisor leaves no child behind."""
    ingress_port = free_port()
    stack = start_stack(tmp_path, free_port_pair(), ingress_port)
    try:
        base = f"http://127.0.0.1:{ingress_port}"
        wait_ready(base, stack, tmp_path / "stack.log")
        assert httpx.get(f"{base}/health").json() == {"status": "ok"}
        assert "python_info" in httpx.get(f"{base}/metrics").text
        assert (tmp_path / "kafka" / "logs" / "meta.properties").exists()

        stack.send_signal(stop_signal)
        code = stack.wait(timeout=60)
        output = (tmp_path / "stack.log").read_text()
        if stop_signal == signal.SIGINT:
            assert code == 0, output
            assert '"message": "broker stopped"' in output
        deadline = time.monotonic() + 30
        while processes_mentioning(str(tmp_path)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert processes_mentioning(str(tmp_path)) == []
        assert processes_mentioning(f"INGRESS_PORT={ingress_port}") == []
    finally:
        if stack.poll() is None:
            stack.kill()
            stack.wait()


def test_postgres_round_trip(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute("CREATE TABLE probe (id int PRIMARY KEY, body jsonb NOT NULL)")
        conn.execute("INSERT INTO probe VALUES (1, %s)", ['{"ok": true}'])
        conn.commit()
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT body FROM probe").fetchall() == [({"ok": True},)]
        assert conn.execute("SELECT current_database()").fetchone()[0].startswith("payments_test_")  # type: ignore[index]
