"""Finding a run by its id (``framework.command.store_runs``): what the commands that start
from a run id (resume, re-run, diff) say when the id or the store is wrong."""

import pytest

from framework.command.store_check import Refused
from framework.command.store_runs import find_run, open_store, split_run_uri
from framework.core.errors import ConfigError
from tests.conftest import free_port

RUN_ID = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (f"runs:/{RUN_ID}", (RUN_ID, "")),
        (f"runs:/{RUN_ID}/", (RUN_ID, "")),
        (f"runs:/{RUN_ID}/checkpoints/epoch_3.npz", (RUN_ID, "checkpoints/epoch_3.npz")),
    ],
)
def test_a_run_uri_splits_into_its_id_and_path(value, expected):
    assert split_run_uri(value, "trainer.resume") == expected


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("runs:/", "not a run URI"),
        ("runs:/abc def", "not a run URI"),
        ("models:/net/1", "not a run URI"),
        (f"runs:/{RUN_ID}/../elsewhere.npz", "without . or .."),
        (f"runs:/{RUN_ID}/a//b.npz", "without . or .."),
    ],
)
def test_a_malformed_run_uri_is_one_line_naming_the_key(value, problem):
    with pytest.raises(ConfigError) as raised:
        split_run_uri(value, "trainer.resume")
    line = str(raised.value)
    assert line.startswith(f"trainer.resume={value}: ") and problem in line and "\n" not in line


def test_a_run_that_is_not_in_the_store_is_named_with_the_store(store):
    client, uri = open_store(store, "diff")
    with pytest.raises(Refused) as raised:
        find_run(client, RUN_ID, f"runs:/{RUN_ID}")
    assert str(raised.value).startswith(f"runs:/{RUN_ID}: there is no run {RUN_ID} in {uri}; ")


def test_a_run_is_found_by_its_id(store, client):
    run_id = client.create_run(client.create_experiment("e")).info.run_id
    found = find_run(open_store(store, "diff")[0], run_id, "diff")
    assert found.info.run_id == run_id


def test_a_missing_store_is_refused_and_not_created(tmp_path):
    path = tmp_path / "nowhere" / "mlflow.db"
    with pytest.raises(Refused) as raised:
        open_store(f"sqlite:///{path}", "trainer.resume=runs:/x")
    assert str(raised.value).startswith("trainer.resume=runs:/x (store sqlite:///")
    assert not path.parent.exists()


def test_a_missing_store_says_how_it_was_named(tmp_path, monkeypatch):
    path = tmp_path / "nowhere" / "mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{path}")
    with pytest.raises(Refused, match=r"^trainer.resume=runs:/x \(store sqlite:///\S+, from \$MLFLOW_TRACKING_URI\): "):
        open_store(None, "trainer.resume=runs:/x", option="logger.tracking_uri=")
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    with pytest.raises(
        Refused, match=r"the default: no logger.tracking_uri given, nor \$MLFLOW_TRACKING_URI\): no such"
    ):
        open_store(None, "trainer.resume=runs:/x", tmp_path / "nowhere", option="logger.tracking_uri=")


def test_a_server_that_does_not_answer_is_refused():
    with pytest.raises(Refused, match="does not answer"):
        open_store(f"http://127.0.0.1:{free_port()}", "diff")


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        ((), "the following arguments are required: command"),
        (("frob",), "invalid choice: 'frob'"),
        (("diff", "a"), "the following arguments are required: run_b"),
        (("rerun",), "the following arguments are required: run_id;"),
        (("rerun", RUN_ID, "-m", "seed=1,2"), "a re-run is one run, not a sweep"),
        (("repair", "--all"), "unrecognized arguments: --all"),
    ],
)
def test_a_mistake_on_the_tools_command_line_is_one_line(argv, said, tmp_path):
    from tests.commands import run_tool

    result = run_tool(*argv, cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("error: python -m framework.tracking") and said in line and line.endswith(" --help")
    assert list(tmp_path.iterdir()) == []
