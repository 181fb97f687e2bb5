"""The fault-injection suite's payments (`tests.support.stories`): their hand-worked final
states are what the worker reaches, in provider order and in any shuffled, duplicated order,
folded through `streams.process.step` and each payment's record (`worker_model`). Nothing
waits: no story's event is ever retried or dead-lettered."""

from __future__ import annotations

import random

import pytest

from schemas.events import PaymentEvent
from tests.support.stories import Story, Webhook, in_provider_order, shuffled, stories
from tests.support.worker_model import DAY_MS, NOW_MS, WorkerModel

TOLD = stories(100, "unit")
FAILURES = {"retried", "dead_lettered", "forwarded"}


def _fold(webhooks: list[Webhook], gap_ms: int = 1000) -> WorkerModel:
    worker = WorkerModel()
    for n, webhook in enumerate(webhooks):
        worker.send(webhook.provider, webhook.body, NOW_MS + n * gap_ms)
    return worker


def _key(story: Story) -> str:
    return f"{story.provider.value}:{story.payment_id}"


def _final(worker: WorkerModel, story: Story) -> tuple[object, ...]:
    state = worker.stored(_key(story)).state
    assert state is not None
    return (state.status, state.currency, state.captured, state.refunded, state.version)


def _expected(story: Story) -> tuple[object, ...]:
    want = story.expected
    # `Expected` counts a capture never reported as 0; the state keeps it unknown (None).
    return (
        want.status,
        want.currency,
        want.captured or None,
        want.refunded,
        len(story.webhooks),
    )


def _last_sent(worker: WorkerModel, story: Story) -> PaymentEvent:
    return [e for e in worker.payment_events() if e.payment_id == story.payment_id][-1]


@pytest.mark.parametrize("story", TOLD[:10], ids=lambda story: story.payment_id)
def test_in_provider_order_every_event_applies_and_ends_as_expected(story: Story) -> None:
    worker = _fold(list(story.webhooks))
    assert worker.outcomes() == ["applied"] * len(story.webhooks)
    assert _final(worker, story) == _expected(story)


def test_interleaved_in_provider_order_every_story_ends_as_expected() -> None:
    worker = _fold(in_provider_order(TOLD))
    assert set(worker.outcomes()) == {"applied"}
    for story in TOLD:
        assert _final(worker, story) == _expected(story)
        last = _last_sent(worker, story)
        assert (last.status, last.captured_amount, last.refunded_amount, last.version) == (
            _expected(story)[0],
            _expected(story)[2],
            _expected(story)[3],
            len(story.webhooks),
        )


@pytest.mark.parametrize("seed", range(10))
def test_any_order_and_copies_end_in_the_same_state(seed: int) -> None:
    draw = random.Random(seed)
    sends = [w for story in TOLD for w in story.webhooks for _ in range(draw.randint(1, 3))]
    draw.shuffle(sends)
    worker = _fold(sends)

    assert not FAILURES & set(worker.outcomes())
    distinct = sum(len(story.webhooks) for story in TOLD)
    assert worker.outcomes().count("duplicate") == len(sends) - distinct
    for story in TOLD:
        assert _final(worker, story) == _expected(story), story.payment_id
        assert _last_sent(worker, story).version == len(story.webhooks)


@pytest.mark.parametrize("seed", range(3))
def test_shuffled_stories_days_apart_end_as_expected(seed: int) -> None:
    """A payment's events weeks apart (each webhook two days after the last): refunds and
    disputes before their capture apply at once and the capture completes them."""
    worker = _fold(shuffled(TOLD, seed=seed), gap_ms=2 * DAY_MS)
    assert not FAILURES & set(worker.outcomes())
    assert "duplicate" not in worker.outcomes()
    for story in TOLD:
        assert _final(worker, story) == _expected(story), story.payment_id


def test_delivery_orders_send_every_webhook_once() -> None:
    sent = sorted(w.event_id for story in TOLD for w in story.webhooks)
    assert sorted(w.event_id for w in in_provider_order(TOLD)) == sent
    assert sorted(w.event_id for w in shuffled(TOLD, seed=1)) == sent
    assert len({story.payment_id for story in TOLD}) == len(TOLD)
