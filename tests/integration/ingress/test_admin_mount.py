"""The admin API is served by the ingress app, behind bearer tokens, with ingress's errors."""

from collections.abc import Callable
from pathlib import Path

import pytest

from common.settings import PipelineSettings
from sinks.migrate import upgrade
from tests.support.ingress import app_client


@pytest.mark.parametrize(
    ("authorization", "status", "code"),
    [
        (None, 401, "admin_token_missing"),
        ("Bearer not-the-token", 403, "admin_token_invalid"),
        ("Basic b3BzOm9wcw==", 401, "admin_token_missing"),
    ],
)
async def test_admin_refuses_without_the_right_token(
    ingress_settings: Callable[..., PipelineSettings],
    tmp_path: Path,
    authorization: str | None,
    status: int,
    code: str,
) -> None:
    settings = ingress_settings(
        admin_tokens="ops-token", database_url=f"sqlite:///{tmp_path / 'admin.db'}"
    )
    headers = {"Authorization": authorization} if authorization else {}
    async with app_client(settings) as client:
        for path in ("/admin/events", "/admin/dlq", "/admin/payments/stripe/pi_1"):
            response = await client.get(path, headers=headers)
            assert response.status_code == status, path
            assert response.json()["error"]["code"] == code


async def test_admin_answers_with_the_token(
    ingress_settings: Callable[..., PipelineSettings], tmp_path: Path
) -> None:
    database_url = f"sqlite:///{tmp_path / 'admin.db'}"
    upgrade(database_url)
    settings = ingress_settings(admin_tokens="old-token,ops-token", database_url=database_url)
    async with app_client(settings) as client:
        response = await client.get("/admin/events", headers={"Authorization": "Bearer ops-token"})
        assert response.status_code == 200
        assert response.json()["events"] == []
        missing = await client.get(
            "/admin/payments/stripe/pi_unknown", headers={"Authorization": "Bearer ops-token"}
        )
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"
