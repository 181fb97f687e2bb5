import pytest

from common.settings import THREE_DAYS_MS, PipelineSettings
from common.topics import PartitionReport, pipeline_topic_specs


def test_every_pipeline_topic_has_the_same_partition_count() -> None:
    settings = PipelineSettings(_env_file=None, topic_partitions=6)
    specs = pipeline_topic_specs(settings)
    assert [s.name for s in specs] == list(settings.topics.all())
    assert {s.partitions for s in specs} == {6}


def test_retention_outlasts_the_providers_retry_window() -> None:
    specs = pipeline_topic_specs(PipelineSettings(_env_file=None))
    assert all(int(s.config["retention.ms"]) > THREE_DAYS_MS for s in specs)


@pytest.mark.parametrize(("replicas", "min_isr"), [(1, "1"), (2, "2"), (3, "2"), (5, "2")])
def test_min_insync_replicas_follows_the_replication_factor(replicas: int, min_isr: str) -> None:
    settings = PipelineSettings(_env_file=None, topic_replication_factor=replicas)
    spec = pipeline_topic_specs(settings)[0]
    assert spec.replication_factor == replicas
    assert spec.config["min.insync.replicas"] == min_isr


def test_lag_counts_from_the_committed_offset_or_the_log_start() -> None:
    report = PartitionReport("raw-webhooks", 0, low=5, high=12, committed={"worker": 10})
    assert report.lag("worker") == 2
    assert report.lag("never-committed") == 7
