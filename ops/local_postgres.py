"""A PostgreSQL cluster from Debian's packages, for tests and local runs (`payments postgres`,
`payments run --postgres`).

Installs the server with apt when it is missing (as root, the machine's case), runs it as
the `postgres` user (initdb refuses root), listens on 127.0.0.1 only, trusts local
connections, and keeps everything under one directory that `stop(remove=True)` deletes.
Durable by default (fsync, synchronous_commit and full_page_writes on: production's
settings); tests that throw the cluster away turn all three off.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess  # nosec B404
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

APT_UPDATE = ["apt-get", "update", "-qq"]
APT_INSTALL = ["apt-get", "install", "-y", "-qq", "postgresql"]
#: The server settings that decide whether a committed transaction survives a crash.
DURABILITY_SETTINGS: Final = ("fsync", "synchronous_commit", "full_page_writes")


class PostgresError(RuntimeError):
    """The local PostgreSQL could not be installed, started or stopped."""


def postgres_bin_dir() -> Path:
    """Where pg_ctl and initdb live, installing the server package when absent."""
    found = _newest_bin_dir()
    if found is None:
        if os.geteuid() != 0:
            raise PostgresError("PostgreSQL is not installed; run: apt-get install -y postgresql")
        for command in (APT_UPDATE, APT_INSTALL):
            _run(command, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        found = _newest_bin_dir()
    if found is None:
        raise PostgresError("apt-get installed postgresql but no pg_ctl was found")
    return found


def _newest_bin_dir() -> Path | None:
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4])
    )
    return Path(candidates[-1]).parent if candidates else None


def _run(command: list[str], env: dict[str, str] | None = None) -> str:
    result = subprocess.run(  # nosec B603
        command, capture_output=True, text=True, check=False, env=env
    )
    if result.returncode != 0:
        raise PostgresError(f"{' '.join(command)} failed: {result.stdout}{result.stderr}")
    return result.stdout


@dataclass(frozen=True)
class LocalPostgres:
    data_dir: Path
    port: int = 5432
    durable: bool = True

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def database_url(self, name: str) -> str:
        """The SQLAlchemy URL of database `name` on this cluster, as DATABASE_URL takes it."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    @property
    def _cluster(self) -> Path:
        return self.data_dir / "cluster"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "server.log"

    def _as_owner(self, *command: str) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *command]
        return list(command)

    def start(self) -> None:
        bin_dir = postgres_bin_dir()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.data_dir, "postgres", "postgres")
            self._check_reachable()
        self.data_dir.chmod(0o700)
        if not (self._cluster / "PG_VERSION").exists():
            _run(
                self._as_owner(
                    str(bin_dir / "initdb"), "-D", str(self._cluster), "-U", "postgres",
                    "--auth=trust", "--encoding=UTF8", *self._initdb_sync(),
                )
            )  # fmt: skip
        durability = " ".join(f"-c {name}={self._switch}" for name in DURABILITY_SETTINGS)
        options = (
            f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1"
            f" {durability} -c max_connections=200"
        )
        try:
            _run(
                self._as_owner(
                    str(bin_dir / "pg_ctl"), "-D", str(self._cluster),
                    "-l", str(self.log_file), "-o", options, "-w", "-t", "60", "start",
                )
            )  # fmt: skip
        except PostgresError as error:
            raise PostgresError(f"{error} {self._last_log_line()}") from error

    def _check_reachable(self) -> None:
        try:
            _run(self._as_owner("test", "-w", str(self.data_dir)))
        except PostgresError as error:
            raise PostgresError(
                f"the postgres user cannot reach {self.data_dir}: pick a data directory whose "
                "parents it may traverse (chmod o+x), e.g. under /tmp"
            ) from error

    @property
    def _switch(self) -> str:
        return "on" if self.durable else "off"

    def durability(self) -> Durability:
        """What the running server reports for the settings that make a commit durable."""
        return read_durability(self.admin_url)

    def _initdb_sync(self) -> list[str]:
        return [] if self.durable else ["--no-sync"]

    def _last_log_line(self) -> str:
        lines = self.log_file.read_text().splitlines() if self.log_file.exists() else []
        return lines[-1] if lines else ""

    def running(self) -> bool:
        """True when the cluster's server runs (`pg_ctl status`)."""
        if not (self._cluster / "postmaster.pid").exists():
            return False
        pg_ctl = str(postgres_bin_dir() / "pg_ctl")
        try:
            _run(self._as_owner(pg_ctl, "-D", str(self._cluster), "status"))
        except PostgresError:
            return False
        return True

    def ensure_database(self, name: str) -> str:
        """Create database `name` unless it exists; return its URL."""
        with _admin_connection(self.admin_url) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
        if exists is None:
            create_database(self.admin_url, name)
        return self.database_url(name)

    def stop(self, remove: bool = False) -> None:
        if (self._cluster / "postmaster.pid").exists():
            pg_ctl = str(postgres_bin_dir() / "pg_ctl")
            _run(self._as_owner(pg_ctl, "-D", str(self._cluster), "-m", "fast", "-w", "stop"))
        if remove:
            shutil.rmtree(self.data_dir, ignore_errors=True)


def create_database(server_url: str, name: str) -> str:
    """Create database `name` on the server of `server_url`; return the new database's URL."""
    with _admin_connection(server_url) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, name: str) -> None:
    with _admin_connection(server_url) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def _admin_connection(server_url: str) -> psycopg.Connection[tuple[object, ...]]:
    url = make_url(server_url).set(drivername="postgresql")
    return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)


@dataclass(frozen=True)
class Durability:
    """The durability settings a session reports (`SHOW fsync` and so on)."""

    fsync: str
    synchronous_commit: str
    full_page_writes: str

    @property
    def production(self) -> bool:
        """A commit survives a crash of the server or the machine."""
        return (self.fsync, self.full_page_writes) == ("on", "on") and (
            self.synchronous_commit != "off"
        )

    def report(self) -> str:
        shown = (
            f"fsync={self.fsync}, synchronous_commit={self.synchronous_commit}, "
            f"full_page_writes={self.full_page_writes}"
        )
        if self.production:
            return f"PostgreSQL durability: {shown} (production's)"
        return (
            f"PostgreSQL durability: {shown}: NOT PRODUCTION DURABILITY, a crash may lose "
            "committed rows, and database figures overstate what a production server sustains"
        )


def read_durability(url: str) -> Durability:
    """What a new session on `url`'s database reports for `DURABILITY_SETTINGS`."""
    with _admin_connection(url) as conn:
        row = conn.execute(
            "SELECT current_setting('fsync'), current_setting('synchronous_commit'),"
            " current_setting('full_page_writes')"
        ).fetchone()
    if row is None:
        raise PostgresError("the server reported no durability settings")
    fsync, synchronous_commit, full_page_writes = map(str, row)
    return Durability(fsync, synchronous_commit, full_page_writes)


def set_durability(server_url: str, name: str, durable: bool) -> Durability:
    """Make database `name` commit synchronously (`durable`) or asynchronously, and return
    what a session there reports. fsync and full_page_writes are the server's: a durable
    database on a server with either off raises PostgresError."""
    with _admin_connection(server_url) as conn:
        conn.execute(
            sql.SQL("ALTER DATABASE {} SET synchronous_commit = {}").format(
                sql.Identifier(name), sql.Literal("on" if durable else "off")
            )
        )
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    durability = read_durability(url)
    if durable and not durability.production:
        raise PostgresError(
            f"{durability.report()}; start the server durable (`payments postgres start` "
            "without --no-fsync) or pass --no-fsync to measure without production durability"
        )
    return durability
