"""The whole pipeline on the real broker and the real PostgreSQL: signed webhooks posted to
ingress end up in Postgres exactly once, in the right final state, whatever the delivery
order and however often the provider redelivers."""

from __future__ import annotations

import asyncio
import random

import pytest

from common.settings import PipelineSettings
from common.topics import describe_topics
from tests.support.ingress import app_client
from tests.support.sink import eventually, payment_rows, row_counts, sink_running
from tests.support.webhooks import lifecycle, signed

PAYMENTS = 6


@pytest.mark.usefixtures("worker")
async def test_redelivered_shuffled_webhooks_land_once_in_the_right_state(
    pipeline_settings: PipelineSettings,
) -> None:
    deliveries = [event for n in range(PAYMENTS) for event in lifecycle(n)] * 3
    random.Random(7).shuffle(deliveries)  # refunds often arrive before their capture

    async with app_client(pipeline_settings) as client, sink_running(pipeline_settings):
        for _, body in deliveries:
            response = await client.post("/webhooks/stripe", content=body, headers=signed(body))
            assert response.status_code == 200, response.text

        database_url = pipeline_settings.database_url
        counts = await eventually(
            lambda: row_counts(database_url),
            lambda counts: counts["webhook_events"] >= 3 * PAYMENTS,
        )
        await asyncio.sleep(2)  # anything extra (a duplicate) would arrive in this window
        counts = row_counts(database_url)

    assert counts["webhook_events"] == 3 * PAYMENTS
    rows = payment_rows(database_url)
    assert set(rows) == {f"pi_e2e_{n}" for n in range(PAYMENTS)}
    for row in rows.values():
        assert row["status"] == "partially_refunded"
        assert row["captured_amount"] == 1000
        assert row["refunded_amount"] == 500
        assert row["currency"] == "USD"
    dlq = describe_topics(pipeline_settings, [pipeline_settings.topics.dlq], [])
    assert sum(partition.high for partition in dlq) == 0
