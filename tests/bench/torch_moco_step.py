#!/usr/bin/python3
"""PyTorch CPU peer of the `train step` rows (tests/bench/train_bench.ts).

Usage: torch_moco_step.py ARCH BATCH SIZE GROUPS RUNS. Builds MoCo v2 (torchvision ARCH, MLP
head, dim 128, K 65536) and times full single-process training steps as main_moco.py runs them,
with shuffle-BN emulated as GROUPS groups (BN statistics per chunk of the batch): query forward,
momentum update, shuffled key forward without autograd, InfoNCE against the queue, enqueue,
backward and SGD. Prints one JSON line: {"pairs_per_s", "ms", "torch", "threads"}.
"""
import json
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision


class GroupBN(nn.BatchNorm2d):
    groups = 1

    def forward(self, x):
        if not self.training or GroupBN.groups == 1:
            return super().forward(x)
        outs = []
        for i, chunk in enumerate(x.chunk(GroupBN.groups)):
            rm = self.running_mean if i == 0 else None
            rv = self.running_var if i == 0 else None
            outs.append(F.batch_norm(chunk, rm, rv, self.weight, self.bias, True, 0.1, self.eps))
        return torch.cat(outs)


def encoder(arch, dim):
    net = getattr(torchvision.models, arch)(num_classes=dim, norm_layer=GroupBN)
    d = net.fc.weight.shape[1]
    net.fc = nn.Sequential(nn.Linear(d, d), nn.ReLU(), net.fc)
    return net


def main():
    arch, batch, size, groups, runs = sys.argv[1], *map(int, sys.argv[2:6])
    torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(0)
    dim, K, m, T = 128, 65536, 0.999, 0.2
    q_enc, k_enc = encoder(arch, dim), encoder(arch, dim)
    k_enc.load_state_dict(q_enc.state_dict())
    for p in k_enc.parameters():
        p.requires_grad = False
    queue = F.normalize(torch.randn(dim, K), dim=0)
    ptr = 0
    opt = torch.optim.SGD(q_enc.parameters(), 0.03, momentum=0.9, weight_decay=1e-4)
    GroupBN.groups = groups
    xq, xk = torch.randn(batch, 3, size, size), torch.randn(batch, 3, size, size)

    def step():
        nonlocal ptr
        q = F.normalize(q_enc(xq), dim=1)
        with torch.no_grad():
            for pq, pk in zip(q_enc.parameters(), k_enc.parameters()):
                pk.mul_(m).add_(pq.detach(), alpha=1 - m)
            perm = torch.randperm(batch)
            k = F.normalize(k_enc(xk[perm]), dim=1)[torch.argsort(perm)]
        logits = torch.cat([(q * k).sum(1, keepdim=True), q @ queue.clone().detach()], 1) / T
        loss = F.cross_entropy(logits, torch.zeros(batch, dtype=torch.long))
        with torch.no_grad():
            queue[:, ptr:ptr + batch] = k.T
            ptr = (ptr + batch) % K
        opt.zero_grad()
        loss.backward()
        opt.step()
        return float(loss)

    step()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1000)
    ms = statistics.median(times)
    print(json.dumps({"pairs_per_s": batch * 1000 / ms, "ms": times, "torch": torch.__version__,
                      "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
