"""``python -m framework.tracking rerun <run id> [overrides]`` and ``diff <run A> <run B>`` on a
local SQLite store, each as the real command: a re-run logs the config its source logged (but
for the overrides given and its own directories) and, at the same seed and threads, gives the
same results; every mistake is one line, exit status 2, and neither a run nor a file is made."""

import re
from pathlib import Path

import numpy as np
import pytest

from framework.core.npz import load_npz
from framework.tracking.params import flatten_config
from framework.training.secrets import read_yaml
from tests.commands import run_command, run_tool

pytestmark = pytest.mark.slow

SOURCE = ["data=xor", "trainer.epochs=3", "callbacks.progress=null", "trainer.threads=1", "seed=1"]
SECRET = "+storage.api_key=s3cr3t-value"
#: The keys that set a job's directories: a re-run writes into its own.
DIRECTORIES = {"output_dir", "logger.output_dir", "callbacks.checkpoint.directory"}
EPOCH_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy", "lr")


@pytest.fixture(scope="module")
def source(tmp_path_factory, _template_store):
    """A store with one tracked run (a secret in its config), and the directory it was run in."""
    from tests.conftest import fresh_store

    place = tmp_path_factory.mktemp("rerun")
    uri = fresh_store(_template_store, place / "store" / "mlflow.db")
    result = run_command(*SOURCE, SECRET, cwd=place, env={"MLFLOW_TRACKING_URI": uri})
    assert result.returncode == 0, result.stderr[-2000:]
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    [run] = client.search_runs([client.get_experiment_by_name("framework").experiment_id])
    return place, uri, client, run


def logged_config(client, run_id: str, tmp_path: Path) -> dict:
    path = client.download_artifacts(run_id, "config/config.yaml", str(tmp_path))
    return flatten_config(read_yaml(Path(path).read_text()))


def runs_of(client) -> list:
    return client.search_runs([client.get_experiment_by_name("framework").experiment_id], order_by=["start_time"])


def rerun(source, *overrides, env=None):
    place, uri, client, run = source
    before = {r.info.run_id for r in runs_of(client)}
    result = run_tool("rerun", run.info.run_id, *overrides, "--tracking-uri", uri, cwd=place, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    [new] = [r for r in runs_of(client) if r.info.run_id not in before]
    return result, new


def test_a_rerun_logs_the_same_config_and_gives_the_same_results(source, tmp_path):
    place, uri, client, run = source
    result, new = rerun(source, "storage.api_key=another-value")
    assert f"rerun: {run.info.run_id} ({run.info.run_name}) from {uri}; overrides: storage.api_key=***" in result.stdout
    assert new.data.tags["rerun_of"] == run.info.run_id
    assert new.info.status == "FINISHED"
    assert new.data.tags["command"].startswith(f"python -m framework.tracking rerun {run.info.run_id} ")
    assert "another-value" not in new.data.tags["command"] + result.stdout + result.stderr
    before, after = (
        logged_config(client, run.info.run_id, tmp_path / "a"),
        logged_config(client, new.info.run_id, tmp_path / "b"),
    )
    assert {k: v for k, v in after.items() if k not in DIRECTORIES} == {
        k: v for k, v in before.items() if k not in DIRECTORIES
    }
    assert after["trainer.threads"] == 1 and after["seed"] == 1
    new_dir = Path(new.data.tags["output_dir"])
    assert new_dir != Path(run.data.tags["output_dir"]) and new_dir.is_relative_to(place / "outputs")
    assert after["callbacks.checkpoint.directory"] == str(new_dir / "checkpoints")
    for key in (*EPOCH_KEYS, "test_loss", "test_accuracy"):
        logged = [[(m.step, m.value) for m in client.get_metric_history(r.info.run_id, key)] for r in (run, new)]
        assert sorted(logged[0]) == sorted(logged[1]), key
    weights = [load_npz(Path(r.data.tags["output_dir"]) / "weights.npz") for r in (run, new)]
    assert weights[0].keys() == weights[1].keys()
    assert all(np.array_equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_overrides_apply_on_top_and_a_group_option_replaces_its_section(source, tmp_path):
    _place, _uri, client, run = source
    result, new = rerun(source, "optimizer=sgd", "optimizer.lr=0.05", "storage.api_key=x-value")
    assert "overrides: optimizer=sgd optimizer.lr=0.05" in result.stdout
    before, after = (
        logged_config(client, run.info.run_id, tmp_path / "a"),
        logged_config(client, new.info.run_id, tmp_path / "b"),
    )
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)} - DIRECTORIES
    assert after["optimizer.name"] == "sgd" and after["optimizer.lr"] == 0.05
    assert changed and all(key.startswith("optimizer.") for key in changed)
    assert "optimizer.momentum" in after and "optimizer.beta1" not in after  # sgd's own section, not adam's
    assert new.data.tags["overrides"].startswith("optimizer=sgd optimizer.lr=0.05")


def test_a_secret_the_run_logged_as_stars_must_be_given(source):
    place, uri, client, run = source
    count = len(runs_of(client))
    result = run_tool("rerun", run.info.run_id, "--tracking-uri", uri, cwd=place)
    assert result.returncode == 2 and result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: run_id={run.info.run_id}: the run logged storage.api_key as ***")
    assert line.endswith("give it on the command line: storage.api_key=...")
    assert len(runs_of(client)) == count


