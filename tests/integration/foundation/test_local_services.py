"""The local broker's CLI, the local stack, and the real PostgreSQL."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from typer.testing import CliRunner

from ops.cli import app
from ops.local_postgres import DURABILITY_SETTINGS, LocalPostgres
from tests.support.ports import free_port, free_port_pair

PAYMENTS = [sys.executable, "-m", "ops.cli"]
#: Where the stack finds its broker and database unless it starts its own.
SERVICES = {"KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL"}


@pytest.fixture
def postgres_dir() -> Iterator[Path]:
    """A directory the `postgres` user can reach (pytest's tmp_path is root's alone)."""
    directory = Path(tempfile.mkdtemp(prefix="payments-cli-pg-"))
    directory.chmod(0o755)  # the clusters go one level down
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


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


def start_stack(
    state_dir: Path, kafka_port: int, ingress_port: int, *options: str
) -> subprocess.Popen[bytes]:
    env = {
        k: v for k, v in os.environ.items() if k not in {"KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL"}
    }
    # Every port its own: another stack on this machine may hold the default ones.
    ports = ("ADMIN_PORT", "WORKER_METRICS_PORT", "SINK_METRICS_PORT")
    env.update({name: str(free_port()) for name in ports})
    env.update({"INGRESS_PORT": str(ingress_port), "TOPIC_PARTITIONS": "2"})
    arguments = ["--state-dir", str(state_dir), "--kafka-port", str(kafka_port), *options]
    with (state_dir / "stack.log").open("wb") as log:
        return subprocess.Popen(
            [*PAYMENTS, "run", *arguments],
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


def test_run_postgres_sinks_into_a_postgres_of_its_own(postgres_dir: Path) -> None:
    """`payments run --postgres`: the sink migrates the local cluster's `payments` database;
    Ctrl-C stops the cluster it started with the rest."""
    ingress_port, postgres_port = free_port(), free_port()
    server = LocalPostgres(postgres_dir / "postgres", postgres_port)
    options = ("--postgres", "--postgres-port", str(postgres_port))
    stack = start_stack(postgres_dir, free_port_pair(), ingress_port, *options)
    try:
        wait_ready(f"http://127.0.0.1:{ingress_port}", stack, postgres_dir / "stack.log")
        wait_for_table(server.database_url("payments"), "payments", stack)
        stack.send_signal(signal.SIGINT)
        assert stack.wait(timeout=60) == 0, (postgres_dir / "stack.log").read_text()
        assert not server.running()
    finally:
        if stack.poll() is None:
            stack.kill()
            stack.wait()
        server.stop()


def wait_for_table(url: str, table: str, stack: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert stack.poll() is None
        with psycopg.connect(url.replace("+psycopg", "")) as conn:
            if conn.execute("SELECT to_regclass(%s)", (table,)).fetchone() != (None,):
                return
        time.sleep(0.5)
    raise AssertionError(f"{table} never appeared")


def test_postgres_start_status_stop(postgres_dir: Path) -> None:
    options = ["--data-dir", str(postgres_dir), "--port", str(free_port())]
    runner = CliRunner()

    started = runner.invoke(app, ["postgres", "start", *options])
    assert started.exit_code == 0, started.output
    said = "fsync=on, synchronous_commit=on, full_page_writes=on (production's)"
    assert said in started.output
    url = started.output.strip().splitlines()[-1].removeprefix("DATABASE_URL=")
    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        for setting in DURABILITY_SETTINGS:  # production's durability
            assert conn.execute("SELECT current_setting(%s)", [setting]).fetchone() == ("on",)
    assert runner.invoke(app, ["postgres", "start", *options]).output == started.output
    assert runner.invoke(app, ["postgres", "status", *options]).exit_code == 0

    assert "postgres stopped" in runner.invoke(app, ["postgres", "stop", *options]).output
    status = runner.invoke(app, ["postgres", "status", *options])
    assert status.exit_code == 1
    assert "postgres stopped" in status.output


def test_postgres_without_fsync_says_it_is_not_production(postgres_dir: Path) -> None:
    options = ["--data-dir", str(postgres_dir), "--port", str(free_port())]
    started = subprocess.run(
        [*PAYMENTS, "postgres", "start", "--no-fsync", *options],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        assert started.returncode == 0, started.stderr
        url = started.stdout.strip().removeprefix("DATABASE_URL=")
        with psycopg.connect(url.replace("+psycopg", "")) as conn:
            for setting in DURABILITY_SETTINGS:
                assert conn.execute("SELECT current_setting(%s)", [setting]).fetchone() == ("off",)
    finally:
        subprocess.run([*PAYMENTS, "postgres", "stop", *options], check=False)
    assert "fsync=off, synchronous_commit=off, full_page_writes=off" in started.stderr
    assert "NOT PRODUCTION DURABILITY" in started.stderr


def test_postgres_on_a_busy_port_fails_in_one_line(postgres_dir: Path) -> None:
    port = str(free_port())
    first = LocalPostgres(postgres_dir / "first", int(port), durable=False)
    first.start()
    second = ["--data-dir", str(postgres_dir / "second"), "--port", port]
    try:
        result = subprocess.run(
            [*PAYMENTS, "postgres", "start", *second], capture_output=True, text=True, check=False
        )
    finally:
        first.stop()
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("error: ")


def test_postgres_round_trip(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute("CREATE TABLE probe (id int PRIMARY KEY, body jsonb NOT NULL)")
        conn.execute("INSERT INTO probe VALUES (1, %s)", ['{"ok": true}'])
        conn.commit()
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT body FROM probe").fetchall() == [({"ok": True},)]
        assert conn.execute("SELECT current_database()").fetchone()[0].startswith("payments_test_")  # type: ignore[index]
