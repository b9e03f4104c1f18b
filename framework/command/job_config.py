"""The config of one run, read once into a :class:`JobConfig`: its sections, seed, threads,
trainer arguments, monitor and resume source, checked as far as the config alone can say
(the values a component checks itself, when it is built); the resume, the build and the
checks read the result, never the config again."""

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from framework.command.store_runs import stored
from framework.core.errors import ConfigError
from framework.training.trainer import TRAINER_KEYS

#: Component kinds the config names in a section of their own: (kind, section).
CONFIGURED_KINDS = (("optimizer", "optimizer"), ("loss", "loss"), ("dataset", "data"), ("schedule", "schedule"))


@dataclass(frozen=True)
class JobConfig:
    """One run's config, checked. ``whole`` is the config as composed and resolved, with
    ``trainer.threads`` as the run uses it (what the run records); ``nodes`` maps each
    configured component's label (``optimizer``, ``callbacks.checkpoint``, ``logger``) to its
    kind and config node, the logger last; ``trainer_arguments`` are the Trainer's keyword
    arguments; ``resume`` is the checkpoint file to continue, relative to the launch directory;
    ``resume_uri`` the run in a store it is fetched from (``runs:/<id>[/<path>]``), when one is named."""

    whole: dict
    seed: int
    trainer: dict
    trainer_arguments: dict
    model: dict
    data: dict
    schedule: dict
    nodes: dict
    monitor: str
    threads: int | None
    resume: Path | None
    resume_uri: str | None = None

    @classmethod
    def read(cls, cfg, threads: int | None = None, launch_dir: Path | None = None) -> "JobConfig":
        """Read and check ``cfg`` (a mapping or an OmegaConf config); ``threads`` is the job's share of
        the cores, used when ``trainer.threads`` is null."""
        whole = to_container(cfg)
        check_sections(whole)
        seed, trainer = _checked_seed(whole), section(whole, "trainer")
        trainer["threads"] = _checked_threads(trainer) or threads
        whole["trainer"] = trainer  # recorded as it ran: results depend on it
        resume, resume_uri = trainer.get("resume"), None
        if resume is not None and stored(resume):
            resume, resume_uri = None, str(resume)  # fetched before anything else (recipe.py)
        elif resume is not None:  # relative to where the command was started (hydra.job.chdir may move)
            resume = Path(launch_dir or Path.cwd()) / str(resume)
        return cls._of(whole, seed, resume, resume_uri)

    @classmethod
    def _of(cls, whole: dict, seed: int, resume: Path | None, resume_uri: str | None = None) -> "JobConfig":
        trainer = section(whole, "trainer")
        return cls(
            whole=whole,
            seed=seed,
            trainer=trainer,
            trainer_arguments={key: trainer[key] for key in TRAINER_KEYS if key in trainer},
            model=section(whole, "model"),
            data=section(whole, "data"),
            schedule=section(whole, "schedule"),
            nodes=_component_nodes(whole),
            monitor=_checked_monitor(trainer),
            threads=trainer["threads"],
            resume=resume,
            resume_uri=resume_uri,
        )

    def renamed(self, whole: dict) -> "JobConfig":
        """This config with its components named as in ``whole`` (a resume pins the classes it was
        trained with)."""
        return self._of(whole, self.seed, self.resume, self.resume_uri)

    def names(self) -> dict[str, tuple[str, str]]:
        """Each component's label with its kind and registry name, as the config says: the configured
        components, and the layers and metrics the config names itself."""
        names = {label: (kind, node.get("name")) for label, (kind, node) in self.nodes.items()}
        names.update(_named_layers_and_metrics(self.model, self.trainer.get("metrics")))
        return {label: (kind, name) for label, (kind, name) in names.items() if isinstance(name, str) and name}


def section(cfg: Mapping, key: str) -> dict:
    value = cfg.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{key}: expected a mapping, got {value!r}")
    return dict(value)


def _component_nodes(whole: Mapping) -> dict[str, tuple[str, dict]]:
    nodes = {key: (kind, section(whole, key)) for kind, key in CONFIGURED_KINDS}
    if not nodes["schedule"][1]:
        nodes["schedule"] = ("schedule", {"name": "constant"})
    for name, arguments in section(whole, "callbacks").items():
        if arguments is not None and arguments is not False:  # null or false switches one off
            node = {"name": name, **(arguments if isinstance(arguments, Mapping) else {})}
            nodes[f"callbacks.{name}"] = ("callback", node)
    logger = section(whole, "logger")
    if logger.get("name", "none") not in ("none", None):
        nodes["logger"] = ("callback", logger)  # last: at an interruption the checkpoint is written first
    return nodes


def _named_layers_and_metrics(model: Mapping, metrics) -> dict[str, tuple[str, object]]:
    """The layers and metrics the config names itself (not the shorthands' own dense layers)."""
    if model.get("type", "mlp") == "sequential":
        layers = model.get("layers")
        nodes = [(f"model.layers[{i}]", node) for i, node in enumerate(layers if isinstance(layers, list) else [])]
    else:
        nodes = [(f"model.{key}", model.get(key)) for key in ("activation", "output_activation")]
    named = {label: ("layer", node) for label, node in nodes}
    listed_metrics = metrics if isinstance(metrics, list) else []  # or "auto"
    named.update({f"trainer.metrics[{i}]": ("metric", node) for i, node in enumerate(listed_metrics)})
    return {
        label: (kind, node.get("name") if isinstance(node, Mapping) else node) for label, (kind, node) in named.items()
    }


def check_sections(cfg: Mapping) -> None:
    """A top-level section that is a misspelling of a known one (``+trainr.epochs=3``) would be
    ignored in silence; a section of the user's own (``+notes.author=...``) is kept."""
    from framework.command.config_keys import closest_key, known_sections

    sections = known_sections()
    for name in cfg:
        close = closest_key(str(name), sorted(sections)) if name not in sections else None
        if close:
            raise ConfigError(
                f"{name}: no such config section, so its values would be ignored; did you mean {close}? "
                f"(write {close}.<key>=..., see the keys with: python -m framework.train --cfg job)"
            )


def _checked_seed(cfg: Mapping) -> int:
    seed = cfg.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed={seed!r}: expected a non-negative integer")
    return seed


def _checked_threads(trainer: Mapping) -> int | None:
    threads = trainer.get("threads")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ConfigError(f"trainer.threads={threads!r}: expected a positive number of BLAS threads, or null")
    return threads


def _checked_monitor(trainer: Mapping) -> str:
    """``trainer.monitor`` is a name; whether the run logs it is known once the data is."""
    monitor = trainer.get("monitor", "val_loss")
    if not isinstance(monitor, str) or not monitor:
        raise ConfigError(f"trainer.monitor={monitor!r}: name a logged value, e.g. val_loss or val_accuracy")
    return monitor


def to_container(cfg) -> dict:
    """``cfg`` as plain data, interpolations resolved; a missing value or a broken interpolation is
    one line naming its key."""
    from omegaconf import DictConfig, OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    if not isinstance(cfg, DictConfig):
        return dict(cfg)
    try:
        missing = sorted(OmegaConf.missing_keys(cfg))
        if not missing:
            return OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", None)
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(
            f"{key or 'config'}: {reason}; fix the ${{...}} interpolation (it names another config key, "
            "e.g. ${trainer.epochs}) or give a plain value"
        ) from exc
    raise ConfigError(
        f"{missing[0]}: a value is required (the config has ???); give it on the command line ({missing[0]}=...)"
        + (f"; also missing: {', '.join(missing[1:])}" if len(missing) > 1 else "")
    )
