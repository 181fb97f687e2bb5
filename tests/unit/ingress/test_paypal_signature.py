"""PayPal signature verification against a throwaway PKI built with `cryptography`."""

from __future__ import annotations

import json
import zlib
from dataclasses import replace
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.verification import Store

from ingress.errors import SignatureError
from ingress.paypal_signature import (
    PayPalHeaders,
    TransmissionReplayCache,
    check_certificate,
    validate_cert_url,
    verify_paypal_signature,
)
from tests.support.paypal_pki import CERT_URL, DAY, NOW, Pki, build_pki, issue

TOLERANCE = 300
WEBHOOK_ID = "8PT597110X687430LKGECATA"
TRANSMISSION_ID = "b2384410-f8d2-11ee-8a70-0fee6b30a0d1"
TRANSMISSION_TIME = "2026-03-01T12:00:00Z"
# Spacing as a provider might send it: re-serializing would change the bytes.
BODY = b'{"id":"WH-1",  "event_type": "PAYMENT.CAPTURE.COMPLETED", "resource": {"id": "5O1"}}'


@pytest.fixture(scope="module")
def pki() -> Pki:
    return build_pki()


def signed_headers(pki: Pki, body: bytes = BODY, webhook_id: str = WEBHOOK_ID) -> PayPalHeaders:
    message = f"{TRANSMISSION_ID}|{TRANSMISSION_TIME}|{webhook_id}|{zlib.crc32(body)}"
    return PayPalHeaders(
        transmission_id=TRANSMISSION_ID,
        transmission_time=TRANSMISSION_TIME,
        transmission_sig=pki.sign(message),
        cert_url=CERT_URL,
        auth_algo="SHA256withRSA",
    )


def rejection_code(pki: Pki, headers: PayPalHeaders, body: bytes = BODY) -> str:
    with pytest.raises(SignatureError) as raised:
        verify_paypal_signature(body, headers, WEBHOOK_ID, pki.leaf, NOW, TOLERANCE)
    return raised.value.code


# --- signature ----------------------------------------------------------------------------


def test_accepts_a_genuine_signature(pki: Pki) -> None:
    verify_paypal_signature(BODY, signed_headers(pki), WEBHOOK_ID, pki.leaf, NOW, TOLERANCE)


def test_the_signed_crc32_is_an_unsigned_decimal(pki: Pki) -> None:
    # crc32(b"{}") has its high bit set: as a signed 32-bit int it would be negative.
    message = f"{TRANSMISSION_ID}|{TRANSMISSION_TIME}|{WEBHOOK_ID}|2745614147"
    headers = replace(signed_headers(pki), transmission_sig=pki.sign(message))
    verify_paypal_signature(b"{}", headers, WEBHOOK_ID, pki.leaf, NOW, TOLERANCE)


def test_rejects_a_tampered_body(pki: Pki) -> None:
    assert rejection_code(pki, signed_headers(pki), BODY.replace(b"5O1", b"5O2")) == (
        "signature_invalid"
    )


def test_verifies_the_raw_bytes_not_a_reserialized_body(pki: Pki) -> None:
    reserialized = json.dumps(json.loads(BODY)).encode()
    assert rejection_code(pki, signed_headers(pki), reserialized) == "signature_invalid"


def test_rejects_a_signature_for_another_webhook_id(pki: Pki) -> None:
    headers = signed_headers(pki, webhook_id="OTHER-WEBHOOK")
    assert rejection_code(pki, headers) == "signature_invalid"


def test_rejects_a_signature_by_another_key(pki: Pki) -> None:
    impostor = build_pki(root_role="impostor")
    headers = signed_headers(pki)
    with pytest.raises(SignatureError) as raised:
        verify_paypal_signature(BODY, headers, WEBHOOK_ID, impostor.root, NOW, TOLERANCE)
    assert raised.value.code == "signature_invalid"


@pytest.mark.parametrize("algo", ["SHA1withRSA", "sha256withrsa", "SHA256withECDSA"])
def test_rejects_other_algorithms(pki: Pki, algo: str) -> None:
    headers = replace(signed_headers(pki), auth_algo=algo)
    assert rejection_code(pki, headers) == "signature_algorithm_unsupported"


def test_rejects_a_signature_that_is_not_base64(pki: Pki) -> None:
    headers = replace(signed_headers(pki), transmission_sig="not base64!")
    assert rejection_code(pki, headers) == "signature_malformed"


def test_rejects_a_certificate_without_an_rsa_key(pki: Pki) -> None:
    ec_leaf = issue("ec", ec.generate_private_key(ec.SECP256R1()), None, is_ca=False)
    with pytest.raises(SignatureError) as raised:
        verify_paypal_signature(BODY, signed_headers(pki), WEBHOOK_ID, ec_leaf, NOW, TOLERANCE)
    assert raised.value.code == "certificate_invalid"


