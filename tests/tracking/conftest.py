"""Fixtures for the tracking tests: a fresh local SQLite store per test (copied from
one migrated once per session, which saves MLflow's two-second schema creation per
test), composed configs with ``logger=mlflow``, one real ``mlflow server`` on
127.0.0.1 shared by the tests that need it, and a TCP proxy in front of it that a
test can cut and restore to make the server vanish and come back."""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from hydra import compose, initialize_config_dir

from framework.config_paths import conf_dir

#: Overrides that make a run tiny: three short epochs, no progress bar.
TINY = ["trainer.epochs=3", "trainer.batch_size=128", "callbacks.progress=null"]


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """No test reads the user's tracking settings or writes into the checkout."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("FRAMEWORK_MLFLOW_PARENT", raising=False)
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")  # nothing leaves 127.0.0.1
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def _template_store(tmp_path_factory) -> Path:
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("template") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()  # creates the schema
    return path


@pytest.fixture
def store(tmp_path, _template_store) -> str:
    """The tracking URI of a fresh, empty SQLite store for this test."""
    path = tmp_path / "store" / "mlflow.db"
    path.parent.mkdir()
    shutil.copyfile(_template_store, path)
    return f"sqlite:///{path}"


@pytest.fixture
def client(store):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=store)


@pytest.fixture
def compose_config(tmp_path):
    """Compose the project's config like the command does (output in ``tmp_path/out``)."""

    def make(*overrides, output_dir=None):
        out = Path(output_dir or tmp_path / "out")
        with initialize_config_dir(version_base="1.3", config_dir=str(conf_dir())):
            return compose("config", overrides=[f"output_dir={out}", *overrides])

    return make


@pytest.fixture
def tracked(compose_config, store):
    """Compose a tiny tracked run into the test's store: ``tracked(*overrides)``."""

    def make(*overrides, output_dir=None):
        return compose_config("logger=mlflow", f"logger.tracking_uri={store}", *TINY, *overrides, output_dir=output_dir)

    return make


def only_run(client, experiment="framework"):
    experiment = client.get_experiment_by_name(experiment)
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1, [r.info.run_name for r in runs]
    return runs[0]


def all_artifacts(client, run_id, path=None) -> list[str]:
    found = []
    for entry in client.list_artifacts(run_id, path):
        found += all_artifacts(client, run_id, entry.path) if entry.is_dir else [entry.path]
    return sorted(found)


def history_of(client, run_id, key) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_command(*args, cwd, timeout=300, env=None):
    return subprocess.run(
        [sys.executable, "-m", "framework.train", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


# -- one real MLflow server per session -------------------------------------------------


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    """``http://127.0.0.1:<port>`` of a real ``mlflow server`` (SQLite backend, proxied
    artifacts), started once and stopped at the end of the session."""
    directory = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    log = open(directory / "server.log", "w")  # noqa: SIM115 - open for the whole session
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{directory / 'server.db'}",
            "--artifacts-destination",
            str(directory / "artifacts"),
        ],
        cwd=directory,
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopped as a whole at the end
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"mlflow server exited: {(directory / 'server.log').read_text()[-2000:]}")
            try:
                if requests.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("mlflow server did not answer within 120 s")
            time.sleep(0.5)
        yield url
    finally:
        _stop_group(process)
        log.close()


def _stop_group(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass


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
