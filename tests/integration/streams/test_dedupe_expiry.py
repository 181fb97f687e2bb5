"""Expired dedupe entries really go away: out of the worker's RocksDB and, as tombstones
that compaction removes, out of the changelog the table is restored from."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import cast

import pytest
from rocksdict import AccessType, Options, Rdict

from streams.samples import stripe_capture
from streams.tables import DEDUPE, changelog_topic_specs
from streams.worker import app_id
from tests.integration.streams.conftest import Pipeline

pytestmark = pytest.mark.integration


def rocksdb_keys(data_dir: Path) -> set[bytes]:
    keys: set[bytes] = set()
    for path in data_dir.rglob(f"{DEDUPE}-*.db"):
        db = Rdict(str(path), Options(raw_mode=True), access_type=AccessType.read_only())
        try:
            keys.update(cast(Iterable[bytes], db.keys()))  # rocksdict's stub says otherwise
        finally:
            db.close()
    return keys


def test_expired_dedupe_entries_leave_rocksdb_and_the_changelog(
    make_pipeline: Callable[..., Pipeline],
) -> None:
    pipeline = make_pipeline(dedupe_retention_seconds=1.0, dedupe_sweep_interval_seconds=0.1)
    worker = pipeline.start_worker()
    out = pipeline.reader(pipeline.settings.topics.payment_events)
    pipeline.produce("stripe:pi_x", stripe_capture("evt_old", "pi_x"), "evt_old")
    out.wait_for(lambda rs: len(rs) >= 1)
    time.sleep(1.5)  # past the retention window
    # Same payment, same partition: processing it sweeps that partition.
    later = stripe_capture("evt_new", "pi_x", created=1764100900)
    pipeline.produce("stripe:pi_x", later, "evt_new")
    out.wait_for(lambda rs: len(rs) >= 2)
    worker.stop()

    keys = rocksdb_keys(pipeline.workdir / "data")
    assert b"stripe:evt_new" in keys
    assert b"stripe:evt_old" not in keys

    changelog = changelog_topic_specs(app_id(pipeline.settings), pipeline.settings)[0].name
    history = [r.value for r in pipeline.reader(changelog).poll(2.0) if r.key == b"stripe:evt_old"]
    assert len(history) == 2
    assert history[-1] is None  # the tombstone
