"""`payments demo`: the five-minute tour of the running local stack (`make run`).

It never starts anything: when the stack does not answer within `wait_seconds`, the first
step fails and says so. Steps, in order (each depends on the ones before it; the first
failure ends the tour):

1. health: ingress `/health` and `/ready`, the worker's and the sink's `/metrics` and the
   admin process's `/health` answer; the counters of step 8 are read.
2-3. a signed Stripe and a signed PayPal webhook are accepted (200).
4. a Stripe webhook whose body changed after signing is refused: 400 `signature_invalid`.
5. both payments reach the database: `/admin/payments/...` shows them captured.
6. the Stripe webhook delivered again is accepted, counted as a duplicate by the worker
   and changes nothing: the payment keeps its version, the event is stored once.
7. `/admin/events` lists the two events, once each.
8. the counters of ingress, worker and sink rose at least by what the tour sent.

Every run uses fresh ids (`run`), so a second tour is new to the pipeline. Secrets are
never printed: steps show ids, statuses, codes and counter values only.
"""

from __future__ import annotations

import functools
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

import httpx
from prometheus_client.parser import text_string_to_metric_families

from common.settings import PipelineSettings
from ops.example_events import example_body, payment_id
from ops.local_credentials import LocalCredentials
from ops.signing import SignedRequest, ingress_url, sign_request, webhook_url
from schemas.providers import Provider

Component = Literal["ingress", "worker", "sink", "admin"]
STRIPE_TYPE: Final = "payment_intent.succeeded"
PAYPAL_TYPE: Final = "PAYMENT.CAPTURE.COMPLETED"
POLL_SECONDS: Final = 0.25
HEALTH_ENDPOINTS: Final[tuple[tuple[Component, str], ...]] = (
    ("ingress", "/ready"),
    ("worker", "/metrics"),
    ("sink", "/metrics"),
    ("admin", "/health"),
)


class StepFailed(Exception):
    """A step saw something other than what the pipeline promises."""


@dataclass(frozen=True)
class StepResult:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: each is declared once
class Counter:
    """A counter series the tour must move by at least `increase`."""

    component: Component
    name: str
    labels: Mapping[str, str]
    increase: int

    def __str__(self) -> str:
        labels = ",".join(f'{key}="{value}"' for key, value in self.labels.items())
        return f"{self.name}{{{labels}}}" if labels else self.name


_REQUESTS: Final = "payments_ingress_webhook_requests_total"
_SIGNATURE_FAILURES: Final = "payments_ingress_signature_failures_total"
_WORKER_EVENTS: Final = "payments_worker_events_total"
DUPLICATES: Final = Counter("worker", _WORKER_EVENTS, {"source": "raw", "outcome": "duplicate"}, 1)
COUNTERS: Final = (
    Counter("ingress", _REQUESTS, {"provider": "stripe", "outcome": "accepted"}, 2),
    Counter("ingress", _REQUESTS, {"provider": "paypal", "outcome": "accepted"}, 1),
    Counter("ingress", _REQUESTS, {"provider": "stripe", "outcome": "signature_invalid"}, 1),
    Counter(
        "ingress", _SIGNATURE_FAILURES, {"provider": "stripe", "reason": "signature_invalid"}, 1
    ),
    Counter("worker", _WORKER_EVENTS, {"source": "raw", "outcome": "applied"}, 2),
    DUPLICATES,
    Counter("sink", "payments_sink_events_written_total", {}, 2),
)


@dataclass(frozen=True)
class Stack:
    """Where the running local stack answers, and the credentials it verifies with."""

    settings: PipelineSettings
    credentials: LocalCredentials

    def url(self, component: Component, path: str) -> str:
        settings = self.settings
        if component == "ingress":
            return ingress_url(settings) + path
        if component == "admin":
            return f"http://{settings.admin_host}:{settings.admin_port}{path}"
        port = settings.worker_metrics_port if component == "worker" else settings.sink_metrics_port
        return f"http://127.0.0.1:{port}{path}"

    @property
    def admin_headers(self) -> dict[str, str]:
        token = self.settings.admin_tokens[0].get_secret_value()
        return {"Authorization": f"Bearer {token}"}


@dataclass
class Tour:
    """One demo run: its ids, its HTTP client and what earlier steps saw."""

    stack: Stack
    http: httpx.Client
    timeout_seconds: float
    wait_seconds: float
    run: str = field(default_factory=lambda: f"demo{uuid.uuid4().hex[:10]}")
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    before: dict[Counter, float] = field(default_factory=dict)
    stripe_version: int = 0

    def body(self, provider: Provider) -> bytes:
        event_type = STRIPE_TYPE if provider is Provider.STRIPE else PAYPAL_TYPE
        return example_body(provider, event_type, self.run)

    def payment(self, provider: Provider) -> str:
        return payment_id(provider, "paid", self.run)

    def event_id(self, provider: Provider) -> str:
        return str(_json(self.body(provider))["id"])


