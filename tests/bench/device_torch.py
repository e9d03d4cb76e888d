#!/usr/bin/env python3
"""PyTorch peer of `deno task device-check` (scripts/device_check.ts): the same workloads in fp32
on the machine's own PyTorch, on CUDA when present (TF32 off for matmul and cuDNN), else on the
CPU (the software-adapter run here, where it only exercises this script).

Usage: device_torch.py SPEC.json [--require-cuda]. SPEC holds {"workloads": [...]}, each a dict
with "name", "kind" and the sizes (see `KINDS`), and optionally {"timing": {"min_sample_s",
"samples"}}. Prints one JSON line:
{"torch", "device", "gpu", "tf32", "cudnn_benchmark", "results": {name: value}, "errors":
{name: message}}, values in the unit of the matching device-check row (GFLOP/s, img/s, pairs/s,
views/s).

Timing: one warm-up call, then runs are grouped so one sample holds at least ~100 ms (one
synchronisation per sample), and the median of three samples is used.
"""
import json
import math
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


# Timing of every workload; the spec may lower both (the scaled-down software-adapter run).
TIMING = {"min_sample_s": 0.1, "samples": 3}


def per_run_seconds(fn, dev, min_sample_s=None, samples=None, max_inner=1000):
    """Median seconds of one `fn()` call (after a warm-up), grouped into ~min_sample_s samples."""
    min_sample_s = TIMING["min_sample_s"] if min_sample_s is None else min_sample_s
    samples = TIMING["samples"] if samples is None else samples
    fn()
    sync(dev)
    t0 = time.perf_counter()
    fn()
    sync(dev)
    once = max(time.perf_counter() - t0, 1e-6)
    inner = max(1, min(max_inner, math.ceil(min_sample_s / once)))
    times = []
    for _ in range(samples):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        sync(dev)
        times.append((time.perf_counter() - t0) / inner)
    return statistics.median(times)


def gemm(w, dev):
    n = w["n"]
    a = torch.rand(n, n, device=dev) - 0.5
    b = torch.rand(n, n, device=dev) - 0.5
    s = per_run_seconds(lambda: torch.mm(a, b), dev)
    return 2 * n ** 3 / s / 1e9


def conv(w, dev):
    n, h, wd, cin = w["x"]
    kh, kw, _, cout = w["w"]
    stride, pad = w["stride"], w["pad"]
    x = torch.randn(n, cin, h, wd, device=dev)
    weight = torch.randn(cout, cin, kh, kw, device=dev)
    oh = (h + 2 * pad - kh) // stride + 1
    ow = (wd + 2 * pad - kw) // stride + 1
    dy = torch.randn(n, cout, oh, ow, device=dev)
    flops = 2 * n * oh * ow * cout * kh * kw * cin
    args = (dy, x, weight, None, [stride, stride], [pad, pad], [1, 1], False, [0, 0], 1)
    if w["op"] == "fwd":
        fn = lambda: F.conv2d(x, weight, stride=stride, padding=pad)  # noqa: E731
    elif w["op"] == "bwd-data":
        fn = lambda: torch.ops.aten.convolution_backward(*args, [True, False, False])  # noqa: E731
    else:
        fn = lambda: torch.ops.aten.convolution_backward(*args, [False, True, False])  # noqa: E731
    with torch.no_grad():
        s = per_run_seconds(fn, dev)
    return flops / s / 1e9


def resnet50(w, dev):
    import torchvision

    model = torchvision.models.resnet50().eval().to(dev)
    x = torch.randn(w["batch"], 3, w["size"], w["size"], device=dev)
    with torch.no_grad():
        s = per_run_seconds(lambda: model(x), dev)
    return w["batch"] / s


