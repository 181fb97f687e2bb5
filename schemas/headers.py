"""Kafka header names of the pipeline topics (docs/design.md, "Headers on raw-webhooks").

Header values are UTF-8 bytes; times are epoch milliseconds as decimal strings.
"""

from __future__ import annotations

from typing import Final

# set by ingress on raw-webhooks and carried forward on every later hop
PROVIDER: Final = "provider"
EVENT_ID: Final = "event-id"
EVENT_TYPE: Final = "event-type"
RECEIVED_AT: Final = "received-at"
CORRELATION_ID: Final = "correlation-id"
CONTENT_TYPE: Final = "content-type"
SCHEMA_VERSION: Final = "schema-version"

# added by the worker on retry tiers and dlq
RETRY_ATTEMPT: Final = "retry-attempt"
RETRY_DUE_AT: Final = "retry-due-at"
ERROR_CLASS: Final = "error-class"
ERROR_MESSAGE: Final = "error-message"
ORIGINAL_TOPIC: Final = "original-topic"
ORIGINAL_PARTITION: Final = "original-partition"
ORIGINAL_OFFSET: Final = "original-offset"
FIRST_FAILED_AT: Final = "first-failed-at"
DLQ_REASON: Final = "dlq-reason"

# added by the replay tool
REPLAYED_FROM: Final = "replayed-from"
REPLAY_ID: Final = "replay-id"

# added by the worker to a record it moves to its key's partition after a partition
# increase (`streams.placement`): the `topic/partition/offset` of the record it copies
FORWARDED_FROM: Final = "forwarded-from"

#: schema-version of raw-webhooks records: the provider's raw body, unchanged
RAW_SCHEMA_VERSION: Final = "1"
