"""Scratch PostgreSQL databases for tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from ops.local_postgres import create_database, drop_database


@contextmanager
def scratch_database(server_url: str, prefix: str = "payments_test") -> Iterator[str]:
    """A new, empty database on the server of `server_url` (its URL), dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    url = create_database(server_url, name)
    try:
        yield url
    finally:
        drop_database(server_url, name)
