"""PII masking for text that leaves the worker in headers and logs (`error-message`).

Error texts are meant to name rules and fields only, but an exception from a library can
quote input. What looks like personal data is replaced before the text is bounded.
"""

from __future__ import annotations

import re
from typing import Final

MAX_ERROR_MESSAGE_CHARS: Final = 512

_PERSONAL_FIELDS: Final = (
    "name|given_name|surname|full_name|first_name|last_name|email|email_address|phone|"
    "phone_number|address|address_line_1|address_line_2|line1|line2|city|postal_code|"
    "payer|payer_id|billing_details|shipping|card|number|cvc|exp_month|exp_year"
)
_SUBSTITUTIONS: Final = (
    # `"email": "a@b.c"`, `name='Jo Doe'`, `phone=+4930…`: the value goes, the field stays.
    (
        re.compile(
            rf"(?i)([\"']?\b(?:{_PERSONAL_FIELDS})\b[\"']?\s*[:=]\s*)"
            r"(\"[^\"]*\"|'[^']*'|[^,;}\]\s]+)"
        ),
        r"\1[masked]",
    ),
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "[email]"),
    # Card, phone and account numbers: seven or more digits, separators allowed.
    (re.compile(r"\+?\d(?:[ ().-]{0,2}\d){6,}"), "[number]"),
)


def mask_pii(text: str) -> str:
    for pattern, replacement in _SUBSTITUTIONS:
        text = pattern.sub(replacement, text)
    return text


def error_message(error: BaseException | str, limit: int = MAX_ERROR_MESSAGE_CHARS) -> str:
    """The masked, bounded text of an error, fit for a header or a log line."""
    text = mask_pii(str(error))
    return text if len(text) <= limit else text[: limit - 1] + "…"
