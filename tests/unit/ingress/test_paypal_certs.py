"""PayPalCertificateStore: fetch, caches, failure rules and circuit breaker, with no network."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

import ingress.paypal_certs
from ingress.errors import CertificateUnavailable, SignatureError
from ingress.paypal_certs import PayPalCertificateStore, cache_file_name, load_trust_store
from ingress.paypal_signature import check_certificate
from tests.support.paypal_pki import CERT_URL, DAY, NOW, Pki, build_pki

THRESHOLD = 3
COOLDOWN = 30.0


class Clock:
    def __init__(self) -> None:
        self.now = NOW.timestamp()

    def __call__(self) -> float:
        return self.now


class FakeCertHost:
    """PayPal's certificate host behind httpx.MockTransport: serves, fails, counts requests."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.status = 200
        self.failure: type[httpx.TransportError] | None = None
        self.requests: list[httpx.Request] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.failure is not None:
            raise self.failure("simulated", request=request)
        # A redirect off the allow-list must not be followed.
        headers = {"location": "https://evil.example/cert.pem"} if self.status < 400 else {}
        return httpx.Response(self.status, content=self.body, headers=headers)


StoreFactory = Callable[..., PayPalCertificateStore]


@pytest.fixture(scope="module")
def pki() -> Pki:
    return build_pki()


@pytest.fixture
def host(pki: Pki) -> FakeCertHost:
    return FakeCertHost(pki.chain_pem())


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def client(host: FakeCertHost) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(host.handle)) as client:
        yield client


@pytest.fixture
def make_store(client: httpx.AsyncClient, pki: Pki, clock: Clock, tmp_path: Path) -> StoreFactory:
    def make(
        *,
        cache_dir: Path | None = tmp_path,
        fetch_timeout_seconds: float = 3.0,
        failure_threshold: int = THRESHOLD,
    ) -> PayPalCertificateStore:
        return PayPalCertificateStore(
            client,
            pki.store,
            cache_dir=cache_dir,
            fetch_timeout_seconds=fetch_timeout_seconds,
            failure_threshold=failure_threshold,
            cooldown_seconds=COOLDOWN,
            clock=clock,
        )

    return make


async def unavailable(store: PayPalCertificateStore, url: str = CERT_URL) -> None:
    with pytest.raises(CertificateUnavailable):
        await store.certificate(url)


async def rejection_code(store: PayPalCertificateStore, url: str = CERT_URL) -> str:
    with pytest.raises(SignatureError) as raised:
        await store.certificate(url)
    return raised.value.code


async def test_fetches_once_then_serves_from_memory(
    make_store: StoreFactory, host: FakeCertHost, pki: Pki
) -> None:
    store = make_store(cache_dir=None)
    assert await store.certificate(CERT_URL) == pki.leaf
    assert await store.certificate(CERT_URL) == pki.leaf
    assert [str(request.url) for request in host.requests] == [CERT_URL]


async def test_a_fetched_certificate_is_written_to_the_disk_cache(
    make_store: StoreFactory, tmp_path: Path, pki: Pki
) -> None:
    await make_store().certificate(CERT_URL)
    name = hashlib.sha256(CERT_URL.encode()).hexdigest() + ".pem"
    assert cache_file_name(CERT_URL) == name
    assert (tmp_path / name).read_bytes() == pki.chain_pem()


async def test_a_seeded_disk_cache_needs_no_network(
    make_store: StoreFactory, host: FakeCertHost, tmp_path: Path, pki: Pki
) -> None:
    (tmp_path / cache_file_name(CERT_URL)).write_bytes(pki.chain_pem())
    host.failure = httpx.ConnectError
    assert await make_store().certificate(CERT_URL) == pki.leaf
    assert host.requests == []


