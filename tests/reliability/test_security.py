"""Case 9, security: checkpoints and ``.npz`` data are read without pickle, and a file
holding a pickled object array is refused (the object is never unpickled, so its code
never runs); secret-looking config keys never reach the MLflow store (not its database,
not an artifact); the tracking server the tests start listens on 127.0.0.1 only."""

import json

import numpy as np
import pytest

from tests.conftest import listening_addresses

from .conftest import TINY, TRACKED, client_for, command, error_line, runs_of


class RunsCodeWhenUnpickled:
    """Unpickling this creates the file ``path``: proof that pickle ran code."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _malicious_array(marker) -> np.ndarray:
    array = np.empty(3, dtype=object)
    array[:] = [RunsCodeWhenUnpickled(marker)] * 3
    return array


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["checkpoint", "data"])
def test_a_pickled_object_array_is_refused_and_never_unpickled(kind, tmp_path, reference):
    from framework.core.npz import load_npz

    marker = tmp_path / "pwned"
    path = tmp_path / f"{kind}.npz"
    if kind == "checkpoint":
        arrays = load_npz(reference / "checkpoints" / "last.npz")
        arrays["callbacks/checkpoint/evil"] = _malicious_array(marker)
        args = [f"trainer.resume={path}"]
    else:
        arrays = {"x": _malicious_array(marker), "y": np.arange(3)}
        args = ["data=npz", f"data.path={path}"]
    np.savez(path, **arrays)

    result = command(*TINY, *args, f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert result.returncode == 2
    line = error_line(result)
    assert f"{path}: holds a pickled object array, which is refused because unpickling can run code" in line
    assert not marker.exists()  # nothing was unpickled

    with np.load(path, allow_pickle=True) as archive:  # the file really is malicious:
        [archive[key] for key in archive.files]  # loading with pickle runs its code
    assert marker.exists()


SECRETS = {"db.password": "hunter2-7f3a9c", "storage.api_key": "sk-live-51e8d0", "hub.accessToken": "hf-tok-c0ffee"}


@pytest.mark.slow
def test_secret_config_values_never_reach_the_store(tmp_path, store):
    """A two-job sweep (parent and children: params, tags, run names, artifacts, the model,
    checkpoints) with three secrets on the command line; the store's files never hold them."""
    result = command(
        "-m",
        "seed=0,1",
        *TINY,
        *TRACKED,
        "logger.log_model=true",
        f"logger.tracking_uri={store}",
        *[f"+{key}={value}" for key, value in SECRETS.items()],
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    client = client_for(store)
    runs = runs_of(client)
    assert len(runs) == 3
    for run in runs:
        assert not set(SECRETS) & set(run.data.params)
        text = json.dumps([run.data.params, run.data.tags, run.info.run_name])
        assert all(value not in text for value in SECRETS.values())
    child = next(run for run in runs if "mlflow.parentRunId" in run.data.tags)
    assert "+db.password=***" in child.data.tags["overrides"]

    store_dir = tmp_path / "store"  # the SQLite database (and its journal) and every artifact beside it
    scanned = [path for path in store_dir.rglob("*") if path.is_file()]
    assert any(path.suffix == ".npz" for path in scanned) and any(path.name == "MLmodel" for path in scanned)
    for path in scanned:
        data = path.read_bytes()
        for value in SECRETS.values():
            assert value.encode() not in data, f"{value} found in {path}"
    # Nor do Hydra's files in the job's own directory: the framework redacts them at the job's start.
    hydra_config = (tmp_path / "sweep" / "0" / ".hydra" / "config.yaml").read_text()
    assert "password: '***'" in hydra_config and SECRETS["db.password"] not in hydra_config


@pytest.mark.slow  # starts the shared server (about 8 s) when no earlier test did
def test_the_tracking_server_the_tests_start_listens_on_127_0_0_1_only(mlflow_server):
    port = int(mlflow_server.rsplit(":", 1)[1])
    assert listening_addresses(port) == {"127.0.0.1"}
