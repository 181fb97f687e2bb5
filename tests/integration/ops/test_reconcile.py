"""`payments reconcile` on a known fixture in the real PostgreSQL: totals, stuck payments,
mismatches and unsettled events are checked figure by figure."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert
from typer.testing import CliRunner

from common.topic_scan import TopicEntry
from ops.cli import app
from ops.reconcile import ReportFormat, load_rows, render, summarize
from sinks.database import make_engine
from sinks.migrate import upgrade
from sinks.tables import payment_transitions, payments, webhook_events
from tests.support.databases import scratch_database

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SINCE, UNTIL = NOW - timedelta(days=7), NOW


def payment(
    provider: str, payment_id: str, status: str, currency: str, **amounts: Any
) -> dict[str, Any]:
    return {
        "provider": provider,
        "payment_id": payment_id,
        "status": status,
        "currency": currency,
        "amount": amounts.get("captured", 0),
        "captured_amount": amounts.get("captured", 0),
        "refunded_amount": amounts.get("refunded", 0),
        "order_id": None,
        "version": 2,
        "last_event_id": f"evt_{payment_id}",
        "last_event_at": amounts.get("at", NOW - timedelta(hours=1)),
        "updated_at": NOW,
    }


PAYMENTS = [
    payment("stripe", "pi_a", "captured", "USD", captured=1000),
    payment("stripe", "pi_b", "partially_refunded", "USD", captured=2000, refunded=500),
    payment("stripe", "pi_c", "refunded", "EUR", captured=700, refunded=700),
    payment("stripe", "pi_d", "authorized", "USD", at=NOW - timedelta(days=3)),  # stuck
    payment("paypal", "CAP1", "disputed", "JPY", captured=5000),
    payment("paypal", "CAP2", "captured", "JPY", captured=300),  # trail says refunded
    payment("stripe", "pi_old", "captured", "USD", captured=99, at=NOW - timedelta(days=30)),
]


def transition(p: dict[str, Any], to_status: str) -> dict[str, Any]:
    return {
        "provider": p["provider"],
        "event_id": p["last_event_id"],
        "event_type": "x",
        "payment_id": p["payment_id"],
        "from_status": None,
        "to_status": to_status,
        "outcome": "applied",
        "version": 2,
        "occurred_at": p["last_event_at"],
        "recorded_at": NOW,
    }


def dispute_event(p: dict[str, Any], amount: int) -> dict[str, Any]:
    return {
        "provider": p["provider"],
        "event_id": f"evt_dispute_{p['payment_id']}",
        "event_type": "CUSTOMER.DISPUTE.CREATED",
        "payment_id": p["payment_id"],
        "schema_version": 1,
        "effect": "dispute",
        "outcome": "applied",
        "target_status": "disputed",
        "previous_status": "captured",
        "status": "disputed",
        "currency": p["currency"],
        "amount": p["amount"],
        "captured_amount": p["captured_amount"],
        "refunded_amount": 0,
        "version": 2,
        "refund_amount": None,
        "dispute_amount": amount,
        "correlation_id": "c",
        "occurred_at": NOW,
        "received_at": NOW,
        "processed_at": NOW,
    }


@pytest.fixture
def fixture_database(postgres_server_url: str) -> Iterator[str]:
    with scratch_database(postgres_server_url) as url:
        upgrade(url)
        engine = make_engine(url)
        trail = [transition(p, p["status"]) for p in PAYMENTS if p["payment_id"] != "pi_a"]
        trail = [t if t["payment_id"] != "CAP2" else {**t, "to_status": "refunded"} for t in trail]
        with engine.begin() as connection:
            connection.execute(insert(payments), PAYMENTS)
            connection.execute(insert(payment_transitions), trail)
            connection.execute(insert(webhook_events), [dispute_event(PAYMENTS[4], 4000)])
        engine.dispose()
        yield url


ENTRIES = [
    TopicEntry("retry-1m", "stripe:pi_x", 0, {"provider": "stripe", "event-id": "e1"}),
    TopicEntry("dlq", "stripe:pi_y", 0, {"provider": "stripe", "dlq-reason": "currency_mismatch"}),
    TopicEntry("dlq", "paypal:C", 0, {"provider": "paypal", "dlq-reason": "payload_invalid"}),
]


def test_reconciliation_report_on_a_known_fixture(fixture_database: str) -> None:
    engine = make_engine(fixture_database)
    try:
        rows = load_rows(engine, SINCE, UNTIL)
    finally:
        engine.dispose()
    report = summarize(
        rows, ENTRIES, since=SINCE, until=UNTIL, now=NOW, stuck_after=timedelta(days=1)
    )

    totals = {(t.provider, t.currency): t for t in report.totals}
    assert set(totals) == {("stripe", "USD"), ("stripe", "EUR"), ("paypal", "JPY")}  # not pi_old
    usd = totals[("stripe", "USD")]
    assert usd.payments_by_status == {"captured": 1, "partially_refunded": 1, "authorized": 1}
    assert (usd.captured, usd.refunded, usd.disputed) == (3000, 500, 0)
    assert (totals[("stripe", "EUR")].captured, totals[("stripe", "EUR")].refunded) == (700, 700)
    jpy = totals[("paypal", "JPY")]
    assert (jpy.captured, jpy.refunded, jpy.disputed) == (5300, 0, 4000)

    assert [(f.payment_id, f.status) for f in report.stuck] == [("pi_d", "authorized")]
    mismatches = {f.payment_id: f.detail for f in report.mismatches}
    assert mismatches == {
        "pi_a": "no event trail",
        "CAP2": "status differs from its last transition (refunded)",
    }
    assert report.unsettled == {"paypal": {"dlq": 1}, "stripe": {"dlq": 1, "retry": 1}}

    as_json = json.loads(render(report, ReportFormat.JSON))
    assert as_json["totals"][0]["provider"] == "paypal"
    as_csv = list(csv.reader(io.StringIO(render(report, ReportFormat.CSV))))
    assert ["totals", "paypal", "JPY", "disputed", "4000"] in as_csv
    markdown = render(report, ReportFormat.MD)
    assert "| paypal | JPY | captured 1, disputed 1 | 5300 | 0 | 4000 |" in markdown
    assert "## Stuck payments: 1" in markdown
    assert "- stripe: retry 1, dlq 1" in markdown


def test_the_reconcile_command(fixture_database: str, kafka_bootstrap: str) -> None:
    env = {
        "DATABASE_URL": fixture_database,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "TOPIC_PREFIX": "reconcile-empty-",  # no such topics: nothing unsettled
    }
    args = ["reconcile", "--since", f"{SINCE:%Y-%m-%dT%H:%M}", "--until", f"{UNTIL:%Y-%m-%dT%H:%M}"]
    result = CliRunner().invoke(app, [*args, "--format", "csv"], env=env)
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.output)))
    assert ["totals", "stripe", "USD", "captured", "3000"] in rows
    stuck = [row[:4] for row in rows if row[0] == "stuck"]
    assert stuck == [["stuck", "stripe", "pi_d", "authorized"]], rows
    assert not [row for row in rows if row[0] == "unsettled"]
