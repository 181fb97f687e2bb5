"""The sink exports its group's lag on payment-events, and it drains to zero."""

from collections.abc import Callable
from pathlib import Path

from common.metrics import REGISTRY
from common.settings import PipelineSettings
from tests.support.payment_events import payment_event
from tests.support.sink import (
    eventually,
    produce,
    row_counts,
    sink_running,
    topics_for,
)


def sink_lag(settings: PipelineSettings) -> list[float | None]:
    return [
        REGISTRY.get_sample_value(
            "payments_consumer_lag",
            {
                "group": settings.sink_group_id,
                "topic": settings.topics.payment_events,
                "partition": str(partition),
            },
        )
        for partition in range(settings.topic_partitions)
    ]


async def test_the_sink_exports_its_lag_until_it_is_drained(
    make_settings: Callable[..., PipelineSettings], tmp_path: Path
) -> None:
    settings = topics_for(make_settings(database_url=f"sqlite:///{tmp_path / 'sink.db'}"))
    events = [payment_event(f"evt_{n}", payment_id=f"pi_{n}") for n in range(20)]
    produce(settings, events)

    async with sink_running(settings):
        await eventually(lambda: row_counts(settings.database_url), lambda c: c["payments"] == 20)
        await eventually(lambda: sink_lag(settings), lambda lags: lags == [0] * len(lags))
