"""Stripe webhook signatures: `Stripe-Signature: t=<unix time>,v1=<hex hmac>[,v1=…]`.

The HMAC-SHA256 covers `b"<t>." + raw body`: the bytes exactly as received, never a
re-serialized body. Acceptance matches `stripe.WebhookSignature.verify_header` input for
input (a differential test holds us to that), including its two lenient rules: only a
timestamp older than the tolerance is rejected (a future one still needed the secret), and
the timestamp is read with `int()`. Differences are deliberate: several secrets may be
configured (rotation); a missing secret or tolerance is a configuration error
(`ValueError`), not a per-request failure or a skipped time check; a non-ASCII signature is
rejected where stripe's compare raises `TypeError`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from ingress.errors import (
    SignatureInvalid,
    SignatureMalformed,
    SignatureMissing,
    TimestampOutOfTolerance,
)

SIGNATURE_SCHEME = "v1"
TIMESTAMP_KEY = "t"


def verify_stripe_signature(
    payload: bytes,
    header: str | None,
    secrets: Sequence[str],
    tolerance_seconds: int,
    now: float,
) -> None:
    """Return if one `v1` signature in `header` matches `payload` under one of `secrets`.

    Raises `SignatureMissing`, `SignatureMalformed`, `SignatureInvalid` or
    `TimestampOutOfTolerance` (checked in that order, as Stripe does); `ValueError` for a
    bad configuration (no secrets, blank secret, tolerance not > 0).
    """
    _check_configuration(secrets, tolerance_seconds)
    if not header:
        raise SignatureMissing("no Stripe-Signature header")
    timestamp, signatures = _parse_header(header)
    if not any(_matches(payload, timestamp, secret, signatures) for secret in secrets):
        raise SignatureInvalid("no v1 signature matches the payload")
    if timestamp < now - tolerance_seconds:
        raise TimestampOutOfTolerance(f"timestamp {timestamp} is older than {tolerance_seconds}s")


def sign_stripe_payload(payload: bytes, secret: str, timestamp: int) -> str:
    """Build a valid `Stripe-Signature` header, as Stripe would send it."""
    return f"{TIMESTAMP_KEY}={timestamp},{SIGNATURE_SCHEME}={_digest(payload, timestamp, secret)}"


def _check_configuration(secrets: Sequence[str], tolerance_seconds: int) -> None:
    # A bare string is a Sequence[str] too; iterating it would make each character a secret.
    if isinstance(secrets, str) or not secrets:
        raise ValueError("secrets must be a non-empty sequence of webhook secrets")
    if any(not secret.strip() for secret in secrets):
        raise ValueError("a configured Stripe webhook secret is blank")
    if tolerance_seconds <= 0:
        raise ValueError("tolerance_seconds must be > 0")


def _parse_header(header: str) -> tuple[int, list[str]]:
    fields = [_split_field(item) for item in header.split(",")]
    # Stripe fails on a bare "t" or "v1" item anywhere in the header, so we do too.
    if any(value is None for key, value in fields if key in (TIMESTAMP_KEY, SIGNATURE_SCHEME)):
        raise SignatureMalformed("Stripe-Signature has an item without a value")
    timestamps = [value for key, value in fields if key == TIMESTAMP_KEY and value is not None]
    signatures = [value for key, value in fields if key == SIGNATURE_SCHEME and value is not None]
    if not timestamps:
        raise SignatureMalformed("Stripe-Signature has no timestamp")
    if not signatures:
        raise SignatureMalformed(f"Stripe-Signature has no {SIGNATURE_SCHEME} signature")
    return _parse_timestamp(timestamps[0]), signatures


def _split_field(item: str) -> tuple[str, str | None]:
    # The value ends at a second "=", as in Stripe's `split("=", 2)`.
    key, separator, rest = item.partition("=")
    return key, rest.partition("=")[0] if separator else None


def _parse_timestamp(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise SignatureMalformed("Stripe-Signature timestamp is not an integer") from None


def _matches(payload: bytes, timestamp: int, secret: str, signatures: list[str]) -> bool:
    expected = _digest(payload, timestamp, secret)
    # compare_digest only takes ASCII str; anything else cannot be a hex digest anyway.
    return any(sig.isascii() and hmac.compare_digest(expected, sig) for sig in signatures)


def _digest(payload: bytes, timestamp: int, secret: str) -> str:
    signed = f"{timestamp}.".encode() + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