def moco(w, dev):
    from torch_moco_step import GroupBN, encoder

    batch, size, groups, K = w["batch"], w["size"], w["groups"], w["K"]
    dim, m, T = 128, 0.999, 0.2
    q_enc, k_enc = encoder("resnet50", dim), encoder("resnet50", dim)
    k_enc.load_state_dict(q_enc.state_dict())
    q_enc.to(dev).train()
    k_enc.to(dev).train()
    for p in k_enc.parameters():
        p.requires_grad = False
    queue = F.normalize(torch.randn(dim, K, device=dev), dim=0)
    ptr = [0]
    opt = torch.optim.SGD(q_enc.parameters(), 0.03, momentum=0.9, weight_decay=1e-4)
    GroupBN.groups = groups
    xq = torch.randn(batch, 3, size, size, device=dev)
    xk = torch.randn(batch, 3, size, size, device=dev)
    labels = torch.zeros(batch, dtype=torch.long, device=dev)

    def step():
        q = F.normalize(q_enc(xq), dim=1)
        with torch.no_grad():
            for pq, pk in zip(q_enc.parameters(), k_enc.parameters()):
                pk.mul_(m).add_(pq.detach(), alpha=1 - m)
            perm = torch.randperm(batch, device=dev)
            k = F.normalize(k_enc(xk[perm]), dim=1)[torch.argsort(perm)]
        logits = torch.cat([(q * k).sum(1, keepdim=True), q @ queue.clone().detach()], 1) / T
        loss = F.cross_entropy(logits, labels)
        with torch.no_grad():
            queue[:, ptr[0]:ptr[0] + batch] = k.T
            ptr[0] = (ptr[0] + batch) % K
        opt.zero_grad()
        loss.backward()
        opt.step()

    s = per_run_seconds(step, dev, min_sample_s=0.0)
    return batch / s


def views(w, dev):
    """Rotation views of one image (nearest, as Pillow), Resize + CenterCrop + Normalize, then
    ResNet-50 features of the clean view and the k views in one batch: views/s."""
    import torchvision
    import torchvision.transforms.functional as TF
    from torchvision.transforms import InterpolationMode

    k, width, height = w["k"], w["width"], w["height"]
    resize, crop = w["resize"], w["crop"]
    model = torchvision.models.resnet50().eval().to(dev)
    model.fc = torch.nn.Identity()
    img = torch.randint(0, 256, (3, height, width), dtype=torch.uint8, device=dev)
    mean = torch.tensor([0.485, 0.456, 0.406], device=dev).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225], device=dev).view(1, 3, 1, 1)
    angles = [i * 360.0 / k for i in range(k)]

    def run():
        rotated = [img] + [TF.rotate(img, a, InterpolationMode.NEAREST) for a in angles]
        batch = TF.resize(torch.stack(rotated), resize, antialias=True)
        batch = TF.center_crop(batch, crop).float() / 255.0
        return model((batch - mean) / std)

    with torch.no_grad():
        s = per_run_seconds(run, dev, min_sample_s=0.0)
    return k / s


KINDS = {"gemm": gemm, "conv": conv, "resnet50": resnet50, "moco": moco, "views": views}


def main():
    spec = json.load(open(sys.argv[1]))
    TIMING.update(spec.get("timing", {}))
    cuda = torch.cuda.is_available()
    if "--require-cuda" in sys.argv[2:] and not cuda:
        print(json.dumps({"error": "torch has no CUDA device", "torch": torch.__version__}))
        return
    if cuda:
        dev = torch.device("cuda")
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        if hasattr(torch, "set_float32_matmul_precision"):
            torch.set_float32_matmul_precision("highest")
    else:
        dev = torch.device("cpu")
        torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(0)
    results, errors = {}, {}
    for w in spec["workloads"]:
        try:
            results[w["name"]] = KINDS[w["kind"]](w, dev)
        except Exception as e:  # one failing workload must not hide the others
            errors[w["name"]] = f"{type(e).__name__}: {e}"[:300]
        if cuda:
            torch.cuda.empty_cache()
    print(json.dumps({
        "torch": torch.__version__,
        "device": dev.type,
        "gpu": torch.cuda.get_device_name(0) if cuda else None,
        "tf32": False if cuda else None,
        "cudnn_benchmark": bool(torch.backends.cudnn.benchmark),
        "threads": torch.get_num_threads(),
        "results": results,
        "errors": errors,
    }))


if __name__ == "__main__":
    main()
