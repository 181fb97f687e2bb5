"""The `payment-events` record: one per webhook event the worker accepted, versioned.

Consumers must ignore fields they do not know: fields are only ever added, optional.
`breaking_changes()` holds the line against the schema committed next to this module.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Context, Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, NonNegativeInt

from schemas.mapping import Effect, PaymentStatus
from schemas.providers import CurrencyCode, PayloadError, Provider

#: 2: `captured_amount` is null while no event has reported the capture (a refund or a
#: dispute can arrive first). Version 1 records are read as they are.
SCHEMA_VERSION: Final = 2
PAYMENT_EVENT_SCHEMA_PATH: Final = Path(__file__).with_name("payment_event.schema.json")

#: ISO 4217 minor-unit exponents other than the usual 2.
CURRENCY_EXPONENTS: Final = MappingProxyType(
    {
        **dict.fromkeys(
            (
                "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW",
                "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF",
            ),
            0,
        ),
        **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
        **dict.fromkeys(("CLF", "UYW"), 4),
    }
)  # fmt: skip

# PayPal's amount `value`: at most 32 characters, no sign, no exponent.
_DECIMAL_AMOUNT: Final = re.compile(r"[0-9]+(?:\.[0-9]+)?")
# Wide enough that scaling a 32-digit value by 10**4 never rounds.
_EXACT: Final = Context(prec=40)


def currency_exponent(currency: str) -> int:
    return CURRENCY_EXPONENTS.get(currency, 2)


def to_minor_units(value: str, currency: str) -> int:
    """A provider's decimal amount string as an integer count of the currency's minor unit."""
    if len(value) > 32 or not _DECIMAL_AMOUNT.fullmatch(value):
        raise PayloadError("amount_invalid", "an amount must be a plain non-negative decimal")
    minor = _EXACT.scaleb(Decimal(value), currency_exponent(currency))
    if minor != minor.to_integral_value():
        raise PayloadError("amount_invalid", f"an amount has more decimals than {currency} has")
    return int(minor)


class PaymentEvent(BaseModel):
    """What one accepted webhook event did to its payment.

    Amounts are integer minor units of `currency` (ISO 4217 exponent: JPY 0, BHD 3).
    `captured_amount`, `refunded_amount` and `status` are the payment's totals after the
    event (`captured_amount` null until an event reports the capture); `refund_amount` and
    `dispute_amount` are this event's own. `outcome` is "stale" when the payment already
    reflected newer events and this one changed nothing.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    schema_version: Literal[1, 2] = SCHEMA_VERSION
    provider: Provider
    event_id: str
    event_type: str
    payment_id: str
    payment_key: str
    effect: Effect
    target_status: PaymentStatus | None = None
    previous_status: PaymentStatus | None = None
    status: PaymentStatus
    outcome: Literal["applied", "stale"]
    version: NonNegativeInt
    currency: CurrencyCode | None = None
    amount: NonNegativeInt | None = None
    captured_amount: NonNegativeInt | None
    refunded_amount: NonNegativeInt
    refund_amount: NonNegativeInt | None = None
    dispute_amount: NonNegativeInt | None = None
    occurred_at: AwareDatetime
    received_at: AwareDatetime
    correlation_id: str
    order_id: str | None = None
    charge_id: str | None = None
    refund_id: str | None = None
    dispute_id: str | None = None
    #: The payment's newest event by provider time after this one: what `payments` shows
    #: as its last event, whatever order the events arrived in.
    last_event_id: str | None = None
    last_event_at: AwareDatetime | None = None


def payment_event_json_schema() -> dict[str, Any]:
    """The JSON Schema committed at `PAYMENT_EVENT_SCHEMA_PATH`."""
    return PaymentEvent.model_json_schema()


# Keys that document a schema without constraining what it accepts.
_ANNOTATIONS: Final = frozenset({"title", "description", "examples", "default"})


def breaking_changes(committed: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """Why records written under one schema could fail under the other; empty if none.

    Breaking: a field removed or renamed, a field's accepted values changed in any way
    (type, format, enum members), a field newly required. Adding optional fields is fine.
    """
    old_fields, new_fields = committed.get("properties", {}), current.get("properties", {})
    problems = [
        f"{name}: removed or renamed" if name not in new_fields else f"{name}: type changed"
        for name, old in old_fields.items()
        if name not in new_fields or _shape(old, committed) != _shape(new_fields[name], current)
    ]
    newly_required = set(current.get("required", ())) - set(committed.get("required", ()))
    problems += [f"{name}: now required" for name in sorted(newly_required)]
    return problems


def _shape(node: object, root: Mapping[str, Any]) -> object:
    """`node` with `$ref`s inlined and annotations dropped (the schema is not recursive)."""
    if isinstance(node, Mapping):
        ref = node.get("$ref")
        if isinstance(ref, str):
            return _shape(root["$defs"][ref.removeprefix("#/$defs/")], root)
        return {key: _shape(value, root) for key, value in node.items() if key not in _ANNOTATIONS}
    if isinstance(node, list):
        return [_shape(item, root) for item in node]
    return node
