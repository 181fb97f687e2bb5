"""The correlation id of a request: the caller's when it sent a sane one, else a new one.

It is set on `common.logging.correlation_id` for the request's logs, goes into the Kafka
headers, and is echoed in the `X-Correlation-ID` response header.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.logging import correlation_id

RESPONSE_HEADER = b"x-correlation-id"
#: Request headers read, in order of preference.
REQUEST_HEADERS = (b"x-correlation-id", b"x-request-id")
# It lands in logs and Kafka headers: short, and no characters that could forge log lines.
_SANE = re.compile(rb"[A-Za-z0-9._:@/+=-]{1,128}")


def correlation_id_from(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The first sane id among `REQUEST_HEADERS`, else a fresh random one."""
    # Only the wanted headers into a dict (a request has a dozen); the last repeat counts.
    offered = {name: value for name, value in headers if name in REQUEST_HEADERS}
    for name in REQUEST_HEADERS:
        wanted = offered.get(name)
        if wanted is not None and _SANE.fullmatch(wanted):
            return wanted.decode("ascii")
    # 128 random bits as 32 hex digits, as uuid4().hex but without building a UUID.
    return os.urandom(16).hex()


class CorrelationIdMiddleware:
    """Pure ASGI middleware: no body buffering, no per-request task."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        value = correlation_id_from(scope["headers"])
        token = correlation_id.set(value)
        echoed = (RESPONSE_HEADER, value.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), echoed]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            correlation_id.reset(token)
