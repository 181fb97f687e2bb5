"""PayPal signing certificates: fetched from the validated `PAYPAL-CERT-URL`, checked, cached.

Lookup order for a URL: memory, then the disk cache, then an https fetch. A fetched copy
is checked before it is cached; a cached one is re-checked on use (it may have expired
since) unless the time is still inside the span in which every certificate of its verified
path is valid. Within that span the result cannot differ (the trust store is fixed), and
skipping the chain walk saves about a millisecond per webhook. Only checked certificates
are cached, so the caches stay as small as the set of PayPal's real certificates.

Disk cache (optional, `cache_dir`): one file per certificate URL, named
`sha256(url).hexdigest() + ".pem"` (see `cache_file_name`), holding the PEM exactly as
served: the leaf first, then any intermediates. An operator may seed it to verify with no
access to PayPal at all:

    curl -o "$CACHE_DIR/$(printf %s "$URL" | sha256sum | cut -c1-64).pem" "$URL"

Failure rules: a URL off the allow-list raises `CertUrlInvalid`; a certificate that fails
the checks, or a URL PayPal answers with a client error (404), raises `CertificateInvalid`
(both 4xx). A network error, timeout, 408, 429 or 5xx with nothing usable cached raises
`CertificateUnavailable` (503, PayPal retries). After `failure_threshold` such failures
in a row, fetches fail fast for `cooldown_seconds`; then one attempt decides whether the
circuit closes again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import time
import warnings
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import certifi
import httpx
from cryptography import x509
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.verification import Store

from ingress.errors import CertificateInvalid, CertificateUnavailable
from ingress.paypal_signature import (
    DEFAULT_CERT_COMMON_NAME,
    DEFAULT_CERT_HOSTS,
    check_certificate,
    validate_cert_url,
)

logger = logging.getLogger(__name__)

DEFAULT_FETCH_TIMEOUT_SECONDS = 3.0
# Statuses that say "try again later" rather than "this URL is wrong".
_TRANSIENT_STATUSES = frozenset({408, 429})
_PEM_CERTIFICATE = re.compile(
    rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL
)

Chain = list[x509.Certificate]


@dataclass(frozen=True)
class _CheckedChain:
    """A chain that passed `check_certificate`, and when every certificate of its verified
    path is valid: a check at any moment of that span passes too."""

    chain: Chain
    valid_from: datetime
    valid_until: datetime

    def still_valid(self, now: datetime) -> bool:
        return self.valid_from <= now <= self.valid_until


def load_trust_store(cert_dir: Path | None = None) -> Store:
    """Trusted roots from the `*.pem` / `*.crt` files in `cert_dir` (`PAYPAL_CERT_DIR`),
    or from certifi's public CA bundle when no directory is configured."""
    paths = _pem_files(cert_dir) if cert_dir is not None else [Path(certifi.where())]
    roots = [root for path in paths for root in _load_roots(path.read_bytes())]
    if not roots:
        raise ValueError(f"no trusted certificate found in {cert_dir}")
    return Store(roots)


def cache_file_name(url: str) -> str:
    """The disk-cache file name for a certificate URL."""
    return hashlib.sha256(url.encode()).hexdigest() + ".pem"


class CircuitBreaker:
    """Opens after `failure_threshold` consecutive failures and fails fast for
    `cooldown_seconds`; after that, attempts pass again and the first result decides:
    a success closes the circuit, a failure opens it for another cool-down."""

    def __init__(
        self, failure_threshold: int, cooldown_seconds: float, clock: Callable[[], float]
    ) -> None:
        if failure_threshold <= 0 or cooldown_seconds <= 0:
            raise ValueError("failure_threshold and cooldown_seconds must be > 0")
        self._failure_threshold = failure_threshold
        self._cooldown_seconds = cooldown_seconds
        self._clock = clock
        self._failures = 0
        self._open_until = 0.0

    def allows_attempt(self) -> bool:
        return self._failures < self._failure_threshold or self._clock() >= self._open_until

    def record_success(self) -> None:
        self._failures = 0

    def record_failure(self) -> None:
        self._failures += 1
        if self._failures >= self._failure_threshold:
            self._open_until = self._clock() + self._cooldown_seconds


