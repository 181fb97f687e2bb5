"""`payments bench ingress`: signed webhooks against the real ingress, then the same load
against a bare 200-OK app on the same server stack, as the baseline.

Everything stays on loopback. The servers and the load generators are processes of their
own, so the generator's CPU is not the server's. PayPal verification runs offline: a
throwaway CA is trusted through `PAYPAL_CERT_DIR` and the signing certificate is
pre-seeded in the certificate cache. A run of up to a minute is built and signed before
its clock starts (RSA signing would otherwise take CPU from the server measured); a longer
one signs each request when a connection takes it, just before it is due, so a run of any
length stays inside the providers' signature tolerance. Requests go out over keep-alive
connections from a minimal HTTP/1.1 client.
With `rate`, requests follow a fixed schedule and latency counts from the scheduled time,
so a stalled server is not under-reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import multiprocessing
import os
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import cast

import httpx
import uvloop
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr
from starlette.types import Receive, Scope, Send

from common.kafka import make_admin
from common.logging import configure_logging
from common.runtime import freeze_startup_objects
from common.settings import PipelineSettings
from common.topics import create_topics, pipeline_topic_specs
from ingress.app import create_app
from ingress.paypal_certs import cache_file_name
from ingress.server import serve
from ingress.stripe_signature import sign_stripe_payload
from ops.local_pki import Pki, build_pki, paypal_headers
from ops.processes import free_port

HOST = "127.0.0.1"  # loopback only, by design
CERT_URL = "https://api.paypal.com/v1/notifications/certs/CERT-bench-0001"
# A throwaway secret: the benchmark signs and verifies its own webhooks.
STRIPE_SECRET = "whsec_bench"  # nosec B105
PAYPAL_WEBHOOK_ID = "BENCH-WEBHOOK-ID"
STARTUP_SECONDS = 30.0
POISON_EVENT_TYPE = "payment_intent.bench_unknown"
SIGNING_KEY_FILE = "signing-key.pem"

Clock = Callable[[], float]  # epoch seconds


@dataclass(frozen=True)
class Load:
    """One run's shape: whichever of `requests` or `duration` ends it first."""

    requests: int
    duration: float
    connections: int
    workers: int
    rate: float = 0.0  # requests/s over all workers; 0: as fast as the server answers
    paypal_share: float = 0.5
    #: Stripe events of a type the worker does not know: they end in the dlq.
    poison_share: float = 0.0
    #: A run up to this long is signed before it starts (well inside the providers' 300 s
    #: tolerance); a longer one as it goes.
    presign_seconds: float = 60.0


