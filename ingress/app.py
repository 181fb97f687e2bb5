"""The ingress FastAPI application, built from settings by `create_app`."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from common.kafka import broker_reachable
from common.metrics import render_metrics
from common.runtime import freeze_startup_objects
from common.settings import PipelineSettings
from ingress.body import JSON_MEDIA_TYPE
from ingress.correlation import CorrelationIdMiddleware
from ingress.endpoint import WebhookEndpoint
from ingress.intake import Clock, open_intake
from ingress.responses import WEBHOOK_RESPONSES, AcceptedBody, install_error_handlers
from schemas.providers import Provider

READY_TIMEOUT_SECONDS = 2.0
PRODUCER_FAILED = (
    "the Kafka producer failed for good and no new one could be made: restart the process"
)

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
    """The app; its lifespan opens the producer and the PayPal certificate client. It serves
    the webhooks, /health, /ready and /metrics only: /admin is the admin process's."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            app.state.intake = await open_intake(settings, stack, clock)
            freeze_startup_objects()
            yield

    app = _IngressApp(title="payments-webhook-ingress", version="0.1.0", lifespan=lifespan)
    app.add_middleware(CorrelationIdMiddleware)
    install_error_handlers(app, settings.ingress_retry_after_seconds)
    for provider in Provider:
        app.add_webhook_route(provider, settings.ingress_retry_after_seconds)

    @app.get("/health", responses={503: {"description": PRODUCER_FAILED}})
    async def health() -> JSONResponse:
        """Liveness: the process serves requests and can still produce (a producer that
        failed for good is replaced; only if that fails does the process need a restart)."""
        if app.state.intake.producer_failed:
            return JSONResponse({"status": "failed", "error": "producer_failed"}, 503)
        return JSONResponse({"status": "ok"})

    @app.get(
        "/ready",
        responses={503: {"description": f"the broker is unreachable, or {PRODUCER_FAILED}"}},
    )
    async def ready() -> JSONResponse:
        """Readiness: a broker answers, so an accepted webhook can be made durable."""
        if app.state.intake.producer_failed:
            return JSONResponse({"status": "unavailable", "error": "producer_failed"}, 503)
        reachable = await asyncio.to_thread(broker_reachable, settings, READY_TIMEOUT_SECONDS)
        if reachable:
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "unavailable", "error": "broker_unreachable"}, 503)

    @app.get("/metrics")
    async def metrics() -> Response:
        body, content_type = render_metrics()
        return Response(body, media_type=content_type)

    return app


class _IngressApp(FastAPI):
    """FastAPI, except that a webhook POST goes straight to its `WebhookEndpoint`.

    The middleware stack and route matching cost CPU on every request, and a webhook
    endpoint needs none of it (see `ingress.endpoint`). Other methods
    on those paths (405) and every other route take the usual way.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._webhooks: dict[str, ASGIApp] = {}

    def add_webhook_route(self, provider: Provider, retry_after_seconds: int) -> None:
        path = f"/webhooks/{provider.value}"
        endpoint = WebhookEndpoint(provider, retry_after_seconds)
        self.router.add_api_route(
            path,
            _documentation_only,
            methods=["POST"],
            name=f"{provider.value}_webhook",
            summary=f"Receive a {provider.value.capitalize()} webhook",
            description=(
                f"Verifies {_SIGNATURE_HEADERS[provider]} over the raw body, then produces the "
                "body unchanged to raw-webhooks. 200 only once the broker acknowledged it."
            ),
            response_model=AcceptedBody,
            responses=WEBHOOK_RESPONSES,
            openapi_extra=_RAW_JSON_BODY,
        )
        route = self.router.routes[-1]
        if not isinstance(route, APIRoute):
            raise RuntimeError("the webhook route was not added last")  # a wiring bug
        route.app = CorrelationIdMiddleware(endpoint)  # FastAPI documents it; this serves it
        self._webhooks[path] = route.app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            webhook = self._webhooks.get(scope["path"])
            if webhook is not None:
                scope["app"] = self  # as Starlette sets it: the endpoint finds the intake
                await webhook(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


async def _documentation_only(request: Request) -> None:
    """Never called: `WebhookEndpoint` serves the webhook routes."""
    raise NotImplementedError


def render_openapi(settings: PipelineSettings) -> str:
    """openapi.json as committed: stable key order, one trailing newline."""
    document: dict[str, Any] = create_app(settings).openapi()
    return json.dumps(document, indent=2, sort_keys=True) + "\n"
