"""The ingress FastAPI application, built from settings by `create_app`."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect

from common.kafka import broker_reachable
from common.logging import correlation_id
from common.metrics import render_metrics
from common.settings import PipelineSettings
from ingress.body import JSON_MEDIA_TYPE
from ingress.correlation import CorrelationIdMiddleware
from ingress.errors import ClientDisconnected
from ingress.intake import Clock, Intake, open_intake
from ingress.observe import observe_webhook
from ingress.responses import WEBHOOK_RESPONSES, AcceptedBody, install_error_handlers
from schemas.providers import Provider

READY_TIMEOUT_SECONDS = 2.0
# The body is read raw (signatures cover the exact bytes), so it is documented by hand.
_RAW_JSON_BODY = {
    "requestBody": {
        "required": True,
        "content": {JSON_MEDIA_TYPE: {"schema": {"type": "object", "additionalProperties": True}}},
    }
}
_SIGNATURE_HEADERS = {
    Provider.STRIPE: "`Stripe-Signature: t=…,v1=…`",
    Provider.PAYPAL: "`PAYPAL-TRANSMISSION-ID`, `-TIME`, `-SIG`, `PAYPAL-CERT-URL`, "
    "`PAYPAL-AUTH-ALGO`",
}


def create_app(settings: PipelineSettings, clock: Clock = time.time) -> FastAPI:
    """The app; its lifespan opens the producer and the PayPal certificate client."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            app.state.intake = await open_intake(settings, stack, clock)
            yield

    app = FastAPI(title="payments-webhook-ingress", version="0.1.0", lifespan=lifespan)
    app.add_middleware(CorrelationIdMiddleware)
    install_error_handlers(app, settings.ingress_retry_after_seconds)
    for provider in Provider:
        _add_webhook_route(app, provider)

    @app.get("/health")
    async def health() -> dict[str, str]:
        """Liveness: the process serves requests."""
        return {"status": "ok"}

    @app.get("/ready", responses={503: {"description": "the broker is unreachable"}})
    async def ready() -> JSONResponse:
        """Readiness: a broker answers, so an accepted webhook can be made durable."""
        reachable = await asyncio.to_thread(broker_reachable, settings, READY_TIMEOUT_SECONDS)
        if reachable:
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "unavailable", "error": "broker_unreachable"}, 503)

    @app.get("/metrics")
    async def metrics() -> Response:
        body, content_type = render_metrics()
        return Response(body, media_type=content_type)

    return app


def _add_webhook_route(app: FastAPI, provider: Provider) -> None:
    app.add_api_route(
        f"/webhooks/{provider.value}",
        _webhook_endpoint(provider),
        methods=["POST"],
        name=f"{provider.value}_webhook",
        summary=f"Receive a {provider.value.capitalize()} webhook",
        description=(
            f"Verifies {_SIGNATURE_HEADERS[provider]} over the raw body, then produces the body "
            "unchanged to raw-webhooks. 200 only once the broker acknowledged it."
        ),
        response_model=AcceptedBody,
        responses=WEBHOOK_RESPONSES,
        openapi_extra=_RAW_JSON_BODY,
    )


def _webhook_endpoint(provider: Provider) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def endpoint(request: Request) -> JSONResponse:
        intake = _intake(request)
        correlation = correlation_id.get() or ""
        with observe_webhook(provider):
            chunks = _body_chunks(request)
            accepted = await intake.receive(provider, request.headers, chunks, correlation)
        body = AcceptedBody(
            status="accepted",
            provider=provider.value,
            event_id=accepted.webhook.event_id,
            correlation_id=correlation,
        )
        # Returned as a response so FastAPI does not validate the body a second time.
        return JSONResponse(body.model_dump())

    return endpoint


async def _body_chunks(request: Request) -> AsyncIterator[bytes]:
    try:
        async for chunk in request.stream():
            yield chunk
    except ClientDisconnect:
        raise ClientDisconnected("the client left before sending the whole body") from None


def _intake(request: Request) -> Intake:
    intake = request.app.state.intake
    if not isinstance(intake, Intake):
        raise RuntimeError("the app's lifespan did not run")  # a wiring bug, not client input
    return intake


def render_openapi(settings: PipelineSettings) -> str:
    """openapi.json as committed: stable key order, one trailing newline."""
    document: dict[str, Any] = create_app(settings).openapi()
    return json.dumps(document, indent=2, sort_keys=True) + "\n"
