"""openapi.json at the repo root is what the app generates (`payments openapi` rewrites it)."""

import json
from pathlib import Path

from common.settings import PipelineSettings
from ingress.app import render_openapi

COMMITTED = Path(__file__).resolve().parents[3] / "openapi.json"


def test_the_committed_openapi_json_is_current() -> None:
    generated = render_openapi(PipelineSettings(_env_file=None))
    assert COMMITTED.read_text() == generated, "stale: run `payments openapi` and commit it"


def test_every_webhook_refusal_status_is_documented() -> None:
    paths = json.loads(render_openapi(PipelineSettings(_env_file=None)))["paths"]
    for provider in ("stripe", "paypal"):
        responses = paths[f"/webhooks/{provider}"]["post"]["responses"]
        assert {"200", "400", "409", "413", "415", "503"} <= set(responses)
