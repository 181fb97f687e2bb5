"""Ingress metrics, and the one log line each webhook request leaves (its access log).

Outcome labels are `accepted` or a stable error code: a closed set, so label cardinality
stays bounded whatever clients send. Logs name the event and the error code, never the
body, the signature headers or the error's free text about them.
"""

from __future__ import annotations

import logging
import time

from prometheus_client import Counter, Gauge, Histogram

from common.metrics import REGISTRY
from ingress.errors import RequestRejected, SignatureError, Unavailable
from schemas.providers import PayloadError, Provider

logger = logging.getLogger("ingress.webhooks")

# Fine steps below 50 ms: the latency target lives there.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

REQUESTS = Counter(
    "payments_ingress_webhook_requests",
    "Webhook requests by provider and outcome (`accepted` or the error code).",
    ["provider", "outcome"],
    registry=REGISTRY,
)
REQUEST_SECONDS = Histogram(
    "payments_ingress_webhook_request_duration_seconds",
    "Webhook request handling time, from routing to the answer.",
    ["provider"],
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
SIGNATURE_FAILURES = Counter(
    "payments_ingress_signature_failures",
    "Webhooks refused as not authentic, by provider and reason.",
    ["provider", "reason"],
    registry=REGISTRY,
)
IN_FLIGHT = Gauge(
    "payments_ingress_webhook_requests_in_flight",
    "Webhook requests being handled now.",
    registry=REGISTRY,
)
PRODUCE_SECONDS = Histogram(
    "payments_ingress_produce_duration_seconds",
    "Time from handing a record to the producer to the broker's acknowledgement.",
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
PRODUCE_ERRORS = Counter(
    "payments_ingress_produce_errors",
    "Records the broker did not acknowledge, by reason (librdkafka error name or timeout).",
    ["reason"],
    registry=REGISTRY,
)
PRODUCER_REPLACEMENTS = Counter(
    "payments_ingress_producer_replacements",
    "Kafka producers replaced by a new one, by reason (fatal error, or stalled).",
    ["reason"],
    registry=REGISTRY,
)

# `.labels()` locks and hashes on every call; the children every request touches are bound once.
_DURATION = {provider: REQUEST_SECONDS.labels(provider.value) for provider in Provider}
_ACCEPTED = {provider: REQUESTS.labels(provider.value, "accepted") for provider in Provider}


class ObservedWebhook:
    """Counts and times one webhook request, and logs it when refused; errors pass through.
    A class rather than a `contextmanager` generator: it wraps every webhook."""

    __slots__ = ("_provider", "_started")

    def __init__(self, provider: Provider) -> None:
        self._provider = provider
        self._started = 0.0

    def __enter__(self) -> None:
        self._started = time.perf_counter()
        _in_flight.count += 1

    def __exit__(
        self, error_type: type[BaseException] | None, error: BaseException | None, _: object
    ) -> None:
        _in_flight.count -= 1
        if error is None:
            _record(self._provider, self._started, None)
        elif isinstance(error, Exception):  # not a cancellation: the request was answered
            outcome = _record(self._provider, self._started, error)
            # Error messages name rules and fields, never values from the body or signatures.
            fields = {"provider": self._provider.value, "outcome": outcome, "detail": str(error)}
            logger.info("webhook refused", extra=fields)


class _InFlight:
    count = 0


# A plain count the gauge reads when scraped: no lock taken twice per webhook.
_in_flight = _InFlight()
IN_FLIGHT.set_function(lambda: _in_flight.count)


def _record(provider: Provider, started: float, error: Exception | None) -> str:
    _DURATION[provider].observe(time.perf_counter() - started)
    if error is None:
        _ACCEPTED[provider].inc()
        return "accepted"
    outcome = _error_code(error)
    REQUESTS.labels(provider.value, outcome).inc()
    if isinstance(error, SignatureError):
        SIGNATURE_FAILURES.labels(provider.value, outcome).inc()
    return outcome


def _error_code(error: Exception) -> str:
    if isinstance(error, SignatureError | RequestRejected | Unavailable | PayloadError):
        return error.code
    return "internal_error"
