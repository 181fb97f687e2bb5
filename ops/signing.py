"""`payments sign`: a webhook request signed the way its provider signs it, for the local
stack's credentials (`ops.local_credentials`), so it can be sent with curl.

Stripe: `Stripe-Signature: t=<now>,v1=<HMAC-SHA256 of "{t}.{body}">` under the first
configured secret. PayPal: the `PAYPAL-*` transmission headers (a fresh transmission id,
now as the transmission time) signed with the local leaf key, with a certificate URL the
stack has in its certificate cache. Both are checked against the current time by ingress
(tolerance 300 s by default) and a PayPal transmission id is accepted once: sign again
rather than resending. The body is signed as the bytes it is, never re-serialized.
"""

from __future__ import annotations

import shlex
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from common.settings import PipelineSettings
from ingress.stripe_signature import sign_stripe_payload
from ops.local_credentials import LocalCredentials
from ops.local_pki import paypal_headers
from schemas.providers import Provider

CONTENT_TYPE = "application/json"


class SigningUnavailable(Exception):
    """The stack verifies this provider with credentials we do not hold."""


@dataclass(frozen=True)
class SignedRequest:
    """A POST of `body` to `url` with `headers`."""

    url: str
    headers: dict[str, str]
    body: bytes

    def http(self) -> bytes:
        """The header lines, a blank line, then the body exactly as signed."""
        lines = "".join(f"{name}: {value}\n" for name, value in self.headers.items())
        return f"{lines}\n".encode() + self.body

    def curl(self, body_file: Path) -> str:
        """A curl command that posts `body_file` (holding `body`) byte for byte and prints
        the answer and its status."""
        words = [["curl", "-sS", "-w", r"\nHTTP %{http_code}\n"]]
        words += [["-H", f"{name}: {value}"] for name, value in self.headers.items()]
        words += [["--data-binary", f"@{body_file.resolve()}"], [self.url]]
        return " \\\n  ".join(shlex.join(line) for line in words)


def ingress_url(settings: PipelineSettings) -> str:
    """The local ingress, as `INGRESS_HOST` / `INGRESS_PORT` configure it."""
    return f"http://{settings.ingress_host}:{settings.ingress_port}"


def webhook_url(settings: PipelineSettings, provider: Provider) -> str:
    """Where the local ingress takes `provider`'s webhooks."""
    return f"{ingress_url(settings)}/webhooks/{provider.value}"


def sign_request(
    provider: Provider,
    body: bytes,
    settings: PipelineSettings,
    credentials: LocalCredentials,
    url: str,
    now: datetime | None = None,
) -> SignedRequest:
    """`body` with the headers the stack configured by `settings` accepts at `now`."""
    moment = now or datetime.now(UTC)
    if provider is Provider.STRIPE:
        signature = stripe_signature(body, settings, moment)
        headers = {"Content-Type": CONTENT_TYPE, "Stripe-Signature": signature}
    else:
        headers = {
            "Content-Type": CONTENT_TYPE,
            **paypal_signature(body, settings, credentials, moment),
        }
    return SignedRequest(url, headers, body)


def stripe_signature(body: bytes, settings: PipelineSettings, now: datetime) -> str:
    if not settings.stripe_webhook_secrets:
        raise SigningUnavailable("no Stripe webhook secret is configured")
    secret = settings.stripe_webhook_secrets[0].get_secret_value()
    return sign_stripe_payload(body, secret, int(now.timestamp()))


def paypal_signature(
    body: bytes, settings: PipelineSettings, credentials: LocalCredentials, now: datetime
) -> dict[str, str]:
    if settings.paypal_webhook_id != credentials.paypal_webhook_id:
        raise SigningUnavailable(
            "PAYPAL_WEBHOOK_ID is set, so the stack verifies with PayPal's own certificates, "
            "which only PayPal can sign for; unset it to use the local PKI"
        )
    return paypal_headers(
        credentials.paypal_key,
        body,
        credentials.paypal_webhook_id,
        str(uuid.uuid4()),
        now,
        credentials.paypal_cert_url,
    )
