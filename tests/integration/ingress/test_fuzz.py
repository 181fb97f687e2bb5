"""Whatever a client sends, ingress answers no 5xx, and every answer is one openapi.json
documents for that route: a declared status with a body matching its declared schema."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from common.settings import PipelineSettings
from ingress.app import create_app
from ingress.responses import AcceptedBody, ErrorBody
from ops.local_pki import Pki
from tests.integration.ingress.conftest import signed_paypal_headers, stripe_headers
from tests.support.ports import free_port

pytestmark = pytest.mark.integration

OPENAPI = json.loads((Path(__file__).resolve().parents[3] / "openapi.json").read_text())
MODELS: dict[str, type[BaseModel]] = {"AcceptedBody": AcceptedBody, "ErrorBody": ErrorBody}

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


def declared_model(path: str, response: httpx.Response) -> type[BaseModel]:
    declared = OPENAPI["paths"][path]["post"]["responses"]
    assert str(response.status_code) in declared, f"{response.status_code} is not documented"
    schema = declared[str(response.status_code)]["content"]["application/json"]["schema"]
    return MODELS[schema["$ref"].rsplit("/", 1)[-1]]


def check(path: str, response: httpx.Response) -> None:
    assert response.status_code < 500 or response.status_code == 503, response.text
    declared_model(path, response).model_validate_json(response.content, strict=False)
    if response.status_code == 503:
        assert response.headers["retry-after"].isdigit()


@pytest.fixture
def live_server(settings: PipelineSettings) -> Iterator[str]:
    """The app under uvicorn in a thread of its own: the test itself stays synchronous, as
    hypothesis wants."""
    port = free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_config=None)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@pytest.fixture
def http(live_server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server, timeout=10) as client:
        yield client


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_input_causes_a_5xx_or_an_undocumented_answer(
    http: httpx.Client, pki: Pki, data: st.DataObject
) -> None:
    path, body, headers = data.draw(requests(pki))
    response = http.post(path, content=body, headers=headers)
    check(path, response)
    assert response.status_code != 503, response.text  # the broker is up the whole time
