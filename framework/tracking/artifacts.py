"""Files the logger uploads, written into the run's staging directory first (so
they survive an outage and can be uploaded later): the redacted config and Hydra
files, the confusion matrix as CSV, redacted checkpoint copies."""

import json
from pathlib import Path

import numpy as np

from framework.training.secrets import Redactor, redact_config, redact_yaml_file, write_yaml


def hydra_files(output_dir: Path | None, staging: Path, redactor: Redactor) -> Path | None:
    """Redacted copies of ``<output_dir>/.hydra/*.yaml`` in ``staging/hydra``."""
    if output_dir is None or not (Path(output_dir) / ".hydra").is_dir():
        return None
    target = staging / "hydra"
    for source in sorted((Path(output_dir) / ".hydra").glob("*.yaml")):
        redact_yaml_file(source, target / source.name, redactor)
    return target if target.is_dir() else None


def redacted_checkpoint(source: Path, target: Path, redactor: Redactor) -> Path:
    """A copy of a checkpoint whose manifest has its config's secrets replaced (arrays unchanged)."""
    from framework.core.npz import load_npz, save_npz

    arrays = load_npz(source)
    if "manifest" in arrays:
        manifest = json.loads(str(arrays["manifest"]))
        if "config" in manifest:
            manifest["config"] = redact_config(manifest["config"])
        arrays["manifest"] = np.array(redactor.text(json.dumps(manifest)))
    return save_npz(target, arrays)


def confusion_matrix_csv(matrix, path: Path) -> Path:
    matrix = np.asarray(matrix)
    header = "true\\predicted," + ",".join(str(j) for j in range(matrix.shape[1]))
    rows = [f"{i}," + ",".join(str(int(v)) for v in row) for i, row in enumerate(matrix)]
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def config_files(staging: Path, config, output_dir: Path | None, redactor: Redactor) -> list[tuple[Path, str]]:
    """The run's config (secrets redacted) and, beside it, Hydra's files about the run."""
    files = [(write_yaml(redact_config(dict(config)), staging / "config" / "config.yaml", redactor), "config")]
    hydra_dir = hydra_files(output_dir, staging, redactor)
    return files + ([(hydra_dir, "config/hydra")] if hydra_dir is not None else [])


def run_arrays(trainer, directory: Path) -> tuple[Path, Path]:
    """The trained weights and the history: the files the fit wrote into the run's directory, or (a
    run without one) ``weights.npz`` and ``history.npz`` written in ``directory``."""
    if trainer.result_files:
        return trainer.result_files
    from framework.training.trainer import save_run_arrays

    directory.mkdir(parents=True, exist_ok=True)
    return save_run_arrays(trainer, directory)


def component_files(callbacks, staging: Path, redactor: Redactor | None) -> list[tuple[Path, str]]:
    """The files each callback offers (checkpoints, ...); with a ``redactor`` (the config has secrets),
    checkpoints as redacted copies."""
    return [
        (checkpoint_copy(path, staging / folder, redactor) if path.suffix == ".npz" else path, folder)
        for callback in callbacks
        for folder, paths in callback.artifacts().items()
        for path in paths
    ]


def checkpoint_copy(path: Path, directory: Path, redactor: Redactor | None) -> Path:
    """The checkpoint itself or, with a ``redactor``, a copy in ``directory`` whose config is redacted."""
    return path if redactor is None else redacted_checkpoint(path, directory / path.name, redactor)
