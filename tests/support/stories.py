"""Payments as the providers tell them, for the fault-injection tests.

A `Story` is one payment's webhooks in provider order (provider times a second apart) and
the state the pipeline must leave it in (`Expected`, worked out by hand from the story, not
by the state machine). The state machine promises that state for any delivery order and
any number of copies (`tests/unit/streams/test_state_machine_properties.py`): a refund
before its capture applies at once and the capture completes it later, a late older event
is stale. Stories cycle through captured, partially refunded, refunded,
disputed (and won), canceled and failed payments, Stripe's and PayPal's.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from ops.samples import stripe_capture, stripe_dispute, stripe_event, stripe_refund
from schemas.mapping import PaymentStatus
from schemas.providers import Provider

#: Provider time of a story's first event (story n starts n minutes later).
START: Final = 1_764_100_000


@dataclass(frozen=True)
class Webhook:
    provider: Provider
    event_id: str
    body: bytes


@dataclass(frozen=True)
class Expected:
    """A payment's final row in `payments`; amounts in minor units (`captured` None: no
    event reports a capture)."""

    status: PaymentStatus
    currency: str
    captured: int | None = None
    refunded: int = 0


@dataclass(frozen=True)
class Story:
    provider: Provider
    payment_id: str
    webhooks: tuple[Webhook, ...]
    expected: Expected


def stories(webhooks: int, run: str, seed: int = 0) -> list[Story]:
    """Payments of every kind in turn, as many as make at least `webhooks` webhooks (at
    least one payment); amounts drawn from `seed`; `run` is in every id."""
    draw = random.Random(seed)
    told: list[Story] = []
    while not told or sum(len(story.webhooks) for story in told) < webhooks:
        told.append(_KINDS[len(told) % len(_KINDS)](_Teller(run, len(told), draw)))
    return told


def in_provider_order(told: Sequence[Story], window: int = 4) -> list[Webhook]:
    """Each story's webhooks in order, `window` stories at a time interleaved (round robin),
    as a provider sends them for payments that overlap in time."""
    return _interleaved([list(story.webhooks) for story in told], window)


def shuffled(told: Sequence[Story], seed: int, window: int = 4) -> list[Webhook]:
    """Each story's webhooks in a random order (refunds before captures, disputes first, ...),
    interleaved as by `in_provider_order`: a payment's events still arrive close together."""
    draw = random.Random(seed)
    return _interleaved([draw.sample(s.webhooks, len(s.webhooks)) for s in told], window)


def _interleaved(sequences: list[list[Webhook]], window: int) -> list[Webhook]:
    out: list[Webhook] = []
    for start in range(0, len(sequences), window):
        queues = sequences[start : start + window]
        while any(queues):
            out += [queue.pop(0) for queue in queues if queue]
    return out


@dataclass
class _Teller:
    """Ids, times and amounts of story `n`."""

    run: str
    n: int
    draw: random.Random
    told: list[Webhook] = field(default_factory=list)

    def ident(self, prefix: str) -> str:
        """`<prefix>_<run>_<n>`: an id of this story's (pi, ch, dp, re, ...)."""
        return f"{prefix}_{self.run}_{self.n}"

    def amount(self) -> int:
        """A new amount, in minor units."""
        return self.draw.randrange(1_000, 100_000)

    def at(self) -> int:
        """The next event's provider time (epoch seconds)."""
        return START + 60 * self.n + len(self.told)

    def stripe(self, build: Callable[..., bytes], *args: object, **kwargs: object) -> None:
        """The event `build(event_id, *args, **kwargs, created=<its time>)` (a
        `ops.samples` function)."""
        event_id = f"evt_{self.run}_{self.n}_{len(self.told)}"
        body = build(event_id, *args, **kwargs, created=self.at())
        self.told.append(Webhook(Provider.STRIPE, event_id, body))

    def paypal(self, event_type: str, resource: dict[str, Any]) -> None:
        event_id = f"WH-{self.run}-{self.n}-{len(self.told)}".upper()
        body = {
            "id": event_id,
            "event_version": "1.0",
            "create_time": datetime.fromtimestamp(self.at(), UTC).isoformat(),
            "event_type": event_type,
            "resource": resource,
        }
        self.told.append(Webhook(Provider.PAYPAL, event_id, json.dumps(body).encode()))

    def story(self, payment_id: str, expected: Expected) -> Story:
        provider = self.told[0].provider
        return Story(provider, payment_id, tuple(self.told), expected)


# --- Stripe (USD, integer cents) -----------------------------------------------------------


def _intent(teller: _Teller, intent: str, event_type: str, status: str, amount: int) -> None:
    """A payment_intent.* event that captures nothing."""
    obj = {"id": intent, "object": "payment_intent", "amount": amount}
    obj |= {"amount_received": 0, "currency": "usd", "status": status}
    teller.stripe(stripe_event, event_type, obj=obj)


def _stripe_captured(teller: _Teller) -> Story:
    intent, amount = teller.ident("pi"), teller.amount()
    _intent(teller, intent, "payment_intent.requires_action", "requires_action", amount)
    teller.stripe(stripe_capture, intent, amount)
    return teller.story(intent, Expected(PaymentStatus.CAPTURED, "USD", amount))


def _stripe_refunds(teller: _Teller, intent: str, amounts: Sequence[int]) -> int:
    """A refund.created for each amount; returns their sum."""
    total = 0
    for n, refund in enumerate(amounts):
        teller.stripe(stripe_refund, intent, f"{teller.ident('re')}_{n}", refund)
        total += refund
    return total


