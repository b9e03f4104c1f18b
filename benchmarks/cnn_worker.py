"""One CNN measurement in a fresh process:
``python benchmarks/cnn_worker.py CONTENDER NETWORK EPOCHS SAMPLES BATCH THREADS``.
Prints one JSON line: the seconds of every epoch and the process's peak memory. The
harness sets the BLAS/OpenMP thread variables; PyTorch is told the same count."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cnn_contenders
from worker import peak_rss_mb


def main():
    contender, network = sys.argv[1], cnn_contenders.NETWORKS[sys.argv[2]]
    epochs, samples, batch, threads = (int(value) for value in sys.argv[3:7])
    x, y = cnn_contenders.synthetic_images(samples)
    if contender == "framework":
        seconds = cnn_contenders.framework_loop(network, x, y, epochs, batch)
    elif contender == "torch":
        import torch

        torch.set_num_threads(threads)
        seconds = cnn_contenders.torch_loop(network, x, y, epochs, batch)
    elif contender == "matmul-floor":
        seconds = cnn_contenders.matmul_floor(network, x, y, epochs, batch)
    else:
        raise SystemExit(f"unknown contender {contender!r}")
    print(json.dumps({"values": seconds, "peak_rss_mb": peak_rss_mb()}))


if __name__ == "__main__":
    main()
