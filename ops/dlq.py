"""`payments dlq list|show|replay|purge`: the text ops read. Selection, replay and purge
are `admin.dlq`'s, shared with the console."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from admin.dlq import masked_body, replay_effect
from admin.projection import PaymentTotals, projected
from common.topic_scan import TopicEntry
from schemas import headers as h


def describe(entry: TopicEntry) -> str:
    """One line for `list`: where it is, what it is, why it is here."""
    at = datetime.fromtimestamp(entry.timestamp_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    get = entry.headers.get
    return (
        f"{entry.partition}:{entry.offset}  {at}  {get(h.PROVIDER, '?')}  "
        f"{get(h.EVENT_TYPE, '?')}  {get(h.EVENT_ID, '?')}  key={entry.key}  "
        f"reason={get(h.DLQ_REASON, '?')}"
    )


def show(entry: TopicEntry) -> str:
    """Headers and the PII-masked body, for `show`."""
    lines = [describe(entry), "headers:"]
    lines += [f"  {name}: {value}" for name, value in sorted(entry.headers.items())]
    lines += ["body (personal data masked):", masked_body(entry.value)]
    return "\n".join(lines)


def dry_run_line(entry: TopicEntry, totals: PaymentTotals | None) -> str:
    """What replaying would do to the payment: its status now, the event's effect and
    what the payment would become (`entry` with its body)."""
    now = totals.status if totals else "unknown"
    return (
        f"would replay {describe(entry)}\n    payment now: {now}; event: {replay_effect(entry)}; "
        f"would become: {projected(entry, totals)}"
    )


def audit_line(entry: TopicEntry, purged_at: datetime) -> str:
    """What the purge audit file keeps of a removed message: everything but the body."""
    record = {
        "purged_at": purged_at.isoformat(),
        "partition": entry.partition,
        "offset": entry.offset,
        "timestamp_ms": entry.timestamp_ms,
        "key": entry.key,
        "headers": entry.headers,
    }
    return json.dumps(record, sort_keys=True) + "\n"