def _stripe_partially_refunded(teller: _Teller) -> Story:
    intent, amount = teller.ident("pi"), teller.amount()
    teller.stripe(stripe_capture, intent, amount)
    refunded = _stripe_refunds(teller, intent, [amount // 4, amount // 3])
    return teller.story(intent, Expected(PaymentStatus.PARTIALLY_REFUNDED, "USD", amount, refunded))


def _stripe_refunded(teller: _Teller) -> Story:
    """A partial refund, then the charge's running total says all of it was refunded."""
    intent, amount = teller.ident("pi"), teller.amount()
    teller.stripe(stripe_capture, intent, amount)
    _stripe_refunds(teller, intent, [amount // 2])
    charge = {"id": teller.ident("ch"), "object": "charge", "amount": amount}
    charge |= {"amount_captured": amount, "amount_refunded": amount, "captured": True}
    charge |= {"currency": "usd", "payment_intent": intent}
    teller.stripe(stripe_event, "charge.refunded", obj=charge)
    return teller.story(intent, Expected(PaymentStatus.REFUNDED, "USD", amount, amount))


def _stripe_dispute_won(teller: _Teller) -> Story:
    intent, amount = teller.ident("pi"), teller.amount()
    teller.stripe(stripe_capture, intent, amount)
    teller.stripe(stripe_dispute, intent, amount)
    dispute = {"id": teller.ident("dp"), "object": "dispute", "amount": amount}
    dispute |= {"currency": "usd", "status": "won", "payment_intent": intent}
    teller.stripe(stripe_event, "charge.dispute.closed", obj=dispute)
    return teller.story(intent, Expected(PaymentStatus.DISPUTE_WON, "USD", amount))


def _stripe_canceled(teller: _Teller) -> Story:
    intent, amount = teller.ident("pi"), teller.amount()
    _intent(teller, intent, "payment_intent.created", "requires_payment_method", amount)
    _intent(teller, intent, "payment_intent.canceled", "canceled", amount)
    return teller.story(intent, Expected(PaymentStatus.CANCELED, "USD"))


def _stripe_failed(teller: _Teller) -> Story:
    intent, amount = teller.ident("pi"), teller.amount()
    _intent(teller, intent, "payment_intent.requires_action", "requires_action", amount)
    _intent(teller, intent, "payment_intent.payment_failed", "requires_payment_method", amount)
    return teller.story(intent, Expected(PaymentStatus.FAILED, "USD"))


# --- PayPal (EUR, decimal strings) -----------------------------------------------------------


def _eur(minor: int) -> dict[str, str]:
    return {"currency_code": "EUR", "value": f"{minor // 100}.{minor % 100:02d}"}


def _capture(teller: _Teller, status: str, amount: int) -> str:
    capture = teller.ident("cap").upper()
    resource = {"id": capture, "status": status, "amount": _eur(amount), "final_capture": True}
    teller.paypal(f"PAYMENT.CAPTURE.{status}", resource)
    return capture


def _paypal_refunds(teller: _Teller, capture: str, amounts: Sequence[int]) -> int:
    """A PAYMENT.CAPTURE.REFUNDED for each amount, each with the running total; the sum."""
    up = f"https://api.paypal.com/v2/payments/captures/{capture}"
    total = 0
    for n, refund in enumerate(amounts):
        total += refund
        resource = {
            "id": f"{teller.ident('refund')}_{n}".upper(),
            "status": "COMPLETED",
            "amount": _eur(refund),
            "seller_payable_breakdown": {"total_refunded_amount": _eur(total)},
            "links": [{"href": up, "rel": "up", "method": "GET"}],
        }
        teller.paypal("PAYMENT.CAPTURE.REFUNDED", resource)
    return total


def _paypal_partially_refunded(teller: _Teller) -> Story:
    amount = teller.amount()
    capture = _capture(teller, "COMPLETED", amount)
    refunded = _paypal_refunds(teller, capture, [amount // 3])
    return teller.story(
        capture, Expected(PaymentStatus.PARTIALLY_REFUNDED, "EUR", amount, refunded)
    )


def _paypal_refunded(teller: _Teller) -> Story:
    amount = teller.amount()
    capture = _capture(teller, "COMPLETED", amount)
    _paypal_refunds(teller, capture, [amount // 2, amount - amount // 2])
    return teller.story(capture, Expected(PaymentStatus.REFUNDED, "EUR", amount, amount))


def _paypal_disputed(teller: _Teller) -> Story:
    amount = teller.amount()
    capture = _capture(teller, "COMPLETED", amount)
    dispute = {
        "dispute_id": teller.ident("pp_d").upper(),
        "status": "OPEN",
        "dispute_amount": _eur(amount),
        "disputed_transactions": [{"seller_transaction_id": capture}],
    }
    teller.paypal("CUSTOMER.DISPUTE.CREATED", dispute)
    return teller.story(capture, Expected(PaymentStatus.DISPUTED, "EUR", amount))


def _paypal_denied(teller: _Teller) -> Story:
    amount = teller.amount()
    _capture(teller, "PENDING", amount)
    capture = _capture(teller, "DENIED", amount)
    return teller.story(capture, Expected(PaymentStatus.FAILED, "EUR"))


_KINDS: Final[tuple[Callable[[_Teller], Story], ...]] = (
    _stripe_partially_refunded,
    _paypal_refunded,
    _stripe_captured,
    _paypal_partially_refunded,
    _stripe_refunded,
    _paypal_disputed,
    _stripe_dispute_won,
    _paypal_denied,
    _stripe_canceled,
    _stripe_failed,
)
