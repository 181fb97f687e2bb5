"""`payments reconcile`: what finance and data teams check against the providers' reports.

Per provider and currency: payments by status and the captured / refunded / disputed
totals; payments stuck in a non-final status; events still on the retry ladder or in the
dlq; and payments whose stored state disagrees with their own event trail.

`summarize` is a pure function over plain rows; `load_rows` is the database adapter.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, func, select

from common.topic_scan import TopicEntry
from schemas import headers as h
from schemas.mapping import PaymentStatus
from sinks.tables import payment_transitions, payments, webhook_events


class ReportFormat(StrEnum):
    MD = "md"
    CSV = "csv"
    JSON = "json"


Row = Mapping[Any, Any]  # a SQLAlchemy RowMapping, or a dict in tests

#: Statuses a payment is expected to leave; one sitting in them too long is "stuck".
WAITING_STATUSES = frozenset(
    {PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION, PaymentStatus.AUTHORIZED}
)
DISPUTE_STATUSES = frozenset(
    {PaymentStatus.DISPUTED, PaymentStatus.DISPUTE_WON, PaymentStatus.DISPUTE_LOST}
)


@dataclass
class CurrencyTotals:
    provider: str
    currency: str
    payments_by_status: dict[str, int] = field(default_factory=dict)
    captured: int = 0
    refunded: int = 0
    disputed: int = 0


@dataclass(frozen=True)
class Finding:
    provider: str
    payment_id: str
    status: str
    detail: str


@dataclass
class Report:
    since: datetime
    until: datetime
    totals: list[CurrencyTotals]
    stuck: list[Finding]
    mismatches: list[Finding]
    unsettled: dict[str, dict[str, int]]  # provider -> {"retry": n, "dlq": n}


@dataclass(frozen=True)
class Rows:
    """What the report reads: payments touched in the window, and their trails."""

    payments: Sequence[Row]
    last_transition: Mapping[tuple[str, str], Row]  # (provider, payment_id) -> newest
    disputed_amount: Mapping[tuple[str, str], int]  # (provider, payment_id) -> amount


def summarize(
    rows: Rows,
    topic_entries: Iterable[TopicEntry],
    *,
    since: datetime,
    until: datetime,
    now: datetime,
    stuck_after: timedelta,
) -> Report:
    return Report(
        since=since,
        until=until,
        totals=_totals(rows),
        stuck=[
            Finding(
                p["provider"],
                p["payment_id"],
                p["status"],
                f"no event since {p['last_event_at']:%Y-%m-%d %H:%M}Z",
            )
            for p in rows.payments
            if p["status"] in WAITING_STATUSES and now - p["last_event_at"] > stuck_after
        ],
        mismatches=[finding for p in rows.payments for finding in _mismatches(p, rows)],
        unsettled=_unsettled(topic_entries),
    )


def _totals(rows: Rows) -> list[CurrencyTotals]:
    by_key: dict[tuple[str, str], CurrencyTotals] = {}
    for p in rows.payments:
        key = (p["provider"], p["currency"] or "---")
        totals = by_key.setdefault(key, CurrencyTotals(*key))
        totals.payments_by_status[p["status"]] = totals.payments_by_status.get(p["status"], 0) + 1
        totals.captured += p["captured_amount"] or 0
        totals.refunded += p["refunded_amount"]
        if p["status"] in DISPUTE_STATUSES:
            totals.disputed += rows.disputed_amount.get((p["provider"], p["payment_id"]), 0)
    return [by_key[key] for key in sorted(by_key)]


def _mismatches(payment: Row, rows: Rows) -> Iterable[Finding]:
    key = (payment["provider"], payment["payment_id"])

    def finding(detail: str) -> Finding:
        return Finding(*key, payment["status"], detail)

    last = rows.last_transition.get(key)
    if last is None:
        yield finding("no event trail")
    elif last["to_status"] != payment["status"]:
        yield finding(f"status differs from its last transition ({last['to_status']})")
    captured = payment["captured_amount"]
    if captured is None:
        yield finding("no event has reported the capture yet")
    elif payment["refunded_amount"] > captured:
        yield finding("refunded more than captured")


def _unsettled(entries: Iterable[TopicEntry]) -> dict[str, dict[str, int]]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for entry in entries:
        where = "dlq" if h.DLQ_REASON in entry.headers else "retry"
        counts[entry.headers.get(h.PROVIDER, "unknown")][where] += 1
    return {provider: dict(counter) for provider, counter in sorted(counts.items())}


def load_rows(engine: Engine, since: datetime, until: datetime) -> Rows:
    """Payments whose last event falls in [since, until), with their trails."""
    window = (payments.c.last_event_at >= since) & (payments.c.last_event_at < until)
    latest = (
        select(
            payment_transitions.c.provider,
            payment_transitions.c.payment_id,
            func.max(payment_transitions.c.version).label("version"),
        )
        .group_by(payment_transitions.c.provider, payment_transitions.c.payment_id)
        .subquery()
    )
    transitions = select(payment_transitions).join(
        latest,
        (payment_transitions.c.provider == latest.c.provider)
        & (payment_transitions.c.payment_id == latest.c.payment_id)
        & (payment_transitions.c.version == latest.c.version),
    )
    disputes = select(
        webhook_events.c.provider,
        webhook_events.c.payment_id,
        func.max(webhook_events.c.dispute_amount).label("amount"),
    ).group_by(webhook_events.c.provider, webhook_events.c.payment_id)
    with engine.connect() as connection:
        found = connection.execute(select(payments).where(window)).mappings().all()
        trail = connection.execute(transitions).mappings().all()
        disputed = connection.execute(disputes).mappings().all()
    return Rows(
        payments=found,
        last_transition={(t["provider"], t["payment_id"]): t for t in trail},
        disputed_amount={(d["provider"], d["payment_id"]): d["amount"] or 0 for d in disputed},
    )


def render(report: Report, fmt: ReportFormat) -> str:
    match fmt:
        case ReportFormat.JSON:
            return json.dumps(asdict(report), indent=2, default=str, sort_keys=True) + "\n"
        case ReportFormat.CSV:
            return _csv(report)
        case ReportFormat.MD:
            return _markdown(report)


def _csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "provider", "currency_or_payment", "field", "value"])
    for t in report.totals:
        for status, count in sorted(t.payments_by_status.items()):
            writer.writerow(["payments", t.provider, t.currency, f"status:{status}", count])
        for name in ("captured", "refunded", "disputed"):
            writer.writerow(["totals", t.provider, t.currency, name, getattr(t, name)])
    for section, findings in (("stuck", report.stuck), ("mismatch", report.mismatches)):
        for f in findings:
            writer.writerow([section, f.provider, f.payment_id, f.status, f.detail])
    for provider, counts in report.unsettled.items():
        for where, count in sorted(counts.items()):
            writer.writerow(["unsettled", provider, "", where, count])
    return out.getvalue()


def _markdown(report: Report) -> str:
    lines = [
        f"# Reconciliation {report.since:%Y-%m-%d %H:%M} → {report.until:%Y-%m-%d %H:%M} (UTC)",
        "",
        "| provider | currency | payments by status | captured | refunded | disputed |",
        "|---|---|---|---:|---:|---:|",
    ]
    for t in report.totals:
        statuses = ", ".join(f"{s} {n}" for s, n in sorted(t.payments_by_status.items()))
        lines.append(
            f"| {t.provider} | {t.currency} | {statuses} | {t.captured} | {t.refunded} "
            f"| {t.disputed} |"
        )
    lines += ["", "Amounts are integer minor units of the currency.", ""]
    for title, findings in (("Stuck payments", report.stuck), ("Mismatches", report.mismatches)):
        lines.append(f"## {title}: {len(findings)}")
        lines += [f"- {f.provider} {f.payment_id} ({f.status}): {f.detail}" for f in findings]
        lines.append("")
    lines.append("## Events still on the retry ladder or in the dlq")
    lines += [
        f"- {provider}: retry {c.get('retry', 0)}, dlq {c.get('dlq', 0)}"
        for provider, c in report.unsettled.items()
    ] or ["- none"]
    return "\n".join(lines) + "\n"