Step = Callable[[Tour], str]


def run_demo(
    stack: Stack,
    report: Callable[[StepResult], None],
    *,
    wait_seconds: float = 10.0,
    timeout_seconds: float = 60.0,
) -> bool:
    """Run every step, `report` each result; False at the first failed step."""
    with httpx.Client(timeout=10.0) as http:
        tour = Tour(stack, http, timeout_seconds, wait_seconds)
        for name, step in STEPS:
            try:
                detail = step(tour)
            except (StepFailed, httpx.HTTPError) as failure:
                report(StepResult(name, False, _failure(failure)))
                return False
            report(StepResult(name, True, detail))
    return True


# --- the steps ----------------------------------------------------------------------


def check_health(tour: Tour) -> str:
    deadline = time.monotonic() + tour.wait_seconds
    health = tour.stack.url("ingress", "/health")
    if not _answers_by(tour.http, health, deadline):
        raise StepFailed(
            f"the local stack is not running: nothing answers at {health} (waited "
            f"{tour.wait_seconds:g}s). Start it with `make run` in another terminal, then run "
            "the demo again."
        )
    for component, path in HEALTH_ENDPOINTS:
        url = tour.stack.url(component, path)
        if not _answers_by(tour.http, url, deadline):
            raise StepFailed(f"{component}: {url} does not answer 200")
    tour.before = read_counters(tour)
    return (
        f"ingress {health} live and ready (broker reachable); worker and sink serve /metrics; "
        "admin answers"
    )


def post_stripe(tour: Tour) -> str:
    return _post_accepted(tour, Provider.STRIPE)


def post_paypal(tour: Tour) -> str:
    return _post_accepted(tour, Provider.PAYPAL)


def post_bad_signature(tour: Tour) -> str:
    body = example_body(Provider.STRIPE, "payment_intent.created", tour.run)
    signed = _signed(tour, Provider.STRIPE, body)
    tampered = body.replace(b'"amount": 5000', b'"amount": 1', 1)
    response = tour.http.post(signed.url, content=tampered, headers=signed.headers)
    _expect_status(response, 400, "a body changed after signing")
    code = _json(response.content).get("error", {}).get("code")
    if code != "signature_invalid":
        raise StepFailed(f"expected error code signature_invalid, got {code!r}")
    return f"body changed after signing: 400 {code}"


def check_processed(tour: Tour) -> str:
    lines = []
    for provider in Provider:
        probe = functools.partial(_captured, tour, provider)
        view = _poll(tour.timeout_seconds, probe, f"{tour.payment(provider)} to be captured")
        payment = view["payment"]
        if provider is Provider.STRIPE:
            tour.stripe_version = payment["version"]
        lines.append(f"{provider.value} {payment['payment_id']} {payment['status']}")
    return "in the database (GET /admin/payments/...): " + ", ".join(lines)


def check_duplicate(tour: Tour) -> str:
    seen = read_counter(tour, DUPLICATES)

    def counted() -> bool:
        return read_counter(tour, DUPLICATES) > seen

    _post_accepted(tour, Provider.STRIPE)
    _poll(tour.timeout_seconds, counted, "the worker to count a duplicate")
    view = _payment_view(tour, Provider.STRIPE)
    payment, event_id = view["payment"], tour.event_id(Provider.STRIPE)
    stored = [e for e in view["timeline"] if e["stage"] == "received" and e["event_id"] == event_id]
    if payment["version"] != tour.stripe_version or len(stored) != 1:
        raise StepFailed(
            f"the second delivery changed the payment: version {tour.stripe_version} → "
            f"{payment['version']}, {event_id} stored {len(stored)} time(s)"
        )
    return (
        f"{event_id} delivered again: 200 accepted, the worker counted a duplicate, "
        f"payment still at version {payment['version']}, event stored once"
    )


def check_admin_events(tour: Tour) -> str:
    since = (tour.started - timedelta(minutes=1)).isoformat()
    response = tour.http.get(
        tour.stack.url("admin", "/admin/events"),
        params={"since": since, "limit": 500},
        headers=tour.stack.admin_headers,
    )
    _expect_status(response, 200, "GET /admin/events")
    listed = [event["event_id"] for event in _json(response.content)["events"]]
    found = {provider: listed.count(tour.event_id(provider)) for provider in Provider}
    if any(count != 1 for count in found.values()):
        raise StepFailed(f"expected each demo event listed once, got {found}")
    return "lists " + ", ".join(f"{tour.event_id(p)} ({p.value})" for p in Provider)


