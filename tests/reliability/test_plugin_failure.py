"""Case 6: a plugin that raises inside a lifecycle hook fails the run cleanly: one line
naming the plugin (its name, distribution and version) and the hook, exit status 2, the
MLflow run FAILED with the error's type and message as tags, and the checkpoints written
before intact. Both kinds of plugin code: an installed plugin's own hook implementation,
and a callback a plugin registers."""

import pytest

from .conftest import (
    TINY,
    TRACKED,
    assert_all_npz_load,
    client_for,
    command,
    error_line,
    runs_of,
    steps,
    temporary_files,
)

pytestmark = pytest.mark.slow

CASES = {
    "installed plugin hook": (
        [],
        "faulty_site",
        "error: plugin 'dashboard' (faulty-dashboard 0.3.1) failed in framework_epoch_end: "
        "ConnectionError: dashboard.example is unreachable",
    ),
    "plugin callback": (
        ["+callbacks.explode={epoch: 2}"],
        "testkit_site",
        "error: callback 'explode' from plugin 'testkit' (reliability-testkit 0.0.1) failed in "
        "framework_epoch_end: ValueError: the dashboard rejected epoch 2",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_plugin_raising_in_a_lifecycle_hook_fails_the_run_cleanly_naming_it(case, tmp_path, store, request):
    overrides, site, expected = CASES[case]
    run_dir = tmp_path / "run"
    result = command(
        *TINY,
        *TRACKED,
        f"logger.tracking_uri={store}",
        *overrides,
        f"hydra.run.dir={run_dir}",
        cwd=tmp_path,
        sites=[request.getfixturevalue(site)],
    )
    assert result.returncode == 2
    assert error_line(result) == expected

    client = client_for(store)
    [run] = runs_of(client)
    assert run.info.status == "FAILED"
    assert run.data.tags["error_type"] == "PluginError"
    assert run.data.tags["error_message"] == expected.removeprefix("error: ")
    assert run.data.tags["stop_reason"] == "failed"
    assert steps(client, run.info.run_id, "loss") == [1, 2]  # epoch 2 had ended when its hook failed
    assert "last.npz" in assert_all_npz_load(run_dir / "checkpoints")
    assert temporary_files(tmp_path) == []
