"""The retry tiers and the dlq as last read, for the admin process's pages and API.

Reading a topic from its start costs a consumer, a metadata request and a watermark query
per partition: far too slow for each page. A thread re-reads them every
ADMIN_TOPIC_REFRESH_SECONDS (headers only: bodies hold PII and are read one message at a
time, when a page or a replay needs them); pages read the last snapshot and say how old it
is. A replay or purge asks for a refresh at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from confluent_kafka import KafkaException

from common.settings import PipelineSettings
from common.topic_scan import TopicEntry, scan_topics

log = logging.getLogger("payments.admin")
Scan = Callable[[PipelineSettings, Sequence[str]], list[TopicEntry]]


@dataclass(frozen=True)
class Snapshot:
    by_topic: dict[str, list[TopicEntry]] = field(default_factory=dict)
    read_at: datetime | None = None  # None: never read yet
    error: str | None = None  # why the last read failed (the entries are older)


class TopicMirror:
    def __init__(
        self, settings: PipelineSettings, scan: Scan = scan_topics, interval: float | None = None
    ) -> None:
        self._settings = settings
        self._topics = (*settings.topics.retry, settings.topics.dlq)
        self._scan = scan
        self._interval = interval or settings.admin_topic_refresh_seconds
        self._snapshot = Snapshot()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="topic-mirror", daemon=True)

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    def entries(self, _settings: PipelineSettings, topics: Sequence[str]) -> list[TopicEntry]:
        """The last snapshot's records of `topics` (a drop-in for `scan_topics`)."""
        by_topic = self._snapshot.by_topic
        return [entry for topic in topics for entry in by_topic.get(topic, ())]

    def refresh(self) -> None:
        """Read the topics now (blocking); on failure keep the last entries and say why."""
        try:
            entries = self._scan(self._settings, self._topics)
        except (KafkaException, RuntimeError, TimeoutError) as exc:
            log.warning("reading the retry and dlq topics failed", extra={"error": str(exc)})
            last = self._snapshot
            self._snapshot = Snapshot(last.by_topic, last.read_at, str(exc))
            return
        by_topic: dict[str, list[TopicEntry]] = {}
        for entry in entries:
            by_topic.setdefault(entry.topic, []).append(entry)
        self._snapshot = Snapshot(by_topic, datetime.now(UTC))

    def request_refresh(self) -> None:
        self._wake.set()

    def start(self) -> TopicMirror:
        """Read on the thread, first at once: a broker that does not answer delays the
        pages' view of the topics, not the process's start."""
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.ident is not None:
            self._thread.join(timeout=1.0)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.refresh()
            self._wake.wait(self._interval)
            self._wake.clear()
