import pytest
from pydantic import ValidationError

from common.settings import PipelineSettings


def settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> PipelineSettings:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return PipelineSettings(_env_file=None)


def test_defaults_match_the_design(monkeypatch: pytest.MonkeyPatch) -> None:
    s = settings(monkeypatch)
    assert s.kafka_bootstrap_servers == "127.0.0.1:9092"
    assert s.stripe_tolerance_seconds == 300
    assert s.max_body_bytes == 256 * 1024
    assert s.retry_delays_seconds == (60.0, 300.0, 1800.0)
    assert sum(s.retry_attempts) == 5  # "5 retries across 1m/5m/30m, then dlq"


def test_comma_separated_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    s = settings(
        monkeypatch,
        STRIPE_WEBHOOK_SECRETS="whsec_old, whsec_new",
        ADMIN_TOKENS="t1",
        RETRY_DELAYS_SECONDS="1,2.5,4",
        RETRY_ATTEMPTS="1,1,1",
    )
    assert [x.get_secret_value() for x in s.stripe_webhook_secrets] == ["whsec_old", "whsec_new"]
    assert [x.get_secret_value() for x in s.admin_tokens] == ["t1"]
    assert s.retry_delays_seconds == (1.0, 2.5, 4.0)
    assert s.retry_attempts == (1, 1, 1)


def test_secrets_never_show_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    s = settings(monkeypatch, STRIPE_WEBHOOK_SECRETS="whsec_topsecret", ADMIN_TOKENS="tok_x")
    assert "topsecret" not in repr(s)
    assert "tok_x" not in repr(s)


def test_topic_prefix_applies_to_every_topic(monkeypatch: pytest.MonkeyPatch) -> None:
    s = settings(monkeypatch, TOPIC_PREFIX="acme.")
    assert s.topics.all() == (
        "acme.raw-webhooks",
        "acme.retry-1m",
        "acme.retry-5m",
        "acme.retry-30m",
        "acme.dlq",
        "acme.payment-events",
    )


@pytest.mark.parametrize(
    "env",
    [
        {"RETRY_DELAYS_SECONDS": "1,2", "RETRY_ATTEMPTS": "1,1"},
        {"RETRY_ATTEMPTS": "1,1,1,1"},
        {"STRIPE_TOLERANCE_SECONDS": "0"},
        {"TOPIC_PARTITIONS": "0"},
        {"TOPIC_RETENTION_MS": "3600000"},  # shorter than the providers' 3-day retry window
    ],
)
def test_invalid_configuration_is_refused(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    with pytest.raises(ValidationError):
        settings(monkeypatch, **env)
