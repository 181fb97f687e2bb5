"""The local stack's webhook credentials: one Stripe secret, one admin token and an offline
PayPal setup (a throwaway CA from `ops.local_pki`), kept in `<state dir>/credentials/`.

`payments run` gives every provider the environment leaves unconfigured (no
`STRIPE_WEBHOOK_SECRETS`, no `PAYPAL_WEBHOOK_ID`, no `ADMIN_TOKENS`) these credentials;
`payments sign` and `payments demo` resolve the same way, so what they sign is what the
running stack verifies. Files holding a secret or a key are readable by their owner only;
nothing here logs or prints a secret.

Layout: `secrets.json` (Stripe secret, admin token, PayPal webhook id: made once, kept),
`paypal-leaf-key.pem` (the signing key), `paypal-trust/root.pem` (`PAYPAL_CERT_DIR`) and
`paypal-cert-cache/<sha256(url)>.pem` (`PAYPAL_CERT_CACHE_DIR`, seeded with the chain
served at `CERT_URL`). The PKI is issued again when its leaf expires within `RENEW_BEFORE`.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from common.settings import PipelineSettings
from ingress.paypal_certs import cache_file_name
from ops.local_pki import build_pki

#: On an allow-listed PayPal host and path; never fetched: the cache holds its chain.
CERT_URL = "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-payments-local"
RENEW_BEFORE = timedelta(days=7)
_SECRETS_FILE = "secrets.json"
_KEY_FILE = "paypal-leaf-key.pem"


@dataclass(frozen=True)
class LocalCredentials:
    """What the local stack verifies with, and what signs for it."""

    directory: Path
    stripe_secret: str
    admin_token: str
    paypal_webhook_id: str
    paypal_key: rsa.RSAPrivateKey
    paypal_cert_url: str = CERT_URL

    @property
    def trust_dir(self) -> Path:
        return self.directory / "paypal-trust"

    @property
    def cert_cache_dir(self) -> Path:
        return self.directory / "paypal-cert-cache"

    @property
    def chain_file(self) -> Path:
        return self.cert_cache_dir / cache_file_name(self.paypal_cert_url)


def ensure_local_credentials(state_dir: Path, now: datetime | None = None) -> LocalCredentials:
    """The credentials under `state_dir`, created (or their PKI renewed) when needed."""
    directory, now = state_dir / "credentials", now or datetime.now(UTC)
    with _locked(directory):  # `payments run` and `payments sign` may start together
        values = _ensure_secrets(directory)
        if not _pki_valid(directory, now):
            _issue_pki(directory, now)
        key_pem = (directory / _KEY_FILE).read_bytes()
    key = serialization.load_pem_private_key(key_pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{directory / _KEY_FILE} is not an RSA key")
    return LocalCredentials(
        directory,
        values["stripe_webhook_secret"],
        values["admin_token"],
        values["paypal_webhook_id"],
        key,
    )


def local_stack_environment(
    settings: PipelineSettings, credentials: LocalCredentials
) -> dict[str, str]:
    """Environment variables configuring, with `credentials`, what `settings` leaves
    unconfigured (a provider or the admin API); empty when everything is configured."""
    environment: dict[str, str] = {}
    if not settings.stripe_webhook_secrets:
        environment["STRIPE_WEBHOOK_SECRETS"] = credentials.stripe_secret
    if not settings.paypal_webhook_id:
        environment["PAYPAL_WEBHOOK_ID"] = credentials.paypal_webhook_id
        environment["PAYPAL_CERT_DIR"] = str(credentials.trust_dir)
        environment["PAYPAL_CERT_CACHE_DIR"] = str(credentials.cert_cache_dir)
    if not settings.admin_tokens:
        environment["ADMIN_TOKENS"] = credentials.admin_token
    return environment


def local_stack_settings(state_dir: Path) -> tuple[PipelineSettings, LocalCredentials]:
    """The settings `payments run --state-dir state_dir` gives its components."""
    credentials = ensure_local_credentials(state_dir)
    environment = local_stack_environment(PipelineSettings(), credentials)
    fields: dict[str, Any] = {name.lower(): value for name, value in environment.items()}
    return PipelineSettings(**fields), credentials


def _ensure_secrets(directory: Path) -> dict[str, str]:
    path = directory / _SECRETS_FILE
    if path.exists():
        values: dict[str, str] = json.loads(path.read_text())
        return values
    values = {
        "stripe_webhook_secret": f"whsec_local_{secrets.token_hex(16)}",
        "admin_token": f"local-{secrets.token_hex(16)}",
        "paypal_webhook_id": f"WH-LOCAL-{secrets.token_hex(6).upper()}",
    }
    _write_private(path, json.dumps(values, indent=2).encode())
    return values


def _pki_valid(directory: Path, now: datetime) -> bool:
    chain = directory / "paypal-cert-cache" / cache_file_name(CERT_URL)
    if not (chain.exists() and (directory / _KEY_FILE).exists()):
        return False
    leaf = x509.load_pem_x509_certificate(chain.read_bytes())
    return leaf.not_valid_before_utc <= now and now + RENEW_BEFORE < leaf.not_valid_after_utc


def _issue_pki(directory: Path, now: datetime) -> None:
    pki = build_pki(now)
    key = pki.leaf_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_private(directory / _KEY_FILE, key)
    _write_private(directory / "paypal-trust" / "root.pem", pki.root_pem())
    _write_private(directory / "paypal-cert-cache" / cache_file_name(CERT_URL), pki.chain_pem())


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def _write_private(path: Path, data: bytes) -> None:
    """Write atomically, owner-only (mkstemp's mode), so a reader never sees half a file."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
    os.replace(temporary, path)
