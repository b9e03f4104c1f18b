"""The benchmark harness: ``python benchmarks/run.py [--rounds 5] [--quick]``.

Runs every contender on every configuration, one fresh process per measurement,
interleaved: each round visits all (configuration, contender) pairs in a new
random order, so slow drifts of a noisy machine hit everyone alike. Reports the
median and min-max of per-epoch seconds (the first epoch of each process is a
warm-up and is dropped), peak memory, and the ratios the performance targets are
stated in. Writes everything to ``benchmarks/results/latest.json``. It measures;
it does not pass or fail.
"""

import argparse
import importlib.util
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODEL = {"hidden": [256, 128], "lr": 0.001, "optimizer": "adam", "dtype": "float32", "batch": 128}

CONFIGS = {
    "b128": {**MODEL},
    "b128-float64": {**MODEL, "dtype": "float64"},
    "b32": {**MODEL, "batch": 32},
    "b1024": {**MODEL, "batch": 1024},
    "nb000-sgd": {**MODEL, "hidden": [16, 16], "optimizer": "sgd", "lr": 0.1},
    "forward-b1024": {**MODEL, "batch": 1024},
}

#: The two-job sweeps: the benchmark model, whose single job already uses both cores
#: for its matrix products, and notebook 000's model, whose single job does not.
#: Epochs per job make each job train about 10 s, so a job's fixed costs (composing the
#: config, loading the data, starting the launcher's worker processes) weigh little.
SWEEPS = {
    "b128": {"overrides": ["model.hidden=[256,128]", "optimizer=adam"], "epochs": 20},
    "nb000-sgd": {"overrides": ["model.hidden=[16,16]", "optimizer=sgd", "optimizer.lr=0.1"], "epochs": 80},
}


TORCH = importlib.util.find_spec("torch") is not None


def contenders_for(config_name: str, tracking: bool) -> list[str]:
    if config_name.startswith("forward"):
        return ["forward-framework", *(["forward-torch"] if TORCH else [])]
    names = ["framework", "numpy", *(["torch", "torch-fused"] if TORCH else [])]
    if config_name in SWEEPS:
        names.append("framework-1thread")
    if config_name == "b128":
        names.append("matmul-floor")
        if tracking:
            names.append("framework+mlflow")
    return names


def measure(contender: str, config: dict, epochs: int) -> dict:
    command = [sys.executable, str(HERE / "worker.py"), contender, json.dumps(config), str(epochs)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{contender} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def run_sweep(name: str, parallel: bool, samples: int, epochs: int, directory: Path) -> tuple[float, list[float]]:
    """A two-job sweep (seeds 1 and 2) through the command line: its wall time, and the
    seconds of every epoch of both jobs (from their ``history.npz``), first epochs dropped."""
    data = directory / "data.npz"
    if not data.exists():
        sys.path.insert(0, str(HERE))
        import numpy as np
        from contenders import synthetic_mnist

        x, y = synthetic_mnist(samples, np.float32)
        np.savez(data, x=x, y=y)
    launcher = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"] if parallel else []
    sweep_dir = directory / name / ("parallel" if parallel else "sequential")
    command = [
        sys.executable,
        "-m",
        "framework.train",
        "-m",
        *launcher,
        "seed=1,2",
        "data=npz",
        f"data.path={data}",
        "data.scale=false",
        *SWEEPS[name]["overrides"],
        "trainer.batch_size=128",
        f"trainer.epochs={epochs}",
        "callbacks=none",
        "logger=none",
        f"hydra.sweep.dir={sweep_dir}",
    ]
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=directory)
    wall = time.perf_counter() - started
    import numpy as np

    epochs_seconds = []
    for job in ("0", "1"):
        with np.load(sweep_dir / job / "history.npz") as history:
            epochs_seconds += history["seconds"][1:].tolist()
    shutil.rmtree(sweep_dir)
    return wall, epochs_seconds


def summarize(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def main() -> None:
    args = parse_arguments()
    table = measure_contenders(args, _mlflow_logger_available())
    sweep = {} if args.no_sweep else measure_sweeps(args)
    ratios = compute_ratios(table, sweep)
    write_report(args, table, sweep, ratios)
    print_report(table, sweep, ratios)
    print(f"\nwritten to {args.output}")


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=3, help="epochs per process; the first is a warm-up")
    parser.add_argument("--samples", type=int, default=60000)
    parser.add_argument("--configs", nargs="*", default=list(CONFIGS))
    parser.add_argument("--no-sweep", action="store_true", help="skip the parallel-vs-sequential sweeps")
    parser.add_argument(
        "--sweep-scale", type=float, default=1.0, help="multiply the sweep jobs' epochs (3: jobs of about 30 s)"
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run: 6,000 samples, 1 round, 2 epochs")
    parser.add_argument("--output", type=Path, default=HERE / "results" / "latest.json")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.epochs, args.samples = 1, 2, 6000
    return args


def measure_contenders(args: argparse.Namespace, tracking: bool) -> dict:
    """Per-epoch seconds and peak memory of every (configuration, contender) pair, interleaved by round."""
    pairs = [(name, contender) for name in args.configs for contender in contenders_for(name, tracking)]
    samples: dict[tuple[str, str], list[float]] = {pair: [] for pair in pairs}
    memory: dict[tuple[str, str], list[float]] = {pair: [] for pair in pairs}
    order = random.Random(0)
    for round_index in range(args.rounds):
        order.shuffle(pairs)
        for name, contender in pairs:
            config = {**CONFIGS[name], "samples": args.samples}
            result = measure(contender, config, args.epochs)
            samples[(name, contender)] += result["values"][1:]
            memory[(name, contender)].append(result["peak_rss_mb"])
            print(
                f"round {round_index + 1}/{args.rounds}  {name:14s} {contender:18s} {result['values'][1:]}", flush=True
            )
    return {
        f"{name}/{contender}": {**summarize(values), "peak_rss_mb": statistics.median(memory[(name, contender)])}
        for (name, contender), values in sorted(samples.items())
    }


def measure_sweeps(args: argparse.Namespace) -> dict:
    """Wall time and epoch seconds of every two-job sweep, run sequentially and in parallel each round."""
    sweep: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as directory:
        for _ in range(args.rounds):
            for name, spec in SWEEPS.items():
                for parallel in (False, True):
                    epochs = 2 if args.quick else round(spec["epochs"] * args.sweep_scale)
                    wall, epoch_seconds = run_sweep(name, parallel, args.samples, epochs, Path(directory))
                    key = f"{name}/{'parallel' if parallel else 'sequential'}"
                    sweep.setdefault(key, []).append(wall)
                    sweep.setdefault(f"{key}/epoch", []).extend(epoch_seconds)
                    print(f"sweep {key:24s} {wall:.2f} s", flush=True)
    return {key: summarize(values) for key, values in sweep.items()}


def write_report(args: argparse.Namespace, table: dict, sweep: dict, ratios: dict) -> None:
    report = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "torch": TORCH},
        "settings": vars(args) | {"output": str(args.output)},
        "results": table,
        "sweep": sweep,
        "ratios": ratios,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2))


