"""Masking of personal data in provider payloads before anyone sees them (dlq tool, logs).

Structural: the value of every field whose name says it holds personal data (emails,
names, addresses, phones, card details, payer info) is replaced, at any depth; ids,
amounts, currencies, statuses and event types stay readable, which is what an operator
needs to decide about a message.
"""

from __future__ import annotations

import re
from typing import Final

MASK: Final = "[masked]"

_PERSONAL: Final = re.compile(
    r"(?i)^(?:.*_)?(?:email(?:_address)?|name|given_name|surname|full_name|first_name|"
    r"last_name|phone(?:_number)?|national_number|address(?:_line_\d)?|line[12]|city|"
    r"postal_code|zip|state|country_code|admin_area_\d|billing_details|shipping|"
    r"shipping_details|customer_details|payer|payer_info|payer_id|payee|card|"
    r"payment_method_details|last4|fingerprint|exp_month|exp_year|cvc|iban|ip|ip_address|"
    r"receipt_email|description)$"
)


def is_personal(field_name: str) -> bool:
    return bool(_PERSONAL.match(field_name))


def mask_document(value: object) -> object:
    """A copy of a decoded JSON document with every personal field's value masked."""
    if isinstance(value, dict):
        return {
            key: MASK if is_personal(str(key)) and item is not None else mask_document(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [mask_document(item) for item in value]
    return value
