"""The committed JSON Schema of payment-events: current, and only ever extended."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from schemas.events import (
    PAYMENT_EVENT_SCHEMA_PATH,
    SCHEMA_VERSION,
    PaymentEvent,
    breaking_changes,
    payment_event_json_schema,
)

REGENERATE = (
    ".venv/bin/python -c 'import json; from schemas.events import payment_event_json_schema"
    " as s; print(json.dumps(s(), indent=2, sort_keys=True))' > schemas/payment_event.schema.json"
)


@pytest.fixture(scope="module")
def committed() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(PAYMENT_EVENT_SCHEMA_PATH.read_text())
    return schema


def test_the_model_keeps_the_committed_schema_compatible(committed: dict[str, Any]) -> None:
    assert breaking_changes(committed, payment_event_json_schema()) == []


def test_the_committed_schema_is_current(committed: dict[str, Any]) -> None:
    assert committed == payment_event_json_schema(), f"stale; regenerate: {REGENERATE}"


def test_records_carry_their_schema_version() -> None:
    assert PaymentEvent.model_fields["schema_version"].default == SCHEMA_VERSION == 2


def _edited(schema: dict[str, Any], edit: str) -> dict[str, Any]:
    changed = copy.deepcopy(schema)
    properties, required = changed["properties"], changed["required"]
    match edit:
        case "remove":
            del properties["refund_id"]
        case "rename":
            properties["refund_ref"] = properties.pop("refund_id")
        case "retype":
            properties["captured_amount"] = {"type": "string"}
        case "require":
            required.append("order_id")
        case "add_required":
            properties["tenant"] = {"type": "string"}
            required.append("tenant")
        case "shrink_enum":
            changed["$defs"]["PaymentStatus"]["enum"].remove("dispute_lost")
        case "add_optional":
            properties["tenant"] = {"anyOf": [{"type": "string"}, {"type": "null"}]}
        case "document":
            properties["order_id"]["description"] = "PayPal order of the capture"
    return changed


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        ("remove", "refund_id: removed or renamed"),
        ("rename", "refund_id: removed or renamed"),
        ("retype", "captured_amount: type changed"),
        ("require", "order_id: now required"),
        ("add_required", "tenant: now required"),
        ("shrink_enum", "status: type changed"),
    ],
)
def test_breaking_edits_are_reported(committed: dict[str, Any], edit: str, problem: str) -> None:
    assert problem in breaking_changes(committed, _edited(committed, edit))


@pytest.mark.parametrize("edit", ["add_optional", "document"])
def test_compatible_edits_pass(committed: dict[str, Any], edit: str) -> None:
    assert breaking_changes(committed, _edited(committed, edit)) == []


def test_readers_ignore_fields_added_later() -> None:
    record = {
        "provider": "stripe",
        "event_id": "evt_1",
        "event_type": "charge.failed",
        "payment_id": "pi_1",
        "payment_key": "stripe:pi_1",
        "effect": "status",
        "status": "failed",
        "outcome": "applied",
        "version": 1,
        "captured_amount": 0,
        "refunded_amount": 0,
        "occurred_at": "2025-11-25T19:46:51Z",
        "received_at": "2025-11-25T19:46:52Z",
        "correlation_id": "c-1",
        "added_in_a_later_version": True,
    }
    assert PaymentEvent.model_validate_json(json.dumps(record)).event_id == "evt_1"


@pytest.mark.parametrize(("schema_version", "captured_amount"), [(1, 0), (2, 2000), (2, None)])
def test_version_1_records_still_read_and_version_2_may_leave_the_capture_unknown(
    schema_version: int, captured_amount: int | None
) -> None:
    record = {
        "schema_version": schema_version,
        "provider": "stripe",
        "event_id": "evt_1",
        "event_type": "refund.created",
        "payment_id": "pi_1",
        "payment_key": "stripe:pi_1",
        "effect": "refund",
        "status": "partially_refunded",
        "outcome": "applied",
        "version": 1,
        "captured_amount": captured_amount,
        "refunded_amount": 500,
        "occurred_at": "2025-11-25T19:46:51Z",
        "received_at": "2025-11-25T19:46:52Z",
        "correlation_id": "c-1",
    }
    event = PaymentEvent.model_validate_json(json.dumps(record))
    assert (event.schema_version, event.captured_amount) == (schema_version, captured_amount)
