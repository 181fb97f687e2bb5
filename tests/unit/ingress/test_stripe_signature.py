"""Stripe signature verification, pinned to the official `stripe` package's verifier."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
import stripe
from hypothesis import given, settings
from hypothesis import strategies as st

from ingress.errors import SignatureError
from ingress.stripe_signature import sign_stripe_payload, verify_stripe_signature

SECRET = "whsec_test_primary"
OTHER_SECRET = "whsec_test_rotated"
TOLERANCE = 300
NOW = 1_700_000_000
PAYLOAD = b'{"id": "evt_1", "object":"event",  "type": "payment_intent.succeeded"}'


def hex_hmac(secret: str, timestamp: int, payload: bytes) -> str:
    """An independent HMAC, so the tests do not trust the code they check."""
    message = str(timestamp).encode() + b"." + payload
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(header: str | None, *, secrets: tuple[str, ...] = (SECRET,), now: float = NOW) -> None:
    verify_stripe_signature(PAYLOAD, header, secrets, TOLERANCE, now)


def rejection_code(header: str | None) -> str:
    with pytest.raises(SignatureError) as raised:
        verify(header)
    return raised.value.code


def test_accepts_a_header_built_by_sign_stripe_payload() -> None:
    verify(sign_stripe_payload(PAYLOAD, SECRET, NOW))


def test_sign_stripe_payload_matches_the_stripe_package() -> None:
    expected = stripe.WebhookSignature.generate_signature_header(PAYLOAD.decode(), SECRET, NOW)
    assert sign_stripe_payload(PAYLOAD, SECRET, NOW) == expected


def test_verifies_the_raw_bytes_not_a_reserialized_body() -> None:
    reserialized = json.dumps(json.loads(PAYLOAD)).encode()
    header = f"t={NOW},v1={hex_hmac(SECRET, NOW, reserialized)}"
    assert rejection_code(header) == "signature_invalid"


def test_accepts_bodies_that_are_not_utf8() -> None:
    body = b"\xff\xfe\x00binary"
    verify_stripe_signature(body, sign_stripe_payload(body, SECRET, NOW), [SECRET], TOLERANCE, NOW)


@pytest.mark.parametrize("header", [None, ""])
def test_missing_header(header: str | None) -> None:
    assert rejection_code(header) == "signature_missing"


@pytest.mark.parametrize(
    "header",
    [
        "garbage",
        f"v1={hex_hmac(SECRET, NOW, PAYLOAD)}",
        f"t={NOW}",
        f"t=soon,v1={hex_hmac(SECRET, NOW, PAYLOAD)}",
        f"t=,v1={hex_hmac(SECRET, NOW, PAYLOAD)}",
        f"t,t={NOW},v1={hex_hmac(SECRET, NOW, PAYLOAD)}",
        f"t={NOW},v1,v1={hex_hmac(SECRET, NOW, PAYLOAD)}",
        f"t={NOW},v0={hex_hmac(SECRET, NOW, PAYLOAD)}",
    ],
    ids=["no-fields", "no-t", "no-v1", "t-not-int", "t-empty", "bare-t", "bare-v1", "v0-only"],
)
def test_malformed_header(header: str) -> None:
    assert rejection_code(header) == "signature_malformed"


@pytest.mark.parametrize(
    "header",
    [
        f"t={NOW},v1={hex_hmac(OTHER_SECRET, NOW, PAYLOAD)}",
        f"t={NOW},v1={hex_hmac(SECRET, NOW + 1, PAYLOAD)}",
        f"t={NOW},v1={hex_hmac(SECRET, NOW, PAYLOAD + b' ')}",
        f"t={NOW},v1={hex_hmac(SECRET, NOW, PAYLOAD).upper()}",
        f"t={NOW},v1=é{hex_hmac(SECRET, NOW, PAYLOAD)[1:]}",
        f"t={NOW},v1=",
    ],
    ids=["wrong-secret", "other-timestamp", "tampered-body", "uppercase-hex", "non-ascii", "empty"],
)
def test_invalid_signature(header: str) -> None:
    assert rejection_code(header) == "signature_invalid"


def test_any_configured_secret_may_match() -> None:
    verify(sign_stripe_payload(PAYLOAD, OTHER_SECRET, NOW), secrets=(SECRET, OTHER_SECRET))


def test_any_v1_signature_may_match_and_v0_is_ignored() -> None:
    good = hex_hmac(SECRET, NOW, PAYLOAD)
    verify(f"t={NOW},v0=00,v1={'0' * 64},v1={good}")


def test_first_timestamp_is_the_signed_one() -> None:
    verify(f"t={NOW},t=1,v1={hex_hmac(SECRET, NOW, PAYLOAD)}")


@pytest.mark.parametrize("timestamp", [f"+{NOW}", f"0{NOW}", f" {NOW}"])
def test_timestamp_is_read_like_int_as_stripe_does(timestamp: str) -> None:
    verify(f"t={timestamp},v1={hex_hmac(SECRET, NOW, PAYLOAD)}")


def test_a_value_ends_at_a_second_equals_sign_as_stripe_does() -> None:
    verify(f"t={NOW}=junk,v1={hex_hmac(SECRET, NOW, PAYLOAD)}=junk")


def test_timestamp_on_the_tolerance_edge_is_accepted() -> None:
    verify(sign_stripe_payload(PAYLOAD, SECRET, NOW - TOLERANCE))


def test_timestamp_past_the_tolerance_is_rejected() -> None:
    header = sign_stripe_payload(PAYLOAD, SECRET, NOW - TOLERANCE - 1)
    assert rejection_code(header) == "timestamp_out_of_tolerance"


def test_future_timestamp_is_accepted_as_stripe_does() -> None:
    verify(sign_stripe_payload(PAYLOAD, SECRET, NOW + 10 * TOLERANCE))


def test_bad_signature_is_reported_before_a_stale_timestamp() -> None:
    header = f"t={NOW - 10 * TOLERANCE},v1={'0' * 64}"
    assert rejection_code(header) == "signature_invalid"


@pytest.mark.parametrize("tolerance", [0, -1])
def test_tolerance_must_be_positive(tolerance: int) -> None:
    header = sign_stripe_payload(PAYLOAD, SECRET, NOW)
    with pytest.raises(ValueError, match="tolerance"):
        verify_stripe_signature(PAYLOAD, header, [SECRET], tolerance, NOW)


@pytest.mark.parametrize("secrets", [[], [" "], [SECRET, ""], SECRET], ids=repr)
def test_secrets_must_be_a_non_blank_sequence(secrets: list[str] | str) -> None:
    header = sign_stripe_payload(PAYLOAD, SECRET, NOW)
    with pytest.raises(ValueError, match="secret"):
        verify_stripe_signature(PAYLOAD, header, secrets, TOLERANCE, NOW)


# --- differential tests against stripe.WebhookSignature.verify_header ----------------------
#
# The stripe package reads its own clock (time.time()), so generated timestamps are offsets
# from the real time, kept 10 s away from the tolerance edge so the two calls cannot disagree
# because a second ticked between them.

EDGE_MARGIN = 10
tolerances = st.integers(min_value=EDGE_MARGIN + 1, max_value=3 * 24 * 3600)
secret_lists = st.lists(
    st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=12).map(
        lambda text: f"whsec_{text}"
    ),
    min_size=1,
    max_size=3,
    unique=True,
)
payloads = st.text(st.characters(codec="utf-8"), max_size=200)
hex_digests = st.text("0123456789abcdef", min_size=64, max_size=64)


@st.composite
def timestamps(draw: st.DrawFn, tolerance: int) -> int:
    """A Unix time well inside or well outside the tolerance window (past or future)."""
    offset = draw(
        st.one_of(
            st.integers(-10 * tolerance, -tolerance - EDGE_MARGIN),
            st.integers(-tolerance + EDGE_MARGIN, 10 * tolerance),
        )
    )
    return int(time.time()) + offset


@st.composite
def signature_items(
    draw: st.DrawFn, payload: bytes, timestamp: int, secrets: list[str]
) -> tuple[str, str]:
    """One `scheme=signature` item: genuine, under a stranger's secret, stale, or random."""
    scheme = draw(st.sampled_from(["v1", "v1", "v0"]))
    secret = draw(st.sampled_from([*secrets, "whsec_stranger"]))
    signed_at = draw(st.sampled_from([timestamp, timestamp, timestamp - 1]))
    digest = draw(st.one_of(st.just(hex_hmac(secret, signed_at, payload)), hex_digests))
    return scheme, digest