@dataclass
class RunResult:
    label: str
    latencies: list[float]  # seconds, successful (2xx) requests only
    errors: int
    elapsed: float
    statuses: Counter[int]
    #: CPU seconds the load generators spent sending, and signing in runs longer than
    #: `Load.presign_seconds`: they share the cores.
    generator_cpu: float = 0.0
    #: CPU seconds the server's processes spent during the run (None: not measurable here).
    server_cpu: float | None = None

    @property
    def requests_per_second(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed > 0 else 0.0

    def percentile_ms(self, q: float) -> float:
        return percentile(sorted(self.latencies), q) * 1000

    @property
    def server_cpu_per_request_us(self) -> float | None:
        """The server's CPU per answered request, all its processes and threads."""
        answered = len(self.latencies) + self.errors
        if self.server_cpu is None or not answered:
            return None
        return self.server_cpu / answered * 1e6


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending sequence; 0 for none."""
    if not ordered:
        return 0.0
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def format_report(ingress: RunResult, baseline: RunResult) -> str:
    rows = [
        f"{'run':<10}{'req/s':>10}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}"
        f"{'generator CPU':>15}{'server CPU/req':>16}"
    ]
    for result in (ingress, baseline):
        generator = result.generator_cpu / result.elapsed if result.elapsed > 0 else 0.0
        rows.append(
            f"{result.label:<10}{result.requests_per_second:>10.0f}"
            f"{result.percentile_ms(50):>9.1f}{result.percentile_ms(95):>9.1f}"
            f"{result.percentile_ms(99):>9.1f}{result.errors:>8}{generator:>14.0%}"
            f"{_microseconds(result.server_cpu_per_request_us):>16}"
        )
    base = baseline.requests_per_second
    ratio = ingress.requests_per_second / base if base else 0.0
    rows.append(f"ingress / baseline throughput: {ratio:.2f}")
    rows.append(f"ingress statuses: {dict(sorted(ingress.statuses.items()))}")
    return "\n".join(rows)


def _microseconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} µs"


# --- request building (in the generator processes) ---------------------------------------


def stripe_request(
    number: int, port: int, now: float, event_type: str = "payment_intent.succeeded"
) -> bytes:
    body = json.dumps(
        {
            "id": f"evt_bench{number}",
            "object": "event",
            "type": event_type,
            "created": int(now),
            "data": {
                "object": {
                    "id": f"pi_bench{number}",
                    "object": "payment_intent",
                    "amount": 1099,
                    "amount_received": 1099,
                    "currency": "usd",
                    "status": "succeeded",
                }
            },
        }
    ).encode()
    signature = sign_stripe_payload(body, STRIPE_SECRET, int(now))
    return http_post("/webhooks/stripe", port, body, {"Stripe-Signature": signature})


def paypal_request(key: rsa.RSAPrivateKey, number: int, port: int, now: float) -> bytes:
    sent_at = datetime.fromtimestamp(now, UTC)
    body = json.dumps(
        {
            "id": f"WH-BENCH-{number}",
            "create_time": sent_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "event_type": "PAYMENT.CAPTURE.COMPLETED",
            "resource_type": "capture",
            "resource": {
                "id": f"CAPBENCH{number}",
                "status": "COMPLETED",
                "amount": {"currency_code": "USD", "value": "10.99"},
            },
        }
    ).encode()
    headers = paypal_headers(key, body, PAYPAL_WEBHOOK_ID, uuid.uuid4().hex, sent_at, CERT_URL)
    return http_post("/webhooks/paypal", port, body, headers)


def http_post(path: str, port: int, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {HOST}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def is_chosen(index: int, share: float) -> bool:
    """Spreads a kind of request evenly: exactly `share` of any long enough run."""
    return int((index + 1) * share) > int(index * share)


def build_request(key: rsa.RSAPrivateKey, load: Load, number: int, port: int, now: float) -> bytes:
    """Request `number` of the run, signed at `now` (epoch seconds)."""
    if is_chosen(number, load.poison_share):
        return stripe_request(number, port, now, POISON_EVENT_TYPE)
    if is_chosen(number, load.paypal_share):
        return paypal_request(key, number, port, now)
    return stripe_request(number, port, now)


def signed_requests(
    key: rsa.RSAPrivateKey, load: Load, worker: int, port: int, clock: Clock = time.time
) -> Iterator[tuple[int, bytes]]:
    """This worker's share of the run as (index in the share, request), each signed with
    `clock()`. A run of at most `load.presign_seconds` is signed here, before it starts,
    so that signing takes no CPU from the server it measures. A longer one is signed a
    request at a time as connections take them, just before each is due (at most
    `load.connections` requests ahead of the schedule), so whatever the run's length a
    request goes out within seconds of its signature."""
    count = load.requests // load.workers
    numbers = range(worker * count, (worker + 1) * count)
    if load.duration <= load.presign_seconds:
        return enumerate([build_request(key, load, n, port, clock()) for n in numbers])
    return enumerate(build_request(key, load, n, port, clock()) for n in numbers)


# --- the load generator (one process per worker) ------------------------------------------


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: int = 0


class _Exchange(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection: a request out, its response's status back.

    A protocol rather than asyncio streams: the generator shares the server's cores, so
    every microsecond it spends per request is taken from the server it measures.
    """

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._received = bytearray()
        self._answer: asyncio.Future[int] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A TCP connection: uvloop's transports write like `asyncio.Transport` but do not
        # subclass it.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._received += data
        status = take_response(self._received)
        if status is not None and self._answer is not None and not self._answer.done():
            self._answer.set_result(status)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(ConnectionError("the server closed the connection"))

    async def send(self, request: bytes) -> int:
        """Send `request`; the status of its response."""
        if self._transport is None or self._transport.is_closing():
            raise ConnectionError("the connection is closed")
        self._answer = asyncio.get_running_loop().create_future()
        self._transport.write(request)
        return await self._answer

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


def take_response(received: bytearray) -> int | None:
    """The status of the response at the start of `received` once all of it arrived (it is
    then removed); None while incomplete."""
    end = received.find(b"\r\n\r\n")
    if end < 0:
        return None
    length = 0
    for line in bytes(received[:end]).split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    total = end + 4 + length
    if len(received) < total:
        return None
    status = int(received[9:12])
    del received[:total]
    return status


async def _connection(
    port: int, work: Iterator[tuple[int, bytes]], interval: float, tally: Tally
) -> None:
    """Send requests from the shared `work` one at a time; a broken connection ends it."""
    _, exchange = await asyncio.get_running_loop().create_connection(_Exchange, HOST, port)
    started = time.perf_counter()
    try:
        for index, request in work:
            due = started + index * interval
            if (delay := due - time.perf_counter()) > 0:
                await asyncio.sleep(delay)
            sent = due if interval else time.perf_counter()
            status = await exchange.send(request)
            tally.statuses[status] += 1
            if 200 <= status < 300:
                tally.latencies.append(time.perf_counter() - sent)
            else:
                tally.errors += 1
    except ConnectionError:
        tally.errors += 1
    finally:
        exchange.close()


async def generate(port: int, work: Iterator[tuple[int, bytes]], load: Load) -> tuple[Tally, float]:
    """Send the requests of `work` over `load.connections` connections until done or out
    of time."""
    tally = Tally()
    interval = load.workers / load.rate if load.rate > 0 else 0.0
    started = time.perf_counter()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(load.duration):
            await asyncio.gather(
                *(_connection(port, work, interval, tally) for _ in range(load.connections))
            )
    return tally, time.perf_counter() - started


WorkerResult = tuple[list[float], int, float, dict[int, int], float]


def _generator_process(
    key_pem: bytes,
    load: Load,
    worker: int,
    port: int,
    ready: Barrier,
    results: Queue[WorkerResult],
) -> None:
    key = serialization.load_pem_private_key(key_pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError("the PayPal signing key must be RSA")
    work = signed_requests(key, load, worker, port)
    freeze_startup_objects()  # else the generator's own full collections show as latency
    ready.wait()  # every worker starts sending at once, after any signing up front
    cpu_started = time.process_time()
    tally, elapsed = uvloop.run(generate(port, work, load))
    cpu = time.process_time() - cpu_started
    results.put((tally.latencies, tally.errors, elapsed, dict(tally.statuses), cpu))


def run_load(
    label: str,
    port: int,
    load: Load,
    key_pem: bytes,
    server_cpu: Callable[[], float | None] = lambda: None,
) -> RunResult:
    """One run against the server on `port`, from `load.workers` processes;
    `server_cpu()` reads the server's CPU seconds so far."""
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(load.workers)
    results: Queue[WorkerResult] = context.Queue()
    processes = [
        context.Process(
            target=_generator_process, args=(key_pem, load, worker, port, ready, results)
        )
        for worker in range(load.workers)
    ]
    for process in processes:
        process.start()
    cpu_before = server_cpu()
    outcomes = [results.get(timeout=load.duration + 600) for _ in processes]
    cpu_after = server_cpu()
    for process in processes:
        process.join()
    return RunResult(
        label=label,
        latencies=[latency for outcome in outcomes for latency in outcome[0]],
        errors=sum(outcome[1] for outcome in outcomes),
        elapsed=max(outcome[2] for outcome in outcomes),
        statuses=sum((Counter(outcome[3]) for outcome in outcomes), Counter()),
        generator_cpu=sum(outcome[4] for outcome in outcomes),
        server_cpu=None if cpu_before is None or cpu_after is None else cpu_after - cpu_before,
    )


# --- the servers --------------------------------------------------------------------------


async def bare_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The baseline: reads the body and answers 200, nothing else."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    body = b'{"status":"ok"}'
    headers = [(b"content-type", b"application/json"), (b"content-length", b"15")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _serve_ingress(settings: PipelineSettings, port: int) -> None:
    configure_logging(settings.log_level, component="ingress")
    serve(create_app(settings), HOST, port, settings.ingress_workers)


def _serve_bare(workers: int, port: int) -> None:
    serve(bare_app, HOST, port, workers)  # as many server processes as ingress: same stack


@dataclass(frozen=True)
class Server:
    port: int
    pid: int

    def cpu_seconds(self) -> float | None:
        """CPU seconds of the server process and its forked workers so far (Linux)."""
        return process_tree_cpu_seconds(self.pid)


def process_tree_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of `pid` and its live descendants, from /proc; None where
    there is no /proc."""
    ticks_per_second = os.sysconf("SC_CLK_TCK")
    total, pending = 0, [pid]
    try:
        while pending:
            current = pending.pop()
            stat = Path(f"/proc/{current}/stat").read_text()
            fields = stat.rpartition(")")[2].split()  # after the command, which may hold spaces
            total += int(fields[11]) + int(fields[12])  # utime, stime
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += map(int, (task / "children").read_text().split())
    except OSError:
        return None
    return total / ticks_per_second


@contextlib.contextmanager
def running_server(target: Callable[..., None], *args: object) -> Iterator[Server]:
    """A server process on a free loopback port, up until the block ends."""
    port = free_port()
    process = multiprocessing.get_context("spawn").Process(target=target, args=(*args, port))
    process.start()
    try:
        _wait_until_up(port, process)
        yield Server(port, process.pid or 0)
    finally:
        process.terminate()
        process.join(timeout=15)


def _wait_until_up(port: int, process: BaseProcess) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline and process.is_alive():
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(f"http://{HOST}:{port}/health", timeout=1.0)
            return
        time.sleep(0.2)
    raise RuntimeError(f"the server on port {port} did not come up")


# --- the whole benchmark ------------------------------------------------------------------


def bench_settings(settings: PipelineSettings, pki: Pki, workdir: Path) -> PipelineSettings:
    """`settings` with a bench topic prefix, a Stripe secret and an offline PayPal setup."""
    trust, cache = write_trust(pki, workdir)
    return settings.model_copy(
        update={
            "topic_prefix": f"bench-{settings.topic_prefix}",
            "stripe_webhook_secrets": [SecretStr(STRIPE_SECRET)],
            "paypal_webhook_id": PAYPAL_WEBHOOK_ID,
            "paypal_cert_dir": trust,
            "paypal_cert_cache_dir": cache,
        }
    )


def run_bench(
    settings: PipelineSettings, load: Load, log_level: str
) -> tuple[RunResult, RunResult]:
    """The ingress run, then the baseline run. Topics (`bench-` prefix) are created first."""
    pki = build_pki(datetime.now(UTC))
    key_pem = signing_key_pem(pki)
    with tempfile.TemporaryDirectory(prefix="payments-bench-") as workdir:
        server_settings = bench_settings(settings, pki, Path(workdir))
        server_settings = server_settings.model_copy(update={"log_level": log_level})
        create_topics(make_admin(server_settings), pipeline_topic_specs(server_settings))
        with running_server(_serve_ingress, server_settings) as server:
            ingress = run_load("ingress", server.port, load, key_pem, server.cpu_seconds)
    with running_server(_serve_bare, settings.ingress_workers) as server:
        baseline = run_load("baseline", server.port, load, key_pem, server.cpu_seconds)
    return ingress, baseline


def write_trust(pki: Pki, directory: Path) -> tuple[Path, Path]:
    """The trusted root and the pre-seeded signing certificate, for offline PayPal
    verification (`PAYPAL_CERT_DIR`, `PAYPAL_CERT_CACHE_DIR`)."""
    trust, cache = directory / "trust", directory / "cert-cache"
    for path in (trust, cache):
        path.mkdir(parents=True, exist_ok=True)
    (trust / "root.pem").write_bytes(pki.root_pem())
    (cache / cache_file_name(CERT_URL)).write_bytes(pki.chain_pem())
    return trust, cache


def signing_key_pem(pki: Pki) -> bytes:
    return pki.leaf_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


# --- load against an ingress started elsewhere (`payments run`) ----------------------------


def prepare_target(directory: Path) -> dict[str, str]:
    """A throwaway PKI and signing key in `directory`; returns the environment an ingress
    needs to accept the load generator's webhooks."""
    pki = build_pki(datetime.now(UTC))
    trust, cache = write_trust(pki, directory)
    key = directory / SIGNING_KEY_FILE
    key.write_bytes(signing_key_pem(pki))
    key.chmod(0o600)
    return {
        "STRIPE_WEBHOOK_SECRETS": STRIPE_SECRET,
        "PAYPAL_WEBHOOK_ID": PAYPAL_WEBHOOK_ID,
        "PAYPAL_CERT_DIR": str(trust),
        "PAYPAL_CERT_CACHE_DIR": str(cache),
    }


def run_against(port: int, load: Load, directory: Path) -> RunResult:
    """The load against an ingress on this machine's `port` that runs with the
    environment `prepare_target(directory)` returned."""
    return run_load("ingress", port, load, (directory / SIGNING_KEY_FILE).read_bytes())
