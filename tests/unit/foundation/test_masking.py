"""One list of personal and secret fields, for documents, text and log lines."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from common.logging import MaskingFilter, configure_logging
from common.masking import MASK, is_sensitive, mask_document, mask_text, mask_value

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "samples"
#: What each sample holds that must never reach a log: emails, names, addresses, card digits.
PERSONAL = ("@example.", "Doe", "Main St", "Springfield", "4242", "+1555", "MERCHANT1")


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("contact jo.doe+x@example.co.uk now", "contact [email] now"),
        ("card 4242 4242 4242 4242 declined", "card [number] declined"),
        ("call +49 (30) 1234-5678", "call [number]"),
        ("{'name': 'Jo Doe', 'city': 'Berlin'}", "{'name': [masked], 'city': [masked]}"),
        ('got {"name": "Jo", "n": 1234567} ', 'got {"name": "[masked]", "n": 1234567} '),
        ('{"note": "jo@x.io"', '{"note": "[email]"'),  # not JSON: masked as text
        ("payer_id=ABC123, amount=5", "payer_id=[masked], amount=5"),
        ("card_number: 4000056655665556", "card_number: [masked]"),
        ("refunds of 1500 > 1000 captured", "refunds of 1500 > 1000 captured"),
        ("USD on a EUR payment", "USD on a EUR payment"),
        ("secret whsec_abc123 and sk_live_XyZ9", "secret [secret] and [secret]"),
        ("Authorization: Bearer abc.def", "Authorization: [masked]"),
        # ids and times stay readable, although they hold digit runs
        ("WH-CC35473799F64DC8A capture 6714905C869445058", None),
        ("at 2025-11-25T19:46:51.000Z key a27d6348-9d7c-4836-b96d-103ad64bbc53", None),
    ],
)
def test_text_loses_personal_data_and_secrets_and_keeps_rules(
    text: str, masked: str | None
) -> None:
    assert mask_text(text) == (text if masked is None else masked)


@pytest.mark.parametrize(
    ("field", "sensitive"),
    [
        ("email", True),
        ("receipt_email", True),
        ("billing_details", True),
        ("card_number", True),
        ("Stripe-Signature", True),
        ("webhook_secrets", True),
        ("id", False),
        ("amount", False),
        ("currency_code", False),
        ("status", False),
        ("event_type", False),
        ("username", False),
    ],
)
def test_a_field_is_sensitive_by_its_name_or_its_last_part(field: str, sensitive: bool) -> None:
    assert is_sensitive(field) is sensitive


def test_a_document_keeps_ids_amounts_and_statuses() -> None:
    document = {"id": "pi_1", "amount": 5, "status": "ok", "payer": {"email_address": "x@y.z"}}
    assert mask_document(document) == {"id": "pi_1", "amount": 5, "status": "ok", "payer": MASK}


def test_a_value_for_a_log_is_masked_whatever_its_form() -> None:
    document = {"id": "evt_1", "note": "mail jo@x.io", "card": {"last4": "4242"}}
    expected = {"id": "evt_1", "note": "mail [email]", "card": MASK}
    assert mask_value(document) == expected
    assert json.loads(str(mask_value(json.dumps(document)))) == expected
    assert json.loads(str(mask_value(json.dumps(document).encode()))) == expected
    assert mask_value([1, 2.5, None, True]) == [1, 2.5, None, True]
    assert mask_value(ValueError("no jo@x.io")) == "no [email]"


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The root logger as every component configures it, writing to a buffer."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging("INFO", component="test")
    stream = io.StringIO()
    root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
    try:
        yield stream
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.mark.parametrize("sample", sorted(SAMPLES.glob("*.json")), ids=lambda p: p.name)
def test_a_provider_payload_logged_in_any_form_comes_out_masked(
    sample: Path, json_log: io.StringIO
) -> None:
    body = sample.read_bytes()
    payload = json.loads(body)
    log = logging.getLogger("payments.test")
    log.info("payload", extra={"payload": payload, "body": body, "text": body.decode()})
    log.info("payload %s", payload)  # a lone mapping argument becomes record.args
    log.info("payload %s %s", body.decode(), payload)
    log.info(f"payload {body.decode()}")
    try:
        raise ValueError(body.decode())
    except ValueError:
        log.exception("failed")

    out = json_log.getvalue()
    assert len(lines(json_log)) == 5
    for personal in PERSONAL:
        assert personal not in out, personal
    first = lines(json_log)[0]
    assert first["payload"]["id"] == payload["id"]  # type: ignore[index]
    assert json.loads(str(first["text"]))["id"] == payload["id"]


def test_extras_named_like_personal_data_or_secrets_lose_their_value(
    json_log: io.StringIO,
) -> None:
    logging.getLogger("payments.test").warning(
        "refused %(provider)s",
        {"provider": "stripe", "email": "jo@x.io"},
        extra={"phone": "+49 30 1234567", "stripe_signature": "t=1,v1=ab", "outcome": "ok"},
    )
    [line] = lines(json_log)
    assert line["message"] == "refused stripe"
    assert (line["phone"], line["stripe_signature"], line["outcome"]) == (MASK, MASK, "ok")


def test_a_record_that_cannot_be_masked_is_withheld_not_raised() -> None:
    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError("no")

    record = logging.makeLogRecord({"msg": "x %s", "args": (Unprintable(),), "secret_ish": 1})
    assert MaskingFilter().filter(record)
    assert record.getMessage() == "log record withheld: it could not be masked"
    assert not hasattr(record, "secret_ish")
