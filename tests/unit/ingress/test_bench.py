"""The benchmark's pure parts: request mix, wire format, statistics, report."""

from collections import Counter

import pytest

from ingress.bench import RunResult, format_report, http_post, is_chosen, percentile

pytestmark = pytest.mark.unit


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


def test_percentile_is_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 99), percentile(values, 100)) == (
        50.0,
        99.0,
        100.0,
    )
    assert percentile([], 99) == 0.0


def test_the_report_gives_the_ratio_to_the_baseline() -> None:
    ingress = RunResult("ingress", [0.01] * 100, 2, 1.0, Counter({200: 100, 503: 2}), 0.5)
    baseline = RunResult("baseline", [0.001] * 400, 0, 1.0, Counter({200: 400}))
    report = format_report(ingress, baseline)
    assert "ingress / baseline throughput: 0.25" in report
    assert "{200: 100, 503: 2}" in report
    assert report.splitlines()[1].endswith("50%")  # the generator's share of one core
