"""One measurement in a fresh process: ``python benchmarks/worker.py CONTENDER CONFIG_JSON EPOCHS``.
Prints one JSON line: the per-epoch seconds (or samples/s) and the process's peak memory."""

import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import contenders


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main():
    contender, config, epochs = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
    x, y = contenders.synthetic_mnist(config["samples"], np.dtype(config["dtype"]))
    if contender == "framework":
        values = contenders.framework_trainer(config, x, y, epochs)
    elif contender == "framework-1thread":
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):
            values = contenders.framework_trainer(config, x, y, epochs)
    elif contender == "framework+mlflow":
        with tempfile.TemporaryDirectory() as directory:
            values = contenders.framework_trainer(config, x, y, epochs, tracking_dir=directory)
    elif contender == "numpy":
        values = contenders.numpy_loop(config, x, y, epochs)
    elif contender == "matmul-floor":
        values = contenders.matmul_floor(config, x, y, epochs)
    elif contender in ("torch", "torch-fused"):
        values = contenders.torch_loop(config, x, y, epochs, fused=contender == "torch-fused")
    elif contender.startswith("forward-"):
        values = contenders.forward_throughput(contender.removeprefix("forward-"), config, x, epochs)
    else:
        raise SystemExit(f"unknown contender {contender!r}")
    print(json.dumps({"values": values, "peak_rss_mb": peak_rss_mb()}))


if __name__ == "__main__":
    main()