@st.composite
def well_formed_cases(draw: st.DrawFn) -> tuple[str, str, list[str], int]:
    tolerance = draw(tolerances)
    secrets = draw(secret_lists)
    payload = draw(payloads)
    timestamp = draw(timestamps(tolerance))
    items = draw(st.lists(signature_items(payload.encode(), timestamp, secrets), max_size=4))
    fields = [("t", str(timestamp)), *items]
    header = ",".join(f"{key}={value}" for key, value in draw(st.permutations(fields)))
    return payload, header, secrets, tolerance


@st.composite
def messy_cases(draw: st.DrawFn) -> tuple[str, str, list[str], int]:
    """Headers that bend the grammar: odd keys, bare keys, int() spellings, extra '='."""
    tolerance = draw(tolerances)
    secrets = draw(secret_lists)
    payload = draw(payloads)
    timestamp = draw(timestamps(tolerance))
    genuine = hex_hmac(secrets[0], timestamp, payload.encode())
    values = st.sampled_from(
        [str(timestamp), f"+{timestamp}", f"0{timestamp}", f" {timestamp}", "x", "", genuine]
    )
    item = st.tuples(
        st.sampled_from(["t", "v1", "v0", "x", " v1", "T", ""]),
        st.one_of(st.none(), values),
        st.sampled_from(["", "=", "=junk"]),
    ).map(lambda kv: kv[0] if kv[1] is None else f"{kv[0]}={kv[1]}{kv[2]}")
    # Without a spelled timestamp and the genuine signature, nearly every case is a rejection.
    anchors = [f"t={draw(values)}", f"v1={genuine}"] if draw(st.booleans()) else []
    fields = draw(st.lists(item, min_size=1, max_size=4)) + anchors
    header = ",".join(draw(st.permutations(fields)))
    return payload, header, secrets, tolerance


def stripe_accepts(payload: str, header: str, secrets: list[str], tolerance: int) -> bool:
    """Ours takes several secrets; stripe one: ours must accept iff stripe accepts one."""
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(payload, header, secret, tolerance)
        except stripe.SignatureVerificationError:
            continue
        return True
    return False


def we_accept(payload: str, header: str, secrets: list[str], tolerance: int) -> bool:
    try:
        verify_stripe_signature(payload.encode(), header, secrets, tolerance, time.time())
    except SignatureError:
        return False
    return True


@settings(max_examples=200, deadline=None)
@given(well_formed_cases())
def test_agrees_with_stripe_on_well_formed_headers(case: tuple[str, str, list[str], int]) -> None:
    assert we_accept(*case) == stripe_accepts(*case)


@settings(max_examples=200, deadline=None)
@given(messy_cases())
def test_agrees_with_stripe_on_messy_headers(case: tuple[str, str, list[str], int]) -> None:
    assert we_accept(*case) == stripe_accepts(*case)
