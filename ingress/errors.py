"""Why ingress refuses a request, each with a stable `code` for the JSON error body.

`SignatureError` and its subclasses mean "the request is not authentic", `RequestRejected`
"the request is not a webhook we take": the app answers 4xx and produces nothing.
`Unavailable` means "not now": the app answers 503 with Retry-After and the provider
retries later. `CertificateUnavailable` is deliberately an `Unavailable`, NOT a
`SignatureError`: PayPal's certificate could not be obtained right now.
"""

from __future__ import annotations

from typing import ClassVar, Literal

SignatureErrorCode = Literal[
    "signature_missing",
    "signature_malformed",
    "signature_invalid",
    "signature_algorithm_unsupported",
    "timestamp_out_of_tolerance",
    "cert_url_invalid",
    "certificate_invalid",
    "transmission_replayed",
]


class SignatureError(Exception):
    """The webhook could not be proven authentic. `code` is stable; the message is for logs."""

    code: ClassVar[SignatureErrorCode]


class SignatureMissing(SignatureError):
    """A required signature header is absent or empty."""

    code = "signature_missing"


class SignatureMalformed(SignatureError):
    """A signature header is present but cannot be parsed."""

    code = "signature_malformed"


class SignatureInvalid(SignatureError):
    """The signature does not match the body under any configured key."""

    code = "signature_invalid"


class SignatureAlgorithmUnsupported(SignatureError):
    """The provider announced a signature algorithm we do not accept."""

    code = "signature_algorithm_unsupported"


class TimestampOutOfTolerance(SignatureError):
    """The signed timestamp is too far from our clock: a possible replay."""

    code = "timestamp_out_of_tolerance"


class CertUrlInvalid(SignatureError):
    """The certificate URL is not an https URL on an allowed PayPal host and path."""

    code = "cert_url_invalid"


class CertificateInvalid(SignatureError):
    """The signing certificate is untrusted, expired, or issued to the wrong subject."""

    code = "certificate_invalid"


class TransmissionReplayed(SignatureError):
    """This transmission id was already accepted recently."""

    code = "transmission_replayed"


RejectionCode = Literal["payload_too_large", "unsupported_media_type", "client_disconnected"]


class RequestRejected(Exception):
    """The request is refused before its signature is even looked at."""

    code: ClassVar[RejectionCode]
    status: ClassVar[int]


class PayloadTooLarge(RequestRejected):
    """The body is (or announces to be) longer than `MAX_BODY_BYTES`."""

    code = "payload_too_large"
    status = 413


class UnsupportedMediaType(RequestRejected):
    """The body is not declared as UTF-8 JSON."""

    code = "unsupported_media_type"
    status = 415


class ClientDisconnected(RequestRejected):
    """The client went away before sending the whole body; nobody reads the answer."""

    code = "client_disconnected"
    status = 400


UnavailableCode = Literal[
    "certificate_unavailable", "broker_unavailable", "provider_not_configured"
]


class Unavailable(Exception):
    """The webhook may be fine but cannot be taken now: 503, the provider retries."""

    code: ClassVar[UnavailableCode]


class CertificateUnavailable(Unavailable):
    """PayPal's certificate could not be fetched and none is cached: retryable (503)."""

    code = "certificate_unavailable"


class BrokerUnavailable(Unavailable):
    """The broker did not acknowledge the record in time, or refused it."""

    code = "broker_unavailable"

    def __init__(self, reason: str) -> None:
        super().__init__(f"the broker did not acknowledge the webhook: {reason}")
        self.reason = reason


class ProviderNotConfigured(Unavailable):
    """This provider's secrets are not configured: an operator must fix it, then retries pass."""

    code = "provider_not_configured"
