"""openapi.json (ingress) and openapi-admin.json (the admin process) at the repo root are
what the apps generate (`payments openapi` rewrites both)."""

import json
from pathlib import Path

from admin.app import render_openapi as render_admin_openapi
from common.settings import PipelineSettings
from ingress.app import render_openapi

ROOT = Path(__file__).resolve().parents[3]


def test_the_committed_openapi_documents_are_current() -> None:
    settings = PipelineSettings(_env_file=None)
    for name, render in (
        ("openapi.json", render_openapi),
        ("openapi-admin.json", render_admin_openapi),
    ):
        assert (ROOT / name).read_text() == render(settings), (
            f"stale {name}: run `payments openapi`"
        )


def test_each_process_documents_only_its_own_routes() -> None:
    settings = PipelineSettings(_env_file=None)
    ingress = set(json.loads(render_openapi(settings))["paths"])
    admin = set(json.loads(render_admin_openapi(settings))["paths"])
    assert ingress == {"/webhooks/stripe", "/webhooks/paypal", "/health", "/ready", "/metrics"}
    assert {path.split("/")[1] for path in admin} == {"admin", "health", "metrics"}


def test_every_webhook_refusal_status_is_documented() -> None:
    paths = json.loads(render_openapi(PipelineSettings(_env_file=None)))["paths"]
    for provider in ("stripe", "paypal"):
        responses = paths[f"/webhooks/{provider}"]["post"]["responses"]
        assert {"200", "400", "409", "413", "415", "503"} <= set(responses)
