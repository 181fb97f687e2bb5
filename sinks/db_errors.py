"""What a database error means for the batch: the data is wrong, or the database is away.

SQLAlchemy wraps driver errors (`.orig`); the COPY path raises psycopg's own. Anything not
listed here is a bug: the sink stops without committing offsets, and a restart redoes the
batch.
"""

from __future__ import annotations

import sqlite3
from typing import Literal

import psycopg

ErrorKind = Literal["data", "unavailable", "unknown"]

# Class 22 (data exception) and 23 (integrity constraint), as each driver names them;
# OverflowError is sqlite3 refusing an integer wider than 64 bits before sending it.
_DATA = (psycopg.DataError, psycopg.IntegrityError, sqlite3.DataError, sqlite3.IntegrityError,
         OverflowError)  # fmt: skip
# Connection refused or lost, server shutting down, SQLite file locked by another writer.
_UNAVAILABLE = (psycopg.OperationalError, psycopg.InterfaceError, sqlite3.OperationalError,
                OSError)  # fmt: skip


def classify(error: BaseException) -> ErrorKind:
    cause = getattr(error, "orig", None) or error
    if isinstance(cause, _DATA):
        return "data"
    if isinstance(cause, _UNAVAILABLE):
        return "unavailable"
    return "unknown"
