"""Expired dedupe ids really go away: out of the payment's record in the worker's RocksDB
and out of the latest changelog record the table is restored from."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from rocksdict import AccessType, Options, Rdict

from ops.samples import stripe_capture
from streams.engine import app_id
from streams.payment_record import PaymentRecord
from streams.tables import PAYMENT_STATE, changelog_topic_specs
from tests.support.pipeline import Pipeline

KEY = b"stripe:pi_x"


def stored_record(data_dir: Path) -> PaymentRecord:
    for path in data_dir.rglob(f"{PAYMENT_STATE}-*.db"):
        db = Rdict(str(path), Options(raw_mode=True), access_type=AccessType.read_only())
        try:
            raw = db.get(KEY)
        finally:
            db.close()
        if raw is not None:
            return PaymentRecord.decode(raw)
    raise AssertionError(f"no record of {KEY!r} in {data_dir}")


def test_expired_dedupe_ids_leave_rocksdb_and_the_changelog(
    make_pipeline: Callable[..., Pipeline],
) -> None:
    pipeline = make_pipeline(dedupe_retention_seconds=1.0)
    worker = pipeline.start_worker()
    out = pipeline.reader(pipeline.settings.topics.payment_events)
    pipeline.produce("stripe:pi_x", stripe_capture("evt_old", "pi_x"), "evt_old")
    out.wait_for(lambda rs: len(rs) >= 1)
    time.sleep(1.5)  # past the retention window
    later = stripe_capture("evt_new", "pi_x", created=1764100900)
    pipeline.produce("stripe:pi_x", later, "evt_new")
    out.wait_for(lambda rs: len(rs) >= 2)
    worker.stop()

    record = stored_record(pipeline.workdir / "data")
    assert set(record.seen) == {"evt_new"}
    assert record.state is not None
    assert record.state.version == 2  # the state keeps what the expired id did

    changelog = changelog_topic_specs(app_id(pipeline.settings), pipeline.settings)[0].name
    history = [r.value for r in pipeline.reader(changelog).poll(2.0) if r.key == KEY]
    assert len(history) == 2
    assert history[-1] is not None
    assert set(PaymentRecord.decode(history[-1]).seen) == {"evt_new"}
