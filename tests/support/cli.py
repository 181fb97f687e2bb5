"""`payments` invoked in-process on a test's broker and topic prefix."""

from typer.testing import CliRunner

from common.settings import PipelineSettings
from ops.cli import app


def cli(settings: PipelineSettings, *args: str) -> tuple[int, str]:
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "TOPIC_PREFIX": settings.topic_prefix,
        "TOPIC_PARTITIONS": str(settings.topic_partitions),
    }
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.output
