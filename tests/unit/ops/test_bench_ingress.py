"""The benchmark's pure parts: request mix, wire format, statistics, report."""

import os
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from ingress.stripe_signature import verify_stripe_signature
from ops.bench.ingress import (
    STRIPE_SECRET,
    Load,
    RunResult,
    format_report,
    http_post,
    is_chosen,
    percentile,
    process_tree_cpu_seconds,
    signed_requests,
    take_response,
)


@pytest.mark.parametrize("share", [0.0, 0.25, 0.5, 1.0])
def test_the_paypal_share_is_exact(share: float) -> None:
    assert sum(is_chosen(index, share) for index in range(1000)) == 1000 * share


def test_http_post_is_a_complete_http_1_1_request() -> None:
    request = http_post("/webhooks/stripe", 8000, b"{}", {"Stripe-Signature": "t=1,v1=a"})
    head, body = request.split(b"\r\n\r\n")
    assert body == b"{}"
    assert head.split(b"\r\n") == [
        b"POST /webhooks/stripe HTTP/1.1",
        b"Host: 127.0.0.1:8000",
        b"Content-Type: application/json",
        b"Content-Length: 2",
        b"Stripe-Signature: t=1,v1=a",
    ]


def test_a_response_is_taken_once_whole_and_only_then() -> None:
    response = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 4\r\nx: y\r\n\r\nbusy"
    received = bytearray()
    for byte in response[:-1]:
        received.append(byte)
        assert take_response(received) is None
    received += response[-1:] + b"HTTP/1.1 200 OK"
    assert take_response(received) == 503
    assert received == b"HTTP/1.1 200 OK"  # the next response's start stays


def test_percentile_is_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 99), percentile(values, 100)) == (
        50.0,
        99.0,
        100.0,
    )
    assert percentile([], 99) == 0.0


def test_the_report_gives_the_ratio_to_the_baseline() -> None:
    ingress = RunResult("ingress", [0.01] * 100, 2, 1.0, Counter({200: 100, 503: 2}), 0.5, 0.051)
    baseline = RunResult("baseline", [0.001] * 400, 0, 1.0, Counter({200: 400}))
    report = format_report(ingress, baseline)
    assert "ingress / baseline throughput: 0.25" in report
    assert "{200: 100, 503: 2}" in report
    ingress_row, baseline_row = report.splitlines()[1:3]
    # the generators' share of one core, then the server's CPU per answered request
    assert ingress_row.split()[-3:] == ["50%", "500", "µs"]
    assert baseline_row.endswith("n/a")  # not measured


BUSY_CHILD = """
import sys, time
end = time.process_time() + 0.3
while time.process_time() < end:
    pass
print("busy done", flush=True)
sys.stdin.read()
"""


def test_the_server_cpu_counts_its_live_child_processes() -> None:
    with subprocess.Popen(  # nosec B603
        [sys.executable, "-c", BUSY_CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    ) as child:
        assert child.stdout is not None
        child.stdout.readline()
        tree = process_tree_cpu_seconds(os.getpid())
        own = time.process_time()
        child.kill()
    assert tree is not None
    assert tree - own >= 0.25


class _Clock:
    """Epoch seconds, moved by the test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _headers(request: bytes) -> dict[str, str]:
    head = request.split(b"\r\n\r\n", 1)[0].decode()
    return dict(line.split(": ", 1) for line in head.split("\r\n")[1:])


def _signed_at(request: bytes) -> float:
    headers = _headers(request)
    if "PAYPAL-TRANSMISSION-TIME" in headers:
        sent = datetime.strptime(headers["PAYPAL-TRANSMISSION-TIME"], "%Y-%m-%dT%H:%M:%SZ")
        return sent.replace(tzinfo=UTC).timestamp()
    return float(headers["Stripe-Signature"].split(",")[0].removeprefix("t="))


def test_a_long_runs_requests_are_signed_within_tolerance_of_their_sending() -> None:
    """A 31-minute run at 20/s, a connection taking each request as early as it can (its
    predecessor `connections` back is due) and sending it up to a minute late: every
    request is signed within the 300 s tolerance of when it goes out."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    load = Load(37_200, duration=1860, connections=64, workers=1, rate=20, paypal_share=0.01)
    start = 1_800_000_000.0
    clock = _Clock(start)
    interval = 1 / load.rate
    work = signed_requests(key, load, 0, 8000, clock)
    assert load.duration > load.presign_seconds
    kinds: Counter[bool] = Counter()
    for index in range(load.requests):
        due = start + index * interval
        clock.now = due - load.connections * interval
        taken, request = next(work)
        sent = due + index % 61  # up to a minute behind the schedule
        assert taken == index
        assert 0 <= sent - _signed_at(request) < 300, index
        kinds[b"PAYPAL-" in request] += 1
        if b"Stripe-Signature" in request and index % 1000 == 0:
            body = request.split(b"\r\n\r\n", 1)[1]
            header = _headers(request)["Stripe-Signature"]
            verify_stripe_signature(body, header, [STRIPE_SECRET], 300, sent)
    assert kinds[True] == 372
    assert next(work, None) is None


def test_a_short_run_is_signed_before_its_clock_starts() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    load = Load(1000, duration=60, connections=8, workers=2, rate=0, presign_seconds=60)
    clock = _Clock(1_800_000_000.0)

    work = signed_requests(key, load, 1, 8000, clock)
    clock.now += 60

    taken = list(work)
    assert [index for index, _ in taken] == list(range(500))
    assert {_signed_at(request) for _, request in taken} == {1_800_000_000.0}
    assert b'"id": "evt_bench500"' in taken[0][1]  # the second worker's half
