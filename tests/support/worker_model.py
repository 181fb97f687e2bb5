"""The streams worker without Kafka or RocksDB, for the unit tests that fold records through
`streams.process.step` the way `streams.worker` does: read the payment's record, step, store
the step's write, collect what it sends.

Not a test module (pytest collects nothing here): the test modules share it instead of
importing one another. The table holds each payment's record encoded, as RocksDB does, so
every read goes through `PaymentRecord.decode`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from common.settings import PipelineSettings
from schemas import headers as h
from schemas.events import PaymentEvent
from schemas.providers import Provider
from schemas.routing import load_payload, routing_key
from streams.payment_record import PaymentRecord
from streams.placement import home_partition
from streams.process import step
from streams.records import Inbound
from streams.route import Policy, Step, StepOutcome

#: The policy of the unit tests: prefixed topics, one attempt on each of three short tiers,
#: the default dedupe retention (7 days) and partition count (4).
POLICY: Final = Policy.from_settings(
    PipelineSettings(
        _env_file=None, topic_prefix="p-", retry_delays_seconds="1,2,3", retry_attempts="1,1,1"
    )
)
DAY_MS: Final = 24 * 3600 * 1000
#: An epoch-ms "now" for the first delivery (2027-01-15); tests move on from it.
NOW_MS: Final = 1_800_000_000_000


def inbound(
    provider: Provider,
    body: bytes,
    now_ms: int,
    offset: int,
    *,
    topic: str = "p-raw-webhooks",
    partition: int | None = None,
    headers: dict[str, str] | None = None,
    policy: Policy = POLICY,
) -> Inbound:
    """The record ingress writes for `body`: keyed by its routing key, in its key's partition
    unless `partition` says otherwise, received at `now_ms`."""
    key = routing_key(provider, load_payload(body)).encode()
    values = {
        h.PROVIDER: provider.value,
        h.RECEIVED_AT: str(now_ms),
        h.CORRELATION_ID: f"corr-{offset}",
        **(headers or {}),
    }
    where = home_partition(key, policy.partitions) if partition is None else partition
    return Inbound(topic, where, offset, now_ms, key, body, values)


@dataclass
class WorkerModel:
    policy: Policy = POLICY
    #: payment key → its record, encoded
    table: dict[str, bytes] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    next_offset: int = 0

    def read(self, payment_key: str) -> PaymentRecord | None:
        raw = self.table.get(payment_key)
        return None if raw is None else PaymentRecord.decode(raw)

    def deliver(self, record: Inbound, now_ms: int) -> Step:
        """One record through `step`; its write stored."""
        done = step(record, self.read, now_ms, self.policy)
        if done.write is not None:
            payment_key, payment_record = done.write
            self.table[payment_key] = payment_record.encode()
        self.steps.append(done)
        return done

    def send(self, provider: Provider, body: bytes, now_ms: int) -> tuple[Inbound, Step]:
        """`body` as a new raw-webhooks record (its own offset): a first delivery, or a
        provider's redelivery of the same event."""
        record = inbound(provider, body, now_ms, self.next_offset, policy=self.policy)
        self.next_offset += 1
        return record, self.deliver(record, now_ms)

    def outcomes(self) -> list[StepOutcome]:
        return [done.outcome for done in self.steps]

    def payment_events(self) -> list[PaymentEvent]:
        """Every record sent to payment-events, in the order sent."""
        return [
            PaymentEvent.model_validate_json(out.value)
            for done in self.steps
            for out in done.outputs
            if out.topic == self.policy.topics.payment_events
        ]

    def stored(self, payment_key: str) -> PaymentRecord:
        record = self.read(payment_key)
        assert record is not None, f"no record for {payment_key}"
        return record
