"""Hypothesis strategies for webhook requests: bodies, header values, content types,
signed and unsigned Stripe and PayPal requests; and the ingress API description they are
checked against."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import strategies as st

from ops.local_pki import Pki
from tests.support.ingress import signed_paypal_headers, stripe_headers

OPENAPI = json.loads((Path(__file__).resolve().parents[2] / "openapi.json").read_text())


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)


ids = st.one_of(st.text(max_size=20), json_values)


events = st.fixed_dictionaries(
    {},
    optional={
        "id": ids,
        "type": ids,
        "event_type": ids,
        "data": st.fixed_dictionaries(
            {},
            optional={"object": st.dictionaries(st.sampled_from(["id", "object"]), ids)},
        ),
        "resource": st.dictionaries(st.sampled_from(["id", "links"]), json_values),
    },
)


bodies = st.one_of(
    events.map(lambda event: json.dumps(event).encode()),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=300),
)


# What an HTTP parser lets through to the app: printable ASCII (the server itself answers
# anything else with its own 400, before the app sees the request).
header_values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40).map(
    str.strip
)


content_types = (
    st.sampled_from(
        ["application/json", "application/json; charset=utf-8", "application/json; charset=latin-1"]
    )
    | header_values
)


PAYPAL_HEADERS = [
    "PAYPAL-TRANSMISSION-ID",
    "PAYPAL-TRANSMISSION-TIME",
    "PAYPAL-TRANSMISSION-SIG",
    "PAYPAL-CERT-URL",
    "PAYPAL-AUTH-ALGO",
]


@st.composite
def requests(draw: st.DrawFn, pki: Pki) -> tuple[str, bytes, dict[str, str]]:
    provider = draw(st.sampled_from(["stripe", "paypal"]))
    body = draw(bodies)
    signed = draw(st.booleans())
    if provider == "stripe":
        headers = stripe_headers(body) if signed else {"Stripe-Signature": draw(header_values)}
    else:
        headers = signed_paypal_headers(pki, body) if signed else {}
        headers.update(draw(st.dictionaries(st.sampled_from(PAYPAL_HEADERS), header_values)))
    headers["Content-Type"] = draw(content_types)
    return f"/webhooks/{provider}", body, headers
