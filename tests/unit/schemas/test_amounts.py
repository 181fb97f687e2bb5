"""Decimal amount strings to integer minor units, per the currency's ISO 4217 exponent."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.events import currency_exponent, to_minor_units
from schemas.providers import PayloadError


@pytest.mark.parametrize(
    ("value", "currency", "minor"),
    [
        ("45.99", "USD", 4599),
        ("45.9", "USD", 4590),
        ("0.10", "EUR", 10),
        ("1.50", "USD", 150),
        ("500", "JPY", 500),
        ("500.00", "JPY", 500),
        ("12000", "KRW", 12000),
        ("1.234", "BHD", 1234),
        ("10", "KWD", 10000),
        ("1.230", "BHD", 1230),
        ("1.2345", "CLF", 12345),
        ("0", "USD", 0),
        ("99999999999999999999999999999.99", "USD", 9999999999999999999999999999999),
    ],
)
def test_amount_strings_become_exact_minor_units(value: str, currency: str, minor: int) -> None:
    assert to_minor_units(value, currency) == minor


@pytest.mark.parametrize(
    ("value", "currency"),
    [
        ("1.5", "JPY"),
        ("45.999", "USD"),
        ("1.2345", "BHD"),
        ("-1.00", "USD"),
        ("1e3", "USD"),
        ("NaN", "USD"),
        ("Infinity", "USD"),
        (" 1.00", "USD"),
        ("1.", "USD"),
        (".5", "USD"),
        ("1,00", "EUR"),
        ("\u0661\u0660", "USD"),  # Arabic-Indic digits, which Decimal() accepts
        ("1" * 33, "USD"),
    ],
)
def test_amounts_that_are_not_exact_in_the_currency_are_refused(value: str, currency: str) -> None:
    with pytest.raises(PayloadError) as caught:
        to_minor_units(value, currency)
    assert caught.value.code == "amount_invalid"


@given(
    minor=st.integers(min_value=0, max_value=10**20),
    currency=st.sampled_from(["JPY", "KRW", "USD", "EUR", "BHD", "KWD", "TND", "CLF"]),
)
def test_minor_units_round_trip_through_the_decimal_string(minor: int, currency: str) -> None:
    exponent = currency_exponent(currency)
    whole, fraction = divmod(minor, 10**exponent)
    value = f"{whole}.{fraction:0{exponent}d}" if exponent else str(whole)
    assert to_minor_units(value, currency) == minor
