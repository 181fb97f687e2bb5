"""`payments_consumer_lag{group,topic,partition}`, refreshed from the broker on a thread.

Lag belongs to a consumer group, not to one member: every replica of the worker or the
sink exports the same series, so dashboards take `max by (group, topic, partition)`.
When the broker does not answer, the group's series are removed (a gap on the dashboard)
rather than left at a stale value.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterable

from prometheus_client import Gauge

from common.lag import partition_lag
from common.metrics import REGISTRY
from common.settings import PipelineSettings
from common.topics import describe_topics

log = logging.getLogger("payments.lag")

DEFAULT_INTERVAL_SECONDS = 5.0

CONSUMER_LAG = Gauge(
    "payments_consumer_lag",
    "Records a consumer group has yet to read: end offset minus the group's committed offset.",
    ["group", "topic", "partition"],
    registry=REGISTRY,
)


class ConsumerLagExporter:
    """Keeps `payments_consumer_lag` of `group` on `topics` current: `refresh()` once, or
    `start()` a daemon thread that refreshes every `interval` seconds until `stop()`."""

    def __init__(
        self,
        settings: PipelineSettings,
        group: str,
        topics: Iterable[str],
        interval: float = DEFAULT_INTERVAL_SECONDS,
    ) -> None:
        self.group = group
        self.topics = tuple(topics)
        self.interval = interval
        self._settings = settings
        self._exported: set[tuple[str, str]] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lag-{group}", daemon=True)

    def refresh(self) -> None:
        """Read the offsets and set the gauge (blocking; raises when the broker fails)."""
        for report in describe_topics(self._settings, self.topics, [self.group]):
            lag = partition_lag(report.high, report.low, report.committed.get(self.group))
            labels = (report.topic, str(report.partition))
            CONSUMER_LAG.labels(self.group, *labels).set(lag)
            self._exported.add(labels)

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
        for labels in self._exported:
            with contextlib.suppress(KeyError):  # another exporter of the group removed it
                CONSUMER_LAG.remove(self.group, *labels)
        self._exported.clear()
