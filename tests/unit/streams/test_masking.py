"""PII never reaches error headers or logs, and the text stays bounded."""

from __future__ import annotations

import pytest

from streams.masking import MAX_ERROR_MESSAGE_CHARS, error_message, mask_pii

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("contact jo.doe+x@example.co.uk now", "contact [email] now"),
        ("card 4242 4242 4242 4242 declined", "card [number] declined"),
        ("call +49 (30) 1234-5678", "call [number]"),
        ('{"name": "Jo Doe", "city": "Berlin"}', '{"name": [masked], "city": [masked]}'),
        ("payer_id=ABC123, amount=5", "payer_id=[masked], amount=5"),
        ("refunds of 1500 > 1000 captured", "refunds of 1500 > 1000 captured"),
        ("USD on a EUR payment", "USD on a EUR payment"),
    ],
)
def test_personal_data_is_masked_and_rules_stay_readable(text: str, masked: str) -> None:
    assert mask_pii(text) == masked


def test_an_error_message_is_masked_then_bounded() -> None:
    message = error_message(RuntimeError("x" * 2000 + " jo@example.com"))
    assert len(message) == MAX_ERROR_MESSAGE_CHARS
    assert message.endswith("…")
    assert error_message("short", limit=10) == "short"
