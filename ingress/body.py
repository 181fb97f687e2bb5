"""The request body: declared as UTF-8 JSON, and never read past `MAX_BODY_BYTES`."""

from __future__ import annotations

from collections.abc import AsyncIterator

from ingress.errors import PayloadTooLarge, UnsupportedMediaType

JSON_MEDIA_TYPE = "application/json"


def check_content_type(value: str | None) -> str:
    """`value`, if it is `application/json`, optionally with a UTF-8 charset (Stripe sends
    `application/json; charset=utf-8`); else raise `UnsupportedMediaType`."""
    media_type, *parameters = (value or "").split(";")
    if value is None or media_type.strip().lower() != JSON_MEDIA_TYPE:
        raise UnsupportedMediaType(f"Content-Type must be {JSON_MEDIA_TYPE}")
    for parameter in parameters:
        name, _, setting = parameter.partition("=")
        if name.strip().lower() == "charset" and setting.strip().strip('"').lower() != "utf-8":
            raise UnsupportedMediaType("the only accepted charset is utf-8")
    return value


async def read_body(chunks: AsyncIterator[bytes], limit: int, content_length: str | None) -> bytes:
    """The whole body, or `PayloadTooLarge` as soon as it exceeds `limit` bytes.

    An announced length over the limit is refused before reading anything; a chunked or
    understated body is counted as it arrives, so at most `limit` bytes plus one chunk
    are ever held.
    """
    if content_length is not None and content_length.isdigit() and int(content_length) > limit:
        raise PayloadTooLarge(f"the body announces more than {limit} bytes")
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"the body is longer than {limit} bytes")
    return bytes(body)
