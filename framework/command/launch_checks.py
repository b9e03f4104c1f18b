"""Checks of how a run is launched, made by the run directory's Hydra callback
(:class:`~framework.command.run_dir.ClaimRunDirectory`) before anything is written: no
run or sweep directory, no log file, no store, no job submitted. Each refusal is a
``ConfigError`` whose text is one line, ``<key>=<value>: <the problem>; <the fix>``.

- ``hydra.job.name`` names the job's log file, ``<name>.log`` in the run directory: a
  name with a path separator or ``..`` (or an empty one) would write elsewhere.
- ``hydra.job.chdir=true``: the framework writes into the run directory itself and
  resolves relative paths against the launch directory.
- The launcher's sizes (the keys of Hydra's own launcher config classes,
  ``hydra_plugins.hydra_submitit_launcher.config`` and ``hydra_plugins.hydra_joblib_launcher.config``):
  a job is one process, so more than one task or node would run it twice at once into one
  directory; zero or negative sizes are impossible.
- ``logger.register_as``: a name ``models:/<name>/<version>`` can address
  (:func:`framework.tracking.registry.registered_name_error`, the logger's own rule).
"""

from collections.abc import Callable
from dataclasses import dataclass

from omegaconf import DictConfig, OmegaConf

from framework.core.errors import ConfigError
from framework.tracking.registry import registered_name_error

#: The config groups that each pick one component (a list would merge several into one).
ONE_OPTION_GROUPS = ("data", "model", "loss", "optimizer", "schedule", "logger", "trainer")
#: What in a job's name would take its log file out of the run directory.
_PATH_PARTS = ("/", "\\", "..", "\0")


@dataclass(frozen=True)
class Rule:
    """A launcher option's value that ``refuses`` says is impossible, with why and what to set."""

    key: str
    refuses: Callable[[int], bool]
    problem: str
    fix: str


_ONE_JOB_ONE_PROCESS = "would each run the whole job at once, into one run directory"
_SWEEP_INSTEAD = "a job is one process; sweep more values for more jobs"
#: ``BaseQueueConf`` (submitit_local and submitit_slurm).
SUBMITIT = (
    Rule(
        "tasks_per_node",
        lambda n: n > 1,
        f"{{value}} tasks {_ONE_JOB_ONE_PROCESS}",
        f"set {{key}}=1 ({_SWEEP_INSTEAD})",
    ),
    Rule("tasks_per_node", lambda n: n < 1, "a job runs as one task", "set {key}=1"),
    Rule("nodes", lambda n: n > 1, f"{{value}} nodes {_ONE_JOB_ONE_PROCESS}", f"set {{key}}=1 ({_SWEEP_INSTEAD})"),
    Rule("nodes", lambda n: n < 1, "a job runs on one node", "set {key}=1"),
    Rule(
        "timeout_min",
        lambda n: n < 1,
        "a job's time limit must be 1 minute or more",
        "set {key}=60 (submitit's default) or another number of minutes from 1",
    ),
    Rule("cpus_per_task", lambda n: n < 1, "a job needs 1 CPU or more", "set {key}=1 or more, or null"),
    Rule(
        "mem_gb",
        lambda n: n < 1,
        "a job needs 1 GB of memory or more",
        "set {key}=1 or more, or null for the cluster's default",
    ),
    Rule(
        "gpus_per_node",
        lambda n: n < 0,
        "a number of GPUs cannot be negative",
        "set {key}=0 (the framework computes on the CPU) or null",
    ),
)
#: ``JobLibLauncherConf``: joblib itself refuses ``n_jobs=0`` only after the sweep's directory is made.
JOBLIB = (
    Rule(
        "n_jobs",
        lambda n: n == 0,
        "joblib runs no job with 0 workers",
        "set {key} to the jobs to run at once (1 or more), or -1 for one per core",
    ),
)
#: The rules of each launcher, by the package of its ``_target_``.
LAUNCHER_RULES = {
    "hydra_plugins.hydra_submitit_launcher": SUBMITIT,
    "hydra_plugins.hydra_joblib_launcher": JOBLIB,
}


