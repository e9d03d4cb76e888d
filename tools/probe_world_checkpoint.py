#!/usr/bin/env python3
"""Independent class probe of this project's checkpoints on the built-in world: loads a
`deno task pretrain` checkpoint (or a release one) with torch, rebuilds the narrow ResNet in
plain PyTorch, extracts the 'backbone' features of the world's train and val splits and fits
sklearn's LogisticRegression on standardised features. Also probes a random-init network of the
same architecture. Not needed by CI; run with /usr/bin/python3 (Debian's torch and sklearn).

    /usr/bin/python3 tools/probe_world_checkpoint.py --data WORLD --size 32 --random 5 CKPT [CKPT ...]
"""
import argparse, os, sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_moco_world import ResNet18, features, load_folder, probe  # noqa: E402


def load_encoder(path, base_width):
    ck = torch.load(path, map_location="cpu")
    sd = ck.get("state_dict", ck)
    enc = {k[len("module.encoder_q."):]: v for k, v in sd.items()
           if k.startswith("module.encoder_q.")}
    if not enc:
        enc = sd
    w = enc["conv1.weight"].shape[0] if base_width == 0 else base_width
    mlp = "fc.0.weight" in enc
    out = (enc["fc.2.weight"] if mlp else enc["fc.weight"]).shape[0]
    net = ResNet18(w, out, mlp, 1)
    missing, unexpected = net.load_state_dict(enc, strict=True), None
    return net


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--base-width", type=int, default=0)
    ap.add_argument("--random", type=int, default=0, metavar="N",
                    help="also probe N random-init networks (seeds 0..N-1): their spread is the "
                         "baseline's own noise")
    ap.add_argument("ckpts", nargs="*")
    a = ap.parse_args()
    torch.set_num_threads(2)
    tr, ty = load_folder(os.path.join(a.data, "train"))
    va, vy = load_folder(os.path.join(a.data, "val"))
    accs = []
    for seed in range(a.random):
        torch.manual_seed(seed)
        net = ResNet18(a.base_width or 16, 128, True, 1)
        accs.append(probe(features(net, tr, a.size), ty, features(net, va, a.size), vy))
        print(f"random-init seed {seed}: {accs[-1]:.3f}", flush=True)
    if accs:
        print(f"random-init: mean {np.mean(accs):.3f}, sd {np.std(accs, ddof=1) if len(accs) > 1 else 0:.3f}, "
              f"range {min(accs):.3f}-{max(accs):.3f} over {len(accs)}")
    for c in a.ckpts:
        net = load_encoder(c, a.base_width)
        acc = probe(features(net, tr, a.size), ty, features(net, va, a.size), vy)
        print(f"{c}: {acc:.3f}", flush=True)


if __name__ == "__main__":
    main()
