"""The fault-injection suite's payments (`tests.support.stories`): their hand-worked final
states are what the state machine reaches, in provider order and in any shuffled, duplicated
order (the worker model of the property tests: park what is not yet applicable, retry)."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from streams.normalize import NormalizedEvent, normalize
from streams.state_machine import Applied
from tests.support.stories import Story, in_provider_order, shuffled, stories
from tests.unit.streams.test_state_machine_properties import _run

pytestmark = pytest.mark.unit

TOLD = stories(100, "unit")


def _normalized(story: Story, order: list[int]) -> list[NormalizedEvent]:
    now = datetime.now(UTC)
    return [normalize(story.provider, story.webhooks[n].body, now, "corr") for n in order]


def _final(story: Story, events: list[NormalizedEvent]) -> tuple[object, ...]:
    worker = _run(events)
    assert worker.parked == []
    assert worker.state is not None
    state = worker.state
    return (state.status, state.currency, state.captured, state.refunded, state.version)


@pytest.mark.parametrize("story", TOLD[:10], ids=lambda story: story.payment_id)
def test_in_provider_order_every_event_applies_and_ends_as_expected(story: Story) -> None:
    events = _normalized(story, list(range(len(story.webhooks))))
    worker = _run(events)
    assert all(isinstance(outcome, Applied) for outcome in worker.outcomes)
    want = story.expected
    count = len(story.webhooks)
    assert _final(story, events) == (
        want.status,
        want.currency,
        want.captured,
        want.refunded,
        count,
    )


@pytest.mark.parametrize("seed", range(10))
def test_any_order_and_copies_end_in_the_same_state(seed: int) -> None:
    draw = random.Random(seed)
    for story in TOLD:
        order = [n for n in range(len(story.webhooks)) for _ in range(draw.randint(1, 3))]
        draw.shuffle(order)
        want = story.expected
        state = _final(story, _normalized(story, order))
        assert state == (
            want.status,
            want.currency,
            want.captured,
            want.refunded,
            len(story.webhooks),
        )


def test_delivery_orders_send_every_webhook_once() -> None:
    sent = sorted(w.event_id for story in TOLD for w in story.webhooks)
    assert sorted(w.event_id for w in in_provider_order(TOLD)) == sent
    assert sorted(w.event_id for w in shuffled(TOLD, seed=1)) == sent
    assert len({story.payment_id for story in TOLD}) == len(TOLD)
