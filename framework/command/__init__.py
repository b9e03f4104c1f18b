"""The command: everything ``python -m framework.train`` needs and a notebook does not.

``entry`` (the Hydra entry point and the job), ``hydra_errors`` (Hydra's errors in one
line), ``build`` (config to objects), ``checks`` and ``resume`` (pre-run checks),
``run_dir`` (a directory per run), ``threads`` (a job's share of the cores),
``recipe`` (``train(cfg)``, the run itself) and ``paths`` (where the configs are).
The library (core, training, data, plugins, tracking) never imports this package."""

__all__ = ["JobContext", "RunResult", "train"]


def __getattr__(name: str):
    # Lazily, so that finding the config directories (framework.command.paths) stays light.
    if name in __all__:
        from framework.command import recipe

        return getattr(recipe, name)
    raise AttributeError(f"module 'framework.command' has no attribute {name!r}")
