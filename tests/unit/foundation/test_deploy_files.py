"""docker-compose.yml cannot run here (no Docker engine); check what can be checked."""

import os
import re
import shutil
import subprocess
import sys
from itertools import takewhile
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from ops.cli import app
from tests.support.docker_context import image_files

ROOT = Path(__file__).resolve().parents[3]


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def app_services() -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose()["services"].items()
        if service.get("image") == "payments-webhook-pipeline:local"
    }


def test_every_app_service_runs_a_real_payments_command() -> None:
    services = app_services()
    assert set(services) == {"topics", "ingress", "worker", "sink", "admin"}
    for name, service in services.items():
        # the command line up to its options must be a command `payments` knows
        words = list(takewhile(lambda word: not word.startswith("--"), service["command"]))
        result = CliRunner().invoke(app, [*words, "--help"])
        assert result.exit_code == 0, f"{name}: payments {' '.join(words)}: {result.output}"
    options = app_services()["ingress"]["command"]
    assert options[options.index("--port") + 1] == "8000"


def test_every_pipeline_service_has_a_health_check() -> None:
    services = compose()["services"]
    for name in (
        "kafka",
        "postgres",
        "ingress",
        "worker",
        "sink",
        "admin",
        "prometheus",
        "grafana",
    ):
        assert "healthcheck" in services[name], name


def test_prometheus_scrapes_the_ports_the_components_serve() -> None:
    config = yaml.safe_load((ROOT / "prometheus" / "prometheus.yml").read_text())
    targets = {
        job["job_name"]: job["static_configs"][0]["targets"][0] for job in config["scrape_configs"]
    }
    services = compose()["services"]
    assert targets["ingress"] == "ingress:8000"
    assert "8000:8000" in services["ingress"]["ports"]
    assert targets["worker"] == f"worker:{services['worker']['environment']['WORKER_METRICS_PORT']}"
    assert targets["sink"] == f"sink:{services['sink']['environment']['SINK_METRICS_PORT']}"


def test_the_admin_process_is_private_and_has_no_default_token() -> None:
    services = compose()["services"]
    admin = services["admin"]
    assert admin["ports"] == ["127.0.0.1:8001:8001"]
    assert admin["environment"]["ADMIN_TOKENS"].startswith("${ADMIN_TOKENS:?")
    for name, service in services.items():
        environment = service.get("environment", {})
        assert "change-me" not in str(environment), name
        if name != "admin":
            assert "ADMIN_TOKENS" not in environment, name
    metrics = dict(item.split("=", 1) for item in admin["environment"]["METRICS_URLS"].split(","))
    assert metrics["worker"].endswith(
        f":{services['worker']['environment']['WORKER_METRICS_PORT']}/metrics"
    )


def test_mounted_files_exist() -> None:
    for service in compose()["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), source


def test_dockerfile_copies_every_package() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in ("admin", "common", "ops", "ingress", "streams", "sinks", "schemas"):
        assert f"COPY {package} {package}" in dockerfile
    assert dockerfile.count("FROM ") == 2  # multi-stage: build, runtime


def test_the_image_carries_no_bench_dev_or_test_code() -> None:
    files = image_files(ROOT)
    assert "ops/cli.py" in files
    assert "requirements/runtime.txt" in files
    dev_only = re.compile(r"(^|/)(tests?|bench\w*|samples\.py|local_pki\.py|conftest\.py)(/|$)")
    assert [file for file in files if dev_only.search(file)] == []


def test_every_component_imports_from_the_image_files_alone(tmp_path: Path) -> None:
    for file in image_files(ROOT):
        (tmp_path / file).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / file, tmp_path / file)
    components = "ops.cli", "ingress.app", "streams.worker", "sinks.main"
    script = "; ".join(f"import {m}; print({m}.__file__)" for m in components)
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert all(line.startswith(str(tmp_path)) for line in result.stdout.splitlines())
