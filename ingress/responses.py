"""What ingress answers: the response bodies (documented in openapi.json) and the one place
where errors become responses.

Every refusal has the body `{"error": {"code": ..., "message": ...}}` with a stable code:
4xx when the request is at fault, 503 with Retry-After when the provider should retry.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from ingress.errors import (
    RejectionCode,
    RequestRejected,
    SignatureError,
    SignatureErrorCode,
    TransmissionReplayed,
    Unavailable,
    UnavailableCode,
)
from schemas.providers import PayloadError, PayloadErrorCode

logger = logging.getLogger(__name__)

HttpErrorCode = Literal[
    "not_found",
    "method_not_allowed",
    "request_invalid",
    "internal_error",
]
ErrorCode = SignatureErrorCode | PayloadErrorCode | RejectionCode | UnavailableCode | HttpErrorCode

_HTTP_CODES: dict[int, HttpErrorCode] = {
    404: "not_found",
    405: "method_not_allowed",
}


class ErrorDetail(BaseModel):
    code: ErrorCode
    message: str


class ErrorBody(BaseModel):
    """Every refusal's body."""

    error: ErrorDetail


class AcceptedBody(BaseModel):
    """The broker acknowledged the webhook: it will be processed."""

    status: Literal["accepted"]
    provider: str
    event_id: str
    correlation_id: str


def _error(detail: str) -> dict[str, Any]:
    return {"description": detail, "model": ErrorBody}


#: The `responses` of a webhook route, for the OpenAPI document.
WEBHOOK_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _error("not authentic (signature_*, timestamp_*, cert*_invalid) or not a webhook"),
    409: _error("transmission_replayed: this PayPal transmission was already accepted"),
    413: _error("payload_too_large: the body exceeds MAX_BODY_BYTES"),
    415: _error("unsupported_media_type: the body is not declared as UTF-8 JSON"),
    503: _error("not taken now; retry after Retry-After seconds"),
}


def error_response(
    status: int, code: ErrorCode, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    body = {"error": {"code": code, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


def refusal(error: Exception, retry_after_seconds: int) -> JSONResponse:
    """The response for an error an endpoint raised; unexpected ones are logged, 500."""
    match error:
        case TransmissionReplayed():
            return error_response(409, error.code, str(error))
        case SignatureError():
            return error_response(400, error.code, str(error))
        case PayloadError():
            return error_response(400, error.code, error.detail)
        case RequestRejected():
            return error_response(error.status, error.code, str(error))
        case Unavailable():
            retry_after = {"Retry-After": str(retry_after_seconds)}
            return error_response(503, error.code, str(error), retry_after)
        case HTTPException():
            code = _HTTP_CODES.get(error.status_code, "request_invalid")
            return error_response(error.status_code, code, str(error.detail), error.headers)
        case RequestValidationError():
            return error_response(422, "request_invalid", "the request does not match the API")
    logger.error("unexpected error", exc_info=error)
    return error_response(500, "internal_error", "internal error")


def install_error_handlers(app: FastAPI, retry_after_seconds: int) -> None:
    """Route every error an endpoint raises through `refusal`."""

    async def handle(_: Request, error: Exception) -> JSONResponse:
        return refusal(error, retry_after_seconds)

    refused = (SignatureError, PayloadError, RequestRejected, Unavailable)
    for kind in (*refused, HTTPException, RequestValidationError, Exception):
        app.add_exception_handler(kind, handle)
