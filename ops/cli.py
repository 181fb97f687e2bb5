"""The `payments` command line."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from common.kafka import make_admin
from common.logging import configure_logging
from common.settings import PipelineSettings
from ops.local_kafka import BrokerError, LocalKafka
from ops.topics import create_topics, describe_topics, pipeline_topic_specs

app = typer.Typer(help="Payments webhook pipeline.", no_args_is_help=True)
kafka_app = typer.Typer(help="A local single-node Kafka broker (KRaft) on 127.0.0.1.")
topics_app = typer.Typer(help="The pipeline's Kafka topics.")
app.add_typer(kafka_app, name="kafka")
app.add_typer(topics_app, name="topics")

DEFAULT_STATE_DIR = Path(".payments")
DataDir = Annotated[Path, typer.Option(help="Broker data, config, log and pid file.")]
Port = Annotated[int, typer.Option(help="Client (PLAINTEXT) port.")]
ControllerPort = Annotated[int, typer.Option(help="KRaft controller port.")]


def _broker(data_dir: Path, port: int, controller_port: int) -> LocalKafka:
    return LocalKafka(data_dir=data_dir.resolve(), port=port, controller_port=controller_port)


@kafka_app.command("start")
def kafka_start(
    data_dir: DataDir = DEFAULT_STATE_DIR / "kafka",
    port: Port = 9092,
    controller_port: ControllerPort = 9093,
) -> None:
    """Start the broker in the background and wait until it answers metadata requests."""
    broker = _broker(data_dir, port, controller_port)
    try:
        seconds = broker.start()
    except BrokerError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"kafka ready on {broker.bootstrap} in {seconds:.1f}s (log: {broker.log_file})")


@kafka_app.command("stop")
def kafka_stop(
    data_dir: DataDir = DEFAULT_STATE_DIR / "kafka",
    port: Port = 9092,
    controller_port: ControllerPort = 9093,
) -> None:
    """Stop the broker (controlled shutdown; killed if it takes longer than 30 s)."""
    stopped = _broker(data_dir, port, controller_port).stop()
    typer.echo("kafka stopped" if stopped else "kafka was not running")


@kafka_app.command("status")
def kafka_status(
    data_dir: DataDir = DEFAULT_STATE_DIR / "kafka",
    port: Port = 9092,
    controller_port: ControllerPort = 9093,
) -> None:
    """Exit 0 when the broker runs and answers, 1 otherwise."""
    broker = _broker(data_dir, port, controller_port)
    pid = broker.pid()
    ready = pid is not None and broker.is_ready(timeout=3.0)
    state = "ready" if ready else ("running, not answering" if pid else "stopped")
    typer.echo(f"kafka {state} ({broker.bootstrap}, pid {pid or '-'})")
    raise typer.Exit(0 if ready else 1)


@topics_app.command("create")
def topics_create() -> None:
    """Create every pipeline topic with the same partition count. Safe to run again."""
    settings = PipelineSettings()
    results = create_topics(make_admin(settings), pipeline_topic_specs(settings))
    for result in results:
        spec = result.spec
        detail = result.detail or f"({spec.partitions} partitions)"
        typer.echo(f"{spec.name}: {result.outcome} {detail}")
    if all(result.outcome == "exists" for result in results):
        typer.echo("nothing to do: every topic already exists as configured")
    if any(result.outcome == "exists-differs" for result in results):
        raise typer.Exit(1)


@topics_app.command("describe")
def topics_describe(
    group: Annotated[
        list[str] | None, typer.Option(help="Consumer group(s) to show lag for; default all.")
    ] = None,
) -> None:
    """Partitions, offsets and consumer-group lag of every pipeline topic."""
    settings = PipelineSettings()
    reports = describe_topics(make_admin(settings), settings.topics.all(), group)
    groups = sorted({g for report in reports for g in report.committed})
    header = f"{'topic':<28}{'partition':>10}{'low':>12}{'high':>12}"
    typer.echo(header + "".join(f"  lag[{g}]" for g in groups))
    for r in reports:
        lags = "".join(f"  {r.lag(g):>{len(g) + 5}}" for g in groups)
        typer.echo(f"{r.topic:<28}{r.partition:>10}{r.low:>12}{r.high:>12}{lags}")


@app.command()
def ingress(
    host: Annotated[str | None, typer.Option(help="Default: INGRESS_HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="Default: INGRESS_PORT.")] = None,
) -> None:
    """Serve the webhook ingress (uvicorn, uvloop, httptools)."""
    from ingress.app import create_app
    from ingress.server import serve

    settings = PipelineSettings()
    configure_logging(settings.log_level, component="ingress")
    serve(create_app(settings), host or settings.ingress_host, port or settings.ingress_port)


@app.command()
def openapi(
    output: Annotated[Path, typer.Option(help="Where to write it.")] = Path("openapi.json"),
) -> None:
    """Write the ingress HTTP API description (openapi.json, committed at the repo root)."""
    from ingress.app import render_openapi

    output.write_text(render_openapi(PipelineSettings()))
    typer.echo(f"wrote {output}")


@app.command()
def worker(
    metrics_host: Annotated[str, typer.Option(help="Where /metrics listens.")] = "127.0.0.1",
) -> None:
    """The streams worker (dedupe, state machine, retry ladder); /metrics on
    WORKER_METRICS_PORT."""
    from streams.worker import run

    settings = PipelineSettings()
    configure_logging(settings.log_level, component="worker")
    run(settings, metrics_host)


@app.command()
def sink() -> None:
    """The Postgres sink: payment-events into DATABASE_URL, exactly-once effect."""
    import asyncio

    from sinks.main import run_sink

    settings = PipelineSettings()
    configure_logging(settings.log_level, component="sink")
    asyncio.run(run_sink(settings))


db_app = typer.Typer(help="The sink's database (DATABASE_URL).")
bench_app = typer.Typer(help="Benchmarks; run them on an otherwise idle machine.")
app.add_typer(db_app, name="db")
app.add_typer(bench_app, name="bench")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the migrations. Additive only, so safe while sinks run; safe to run again."""
    from sinks.migrate import current_revision, upgrade

    settings = PipelineSettings()
    upgrade(settings.database_url)
    typer.echo(f"database at revision {current_revision(settings.database_url)}")


