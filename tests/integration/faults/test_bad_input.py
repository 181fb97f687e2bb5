"""Bad input against the real ingress (`payments ingress`: uvicorn, httptools) on the real
broker: no 5xx, every answer one openapi.json documents, and nothing reaches raw-webhooks
but what was accepted.

`tests/integration/ingress/test_fuzz.py` fuzzes the webhook routes in-process; here its
request strategy runs against the served app and is checked against the topic, every other
operation of openapi.json is fuzzed from its declared parameters, and hand-written hostile
requests go in at the HTTP level: huge headers, truncated and mis-framed bodies, wrong
content types, replayed signatures, forged PayPal certificate URLs.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import httpx
import hypothesis
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from pydantic import BaseModel

from common.kafka import header_map
from ingress.responses import AcceptedBody, ErrorBody
from ops.local_pki import paypal_headers
from schemas import headers as h
from tests.support.fault_stack import ADMIN_TOKEN, MakeStack, Stack
from tests.support.ingress import (
    PAYPAL_WEBHOOK_ID,
    paypal_body,
    signed_paypal_headers,
    stripe_body,
    stripe_headers,
    topic_records,
)
from tests.support.webhook_fuzz import OPENAPI, bodies, content_types, header_values
from tests.support.webhook_fuzz import requests as webhook_requests

MODELS: dict[str, type[BaseModel]] = {model.__name__: model for model in (AcceptedBody, ErrorBody)}
STRIPE, PAYPAL = "/webhooks/stripe", "/webhooks/paypal"
OPERATIONS = sorted((method, path) for path, ops in OPENAPI["paths"].items() for method in ops)
FUZZ_SETTINGS = hypothesis.settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)
Answers = Counter[tuple[str, str]]  # (provider, event id) → 2xx answers


def checked(method: str, path: str, response: httpx.Response, accepted: Answers) -> None:
    """The answer is documented for the operation, with a body of its declared schema; an
    accepted webhook is counted."""
    declared = OPENAPI["paths"][path][method]["responses"]
    status = str(response.status_code)
    assert response.status_code < 500, response.text
    if response.is_redirect:  # the router's trailing-slash redirect ("…/pi_1%2F"): no answer
        return
    assert status in declared, f"{method} {path}: {status} is not documented: {response.text}"
    schema = declared[status].get("content", {}).get("application/json", {}).get("schema", {})
    if "$ref" in schema:
        model = MODELS[schema["$ref"].rsplit("/", 1)[-1]]
        body = model.model_validate_json(response.content, strict=False)
        if isinstance(body, AcceptedBody):
            accepted[body.provider, body.event_id] += 1


def assert_only_accepted_produced(stack: Stack, accepted: Answers) -> None:
    records = topic_records(stack.settings, stack.settings.topics.raw_webhooks)
    produced = Counter(
        (headers[h.PROVIDER], headers[h.EVENT_ID])
        for headers in (header_map(record.headers()) for record in records)
    )
    warm_up = {(w.provider.value, w.event_id) for story in stack.told for w in story.webhooks}
    assert produced - Counter(warm_up) == accepted


# --- fuzzing from openapi.json ----------------------------------------------------------------


#: Any text a URL can carry (NUL and other controls included), numbers at and past the
#: edges of the integer types, times at the edges of the calendar in far-off time zones.
junk_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)
edge_integers = st.sampled_from([-1, 0, 1, 2**31, 2**63 - 1, 2**63, 2**64, 10**30])
far_zones = st.sampled_from([UTC, timezone(timedelta(hours=14)), timezone(-timedelta(hours=14))])
moments = st.datetimes(timezones=far_zones).map(datetime.isoformat)


def values_of(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values the schema allows, and some it does not."""
    if "$ref" in schema:
        enum = OPENAPI["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]["enum"]
        return st.sampled_from(enum) | junk_text
    if "anyOf" in schema:
        return st.one_of(*map(values_of, schema["anyOf"]))
    match schema.get("type"), schema.get("format"):
        case "null", _:
            return st.none()
        case "string", "date-time":
            return moments | junk_text
        case "integer", _:
            return st.integers() | edge_integers | junk_text
        case _:
            return junk_text


@dataclass(frozen=True)
class ApiCall:
    method: str
    path: str  # as documented: /admin/payments/{provider}/{payment_id}
    url: str
    params: dict[str, Any]
    headers: dict[str, str]
    content: bytes | None

    def send(self, http: httpx.Client) -> httpx.Response:
        return http.request(
            self.method, self.url, params=self.params, headers=self.headers, content=self.content
        )


@st.composite
def api_calls(draw: st.DrawFn) -> ApiCall:
    """A call of any operation, its parameters drawn from their schemas, the admin token
    right, wrong or missing."""
    method, path = draw(st.sampled_from(OPERATIONS))
    operation = OPENAPI["paths"][path][method]
    url, params, headers = path, {}, {}
    for parameter in operation.get("parameters", []):
        name, where = parameter["name"], parameter["in"]
        if where == "header":
            headers[name] = draw(st.sampled_from([f"Bearer {ADMIN_TOKEN}"]) | header_values)
        elif where == "path":
            value = draw(values_of(parameter["schema"]).filter(lambda v: v not in (None, "")))
            url = url.replace(f"{{{name}}}", quote(str(value), safe=""))
        elif (value := draw(values_of(parameter["schema"]))) is not None:
            params[name] = value
    content = draw(bodies) if "requestBody" in operation else None
    if content is not None:
        headers["Content-Type"] = draw(content_types)
    return ApiCall(method, path, url, params, headers, content)


async def test_fuzzing_every_documented_operation(make_stack: MakeStack) -> None:
    stack = await make_stack()
    accepted: Answers = Counter()

    def fuzz() -> None:
        with httpx.Client(base_url=stack.ingress_url, timeout=10) as http:

            @FUZZ_SETTINGS
            @given(call=api_calls())
            def operations(call: ApiCall) -> None:
                checked(call.method, call.path, call.send(http), accepted)

            @FUZZ_SETTINGS
            @given(data=st.data())
            def webhooks(data: st.DataObject) -> None:
                path, body, headers = data.draw(webhook_requests(stack.pki))
                response = http.post(path, content=body, headers=headers)
                checked("post", path, response, accepted)

            operations()
            webhooks()

    await asyncio.to_thread(fuzz)

    assert_only_accepted_produced(stack, accepted)


# --- hostile requests, hand-written -----------------------------------------------------------


def raw_request(path: str, head: list[str], body: bytes = b"") -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: ingress", *head]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def exchange(url: str, request: bytes, *, hold_seconds: float = 0.0) -> str:
    """Send raw bytes, half-close (after `hold_seconds` with the connection open), and return
    the answer's status line ('' when the server closed without one)."""
    port = int(url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        await asyncio.sleep(hold_seconds)
        if writer.can_write_eof():
            writer.write_eof()
        answer = await asyncio.wait_for(reader.read(65536), timeout=15)
    except ConnectionError:
        return ""
    finally:
        writer.close()
    return answer.split(b"\r\n", 1)[0].decode(errors="replace")


def headers_of(body: bytes, **changes: str) -> list[str]:
    """Header lines of a genuinely signed Stripe request for `body`, with `changes`."""
    signed = stripe_headers(body) | {"Content-Length": str(len(body))} | changes
    return [f"{name}: {value}" for name, value in signed.items() if value]


def framing_attacks() -> Iterator[tuple[str, bytes, float]]:
    """(name, raw request, seconds to hold the connection open before half-closing). None
    is a genuine webhook: each is badly framed, unsigned or signed for another body."""
    body, path = stripe_body(), STRIPE
    unsigned = headers_of(body, **{"Stripe-Signature": ""})
    forged = stripe_headers(stripe_body())["Stripe-Signature"]
    chunked = headers_of(body, **{"Content-Length": "", "Transfer-Encoding": "chunked"})
    cases = {
        "a 1 MB signature header": headers_of(body, **{"Stripe-Signature": "v1=" + "a" * 2**20}),
        "5,000 signatures, none right": headers_of(
            body, **{"Stripe-Signature": forged + ",v1=00" * 5000}
        ),
        "4,000 headers": [*unsigned, *(f"X-Pad-{n}: {'x' * 20}" for n in range(4000))],
        "a negative length": headers_of(body, **{"Content-Length": "-1"}),
        "two lengths": [*headers_of(body), "Content-Length: 3"],
    }
    for name, head in cases.items():
        yield name, raw_request(path, head, body), 0.0
    yield "a body cut short, then EOF", raw_request(path, headers_of(body), body[:40]), 0.0
    yield "a body cut short, held open", raw_request(path, headers_of(body), body[:40]), 3.0
    bad_size = b"zz\r\n" + body + b"\r\n0\r\n\r\n"
    yield "a chunk size that is no number", raw_request(path, chunked, bad_size), 0.0
    overlong = b"5\r\n" + body + b"\r\n0\r\n\r\n"
    yield "a chunk longer than it says", raw_request(path, chunked, overlong), 0.0


async def test_hostile_http_is_refused_without_a_5xx(make_stack: MakeStack) -> None:
    stack = await make_stack()
    answers = {
        name: await exchange(stack.ingress_url, request, hold_seconds=hold)
        for name, request, hold in framing_attacks()
    }

    for name, status_line in answers.items():
        # no answer at all (the connection closed) is a refusal too
        assert status_line == "" or status_line.split()[1][0] == "4", (name, status_line)
    assert_only_accepted_produced(stack, Counter())
    assert stack.crashes == []


FORGED_CERT_URLS = (
    "http://api.paypal.com/v1/notifications/certs/CERT-integration",
    "https://api.paypal.com.evil.example/v1/notifications/certs/CERT-integration",
    "https://evil.example/v1/notifications/certs/CERT-integration?host=api.paypal.com",
    "https://api.paypal.com@evil.example/v1/notifications/certs/CERT-integration",
    "https://api.paypal.com:8443/v1/notifications/certs/CERT-integration",
    "https://127.0.0.1/v1/notifications/certs/CERT-integration",
    "https://localhost/v1/notifications/certs/CERT-integration",
    "file:///etc/passwd",
    "https://api.xn--pypal-4ve.com/v1/notifications/certs/CERT-integration",  # a Cyrillic a
    "//api.paypal.com/v1/notifications/certs/CERT-integration",
    "https://" + "a" * 5000 + ".paypal.com/cert",
)
CONTENT_TYPES = (
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/json; charset=latin-1",
    "application/jsonp",
    "",
)


def refusals(stack: Stack) -> Iterator[tuple[str, str, bytes, dict[str, str], str]]:
    """(name, path, body, headers, the expected error code): well-formed HTTP, each request
    refused for one reason only."""
    body = stripe_body()
    for content_type in CONTENT_TYPES:
        headers = stripe_headers(body) | {"Content-Type": content_type}
        yield f"Content-Type {content_type!r}", STRIPE, body, headers, "unsupported_media_type"
    other = stripe_headers(stripe_body())
    yield "a Stripe signature of another body", STRIPE, body, other, "signature_invalid"
    late = stripe_headers(body, age=600)
    yield "a Stripe signature replayed 10 min on", STRIPE, body, late, "timestamp_out_of_tolerance"

    body = paypal_body()
    genuine = signed_paypal_headers(stack.pki, body)
    stolen = signed_paypal_headers(stack.pki, paypal_body(), genuine["PAYPAL-TRANSMISSION-ID"])
    yield "a PayPal signature of another body", PAYPAL, body, stolen, "signature_invalid"
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    cert_url = genuine["PAYPAL-CERT-URL"]
    old = paypal_headers(stack.pki.leaf_key, body, PAYPAL_WEBHOOK_ID, "tx", an_hour_ago, cert_url)
    old["Content-Type"] = "application/json"
    yield "a PayPal transmission an hour old", PAYPAL, body, old, "timestamp_out_of_tolerance"
    for forged in FORGED_CERT_URLS:
        headers = signed_paypal_headers(stack.pki, body) | {"PAYPAL-CERT-URL": forged}
        yield f"cert URL {forged[:70]}", PAYPAL, body, headers, "cert_url_invalid"


async def test_hostile_requests_are_refused_with_their_code(make_stack: MakeStack) -> None:
    stack = await make_stack()
    wrong: list[str] = []
    async with httpx.AsyncClient(base_url=stack.ingress_url, timeout=10) as http:
        for name, path, body, headers, code in refusals(stack):
            response = await http.post(path, content=body, headers=headers)
            answer = response.json().get("error", {}).get("code") if response.content else None
            if response.status_code >= 500 or answer != code:
                wrong.append(f"{name}: {response.status_code} {answer}, want {code}")

    assert wrong == []
    assert_only_accepted_produced(stack, Counter())