def compute_ratios(table: dict, sweep: dict) -> dict:
    def ratio(numerator, denominator, target, comparison="<="):
        """Of medians (the headline) and of minimums (the least disturbed runs of a noisy machine)."""
        if numerator not in table or denominator not in table:
            return None
        a, b = table[numerator], table[denominator]
        return {
            "value": a["median"] / b["median"],
            "by_min": a["min"] / b["min"],
            "target": f"{comparison} {target}",
            "of": f"{numerator} / {denominator}",
        }

    ratios = {
        "framework/numpy b128": ratio("b128/framework", "b128/numpy", 1.0),
        "framework/numpy b32": ratio("b32/framework", "b32/numpy", 1.1),
        "framework/torch-fused b128": ratio("b128/framework", "b128/torch-fused", 0.8),
        "framework/matmul-floor b128": ratio("b128/framework", "b128/matmul-floor", 2.0),
        "tracking on/off b128": ratio("b128/framework+mlflow", "b128/framework", 1.02),
        "framework/numpy b1024": ratio("b1024/framework", "b1024/numpy", None),
        "framework/numpy float64": ratio("b128-float64/framework", "b128-float64/numpy", None),
        "framework/numpy nb000-sgd": ratio("nb000-sgd/framework", "nb000-sgd/numpy", None),
    }
    if "b128/framework" in table and "b128/numpy" in table:
        ratios["peak memory framework/numpy b128"] = {
            "value": table["b128/framework"]["peak_rss_mb"] / table["b128/numpy"]["peak_rss_mb"],
            "target": "<= 1.3",
            "of": "peak RSS of b128/framework / b128/numpy",
        }
    for name in SWEEPS:
        if f"{name}/sequential" in sweep:
            sequential, parallel = sweep[f"{name}/sequential"], sweep[f"{name}/parallel"]
            ratios[f"sweep sequential/parallel {name}"] = {
                "value": sequential["median"] / parallel["median"],
                "by_min": sequential["min"] / parallel["min"],
                "target": ">= 1.7",
                "of": "two-job sweep wall time, sequential / joblib n_jobs=2",
            }
            # Start-up left out: two epochs end per parallel epoch time, one per sequential one.
            sequential, parallel = sweep[f"{name}/sequential/epoch"], sweep[f"{name}/parallel/epoch"]
            ratios[f"sweep steady state {name}"] = {
                "value": 2 * sequential["median"] / parallel["median"],
                "by_min": 2 * sequential["min"] / parallel["min"],
                "target": ">= 1.7",
                "of": "2 x median epoch seconds of the sequential jobs / of the parallel jobs",
            }
        # Two one-thread jobs at once can at best run two epochs in the time one of them runs one.
        ceiling = ratio(f"{name}/framework", f"{name}/framework-1thread", None)
        if ceiling is not None:
            ratios[f"sweep ceiling {name}"] = {
                **ceiling,
                "value": 2 * ceiling["value"],
                "by_min": 2 * ceiling["by_min"],
                "of": f"2 x {ceiling['of']}",
            }
    return {key: value for key, value in ratios.items() if value is not None}


def print_report(table: dict, sweep: dict, ratios: dict) -> None:
    print(f"\n{'measurement':36s} {'median':>9s} {'min':>9s} {'max':>9s} {'n':>3s} {'peak MB':>8s}")
    for key, row in table.items():
        unit = " samples/s" if key.startswith("forward") else ""
        print(
            f"{key:36s} {row['median']:9.3f} {row['min']:9.3f} {row['max']:9.3f} {row['n']:3d} {row['peak_rss_mb']:8.0f}{unit}"
        )
    for key, row in sweep.items():
        print(f"{'sweep/' + key:36s} {row['median']:9.3f} {row['min']:9.3f} {row['max']:9.3f} {row['n']:3d}")
    print(f"\n{'ratio':36s} {'median':>7s} {'min':>7s}  target")
    for key, row in ratios.items():
        target = row["target"] if "None" not in row["target"] else "(reported)"
        by_min = f"{row['by_min']:7.3f}" if "by_min" in row else " " * 7
        print(f"{key:36s} {row['value']:7.3f} {by_min}  {target}")


def _mlflow_logger_available() -> bool:
    try:
        from framework.plugins import default_plugins

        return "mlflow" in default_plugins().registry("callback")
    except Exception:
        return False


if __name__ == "__main__":
    main()