@pytest.mark.parametrize("skew", [TOLERANCE, -TOLERANCE])
def test_accepts_a_transmission_time_on_the_tolerance_edge(pki: Pki, skew: int) -> None:
    now = NOW + timedelta(seconds=skew)
    verify_paypal_signature(BODY, signed_headers(pki), WEBHOOK_ID, pki.leaf, now, TOLERANCE)


@pytest.mark.parametrize("skew", [TOLERANCE + 1, -TOLERANCE - 1])
def test_rejects_a_transmission_time_out_of_tolerance(pki: Pki, skew: int) -> None:
    now = NOW + timedelta(seconds=skew)
    with pytest.raises(SignatureError) as raised:
        verify_paypal_signature(BODY, signed_headers(pki), WEBHOOK_ID, pki.leaf, now, TOLERANCE)
    assert raised.value.code == "timestamp_out_of_tolerance"


@pytest.mark.parametrize("value", ["yesterday", "2026-03-01T12:00:00", ""])
def test_rejects_a_transmission_time_that_is_not_an_utc_iso_time(pki: Pki, value: str) -> None:
    headers = replace(signed_headers(pki), transmission_time=value)
    assert rejection_code(pki, headers) == "signature_malformed"


@pytest.mark.parametrize(("webhook_id", "tolerance"), [("", TOLERANCE), (WEBHOOK_ID, 0)])
def test_configuration_errors_are_value_errors(pki: Pki, webhook_id: str, tolerance: int) -> None:
    with pytest.raises(ValueError, match="must"):
        verify_paypal_signature(BODY, signed_headers(pki), webhook_id, pki.leaf, NOW, tolerance)


# --- headers ------------------------------------------------------------------------------

RAW_HEADERS = {
    "PAYPAL-TRANSMISSION-ID": "id-1",
    "paypal-transmission-time": "2026-03-01T12:00:00Z",
    "Paypal-Transmission-Sig": "c2ln",
    "PAYPAL-CERT-URL": CERT_URL,
    "PAYPAL-AUTH-ALGO": "SHA256withRSA",
}


def test_headers_are_read_whatever_their_case() -> None:
    assert PayPalHeaders.from_mapping(RAW_HEADERS) == PayPalHeaders(
        "id-1", "2026-03-01T12:00:00Z", "c2ln", CERT_URL, "SHA256withRSA"
    )


@pytest.mark.parametrize("name", list(RAW_HEADERS))
@pytest.mark.parametrize("value", [None, ""])
def test_a_missing_or_empty_header_is_signature_missing(name: str, value: str | None) -> None:
    headers = {key: raw for key, raw in RAW_HEADERS.items() if key != name}
    if value is not None:
        headers[name] = value
    with pytest.raises(SignatureError) as raised:
        PayPalHeaders.from_mapping(headers)
    assert raised.value.code == "signature_missing"


# --- certificate URL ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        CERT_URL,
        "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-1",
        "https://api-m.paypal.com/v1/notifications/certs/CERT-1",
        "https://api-m.sandbox.paypal.com/v1/notifications/certs/CERT-1",
        "https://API.PayPal.com/v1/notifications/certs/CERT-1",
        "https://api.paypal.com:443/v1/notifications/certs/CERT-1",
    ],
)
def test_accepts_paypal_cert_urls(url: str) -> None:
    validate_cert_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://api.paypal.com/v1/notifications/certs/CERT-1",
        "ftp://api.paypal.com/v1/notifications/certs/CERT-1",
        "//api.paypal.com/v1/notifications/certs/CERT-1",
        "https://evil.example/v1/notifications/certs/CERT-1",
        "https://api.paypal.com.evil.example/v1/notifications/certs/CERT-1",
        "https://api.paypal.com./v1/notifications/certs/CERT-1",
        "https://paypal.com/v1/notifications/certs/CERT-1",
        "https://user@api.paypal.com/v1/notifications/certs/CERT-1",
        "https://api.paypal.com@evil.example/v1/notifications/certs/CERT-1",
        "https://api.paypal.com:8443/v1/notifications/certs/CERT-1",
        "https://api.paypal.com:80/v1/notifications/certs/CERT-1",
        "https://api.paypal.com:https/v1/notifications/certs/CERT-1",
        "https://api.paypal.com/v1/notifications/CERT-1",
        "https://api.paypal.com/v1/notifications/certs/",
        "https://api.paypal.com/v1/notifications/certs/../../oauth2/token",
        "https://api.paypal.com/v1/notifications/certs/a/b",
        "https://api.paypal.com/v2/notifications/certs/CERT-1",
        "https://api.paypal.com/v1/notifications/certs/CERT-1?x=1",
        "https://api.paypal.com/v1/notifications/certs/CERT-1#x",
        "https://api.paypal.com/v1/notifications/certs/CERT-1\n",
        "https://api.paypal.com/v1/notifications/certs/CERT-é",
        "",
    ],
)
def test_rejects_cert_urls_off_the_allow_list(url: str) -> None:
    with pytest.raises(SignatureError) as raised:
        validate_cert_url(url)
    assert raised.value.code == "cert_url_invalid"


