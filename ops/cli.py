"""The `payments` command line."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, overload

import typer
from sqlalchemy.exc import SQLAlchemyError

from common.kafka import make_admin, make_confluent_producer
from common.logging import configure_logging
from common.settings import PipelineSettings
from ops.cli_errors import OneLineErrors
from ops.local_kafka import LocalKafka
from ops.local_postgres import LocalPostgres
from ops.reconcile import ReportFormat
from schemas.providers import Provider

if TYPE_CHECKING:
    from admin.audit import Action
    from admin.projection import PaymentTotals
    from common.topic_scan import TopicEntry
from common.topics import create_topics, describe_topics, pipeline_topic_specs

app = typer.Typer(cls=OneLineErrors, help="Payments webhook pipeline.", no_args_is_help=True)
kafka_app = typer.Typer(help="A local single-node Kafka broker (KRaft) on 127.0.0.1.")
topics_app = typer.Typer(help="The pipeline's Kafka topics.")
postgres_app = typer.Typer(
    help="A local PostgreSQL on 127.0.0.1 from Debian's server binaries (installed if missing)."
)
app.add_typer(kafka_app, name="kafka")
app.add_typer(postgres_app, name="postgres")
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
    seconds = broker.start()
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


PostgresDir = Annotated[Path, typer.Option(help="Cluster data, server log and socket.")]
PostgresPort = Annotated[int, typer.Option(help="TCP port on 127.0.0.1.")]
DATABASE_NAME = "payments"


@postgres_app.command("start")
def postgres_start(
    data_dir: PostgresDir = DEFAULT_STATE_DIR / "postgres",
    port: PostgresPort = 5432,
    durable: Annotated[
        bool,
        typer.Option(
            "--fsync/--no-fsync",
            help="Production durability (fsync, synchronous_commit, full_page_writes on); "
            "--no-fsync turns all three off: NOT for production, nor for figures about it.",
        ),
    ] = True,
) -> None:
    """Start the server (creating the cluster and the `payments` database on first use),
    print the durability it reports and the DATABASE_URL that reaches it."""
    server = LocalPostgres(data_dir.resolve(), port, durable)
    already = server.running()
    if not already:
        server.start()
    durability = server.durability()
    typer.echo(durability.report(), err=True)  # stdout: the DATABASE_URL line alone
    if already and durability.production != durable:
        typer.echo(
            "warning: the server was already running with these settings; "
            "`payments postgres stop` and start it again to change them",
            err=True,
        )
    typer.echo(f"DATABASE_URL={server.ensure_database(DATABASE_NAME)}")


@postgres_app.command("stop")
def postgres_stop(
    data_dir: PostgresDir = DEFAULT_STATE_DIR / "postgres", port: PostgresPort = 5432
) -> None:
    """Stop the server (fast shutdown); the data stays in DATA_DIR."""
    server = LocalPostgres(data_dir.resolve(), port)
    running = server.running()
    server.stop()
    typer.echo("postgres stopped" if running else "postgres was not running")


@postgres_app.command("status")
def postgres_status(
    data_dir: PostgresDir = DEFAULT_STATE_DIR / "postgres", port: PostgresPort = 5432
) -> None:
    """Exit 0 when the server runs, 1 otherwise."""
    server = LocalPostgres(data_dir.resolve(), port)
    running = server.running()
    where = server.database_url(DATABASE_NAME)
    typer.echo(f"postgres {'running' if running else 'stopped'} ({where})")
    raise typer.Exit(0 if running else 1)


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
    reports = describe_topics(settings, settings.topics.all(), group)
    groups = sorted({g for report in reports for g in report.committed})
    header = f"{'topic':<28}{'partition':>10}{'low':>12}{'high':>12}"
    typer.echo(header + "".join(f"  lag[{g}]" for g in groups))
    for r in reports:
        lags = "".join(f"  {r.lag(g):>{len(g) + 5}}" for g in groups)
        typer.echo(f"{r.topic:<28}{r.partition:>10}{r.low:>12}{r.high:>12}{lags}")


@topics_app.command("scale")
def topics_scale(
    partitions: Annotated[
        int, typer.Option(min=1, help="The new partition count of every pipeline topic.")
    ],
    dry_run: Annotated[bool, typer.Option(help="Show the plan; change nothing.")] = False,
) -> None:
    """Raise every pipeline topic and the worker's changelogs to PARTITIONS and move the
    tables' entries to their keys' new partitions. Stop every worker first; see the
    "Scaling partitions" runbook in docs/operations.md."""
    from ops.scale import ScaleRefused, apply, prepare

    settings = PipelineSettings()
    try:
        plan = prepare(settings, partitions, dry_run=dry_run)
        typer.echo("\n".join(plan.describe()))
        if plan.empty:
            typer.echo(f"nothing to do: {partitions} partitions everywhere, every entry home")
        elif dry_run:
            typer.echo("dry run: nothing changed")
        else:
            apply(settings, plan)
            typer.echo(f"done: start the workers with TOPIC_PARTITIONS={partitions}")
    except ScaleRefused as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc


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
    serve(
        create_app(settings),
        host or settings.ingress_host,
        port or settings.ingress_port,
        settings.ingress_workers,
    )


@app.command()
def admin(
    host: Annotated[str | None, typer.Option(help="Default: ADMIN_HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="Default: ADMIN_PORT.")] = None,
) -> None:
    """Serve the admin process: the JSON admin API (/admin) and the ops console (/console),
    on a private port. Refuses to start without ADMIN_TOKENS or with a placeholder one."""
    import uvicorn

    from admin.app import UnsafeTokens, create_admin_app

    settings = PipelineSettings()
    configure_logging(settings.log_level, component="admin")
    try:
        app = create_admin_app(settings)
    except UnsafeTokens as exc:
        typer.echo(f"error: {exc}: set ADMIN_TOKENS to a long random secret", err=True)
        raise typer.Exit(1) from exc
    uvicorn.run(
        app,
        host=host or settings.admin_host,
        port=port or settings.admin_port,
        log_config=None,
        access_log=False,
    )


@app.command()
def openapi(
    output: Annotated[Path, typer.Option(help="The ingress document.")] = Path("openapi.json"),
    admin_output: Annotated[Path, typer.Option(help="The admin process's document.")] = Path(
        "openapi-admin.json"
    ),
) -> None:
    """Write the HTTP API descriptions, one per process (committed at the repo root)."""
    from admin.app import render_openapi as render_admin
    from ingress.app import render_openapi

    output.write_text(render_openapi(PipelineSettings()))
    admin_output.write_text(render_admin(PipelineSettings()))
    typer.echo(f"wrote {output} and {admin_output}")


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


@app.command("migrate-state")
def migrate_state(
    dry_run: Annotated[bool, typer.Option(help="Show the plan; change nothing.")] = False,
) -> None:
    """Move the worker's state from the old three-table layout (dedupe, key-locks,
    payments) into the payment-state table's changelog, then delete the old changelogs.
    Stop every worker first; see docs/operations.md, "Worker state"."""
    from ops.migrate_state import MigrationRefused, apply, prepare

    settings = PipelineSettings()
    try:
        plan = prepare(settings)
        typer.echo("\n".join(plan.describe()))
        if not plan.old_topics:
            return
        if dry_run:
            typer.echo("dry run: nothing changed")
        else:
            apply(settings, plan)
            typer.echo("done: start the workers")
    except MigrationRefused as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc


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


BenchDurability = Annotated[
    bool,
    typer.Option(
        "--fsync/--no-fsync",
        help="Production durability (the default): the scratch database commits "
        "synchronously and a server with fsync or full_page_writes off is refused. "
        "--no-fsync commits asynchronously on any server: NOT production figures.",
    ),
]


@bench_app.command("sink")
def bench_sink(
    events: Annotated[int, typer.Option(min=1, help="payment-events to pre-load.")] = 100_000,
    batch_size: Annotated[
        int | None, typer.Option(min=1, help="Sink batch size (default: SINK_BATCH_SIZE).")
    ] = None,
    durable: BenchDurability = True,
) -> None:
    """Sink rows/s from pre-loaded payment-events vs a bare COPY of the same rows
    (PostgreSQL at DATABASE_URL; a scratch database is created and dropped)."""
    from ops.bench.sink import bench

    settings = PipelineSettings()
    batch_size = batch_size or settings.sink_batch_size
    if events <= batch_size:  # the rate is measured from the end of the first batch
        raise typer.BadParameter(
            f"must be larger than the batch size ({batch_size:,})", param_hint="--events"
        )
    configure_logging("WARNING", component="bench")
    typer.echo(bench(settings, events, batch_size, durable=durable).report())


@bench_app.command("admin")
def bench_admin(
    events: Annotated[int, typer.Option(min=100, help="Stored events to pre-load.")] = 100_000,
    dlq: Annotated[int, typer.Option(min=1, help="dlq messages to pre-load.")] = 1_000,
    requests: Annotated[int, typer.Option(min=1, help="Timed requests per page.")] = 30,
) -> None:
    """Latency of every console page (and so of the JSON API's reads) with EVENTS stored and
    DLQ dead letters (PostgreSQL at DATABASE_URL, broker at KAFKA_BOOTSTRAP_SERVERS; scratch
    database and `bench-` topics). Exits 1 when a page's p95 reaches 200 ms."""
    import psycopg
    from confluent_kafka import KafkaException

    from ops.bench.admin import bench

    configure_logging("WARNING", component="bench")
    try:
        result = bench(PipelineSettings(), events, dlq, requests)
    except (psycopg.Error, SQLAlchemyError, KafkaException, TimeoutError, RuntimeError) as exc:
        typer.echo(f"error: {type(exc).__name__}: {str(exc).splitlines()[0]}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(result.report())
    if result.slow:
        raise typer.Exit(1)


Requests = Annotated[int, typer.Option(min=1, max=1_000_000, help="Per run, at most.")]
Duration = Annotated[float, typer.Option(min=1, max=3600, help="Seconds per run, at most.")]
Connections = Annotated[int, typer.Option(min=1, help="Keep-alive connections per worker.")]
Workers = Annotated[int, typer.Option(min=1, help="Load generator processes.")]
Rate = Annotated[float, typer.Option(min=0, help="Target req/s; 0: as fast as it goes.")]
PaypalShare = Annotated[float, typer.Option(min=0, max=1, help="PayPal fraction.")]


@bench_app.command("ingress")
def bench_ingress(
    requests: Requests = 30_000,
    duration: Annotated[float, typer.Option(min=1, max=300, help="Seconds per run, at most.")] = 15,
    connections: Connections = 32,
    workers: Workers = 1,
    rate: Rate = 0,
    paypal_share: PaypalShare = 0.5,
    log_level: Annotated[str, typer.Option(help="The ingress server's log level.")] = "WARNING",
) -> None:
    """Signed Stripe and PayPal webhooks against ingress (durable produce to the broker at
    KAFKA_BOOTSTRAP_SERVERS, `bench-` topics), then against a bare 200-OK app on the same
    server stack; req/s, p50/p95/p99 and errors of both, and their ratio. Loopback only."""
    from ops.bench.ingress import Load, format_report, run_bench

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
    from ops.bench.worker import bench

    configure_logging("WARNING", component="bench")
    typer.echo(bench(PipelineSettings(), events, duplicate_share).report())


@bench_app.command("e2e")
def bench_e2e(
    rate: Annotated[float, typer.Option(min=1, help="Offered webhooks/s.")] = 1_000,
    duration: Annotated[float, typer.Option(min=5, max=3600, help="Seconds of load.")] = 60,
    workers: Annotated[int, typer.Option(min=1, max=8, help="Streams workers.")] = 1,
    connections: Connections = 64,
    generators: Annotated[int, typer.Option(min=1, help="Load generator processes.")] = 1,
    durable: BenchDurability = True,
    record: Annotated[
        Path | None,
        typer.Option(help="Record the components' /metrics here (`payments metrics plot`)."),
    ] = None,
) -> None:
    """The whole pipeline under sustained signed-webhook load: ingress, `workers` streams
    workers and the sink into PostgreSQL (DATABASE_URL), with the broker at
    KAFKA_BOOTSTRAP_SERVERS. Accepted/s, end-to-end latency and its stages, lag, CPU and
    memory per component, and the PostgreSQL durability the run had."""
    from ops.bench.e2e import bench_e2e as run
    from ops.bench.ingress import Load

    requests = round(rate * duration)
    load = Load(requests, duration, connections, generators, rate, paypal_share=0.5)
    configure_logging("WARNING", component="bench")
    result = run(PipelineSettings(), load, workers, durable=durable, record=record)
    typer.echo(result.report())
    if not result.exactly_once:
        raise typer.Exit(1)


@bench_app.command("target")
def bench_target(
    directory: Annotated[Path, typer.Argument(help="Where the throwaway PKI and key go.")],
) -> None:
    """Prepare a load against an ingress started separately (e.g. `payments run`): print
    the environment that ingress needs (`env $(payments bench target D) payments run`)."""
    from ops.bench.ingress import prepare_target

    directory.mkdir(parents=True, exist_ok=True)
    for name, value in prepare_target(directory.resolve()).items():
        typer.echo(f"{name}={value}")


@bench_app.command("load")
def bench_load(
    target: Annotated[Path, typer.Option(help="The directory of `payments bench target`.")],
    port: Annotated[int | None, typer.Option(help="Default: INGRESS_PORT.")] = None,
    requests: Requests = 30_000,
    duration: Duration = 60,
    connections: Connections = 32,
    workers: Workers = 1,
    rate: Rate = 0,
    paypal_share: PaypalShare = 0.5,
    poison_share: Annotated[
        float, typer.Option(min=0, max=1, help="Stripe events of an unknown type (→ dlq).")
    ] = 0.0,
) -> None:
    """Signed webhooks against a running ingress on 127.0.0.1 (see `bench target`); no
    baseline. Event ids restart at 0: use a fresh state directory for each run."""
    from ops.bench.ingress import Load, run_against

    load = Load(requests, duration, connections, workers, rate, paypal_share, poison_share)
    configure_logging("WARNING", component="bench")
    result = run_against(port or PipelineSettings().ingress_port, load, target)
    typer.echo(
        f"{result.requests_per_second:.0f} req/s, p50 {result.percentile_ms(50):.1f} / "
        f"p99 {result.percentile_ms(99):.1f} ms, errors {result.errors}, "
        f"statuses {dict(sorted(result.statuses.items()))}"
    )


dlq_app = typer.Typer(
    help="Inspect, replay and purge dead-lettered messages. Filters go before the verb: "
    "`payments dlq --provider stripe --reason retries_exhausted list`."
)
app.add_typer(dlq_app, name="dlq")
Since = Annotated[datetime | None, typer.Option(help="Dead-lettered at or after (UTC).")]
Until = Annotated[datetime | None, typer.Option(help="Dead-lettered before (UTC).")]


@dlq_app.callback()
def dlq_filters(
    context: typer.Context,
    provider: Annotated[str | None, typer.Option(help="stripe or paypal.")] = None,
    event_type: Annotated[str | None, typer.Option(help="e.g. refund.created.")] = None,
    reason: Annotated[str | None, typer.Option(help="The dlq-reason header.")] = None,
    key: Annotated[str | None, typer.Option(help="The record key, provider:payment_id.")] = None,
    event_id: Annotated[str | None, typer.Option(help="The provider's event id.")] = None,
    since: Since = None,
    until: Until = None,
) -> None:
    """Which dlq messages the verb acts on (all when no filter is given)."""
    from admin.dlq import DlqFilter

    context.obj = DlqFilter(provider, event_type, reason, key, event_id, _utc(since), _utc(until))


def _dlq_selection(context: typer.Context, with_values: bool) -> list[TopicEntry]:
    from admin.dlq import select
    from common.topic_scan import scan_topics

    settings = PipelineSettings()
    entries = scan_topics(settings, [settings.topics.dlq], with_values=with_values)
    return select(entries, context.obj)


@dlq_app.command("list")
def dlq_list(context: typer.Context) -> None:
    """One line per message: partition:offset, time, provider, type, event id, key, reason."""
    from ops.dlq import describe

    selection = _dlq_selection(context, with_values=False)
    for entry in selection:
        typer.echo(describe(entry))
    typer.echo(f"{len(selection)} message(s)")


@dlq_app.command("show")
def dlq_show(context: typer.Context) -> None:
    """Every header and the body with personal data masked."""
    from ops.dlq import show

    for entry in _dlq_selection(context, with_values=True):
        typer.echo(show(entry) + "\n")


@dlq_app.command("replay")
def dlq_replay(
    context: typer.Context,
    dry_run: Annotated[
        bool, typer.Option(help="Print what would be replayed; send nothing.")
    ] = False,
    rate: Annotated[float, typer.Option(min=0.1, help="Messages per second at most.")] = 20.0,
) -> None:
    """Send the selected messages back (raw-webhooks, or payment-events for the sink's),
    with replayed-from / replay-id headers. Safe to run twice: dedupe drops the second."""
    from admin.dlq import replay
    from ops.dlq import dry_run_line

    settings = PipelineSettings()
    selection = _dlq_selection(context, with_values=True)
    if dry_run:
        totals = _payment_totals(settings, {entry.key for entry in selection})
        for entry in selection:
            typer.echo(dry_run_line(entry, totals.get(entry.key)))
        typer.echo(f"dry run: {len(selection)} message(s) would be replayed")
        return
    replay_id = replay(make_confluent_producer(settings), selection, settings, rate)
    typer.echo(f"replayed {len(selection)} message(s), replay-id {replay_id}")
    _audit(settings, "replay", _described(context), selection, replay_id)


def _described(context: typer.Context) -> str:
    """The filters given, as the audit log records what a CLI run acted on."""
    given = {name: value for name, value in vars(context.obj).items() if value is not None}
    return "cli " + (" ".join(f"--{name}={value}" for name, value in given.items()) or "(all)")


def _audit(
    settings: PipelineSettings,
    action: Action,
    selection: str,
    entries: list[TopicEntry],
    detail: str,
) -> None:
    """Record a done replay or purge in the database's audit log, beside the console's; the
    actor is the OS user. Without a database at hand it says so and the action stands."""
    import getpass

    from admin.audit import record
    from sinks.database import make_engine

    engine = make_engine(settings.database_url)
    actor = f"cli:{getpass.getuser()}"
    try:
        record(engine, datetime.now(UTC), actor, action, selection, entries, "ok", detail)
    except SQLAlchemyError as exc:
        typer.echo(f"warning: not recorded in the audit log: {type(exc).__name__}", err=True)
    finally:
        engine.dispose()


def _payment_totals(settings: PipelineSettings, keys: set[str]) -> dict[str, PaymentTotals]:
    """Current status and totals by record key (`provider:payment_id`) from the sink's
    database."""
    from admin.reads import payment_totals
    from sinks.database import make_engine

    engine = make_engine(settings.database_url)
    try:
        return payment_totals(engine, keys)
    except SQLAlchemyError:
        return {}  # no database at hand: the dry run still lists what it would send
    finally:
        engine.dispose()


@dlq_app.command("purge")
def dlq_purge(
    context: typer.Context,
    before: Annotated[datetime, typer.Option(help="Remove messages dead-lettered before this.")],
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: this deletes records.")] = False,
    audit_file: Annotated[
        Path, typer.Option(help="JSON lines recording every removed message (no bodies).")
    ] = DEFAULT_STATE_DIR / "dlq-purged.jsonl",
) -> None:
    """Delete dlq messages older than --before, after recording each in the audit file.
    Kafka removes a partition's oldest records only: other filters are refused here."""
    from admin.dlq import purge, purge_cut, purged
    from ops.dlq import audit_line

    if context.obj != type(context.obj)():
        typer.echo(
            "error: purge takes --before only; filters cannot cut a partition's middle", err=True
        )
        raise typer.Exit(2)
    settings = PipelineSettings()
    entries = _dlq_selection(context, with_values=False)
    cut = purge_cut(entries, int(_utc(before).timestamp() * 1000))
    removed = purged(entries, cut)
    if not yes:
        typer.echo(f"would remove {len(removed)} message(s); run again with --yes to purge")
        raise typer.Exit(1)
    audit_file.parent.mkdir(parents=True, exist_ok=True)
    purged_at = datetime.now(UTC)
    with audit_file.open("a") as audit:
        audit.writelines(audit_line(entry, purged_at) for entry in removed)
    purge(make_admin(settings), settings.topics.dlq, cut)
    typer.echo(f"purged {len(removed)} message(s); recorded in {audit_file}")
    _audit(settings, "purge", f"cli --before={_utc(before).isoformat()}", removed, "")


@app.command()
def reconcile(
    since: Annotated[datetime, typer.Option(help="Window start (UTC unless an offset is given).")],
    until: Annotated[
        datetime | None, typer.Option(help="Window end, exclusive; default now.")
    ] = None,
    output_format: Annotated[ReportFormat, typer.Option("--format")] = ReportFormat.MD,
    stuck_after_hours: Annotated[
        float, typer.Option(min=0, help="A pending/authorized payment idle this long is stuck.")
    ] = 24.0,
) -> None:
    """Per provider and currency: payments by status, captured/refunded/disputed totals,
    stuck payments, events still in retry or dlq, and state/trail mismatches."""
    from common.topic_scan import scan_topics
    from ops.reconcile import load_rows, render, summarize
    from sinks.database import make_engine

    settings = PipelineSettings()
    now = datetime.now(UTC)
    window = (_utc(since), _utc(until) if until else now)
    engine = make_engine(settings.database_url)
    try:
        rows = load_rows(engine, *window)
    finally:
        engine.dispose()
    entries = scan_topics(settings, [*settings.topics.retry, settings.topics.dlq])
    report = summarize(
        rows,
        entries,
        since=window[0],
        until=window[1],
        now=now,
        stuck_after=timedelta(hours=stuck_after_hours),
    )
    typer.echo(render(report, output_format), nl=False)


@overload
def _utc(moment: datetime) -> datetime: ...
@overload
def _utc(moment: None) -> None: ...
def _utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo:
        return moment
    return moment.replace(tzinfo=UTC)


@app.command()
def run(
    state_dir: Annotated[
        Path, typer.Option(help="Broker data, SQLite database and logs.")
    ] = DEFAULT_STATE_DIR,
    kafka_port: Annotated[
        int, typer.Option(help="Port of the local broker (its controller uses the next one).")
    ] = 9092,
    postgres: Annotated[
        bool, typer.Option(help="Sink into a local PostgreSQL (see `payments postgres`).")
    ] = False,
    postgres_port: Annotated[int, typer.Option(help="Port of the local PostgreSQL.")] = 5432,
) -> None:
    """Run the whole pipeline locally; Ctrl-C stops everything.

    Starts a local broker unless KAFKA_BOOTSTRAP_SERVERS names one, and uses SQLite in the
    state directory unless DATABASE_URL is set; with --postgres, a PostgreSQL in the state
    directory instead (started for the run unless `payments postgres start` runs it).
    """
    from ops.local_credentials import ensure_local_credentials, local_stack_environment
    from ops.stack import run_stack

    state_dir = state_dir.resolve()
    overrides: dict[str, str] = {}
    broker = None
    if "KAFKA_BOOTSTRAP_SERVERS" not in os.environ:
        broker = _broker(state_dir / "kafka", kafka_port, kafka_port + 1)
        overrides["KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrap
    database = None
    if postgres:
        if "DATABASE_URL" in os.environ:
            raise typer.BadParameter("DATABASE_URL is set: unset it or drop --postgres")
        database = LocalPostgres(state_dir / "postgres", postgres_port)
    elif "DATABASE_URL" not in os.environ:
        overrides["DATABASE_URL"] = f"sqlite:///{state_dir / 'payments.db'}"
    if "WORKER_DATA_DIR" not in os.environ:
        overrides["WORKER_DATA_DIR"] = str(state_dir / "worker")
    # Stripe, PayPal and /admin get the local credentials unless configured.
    overrides |= local_stack_environment(PipelineSettings(), ensure_local_credentials(state_dir))
    with _running(database) as database_url:
        if database_url:
            overrides["DATABASE_URL"] = database_url
        os.environ.update(overrides)  # the components read these settings from the environment
        settings = PipelineSettings()
        configure_logging(settings.log_level, component="stack")
        code = run_stack(settings, state_dir, broker)
    raise typer.Exit(code)


@contextmanager
def _running(database: LocalPostgres | None) -> Iterator[str | None]:
    """The URL of the stack's PostgreSQL while it runs: started here (and stopped after)
    unless `payments postgres start` already runs it. None without --postgres."""
    if database is None:
        yield None
        return
    started = not database.running()
    if started:
        database.start()
    try:
        yield database.ensure_database(DATABASE_NAME)
    finally:
        if started:
            database.stop()


StateDir = Annotated[
    Path, typer.Option(help="The state directory of `payments run` (its credentials).")
]


@app.command()
def sign(
    provider: Annotated[Provider, typer.Argument(help="stripe or paypal.")],
    body_file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The body.")],
    curl: Annotated[bool, typer.Option("--curl", help="Print a curl command instead.")] = False,
    url: Annotated[
        str | None, typer.Option(help="For --curl; default: the local ingress's webhook URL.")
    ] = None,
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """Sign BODY_FILE as PROVIDER would, for the local stack's credentials: print the headers,
    a blank line and the body, or with --curl a command that sends it (`| sh`). Valid for
    STRIPE_/PAYPAL_TOLERANCE_SECONDS; a PayPal signature is accepted once."""
    from ops.local_credentials import local_stack_settings
    from ops.signing import SigningUnavailable, sign_request, webhook_url

    settings, credentials = local_stack_settings(state_dir)
    target = url or webhook_url(settings, provider)
    try:
        signed = sign_request(provider, body_file.read_bytes(), settings, credentials, target)
    except SigningUnavailable as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    if curl:
        typer.echo(signed.curl(body_file))
    else:
        typer.echo(signed.http(), nl=False)


@app.command()
def demo(
    state_dir: StateDir = DEFAULT_STATE_DIR,
    wait: Annotated[float, typer.Option(min=0, help="Seconds to wait for the stack.")] = 10.0,
    timeout: Annotated[float, typer.Option(min=1, help="Seconds a step may wait.")] = 60.0,
) -> None:
    """The five-minute tour of the running local stack (`make run`): health, signed Stripe
    and PayPal webhooks accepted, a bad signature refused, a duplicate ignored, counters
    before/after, /admin/events. Exits 1 at the first failed step (or no stack)."""
    from ops.demo import Stack, StepResult, run_demo
    from ops.local_credentials import local_stack_settings

    def report(result: StepResult) -> None:
        mark = "ok" if result.ok else "FAILED"
        typer.echo(f"[{mark}] {result.name}: {result.detail}")

    passed = run_demo(
        Stack(*local_stack_settings(state_dir)), report, wait_seconds=wait, timeout_seconds=timeout
    )
    typer.echo("demo passed" if passed else "demo failed", err=not passed)
    raise typer.Exit(0 if passed else 1)


metrics_app = typer.Typer(help="Record the components' /metrics and plot them (no Prometheus).")
app.add_typer(metrics_app, name="metrics")


@metrics_app.command("record")
def metrics_record(
    out: Annotated[Path, typer.Option(help="The recording (JSON lines).")],
    duration: Annotated[float, typer.Option(min=1, help="Seconds; Ctrl-C ends it early.")],
    interval: Annotated[float, typer.Option(min=0.1, help="Seconds between scrapes.")] = 1.0,
    target: Annotated[
        list[str] | None,
        typer.Option(help="job=URL of a /metrics; default: METRICS_URLS or the ports as set."),
    ] = None,
) -> None:
    """Scrape /metrics of ingress, worker and sink every INTERVAL into OUT."""
    from ops.metrics_record import record_to_file

    if any("=" not in t for t in target or []):
        raise typer.BadParameter("give each target as job=URL", param_hint="--target")
    targets = dict(t.split("=", 1) for t in target or []) or PipelineSettings().component_metrics
    rounds = record_to_file(targets, out, duration, interval)
    typer.echo(f"recorded {rounds} rounds of {', '.join(targets)} in {out}")


@metrics_app.command("plot")
def metrics_plot(
    recording: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    out: Annotated[Path, typer.Option(help="The PNG.")] = Path("docs/pipeline.png"),
    window: Annotated[float, typer.Option(min=1, help="Seconds of rate() windows.")] = 15.0,
) -> None:
    """Throughput, latency, consumer lag and dead letters of a recording, as the dashboard
    computes them (rate over counters, histogram_quantile over buckets), in one PNG."""
    from ops.metrics_plot import plot_file

    plot_file(recording, out, window)
    typer.echo(f"wrote {out}")


if __name__ == "__main__":
    app()
