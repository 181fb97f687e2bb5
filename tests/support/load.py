"""A webhook provider, as far as delivery goes, for the fault-injection tests.

`LoadDriver.deliver` posts signed webhooks to a running ingress at a steady rate and retries
each one the way Stripe and PayPal do: a 503, a timeout or a refused connection is tried
again (after a jittered, capped exponential backoff: the tests' stand-in for the providers'
three days), any other answer ends the delivery. Like a provider's delivery workers it has
a bounded number of requests in flight, so after an outage the retried webhooks queue up
here rather than time out in a stampede. Every answer is recorded, so a test knows exactly
which webhooks ingress acknowledged (2xx) and must therefore be in Postgres.

A delivery keeps its signed headers across its retries (a PayPal transmission is resent
under its transmission id); each copy of a webhook is a delivery of its own.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx

from tests.support.stories import Webhook

#: Signed headers for one delivery of a webhook: (webhook, delivery id) → headers.
Signer = Callable[[Webhook, str], dict[str, str]]
EventKey = tuple[str, str]  # (provider, event id)

RETRIED_STATUSES = frozenset({503})


def key_of(webhook: Webhook) -> EventKey:
    return webhook.provider.value, webhook.event_id


@dataclass
class Report:
    """What the provider saw: per event, how many deliveries got a 2xx; per answer (HTTP
    status or error name), how many attempts got it; deliveries ended by another answer."""

    acknowledged: Counter[EventKey] = field(default_factory=Counter)
    answers: Counter[str] = field(default_factory=Counter)
    refused: list[tuple[EventKey, int, str]] = field(default_factory=list)
    abandoned: list[EventKey] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{len(self.acknowledged)} events acknowledged; answers {dict(self.answers)}; "
            f"refused {self.refused[:5]}; abandoned {self.abandoned[:5]}"
        )


@dataclass
class LoadDriver:
    """Delivers to the ingress at `base_url`; gives a delivery up after `give_up_seconds`."""

    base_url: str
    sign: Signer
    attempt_timeout: float = 10.0
    max_backoff: float = 4.0
    give_up_seconds: float = 180.0
    #: Requests in flight at most; a delivery waiting for one has not made an attempt yet.
    concurrency: int = 64
    report: Report = field(default_factory=Report)
    _jitter: random.Random = field(default_factory=lambda: random.Random(0), repr=False)

    async def deliver(self, webhooks: Sequence[Webhook], rate: float, copies: int = 1) -> Report:
        """Start a delivery of each webhook every 1/`rate` seconds (`copies` deliveries of
        it at once, concurrently), then wait until every delivery has ended."""
        limits = httpx.Limits(max_connections=self.concurrency)
        timeout = httpx.Timeout(self.attempt_timeout)
        client = httpx.AsyncClient(base_url=self.base_url, limits=limits, timeout=timeout)
        slots = asyncio.Semaphore(self.concurrency)
        async with client as http, asyncio.TaskGroup() as deliveries:
            started = time.monotonic()
            for n, webhook in enumerate(webhooks):
                await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))
                for _ in range(copies):
                    deliveries.create_task(self._deliver(http, slots, webhook))
        return self.report

    async def _deliver(
        self, http: httpx.AsyncClient, slots: asyncio.Semaphore, webhook: Webhook
    ) -> None:
        headers = self.sign(webhook, str(uuid.uuid4()))
        path = f"/webhooks/{webhook.provider.value}"
        deadline = time.monotonic() + self.give_up_seconds
        attempt = 0
        while time.monotonic() < deadline:
            async with slots:
                answer, detail = await _attempt(http, path, webhook.body, headers)
            self.report.answers[str(answer)] += 1
            if isinstance(answer, int) and 200 <= answer < 300:
                self.report.acknowledged[key_of(webhook)] += 1
                return
            if isinstance(answer, int) and answer not in RETRIED_STATUSES:
                self.report.refused.append((key_of(webhook), answer, detail))
                return
            backoff = min(self.max_backoff, 0.25 * 2**attempt)
            await asyncio.sleep(backoff * self._jitter.uniform(0.5, 1.0))
            attempt += 1
        self.report.abandoned.append(key_of(webhook))


async def _attempt(
    http: httpx.AsyncClient, path: str, body: bytes, headers: dict[str, str]
) -> tuple[int | str, str]:
    """The answer's status and body, or the name of the transport error (retried)."""
    try:
        response = await http.post(path, content=body, headers=headers)
    except httpx.TransportError as error:
        return type(error).__name__, str(error)
    return response.status_code, response.text[:200]
