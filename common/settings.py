"""The one settings object. Built once in each entry point and passed down, never imported
as a global: tests and several workers in one process need different values."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

THREE_DAYS_MS = 3 * 24 * 3600 * 1000
#: Providers retry for about three days; a week of retention leaves room to replay after that.
DEFAULT_RETENTION_MS = 7 * 24 * 3600 * 1000


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


@dataclass(frozen=True)
class TopicNames:
    """Every pipeline topic name, with the optional prefix applied."""

    raw_webhooks: str
    retry: tuple[str, ...]
    dlq: str
    payment_events: str

    @classmethod
    def with_prefix(cls, prefix: str) -> TopicNames:
        return cls(
            raw_webhooks=f"{prefix}raw-webhooks",
            retry=(f"{prefix}retry-1m", f"{prefix}retry-5m", f"{prefix}retry-30m"),
            dlq=f"{prefix}dlq",
            payment_events=f"{prefix}payment-events",
        )

    def all(self) -> tuple[str, ...]:
        return (self.raw_webhooks, *self.retry, self.dlq, self.payment_events)

    def worker_sources(self) -> tuple[str, ...]:
        """The topics the streams worker consumes: raw-webhooks and the retry tiers."""
        return (self.raw_webhooks, *self.retry)


class PipelineSettings(BaseSettings):
    """Configuration from the environment (or a `.env` file); names as in docs/design.md."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    #: How old a client's topic metadata may get: how soon producers and consumers see the
    #: partitions `payments topics scale` adds (librdkafka's and aiokafka's default: 5 min).
    kafka_metadata_max_age_seconds: float = Field(default=30.0, gt=0)
    topic_prefix: str = ""
    topic_partitions: int = Field(default=4, ge=1)
    topic_replication_factor: int = Field(default=1, ge=1)
    topic_retention_ms: int = Field(default=DEFAULT_RETENTION_MS, ge=THREE_DAYS_MS)
    database_url: str = "sqlite:///./.payments/payments.db"

    stripe_webhook_secrets: Annotated[list[SecretStr], NoDecode] = []
    stripe_tolerance_seconds: int = Field(default=300, gt=0)
    paypal_webhook_id: str = ""
    paypal_cert_dir: Path | None = None
    paypal_cert_cache_dir: Path | None = None
    paypal_tolerance_seconds: int = Field(default=300, gt=0)
    #: Tokens that may do everything in the admin process: read, replay, purge. An entry
    #: `name:secret` is presented whole; its name (before the colon) is who the audit log
    #: records.
    admin_tokens: Annotated[list[SecretStr], NoDecode] = []
    #: Tokens that may read everything in the admin process, and change nothing.
    admin_viewer_tokens: Annotated[list[SecretStr], NoDecode] = []
    admin_host: str = "127.0.0.1"
    admin_port: int = 8001
    #: Signs the console's session cookies; empty: a random key per process start (every
    #: session ends when the admin process restarts, and replicas do not share sessions).
    admin_session_secret: SecretStr = SecretStr("")
    admin_session_seconds: int = Field(default=8 * 3600, gt=0)
    #: Mark the session cookie Secure (browsers then send it over https only): set it when a
    #: TLS-terminating proxy stands in front of the admin process.
    admin_secure_cookies: bool = False
    #: `job=URL` of each component's /metrics, for the console's overview; empty: ingress,
    #: worker and sink on this host at INGRESS_PORT, WORKER_ and SINK_METRICS_PORT.
    metrics_urls: Annotated[list[str], NoDecode] = []
    #: How often the admin process re-reads the retry tiers and dlq it shows.
    admin_topic_refresh_seconds: float = Field(default=5.0, gt=0)
    max_body_bytes: int = Field(default=256 * 1024, gt=0)
    retry_delays_seconds: Annotated[tuple[float, ...], NoDecode] = (60.0, 300.0, 1800.0)
    retry_attempts: Annotated[tuple[int, ...], NoDecode] = (2, 2, 1)

    ingress_host: str = "127.0.0.1"
    ingress_port: int = 8000
    #: Server processes on one port (forked); caches and /metrics are per process.
    ingress_workers: int = Field(default=1, ge=1)
    #: Longest wait for the broker's ack before answering 503 (the provider then retries).
    ingress_produce_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    ingress_retry_after_seconds: int = Field(default=30, gt=0)
    #: A producer that delivered nothing for this long while the broker answers is replaced.
    ingress_producer_stall_seconds: float = Field(default=30.0, gt=0)
    worker_metrics_port: int = 9101
    #: Each worker keeps its RocksDB tables under `WORKER_DATA_DIR/<app id>/WORKER_ID` (app
    #: id: TOPIC_PREFIX + WORKER_GROUP_ID): two workers must never share one (RocksDB locks
    #: its files).
    worker_data_dir: Path = Path(".payments/worker")
    worker_id: str = Field(default="worker-1", pattern=r"^[A-Za-z0-9_.-]+$")
    #: The workers' consumer group (and faust app id, which names the tables' changelog
    #: topics); TOPIC_PREFIX is put in front of it.
    worker_group_id: str = "payments-worker"
    #: RocksDB block cache per table partition; faust's default is 2 GiB each.
    worker_block_cache_bytes: int = Field(default=16 * 1024 * 1024, ge=1024 * 1024)
    dedupe_retention_seconds: float = Field(default=7 * 24 * 3600.0, gt=0)
    #: How long the group waits for a silent worker (killed, partitioned away) before it
    #: hands its partitions to the others. Heartbeats run on the consumer's own thread, so a
    #: busy worker is not mistaken for a dead one. The broker's floor is 6 s.
    worker_session_timeout_seconds: float = Field(default=10.0, ge=6)
    sink_metrics_port: int = 9102
    sink_group_id: str = "payments-sink"
    #: The most records one sink transaction takes. Only a sink that is behind fills it (a
    #: batch is what one fetch brings); a large one spreads each transaction's round trips
    #: and commit over more rows.
    sink_batch_size: int = Field(default=5000, ge=1)
    sink_batch_max_wait_ms: int = Field(default=50, ge=1)
    sink_retry_max_seconds: float = Field(default=30.0, gt=0)
    log_level: str = "INFO"

    _split = field_validator(
        "stripe_webhook_secrets",
        "admin_tokens",
        "admin_viewer_tokens",
        "metrics_urls",
        "retry_delays_seconds",
        "retry_attempts",
        mode="before",
    )(_split_commas)

    @field_validator("metrics_urls")
    @classmethod
    def _job_equals_url(cls, value: list[str]) -> list[str]:
        if any("=" not in item for item in value):
            raise ValueError("METRICS_URLS: give each as job=URL")
        return value

    @model_validator(mode="after")
    def _one_attempt_count_per_tier(self) -> PipelineSettings:
        tiers = len(self.topics.retry)
        if len(self.retry_delays_seconds) != tiers or len(self.retry_attempts) != tiers:
            raise ValueError(
                f"RETRY_DELAYS_SECONDS and RETRY_ATTEMPTS need one entry per retry tier ({tiers})"
            )
        return self

    @property
    def topics(self) -> TopicNames:
        return TopicNames.with_prefix(self.topic_prefix)

    @property
    def component_metrics(self) -> dict[str, str]:
        """job → /metrics URL of each component (METRICS_URLS, or as the ports place them)."""
        if self.metrics_urls:
            return dict(item.split("=", 1) for item in self.metrics_urls)
        return {
            "ingress": f"http://{self.ingress_host}:{self.ingress_port}/metrics",
            "worker": f"http://127.0.0.1:{self.worker_metrics_port}/metrics",
            "sink": f"http://127.0.0.1:{self.sink_metrics_port}/metrics",
        }
