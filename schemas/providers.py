"""Provider webhook bodies as we accept them, after the signature check.

The models ignore fields we do not read (providers add fields without notice) and
require the ones we do. `PayloadError` is the one way a body is refused: its `code` is
stable (ingress answers it, the worker dead-letters with it as the reason).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Final, Generic, Literal, TypeVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    NonNegativeInt,
    StringConstraints,
    model_validator,
)

from common.errors import PermanentError


class Provider(StrEnum):
    STRIPE = "stripe"
    PAYPAL = "paypal"


PayloadErrorCode = Literal[
    "payload_not_json",
    "payload_not_object",
    "event_id_missing",
    "event_type_missing",
    "event_type_unknown",
    "payload_invalid",
    "payment_id_missing",
    "amount_invalid",
    "dispute_status_unknown",
]


class PayloadError(PermanentError, ValueError):
    """The body can never be processed, however often it is retried.

    `detail` names fields and rules, never field values: it ends up in logs and headers.
    """

    def __init__(self, code: PayloadErrorCode, detail: str) -> None:
        super().__init__(code, detail)
        self.code: PayloadErrorCode = code
        self.detail = detail


NonEmptyStr = Annotated[str, StringConstraints(min_length=1)]
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


#: An ISO 4217 code as a provider sends it (Stripe: lower case).
ProviderCurrency = Annotated[CurrencyCode, BeforeValidator(_upper)]


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


# --- Stripe -------------------------------------------------------------------------


class StripePaymentIntentIn(_In):
    object: Literal["payment_intent"]
    id: NonEmptyStr
    amount: NonNegativeInt
    amount_received: NonNegativeInt = 0
    currency: ProviderCurrency
    status: str


class StripeChargeIn(_In):
    object: Literal["charge"]
    id: NonEmptyStr
    amount: NonNegativeInt
    amount_captured: NonNegativeInt = 0
    amount_refunded: NonNegativeInt = 0
    # Absent in some API versions' payloads; only an explicit False means "authorized only".
    captured: bool | None = None
    currency: ProviderCurrency
    payment_intent: str | None = None


class StripeRefundIn(_In):
    object: Literal["refund"]
    id: NonEmptyStr
    amount: NonNegativeInt
    currency: ProviderCurrency
    status: str | None = None
    charge: str | None = None
    payment_intent: str | None = None


class StripeDisputeIn(_In):
    object: Literal["dispute"]
    id: NonEmptyStr
    amount: NonNegativeInt
    currency: ProviderCurrency
    status: str
    charge: str | None = None
    payment_intent: str | None = None


class StripeCheckoutSessionIn(_In):
    object: Literal["checkout.session"]
    id: NonEmptyStr
    amount_total: NonNegativeInt | None = None
    currency: ProviderCurrency | None = None
    payment_intent: str | None = None


StripeObjectIn = Annotated[
    StripePaymentIntentIn
    | StripeChargeIn
    | StripeRefundIn
    | StripeDisputeIn
    | StripeCheckoutSessionIn,
    Field(discriminator="object"),
]

# Longest prefix first: "charge.dispute.created" carries a dispute, not a charge.
_STRIPE_OBJECT_BY_PREFIX: Final = (
    ("payment_intent.", "payment_intent"),
    ("charge.dispute.", "dispute"),
    ("charge.refund.", "refund"),
    ("charge.", "charge"),
    ("refund.", "refund"),
    ("checkout.session.", "checkout.session"),
)


def stripe_object_kind(event_type: str) -> str | None:
    """The `data.object.object` an event type carries, None for families we do not read."""
    for prefix, kind in _STRIPE_OBJECT_BY_PREFIX:
        if event_type.startswith(prefix):
            return kind
    return None


class StripeEventDataIn(_In):
    object: StripeObjectIn


class StripeEventIn(_In):
    id: NonEmptyStr
    type: NonEmptyStr
    created: AwareDatetime
    data: StripeEventDataIn

    @model_validator(mode="after")
    def _object_fits_type(self) -> StripeEventIn:
        expected = stripe_object_kind(self.type)
        if expected != self.data.object.object:
            raise ValueError(f"a {self.type} event must carry a {expected} object")
        return self


# --- PayPal -------------------------------------------------------------------------

PayPalResourceKind = Literal["capture", "refund", "dispute", "order"]

# Both carry a refund resource whose `up` link names the capture.
PAYPAL_REFUND_TYPES: Final = frozenset({"PAYMENT.CAPTURE.REFUNDED", "PAYMENT.CAPTURE.REVERSED"})


def paypal_resource_kind(event_type: str) -> PayPalResourceKind | None:
    """The resource an event type carries, None for families we do not read."""
    if event_type in PAYPAL_REFUND_TYPES:
        return "refund"
    if event_type.startswith("PAYMENT.CAPTURE."):
        return "capture"
    if event_type.startswith("CUSTOMER.DISPUTE."):
        return "dispute"
    if event_type.startswith("CHECKOUT.ORDER."):
        return "order"
    return None


class PayPalMoneyIn(_In):
    currency_code: ProviderCurrency
    # A decimal string; schemas.events.to_minor_units() checks it against the currency.
    value: NonEmptyStr


class PayPalRelatedIdsIn(_In):
    order_id: str | None = None


class PayPalSupplementaryDataIn(_In):
    related_ids: PayPalRelatedIdsIn | None = None


class PayPalCaptureIn(_In):
    id: NonEmptyStr
    status: str
    amount: PayPalMoneyIn
    supplementary_data: PayPalSupplementaryDataIn | None = None

    @property
    def order_id(self) -> str | None:
        related = self.supplementary_data and self.supplementary_data.related_ids
        return related.order_id if related else None


class PayPalRefundBreakdownIn(_In):
    total_refunded_amount: PayPalMoneyIn | None = None


class PayPalRefundIn(_In):
    id: NonEmptyStr
    status: str | None = None
    amount: PayPalMoneyIn
    seller_payable_breakdown: PayPalRefundBreakdownIn | None = None

    @property
    def total_refunded(self) -> PayPalMoneyIn | None:
        breakdown = self.seller_payable_breakdown
        return breakdown.total_refunded_amount if breakdown else None


class PayPalDisputedTransactionIn(_In):
    seller_transaction_id: str | None = None


class PayPalDisputeOutcomeIn(_In):
    outcome_code: str | None = None


class PayPalDisputeIn(_In):
    dispute_id: NonEmptyStr
    status: str
    dispute_amount: PayPalMoneyIn | None = None
    disputed_transactions: list[PayPalDisputedTransactionIn] = Field(min_length=1)
    dispute_outcome: PayPalDisputeOutcomeIn | None = None


class PayPalPurchaseUnitIn(_In):
    amount: PayPalMoneyIn | None = None


class PayPalOrderIn(_In):
    id: NonEmptyStr
    status: str | None = None
    purchase_units: list[PayPalPurchaseUnitIn] = []


PayPalResourceIn = PayPalCaptureIn | PayPalRefundIn | PayPalDisputeIn | PayPalOrderIn
ResourceT = TypeVar("ResourceT", bound=PayPalResourceIn)


class PayPalEventIn(_In, Generic[ResourceT]):
    """The envelope; parametrize with the resource model `paypal_resource_kind()` names."""

    id: NonEmptyStr
    event_type: NonEmptyStr
    create_time: AwareDatetime
    resource: ResourceT
