"""Pruning benchmark: ``python benchmarks/pruning.py [--rounds 3] [--quick]``.

Tunes the learning rate of the benchmark model (``run.MODEL``: 256-128 ReLU, Adam, batch
128) with ``hydra/sweeper=optuna_study`` twice per round, on the same trial budget, the
same TPE sampler and seed and the same data: once without a pruner, once with
``hydra/sweeper/pruner=median``. The arms run alternately (their order swaps every round,
so a drifting machine hits both alike); each round has its own sampler seed. Reports the
wall-clock and CPU time of each whole sweep command, the best value (``optimization_results.yaml``),
the complete and pruned trials and the epochs trained (from the study's journal), their
medians and the ratios pruning / no pruning; writes ``benchmarks/results/pruning.json``.

Exits non-zero, with the reason, unless pruning is faster by median and its median best
value is at most ``--tolerance`` (relative) worse than the median best without pruning.
A ``--quick`` smoke run is reported, not judged.
"""

import argparse
import json
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run import MODEL, summarize  # noqa: E402  (next to this file)
from startup import timed  # noqa: E402

SEARCH = "optimizer.lr=tag(log, interval(1e-5, 1e-1))"
#: Gaussian blobs that overlap: about 85% is the best validation accuracy, so a learning rate
#: too low is still far from it after a few epochs, one too high overfits or stalls.
DATA = ["data=blobs", "data.n_features=64", "data.centers=10", "data.noise=8", "data.standardize=true"]
#: The arms differ by the pruner's overrides only (``pruner_overrides``).
ARMS = ("no pruning", "median pruner")
TPE_STARTUP_TRIALS = 5
#: What ``compare`` takes the median of, besides the wall time and the best value.
MEDIANS = ("cpu_seconds", "pruned", "epochs", "seconds_in_trials")
HEADER = (
    f"{'round':>6s}  {'seed':>4s}  {'arm':15s} {'seconds':>8s}  {'CPU s':>6s}  {'best val_loss':>13s}  "
    f"{'best lr':>8s}  {'complete':>8s}  {'pruned':>6s}  {'failed':>6s}  {'epochs':>6s}"
)


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=16, help="n_trials of each study")
    parser.add_argument("--epochs", type=int, default=20, help="epochs of a trial that is not pruned")
    parser.add_argument("--samples", type=int, default=40000, help="blobs drawn (70%% train, 10%% val, 20%% test)")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads of every trial")
    parser.add_argument("--seed", type=int, default=0, help="the sampler seed of round 1; round r uses seed + r - 1")
    parser.add_argument("--pruner-startup", type=int, default=4, help="trials the median pruner lets finish first")
    parser.add_argument("--warmup", type=int, default=6, help="the first epoch (from 1) at which a trial may be pruned")
    parser.add_argument("--tolerance", type=float, default=0.10, help="how much worse (relative) a best value may be")
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: 1 round, 8 trials of 6 epochs, warm-up 2, 10,000 samples"
    )
    parser.add_argument("--output", type=Path, default=HERE / "results" / "pruning.json")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.trials, args.epochs, args.warmup, args.samples = 1, 8, 6, 2, 10000
    return args


def pruner_overrides(args: argparse.Namespace, arm: str) -> list[str]:
    if arm == "no pruning":
        return []  # the sweeper's default: no pruner
    return [
        "hydra/sweeper/pruner=median",
        f"hydra.sweeper.pruner.n_startup_trials={args.pruner_startup}",
        f"hydra.sweeper.pruner.n_warmup_steps={args.warmup}",
    ]


