"""Correlation ids: the caller's when sane, else generated."""

import pytest

from ingress.correlation import correlation_id_from


def test_the_callers_id_is_kept() -> None:
    assert correlation_id_from([(b"x-correlation-id", b"abc-1")]) == "abc-1"
    assert correlation_id_from([(b"x-request-id", b"req:2")]) == "req:2"


def test_x_correlation_id_wins_over_x_request_id() -> None:
    headers = [(b"x-request-id", b"req"), (b"x-correlation-id", b"corr")]
    assert correlation_id_from(headers) == "corr"


@pytest.mark.parametrize("value", [b"", b"a b", b"x\nforged log line", b"\xff", b"a" * 129])
def test_an_insane_id_is_replaced(value: bytes) -> None:
    generated = correlation_id_from([(b"x-correlation-id", value)])
    assert len(generated) == 32
    assert generated != correlation_id_from([(b"x-correlation-id", value)])
