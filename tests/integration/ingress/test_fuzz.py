"""Whatever a client sends, ingress answers no 5xx, and every answer is one openapi.json
documents for that route: a declared status with a body matching its declared schema."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

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
from tests.support.ports import free_port
from tests.support.webhook_fuzz import (
    OPENAPI,
    requests,
)

MODELS: dict[str, type[BaseModel]] = {"AcceptedBody": AcceptedBody, "ErrorBody": ErrorBody}


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
