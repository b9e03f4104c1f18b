"""What the command relies on in Hydra, so a Hydra release that changes it fails here,
loudly, rather than as a traceback in front of a user."""

import pytest
from hydra import main as hydra_main
from hydra.errors import MissingConfigException

from framework.command.entry import _hydra_errors_raised
from framework.command.paths import conf_dir


def test_hydra_raises_its_errors_while_the_command_runs(monkeypatch):
    """With HYDRA_FULL_ERROR=1 (set by the command while it runs), Hydra raises an error
    about the command line instead of printing it and exiting, so the command can word it."""
    monkeypatch.setattr("sys.argv", ["framework.train", "optimizer=adm"])
    app = hydra_main(version_base="1.3", config_path=str(conf_dir()), config_name="config")(lambda cfg: None)
    with _hydra_errors_raised(), pytest.raises(MissingConfigException) as caught:
        app()
    assert caught.value.missing_cfg_file == "optimizer/adm" and "adam" in caught.value.options


def test_the_environment_is_left_as_it_was(monkeypatch):
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    with _hydra_errors_raised():
        pass
    import os

    assert "HYDRA_FULL_ERROR" not in os.environ
