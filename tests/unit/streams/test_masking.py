"""PII never reaches error headers or logs, and the text stays bounded."""

from __future__ import annotations

from streams.masking import MAX_ERROR_MESSAGE_CHARS, error_message


def test_an_error_message_is_masked_then_bounded() -> None:
    message = error_message(RuntimeError("x" * 2000 + " jo@example.com"))
    assert len(message) == MAX_ERROR_MESSAGE_CHARS
    assert message.endswith("…")
    assert error_message("short", limit=10) == "short"
    assert error_message(ValueError("card 4242 4242 4242 4242 declined")) == (
        "card [number] declined"
    )