def test_differences_in_versions_are_warned_about_one_line_each(source):
    _place, _uri, client, run = source
    client.set_tag(run.info.run_id, "framework_version", "0.0.1")
    client.set_tag(run.info.run_id, "plugin.framework-gone", "2.0")
    try:
        result, new = rerun(source, "storage.api_key=x-value", "trainer.epochs=1")
    finally:
        client.set_tag(run.info.run_id, "framework_version", new_version())
        client.delete_tag(run.info.run_id, "plugin.framework-gone")
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert warnings == [
        f"warning: framework: the source run ran 0.0.1, this re-run runs {new_version()}; results may differ",
        "warning: plugins differ from the source run's: framework-gone 2.0 -> (absent); results may differ",
    ]
    assert new.info.status == "FINISHED"


def new_version() -> str:
    import framework

    return framework.__version__


def test_diff_shows_the_differing_keys_the_final_metrics_and_the_versions(source):
    place, uri, _client, run = source
    _, other = rerun(source, "storage.api_key=x-value", "seed=2", "optimizer.lr=0.01")
    result = run_tool("diff", run.info.run_id, other.info.run_id, "--tracking-uri", uri, cwd=place)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) <= 40 and max(map(len, lines)) <= 100
    assert lines[1].startswith(f"A: {run.info.run_id} (data=xor,") and lines[1].endswith("...")  # a long name, cut
    assert lines[2] == f"B: {other.info.run_id} ({other.info.run_name})"
    [start] = [i for i, line in enumerate(lines) if re.fullmatch(r"config: 2 of \d+ keys differ", line)]
    assert [line.split() for line in lines[start + 1 : start + 4]] == [
        ["key", "A", "B"],
        ["optimizer.lr", "0.001", "0.01"],
        ["seed", "1", "2"],
    ]
    metrics = lines.index("final metrics (* monitored: val_loss)")
    monitored = lines[metrics + 2].split()
    assert monitored[:2] == ["*", "val_loss"]
    assert float(monitored[2]) == pytest.approx(run.data.metrics["val_loss"], rel=1e-5)
    versions = lines[lines.index("versions (! differs)") + 2 :]
    assert [line.split()[:2] for line in versions[:2]] == [["framework", new_version()], ["git", "commit"]]
    assert versions[-1].split() == ["status", "FINISHED", "FINISHED"]


def test_diff_of_two_runs_of_one_config_says_it_is_identical(source):
    place, uri, _client, run = source
    _, again = rerun(source, "storage.api_key=x-value")
    result = run_tool("diff", run.info.run_id, f"runs:/{again.info.run_id}", "--tracking-uri", uri, cwd=place)
    assert result.returncode == 0, result.stderr
    assert re.search(r"^config: identical \(\d+ keys; the jobs' directories are not compared\)$", result.stdout, re.M)


def _no_run_id(client):
    return "0123456789abcdef0123456789abcdef"


def _parent_id(client):
    """A run without a logged config: like a sweep's parent, or a run another tool made."""
    experiment = client.get_experiment_by_name("framework").experiment_id
    return client.create_run(experiment, tags={"sweep": "parent"}).info.run_id


@pytest.mark.parametrize("tool", ["rerun", "diff"])
@pytest.mark.parametrize(
    ("run_id", "store", "problem"),
    [
        (lambda client: "not an id!", None, "'not an id!' is not a run id; a run's id is on its page"),
        (_no_run_id, None, "there is no run 0123456789abcdef0123456789abcdef in sqlite:///"),
        (lambda client: "runs:/x/y.npz", None, "names a file inside a run; give the run alone, runs:/x"),
        (_parent_id, None, "the run has no logged config (config/config.yaml; a sweep's parent run?)"),
        (_no_run_id, "sqlite:///{place}/nowhere/mlflow.db", "no such file: {place}/nowhere/mlflow.db"),
    ],
)
def test_a_mistake_is_one_line_and_makes_nothing(source, tool, run_id, store, problem):
    place, uri, client, run = source
    given = run_id(client)
    store = (store or uri).format(place=place)
    count, outputs = len(runs_of(client)), sorted((place / "outputs").rglob("*"))
    argv = [given] if tool == "rerun" else [given, run.info.run_id]
    result = run_tool(
        tool, *argv, "storage.api_key=x" if tool == "rerun" else "--all", "--tracking-uri", store, cwd=place
    )
    assert result.returncode == 2 and result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("error: ") and problem.format(place=place) in line
    assert len(runs_of(client)) == count
    assert sorted((place / "outputs").rglob("*")) == outputs
    assert not Path(f"{place}/nowhere").exists()


@pytest.mark.parametrize(
    ("override", "problem"),
    [
        (
            "optimizer.momentum=0.9",
            "optimizer.momentum: no such config key; to add a new key write +optimizer.momentum=..., or see the keys "
            "in the config/config.yaml artifact of run ",
        ),
        ("optimizer=nosuch", "optimizer=nosuch: the config group 'optimizer' has no option 'nosuch'; choose one of:"),
        ("+experiment=xor", "+experiment=xor: a re-run starts from the run's logged config"),
    ],
)
def test_an_override_the_logged_config_cannot_take_is_one_line_and_makes_nothing(source, override, problem):
    place, uri, client, run = source
    count, outputs = len(runs_of(client)), sorted((place / "outputs").rglob("*"))
    result = run_tool("rerun", run.info.run_id, "storage.api_key=x", override, "--tracking-uri", uri, cwd=place)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: {problem}")
    assert "framework.train --cfg job" not in line  # the keys are the logged config's, not conf/'s
    assert len(runs_of(client)) == count and sorted((place / "outputs").rglob("*")) == outputs
