"""A throwaway PostgreSQL cluster from Debian's packages, for tests and local runs.

Installs the server with apt when it is missing (as root, the machine's case), runs it as
the `postgres` user (initdb refuses root), listens on 127.0.0.1 only, trusts local
connections, and keeps everything under one directory that `stop(remove=True)` deletes.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess  # nosec B404
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

APT_UPDATE = ["apt-get", "update", "-qq"]
APT_INSTALL = ["apt-get", "install", "-y", "-qq", "postgresql"]


class PostgresError(RuntimeError):
    """The local PostgreSQL could not be installed, started or stopped."""


def postgres_bin_dir() -> Path:
    """Where pg_ctl and initdb live, installing the server package when absent."""
    found = _newest_bin_dir()
    if found is None:
        if os.geteuid() != 0:
            raise PostgresError("PostgreSQL is not installed; run: apt-get install -y postgresql")
        for command in (
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", "postgresql"],
        ):
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

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_owner(self, *command: str) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *command]
        return list(command)

    def start(self) -> None:
        bin_dir = postgres_bin_dir()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.data_dir, "postgres", "postgres")
        self.data_dir.chmod(0o700)
        cluster = self.data_dir / "cluster"
        if not (cluster / "PG_VERSION").exists():
            _run(
                self._as_owner(
                    str(bin_dir / "initdb"), "-D", str(cluster), "-U", "postgres",
                    "--auth=trust", "--encoding=UTF8", "--no-sync",
                )
            )  # fmt: skip
        options = (
            f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1 -c fsync=off"
            " -c max_connections=200"
        )
        _run(
            self._as_owner(
                str(bin_dir / "pg_ctl"), "-D", str(cluster),
                "-l", str(self.data_dir / "server.log"), "-o", options, "-w", "-t", "60", "start",
            )
        )  # fmt: skip

    def stop(self, remove: bool = False) -> None:
        cluster = self.data_dir / "cluster"
        if (cluster / "postmaster.pid").exists():
            pg_ctl = str(postgres_bin_dir() / "pg_ctl")
            _run(self._as_owner(pg_ctl, "-D", str(cluster), "-m", "fast", "-w", "stop"))
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