def sweep_command(args: argparse.Namespace, arm: str, seed: int, sweep_dir: Path) -> list[str]:
    model = [
        f"model.hidden=[{','.join(map(str, MODEL['hidden']))}]",
        f"model.dtype={MODEL['dtype']}",
        f"optimizer={MODEL['optimizer']}",
        f"trainer.batch_size={MODEL['batch']}",
    ]
    return [
        sys.executable, "-m", "framework.train", "-m",
        "hydra/sweeper=optuna_study",
        f"hydra.sweeper.n_trials={args.trials}",
        "hydra/sweeper/sampler=tpe",
        f"hydra.sweeper.sampler.seed={seed}",
        f"hydra.sweeper.sampler.n_startup_trials={TPE_STARTUP_TRIALS}",
        *pruner_overrides(args, arm),
        SEARCH,
        *DATA,
        f"data.n_samples={args.samples}",
        *model,
        f"trainer.epochs={args.epochs}",
        f"trainer.threads={args.threads}",
        "logger=none",
        "callbacks.progress=null",
        "callbacks.checkpoint=null",
        f"hydra.sweep.dir={sweep_dir}",
    ]  # fmt: skip


def study_figures(sweep_dir: Path) -> dict:
    """Trial counts, epochs trained and seconds spent inside trials, from the study's journal."""
    import optuna
    import yaml
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = JournalStorage(JournalFileBackend(str(sweep_dir / "optuna.journal")))
    trials = optuna.load_study(study_name=None, storage=storage).get_trials(deepcopy=False)
    counts = {state.name.lower(): sum(t.state == state for t in trials) for state in optuna.trial.TrialState}
    results = sweep_dir / "optimization_results.yaml"  # written when a trial completed
    best = yaml.safe_load(results.read_text()) if results.exists() else {}
    return {
        "best_value": best.get("best_value"),
        "best_lr": best.get("best_params", {}).get("optimizer.lr"),
        **{state: counts[state] for state in ("complete", "pruned", "fail")},
        "epochs": sum(len(t.intermediate_values) for t in trials),
        "seconds_in_trials": sum(t.duration.total_seconds() for t in trials if t.duration is not None),
    }


def run_arm(args: argparse.Namespace, arm: str, seed: int, work: Path) -> dict:
    sweep_dir = work / arm.replace(" ", "-") / f"seed{seed}"
    command = sweep_command(args, arm, seed, sweep_dir)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        seconds = timed(command, work)
    except subprocess.CalledProcessError as error:
        raise SystemExit(
            f"the {arm!r} sweep failed (exit {error.returncode}); run it to see why: {shlex.join(command)}"
        ) from None
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime  # the sweep and its jobs
    return {"arm": arm, "seed": seed, "seconds": seconds, "cpu_seconds": cpu, **study_figures(sweep_dir)}


def measure(args: argparse.Namespace) -> list[dict]:
    """Every sweep of every round, the arms' order swapped each round."""
    runs = []
    with tempfile.TemporaryDirectory(prefix="framework-pruning-") as directory:
        for index in range(args.rounds):
            seed, arms = args.seed + index, list(ARMS) if index % 2 == 0 else list(ARMS)[::-1]
            for arm in arms:
                run = {"round": index + 1, **run_arm(args, arm, seed, Path(directory))}
                runs.append(run)
                print(
                    f"round {index + 1}/{args.rounds} {arm:14s} {run['seconds']:7.1f} s  best {run['best_value']}"
                    f"  {run['complete']} complete, {run['pruned']} pruned, {run['epochs']} epochs",
                    file=sys.stderr,
                    flush=True,
                )
    return runs


