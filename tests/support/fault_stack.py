"""The whole pipeline per test, as in production: `payments ingress`, `payments worker` and
`payments sink` as subprocesses (so a test can SIGKILL and restart them) on topics of the
test's own and a scratch PostgreSQL database, fed by a load driver that signs like Stripe
and PayPal (`tests.support.load`) with payments whose final states are known
(`tests.support.stories`), and checked by `tests.support.outcome`.

Each test runs a short load by default (`make test`); `FAULTS_LONG=1` runs the same tests
with a longer load, more kills and longer outages (`Intensity`)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from common.settings import PipelineSettings
from ops.bench.worker import metric_total
from ops.local_pki import Pki
from ops.processes import spawn, terminate_group
from ops.stack import pipeline_components
from schemas.providers import Provider
from tests.support.ingress import (
    providers_configured,
    signed_paypal_headers,
    stripe_headers,
)
from tests.support.load import LoadDriver, Report
from tests.support.outcome import assert_pipeline_outcome
from tests.support.ports import free_port
from tests.support.stories import Story, Webhook, stories

STARTUP_SECONDS = 60.0


#: A counter each component raises per record it handled.
BUSY_METRICS = {
    "worker": "payments_worker_events_total",
    "sink": "payments_sink_events_written_total",
}


ADMIN_TOKEN = "fault-admin-token"


@dataclass(frozen=True)
class Intensity:
    """How hard a test pushes: `load_seconds` of webhooks at `rate` per second; `kills`
    SIGKILLs, or `outages` outages of `outage_seconds` each, spread evenly over the load.

    `retry_delays` is the worker's retry ladder (two attempts per tier), seconds where
    production has minutes. Nothing here fails, so nothing should climb it: events that
    arrive long before the events they follow apply at once (docs/design.md, guarantee 3).
    """

    load_seconds: float
    rate: float
    kills: int
    outages: int
    outage_seconds: float
    retry_delays: tuple[float, float, float]

    @property
    def webhooks(self) -> int:
        return round(self.load_seconds * self.rate)

    def interval(self, faults: int) -> float:
        """Seconds before the first of `faults` faults, and between two of them."""
        return self.load_seconds / (faults + 1)


SHORT = Intensity(
    load_seconds=12, rate=20, kills=2, outages=2, outage_seconds=4, retry_delays=(2, 4, 8)
)


#: Outages are fewer than kills: a broker restart takes seconds of its own, and between two
#: outages ingress and the worker need time to take the rush of retried webhooks.
LONG = Intensity(
    load_seconds=120, rate=30, kills=10, outages=3, outage_seconds=20, retry_delays=(10, 20, 40)
)


def settings_env(settings: PipelineSettings) -> dict[str, str]:
    """The environment from which a component reads exactly `settings`."""
    env = dict(os.environ)
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if value is not None:
            env[name.upper()] = _env_value(value)
    return env


def _env_value(value: object) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, list | tuple):
        return ",".join(map(_env_value, value))
    return str(value)


@dataclass
class Component:
    """One `payments <name>` process at a time, its output appended to `log`."""

    argv: Sequence[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        # The child writes to its own copy of the descriptor.
        with self.log.open("ab") as log:
            self.process = spawn(self.argv, log=log, env=self.env)

    def kill(self) -> None:
        """SIGKILL: no shutdown, nothing flushed or committed."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None:
            terminate_group(self.process.pid, 20.0, self.process)

    def exit_code(self) -> int | None:
        """None while it runs."""
        return self.process.poll() if self.process is not None else None

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Stack:
    """Ingress, worker and sink on `settings`; what was told and how ingress answered."""

    settings: PipelineSettings
    directory: Path
    pki: Pki
    components: dict[str, Component] = field(default_factory=dict)
    told: list[Story] = field(default_factory=list)
    report: Report = field(default_factory=Report)
    #: Components that died on their own (restarted by `supervise`), with their log tails.
    crashes: list[str] = field(default_factory=list)
    _supervisor: asyncio.Task[None] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        for component in pipeline_components():
            self.components[component.name] = Component(
                component.argv,
                settings_env(self.settings),
                self.directory / f"{component.name}.log",
            )

    @property
    def ingress_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.ingress_port}"

    async def until_busy(self, name: str) -> None:
        """Until the worker or the sink has handled a record since it (re)started: a kill
        then lands mid-stream, not in a start-up."""
        port = getattr(self.settings, f"{name}_metrics_port")
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if await asyncio.to_thread(metric_total, port, BUSY_METRICS[name]) > 0:
                    return
            await asyncio.sleep(0.2)
        raise AssertionError(f"{name} handled nothing for {STARTUP_SECONDS} s")

    def restart(self, name: str) -> None:
        """SIGKILL the component, then start it again (as a supervisor would)."""
        self.components[name].kill()
        self.components[name].start()

    async def supervise(self) -> None:
        """Restart a component that died on its own (as systemd or Kubernetes would), and
        remember it: the check fails on it, after telling what became of the data."""
        while True:
            for name, component in self.components.items():
                if (code := component.exit_code()) is not None:
                    self.crashes.append(f"{name} died on its own ({code}):\n{component.tail()}")
                    component.start()
            await asyncio.sleep(0.5)

    def tell(self, webhooks: int) -> list[Story]:
        """New payments with about `webhooks` webhooks, remembered for the final check."""
        told = stories(webhooks, run=uuid.uuid4().hex[:6], seed=len(self.told))
        self.told += told
        return told

    def sign(self, webhook: Webhook, delivery_id: str) -> dict[str, str]:
        if webhook.provider is Provider.STRIPE:
            return stripe_headers(webhook.body)
        return signed_paypal_headers(self.pki, webhook.body, transmission_id=delivery_id)

    async def load(
        self,
        webhooks: Sequence[Webhook],
        rate: float,
        *,
        copies: int = 1,
        during: Coroutine[Any, Any, None] | None = None,
    ) -> None:
        """Deliver `webhooks` (see `LoadDriver.deliver`) while `during` injects faults."""
        driver = LoadDriver(self.ingress_url, self.sign, report=self.report)
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(driver.deliver(webhooks, rate, copies))
            if during is not None:
                tasks.create_task(during)

    async def check(self, *, exact_versions: bool = False) -> None:
        """Everything told and acknowledged is in Postgres as it must be, nothing is in dlq,
        no component died on its own."""
        try:
            await assert_pipeline_outcome(
                self.settings,
                self.told,
                self.report,
                exact_versions=exact_versions,
                crashes=self.crashes,
            )
        except AssertionError as failed:
            raise AssertionError(f"{failed}\n{await self._ingress_state()}") from None

    async def _ingress_state(self) -> str:
        """Why ingress refused: its health and produce error counters."""
        wanted = ("payments_ingress_produce_errors_total", "payments_ingress_producer_repl")
        try:
            async with httpx.AsyncClient(base_url=self.ingress_url, timeout=5.0) as http:
                health = (await http.get("/health")).text
                metrics = (await http.get("/metrics")).text.splitlines()
        except httpx.HTTPError as error:
            return f"ingress did not answer: {error!r}"
        counters = [line for line in metrics if line.startswith(wanted)]
        return f"ingress health {health}; " + "; ".join(counters)

    async def start(self) -> None:
        """Every component, then one payment through all of them: the stack is live."""
        for component in self.components.values():
            component.start()
        self._supervisor = asyncio.create_task(self.supervise())
        await _until_answers(f"{self.ingress_url}/health")
        warm_up = self.tell(1)
        await self.load([w for story in warm_up for w in story.webhooks], rate=10)
        await assert_pipeline_outcome(
            self.settings, warm_up, self.report, exact_versions=True, crashes=self.crashes
        )

    def stop(self) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
        for name, component in reversed(self.components.items()):
            component.stop()
            print(f"--- {name} log, last lines:\n{component.tail()}")