def check_metrics(tour: Tour) -> str:
    def risen() -> dict[Counter, float] | None:
        after = read_counters(tour)
        enough = all(after[c] - tour.before[c] >= c.increase for c in COUNTERS)
        return after if enough else None

    try:
        after = _poll(min(tour.timeout_seconds, 10.0), risen, "the counters")
    except StepFailed:
        after = read_counters(tour)
        raise StepFailed("a counter did not rise enough:\n" + _table(tour.before, after)) from None
    return "before → after:\n" + _table(tour.before, after)


STEPS: Final[tuple[tuple[str, Step], ...]] = (
    ("health", check_health),
    ("stripe webhook accepted", post_stripe),
    ("paypal webhook accepted", post_paypal),
    ("invalid signature rejected", post_bad_signature),
    ("events processed", check_processed),
    ("duplicate ignored", check_duplicate),
    ("admin lists the events", check_admin_events),
    ("counters incremented", check_metrics),
)


# --- metrics ------------------------------------------------------------------------


def metric_value(text: str, name: str, labels: Mapping[str, str]) -> float:
    """The sum of the samples of `name` whose labels include `labels` (0 when none)."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def read_counters(tour: Tour) -> dict[Counter, float]:
    pages = {
        component: _metrics_page(tour, component) for component in ("ingress", "worker", "sink")
    }
    return {c: metric_value(pages[c.component], c.name, c.labels) for c in COUNTERS}


def read_counter(tour: Tour, counter: Counter) -> float:
    return metric_value(_metrics_page(tour, counter.component), counter.name, counter.labels)


def _metrics_page(tour: Tour, component: Component) -> str:
    response = tour.http.get(tour.stack.url(component, "/metrics"))
    _expect_status(response, 200, f"{component} /metrics")
    return response.text


def _table(before: Mapping[Counter, float], after: Mapping[Counter, float]) -> str:
    width = max(len(str(c)) for c in COUNTERS)
    return "\n".join(
        f"  {c.component:<8}{c!s:<{width}}  {before[c]:g} → {after[c]:g}"
        f"  (+{after[c] - before[c]:g}, expected at least +{c.increase})"
        for c in COUNTERS
    )


# --- helpers ------------------------------------------------------------------------


def _signed(tour: Tour, provider: Provider, body: bytes) -> SignedRequest:
    stack = tour.stack
    url = webhook_url(stack.settings, provider)
    return sign_request(provider, body, stack.settings, stack.credentials, url)


def _post_accepted(tour: Tour, provider: Provider) -> str:
    signed = _signed(tour, provider, tour.body(provider))
    response = tour.http.post(signed.url, content=signed.body, headers=signed.headers)
    _expect_status(response, 200, f"a signed {provider.value} webhook")
    answer = _json(response.content)
    if answer.get("status") != "accepted":
        raise StepFailed(f"expected status accepted, got {answer}")
    return f"200 accepted {answer['event_id']} (payment {tour.payment(provider)})"


def _payment_view(tour: Tour, provider: Provider) -> dict[str, Any]:
    path = f"/admin/payments/{provider.value}/{tour.payment(provider)}"
    response = tour.http.get(tour.stack.url("admin", path), headers=tour.stack.admin_headers)
    if response.status_code == 404:
        return {"payment": None, "timeline": []}
    _expect_status(response, 200, f"GET {path}")
    return _json(response.content)


def _captured(tour: Tour, provider: Provider) -> dict[str, Any] | None:
    view = _payment_view(tour, provider)
    payment = view["payment"]
    return view if payment is not None and payment["status"] == "captured" else None


def _answers_by(http: httpx.Client, url: str, deadline: float) -> bool:
    """Whether `url` answers 200 by `deadline` (monotonic time)."""
    try:
        _poll(deadline - time.monotonic(), lambda: _answers(http, url), url)
    except StepFailed:
        return False
    return True


def _answers(http: httpx.Client, url: str) -> bool:
    try:
        return http.get(url).status_code == 200
    except httpx.TransportError:
        return False


def _poll(seconds: float, probe: Callable[[], Any], awaited: str) -> Any:
    """`probe()`'s first value other than None/False; StepFailed after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        if value := probe():
            return value
        if time.monotonic() > deadline:
            raise StepFailed(f"waited {seconds:g}s for {awaited}, in vain")
        time.sleep(POLL_SECONDS)


def _expect_status(response: httpx.Response, status: int, what: str) -> None:
    if response.status_code != status:
        raise StepFailed(f"{what}: expected {status}, got {response.status_code} {response.text}")


def _json(content: bytes) -> dict[str, Any]:
    try:
        value = json.loads(content)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise StepFailed(f"expected a JSON object, got {content[:200]!r}")
    return value


def _failure(error: Exception) -> str:
    return str(error) if isinstance(error, StepFailed) else f"{type(error).__name__}: {error}"
