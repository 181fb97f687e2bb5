"""The ingress FastAPI application, built from settings by `create_app`."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse

from common.kafka import broker_reachable
from common.metrics import render_metrics
from common.settings import PipelineSettings

READY_TIMEOUT_SECONDS = 2.0


def create_app(settings: PipelineSettings) -> FastAPI:
    app = FastAPI(title="payments-webhook-ingress", version="0.1.0")

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
