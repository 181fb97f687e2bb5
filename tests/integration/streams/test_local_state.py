"""A worker whose local state is ahead of its changelogs (a broker reset, topics deleted and
created again) removes that state with a warning, rebuilds it from the changelogs and runs,
where faust alone would refuse to start on every restart."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable

from ops.samples import stripe_capture
from streams.local_state import local_stores
from streams.tables import TABLE_NAMES
from streams.worker import PERSIST_OFFSETS_SECONDS, app_id
from tests.support.pipeline import Pipeline


def test_local_state_ahead_of_its_changelogs_is_rebuilt_from_them_with_a_warning(
    make_pipeline: Callable[..., Pipeline],
) -> None:
    before = make_pipeline()
    worker = before.start_worker()
    # Two events of one payment in two takes: its store records offset 1, which faust finds
    # ahead of an empty changelog and refuses (an offset of 0 it lets pass, keeping the
    # stale state).
    out = before.reader(before.settings.topics.payment_events)
    before.produce("stripe:pi_a", stripe_capture("evt_a", "pi_a"), "evt_a")
    out.wait_for(lambda rs: len(rs) >= 1)
    later = stripe_capture("evt_b", "pi_a", amount=2500, created=1764100100)
    before.produce("stripe:pi_a", later, "evt_b")
    out.wait_for(lambda rs: len(rs) >= 2)
    time.sleep(2 * PERSIST_OFFSETS_SECONDS)  # until the stores have recorded their offsets
    worker.stop()
    # The same local state in front of changelogs that never held it: what a worker meets
    # after a broker reset. Its app id (the topic prefix) differs, so it is copied over.
    after = make_pipeline()
    state = before.workdir / "data" / app_id(before.settings) / "w1"
    copied = shutil.copytree(state, after.workdir / "data" / app_id(after.settings) / "w1")
    assert max(s.persisted_offset or 0 for s in local_stores(copied, TABLE_NAMES)) >= 1

    after.start_worker()
    # Kept, the stale record would drop this event as a duplicate.
    after.produce("stripe:pi_a", stripe_capture("evt_a", "pi_a"), "evt_a")

    records = after.reader(after.settings.topics.payment_events).wait_for(lambda rs: len(rs) >= 1)
    assert records[0].key == b"stripe:pi_a"
    log = (after.workdir / "w1.log").read_text()
    assert f"is ahead of its changelog {app_id(after.settings)}-" in log
    assert "The persisted offset for changelog topic partition" not in log  # faust's refusal
