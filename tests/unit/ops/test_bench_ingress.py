"""The benchmark's pure parts: request mix, wire format, statistics, report."""

import os
import subprocess
import sys
import time
from collections import Counter

import pytest

from ops.bench.ingress import (
    RunResult,
    format_report,
    http_post,
    is_chosen,
    percentile,
    process_tree_cpu_seconds,
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
