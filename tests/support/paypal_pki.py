"""The throwaway PKI of `ops.local_pki`, dated around a fixed `NOW` for the PayPal
verification tests: nothing here touches the network."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

from ops.local_pki import DAY, Pki
from ops.local_pki import build_pki as build_pki_at
from ops.local_pki import issue as issue_between

__all__ = ["CERT_URL", "DAY", "NOW", "Pki", "build_pki", "issue"]

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CERT_URL = "https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77"

build_pki = partial(build_pki_at, NOW)
issue = partial(issue_between, not_before=NOW - 30 * DAY, not_after=NOW + 365 * DAY)