@bench_app.command("sink")
def bench_sink(
    events: Annotated[int, typer.Option(min=1, help="payment-events to pre-load.")] = 100_000,
    batch_size: Annotated[int, typer.Option(min=1, help="Sink batch size.")] = 2_000,
) -> None:
    """Sink rows/s from pre-loaded payment-events vs a bare COPY of the same rows
    (PostgreSQL at DATABASE_URL; a scratch database is created and dropped)."""
    from ops.bench_sink import bench

    settings = PipelineSettings()
    configure_logging("WARNING", component="bench")
    typer.echo(bench(settings, events, batch_size).report())


@bench_app.command("ingress")
def bench_ingress(
    requests: Annotated[int, typer.Option(min=1, max=1_000_000, help="Per run, at most.")] = 30_000,
    duration: Annotated[float, typer.Option(min=1, max=300, help="Seconds per run, at most.")] = 15,
    connections: Annotated[
        int, typer.Option(min=1, help="Keep-alive connections per worker.")
    ] = 32,
    workers: Annotated[int, typer.Option(min=1, help="Load generator processes.")] = 1,
    rate: Annotated[float, typer.Option(min=0, help="Target req/s; 0: as fast as it goes.")] = 0,
    paypal_share: Annotated[float, typer.Option(min=0, max=1, help="PayPal fraction.")] = 0.5,
    log_level: Annotated[str, typer.Option(help="The ingress server's log level.")] = "WARNING",
) -> None:
    """Signed Stripe and PayPal webhooks against ingress (durable produce to the broker at
    KAFKA_BOOTSTRAP_SERVERS, `bench-` topics), then against a bare 200-OK app on the same
    server stack; req/s, p50/p95/p99 and errors of both, and their ratio. Loopback only."""
    from ingress.bench import Load, format_report, run_bench

    load = Load(requests, duration, connections, workers, rate, paypal_share)
    configure_logging("WARNING", component="bench")
    typer.echo(format_report(*run_bench(PipelineSettings(), load, log_level)))


@bench_app.command("worker")
def bench_worker(
    events: Annotated[int, typer.Option(min=1, help="raw-webhooks records to pre-load.")] = 50_000,
    duplicate_share: Annotated[
        float, typer.Option(min=0, max=0.5, help="Share of provider redeliveries.")
    ] = 0.1,
) -> None:
    """Events/s through one streams worker vs a bare aiokafka consume→produce loop over the
    same pre-loaded records (broker at KAFKA_BOOTSTRAP_SERVERS, `bench-` topics)."""
    from streams.bench import bench

    configure_logging("WARNING", component="bench")
    typer.echo(bench(PipelineSettings(), events, duplicate_share).report())


@app.command()
def run(
    state_dir: Annotated[
        Path, typer.Option(help="Broker data, SQLite database and logs.")
    ] = DEFAULT_STATE_DIR,
    kafka_port: Annotated[
        int, typer.Option(help="Port of the local broker (its controller uses the next one).")
    ] = 9092,
) -> None:
    """Run the whole pipeline locally; Ctrl-C stops everything.

    Starts a local broker unless KAFKA_BOOTSTRAP_SERVERS names one, and uses SQLite in the
    state directory unless DATABASE_URL is set.
    """
    from ops.stack import run_stack

    state_dir = state_dir.resolve()
    overrides: dict[str, str] = {}
    broker = None
    if "KAFKA_BOOTSTRAP_SERVERS" not in os.environ:
        broker = _broker(state_dir / "kafka", kafka_port, kafka_port + 1)
        overrides["KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrap
    if "DATABASE_URL" not in os.environ:
        overrides["DATABASE_URL"] = f"sqlite:///{state_dir / 'payments.db'}"
    if "WORKER_DATA_DIR" not in os.environ:
        overrides["WORKER_DATA_DIR"] = str(state_dir / "worker")
    os.environ.update(overrides)  # the components read the same settings from the environment
    settings = PipelineSettings()
    configure_logging(settings.log_level, component="stack")
    raise typer.Exit(run_stack(settings, state_dir, broker))


if __name__ == "__main__":
    app()
