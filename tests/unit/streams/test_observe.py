from common.metrics import REGISTRY
from common.settings import TopicNames
from schemas import headers as h
from streams.observe import observe_hops
from streams.records import Outbound

TOPICS = TopicNames.with_prefix("p-")
TIER = ("payments_worker_retries_total", {"tier": "retry-5m"})
REASON = ("payments_worker_dead_lettered_total", {"reason": "retries_exhausted"})


def out(topic: str, **headers: str) -> Outbound:
    return Outbound(topic, b"k", b"v", tuple((k, v.encode()) for k, v in headers.items()))


def count(sample: tuple[str, dict[str, str]]) -> float:
    return REGISTRY.get_sample_value(*sample) or 0.0


def test_hops_are_counted_by_unprefixed_tier_and_by_dlq_reason() -> None:
    tier_before, reason_before = count(TIER), count(REASON)

    observe_hops(
        [
            out("p-retry-5m"),
            out("p-retry-5m"),
            out("p-dlq", **{h.DLQ_REASON: "retries_exhausted"}),
            out("p-payment-events"),
        ],
        TOPICS,
        "p-",
    )

    assert count(TIER) - tier_before == 2
    assert count(REASON) - reason_before == 1
