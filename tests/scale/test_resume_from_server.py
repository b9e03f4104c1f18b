"""``trainer.resume=runs:/<run id>`` against the team server (``mlflow server`` on PostgreSQL,
proxied artifacts; ``docs/scale-out.md``): a job stopped on one node continues on another
from the checkpoint it uploaded, its first directory gone, bit-identical to an uninterrupted
run and in the same MLflow run; a server killed in the middle of the download is one line,
exit status 2, within seconds and with no file left, and once it is back the same command
succeeds."""

import contextlib
import shutil
import threading
import time

import pytest

from framework.command.resume_fetch import CACHE
from tests.commands import terminate_when
from tests.conftest import MlflowServer, Proxy
from tests.reliability.conftest import (
    assert_same_result,
    command,
    error_line,
    finish,
    install,
    start_command,
)
from tests.scale.postgres import SERVER_ENV

pytestmark = pytest.mark.long

EPOCHS = 4
TINY = ["data=blobs", "trainer.batch_size=32", "trainer.threads=1", "callbacks.progress=null"]
TRACKED = ["logger=mlflow", "logger.flush_every_seconds=0", "logger.log_model=false", "logger.log_plots=false"]


def _runs(url: str, experiment: str) -> list:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=url)
    return client.search_runs([client.get_experiment_by_name(experiment).experiment_id])


def test_a_job_stopped_on_one_node_resumes_on_another_from_the_team_server(team_server, tmp_path):
    from mlflow import MlflowClient

    reference = command(*TINY, "logger=none", f"trainer.epochs={EPOCHS}", "hydra.run.dir=reference", cwd=tmp_path)
    assert reference.returncode == 0, reference.stderr
    site = install(tmp_path / "site", "reliability-testkit", "0.0.1", "testkit", "tests.reliability.testkit")
    experiment, node_a, node_b = f"moved-{tmp_path.name}", tmp_path / "node-a", tmp_path / "node-b"
    tracked = [*TRACKED, f"logger.experiment_name={experiment}", f"trainer.epochs={EPOCHS}"]
    node_a.mkdir()
    marker = f"+callbacks.marker={{directory: '{node_a}', epoch: 3, batch: 2, sleep: 0.02}}"
    job = start_command(*TINY, *tracked, marker, "hydra.run.dir=run", cwd=node_a, sites=[site],
                        env={"MLFLOW_TRACKING_URI": team_server.url})  # fmt: skip
    stderr = terminate_when(job, (node_a / "marker").exists, timeout=120)  # SIGTERM: a scheduler's preemption
    assert job.returncode == 143, stderr
    [stopped] = _runs(team_server.url, experiment)
    assert stopped.info.status == "KILLED"
    shutil.rmtree(node_a)  # the first node, and its disk, are gone

    run_id = stopped.info.run_id
    node_b.mkdir()
    result = command(*TINY, *tracked, f"trainer.resume=runs:/{run_id}", "hydra.run.dir=run", cwd=node_b,
                     env={"MLFLOW_TRACKING_URI": team_server.url})  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (node_b / "run" / CACHE / run_id / "checkpoints" / "last.npz").is_file()
    assert_same_result(node_b / "run", tmp_path / "reference")
    [resumed] = _runs(team_server.url, experiment)
    assert resumed.info.run_id == run_id and resumed.info.status == "FINISHED"
    steps = [m.step for m in MlflowClient(tracking_uri=team_server.url).get_metric_history(run_id, "loss")]
    assert sorted(steps) == list(range(1, EPOCHS + 1))


class SlowProxy(Proxy):
    """The proxy, passing the server's answers on at about 3 MB/s while ``slow`` is set; ``halfway``
    is set once it has passed ``threshold`` bytes so (a download under way)."""

    def __init__(self, target_port: int, threshold: int):
        self.slow, self.halfway, self.threshold, self.passed = threading.Event(), threading.Event(), threshold, 0
        super().__init__(target_port)

    def _pipe(self, source, target) -> None:
        if source.getpeername()[1] != self.target_port:
            return Proxy._pipe(source, target)
        try:
            while data := source.recv(65536):
                target.sendall(data)
                if self.slow.is_set():
                    self.passed += len(data)
                    if self.passed > self.threshold:
                        self.halfway.set()
                    time.sleep(0.02)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.shutdown(2)


def test_a_server_killed_mid_download_is_one_line_and_the_same_command_then_succeeds(
    postgres, tmp_path_factory, tmp_path
):
    server = MlflowServer(
        tmp_path_factory.mktemp("resume-server"),
        backend_store_uri=postgres.uri,
        env={**SERVER_ENV, "PGPASSWORD": postgres.password},
    )
    server.start()
    proxy = SlowProxy(server.port, threshold=2_000_000)
    try:
        # About 27 MB of checkpoint (the weights and Adam's two moments): a download of seconds here.
        experiment = f"cut-{tmp_path.name}"
        big = [*TINY, *TRACKED, "model.hidden=[1500,1500]", f"logger.tracking_uri={proxy.url}"]
        big += [f"logger.experiment_name={experiment}"]
        big += ["callbacks.checkpoint.every_n_epochs=null", "callbacks.checkpoint.save_best=false"]
        first = command(*big, "trainer.epochs=1", "hydra.run.dir=first", cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        [run] = _runs(proxy.url, experiment)
        resume = [*big, "trainer.epochs=2", f"trainer.resume=runs:/{run.info.run_id}"]

        proxy.slow.set()
        process = start_command(*resume, "hydra.run.dir=cut", cwd=tmp_path)
        assert proxy.halfway.wait(timeout=120), finish(process).stderr
        server.kill()  # SIGKILL to the server's process group, by its PID, mid-download
        killed = time.monotonic()
        result = finish(process, timeout=120)
        seconds = time.monotonic() - killed
        print(f"\nthe server killed after {proxy.passed} bytes; the command ended {seconds:.1f} s later")
        assert seconds < 30  # MLflow's retries do not wait for minutes
        assert result.returncode == 2, result.stderr
        line = error_line(result)
        print(line)
        assert line.startswith(f"error: trainer.resume=runs:/{run.info.run_id}: the download of checkpoints/last.npz")
        cut = tmp_path / "cut"
        assert not (cut / CACHE).exists() and not list(cut.rglob("*.npz")) and not list(cut.rglob("*.tmp"))

        server.start()  # the same port, the same PostgreSQL database
        proxy.slow.clear()
        again = command(*resume, "hydra.run.dir=again", cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        [resumed] = _runs(proxy.url, experiment)
        assert resumed.info.run_id == run.info.run_id and resumed.info.status == "FINISHED"
        assert resumed.data.tags["resume_count"] == "1"
    finally:
        proxy.cut()
        server.stop()
