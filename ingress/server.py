"""The one way ingress is served: uvicorn with uvloop and httptools (`payments ingress`,
and both sides of `payments bench ingress`)."""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import signal
import sys
from types import FrameType
from typing import Any

import uvicorn
from starlette.types import ASGIApp

# Logging stays ours (JSON); no access log, the webhook routes log each request themselves.
# No proxy-header rewriting: nothing here reads the client address, and it costs per request.
_OPTIONS: dict[str, Any] = {
    "loop": "uvloop",
    "http": "httptools",
    "log_config": None,
    "access_log": False,
    "proxy_headers": False,
}


def serve(app: ASGIApp, host: str, port: int, workers: int = 1) -> None:
    """Serve until SIGINT/SIGTERM; `workers` > 1: see `_serve_forked`."""
    if workers == 1:
        uvicorn.run(app, host=host, port=port, **_OPTIONS)
        return
    sys.exit(_serve_forked(uvicorn.Config(app, host=host, port=port, **_OPTIONS), workers))


def _serve_forked(config: uvicorn.Config, workers: int) -> int:
    """`workers` processes accepting on one socket, so one host's cores all serve (one
    Python process tops out at one core). Forked, not spawned: each inherits the built app,
    which could not be pickled, before its lifespan ran; every worker then opens its own
    producer, PayPal certificate cache, replay cache and metrics. When one worker exits,
    the rest are stopped, and the exit status tells the supervisor (systemd, Kubernetes)."""
    sock = config.bind_socket()
    context = multiprocessing.get_context("fork")
    processes = [
        context.Process(target=uvicorn.Server(config).run, kwargs={"sockets": [sock]})
        for _ in range(workers)
    ]
    for process in processes:
        process.start()

    def stop(_signal: int = signal.SIGTERM, _frame: FrameType | None = None) -> None:
        for process in processes:
            process.terminate()  # uvicorn shuts down gracefully: in-flight requests finish

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    multiprocessing.connection.wait([process.sentinel for process in processes])
    stop()
    for process in processes:
        process.join()
    stopped = (0, -signal.SIGTERM, -signal.SIGINT)
    return 0 if all(process.exitcode in stopped for process in processes) else 1
