"""The admin API is its own process: served by `payments admin` behind bearer tokens, and
refused a start without a real token."""

from pathlib import Path

import httpx
import pytest

from sinks.migrate import upgrade
from tests.support.admin_process import admin_process, run_admin_briefly

TOKEN = "ops:7c4a8d09ca3762af61e59520943dc264"
VIEWER = "viewer:fa9beb99e4029ad5a6615399e7bbae21"


@pytest.mark.parametrize("tokens", ["", "change-me", "ops:changeme", "tiny-token-1"])
def test_admin_refuses_to_start_with_an_empty_or_placeholder_token(
    tmp_path: Path, tokens: str
) -> None:
    database_url = f"sqlite:///{tmp_path / 'admin.db'}"
    result = run_admin_briefly({"ADMIN_TOKENS": tokens, "DATABASE_URL": database_url})
    assert result.returncode == 1
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr
    assert not tokens or tokens.rpartition(":")[2] not in result.stderr  # names, not secrets


REFUSALS = [
    (None, 401, "admin_token_missing"),
    ("Bearer not-the-token", 403, "admin_token_invalid"),
    ("Basic b3BzOm9wcw==", 401, "admin_token_missing"),
]


def test_the_admin_process_serves_the_api_behind_tokens(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    database_url = f"sqlite:///{tmp_path / 'admin.db'}"
    upgrade(database_url)
    environment = {
        "ADMIN_TOKENS": TOKEN,
        "ADMIN_VIEWER_TOKENS": VIEWER,
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
    }
    with admin_process(environment, tmp_path / "admin.log") as url:
        for authorization, status, code in REFUSALS:
            headers = {"Authorization": authorization} if authorization else {}
            for path in ("/admin/events", "/admin/dlq", "/admin/payments/stripe/pi_1"):
                response = httpx.get(url + path, headers=headers)
                assert (response.status_code, response.json()["error"]["code"]) == (status, code)
        for token in (TOKEN, VIEWER):
            answer = httpx.get(url + "/admin/events", headers={"Authorization": f"Bearer {token}"})
            assert (answer.status_code, answer.json()["events"]) == (200, [])
        missing = httpx.get(
            url + "/admin/payments/stripe/pi_unknown", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")
