"""A throw-away PostgreSQL cluster for the store tests: `initdb` + `pg_ctl` on a temporary folder.

The server listens only on a Unix socket inside that folder (no TCP port, so parallel runs never
collide) and trusts local connections. Debian installs the binaries under
/usr/lib/postgresql/<version>/bin, off PATH, so both places are searched. initdb refuses to run
as root; as root the cluster runs as the `postgres` system user (created by the Debian package).
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "postgres"


def find_bindir() -> Path | None:
    """The folder holding initdb and pg_ctl: PATH first, then Debian's versioned folders (newest)."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True)
    for folder in candidates:
        if (Path(folder) / "initdb").is_file() and (Path(folder) / "pg_ctl").is_file():
            return Path(folder)
    return None


def skip_reason() -> str | None:
    if os.environ.get("EXPERTUNE_NO_POSTGRES"):
        return "disabled by EXPERTUNE_NO_POSTGRES"
    if find_bindir() is None:
        return ("PostgreSQL binaries (initdb, pg_ctl) not found on PATH or in /usr/lib/postgresql/*/bin; "
                "install Debian's `postgresql` package to run the store tests against PostgreSQL")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SUPERUSER)
        except KeyError:
            return "running as root and there is no `postgres` user to run the test cluster as (initdb refuses root)"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return 'psycopg is not installed; pip install "expertune[postgres]"'
    return None


@dataclass
class Cluster:
    bindir: Path
    root: Path  # data/, the socket and the log; directly under /tmp so `postgres` can reach it

    @property
    def socket_dir(self) -> Path:
        return self.root

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@/{database}?host={self.socket_dir}"

    @property
    def version(self) -> str:
        out = subprocess.run([str(self.bindir / "pg_ctl"), "--version"], capture_output=True, text=True).stdout
        match = re.search(r"\(PostgreSQL\) (\S+)", out)  # "pg_ctl (PostgreSQL) 15.18 (Debian ...)"
        return match.group(1) if match else out.strip()

    def _run(self, *args: str) -> None:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", SUPERUSER, "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}\n{tail}")

    def start(self) -> "Cluster":
        if os.geteuid() == 0:  # the cluster runs as `postgres`: hand it the folder
            user = pwd.getpwnam(SUPERUSER)
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self._run("initdb", "-D", str(self.root / "data"), "-U", SUPERUSER, "--auth=trust",
                  "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync")
        # Durability is irrelevant for a throw-away cluster; speed is not.
        options = f"-k {self.socket_dir} -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", str(self.root / "data"), "-l", str(self.root / "server.log"), "-o", options, "-w", "start")
        return self

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")

    def create_database(self, name: str) -> str:
        """A fresh, empty database; returns its SQLAlchemy URL."""
        import psycopg

        with psycopg.connect(host=str(self.socket_dir), user=SUPERUSER, dbname="postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)
