"""What the MLflow UI shows of a sweep, read through the API the UI reads (``runs/get``,
``runs/search``, logged models): the parent's description as written, no param a user did
not set, the monitored value first, the model at its last epoch, no meaningless best values."""

import re

from tests.commands import run_command

from .conftest import TINY
from .test_sweep import _client, _runs


def test_a_sweep_over_a_list_valued_key_reads_right_in_the_ui(tmp_path):
    result = run_command(
        "-m", "logger=mlflow", "logger.log_checkpoints=false", *TINY, "model.hidden=[16],[8]", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    client = _client(tmp_path)
    parent, children = _runs(client)
    description = parent.data.tags["mlflow.note.content"]
    for child in children:
        assert child.info.run_name in ("model.hidden=[16]", "model.hidden=[8]")
        assert "exact_input" not in child.data.params  # only what the config says
        assert next(iter(child.data.metrics)) == "val_loss"  # the compare view offers a run's first metric
        [output] = child.outputs.model_outputs
        assert output.step == 3  # the model of the last epoch, not "Step 0"
        linked = {metric.key: metric for metric in client.get_logged_model(output.model_id).metrics}
        assert linked["val_loss"].step == 3 and linked["val_loss"].dataset_name
    best = parent.data.tags["best_run_name"]
    # Markdown escaped: no link, and the value keeps its brackets and the best marker
    assert f"| {best.replace('[', chr(92) + '[').replace(']', chr(92) + ']')} **(best)** |" in description
    assert not re.search(r"(?<!\\)\[(16|8)(?<!\\)\]", description.split("\n", 3)[-1])
    assert not {"sweep/best_lr", "sweep/best_seconds"} & set(parent.data.metrics)
    assert parent.data.metrics["sweep/best_val_loss"] == min(c.data.metrics["val_loss"] for c in children)
