"""The webhook POST as a bare ASGI app: the hot path of ingress.

Starlette's request/response machinery (the `Request` object, the exception-handling
wrappers, `JSONResponse` rendering its headers) costs CPU on every webhook, and a webhook
needs none of it: the body is read raw, every error is
answered here through `refusal`, and the answer is a small fixed JSON document. FastAPI
still documents the route (`ingress.app`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
from starlette.types import Receive, Scope, Send

from common.logging import correlation_id
from ingress.errors import ClientDisconnected
from ingress.intake import Intake
from ingress.observe import ObservedWebhook
from ingress.responses import refusal
from schemas.providers import Provider

_JSON_HEADER = (b"content-type", b"application/json")


class WebhookEndpoint:
    """`POST /webhooks/<provider>`: take the webhook (`Intake.receive`) and answer 200
    with `AcceptedBody`, or the refusal's status and error body. Expects
    `scope["app"].state.intake` (set by the app's lifespan) and runs inside
    `CorrelationIdMiddleware`, which sets the correlation id and echoes it."""

    def __init__(self, provider: Provider, retry_after_seconds: int) -> None:
        self._provider = provider
        self._retry_after_seconds = retry_after_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        correlation = correlation_id.get() or ""
        try:
            intake = _intake(scope)
            with ObservedWebhook(self._provider):
                headers = _header_map(scope["headers"])
                chunks = _body_chunks(receive)
                accepted = await intake.receive(self._provider, headers, chunks, correlation)
        except Exception as error:
            await refusal(error, self._retry_after_seconds)(scope, receive, send)
            return
        body = orjson.dumps(
            {
                "status": "accepted",
                "provider": self._provider.value,
                "event_id": accepted.webhook.event_id,
                "correlation_id": correlation,
            }
        )
        length = (b"content-length", str(len(body)).encode())
        await send(
            {"type": "http.response.start", "status": 200, "headers": [length, _JSON_HEADER]}
        )
        await send({"type": "http.response.body", "body": body})


def _header_map(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """Header names (lower case in ASGI) to values; the first of repeated headers wins, as
    with Starlette's `Headers.get`."""
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in reversed(raw)}


async def _body_chunks(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected("the client left before sending the whole body")
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return


def _intake(scope: Scope) -> Intake:
    intake = scope["app"].state.intake
    if not isinstance(intake, Intake):
        raise RuntimeError("the app's lifespan did not run")  # a wiring bug, not client input
    return intake
