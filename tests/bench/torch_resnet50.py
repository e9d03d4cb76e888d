#!/usr/bin/python3
"""PyTorch CPU peer of the `resnet50 fwd b8 224` row (tests/bench/models_bench.ts).

Prints one JSON line: {"img_per_s": …, "ms": [...], "torch": version, "threads": n}. A
torchvision ResNet-50 with random weights in eval mode, no autograd, batch 8 of 224×224; one
warm-up batch, then the median of `runs` batches (argv[1], default 3). Uses every CPU core
(Debian's torch build defaults to one OpenMP thread here; llvmpipe uses all cores too).
"""
import json
import os
import statistics
import sys
import time

import torch
import torchvision


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(0)
    model = torchvision.models.resnet50().eval()
    x = torch.randn(8, 3, 224, 224)
    times = []
    with torch.no_grad():
        model(x)
        for _ in range(runs):
            t0 = time.perf_counter()
            model(x)
            times.append((time.perf_counter() - t0) * 1000)
    ms = statistics.median(times)
    print(json.dumps({"img_per_s": 8000 / ms, "ms": times, "torch": torch.__version__,
                      "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
