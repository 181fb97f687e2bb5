"""One verifier per provider: proves a raw body authentic before anything else reads it.

`authenticated(body, headers)` gives an async context manager: it raises a `SignatureError`
(4xx) or `Unavailable` (503) when called or on entry, and the request's remaining work
runs inside it. The PayPal verifier claims the transmission id there and releases it if
that work fails, so PayPal's retry of a request we answered 503 is not mistaken for a
replay.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from datetime import UTC, datetime
from typing import Protocol

import httpx

from common.settings import PipelineSettings
from ingress.errors import ProviderNotConfigured
from ingress.paypal_certs import PayPalCertificateStore, load_trust_store
from ingress.paypal_signature import (
    PayPalHeaders,
    TransmissionReplayCache,
    verify_paypal_signature,
)
from ingress.stripe_signature import verify_stripe_signature
from schemas.providers import Provider

STRIPE_SIGNATURE_HEADER = "stripe-signature"

Clock = Callable[[], float]

# A Stripe request holds nothing that must be released when its later steps fail.
_NOTHING_TO_RELEASE: AbstractAsyncContextManager[None] = nullcontext()


class Verifier(Protocol):
    def authenticated(
        self, body: bytes, headers: Mapping[str, str]
    ) -> AbstractAsyncContextManager[None]: ...


class StripeVerifier:
    def __init__(self, secrets: Sequence[str], tolerance_seconds: int, clock: Clock) -> None:
        self._secrets = secrets
        self._tolerance_seconds = tolerance_seconds
        self._clock = clock

    def authenticated(
        self, body: bytes, headers: Mapping[str, str]
    ) -> AbstractAsyncContextManager[None]:
        header = headers.get(STRIPE_SIGNATURE_HEADER)
        verify_stripe_signature(body, header, self._secrets, self._tolerance_seconds, self._clock())
        return _NOTHING_TO_RELEASE


class PayPalVerifier:
    def __init__(
        self,
        webhook_id: str,
        certificates: PayPalCertificateStore,
        tolerance_seconds: int,
        clock: Clock,
    ) -> None:
        self._webhook_id = webhook_id
        self._certificates = certificates
        self._tolerance_seconds = tolerance_seconds
        self._clock = clock
        # A transmission time is accepted within +-tolerance: an id stays replayable that long.
        self._replays = TransmissionReplayCache(ttl_seconds=2 * tolerance_seconds)

    def authenticated(self, body: bytes, headers: Mapping[str, str]) -> _PayPalTransmission:
        return _PayPalTransmission(self, body, PayPalHeaders.from_mapping(headers))

    async def verify_and_claim(self, body: bytes, paypal: PayPalHeaders) -> None:
        """Raise unless `paypal` signs `body`; then claim its transmission id."""
        certificate = await self._certificates.certificate(paypal.cert_url)
        now = datetime.fromtimestamp(self._clock(), UTC)
        verify_paypal_signature(
            body, paypal, self._webhook_id, certificate, now, self._tolerance_seconds
        )
        self._replays.claim(paypal.transmission_id)

    def release(self, paypal: PayPalHeaders) -> None:
        """Forget the claim of a transmission whose request then failed."""
        self._replays.release(paypal.transmission_id)


class _PayPalTransmission:
    """One PayPal request's verification: on entry, verified and its transmission id
    claimed; on an error inside, the claim is released. A class rather than an
    `asynccontextmanager`: this runs for every webhook and the generator machinery costs."""

    def __init__(self, verifier: PayPalVerifier, body: bytes, headers: PayPalHeaders) -> None:
        self._verifier = verifier
        self._body = body
        self._headers = headers

    async def __aenter__(self) -> None:
        await self._verifier.verify_and_claim(self._body, self._headers)

    async def __aexit__(self, error_type: type[BaseException] | None, *_: object) -> None:
        if error_type is not None:
            self._verifier.release(self._headers)


class NotConfigured:
    """Stands in for a provider without secrets: 503 until an operator configures it."""

    def __init__(self, provider: Provider) -> None:
        self._provider = provider

    def authenticated(
        self, body: bytes, headers: Mapping[str, str]
    ) -> AbstractAsyncContextManager[None]:
        raise ProviderNotConfigured(f"{self._provider.value} webhooks are not configured")


def build_verifiers(
    settings: PipelineSettings, http: httpx.AsyncClient, clock: Clock = time.time
) -> dict[Provider, Verifier]:
    """A verifier per provider; `http` fetches PayPal certificates."""
    verifiers: dict[Provider, Verifier] = {
        Provider.STRIPE: NotConfigured(Provider.STRIPE),
        Provider.PAYPAL: NotConfigured(Provider.PAYPAL),
    }
    if secrets := [secret.get_secret_value() for secret in settings.stripe_webhook_secrets]:
        verifiers[Provider.STRIPE] = StripeVerifier(
            secrets, settings.stripe_tolerance_seconds, clock
        )
    if settings.paypal_webhook_id:
        certificates = PayPalCertificateStore(
            http,
            load_trust_store(settings.paypal_cert_dir),
            cache_dir=settings.paypal_cert_cache_dir,
            clock=clock,
        )
        verifiers[Provider.PAYPAL] = PayPalVerifier(
            settings.paypal_webhook_id, certificates, settings.paypal_tolerance_seconds, clock
        )
    return verifiers