def check_launch(config: DictConfig, multirun: bool) -> None:
    """Every check of this module on Hydra's composed ``config`` (the launcher's in a sweep only)."""
    check_job_name(_select(config, "hydra.job.name"))
    check_chdir(_select(config, "hydra.job.chdir"))
    if multirun:
        check_launcher(_select(config, "hydra.launcher._target_"), _select(config, "hydra.launcher") or {})
    check_one_option_per_group(config)
    for register_as in [_select(config, "logger.register_as"), *swept_values(config, "logger.register_as")]:
        problem = registered_name_error(register_as)
        if problem is not None:
            raise ConfigError(f"logger.register_as={shown(register_as)}: {problem}")


def check_job_name(name) -> None:
    """``hydra.job.name`` is a plain file name (null: Hydra names the job itself)."""
    if name is None:
        return
    text = str(name)
    parts = [part for part in _PATH_PARTS if part in text]
    if text.strip() and not parts and text.isprintable():
        return
    if parts:
        why = f"holds {parts[0]!r}, so the log would land outside it"
    else:
        why = "holds a control character" if text.strip() else "is empty (a hidden '.log')"
    raise ConfigError(
        f"hydra.job.name={shown(name)}: Hydra writes the job's log to <name>.log in the run directory, and this "
        f"name {why}; give a plain file name (letters, digits, . _ -), e.g. hydra.job.name=train, or leave it out"
    )


def check_chdir(chdir) -> None:
    if chdir:
        raise ConfigError(
            f"hydra.job.chdir={shown(chdir)}: the framework writes into the run directory itself and resolves "
            "relative paths (data.path, trainer.resume, the tracking store) against the launch directory, so a "
            "job moved into its run directory would track into a new store there and miss relative files; "
            "leave it false (hydra.job.chdir=false)"
        )


def check_launcher(target, options) -> None:
    """The sizes the launcher's rules refuse (the launcher is known by its ``_target_``'s package)."""
    target = str(target or "")
    rules = next((rules for package, rules in LAUNCHER_RULES.items() if target.startswith(f"{package}.")), ())
    for rule in rules:
        value = options.get(rule.key)
        if isinstance(value, int) and not isinstance(value, bool) and rule.refuses(value):
            key = f"hydra.launcher.{rule.key}"
            raise ConfigError(f"{key}={value}: {rule.problem.format(value=value)}; {rule.fix.format(key=key)}")


def check_one_option_per_group(config: DictConfig) -> None:
    """``data=[npz,csv]`` would merge both options into one config: a component's group takes one."""
    from hydra.core.global_hydra import GlobalHydra

    for override in _typed_overrides(config):
        group = override.key_or_group
        if group in ONE_OPTION_GROUPS and not override.is_sweep_override() and isinstance(override.value(), list):
            options = GlobalHydra.instance().config_loader().get_group_options(group)
            raise ConfigError(
                f"{override.input_line}: the config group {group!r} takes one option, not a list; choose one of: "
                f"{', '.join(options)} (or run each in a sweep: -m {group}={','.join(map(str, override.value()))})"
            )


def swept_values(config: DictConfig, key: str) -> list:
    """The values a sweep on the command line gives ``key`` (``key=a,b``, ``choice(...)``,
    ``range(...)``): the sweep's own config holds none of them."""
    from hydra.core.override_parser.types import QuotedString

    return [
        value.text if isinstance(value, QuotedString) else value
        for override in _typed_overrides(config)
        if override.key_or_group == key and override.is_discrete_sweep()
        for value in override.sweep_iterator()
    ]


def _typed_overrides(config: DictConfig) -> list:
    """The command line's overrides, parsed as typed (an ``${...}`` in one is not resolved)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    typed = _select(config, "hydra.overrides.task")
    return OverridesParser.create().parse_overrides(OmegaConf.to_container(typed) if typed else [])


def shown(value) -> str:
    """A value as the user would type it: ``true``, a plain word as is, anything else quoted."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str) and value and value == value.strip():
        return value
    return repr(value)


def _select(config: DictConfig, key: str):
    return OmegaConf.select(config, key, default=None, throw_on_resolution_failure=False)