async def _until_answers(url: str) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    async with httpx.AsyncClient(timeout=2.0) as http:
        while True:
            try:
                if (await http.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
            await asyncio.sleep(0.2)


def fault_settings(
    make_settings: Callable[..., PipelineSettings], pki: Pki, directory: Path, **overrides: Any
) -> PipelineSettings:
    """Both providers configured (offline PayPal), quick to fail over and to retry."""
    values: dict[str, Any] = providers_configured(pki, directory) | {
        "admin_tokens": ADMIN_TOKEN,
        "ingress_port": free_port(),
        "ingress_produce_timeout_seconds": 2.0,
        "ingress_retry_after_seconds": 1,
        "ingress_producer_stall_seconds": 10.0,
        "retry_attempts": (2, 2, 2),
        "worker_session_timeout_seconds": 6,
        "worker_data_dir": directory / "worker-data",
        "worker_metrics_port": free_port(),
        "sink_metrics_port": free_port(),
        "sink_batch_max_wait_ms": 100,
        "sink_retry_max_seconds": 1.0,
    }
    settings = make_settings(**(values | overrides))
    return settings.model_copy(update={"sink_group_id": f"{settings.topic_prefix}sink"})


MakeStack = Callable[..., Awaitable[Stack]]


@asynccontextmanager
async def outage(stop: Callable[[], object], start: Callable[[], object]) -> AsyncIterator[None]:
    """`stop()` on entry and `start()` on exit, each in a thread (they block for seconds)."""
    await asyncio.to_thread(stop)
    try:
        yield
    finally:
        await asyncio.to_thread(start)
