"""Where the admin process's errors become responses: JSON with a stable code under /admin
(`{"error": {"code", "message"}}`), a page under /console, and never a stack trace. The
database or the broker failing is a 503 (try again), not the request's fault."""

from __future__ import annotations

import logging
from typing import Any, Literal

from confluent_kafka import KafkaException
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException

log = logging.getLogger("payments.admin")

AdminErrorCode = Literal[
    "admin_token_missing",
    "admin_token_invalid",
    "not_found",
    "method_not_allowed",
    "request_invalid",
    "unavailable",
    "internal_error",
]
_CODES: dict[int, AdminErrorCode] = {
    401: "admin_token_missing",
    403: "admin_token_invalid",
    404: "not_found",
    405: "method_not_allowed",
}


class ErrorDetail(BaseModel):
    code: AdminErrorCode
    message: str


class ErrorBody(BaseModel):
    """Every refusal's body under /admin."""

    error: ErrorDetail


#: The `responses` of every /admin route.
ADMIN_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": detail, "model": ErrorBody}
    for status, detail in (
        (401, "admin_token_missing: no `Authorization: Bearer <token>` header"),
        (403, "admin_token_invalid: the token is not one of ADMIN_TOKENS / ADMIN_VIEWER_TOKENS"),
        (422, "request_invalid: a query parameter is malformed"),
        (503, "unavailable: the database or the broker did not answer; try again"),
    )
}


class SignInRequired(Exception):
    """A console page was asked for without a valid session."""


class ConsoleRefusal(Exception):
    """A console request that cannot be done as asked; the page says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def install_error_handlers(app: FastAPI, templates: Jinja2Templates) -> None:
    async def handle(request: Request, error: Exception) -> Response:
        if isinstance(error, SignInRequired):
            return RedirectResponse("/console/sign-in", status_code=303)
        status, code, message = _describe(error)
        if request.url.path.startswith("/console"):
            context = {"status": status, "message": message}
            return templates.TemplateResponse(request, "error.html", context, status_code=status)
        body = {"error": {"code": code, "message": message}}
        headers = error.headers if isinstance(error, HTTPException) else None
        return JSONResponse(body, status_code=status, headers=headers)

    unavailable = (SQLAlchemyError, KafkaException, TimeoutError)
    refusals = (SignInRequired, ConsoleRefusal, HTTPException, RequestValidationError)
    for kind in (*refusals, *unavailable, Exception):
        app.add_exception_handler(kind, handle)


def _describe(error: Exception) -> tuple[int, AdminErrorCode, str]:
    match error:
        case ConsoleRefusal():
            return error.status, _CODES.get(error.status, "request_invalid"), error.message
        case HTTPException():
            code = _CODES.get(error.status_code, "request_invalid")
            return error.status_code, code, str(error.detail)
        case RequestValidationError():
            return 422, "request_invalid", _first_problem(error)
        case SQLAlchemyError() | KafkaException() | TimeoutError():
            log.warning("a dependency failed", extra={"error": type(error).__name__})
            return 503, "unavailable", "the database or the broker did not answer: try again"
    log.error("unexpected error", exc_info=error)
    return 500, "internal_error", "internal error"


def _first_problem(error: RequestValidationError) -> str:
    """Which parameter is malformed, without echoing the value (it may be anything)."""
    problems = error.errors()
    if not problems:
        return "the request does not match the API"
    where = ".".join(str(part) for part in problems[0].get("loc", ()))
    return f"{where}: {problems[0].get('msg', 'invalid')}"
