"""Start-up benchmark: what a small run costs around its training.

``python benchmarks/startup.py [--rounds 5]`` times whole commands (each a fresh
process, the rounds interleaved so a drifting machine hits every command alike) of
the default model on the bundled digits, and the phases they are made of:

- ``python``: the interpreter alone; ``import command``: the command's imports;
  ``import mlflow``: what tracking adds before it can open a store;
- ``run, logger=none`` and ``run, tracked`` (on a store that already exists);
- ``mlflow floor``: only what MLflow must do for one tracked run (``mlflow_floor.py``:
  import, open the store, create a run, log a batch and the model, finish it);
- sweeps of 1 and 4 sequential jobs, tracked and not: the cost of each extra job is
  ``(T4 - T1) / 3``, reported beside its own training time (from ``history.npz``); and
  the same from inside the sweeps, less sensitive to a noisy machine: the median time
  from one job's first log line to the next job's (their ``train.log`` timestamps).

It measures, it does not pass or fail; results go to ``benchmarks/results/startup.json``.
"""

import argparse
import datetime
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
QUIET = ["callbacks.progress=null"]


def commands(work: Path) -> dict[str, list[str]]:
    train = [sys.executable, "-m", "framework.train", *QUIET]
    sweep = [sys.executable, "-m", "framework.train", "-m", *QUIET]
    return {
        "python": [sys.executable, "-c", "pass"],
        "import command": [sys.executable, "-c", "import framework.command.entry"],
        "import mlflow": [sys.executable, "-c", "import mlflow"],
        "mlflow floor": [sys.executable, str(Path(__file__).with_name("mlflow_floor.py")), str(work)],
        "run, logger=none": [*train, "logger=none", f"hydra.run.dir={work}/none-${{now:%H%M%S%f}}"],
        "run, tracked": [*train, f"hydra.run.dir={work}/tracked-${{now:%H%M%S%f}}"],
        "sweep 1 job, logger=none": [*sweep, "logger=none", "seed=0", sweep_dir(work, "none")],
        "sweep 4 jobs, logger=none": [*sweep, "logger=none", "seed=0,1,2,3", sweep_dir(work, "none")],
        "sweep 1 job, tracked": [*sweep, "seed=0", sweep_dir(work, "tracked")],
        "sweep 4 jobs, tracked": [*sweep, "seed=0,1,2,3", sweep_dir(work, "tracked")],
    }


def sweep_dir(work: Path, kind: str) -> str:
    return f"hydra.sweep.dir={work}/sweep-{kind}-${{now:%H%M%S%f}}"


def job_to_job_seconds(work: Path, kind: str) -> list[float]:
    """Within each sweep of ``kind``: the time from each job's first log line to the next job's."""
    intervals = []
    for sweep in work.glob(f"sweep-{kind}-*"):
        jobs = sorted((d for d in sweep.iterdir() if d.name.isdigit()), key=lambda d: int(d.name))
        starts = [first_log_time(job / "train.log") for job in jobs]
        intervals += [later - earlier for earlier, later in itertools.pairwise(starts)]
    return intervals


def first_log_time(log: Path) -> float:
    """The timestamp of the first line, ``[2026-12-01 22:43:47,642][...]``, in seconds."""
    stamp = log.read_text(encoding="utf-8").split("]", 1)[0].lstrip("[")
    return datetime.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()


def timed(argv: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def training_seconds(work: Path) -> float:
    """The median training time of one job (the epochs' own seconds, from every run's history)."""
    totals = [float(np.load(path)["seconds"].sum()) for path in work.rglob("history.npz")]
    return statistics.median(totals)


def measure(rounds: int, work: Path) -> dict[str, list[float]]:
    table = commands(work)
    timed(table["run, tracked"], work)  # creates the store once: every timed run finds it
    times: dict[str, list[float]] = {name: [] for name in table}
    rng = np.random.default_rng(0)
    for round_number in range(rounds):
        for name in rng.permutation(list(table)):
            times[name].append(timed(table[name], work))
        print(f"round {round_number + 1}/{rounds} done", file=sys.stderr)
    return times


def summarize(times: dict[str, list[float]], training: float, work: Path) -> dict[str, float]:
    median = {name: statistics.median(values) for name, values in times.items()}
    for kind, label in (("none", "logger=none"), ("tracked", "tracked")):
        extra = (median[f"sweep 4 jobs, {label}"] - median[f"sweep 1 job, {label}"]) / 3
        median[f"each extra sweep job, {label}"] = extra
        median[f"each extra sweep job above its training, {label}"] = extra - training
        inside = statistics.median(job_to_job_seconds(work, kind))
        median[f"job to job inside a sweep, {label}"] = inside
        median[f"job to job above its training, {label}"] = inside - training
    median["training of one job"] = training
    median["tracking adds to a run"] = median["run, tracked"] - median["run, logger=none"]
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="framework-startup-") as directory:
        work = Path(directory)
        times = measure(args.rounds, work)
        figures = summarize(times, training_seconds(work), work)
    width = max(map(len, figures))
    for name, value in figures.items():
        spread = f"  ({min(times[name]):.2f}-{max(times[name]):.2f})" if name in times else ""
        print(f"{name:<{width}}  {value:6.2f} s{spread}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "startup.json").write_text(json.dumps({"median_seconds": figures, "runs": times}, indent=1))


if __name__ == "__main__":
    main()
