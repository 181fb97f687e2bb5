"""The admin reads' own answers on PostgreSQL, below the pages that show them."""

from __future__ import annotations

from sqlalchemy import delete, insert

from admin.reads import payment_totals
from sinks.database import make_engine
from sinks.tables import payments
from tests.support.payment_events import T0


def test_payment_totals_answer_by_record_key_and_leave_unknown_keys_out(database: str) -> None:
    engine = make_engine(database)
    stored = {
        "provider": "stripe", "payment_id": "pi_totals", "status": "captured", "currency": "EUR",
        "amount": 1099, "captured_amount": 1099, "refunded_amount": 0, "version": 3,
        "last_event_id": "evt_3", "last_event_at": T0, "updated_at": T0,
    }  # fmt: skip
    try:
        with engine.begin() as connection:
            connection.execute(insert(payments), [stored, {**stored, "provider": "paypal"}])
        totals = payment_totals(engine, ["stripe:pi_totals", "stripe:pi_unknown", "no-colon"])
        assert set(totals) == {"stripe:pi_totals"}
        assert (totals["stripe:pi_totals"].status, totals["stripe:pi_totals"].version) == (
            "captured",
            3,
        )
        assert payment_totals(engine, []) == {}
    finally:
        with engine.begin() as connection:
            connection.execute(delete(payments).where(payments.c.payment_id == "pi_totals"))
        engine.dispose()