async def test_an_expired_cached_certificate_is_fetched_again(
    make_store: StoreFactory, host: FakeCertHost, tmp_path: Path, pki: Pki
) -> None:
    expired = build_pki(leaf_not_before=NOW - 400 * DAY, leaf_not_after=NOW - DAY)
    (tmp_path / cache_file_name(CERT_URL)).write_bytes(expired.chain_pem())
    assert await make_store().certificate(CERT_URL) == pki.leaf
    assert len(host.requests) == 1
    assert (tmp_path / cache_file_name(CERT_URL)).read_bytes() == pki.chain_pem()


async def test_a_certificate_expiring_in_memory_is_fetched_again(
    make_store: StoreFactory, host: FakeCertHost, clock: Clock
) -> None:
    store = make_store(cache_dir=None)
    await store.certificate(CERT_URL)
    clock.now += 400 * DAY.total_seconds()
    assert await rejection_code(store) == "certificate_invalid"
    assert len(host.requests) == 2


async def test_a_cached_chain_is_walked_once_while_all_its_certificates_are_valid(
    make_store: StoreFactory, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks: list[object] = []

    def counting_check(*args: Any) -> list[x509.Certificate]:
        checks.append(args)
        return check_certificate(*args)

    monkeypatch.setattr(ingress.paypal_certs, "check_certificate", counting_check)
    store = make_store(cache_dir=None)
    for _ in range(3):
        await store.certificate(CERT_URL)
        clock.now += 60
    assert len(checks) == 1
    clock.now = (NOW - 400 * DAY).timestamp()  # before the leaf's validity: checked again
    assert await rejection_code(store) == "certificate_invalid"
    assert len(checks) == 3  # the cached copy, then the fetched one


async def test_an_unreadable_disk_cache_entry_is_ignored(
    make_store: StoreFactory, host: FakeCertHost, tmp_path: Path, pki: Pki
) -> None:
    (tmp_path / cache_file_name(CERT_URL)).write_bytes(b"not a certificate")
    assert await make_store().certificate(CERT_URL) == pki.leaf
    assert len(host.requests) == 1


async def test_an_unwritable_disk_cache_does_not_fail_the_request(
    make_store: StoreFactory, tmp_path: Path, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="ingress.paypal_certs"):
        certificate = await make_store(cache_dir=tmp_path / "missing").certificate(CERT_URL)
    assert certificate == pki.leaf
    assert "could not cache" in caplog.text


async def test_a_bad_url_is_rejected_without_a_request(
    make_store: StoreFactory, host: FakeCertHost
) -> None:
    url = "https://evil.example/v1/notifications/certs/CERT-1"
    assert await rejection_code(make_store(), url) == "cert_url_invalid"
    assert host.requests == []


@pytest.mark.parametrize(
    "served",
    [
        build_pki(leaf_common_name="evil.example").chain_pem(),
        build_pki(root_role="impostor").chain_pem(),
        b"<html>maintenance</html>",
    ],
    ids=["wrong-common-name", "untrusted-root", "not-pem"],
)
async def test_an_invalid_fetched_certificate_is_rejected_and_not_cached(
    make_store: StoreFactory, host: FakeCertHost, tmp_path: Path, served: bytes
) -> None:
    host.body = served
    store = make_store()
    assert await rejection_code(store) == "certificate_invalid"
    assert await rejection_code(store) == "certificate_invalid"
    assert len(host.requests) == 2
    assert not (tmp_path / cache_file_name(CERT_URL)).exists()


@pytest.mark.parametrize("status", [301, 403, 404])
async def test_a_client_error_or_redirect_is_an_invalid_certificate(
    make_store: StoreFactory, host: FakeCertHost, status: int
) -> None:
    host.status = status
    assert await rejection_code(make_store()) == "certificate_invalid"
    assert len(host.requests) == 1


@pytest.mark.parametrize("failure", [httpx.ConnectError, httpx.ConnectTimeout, httpx.ReadTimeout])
async def test_an_unreachable_host_with_nothing_cached_is_unavailable(
    make_store: StoreFactory, host: FakeCertHost, failure: type[httpx.TransportError]
) -> None:
    host.failure = failure
    await unavailable(make_store())


@pytest.mark.parametrize("status", [408, 429, 500, 503])
async def test_transient_statuses_are_unavailable(
    make_store: StoreFactory, host: FakeCertHost, status: int
) -> None:
    host.status = status
    await unavailable(make_store())


async def test_requests_carry_a_short_timeout(make_store: StoreFactory, host: FakeCertHost) -> None:
    await make_store(fetch_timeout_seconds=1.5).certificate(CERT_URL)
    assert host.requests[0].extensions["timeout"]["read"] == 1.5


async def test_the_circuit_opens_after_consecutive_failures(
    make_store: StoreFactory, host: FakeCertHost
) -> None:
    host.failure = httpx.ConnectError
    store = make_store()
    for _ in range(THRESHOLD + 2):
        await unavailable(store)
    assert len(host.requests) == THRESHOLD


async def test_the_circuit_closes_after_the_cooldown_and_a_success(
    make_store: StoreFactory, host: FakeCertHost, clock: Clock, pki: Pki
) -> None:
    host.failure = httpx.ConnectError
    store = make_store(cache_dir=None)
    for _ in range(THRESHOLD):
        await unavailable(store)
    host.failure = None
    clock.now += COOLDOWN - 1
    await unavailable(store)
    clock.now += 1
    assert await store.certificate(CERT_URL) == pki.leaf
    assert len(host.requests) == THRESHOLD + 1


async def test_a_failed_attempt_after_the_cooldown_reopens_the_circuit(
    make_store: StoreFactory, host: FakeCertHost, clock: Clock
) -> None:
    host.failure = httpx.ConnectError
    store = make_store()
    for _ in range(THRESHOLD):
        await unavailable(store)
    clock.now += COOLDOWN
    await unavailable(store)
    await unavailable(store)
    assert len(host.requests) == THRESHOLD + 1


async def test_cached_certificates_are_served_while_the_circuit_is_open(
    make_store: StoreFactory, host: FakeCertHost, pki: Pki
) -> None:
    store = make_store()
    await store.certificate(CERT_URL)
    host.failure = httpx.ConnectError
    other_url = CERT_URL + "-rotated"
    for _ in range(THRESHOLD + 1):
        await unavailable(store, other_url)
    assert len(host.requests) == 1 + THRESHOLD
    assert await store.certificate(CERT_URL) == pki.leaf


def test_circuit_breaker_configuration_must_be_positive(make_store: StoreFactory) -> None:
    with pytest.raises(ValueError, match="must be > 0"):
        make_store(failure_threshold=0)


# --- trust store --------------------------------------------------------------------------


@pytest.mark.parametrize("file_name", ["root.pem", "root.crt"])
def test_trust_store_from_a_certificate_directory(tmp_path: Path, pki: Pki, file_name: str) -> None:
    (tmp_path / file_name).write_bytes(pki.root.public_bytes(serialization.Encoding.PEM))
    check_certificate(pki.leaf, [pki.intermediate], load_trust_store(tmp_path), NOW)


def test_trust_store_skips_an_unparseable_certificate(tmp_path: Path, pki: Pki) -> None:
    broken = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    root = pki.root.public_bytes(serialization.Encoding.PEM)
    (tmp_path / "bundle.pem").write_bytes(broken + root)
    check_certificate(pki.leaf, [pki.intermediate], load_trust_store(tmp_path), NOW)


def test_trust_store_reads_only_pem_and_crt_files(tmp_path: Path, pki: Pki) -> None:
    (tmp_path / "root.txt").write_bytes(pki.root.public_bytes(serialization.Encoding.PEM))
    with pytest.raises(ValueError, match="no trusted certificate"):
        load_trust_store(tmp_path)


def test_the_default_trust_store_loads_the_public_bundle_without_warnings() -> None:
    load_trust_store()
