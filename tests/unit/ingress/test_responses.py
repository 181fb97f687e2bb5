"""Every refusal: its status, stable code and JSON shape, decided in one place."""

import json

import pytest
from starlette.exceptions import HTTPException

from ingress.errors import (
    BrokerUnavailable,
    CertificateUnavailable,
    PayloadTooLarge,
    SignatureInvalid,
    TransmissionReplayed,
    UnsupportedMediaType,
)
from ingress.responses import ErrorBody, refusal
from schemas.providers import PayloadError


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (SignatureInvalid("no match"), 400, "signature_invalid"),
        (TransmissionReplayed("tx"), 409, "transmission_replayed"),
        (PayloadError("event_id_missing", "`id` must be set"), 400, "event_id_missing"),
        (PayloadTooLarge("big"), 413, "payload_too_large"),
        (UnsupportedMediaType("xml"), 415, "unsupported_media_type"),
        (BrokerUnavailable("timeout"), 503, "broker_unavailable"),
        (CertificateUnavailable("down"), 503, "certificate_unavailable"),
        (HTTPException(404), 404, "not_found"),
        (HTTPException(405), 405, "method_not_allowed"),
        (RuntimeError("bug"), 500, "internal_error"),
    ],
)
def test_refusal(error: Exception, status: int, code: str) -> None:
    response = refusal(error, retry_after_seconds=7)
    assert response.status_code == status
    body = ErrorBody.model_validate(json.loads(bytes(response.body)))
    assert body.error.code == code
    assert ("retry-after" in response.headers) == (status == 503)


def test_a_payload_error_message_is_its_detail_only() -> None:
    response = refusal(PayloadError("payload_not_json", "the body is not JSON"), 1)
    assert json.loads(bytes(response.body))["error"]["message"] == "the body is not JSON"
