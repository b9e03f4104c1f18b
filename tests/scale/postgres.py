"""A PostgreSQL server of the tests' own (``initdb`` + ``pg_ctl`` on a free 127.0.0.1 port,
a password-protected role and database) and a real ``mlflow server`` on it with proxied
artifacts: the team tracking server of ``docs/scale-out.md``, in miniature.

PostgreSQL refuses to run as root: as root, its commands run as the unprivileged
``postgres`` user (``runuser``), in a data directory that user owns. When the binaries or
that user are missing, or the server does not start, the tests that need it are skipped
with the reason."""

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import MlflowServer, free_port

ROLE, DATABASE = "mlflow", "mlflow"
#: MLflow's server spends ~1 GiB and ~6 s of its start on its job runner, which tracking does not need.
SERVER_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


class PostgresUnavailable(Exception):
    """PostgreSQL cannot be started here (the message says why)."""


def find_binary(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if found is None:
        raise PostgresUnavailable(f"{name} not found (install PostgreSQL: apt-get install postgresql)")
    return found


class Postgres:
    """A PostgreSQL cluster in a fresh temporary directory on ``127.0.0.1:<port>`` (no Unix
    socket), password authentication only. ``stop()`` ends it by the postmaster's PID."""

    def __init__(self):
        self.initdb, self.pg_ctl = find_binary("initdb"), find_binary("pg_ctl")
        self.user = None
        if os.geteuid() == 0:
            try:
                self.user = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable(
                    "running as root and there is no 'postgres' user to run PostgreSQL as"
                ) from None
            if shutil.which("runuser") is None:
                raise PostgresUnavailable("running as root and runuser is missing")
        self.port = free_port()
        self.admin_password = secrets.token_hex(12)
        self.password = secrets.token_hex(12)
        self.directory = Path(tempfile.mkdtemp(prefix="framework-postgres-"))
        self.data = self.directory / "data"
        self.pid: int | None = None
        if self.user is not None:
            os.chown(self.directory, self.user.pw_uid, self.user.pw_gid)

    def _run(self, *args, timeout=60) -> subprocess.CompletedProcess:
        command = ["runuser", "-u", self.user.pw_name, "--", *args] if self.user else list(args)
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=self.directory)
        if result.returncode != 0:
            raise PostgresUnavailable(f"{Path(args[0]).name} failed: {(result.stderr or result.stdout).strip()[-500:]}")
        return result

    def start(self) -> float:
        """initdb, start, create the role and the database; returns the seconds it took."""
        started = time.monotonic()
        password_file = self.directory / "admin-password"
        password_file.write_text(self.admin_password)
        if self.user is not None:
            os.chown(password_file, self.user.pw_uid, self.user.pw_gid)
        password_file.chmod(0o600)
        self._run(self.initdb, "-D", str(self.data), "-U", "admin", f"--pwfile={password_file}",
                  "-A", "scram-sha-256", "-E", "UTF8", "--no-sync")  # fmt: skip
        password_file.unlink()
        options = f"-h 127.0.0.1 -p {self.port} -k '' -c fsync=off"
        self._run(self.pg_ctl, "-D", str(self.data), "-l", str(self.directory / "postgres.log"), "-w", "-t", "60",
                  "-o", options, "start")  # fmt: skip
        self.pid = int((self.data / "postmaster.pid").read_text().split()[0])
        self._create_role_and_database()
        return time.monotonic() - started

    def _create_role_and_database(self) -> None:
        try:
            import psycopg2
        except ImportError:
            raise PostgresUnavailable("psycopg2 is not installed (pip install psycopg2-binary)") from None
        connection = psycopg2.connect(
            host="127.0.0.1", port=self.port, user="admin", password=self.admin_password, dbname="postgres"
        )
        connection.autocommit = True  # CREATE DATABASE cannot run in a transaction
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"CREATE ROLE {ROLE} LOGIN PASSWORD %s", (self.password,))
                cursor.execute(f"CREATE DATABASE {DATABASE} OWNER {ROLE}")
        finally:
            connection.close()

    def create_database(self, name: str) -> str:
        """Another database owned by the role; its URI without the password."""
        import psycopg2

        connection = psycopg2.connect(
            host="127.0.0.1", port=self.port, user="admin", password=self.admin_password, dbname="postgres"
        )
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"CREATE DATABASE {name} OWNER {ROLE}")
        finally:
            connection.close()
        return f"postgresql://{ROLE}@127.0.0.1:{self.port}/{name}"

    @property
    def uri(self) -> str:
        """The database's URI without the password (libpq reads it from ``PGPASSWORD``)."""
        return f"postgresql://{ROLE}@127.0.0.1:{self.port}/{DATABASE}"

    def _query(self, sql: str, args=()) -> list[tuple]:
        import psycopg2

        connection = psycopg2.connect(
            host="127.0.0.1", port=self.port, user=ROLE, password=self.password, dbname=DATABASE
        )
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, args)
                return cursor.fetchall()
        finally:
            connection.close()

    def run_count(self, experiment: str) -> int:
        """How many runs of ``experiment`` the database holds (read with SQL, not through MLflow)."""
        sql = "SELECT count(*) FROM runs JOIN experiments USING (experiment_id) WHERE experiments.name = %s"
        return self._query(sql, (experiment,))[0][0]

    def dump(self) -> str:
        """Every row of every table of the database, as text."""
        tables = self._query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
        return "\n".join(f"{table}: {self._query(f'SELECT * FROM {table}')}" for (table,) in tables)

    def stop(self) -> None:
        if self.pid is not None:
            with contextlib.suppress(subprocess.SubprocessError, PostgresUnavailable):
                self._run(self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop", timeout=40)
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)  # still alive after pg_ctl stop
            self.pid = None
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres():
    """A running :class:`Postgres`, stopped at the end of the session; skips when it cannot start."""
    try:
        server = Postgres()
    except PostgresUnavailable as exc:
        pytest.skip(f"PostgreSQL unavailable: {exc}")
    try:
        seconds = server.start()
    except (PostgresUnavailable, OSError, subprocess.SubprocessError) as exc:
        server.stop()
        pytest.skip(f"PostgreSQL did not start: {exc}")
    except BaseException:
        server.stop()
        raise
    print(f"\nPostgreSQL started in {seconds:.1f} s on 127.0.0.1:{server.port}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def team_server(postgres, tmp_path_factory):
    """A real ``mlflow server`` on the session's PostgreSQL (proxied artifacts), started once.
    The database password reaches it through ``PGPASSWORD``, never its command line."""
    server = MlflowServer(
        tmp_path_factory.mktemp("team-server"),
        backend_store_uri=postgres.uri,
        env={**SERVER_ENV, "PGPASSWORD": postgres.password},
    )
    try:
        seconds = server.start()
        print(f"\nmlflow server on PostgreSQL started in {seconds:.1f} s at {server.url}")
        yield server
    finally:
        server.stop()