class PayPalCertificateStore:
    """Gives the checked PayPal signing certificate for a `PAYPAL-CERT-URL` (module docs).

    `clock` returns Unix time; it dates certificate checks and times the circuit breaker.
    `client` is used as is; requests never follow redirects.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        trust_store: Store,
        *,
        cache_dir: Path | None = None,
        allowed_hosts: Collection[str] = DEFAULT_CERT_HOSTS,
        expected_common_name: str = DEFAULT_CERT_COMMON_NAME,
        fetch_timeout_seconds: float = DEFAULT_FETCH_TIMEOUT_SECONDS,
        failure_threshold: int = 5,
        cooldown_seconds: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._trust_store = trust_store
        self._cache_dir = cache_dir
        self._allowed_hosts = allowed_hosts
        self._expected_common_name = expected_common_name
        self._timeout = httpx.Timeout(fetch_timeout_seconds)
        self._breaker = CircuitBreaker(failure_threshold, cooldown_seconds, clock)
        self._clock = clock
        self._chains: dict[str, _CheckedChain] = {}

    async def certificate(self, url: str) -> x509.Certificate:
        """The leaf certificate for `url`. Raises `CertUrlInvalid`, `CertificateInvalid` or
        `CertificateUnavailable` (module docs)."""
        cached = self._cached_chain(url)
        if cached is not None:
            return cached[0]
        pem = await self._fetch(url)
        chain = _parse_chain(pem)
        self._chains[url] = self._check(chain, self._now())
        self._write_disk(url, pem)
        return chain[0]

    def _cached_chain(self, url: str) -> Chain | None:
        now = self._now()
        checked = self._chains.get(url)
        if checked is not None and checked.still_valid(now):
            return checked.chain
        if checked is None:  # a URL is validated once, before it is first cached
            validate_cert_url(url, self._allowed_hosts)
        chain = checked.chain if checked is not None else self._read_disk(url)
        if chain is None:
            return None
        try:
            self._chains[url] = self._check(chain, now)
        except CertificateInvalid as error:
            # Expired, or the trust store changed: fetch a fresh copy instead.
            logger.info("cached PayPal certificate for %s is no longer valid: %s", url, error)
            self._chains.pop(url, None)
            return None
        return chain

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def _check(self, chain: Chain, now: datetime) -> _CheckedChain:
        leaf, *intermediates = chain
        path = check_certificate(
            leaf, intermediates, self._trust_store, now, self._expected_common_name
        )
        return _CheckedChain(
            chain,
            valid_from=max(certificate.not_valid_before_utc for certificate in path),
            valid_until=min(certificate.not_valid_after_utc for certificate in path),
        )

    async def _fetch(self, url: str) -> bytes:
        if not self._breaker.allows_attempt():
            raise CertificateUnavailable("PayPal certificate host is failing; circuit open")
        try:
            response = await self._client.get(url, timeout=self._timeout, follow_redirects=False)
        except httpx.HTTPError as error:
            self._breaker.record_failure()
            raise CertificateUnavailable(f"fetching {url} failed: {error!r}") from error
        if response.status_code in _TRANSIENT_STATUSES or response.is_server_error:
            self._breaker.record_failure()
            raise CertificateUnavailable(f"fetching {url} answered {response.status_code}")
        self._breaker.record_success()
        if response.status_code != httpx.codes.OK:
            raise CertificateInvalid(f"certificate URL answered {response.status_code}")
        return response.content

    # The disk cache holds a few small files, so plain blocking I/O is cheaper than a thread.
    def _read_disk(self, url: str) -> Chain | None:
        if self._cache_dir is None:
            return None
        path = self._cache_dir / cache_file_name(url)
        try:
            return _parse_chain(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, CertificateInvalid) as error:
            logger.warning("ignoring unreadable cached PayPal certificate %s: %s", path, error)
            return None

    def _write_disk(self, url: str, pem: bytes) -> None:
        if self._cache_dir is None:
            return
        try:
            _write_atomically(self._cache_dir / cache_file_name(url), pem)
        except OSError as error:
            # The cache only saves fetches; a read-only directory must not fail the request.
            logger.warning("could not cache PayPal certificate for %s: %s", url, error)


def _parse_chain(pem: bytes) -> Chain:
    try:
        return x509.load_pem_x509_certificates(pem)
    except ValueError as error:
        raise CertificateInvalid(f"certificate is not valid PEM: {error}") from error


def _write_atomically(path: Path, data: bytes) -> None:
    # Readers (other workers, operators) never see a half-written file.
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _pem_files(cert_dir: Path) -> list[Path]:
    return sorted(path for path in cert_dir.iterdir() if path.suffix in (".pem", ".crt"))


def _load_roots(pem: bytes) -> Chain:
    roots = []
    for block in _PEM_CERTIFICATE.findall(pem):
        # Public bundles carry legacy roots that cryptography warns about (or, in later
        # releases, refuses); one odd root must not disable verification altogether.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            try:
                roots.append(x509.load_pem_x509_certificate(block))
            except ValueError as error:
                logger.warning("skipping an unparseable trusted certificate: %s", error)
    return roots
