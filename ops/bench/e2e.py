"""`payments bench e2e`: the whole pipeline on this machine under sustained signed-webhook
load — ingress, 1 or more workers, the sink into PostgreSQL — each a process of its own.

What it reports, from one run:
- accepted webhooks/s (2xx) against the offered rate, and the ingress's own latency;
- end-to-end latency per webhook, from the database: `received_at` (stamped by the ingress
  before its 2xx) to `processed_at` (the sink's write time, inside the transaction that
  makes the row visible);
- consumer lag of the worker and sink groups the moment the load stops, and how long the
  pipeline took to drain it;
- CPU seconds per component over the load window, and each component's resident memory
  when the load starts and when it stops (broker and PostgreSQL included);
- where the latency goes, stage by stage, from the components' own histograms
  (`ops.bench.stages`);
- the PostgreSQL durability settings the run had: production's by default (see
  `ops.local_postgres.set_durability`), said loudly when not;
- a check that the database holds no duplicate and no fewer rows than accepted webhooks.

Everything is scratch: topics under a run prefix (deleted after), a database created on
DATABASE_URL's server (dropped after), temporary data dirs.
"""

from __future__ import annotations

import subprocess  # nosec B404
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

from confluent_kafka.admin import AdminClient
from sqlalchemy import Engine, make_url, text

from common.kafka import make_admin
from common.settings import PipelineSettings
from common.topics import ADMIN_TIMEOUT_SECONDS, create_topics, describe_topics
from common.topics import pipeline_topic_specs as topic_specs
from ops.bench.ingress import Load, RunResult, prepare_target, run_against
from ops.bench.probes import Components
from ops.bench.stages import Quantiles, format_stages, stage_latencies
from ops.bench.worker import worker_env
from ops.local_postgres import Durability, create_database, drop_database, set_durability
from ops.metrics_record import record_to_file
from ops.processes import free_port, spawn, terminate_group
from sinks.database import make_engine
from sinks.migrate import upgrade
from streams.tables import changelog_topic_specs
from streams.worker import app_id

READY_SECONDS = 120.0
DRAIN_SECONDS = 600.0
#: A recording ends with the run, and at the latest after this.
RECORD_LIMIT_SECONDS = 4 * 3600.0
MIB = 1024 * 1024


@dataclass(frozen=True)
class E2eResult:
    workers: int
    load: Load
    ingress: RunResult
    rows: int
    distinct_rows: int
    e2e_seconds: tuple[float, float, float]  # p50, p95, p99
    lag_at_stop: Mapping[str, int]  # group -> records
    drain_seconds: float
    cpu_seconds: Mapping[str, float]  # component -> CPU seconds during the load
    rss_bytes: tuple[Mapping[str, float], Mapping[str, float]]  # component -> at start, end
    stages: Mapping[str, Quantiles]  # stage -> p50, p99 seconds
    durability: Durability

    @property
    def accepted(self) -> int:
        return sum(n for status, n in self.ingress.statuses.items() if 200 <= status < 300)

    def report(self) -> str:
        ingress_p99 = self.ingress.percentile_ms(99)
        others = {status: n for status, n in self.ingress.statuses.items() if status >= 300}
        p50, p95, p99 = (f"{q * 1000:.0f} ms" for q in self.e2e_seconds)
        window = self.ingress.elapsed
        cpu = ", ".join(
            f"{name} {seconds / window:.0%}" for name, seconds in self.cpu_seconds.items()
        )
        start, end = self.rss_bytes
        memory = ", ".join(
            f"{name} {start.get(name, 0) / MIB:,.0f} → {rss / MIB:,.0f}"
            for name, rss in end.items()
        )
        return "\n".join(
            [
                self.durability.report(),
                f"{self.workers} worker(s), offered {self.load.rate:,.0f}/s for "
                f"{self.load.duration:.0f} s",
                f"accepted: {self.accepted:,} ({self.accepted / window:,.0f}/s); other "
                f"statuses {others}"
                f", errors {self.ingress.errors}; ingress p99 {ingress_p99:.0f} ms",
                f"end to end (ingress received → row written): p50 {p50}, p95 {p95}, p99 {p99}",
                f"lag when the load stopped: {dict(self.lag_at_stop)}; drained in "
                f"{self.drain_seconds:.1f} s",
                f"CPU (share of one core over the load): {cpu}",
                f"memory (RSS MiB, load start → end): {memory}",
                "stages (from the components' histograms, load and drain):",
                *format_stages(self.stages),
                f"database: {self.rows:,} rows, {self.rows - self.distinct_rows} duplicates, "
                f"{self.rows - self.accepted} beyond the accepted ones (requests in flight when "
                "the load window closed: written, their answers not counted)",
            ]
        )

    @property
    def exactly_once(self) -> bool:
        """No duplicate row, and no fewer rows than accepted webhooks (the generator does
        not record ids: a missing one would show as fewer rows, not as a name)."""
        return self.rows == self.distinct_rows and self.rows >= self.accepted


