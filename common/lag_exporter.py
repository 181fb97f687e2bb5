"""`payments_consumer_lag{group,topic,partition}` and, for the retry tiers among the
topics, `payments_retry_overdue_seconds{group,topic,partition}`, refreshed from the broker
on a thread.

Both belong to a consumer group, not to one member: every replica of the worker or the
sink exports the same series, so dashboards take `max by (group, topic, partition)`.
When the broker does not answer, the group's series are removed (a gap on the dashboard)
rather than left at a stale value.

Overdue is measured at the group's committed offset, not inside the worker: a tier
partition that no member consumes (unassigned, held by mistake, a worker stuck) shows the
same as one consumed too slowly, and the worker's own gauges cannot see either.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping

from prometheus_client import Gauge

from common.lag import next_offset, partition_lag
from common.metrics import REGISTRY
from common.settings import PipelineSettings
from common.topic_scan import read_heads
from common.topics import PartitionReport, describe_topics

log = logging.getLogger("payments.lag")

DEFAULT_INTERVAL_SECONDS = 5.0

CONSUMER_LAG = Gauge(
    "payments_consumer_lag",
    "Records a consumer group has yet to read: end offset minus the group's committed offset.",
    ["group", "topic", "partition"],
    registry=REGISTRY,
)
RETRY_OVERDUE = Gauge(
    "payments_retry_overdue_seconds",
    "How long past its retry-due-at the record a group reads next on a retry-tier partition "
    "is (0 when it is not due, or the group has read everything).",
    ["group", "topic", "partition"],
    registry=REGISTRY,
)


#: `(headers, written at, now; epoch ms) → seconds past due` of a retry-tier record
Overdue = Callable[[Mapping[str, str], int, int], float]


class ConsumerLagExporter:
    """Keeps `payments_consumer_lag` of `group` on `topics` current, and, given `overdue`,
    the overdue time of the retry tiers among them: `refresh()` once, or `start()` a daemon
    thread that refreshes every `interval` seconds until `stop()`. `clock`: epoch seconds."""

    def __init__(
        self,
        settings: PipelineSettings,
        group: str,
        topics: Iterable[str],
        interval: float = DEFAULT_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.time,
        overdue: Overdue | None = None,
    ) -> None:
        self.group = group
        self.topics = tuple(topics)
        self.interval = interval
        self._tiers = frozenset(self.topics) & frozenset(settings.topics.retry)
        self._overdue = overdue
        self._clock = clock
        self._settings = settings
        self._exported: set[tuple[str, str]] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lag-{group}", daemon=True)

    def refresh(self) -> None:
        """Read the offsets (and the tiers' next records) and set the gauges (blocking;
        raises when the broker fails)."""
        reports = describe_topics(self._settings, self.topics, [self.group])
        for report in reports:
            lag = partition_lag(report.high, report.low, report.committed.get(self.group))
            labels = (report.topic, str(report.partition))
            CONSUMER_LAG.labels(self.group, *labels).set(lag)
            self._exported.add(labels)
        if self._overdue is not None:
            tiers = [report for report in reports if report.topic in self._tiers]
            self._refresh_overdue(self._overdue, tiers)

    def _refresh_overdue(self, overdue_of: Overdue, tiers: list[PartitionReport]) -> None:
        unread: dict[tuple[str, int], int] = {}
        for report in tiers:
            committed = report.committed.get(self.group)
            if partition_lag(report.high, report.low, committed):
                unread[(report.topic, report.partition)] = next_offset(report.low, committed)
        heads = read_heads(self._settings, unread) if unread else {}
        now_ms = int(self._clock() * 1000)
        for report in tiers:
            where = (report.topic, report.partition)
            if where not in unread:
                overdue = 0.0
            elif (head := heads.get(where)) is not None:
                overdue = overdue_of(head.headers, head.timestamp_ms, now_ms)
            else:  # not read in time: the last value stands until the next refresh
                continue
            RETRY_OVERDUE.labels(self.group, report.topic, str(report.partition)).set(overdue)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> ConsumerLagExporter:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ends the thread; an admin call in flight is not waited for (the thread is a
        daemon and ends after it)."""
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(timeout=1.0)

    def _run(self) -> None:
        failing = False
        while not self._stop.is_set():
            try:
                self.refresh()
            except Exception as error:  # the thread must outlive a broker outage
                if not failing:
                    log.warning("consumer lag unavailable", extra={"error": repr(error)})
                failing = True
                self._clear()
            else:
                failing = False
            self._stop.wait(self.interval)

    def _clear(self) -> None:
        for gauge in (CONSUMER_LAG, RETRY_OVERDUE):
            for labels in self._exported:
                # removed by another exporter of the group, or never set (not a tier)
                with contextlib.suppress(KeyError):
                    gauge.remove(self.group, *labels)
        self._exported.clear()
