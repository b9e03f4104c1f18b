"""The config as params: dotted keys, readable values, MLflow's limits, no secrets."""

import pytest

from framework.tracking.params import (
    MAX_PARAM_VALUE_LENGTH,
    MAX_PARAMS_TAGS_PER_BATCH,
    batches,
    config_params,
    flatten_config,
)
from framework.training.secrets import REDACTED, Redactor, is_secret_key, redact_config


@pytest.mark.parametrize(
    "key",
    [
        "storage.api_key",
        "db.password",
        "hub.token",
        "aws.secret",
        "aws.secret_access_key",
        "aws.access_key_id",
        "service.apiKey",
        "service.API_KEY",
        "key",
        "remote.key",
        "db.passwd",
        "ssh.private_key",
        "auth_token",
        "credentials.user",
        "github-token",
    ],
)
def test_secret_looking_keys_are_secrets(key):
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key",
    [
        "data.x_key",
        "sort_key",
        "monitor_key",
        "keys",
        "model.hidden",
        "trainer.monitor",
        "llm.max_tokens",
        "tokenizer.name",
        "data.keyboard",
        "optimizer.lr",
    ],
)
def test_ordinary_keys_are_not_secrets(key):
    assert not is_secret_key(key)


def test_flattened_to_dotted_keys_with_readable_values_and_no_secrets():
    config = {
        "seed": 3,
        "model": {"hidden": [64, 32], "dropout": 0.0, "init": None, "batch_norm": False, "layers": [{"name": "relu"}]},
        "callbacks": {"nan_guard": {}, "progress": None},
        "optimizer": {"name": "adam", "lr": 0.001},
        "storage": {"api_key": "abcd1234", "bucket": "runs"},
        "db": {"password": "hunter22", "host": "db.local"},
        "credentials": {"user": "me", "pin": "9999"},
        "data": {"x_key": "pixels"},
    }
    params = config_params(config)
    assert params == {
        "seed": "3",
        "model.hidden": "[64, 32]",
        "model.dropout": "0.0",
        "model.init": "null",
        "model.batch_norm": "false",
        "model.layers": '[{"name": "relu"}]',
        "callbacks.nan_guard": "{}",
        "callbacks.progress": "null",
        "optimizer.name": "adam",
        "optimizer.lr": "0.001",
        "storage.bucket": "runs",
        "db.host": "db.local",
        "data.x_key": "pixels",
    }


def test_secrets_inside_lists_are_redacted_and_scrubbed_from_other_values():
    config = {
        "hooks": [{"url": "https://x", "token": "t0ps3cret"}],
        "note": "uses t0ps3cret",
        "t": {"token": "t0ps3cret"},
    }
    params = config_params(config)
    assert "t0ps3cret" not in str(params)
    assert params["hooks"] == '[{"url": "https://x", "token": "***"}]'
    assert params["note"] == f"uses {REDACTED}"
    assert redact_config(config)["t"] == {"token": REDACTED}


def test_long_values_are_truncated_to_mlflows_limit():
    params = config_params({"long": "x" * 10_000, "items": list(range(5000))})
    assert len(params["long"]) == MAX_PARAM_VALUE_LENGTH
    assert params["long"].endswith("[truncated, 10000 characters]")
    assert len(params["items"]) <= MAX_PARAM_VALUE_LENGTH


def test_flatten_keeps_empty_mappings_and_lists_as_values():
    assert flatten_config({"a": {}, "b": {"c": [1, {"d": 2}]}}) == {"a": {}, "b.c": [1, {"d": 2}]}


def test_batches_respect_mlflow_limits():
    params = [("p", i) for i in range(250)]
    tags = [("t", i) for i in range(30)]
    metrics = list(range(2500))
    chunks = list(batches(metrics, params, tags))
    for chunk_metrics, chunk_params, chunk_tags in chunks:
        assert len(chunk_params) + len(chunk_tags) <= MAX_PARAMS_TAGS_PER_BATCH
        assert len(chunk_metrics) + len(chunk_params) + len(chunk_tags) <= 1000
    assert sum(len(c[0]) for c in chunks) == 2500
    assert sum(len(c[1]) for c in chunks) == 250 and sum(len(c[2]) for c in chunks) == 30


def test_redactor_hides_secret_overrides_and_values():
    redactor = Redactor.from_config({"db": {"password": "hunter22"}})
    assert redactor.override("+db.password=hunter22") == "+db.password=***"
    assert redactor.override("hub.token=abc") == "hub.token=***"
    assert redactor.override("seed=1") == "seed=1"
    assert (
        redactor.text("python -m framework.train +db.password=hunter22") == "python -m framework.train +db.password=***"
    )


def test_a_password_in_a_uri_is_a_secret_wherever_it_is():
    from framework.tracking.params import config_params
    from framework.tracking.store import ui_command
    from framework.training.secrets import Redactor, masked

    uri = "postgresql://alice:hunter22@db.example:5432/mlflow"
    config = {"logger": {"tracking_uri": uri}, "note": f"stored in {uri}"}
    assert "hunter22" not in str(config_params(config))
    assert (
        Redactor.from_config(config).text(f"error at {uri}") == "error at postgresql://alice:***@db.example:5432/mlflow"
    )
    assert masked(uri) == "postgresql://alice:***@db.example:5432/mlflow"
    assert "hunter22" not in ui_command(uri)
    assert masked("http://127.0.0.1:5000") == "http://127.0.0.1:5000"
