"""The one way ingress is served: uvicorn with uvloop and httptools (`payments ingress`,
and both sides of `payments bench ingress`)."""

from __future__ import annotations

import uvicorn
from starlette.types import ASGIApp


def serve(app: ASGIApp, host: str, port: int) -> None:
    """Serve until SIGINT/SIGTERM. Logging stays ours (JSON); no access log, the webhook
    routes log each request themselves."""
    uvicorn.run(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
    )
