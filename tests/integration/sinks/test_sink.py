"""The sink on real Kafka, on SQLite and on PostgreSQL: redeliveries, late events, rows the
database refuses."""

from common.settings import PipelineSettings
from common.topic_scan import scan_topics
from schemas import headers as h
from tests.support.payment_events import payment_event
from tests.support.sink import (
    dead_letter_scenario,
    eventually,
    payment_rows,
    produce,
    row_counts,
    sink_running,
)


async def test_an_event_delivered_many_times_is_stored_once(
    sink_settings: PipelineSettings,
) -> None:
    event = payment_event("evt_dup", version=1)
    url = sink_settings.database_url
    async with sink_running(sink_settings):
        produce(sink_settings, [event, event, event])
        await eventually(lambda: row_counts(url), lambda c: c["webhook_events"] == 1)
        # once more in a later batch, then a newer event of the same payment (same
        # partition, so it is written only after every copy before it was handled)
        produce(sink_settings, [event, payment_event("evt_next", version=2)])
        await eventually(lambda: row_counts(url), lambda c: c["webhook_events"] == 2)

    assert row_counts(url) == {"webhook_events": 2, "payment_transitions": 2, "payments": 1}
    assert payment_rows(url)["pi_1"]["version"] == 2


async def test_an_older_event_after_a_newer_one_does_not_regress_the_payment(
    sink_settings: PipelineSettings,
) -> None:
    newer = payment_event("evt_refund", version=2, status="refunded", refunded_amount=1099)
    older = payment_event("evt_pending", version=1, status="pending", captured_amount=0)
    url = sink_settings.database_url
    async with sink_running(sink_settings):
        produce(sink_settings, [newer])
        await eventually(lambda: row_counts(url), lambda c: c["payments"] == 1)
        produce(sink_settings, [older])
        await eventually(lambda: row_counts(url), lambda c: c["webhook_events"] == 2)

    payment = payment_rows(url)["pi_1"]
    assert (payment["status"], payment["version"], payment["last_event_id"]) == (
        "refunded",
        2,
        "evt_refund",
    )
    assert payment["refunded_amount"] == 1099
    assert row_counts(url)["payment_transitions"] == 2  # the late event is still audited


async def test_rows_the_database_rejects_go_to_dlq_and_the_batch_goes_on(
    sink_settings: PipelineSettings,
) -> None:
    await dead_letter_scenario(sink_settings)

    assert set(payment_rows(sink_settings.database_url)) == {"pi_good1", "pi_good2"}
    letters = {e.key: e.headers for e in scan_topics(sink_settings, [sink_settings.topics.dlq])}
    assert letters["stripe:pi_huge"][h.DLQ_REASON] == "database_rejected"
    assert letters["stripe:pi_huge"][h.CORRELATION_ID] == "corr-evt_huge"
    assert letters["stripe:pi_junk"][h.DLQ_REASON] == "invalid_payment_event"
    for headers in letters.values():
        assert headers[h.ORIGINAL_TOPIC] == sink_settings.topics.payment_events
        assert {h.ERROR_CLASS, h.ERROR_MESSAGE, h.ORIGINAL_PARTITION, h.FIRST_FAILED_AT} <= set(
            headers
        )