def bench_e2e(
    settings: PipelineSettings,
    load: Load,
    workers: int,
    *,
    durable: bool = True,
    record: Path | None = None,
) -> E2eResult:
    """One run; `durable` False measures without production durability (and says so);
    `record`: a file to record the components' /metrics into, every second from the load's
    start until the pipeline has drained (`payments metrics plot` draws it)."""
    run_id = uuid.uuid4().hex[:8]
    scratch = settings.model_copy(
        update={
            "topic_prefix": f"bench-e2e-{run_id}-",
            "sink_group_id": f"bench-e2e-{run_id}-sink",
            "log_level": "WARNING",
        }
    )
    admin = make_admin(scratch)
    with ExitStack() as stack:
        directory = Path(stack.enter_context(TemporaryDirectory(prefix="payments-e2e-")))
        database_url, durability = stack.enter_context(
            _scratch_database(settings.database_url, run_id, durable)
        )
        stack.enter_context(_scratch_topics(admin, scratch))
        engine = make_engine(database_url)
        stack.callback(engine.dispose)
        env = {**prepare_target(directory), "DATABASE_URL": database_url}
        port = free_port()
        pids, metrics_ports = stack.enter_context(
            _components(scratch, env, directory, port, workers)
        )
        groups = [app_id(scratch), scratch.sink_group_id]
        try:
            _wait_until_ready(port)
            _wait_until_stable(admin, groups, workers)
        except TimeoutError as error:
            raise TimeoutError(f"{error}\n{_log_tails(directory)}") from None
        components = Components.find(
            pids, _broker_port(settings), make_url(database_url).port or 5432
        )
        if record is not None:
            stack.enter_context(_recording(metrics_ports, record))
        before, rss_before = components.cpu_seconds(), components.rss_bytes()
        ingress = run_against(port, load, directory)
        after, rss_after = components.cpu_seconds(), components.rss_bytes()
        cpu = {name: seconds - before.get(name, 0.0) for name, seconds in after.items()}
        lag = _lag(admin, scratch, groups)
        accepted = sum(n for status, n in ingress.statuses.items() if 200 <= status < 300)
        drained = _wait_for_rows(engine, accepted)
        rows, distinct, quantiles = _database_figures(engine)
        stages = stage_latencies(metrics_ports)
    return E2eResult(
        workers, load, ingress, rows, distinct, quantiles, lag, drained, cpu,
        (rss_before, rss_after), stages, durability,
    )  # fmt: skip


@contextmanager
def _recording(metrics_ports: Mapping[str, list[int]], out: Path) -> Iterator[None]:
    """Scrape every component's /metrics into `out` until the block ends."""
    targets = {
        f"{name}{n or ''}": f"http://127.0.0.1:{port}/metrics"
        for name, ports in metrics_ports.items()
        for n, port in enumerate(ports)
    }
    stop = threading.Event()
    recorder = threading.Thread(
        target=record_to_file, args=(targets, out, RECORD_LIMIT_SECONDS, 1.0, stop), daemon=True
    )
    recorder.start()
    try:
        yield
    finally:
        stop.set()
        recorder.join()


@contextmanager
def _scratch_database(
    server_url: str, run_id: str, durable: bool
) -> Iterator[tuple[str, Durability]]:
    name = f"bench_e2e_{run_id}"
    url = create_database(server_url, name)
    try:
        durability = set_durability(server_url, name, durable)
        upgrade(url)
        yield url, durability
    finally:
        drop_database(server_url, name)


@contextmanager
def _scratch_topics(admin: AdminClient, settings: PipelineSettings) -> Iterator[None]:
    changelogs = changelog_topic_specs(app_id(settings), settings)
    create_topics(admin, [*topic_specs(settings), *changelogs])
    try:
        yield
    finally:
        names = [*settings.topics.all(), *(spec.name for spec in changelogs)]
        admin.delete_topics(names, request_timeout=ADMIN_TIMEOUT_SECONDS)


