"""What `payments sign` prints passes ingress's own verifiers, configured exactly as
`payments run` configures the local stack (the same state directory)."""

from __future__ import annotations

import shlex
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from ingress.errors import SignatureInvalid, TransmissionReplayed
from ingress.stripe_signature import verify_stripe_signature
from ingress.verifiers import Verifier, build_verifiers
from ops.cli import app
from ops.example_events import example_body
from ops.local_credentials import local_stack_settings
from schemas.providers import Provider

CONFIGURATION = (
    "STRIPE_WEBHOOK_SECRETS",
    "PAYPAL_WEBHOOK_ID",
    "PAYPAL_CERT_DIR",
    "PAYPAL_CERT_CACHE_DIR",
    "ADMIN_TOKENS",
    "INGRESS_HOST",
    "INGRESS_PORT",
)


@pytest.fixture(autouse=True)
def unconfigured(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a fresh checkout: nothing configured, so the local credentials apply."""
    for name in CONFIGURATION:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
async def verifiers(state_dir: Path) -> AsyncIterator[dict[Provider, Verifier]]:
    """Ingress's verifiers for the settings `payments run --state-dir state_dir` uses; any
    attempt to fetch a certificate from PayPal fails the test."""

    def no_network(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"fetched {request.url}: the certificate cache was not used")

    settings, _ = local_stack_settings(state_dir)
    async with httpx.AsyncClient(transport=httpx.MockTransport(no_network)) as http:
        yield build_verifiers(settings, http)


def sign(state_dir: Path, provider: str, body: bytes, *options: str) -> str:
    """`payments sign PROVIDER FILE [OPTIONS]` on a file holding `body`: its output."""
    body_file = state_dir.parent / "body.json"
    body_file.write_bytes(body)
    arguments = ["sign", provider, str(body_file), *options, "--state-dir", str(state_dir)]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 0, result.output
    return result.output


def parse_http(printed: str) -> tuple[httpx.Headers, bytes]:
    head, _, body = printed.partition("\n\n")
    lines = [line.split(": ", 1) for line in head.splitlines()]
    return httpx.Headers({name: value for name, value in lines}), body.encode()


def parse_curl(printed: str) -> tuple[httpx.Headers, bytes, str]:
    words = shlex.split(printed.replace("\\\n", ""))
    assert words[:2] == ["curl", "-sS"]
    pairs = [words[i + 1] for i, word in enumerate(words) if word == "-H"]
    headers = httpx.Headers(dict(pair.split(": ", 1) for pair in pairs))
    data = words[words.index("--data-binary") + 1]
    assert data.startswith("@")
    return headers, Path(data[1:]).read_bytes(), words[-1]


async def verify(verifier: Verifier, body: bytes, headers: httpx.Headers) -> None:
    async with verifier.authenticated(body, headers):
        pass


@pytest.mark.parametrize(
    ("provider", "event_type"),
    [(Provider.STRIPE, "charge.refunded"), (Provider.PAYPAL, "PAYMENT.CAPTURE.REFUNDED")],
)
async def test_the_printed_request_verifies_and_a_changed_body_does_not(
    provider: Provider, event_type: str, state_dir: Path, verifiers: dict[Provider, Verifier]
) -> None:
    sent = example_body(provider, event_type)
    headers, body = parse_http(sign(state_dir, provider.value, sent))

    assert body == sent
    assert headers["content-type"] == "application/json"
    with pytest.raises(SignatureInvalid):
        await verify(verifiers[provider], body + b"\n", headers)
    await verify(verifiers[provider], body, headers)


@pytest.mark.parametrize("provider", list(Provider))
async def test_the_curl_command_sends_the_file_signed_to_the_local_ingress(
    provider: Provider, state_dir: Path, verifiers: dict[Provider, Verifier]
) -> None:
    sent = b'{"id": "evt_1", "type": "anything",   "odd spacing": true}'
    headers, body, url = parse_curl(sign(state_dir, provider.value, sent, "--curl"))

    assert url == f"http://127.0.0.1:8000/webhooks/{provider.value}"
    assert body == sent  # the file's bytes, never re-serialized
    await verify(verifiers[provider], body, headers)


async def test_each_paypal_signature_has_its_own_transmission_id(
    state_dir: Path, verifiers: dict[Provider, Verifier]
) -> None:
    sent = example_body(Provider.PAYPAL, "PAYMENT.CAPTURE.COMPLETED")
    first, _ = parse_http(sign(state_dir, "paypal", sent))
    second, _ = parse_http(sign(state_dir, "paypal", sent))

    await verify(verifiers[Provider.PAYPAL], sent, first)
    with pytest.raises(TransmissionReplayed):  # the same request again is a replay ...
        await verify(verifiers[Provider.PAYPAL], sent, first)
    await verify(verifiers[Provider.PAYPAL], sent, second)  # ... a new signature is not


def test_a_configured_stripe_secret_is_the_one_signed_with(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRETS", "whsec_mine,whsec_old")
    headers, body = parse_http(sign(state_dir, "stripe", b"{}"))
    signature = headers["stripe-signature"]

    _, credentials = local_stack_settings(state_dir)
    verify_stripe_signature(body, signature, ["whsec_mine"], 300, time.time())
    with pytest.raises(SignatureInvalid):
        verify_stripe_signature(body, signature, [credentials.stripe_secret], 300, time.time())


def test_paypal_cannot_be_signed_for_a_real_subscription(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYPAL_WEBHOOK_ID", "WH-REAL-SUBSCRIPTION")
    (state_dir.parent / "body.json").write_bytes(b"{}")
    arguments = ["sign", "paypal", str(state_dir.parent / "body.json")]
    result = CliRunner().invoke(app, [*arguments, "--state-dir", str(state_dir)])

    assert result.exit_code == 1
    assert "only PayPal can sign" in result.output
