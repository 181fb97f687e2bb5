"""Which local table stores are ahead of their changelogs, and that the store layout and
offset bookkeeping read here are faust's own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faust
from faust.types import TP

from common.settings import PipelineSettings
from streams.engine import datadir
from streams.local_state import LocalStore, local_stores, stores_ahead


def test_a_store_at_or_past_its_changelog_end_is_ahead() -> None:
    ends = {("payments", 0): 110, ("payments", 1): 110, ("dedupe", 0): 0}
    behind = LocalStore("payments", 0, 109)  # its last record is the changelog's last
    at_end = LocalStore("payments", 1, 110)
    on_empty_changelog = LocalStore("dedupe", 0, 0)

    assert stores_ahead([behind, at_end, on_empty_changelog], ends) == [
        at_end,
        on_empty_changelog,
    ]


def test_a_store_of_a_partition_its_changelog_lacks_is_ahead() -> None:
    beyond = LocalStore("payments", 7, 3)

    assert stores_ahead([beyond], {("payments", 0): 10}) == [beyond]


def test_a_store_that_never_recorded_an_offset_is_kept() -> None:
    assert stores_ahead([LocalStore("payments", 0, None)], {}) == []


def test_the_data_dir_is_named_for_the_app_id(tmp_path: Path) -> None:
    settings = PipelineSettings(
        _env_file=None, worker_data_dir=tmp_path, worker_id="w7", topic_prefix="t-"
    )

    assert datadir(settings) == tmp_path / "t-payments-worker" / "w7"


def test_stores_and_offsets_are_read_where_faust_keeps_them(tmp_path: Path) -> None:
    app = faust.App("layout", datadir=str(tmp_path), store="rocksdb://", autodiscover=False)
    for name in ("payment", "payment-state"):  # one name the prefix of the other
        store: Any = app.Table(name, partitions=4, key_type=bytes, value_type=bytes).data
        store.set_persisted_offset(TP(f"{name}-changelog", 2), 109)
        store._db_for_partition(3)  # a store that never recorded an offset

    stores = local_stores(tmp_path, ["payment", "payment-state"])

    assert sorted(stores, key=lambda s: (s.table, s.partition)) == [
        LocalStore("payment", 2, 109),
        LocalStore("payment", 3, None),
        LocalStore("payment-state", 2, 109),
        LocalStore("payment-state", 3, None),
    ]
