"""Fixtures shared by several test suites (plugins, tracking, reliability): fake installed
plugin distributions (``make_distribution``), a migrated SQLite
template store, real ``mlflow server`` processes on 127.0.0.1 (one shared per session,
and a class to start, kill and restart one against the same backend store), and a TCP
proxy in front of a server that a test can cut and restore to make it vanish and come back."""

import contextlib
import importlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session", autouse=True)
def _temporary_files_go_when_all_pass(request, tmp_path_factory):
    """A session whose tests all passed removes its temporary directory; one with a failure keeps it
    for a look. (Removing each passed test's directory at once, pytest's "failed" policy, lets the
    next test get the same path, and MLflow's per-URI store would still read the removed database.)"""
    yield
    if request.session.testsfailed == 0:
        shutil.rmtree(tmp_path_factory.getbasetemp(), ignore_errors=True)


@pytest.fixture(autouse=True)
def _environment_restored():
    """Each test ends with the environment it started with (a tracked run moves a URI's password
    into the environment, where MLflow's clients read it, for the rest of its process)."""
    saved = dict(os.environ)
    yield
    if os.environ != saved:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="session")
def _template_store(tmp_path_factory) -> Path:
    """An empty MLflow SQLite store with its schema created once per session (creating it
    costs MLflow about two seconds); copy it to get a fresh store."""
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("template") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()  # creates the schema
    return path


def fresh_store(template: Path, path: Path) -> str:
    """Copy the template store to ``path``; return its tracking URI."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


# -- fake installed plugin distributions ---------------------------------------------------


@dataclass
class FakeDistribution:
    name: str
    version: str
    entry_point: str
    module: str
    site: Path


@pytest.fixture
def make_distribution(tmp_path, monkeypatch, request):
    """``make_distribution(source, entry_point=..., name=..., version=...)``: a distribution
    installed in a fresh directory on ``sys.path``, with one entry point in group
    ``framework`` pointing at a new module whose code is ``source``."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))

    def make(source: str, *, entry_point: str | None = None, name: str | None = None, version: str = "1.2.3"):
        tag = uuid.uuid4().hex[:8]
        module = f"fake_plugin_{tag}"
        entry_point = entry_point or f"fake-{tag}"
        name = name or f"fake-dist-{tag}"
        (site / f"{module}.py").write_text(textwrap.dedent(source))
        info = site / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(f"[framework]\n{entry_point} = {module}\n")
        request.addfinalizer(lambda: sys.modules.pop(module, None))
        importlib.invalidate_caches()
        return FakeDistribution(name, version, entry_point, module, site)

    return make


# -- real MLflow servers ----------------------------------------------------------------


class MlflowServer:
    """A real ``mlflow server`` on ``127.0.0.1:<port>`` (one worker, proxied artifacts in
    ``directory/artifacts``; backend store ``backend_store_uri``, by default SQLite in
    ``directory/server.db``), in its own process group, with ``env`` added to its
    environment. ``kill()`` ends it like a crash (SIGKILL to the whole group); ``start()``
    again serves the same backend store on the same port."""

    def __init__(
        self,
        directory: Path,
        port: int | None = None,
        template: Path | None = None,
        backend_store_uri: str | None = None,
        env: dict | None = None,
    ):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.backend_store_uri = backend_store_uri or f"sqlite:///{self.directory / 'server.db'}"
        self.env = dict(env or {})
        self.process: subprocess.Popen | None = None
        self._log = None
        if template is not None and backend_store_uri is None and not (self.directory / "server.db").exists():
            shutil.copyfile(template, self.directory / "server.db")  # no schema migration at start

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.directory / "server.log"

    def start(self, timeout: float = 120) -> float:
        """Start the server and wait until ``/health`` answers from it (not from another process
        on the port); returns the seconds it took."""
        if port_in_use(self.port):
            raise RuntimeError(f"127.0.0.1:{self.port} is already in use by another process")
        started = time.monotonic()
        self._log = open(self.log_path, "a")  # noqa: SIM115 - open while the server runs
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlflow",
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                "1",
                "--backend-store-uri",
                self.backend_store_uri,
                "--artifacts-destination",
                str(self.directory / "artifacts"),
            ],
            cwd=self.directory,
            env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", **self.env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as a whole
        )
        deadline = started + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"mlflow server exited: {self.log_path.read_text()[-2000:]}")
            if self._answers():
                return time.monotonic() - started
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"mlflow server did not answer within {timeout:g} s")
            time.sleep(0.25)

    def _answers(self) -> bool:
        """Whether ``/health`` answers and the socket listening on the port belongs to this server."""
        try:
            if requests.get(f"{self.url}/health", timeout=2).status_code != 200:
                return False
        except requests.RequestException:
            return False
        owners = listening_sessions(self.port)
        if owners and owners != {self.process.pid}:
            self.stop()
            raise RuntimeError(f"127.0.0.1:{self.port} is served by another process (sessions {sorted(owners)})")
        return bool(owners)

    def kill(self) -> None:
        """SIGKILL the server's whole process group, as a crash would, and wait until the port is free."""
        self._signal_group(signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) != 0:
                    return
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            self._close_log()
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._close_log()

    def _signal_group(self, signum) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory, _template_store):
    """``http://127.0.0.1:<port>`` of a real ``mlflow server`` (SQLite backend, proxied
    artifacts), started once and stopped at the end of the session."""
    server = MlflowServer(tmp_path_factory.mktemp("mlflow-server"), template=_template_store)
    try:
        server.start()
        yield server.url
    finally:
        server.stop()


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rpartition(":")[2], 16) == port:
                    inodes.add(fields[9])
    return inodes


def listening_sessions(port: int) -> set[int]:
    """The session ids of the processes that hold a socket listening on ``port`` (a server started
    with ``start_new_session=True`` has its own pid as session id); only processes this user may read."""
    wanted = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    sessions = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if any(os.readlink(fd) in wanted for fd in (proc / "fd").iterdir()):
                stat = (proc / "stat").read_text()
                sessions.add(int(stat.rpartition(")")[2].split()[3]))  # fields after the name: state ppid pgrp session
    return sessions


def listening_addresses(port: int) -> set[str]:
    """The local addresses of the TCP sockets listening on ``port`` (from /proc/net/tcp{,6})."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, _, hex_port = fields[1].partition(":")
            if fields[3] == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(_decode_address(address, width))
    return found


def _decode_address(hex_address: str, width: int) -> str:
    import ipaddress

    raw = bytes.fromhex(hex_address)
    if width == 8:
        return str(ipaddress.IPv4Address(raw[::-1]))
    # /proc shows IPv6 as four little-endian 32-bit words.
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return str(ipaddress.IPv6Address(words))


# -- a proxy that can be cut ---------------------------------------------------------------


class Proxy:
    """A TCP forwarder on 127.0.0.1 in front of ``target_port``. ``cut()`` makes the
    address refuse connections and drops open ones (the server is "gone");
    ``restore()`` listens again on the same port."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.port = free_port()
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self.restore()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
            listener.close()
        with self._lock:
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
                connection.close()
            self._connections.clear()

    close = cut

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            if self._listener is not listener:  # cut meanwhile
                client.close()
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._connections += [client, upstream]
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, target), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def proxy(mlflow_server):
    server_port = int(mlflow_server.rsplit(":", 1)[1])
    proxy = Proxy(server_port)
    yield proxy
    proxy.cut()
