"""Throw-away PostgreSQL and MariaDB servers on a free localhost port, for tests and benchmarks.

Each server lives in its own temporary directory (data, socket, log) and is stopped and
removed on exit. PostgreSQL refuses to run as root, so when we are root its cluster belongs
to the ``postgres`` user (Debian's package creates it) or ``nobody``. ``find_*`` return None
when the server binaries are not installed (``make databases`` installs Debian's packages).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

USER = "c2m"
PASSWORD = "s3cret-Pw!"  # a password with URI-special characters, to test masking and quoting
DATABASE = "shop"


@dataclass
class Server:
    kind: str  # postgresql | mysql
    port: int
    user: str = USER
    password: str = PASSWORD
    database: str = DATABASE
    socket_dir: str = ""

    def libpq_uri(self, database: str | None = None) -> str:
        from urllib.parse import quote

        return f"postgresql://{self.user}:{quote(self.password, safe='')}@127.0.0.1:{self.port}/{database or self.database}"

    def uri(self, *, password: str | None = None, with_password: bool = True, **query: str) -> str:
        from urllib.parse import quote, urlencode

        secret = self.password if password is None else password
        auth = f"{self.user}:{quote(secret, safe='')}" if with_password else self.user
        return f"{self.kind}://{auth}@127.0.0.1:{self.port}/{self.database}?{urlencode(query)}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _accepts(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _postgres_bindir() -> Path | None:
    for candidate in [shutil.which("pg_ctl"), *sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)]:
        if candidate and Path(candidate).exists():
            return Path(os.path.realpath(candidate)).parent
    return None


def find_postgres() -> Path | None:
    bindir = _postgres_bindir()
    if bindir is None or not (bindir / "initdb").exists() or not (bindir / "postgres").exists():
        return None
    return bindir


def find_mariadb() -> tuple[str, str] | None:
    server = shutil.which("mariadbd") or shutil.which("mysqld") or (
        "/usr/sbin/mariadbd" if Path("/usr/sbin/mariadbd").exists() else None
    )
    install = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
    if server is None or install is None:
        return None
    return server, install


def _run_as() -> tuple[list[str], int | None, int | None]:
    if os.geteuid() != 0:
        return [], None, None
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return ["runuser", "-u", name, "--"], entry.pw_uid, entry.pw_gid
    raise RuntimeError("running as root and no unprivileged user (postgres, nobody) to own a cluster")


@contextlib.contextmanager
def postgres_server(bindir: Path) -> Iterator[Server]:
    prefix, uid, gid = _run_as()
    base = Path(tempfile.mkdtemp(prefix="c2m-pg-"))
    os.chmod(base, 0o755)
    if uid is not None and gid is not None:
        os.chown(base, uid, gid)
    pwfile = base / "pw"
    pwfile.write_text(PASSWORD + "\n", encoding="utf-8")
    if uid is not None and gid is not None:
        os.chown(pwfile, uid, gid)
    port = free_port()
    data = base / "data"
    try:
        subprocess.run(
            [*prefix, str(bindir / "initdb"), "-D", str(data), "-U", USER, "--auth=scram-sha-256",
             f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C"],
            check=True, capture_output=True, timeout=120,
        )
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w", "-t", "60",
             "-o", f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c shared_buffers=64MB",
             "start"],
            check=True, capture_output=True, timeout=120,
        )
        server = Server("postgresql", port, socket_dir=str(base))
        import adbc_driver_postgresql.dbapi as dbapi

        with dbapi.connect(server.libpq_uri("postgres"), autocommit=True) as connection, connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {DATABASE}")
        yield server
    finally:
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60, check=False)
        shutil.rmtree(base, ignore_errors=True)


@contextlib.contextmanager
def mariadb_server(binaries: tuple[str, str]) -> Iterator[Server]:
    server_bin, install = binaries
    base = Path(tempfile.mkdtemp(prefix="c2m-mariadb-"))
    data, sock = base / "data", base / "mysqld.sock"
    port = free_port()
    process = None
    try:
        subprocess.run(
            [install, "--no-defaults", f"--datadir={data}", "--user=root", "--auth-root-authentication-method=normal",
             "--skip-test-db"],
            check=True, capture_output=True, timeout=180,
        )
        process = subprocess.Popen(
            [server_bin, "--no-defaults", f"--datadir={data}", f"--socket={sock}", f"--port={port}",
             "--bind-address=127.0.0.1", "--user=root", f"--pid-file={base / 'pid'}",
             f"--log-error={base / 'log'}", "--innodb-buffer-pool-size=64M", "--skip-log-bin"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        import pymysql

        deadline = time.monotonic() + 60
        while not _accepts(port):  # connect only once the server listens (no half-open sockets)
            if time.monotonic() > deadline or process.poll() is not None:
                log = (base / "log").read_text(errors="replace")[-500:] if (base / "log").exists() else ""
                raise RuntimeError(f"mariadbd did not start: {log}")
            time.sleep(0.2)
        root = pymysql.connect(unix_socket=str(sock), user="root", password="")
        with root, root.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4")
            cursor.execute(f"CREATE USER '{USER}'@'127.0.0.1' IDENTIFIED BY %s", (PASSWORD,))
            cursor.execute(f"GRANT ALL ON {DATABASE}.* TO '{USER}'@'127.0.0.1'")
        yield Server("mysql", port, socket_dir=str(base))
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(base, ignore_errors=True)
