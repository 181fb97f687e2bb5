"""The local stack's credentials: made once and kept, private, the PKI renewed before it
expires, and applied only where the configuration leaves a gap."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import SecretStr

from common.settings import PipelineSettings
from ops.local_credentials import RENEW_BEFORE, ensure_local_credentials, local_stack_environment

NOW = datetime(2026, 11, 26, tzinfo=UTC)


def files(directory: Path) -> dict[str, bytes]:
    paths = [p for p in directory.rglob("*") if p.is_file() and p.name != ".lock"]
    return {str(p.relative_to(directory)): p.read_bytes() for p in paths}


def test_made_once_then_kept(tmp_path: Path) -> None:
    first = ensure_local_credentials(tmp_path, NOW)
    written = files(first.directory)
    second = ensure_local_credentials(tmp_path, NOW + timedelta(days=30))

    assert files(second.directory) == written
    assert (second.stripe_secret, second.admin_token) == (first.stripe_secret, first.admin_token)
    assert second.stripe_secret.startswith("whsec_")
    assert set(written) == {
        "secrets.json",
        "paypal-leaf-key.pem",
        "paypal-trust/root.pem",
        f"paypal-cert-cache/{first.chain_file.name}",
    }


def test_every_file_is_the_owners_alone(tmp_path: Path) -> None:
    credentials = ensure_local_credentials(tmp_path, NOW)
    for path in [credentials.directory, *credentials.directory.rglob("*")]:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path


def test_the_pki_is_issued_again_before_it_expires_and_the_secrets_stay(tmp_path: Path) -> None:
    first = ensure_local_credentials(tmp_path, NOW)
    chain = first.chain_file.read_bytes()
    later = NOW + timedelta(days=365) - RENEW_BEFORE + timedelta(hours=1)
    renewed = ensure_local_credentials(tmp_path, later)

    assert renewed.chain_file.read_bytes() != chain
    assert (renewed.stripe_secret, renewed.paypal_webhook_id) == (
        first.stripe_secret,
        first.paypal_webhook_id,
    )


def test_only_what_is_not_configured_gets_local_credentials(tmp_path: Path) -> None:
    credentials = ensure_local_credentials(tmp_path, NOW)
    nothing = PipelineSettings(_env_file=None)
    everything = nothing.model_copy(
        update={
            "stripe_webhook_secrets": [SecretStr("whsec_mine")],
            "paypal_webhook_id": "WH-MINE",
            "admin_tokens": [SecretStr("mine")],
        }
    )

    assert local_stack_environment(nothing, credentials) == {
        "STRIPE_WEBHOOK_SECRETS": credentials.stripe_secret,
        "PAYPAL_WEBHOOK_ID": credentials.paypal_webhook_id,
        "PAYPAL_CERT_DIR": str(credentials.trust_dir),
        "PAYPAL_CERT_CACHE_DIR": str(credentials.cert_cache_dir),
        "ADMIN_TOKENS": credentials.admin_token,
    }
    assert local_stack_environment(everything, credentials) == {}
