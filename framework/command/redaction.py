"""A job's secrets stay out of the files written about it.

Hydra writes the job's config and overrides as typed (``.hydra/*.yaml``, and the sweep's
``multirun.yaml``) before the job starts; a password in an override
(``logger.tracking_uri=http://user:password@host``, ``+db.password=...``) would stay in
them, and Hydra's launchers log each job's overrides. At the job's start these files are
rewritten with every secret value (see :mod:`framework.training.secrets`) replaced by
``***`` (files without secrets are left untouched), and so is every line logged (the
console, ``train.log``). The job's overrides are
redacted the same way for ``run.json``, messages and the tracker."""

import contextlib
import logging
import os
import tempfile
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from framework.training.secrets import Redactor


def job_redactor(cfg: DictConfig) -> Redactor:
    """Every secret of the job's config, as typed and as resolved (a secret may arrive through
    an interpolation, or be written out in one)."""
    found: set[str] = set()
    for resolve in (False, True):
        with contextlib.suppress(Exception):  # an interpolation that cannot resolve yet is reported by the run
            found.update(Redactor.from_config(OmegaConf.to_container(cfg, resolve=resolve)).secrets)
    return Redactor(found)


def redact_files(paths, redactor: Redactor) -> list[Path]:
    """Rewrite each YAML file in ``paths`` that holds a secret, atomically (the YAML is parsed,
    redacted and written again); returns those rewritten."""
    import yaml

    from framework.training.secrets import read_yaml, redact_tree, write_yaml

    rewritten = []
    for path in map(Path, paths):
        try:
            data = read_yaml(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        redacted = redact_tree(data, redactor)
        if redacted == data:
            continue
        with contextlib.suppress(OSError):  # a read-only or full disk: the run reports it in one line
            # A unique temporary name: the jobs of a parallel sweep rewrite multirun.yaml at once.
            descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
            os.close(descriptor)
            os.replace(write_yaml(redacted, Path(temporary)), path)
            rewritten.append(path)
    return rewritten


def hydra_files() -> list[Path]:
    """The files Hydra wrote about the running job: ``<output dir>/<output subdir>/*.yaml`` and,
    in a sweep, ``<sweep dir>/multirun.yaml``."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hydra = HydraConfig.get()
    files = []
    if hydra.output_subdir is not None:
        files += sorted((Path(hydra.runtime.output_dir) / str(hydra.output_subdir)).glob("*.yaml"))
    if hydra.mode == RunMode.MULTIRUN:
        files.append(Path(str(hydra.sweep.dir)) / "multirun.yaml")
    return [path for path in files if path.is_file()]


_logged_secrets: set[str] = set()


def redact_logging(redactor: Redactor) -> None:
    """From now on, every log record of this process (Hydra's launcher lines, ``train.log``) has
    ``redactor``'s secrets replaced by ``***``. A record factory, not a handler filter: Hydra
    replaces the handlers each time it configures logging."""
    if not redactor.secrets:
        return
    if not _logged_secrets:
        logging.setLogRecordFactory(_redacting(logging.getLogRecordFactory()))
    _logged_secrets.update(redactor.secrets)


def _redacting(make_record):
    def make(*args, **kwargs) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # logging reports a bad format string itself, later
            return record
        redacted = Redactor(_logged_secrets).text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return record

    return make
