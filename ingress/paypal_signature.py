"""PayPal webhook signatures, verified offline (no call to PayPal's verify API).

PayPal signs `"{transmission_id}|{transmission_time}|{webhook_id}|{crc32(raw body)}"`
(crc32 as an unsigned decimal) with SHA256withRSA, using the key of the certificate found
at `PAYPAL-CERT-URL`. Everything here is pure: fetching and caching that certificate lives
in `ingress.paypal_certs`.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import SplitResult, urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from ingress.errors import (
    CertificateInvalid,
    CertUrlInvalid,
    SignatureAlgorithmUnsupported,
    SignatureInvalid,
    SignatureMalformed,
    SignatureMissing,
    TimestampOutOfTolerance,
    TransmissionReplayed,
)

DEFAULT_CERT_HOSTS = frozenset(
    {"api.paypal.com", "api.sandbox.paypal.com", "api-m.paypal.com", "api-m.sandbox.paypal.com"}
)
DEFAULT_CERT_COMMON_NAME = "messageverificationcerts.paypal.com"
AUTH_ALGO = "SHA256withRSA"

# One certificate name after the fixed prefix: no further segments, no "." or "..".
_CERT_PATH = re.compile(r"/v1/notifications/certs/[A-Za-z0-9][A-Za-z0-9._-]*")
# Printable ASCII only: urlsplit silently drops some whitespace and control characters.
_URL_CHARACTERS = re.compile(r"[\x21-\x7e]+")
# In the order of the PayPalHeaders fields.
_HEADER_NAMES = (
    "paypal-transmission-id",
    "paypal-transmission-time",
    "paypal-transmission-sig",
    "paypal-cert-url",
    "paypal-auth-algo",
)


@dataclass(frozen=True)
class PayPalHeaders:
    """The PayPal signature headers of one request, values exactly as received."""

    transmission_id: str
    transmission_time: str
    transmission_sig: str
    cert_url: str
    auth_algo: str

    @classmethod
    def from_mapping(cls, headers: Mapping[str, str]) -> PayPalHeaders:
        """Read the `PAYPAL-*` headers, whatever their case; `SignatureMissing` if one is absent."""
        values = [headers.get(name, "") for name in _HEADER_NAMES]
        if not all(values):  # lower-case names (as ASGI gives them) are the usual case
            by_name = {name.lower(): value for name, value in headers.items()}
            values = [by_name.get(name, "") for name in _HEADER_NAMES]
        if not all(values):
            raise SignatureMissing("a PAYPAL-* signature header is missing or empty")
        return cls(*values)


def verify_paypal_signature(
    payload: bytes,
    headers: PayPalHeaders,
    webhook_id: str,
    certificate: x509.Certificate,
    now: datetime,
    tolerance_seconds: int,
) -> None:
    """Return if `headers.transmission_sig` signs `payload` for `webhook_id`.

    `certificate` must already have passed `check_certificate`. `now` must be timezone-aware.
    Raises `SignatureAlgorithmUnsupported`, `SignatureMalformed`, `TimestampOutOfTolerance`,
    `CertificateInvalid` or `SignatureInvalid`; `ValueError` for a bad configuration.
    """
    if not webhook_id:
        raise ValueError("webhook_id must not be empty")
    if tolerance_seconds <= 0:
        raise ValueError("tolerance_seconds must be > 0")
    if headers.auth_algo != AUTH_ALGO:
        raise SignatureAlgorithmUnsupported(f"PAYPAL-AUTH-ALGO must be {AUTH_ALGO}")
    _check_transmission_time(headers.transmission_time, now, tolerance_seconds)
    _check_signature(_signed_message(payload, headers, webhook_id), headers, certificate)


def validate_cert_url(url: str, allowed_hosts: Collection[str] = DEFAULT_CERT_HOSTS) -> None:
    """Raise `CertUrlInvalid` unless `url` is https on an allowed host and certificate path.

    Accepted: `https://<host>/v1/notifications/certs/<name>`. Rejected: other schemes,
    userinfo, any port but 443, query or fragment, other paths. The URL comes from the
    request, so without this check an attacker would choose the signing key.
    """
    if not _URL_CHARACTERS.fullmatch(url):
        raise CertUrlInvalid("certificate URL has characters outside printable ASCII")
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise CertUrlInvalid("certificate URL must use https")
    if "@" in parts.netloc:
        raise CertUrlInvalid("certificate URL must not carry userinfo")
    if _port(parts) not in (None, 443):
        raise CertUrlInvalid("certificate URL must use the default https port")
    if parts.hostname not in {host.lower() for host in allowed_hosts}:
        raise CertUrlInvalid(f"certificate host {parts.hostname!r} is not allowed")
    if not _CERT_PATH.fullmatch(parts.path) or parts.query or parts.fragment:
        raise CertUrlInvalid("certificate URL path is not a PayPal certificate path")


def check_certificate(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    trust_store: Store,
    now: datetime,
    expected_common_name: str = DEFAULT_CERT_COMMON_NAME,
) -> list[x509.Certificate]:
    """The verified path, leaf to trusted root; `CertificateInvalid` unless `leaf` is PayPal's
    message-signing certificate.

    The leaf's subject CN must be `expected_common_name`, and the leaf must chain through
    `intermediates` to a root in `trust_store` with every certificate valid at `now`. The
    chain is checked with web PKI rules for a server named `expected_common_name` (SAN,
    serverAuth usage): PayPal's certificate is a public TLS certificate for that name.
    """
    common_names = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if [attribute.value for attribute in common_names] != [expected_common_name]:
        raise CertificateInvalid(f"certificate subject is not CN={expected_common_name}")
    verifier = (
        PolicyBuilder()
        .store(trust_store)
        .time(now)
        .build_server_verifier(x509.DNSName(expected_common_name))
    )
    try:
        return verifier.verify(leaf, list(intermediates))
    except VerificationError as error:
        raise CertificateInvalid(f"certificate chain rejected: {error}") from error


class TransmissionReplayCache:
    """Rejects a `PAYPAL-TRANSMISSION-ID` seen again within `ttl_seconds`.

    Use a TTL at least as long as the transmission-time tolerance: older replays are already
    rejected by their timestamp. When full, the oldest id is forgotten first (it is the next
    to expire anyway). The cache is per process; exactly-once downstream does not rely on it.
    `clock` must be monotonic.
    """

    def __init__(
        self,
        ttl_seconds: float,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_seconds <= 0 or max_entries <= 0:
            raise ValueError("ttl_seconds and max_entries must be > 0")
        self._ttl_seconds = ttl_seconds
        self._max_entries = max_entries
        self._clock = clock
        # Insertion order is expiry order: one TTL and a monotonic clock.
        self._expiries: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._expiries)

    def claim(self, transmission_id: str) -> None:
        """Record `transmission_id`; raise `TransmissionReplayed` if it is already recorded.

        Claim only after the signature verified, or forged requests could burn genuine ids.
        """
        now = self._clock()
        self._forget_expired(now)
        if transmission_id in self._expiries:
            raise TransmissionReplayed(f"transmission {transmission_id!r} was already accepted")
        if len(self._expiries) >= self._max_entries:
            self._expiries.popitem(last=False)
        self._expiries[transmission_id] = now + self._ttl_seconds

    def release(self, transmission_id: str) -> None:
        """Forget a claim whose request then failed (e.g. broker down, 503), so that
        PayPal's retry of the same transmission is not taken for a replay."""
        self._expiries.pop(transmission_id, None)

    def _forget_expired(self, now: float) -> None:
        while self._expiries and next(iter(self._expiries.values())) <= now:
            self._expiries.popitem(last=False)


