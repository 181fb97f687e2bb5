"""Routing keys: one partition per payment, computed from the raw JSON without models."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.providers import PayloadError, Provider
from schemas.routing import event_identity, load_payload, payment_id, routing_key


def _stripe(event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {"id": "evt_1", "type": event_type, "created": 1, "data": {"object": obj}}


def _paypal(event_type: str, resource: dict[str, Any]) -> dict[str, Any]:
    return {"id": "WH-1", "event_type": event_type, "resource": resource}


def _up(href: str) -> dict[str, Any]:
    return {"links": [{"rel": "self", "href": "https://x/refunds/R1"}, {"rel": "up", "href": href}]}


@pytest.mark.parametrize(
    ("payload", "key"),
    [
        (_stripe("payment_intent.succeeded", {"object": "payment_intent", "id": "pi_1"}), "pi_1"),
        (
            _stripe(
                "charge.refunded", {"object": "charge", "id": "ch_1", "payment_intent": "pi_1"}
            ),
            "pi_1",
        ),
        (_stripe("charge.succeeded", {"object": "charge", "id": "ch_1"}), "ch_1"),
        (_stripe("refund.created", {"object": "refund", "id": "re_1", "charge": "ch_1"}), "ch_1"),
        (
            _stripe("refund.created", {"object": "refund", "id": "re_1", "payment_intent": "pi_1"}),
            "pi_1",
        ),
        (
            _stripe("charge.dispute.created", {"object": "dispute", "payment_intent": "pi_1"}),
            "pi_1",
        ),
        (
            _stripe("checkout.session.completed", {"object": "checkout.session", "id": "cs_1"}),
            "evt_1",
        ),
        (
            _stripe(
                "checkout.session.completed",
                {"object": "checkout.session", "id": "cs_1", "payment_intent": "pi_1"},
            ),
            "pi_1",
        ),
    ],
)
def test_stripe_key_is_the_payment_intent_else_the_charge_else_the_event(
    payload: dict[str, Any], key: str
) -> None:
    assert routing_key(Provider.STRIPE, payload) == f"stripe:{key}"


@pytest.mark.parametrize(
    ("payload", "key"),
    [
        (_paypal("PAYMENT.CAPTURE.COMPLETED", {"id": "CAP1"}), "CAP1"),
        (_paypal("PAYMENT.CAPTURE.DENIED", {"id": "CAP1"}), "CAP1"),
        (
            _paypal("PAYMENT.CAPTURE.REFUNDED", _up("https://api/v2/payments/captures/CAP1")),
            "CAP1",
        ),
        (
            _paypal("PAYMENT.CAPTURE.REVERSED", _up("https://api/v2/payments/captures/CAP1/?x=1")),
            "CAP1",
        ),
        # An `up` link to something other than a capture names no payment.
        (_paypal("PAYMENT.CAPTURE.REFUNDED", _up("https://api/v2/checkout/orders/O1")), "WH-1"),
        (_paypal("PAYMENT.CAPTURE.REFUNDED", {"id": "R1"}), "WH-1"),
        (
            _paypal(
                "CUSTOMER.DISPUTE.RESOLVED",
                {"disputed_transactions": [{"seller_transaction_id": "CAP1"}]},
            ),
            "CAP1",
        ),
        (_paypal("CUSTOMER.DISPUTE.CREATED", {"disputed_transactions": []}), "WH-1"),
        (_paypal("CHECKOUT.ORDER.APPROVED", {"id": "ORDER1"}), "ORDER1"),
        (_paypal("BILLING.SUBSCRIPTION.CREATED", {"id": "I-1"}), "WH-1"),
    ],
)
def test_paypal_key_is_the_capture_or_order_else_the_event(
    payload: dict[str, Any], key: str
) -> None:
    assert routing_key(Provider.PAYPAL, payload) == f"paypal:{key}"


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ([], "payload_not_object"),
        ("evt", "payload_not_object"),
        ({}, "event_id_missing"),
        ({"id": "", "type": "x"}, "event_id_missing"),
        ({"id": 7, "type": "x"}, "event_id_missing"),
        ({"id": "evt_1"}, "event_type_missing"),
        ({"id": "evt_1", "type": ["x"]}, "event_type_missing"),
        ({"id": "evt_1", "event_type": "x"}, "event_type_missing"),
    ],
)
def test_missing_identity_is_a_payload_error_with_a_stable_code(payload: object, code: str) -> None:
    with pytest.raises(PayloadError) as caught:
        routing_key(Provider.STRIPE, payload)
    assert caught.value.code == code


def test_identity_reads_each_providers_type_field() -> None:
    assert event_identity(Provider.STRIPE, _stripe("charge.failed", {})) == (
        "evt_1",
        "charge.failed",
    )
    assert event_identity(Provider.PAYPAL, _paypal("X.Y", {})) == ("WH-1", "X.Y")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{", "payload_not_json"),
        (b"\xff\xfe", "payload_not_json"),
        (b'{"amount": NaN}', "payload_not_json"),
        (b"[" * 100_000, "payload_not_json"),
        (b"[1]", "payload_not_object"),
    ],
)
def test_load_payload_refuses_what_is_not_a_json_object(body: bytes, code: str) -> None:
    with pytest.raises(PayloadError) as caught:
        load_payload(body)
    assert caught.value.code == code


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=12,
)
_odd_envelopes = st.fixed_dictionaries(
    {"id": st.text(min_size=1), "type": st.text(min_size=1), "event_type": st.text(min_size=1)},
    optional={"data": _json, "resource": _json},
)


@given(provider=st.sampled_from(Provider), payload=_odd_envelopes)
def test_any_json_with_an_identity_routes_without_raising(
    provider: Provider, payload: dict[str, Any]
) -> None:
    key = routing_key(provider, json.loads(json.dumps(payload)))
    assert key.startswith(f"{provider.value}:")


@given(provider=st.sampled_from(Provider), payload=_json)
def test_payment_id_never_raises(provider: Provider, payload: object) -> None:
    found = payment_id(provider, payload)
    assert found is None or (isinstance(found, str) and found)


def _outcome(provider: Provider, load: Any, body: bytes) -> str:
    """The routing key a body gets, or the refusal's code."""
    try:
        return routing_key(provider, load(body))
    except PayloadError as error:
        return error.code


def _load_like_json_loads(body: bytes) -> object:
    def refuse(name: str) -> None:
        raise ValueError(name)

    try:
        value = json.loads(body, parse_constant=refuse)
    except (ValueError, RecursionError) as error:
        raise PayloadError("payload_not_json", "") from error
    if not isinstance(value, dict):
        raise PayloadError("payload_not_object", "")
    return value


_encodings = st.sampled_from(["utf-8", "utf-16", "utf-32", "utf-8-sig"])
_bodies = st.one_of(
    st.binary(max_size=40),
    st.tuples(_odd_envelopes | _json, _encodings, st.booleans()).map(
        lambda case: json.dumps(case[0], ensure_ascii=case[2]).encode(case[1])
    ),
    st.sampled_from(
        [b'{"id": "\\ud800", "type": "t"}', b'{"id": "e", "type": "t", "n": 1e400}', b"[" * 3000]
    ),
)


@given(provider=st.sampled_from(Provider), body=_bodies)
def test_load_payload_accepts_and_routes_as_json_loads_would(
    provider: Provider, body: bytes
) -> None:
    # The fast decoder must not change which webhooks ingress accepts, nor their keys.
    assert _outcome(provider, load_payload, body) == _outcome(provider, _load_like_json_loads, body)
