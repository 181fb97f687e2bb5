"""Masking of personal data and secrets before anyone sees them (dlq tool, error headers, logs).

One list of sensitive field names serves two kinds of input:

- documents (decoded JSON, log extras): the value of every field whose name says it holds
  personal data (emails, names, addresses, phones, card details, payer info) or a secret is
  replaced, at any depth (`mask_document`); ids, amounts, currencies, statuses and event
  types stay readable, which is what an operator needs to decide about a message;
- free text (error messages, log arguments): `field: value` / `field=value` pairs of those
  fields, email addresses, long digit runs (card, phone and account numbers) and known
  secret formats are replaced (`mask_text`).

A field name matches when it is one of the names below or ends in one after `_` or `-`
(`receipt_email`, `card_number`, `Stripe-Signature`).
"""

from __future__ import annotations

import json
import numbers
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import date, time, timedelta
from functools import lru_cache
from typing import Final

MASK: Final = "[masked]"

#: Fields that hold personal data, as regex alternatives.
PERSONAL_FIELDS: Final = (
    "email", "name", "given_name", "surname", "full_name", "first_name", "last_name",
    "phone", "number", "address", r"address_line_\d", "line[12]", "city", "postal_code",
    "zip", "state", "country_code", r"admin_area_\d", "billing_details", "shipping",
    "shipping_details", "customer_details", "payer", "payer_info", "payer_id", "payee",
    "card", "payment_method_details", "last4", "fingerprint", "exp_month", "exp_year",
    "cvc", "iban", "ip", "ip_address", "description",
)  # fmt: skip
#: Fields that hold credentials.
SECRET_FIELDS: Final = (
    "secret", "secrets", "password", "passwd", "token", "tokens", "api_key", "private_key",
    "authorization", "signature", "sig", "cookie",
)  # fmt: skip

_NAMES: Final = "|".join((*PERSONAL_FIELDS, *SECRET_FIELDS))
_SENSITIVE_FIELD: Final = re.compile(rf"(?i)^(?:.*[_-])?(?:{_NAMES})$")
#: (when the pattern can match at all — a cheap test, the pattern, its replacement)
_TEXT_SUBSTITUTIONS: Final[tuple[tuple[Callable[[str], bool], re.Pattern[str], str], ...]] = (
    # Stripe webhook secrets and API keys, bearer tokens.
    (
        lambda text: "_" in text or "earer" in text.lower(),
        re.compile(r"\bwhsec_\w+|\b[spr]k_(?:live|test)_\w+|(?i:\bbearer\s+[\w.~+/=-]+)"),
        "[secret]",
    ),
    # `"email": "a@b.c"`, `name='Jo Doe'`, `phone=+4930…`: the value goes, the field stays.
    (
        lambda text: ":" in text or "=" in text,
        re.compile(
            rf"(?i)([\"']?\b(?:[\w-]*[_-])?(?:{_NAMES})\b[\"']?\s*[:=]\s*)"
            r"(\"[^\"]*\"|'[^']*'|\[\w+\]|[^,;}\]\s]+)"
        ),
        rf"\1{MASK}",
    ),
    (lambda text: "@" in text, re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "[email]"),
    # Card, phone and account numbers: seven or more digits, separators allowed; not part of
    # an id (`WH-3911E70052…`) and not a date (`2025-11-25`).
    (
        lambda text: True,
        re.compile(r"(?<!\w)(?!\d{4}-\d\d-\d\d)\+?\d(?:[ ().-]{0,2}\d){6,}(?!\w)"),
        "[number]",
    ),
)
_DECODER: Final = json.JSONDecoder()

Leaf = Callable[[object], object]


@lru_cache(maxsize=1024)
def is_sensitive(field_name: str) -> bool:
    """True when the field's value is personal data or a secret."""
    return bool(_SENSITIVE_FIELD.match(field_name))


def mask_document(value: object, leaf: Leaf = lambda item: item) -> object:
    """A copy of a document (mappings and sequences) with every sensitive field's value
    masked; `leaf` maps the other scalar values (default: unchanged)."""
    if isinstance(value, Mapping):
        return {key: _masked_field(str(key), item, leaf) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [mask_document(item, leaf) for item in value]
    return leaf(value)


def mask_fields(fields: Mapping[str, object]) -> dict[str, object]:
    """Named values bound for a log line (extras, `%(name)s` arguments), masked as the
    fields of a document whose other values are masked by `mask_value`."""
    return {name: _masked_field(name, value, mask_value) for name, value in fields.items()}


def _masked_field(name: str, value: object, leaf: Leaf) -> object:
    return MASK if is_sensitive(name) and value is not None else mask_document(value, leaf)


def mask_text(text: str) -> str:
    """`text` with what looks like personal data or a secret replaced. JSON objects in it
    (a body quoted by an exception or an f-string) are masked as documents."""
    parts, index = [], 0
    for start, end, document in _json_objects(text):
        parts += [_mask_plain(text[index:start]), _dumps(mask_document(document, mask_value))]
        index = end
    return "".join([*parts, _mask_plain(text[index:])])


def mask_value(value: object) -> object:
    """Any value bound for a log line: documents structurally, with their strings masked as
    text; strings and bytes as text; other objects by their text. Numbers, booleans, times
    and None stay as they are (format specifiers and the JSON formatter rely on their
    types)."""
    if type(value) is str:  # the common case first: a log line carries mostly strings
        return mask_text(value)
    if value is None or isinstance(value, numbers.Number | date | time | timedelta):
        return value
    if isinstance(value, Mapping | list | tuple):
        return mask_document(value, mask_value)
    if isinstance(value, bytes | bytearray):
        return mask_text(value.decode("utf-8", errors="replace"))
    return mask_text(value if isinstance(value, str) else str(value))


@lru_cache(maxsize=4096)
def _mask_plain(text: str) -> str:
    # Every log line passes here several times: a pattern runs only when its cheap
    # precondition holds, and repeated strings (messages, event types) come from the cache.
    for applies, pattern, replacement in _TEXT_SUBSTITUTIONS:
        if applies(text):
            text = pattern.sub(replacement, text)
    return text


def _json_objects(text: str) -> Iterator[tuple[int, int, object]]:
    """(start, end, decoded) of each JSON object in `text`, left to right."""
    start = text.find("{")
    while start >= 0:
        try:
            document, end = _DECODER.raw_decode(text, start)
        except ValueError:
            start = text.find("{", start + 1)
            continue
        yield start, end, document
        start = text.find("{", end)


def _dumps(document: object) -> str:
    return json.dumps(document, ensure_ascii=False)