def test_the_host_allow_list_is_configurable() -> None:
    url = "https://certs.example/v1/notifications/certs/CERT-1"
    validate_cert_url(url, allowed_hosts={"certs.example"})
    with pytest.raises(SignatureError):
        validate_cert_url(CERT_URL, allowed_hosts={"certs.example"})


# --- certificate checks -------------------------------------------------------------------


def certificate_rejection(pki: Pki, store: Store, **kwargs: str) -> str:
    with pytest.raises(SignatureError) as raised:
        check_certificate(pki.leaf, [pki.intermediate], store, NOW, **kwargs)
    return raised.value.code


def test_accepts_a_leaf_chained_to_a_trusted_root(pki: Pki) -> None:
    check_certificate(pki.leaf, [pki.intermediate], pki.store, NOW)


def test_rejects_an_expired_leaf() -> None:
    expired = build_pki(leaf_not_before=NOW - 400 * DAY, leaf_not_after=NOW - DAY)
    assert certificate_rejection(expired, expired.store) == "certificate_invalid"


def test_rejects_a_leaf_not_yet_valid() -> None:
    early = build_pki(leaf_not_before=NOW + DAY)
    assert certificate_rejection(early, early.store) == "certificate_invalid"


def test_rejects_a_leaf_for_another_common_name() -> None:
    other = build_pki(leaf_common_name="evil.example")
    assert certificate_rejection(other, other.store) == "certificate_invalid"


def test_the_expected_common_name_is_configurable() -> None:
    sandbox = build_pki(leaf_common_name="messageverificationcerts.sandbox.paypal.com")
    name = "messageverificationcerts.sandbox.paypal.com"
    check_certificate(sandbox.leaf, [sandbox.intermediate], sandbox.store, NOW, name)


def test_rejects_a_chain_to_an_untrusted_root(pki: Pki) -> None:
    assert certificate_rejection(pki, build_pki(root_role="impostor").store) == (
        "certificate_invalid"
    )


def test_rejects_a_chain_missing_its_intermediate(pki: Pki) -> None:
    with pytest.raises(SignatureError) as raised:
        check_certificate(pki.leaf, [], pki.store, NOW)
    assert raised.value.code == "certificate_invalid"


# --- replay cache -------------------------------------------------------------------------


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_transmission_id_is_accepted_once_within_the_ttl() -> None:
    clock = FakeMonotonic()
    cache = TransmissionReplayCache(ttl_seconds=600, clock=clock)
    cache.claim("t-1")
    clock.now += 599
    with pytest.raises(SignatureError) as raised:
        cache.claim("t-1")
    assert raised.value.code == "transmission_replayed"
    cache.claim("t-2")


def test_a_transmission_id_is_forgotten_after_the_ttl() -> None:
    clock = FakeMonotonic()
    cache = TransmissionReplayCache(ttl_seconds=600, clock=clock)
    cache.claim("t-1")
    clock.now += 600
    cache.claim("t-1")
    assert len(cache) == 1


def test_a_released_claim_can_be_made_again() -> None:
    cache = TransmissionReplayCache(ttl_seconds=600, clock=FakeMonotonic())
    cache.claim("t-1")
    cache.release("t-1")
    cache.claim("t-1")
    cache.release("never-claimed")


def test_the_cache_is_bounded_and_forgets_the_oldest_first() -> None:
    cache = TransmissionReplayCache(ttl_seconds=600, max_entries=2, clock=FakeMonotonic())
    for transmission_id in ("t-1", "t-2", "t-3"):
        cache.claim(transmission_id)
    assert len(cache) == 2
    cache.claim("t-1")
    with pytest.raises(SignatureError):
        cache.claim("t-3")


@pytest.mark.parametrize(("ttl", "size"), [(0, 10), (60, 0)])
def test_replay_cache_configuration_must_be_positive(ttl: float, size: int) -> None:
    with pytest.raises(ValueError, match="must be > 0"):
        TransmissionReplayCache(ttl_seconds=ttl, max_entries=size)