def compare(runs: list[dict]) -> dict:
    """Medians of each arm and the ratios pruning / no pruning (of medians, and per round)."""
    arms = {arm: [run for run in runs if run["arm"] == arm] for arm in ARMS}
    medians = {}
    for arm, own in arms.items():
        best = [run["best_value"] for run in own if run["best_value"] is not None]
        medians[arm] = {
            "seconds": summarize([run["seconds"] for run in own]),
            "best_value": statistics.median(best) if len(best) == len(own) else None,
            **{key: statistics.median(run[key] for run in own) for key in MEDIANS},
        }
    base, pruned = (medians[arm] for arm in ARMS)
    per_round = [p["seconds"] / b["seconds"] for b, p in zip(*arms.values(), strict=True)]
    ratios = {
        "seconds": pruned["seconds"]["median"] / base["seconds"]["median"],
        "seconds, median of rounds": statistics.median(per_round),
        "cpu_seconds": pruned["cpu_seconds"] / base["cpu_seconds"],
        "epochs": pruned["epochs"] / base["epochs"],
    }
    if base["best_value"] is not None and pruned["best_value"] is not None:
        ratios["best_value"] = pruned["best_value"] / base["best_value"]
    return {"medians": medians, "ratios": ratios}


def verdict(comparison: dict, tolerance: float) -> str | None:
    """Why pruning failed the criterion, or None when it met it (val_loss: lower is better)."""
    ratios = comparison["ratios"]
    base, pruned = (comparison["medians"][arm] for arm in ARMS)
    if "best_value" not in ratios:
        return "an arm ended a round without a complete trial, so it has no best value"
    if ratios["seconds"] >= 1:
        return f"pruning is not faster: {pruned['seconds']['median']:.1f} s against {base['seconds']['median']:.1f} s"
    if ratios["best_value"] > 1 + tolerance:
        return (
            f"pruning's best val_loss {pruned['best_value']:.4f} is {ratios['best_value'] - 1:.1%} above "
            f"{base['best_value']:.4f} without pruning (tolerance {tolerance:.0%})"
        )
    return None


def _number(value, spec: str, width: int) -> str:
    return f"{'-':>{width}s}" if value is None else f"{value:{width}{spec}}"


def print_report(runs: list[dict], comparison: dict) -> None:
    print(HEADER)
    for run in runs:
        print(
            f"{run['round']:6d}  {run['seed']:4d}  {run['arm']:15s} {run['seconds']:8.1f}  {run['cpu_seconds']:6.1f}  "
            f"{_number(run['best_value'], '.4f', 13)}  {_number(run['best_lr'], '.2e', 8)}  {run['complete']:8d}  "
            f"{run['pruned']:6d}  {run['fail']:6d}  {run['epochs']:6d}"
        )
    for arm, row in comparison["medians"].items():
        seconds = row["seconds"]
        print(
            f"{'median':>6s}  {'':4s}  {arm:15s} {seconds['median']:8.1f}  {row['cpu_seconds']:6.1f}  "
            f"{_number(row['best_value'], '.4f', 13)}  {'':8s}  {'':8s}  {row['pruned']:6g}  {'':6s}  {row['epochs']:6g}"
            f"  ({seconds['min']:.1f}-{seconds['max']:.1f} s)"
        )
    ratios = comparison["ratios"]
    print(
        f"\npruning / no pruning: time {ratios['seconds']:.3f} (median of the rounds' ratios "
        f"{ratios['seconds, median of rounds']:.3f}), CPU time {ratios['cpu_seconds']:.3f}, epochs {ratios['epochs']:.3f}, "
        f"best val_loss {_number(ratios.get('best_value'), '.3f', 0)}"
    )


def main() -> None:
    args = parse_arguments()
    runs = measure(args)
    comparison = compare(runs)
    reason = verdict(comparison, args.tolerance)
    print_report(runs, comparison)
    report = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "settings": vars(args) | {"output": str(args.output), "search": SEARCH, "data": DATA},
        "runs": runs,
        **comparison,
        "met": reason is None,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2))
    print(f"\nwritten to {args.output}")
    if reason is not None and args.quick:
        print(f"criterion not met (a smoke run is not judged: its epochs are too short): {reason}")
    elif reason is not None:
        raise SystemExit(f"criterion not met: {reason}")
    else:
        print(f"criterion met: pruning faster, best val_loss within {args.tolerance:.0%}")


if __name__ == "__main__":
    main()
