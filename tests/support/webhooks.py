"""Signed Stripe webhooks of whole payment lifecycles, for the end-to-end tests."""

from __future__ import annotations

import time

from ingress.stripe_signature import sign_stripe_payload
from ops.samples import stripe_capture, stripe_refund
from tests.support.workers import SECRET


def lifecycle(n: int) -> list[tuple[str, bytes]]:
    """A capture of 10.00 and two refunds of 2.50 each: partially refunded at 5.00."""
    intent = f"pi_e2e_{n}"
    return [
        (f"evt_{n}_capture", stripe_capture(f"evt_{n}_capture", intent, amount=1000)),
        (f"evt_{n}_r1", stripe_refund(f"evt_{n}_r1", intent, f"re_{n}_1", 250, 1764100100)),
        (f"evt_{n}_r2", stripe_refund(f"evt_{n}_r2", intent, f"re_{n}_2", 250, 1764100200)),
    ]


def signed(body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "Stripe-Signature": sign_stripe_payload(body, SECRET, int(time.time())),
    }
