"""The public port serves the webhooks, /health, /ready and /metrics only: /admin and the
console are the admin process's."""

from collections.abc import Callable

from common.settings import PipelineSettings
from tests.support.ingress import app_client

TOKEN = "ops:7c4a8d09ca3762af61e59520943dc264"


async def test_ingress_does_not_serve_admin(
    ingress_settings: Callable[..., PipelineSettings],
) -> None:
    settings = ingress_settings(admin_tokens=TOKEN)
    async with app_client(settings) as client:
        for path in ("/admin/events", "/admin/dlq", "/admin/payments/stripe/pi_1", "/console/"):
            response = await client.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
            assert response.status_code == 404, path
