"""Verification failures of ingress, each with a stable `code` for the JSON error body.

`SignatureError` and its subclasses mean "the request is not authentic": the app answers
4xx and produces nothing. `CertificateUnavailable` is deliberately NOT a `SignatureError`:
it means PayPal's certificate could not be obtained right now, so the app answers 503 and
PayPal retries later.
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


class CertificateUnavailable(Exception):
    """PayPal's certificate could not be fetched and none is cached: retryable (503)."""

    code: ClassVar[Literal["certificate_unavailable"]] = "certificate_unavailable"