@contextmanager
def _components(
    settings: PipelineSettings, env: dict[str, str], directory: Path, port: int, workers: int
) -> Iterator[tuple[dict[str, list[int]], dict[str, list[int]]]]:
    """Ingress, `workers` workers and the sink as `payments` processes; their pids and
    their /metrics ports by name."""
    cli = [sys.executable, "-m", "ops.cli"]
    base = worker_env(settings, directory / "data", "w0", free_port())
    metrics_ports = {"ingress": [port], "worker": [free_port() for _ in range(workers)]}
    metrics_ports["sink"] = [free_port()]
    specs = [
        ("ingress", "ingress", {"INGRESS_PORT": str(port)}),
        *(
            ("worker", "worker", worker_env(settings, directory / "data", f"w{n}", worker_port))
            for n, worker_port in enumerate(metrics_ports["worker"])
        ),
        (
            "sink",
            "sink",
            {
                "SINK_METRICS_PORT": str(metrics_ports["sink"][0]),
                "SINK_GROUP_ID": settings.sink_group_id,
            },
        ),
    ]
    started: dict[str, list[int]] = {}
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for name, command, extra in specs:
            with (directory / f"{name}-{len(processes)}.log").open("wb") as log:
                process = spawn([*cli, command], env={**base, **env, **extra}, log=log)
            processes.append(process)
            started.setdefault(name, []).append(process.pid)
        yield started, metrics_ports
    finally:
        for process in reversed(processes):
            terminate_group(process.pid, 20.0, process)


def _log_tails(directory: Path, lines: int = 15) -> str:
    return "\n".join(
        f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
        for log in sorted(directory.glob("*.log"))
    )


def _wait_until_ready(port: int) -> None:
    url = f"http://127.0.0.1:{port}/ready"  # loopback http only
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        with suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:  # nosec B310
            if response.status == 200:
                return
        time.sleep(0.5)
    raise TimeoutError(f"the ingress on port {port} was not ready within {READY_SECONDS:.0f} s")


def _wait_until_stable(admin: AdminClient, groups: list[str], workers: int) -> None:
    """Until the worker group has `workers` members and the sink group one, both stable."""
    wanted = {groups[0]: workers, groups[1]: 1}
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        described = admin.describe_consumer_groups(groups, request_timeout=10)
        states = {group: future.result() for group, future in described.items()}
        if all(
            str(state.state).endswith("STABLE") and len(state.members) == wanted[group]
            for group, state in states.items()
        ):
            return
        time.sleep(0.5)
    raise TimeoutError(f"consumer groups {groups} not stable within {READY_SECONDS:.0f} s")


def _broker_port(settings: PipelineSettings) -> int:
    return int(settings.kafka_bootstrap_servers.split(",")[0].rsplit(":", 1)[1])


def _lag(admin: AdminClient, settings: PipelineSettings, groups: list[str]) -> dict[str, int]:
    """Records each group has yet to read: the worker's inputs, the sink's payment-events."""
    topics = settings.topics
    worker_group, sink_group = groups
    reads = {
        worker_group: set(topics.worker_sources()),
        sink_group: {topics.payment_events},
    }
    reports = describe_topics(settings, set().union(*reads.values()), groups)
    return {
        group: sum(r.lag(group) for r in reports if r.topic in read)
        for group, read in reads.items()
    }


def _wait_for_rows(engine: Engine, accepted: int) -> float:
    started = time.monotonic()
    while _count(engine) < accepted:
        if time.monotonic() - started > DRAIN_SECONDS:
            raise TimeoutError(f"{_count(engine)} of {accepted} accepted webhooks in the database")
        time.sleep(0.2)
    return time.monotonic() - started


def _count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM webhook_events")).scalar_one())


def _database_figures(engine: Engine) -> tuple[int, int, tuple[float, float, float]]:
    query = text(
        "SELECT count(*), count(DISTINCT (provider, event_id)),"
        " percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP"
        " (ORDER BY extract(epoch FROM processed_at - received_at))"
        " FROM webhook_events"
    )
    with engine.connect() as connection:
        rows, distinct, quantiles = connection.execute(query).one()
    p50, p95, p99 = quantiles
    return int(rows), int(distinct), (float(p50), float(p95), float(p99))
