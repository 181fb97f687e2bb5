"""The Kafka key of a webhook, computed statelessly from its decoded body (docs/design.md).

Runs in ingress for every request, so it reads the raw JSON with a few dictionary
look-ups instead of validating models, and it never raises on odd-but-JSON input except
`PayloadError` when the event id or type is missing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Final, NoReturn

import orjson

from schemas.providers import PayloadError, Provider, paypal_resource_kind

_TYPE_FIELD: Final = {Provider.STRIPE: "type", Provider.PAYPAL: "event_type"}


def load_payload(body: bytes) -> Mapping[str, object]:
    """Decode a raw body; only a JSON object is a webhook. Accepts exactly what `json.loads`
    accepts, except NaN and Infinity."""
    try:
        # orjson decodes a webhook faster, and every document it accepts
        # `json.loads` accepts too; the bodies it refuses (a BOM, UTF-16, a lone surrogate
        # escape, an overflowing number) take the standard library's way, so what ingress
        # accepts does not depend on the decoder.
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        value = _load_with_stdlib(body)
    return _as_object(value)


def _load_with_stdlib(body: bytes) -> object:
    try:
        # json.loads with any option builds a new decoder per call; one serves them all.
        return _DECODER.decode(body.decode(json.detect_encoding(body), "surrogatepass"))
    except (ValueError, RecursionError) as exc:
        raise PayloadError("payload_not_json", "the body is not valid UTF-8 JSON") from exc


def event_identity(provider: Provider, payload: object) -> tuple[str, str]:
    """`(event_id, event_type)` of a decoded body."""
    body = _as_object(payload)
    event_id = _text(body.get("id"))
    if event_id is None:
        raise PayloadError("event_id_missing", "`id` must be a non-empty string")
    type_field = _TYPE_FIELD[provider]
    event_type = _text(body.get(type_field))
    if event_type is None:
        raise PayloadError("event_type_missing", f"`{type_field}` must be a non-empty string")
    return event_id, event_type


def payment_id(provider: Provider, payload: object) -> str | None:
    """The id every event of one payment shares, None when the body does not name one."""
    if provider is Provider.STRIPE:
        return _stripe_payment_id(_get(payload, "data", "object"))
    return _paypal_payment_id(_text(_get(payload, "event_type")), _get(payload, "resource"))


def payment_key(provider: Provider, payment_id: str) -> str:
    return f"{provider.value}:{payment_id}"


def routing_key(provider: Provider, payload: object) -> str:
    """`provider:payment_id`, else `provider:event_id`."""
    event_id, _ = event_identity(provider, payload)
    return payment_key(provider, payment_id(provider, payload) or event_id)


def _stripe_payment_id(obj: object) -> str | None:
    kind = _text(_get(obj, "object"))
    if kind == "payment_intent":
        return _text(_get(obj, "id"))
    intent = _text(_get(obj, "payment_intent"))
    if intent is not None:
        return intent
    # Legacy Charges API: no PaymentIntent, the charge is the payment. Its refunds and
    # disputes name it in `charge`, so they land on the charge's key.
    return _text(_get(obj, "id" if kind == "charge" else "charge"))


def _paypal_payment_id(event_type: str | None, resource: object) -> str | None:
    match paypal_resource_kind(event_type or ""):
        case "capture" | "order":
            return _text(_get(resource, "id"))
        case "refund":
            return _up_capture_id(_get(resource, "links"))
        case "dispute":
            return _text(_get(resource, "disputed_transactions", 0, "seller_transaction_id"))
        case None:
            return None


def _up_capture_id(links: object) -> str | None:
    """The capture id at the end of the refund's `up` link (`…/v2/payments/captures/{id}`)."""
    for link in links if isinstance(links, list) else ():
        href = _text(_get(link, "href"))
        if href is not None and _get(link, "rel") == "up":
            segments = href.split("?", 1)[0].rstrip("/").split("/")
            return _text(segments[-1]) if segments[-2:-1] == ["captures"] else None
    return None


def _get(value: object, *path: str | int) -> object:
    """Walk `path` through nested objects and arrays; None where it leads nowhere."""
    for step in path:
        if isinstance(step, str) and isinstance(value, Mapping):
            value = value.get(step)
        elif isinstance(step, int) and isinstance(value, list) and step < len(value):
            value = value[step]
        else:
            return None
    return value


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _as_object(value: object) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise PayloadError("payload_not_object", "the body must be a JSON object")
    return value


def _reject_constant(name: str) -> NoReturn:
    # json accepts NaN and Infinity, which are not JSON and no provider sends.
    raise ValueError(f"{name} is not JSON")


_DECODER: Final = json.JSONDecoder(parse_constant=_reject_constant)