def _check_transmission_time(value: str, now: datetime, tolerance_seconds: int) -> None:
    try:
        sent_at = datetime.fromisoformat(value)
    except ValueError:
        raise SignatureMalformed("PAYPAL-TRANSMISSION-TIME is not an ISO 8601 time") from None
    # A time without offset is ambiguous; PayPal always sends UTC ("...Z").
    if sent_at.tzinfo is None:
        raise SignatureMalformed("PAYPAL-TRANSMISSION-TIME has no UTC offset")
    if abs((now - sent_at).total_seconds()) > tolerance_seconds:
        raise TimestampOutOfTolerance(f"transmission time {value} is off by > {tolerance_seconds}s")


def signed_message(
    payload: bytes, transmission_id: str, transmission_time: str, webhook_id: str
) -> bytes:
    """The bytes PayPal signs for one transmission of `payload` (module docs)."""
    fields = (transmission_id, transmission_time, webhook_id, zlib.crc32(payload))
    return "|".join(str(field) for field in fields).encode()


def _signed_message(payload: bytes, headers: PayPalHeaders, webhook_id: str) -> bytes:
    return signed_message(payload, headers.transmission_id, headers.transmission_time, webhook_id)


def _check_signature(message: bytes, headers: PayPalHeaders, certificate: x509.Certificate) -> None:
    try:
        signature = base64.b64decode(headers.transmission_sig, validate=True)
    except binascii.Error:
        raise SignatureMalformed("PAYPAL-TRANSMISSION-SIG is not base64") from None
    public_key = certificate.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise CertificateInvalid("certificate key is not RSA")
    try:
        public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise SignatureInvalid("PAYPAL-TRANSMISSION-SIG does not match the payload") from None


def _port(parts: SplitResult) -> int | None:
    try:
        return parts.port
    except ValueError:
        raise CertUrlInvalid("certificate URL has an invalid port") from None
