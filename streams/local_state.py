"""The worker's local state: where its RocksDB table stores live, and what is done with a
store that is ahead of its changelog.

Stores live in `WORKER_DATA_DIR/<app id>/<WORKER_ID>` (app id: topic prefix + worker
group), so a worker started with other topics never meets the state of the old ones.

A store remembers the offset of the last changelog record it holds, and a restart restores
only what comes after it. When that offset is not below the changelog's end (the topics
were deleted and created again, the broker was reset), the store holds state the changelog
no longer backs: faust refuses to start on every restart (`ConsistencyError`), or, when the
offset is 0, keeps the stale state. Such a store is removed before faust starts, with a
warning, and faust rebuilds it from the changelog as for a partition it never had.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from rocksdict import AccessType, Options, Rdict

from common.settings import PipelineSettings
from common.topic_scan import end_offsets
from streams import engine

log = logging.getLogger("streams.local_state")


@dataclass(frozen=True, slots=True)
class LocalStore:
    table: str
    partition: int
    #: offset of the last changelog record the store holds; None: it never recorded one
    persisted_offset: int | None


def stores_ahead(
    stores: Iterable[LocalStore], end_offsets: Mapping[tuple[str, int], int]
) -> list[LocalStore]:
    """The stores not behind their changelog partition's end offset (the offset its next
    record gets; `(table, partition)` → offset, a partition absent from it holds nothing).
    A store that never recorded an offset is restored from the start anyway: it is kept."""
    return [
        store
        for store in stores
        if store.persisted_offset is not None
        and store.persisted_offset >= end_offsets.get((store.table, store.partition), 0)
    ]


def discard_stores_ahead(
    settings: PipelineSettings, changelogs: Mapping[str, str]
) -> list[LocalStore]:
    """Remove every local store of the tables `changelogs` names (table → its changelog
    topic) that is ahead of its changelog partition; returns them."""
    stores = local_stores(engine.datadir(settings), changelogs)
    if not stores:
        return []
    # A partition the changelogs lack (a lower count than the stores were written for)
    # holds nothing: run() has checked that they have TOPIC_PARTITIONS partitions.
    changelog_partitions = {
        (store.table, store.partition): (changelogs[store.table], store.partition)
        for store in stores
        if store.partition < settings.topic_partitions
    }
    ends = end_offsets(settings, changelog_partitions.values())
    end_offsets_by_store = {where: ends[tp] for where, tp in changelog_partitions.items()}
    ahead = stores_ahead(stores, end_offsets_by_store)
    for store in ahead:
        # Arguments, not an f-string: the masking filter leaves numbers alone, not digit
        # runs in text.
        log.warning(
            "local state of table %s partition %d is ahead of its changelog %s (persisted "
            "offset %d, changelog end offset %d): removed, rebuilt from the changelog",
            store.table,
            store.partition,
            changelogs[store.table],
            store.persisted_offset,
            end_offsets_by_store.get((store.table, store.partition), 0),
        )
        shutil.rmtree(stores[store])
    return ahead


def local_stores(faust_datadir: Path, tables: Iterable[str]) -> dict[LocalStore, Path]:
    """The stores of `tables` in `faust_datadir`, and where each is."""
    tables_dir = faust_datadir / engine.TABLES_SUBDIR
    stores = {}
    for table in tables:
        prefix = f"{table}-"
        for path in tables_dir.glob(f"{prefix}*{engine.STORE_SUFFIX}"):
            partition = path.name.removeprefix(prefix).removesuffix(engine.STORE_SUFFIX)
            if partition.isdigit():  # not the store of a table whose name starts with ours
                stores[LocalStore(table, int(partition), _persisted_offset(path))] = path
    return stores


def _persisted_offset(path: Path) -> int | None:
    db = Rdict(str(path), Options(raw_mode=True), access_type=AccessType.read_only())
    try:
        raw = db.get(engine.OFFSET_KEY)
    finally:
        db.close()
    return int(raw) if raw is not None else None
