"""Two versions of the code side by side: a tracked run and a tracked sweep's per-job cost.

``python benchmarks/compare_startup.py OLD_TREE NEW_TREE [--rounds 3]`` runs, for each tree
(a checkout, e.g. ``git worktree add /tmp/old <commit>``), ``python -m framework.train`` tracked
and sequential tracked sweeps of 1 and 5 jobs with that tree first on ``PYTHONPATH``; the
trees alternate in a new random order each round, so a drifting machine hits both alike. The
per-job cost is ``(T5 - T1) / 4``. All runs share one store, created before the first round.
"""

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(tree: str, work: Path, *arguments: str) -> float:
    environment = {**os.environ, "PYTHONPATH": tree}
    argv = [sys.executable, "-m", "framework.train", *arguments, "callbacks.progress=null"]
    started = time.perf_counter()
    subprocess.run(argv, cwd=work, env=environment, check=True, capture_output=True)
    return time.perf_counter() - started


def one_round(tree: str, work: Path) -> dict[str, float]:
    sweep = ["-m", f"hydra.sweep.dir={work}/sweep-" + "${now:%H%M%S%f}"]
    return {
        "run": timed(tree, work, f"hydra.run.dir={work}/run-" + "${now:%H%M%S%f}"),
        "sweep 1": timed(tree, work, *sweep, "seed=0"),
        "sweep 5": timed(tree, work, *sweep, "seed=0,1,2,3,4"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    trees = {"old": str(Path(args.old).resolve()), "new": str(Path(args.new).resolve())}
    results = {name: [] for name in trees}
    with tempfile.TemporaryDirectory(prefix="framework-compare-") as directory:
        work = Path(directory)
        timed(trees["new"], work)  # the store, once
        for round_number in range(args.rounds):
            for name in random.sample(list(trees), len(trees)):
                results[name].append(one_round(trees[name], work))
            print(f"round {round_number + 1}/{args.rounds} done", file=sys.stderr)
    summary = {}
    for name, rounds in results.items():
        run = statistics.median(r["run"] for r in rounds)
        per_job = statistics.median((r["sweep 5"] - r["sweep 1"]) / 4 for r in rounds)
        summary[name] = (run, per_job)
        print(f"{name}: tracked run {run:.2f} s, each extra tracked sweep job {per_job:.3f} s ({trees[name]})")
    (old_run, old_job), (new_run, new_job) = summary["old"], summary["new"]
    print(f"new / old: tracked run {new_run / old_run:.2f}, each extra sweep job {new_job / old_job:.2f}")


if __name__ == "__main__":
    main()
