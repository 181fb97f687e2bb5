"""The broker, then PostgreSQL, stopped and started again under sustained load. While the
broker is down ingress answers 503 and the load driver retries like a provider; only the
webhooks that got a 2xx must be in Postgres, and every one of them is. While PostgreSQL is
down the sink pauses; nothing is dead-lettered."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ops.local_kafka import LocalKafka
from ops.local_postgres import LocalPostgres
from tests.support.fault_stack import Intensity, MakeStack, Stack, outage
from tests.support.stories import in_provider_order


async def load_through_outages(
    stack: Stack, intensity: Intensity, stop: Callable[[], object], start: Callable[[], object]
) -> None:
    async def outages() -> None:
        for _ in range(intensity.outages):
            await asyncio.sleep(intensity.interval(intensity.outages))
            async with outage(stop, start):
                await asyncio.sleep(intensity.outage_seconds)

    told = stack.tell(intensity.webhooks)
    await stack.load(in_provider_order(told), intensity.rate, during=outages())


async def test_the_broker_stopped_and_restarted_under_load(
    own_broker: LocalKafka, make_stack: MakeStack, intensity: Intensity
) -> None:
    stack = await make_stack(kafka=own_broker.bootstrap)

    await load_through_outages(stack, intensity, own_broker.stop, own_broker.start)

    assert stack.report.answers["503"] > 0, "ingress never noticed the outage"
    await stack.check()


async def test_postgres_stopped_and_restarted_under_load(
    own_postgres: LocalPostgres, make_stack: MakeStack, intensity: Intensity
) -> None:
    stack = await make_stack(postgres=own_postgres.admin_url)

    await load_through_outages(stack, intensity, own_postgres.stop, own_postgres.start)

    await stack.check(exact_versions=True)
