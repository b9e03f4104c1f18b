"""The CNN benchmark: ``python benchmarks/cnn.py [--rounds 3] [--quick]``.

LeNet-5 and a wider network trained by the framework and by PyTorch CPU with the same
thread count, on 60,000 synthetic MNIST-shaped images at batch 128, side by side in one
run, with ``matmul-floor``: only the matrix products the framework's layers compute per
batch, a floor for its epoch. Each round visits every (network, contender) pair in a new
random order, one fresh process each, whose first epoch is a warm-up and is dropped.
Reports seconds per epoch, peak memory, and the framework / PyTorch and floor / PyTorch
ratios; writes ``benchmarks/results/cnn.json``. The framework is the one of this checkout (its
directory first on ``PYTHONPATH``); ``--baseline DIR`` adds another checkout (its extension built in
place) as the contender ``baseline``, interleaved with the others, to compare two versions.
It measures; it does not pass or fail.
"""

import argparse
import importlib.util
import json
import os
import random
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from cnn_contenders import NETWORKS  # noqa: E402  (next to this file)

CONTENDERS = ("framework", "torch", "matmul-floor")
CHECKOUT = HERE.parent
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3, help="epochs per process; the first is a warm-up")
    parser.add_argument("--samples", type=int, default=60000)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="for both contenders")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 6,000 samples, 1 round, 2 epochs")
    parser.add_argument("--output", type=Path, default=HERE / "results" / "cnn.json")
    parser.add_argument("--baseline", type=Path, help="another checkout of the project, measured as 'baseline'")
    args = parser.parse_args()
    if args.quick:
        args.samples, args.rounds, args.epochs = 6000, 1, 2
    return args


def measure(contender: str, network: str, args: argparse.Namespace) -> dict:
    command = [sys.executable, str(HERE / "cnn_worker.py"), "framework" if contender == "baseline" else contender]
    command += [network, *(str(value) for value in (args.epochs, args.samples, args.batch, args.threads))]
    checkout = args.baseline if contender == "baseline" else CHECKOUT
    environment = {**os.environ, **dict.fromkeys(THREAD_VARIABLES, str(args.threads)), "PYTHONPATH": str(checkout)}
    result = subprocess.run(command, capture_output=True, text=True, check=False, env=environment)
    if result.returncode != 0:
        raise RuntimeError(f"{contender} on {network} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def run_rounds(args: argparse.Namespace, contenders: list[str]) -> dict:
    """``{(network, contender): {"seconds": [...], "memory": [...]}}`` over every round."""
    results = {(n, c): {"seconds": [], "memory": []} for n in NETWORKS for c in contenders}
    for round_number in range(args.rounds):
        order = list(results)
        random.shuffle(order)
        for network, contender in order:
            measured = measure(contender, network, args)
            results[network, contender]["seconds"] += measured["values"][1:]
            results[network, contender]["memory"].append(measured["peak_rss_mb"])
            print(f"round {round_number + 1}: {network:7s} {contender:9s} {measured['values'][1:]}", flush=True)
    return results


def summarize(results: dict) -> dict:
    table = {}
    for (network, contender), measured in results.items():
        seconds = measured["seconds"]
        table[f"{network}/{contender}"] = {
            "median": statistics.median(seconds),
            "min": min(seconds),
            "max": max(seconds),
            "epochs": len(seconds),
            "peak_rss_mb": statistics.median(measured["memory"]),
        }
    return table


def ratios(table: dict) -> dict:
    found = {}
    for network in NETWORKS:
        ours, theirs = table.get(f"{network}/framework"), table.get(f"{network}/torch")
        if ours and theirs:
            found[network] = {
                "time_median": ours["median"] / theirs["median"],
                "time_of_minimums": ours["min"] / theirs["min"],
                "peak_memory": ours["peak_rss_mb"] / theirs["peak_rss_mb"],
            }
            floor = table.get(f"{network}/matmul-floor")
            if floor:
                found[network]["floor_median"] = floor["median"] / theirs["median"]
                found[network]["floor_of_minimums"] = floor["min"] / theirs["min"]
                found[network]["framework_over_floor"] = ours["median"] / floor["median"]
            baseline = table.get(f"{network}/baseline")
            if baseline:
                found[network]["baseline_median"] = baseline["median"] / theirs["median"]
                found[network]["framework_over_baseline"] = ours["median"] / baseline["median"]
    return found


def print_report(table: dict, found: dict) -> None:
    print("\nseconds per epoch, median (min-max); peak resident memory")
    for name, row in table.items():
        print(f"  {name:18s} {row['median']:7.3f} ({row['min']:.3f}-{row['max']:.3f})  {row['peak_rss_mb']:6.0f} MB")
    print("\nframework / PyTorch time and peak memory; matmul-floor / PyTorch and framework / matmul-floor time")
    for network, row in found.items():
        floor = f", floor {row['floor_median']:.3f} ({row['floor_of_minimums']:.3f})" if "floor_median" in row else ""
        over = f", framework / floor {row['framework_over_floor']:.3f}" if "framework_over_floor" in row else ""
        baseline = (
            f", baseline {row['baseline_median']:.3f}, framework / baseline {row['framework_over_baseline']:.3f}"
            if "baseline_median" in row
            else ""
        )
        print(
            f"  {network:7s} time {row['time_median']:.3f} (of minimums {row['time_of_minimums']:.3f}){floor}{over}"
            f"{baseline}, peak memory {row['peak_memory']:.3f}"
        )


def main() -> None:
    args = parse_arguments()
    contenders = [c for c in CONTENDERS if c != "torch" or importlib.util.find_spec("torch") is not None]
    contenders += ["baseline"] if args.baseline else []
    table = summarize(run_rounds(args, contenders))
    found = ratios(table)
    print_report(table, found)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    report = {"arguments": {k: str(v) for k, v in vars(args).items()}, "table": table, "ratios": found}
    args.output.write_text(json.dumps(report, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
