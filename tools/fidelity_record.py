#!/usr/bin/env python3
"""Assembles the whole-run fidelity record of pretraining (models/logs/fidelity.json): per-epoch
loss and acc@1 of `deno task pretrain` runs (their log.csv) beside tools/torch_moco_world.py runs
of the same recipe (their JSON), and every run's final class probe (the same sklearn probe for
both: tools/probe_world_checkpoint.py on ours, the script's own on PyTorch's). The demo's report
prints it as an appendix. Not needed by CI; run with /usr/bin/python3:

    /usr/bin/python3 tools/fidelity_record.py --data results/sup-world --size 64 \
        --ours OUT_S0 OUT_S1 --torch S0.json S1.json --out models/logs/fidelity.json
"""
import argparse, csv, json, os, sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from probe_world_checkpoint import load_encoder  # noqa: E402
from torch_moco_world import features, load_folder, probe  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--ours", nargs="+", required=True, help="pretrain --out-dir folders")
    ap.add_argument("--torch", nargs="+", required=True, help="torch_moco_world.py --out files")
    ap.add_argument("--ours-seeds", nargs="+", type=int, default=None,
                    help="seeds of the --ours runs (else read from a log.txt beside each run)")
    ap.add_argument("--recipe", default="")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.set_num_threads(2)
    tr, ty = load_folder(os.path.join(a.data, "train"))
    va, vy = load_folder(os.path.join(a.data, "val"))
    runs = []
    if a.ours_seeds is not None and len(a.ours_seeds) != len(a.ours):
        sys.exit("--ours-seeds needs one seed per --ours folder")
    for i, d in enumerate(a.ours):
        with open(os.path.join(d, "log.csv")) as f:
            rows = [r for r in csv.DictReader(f) if r["kind"] == "epoch"]
        seed = a.ours_seeds[i] if a.ours_seeds is not None else None
        if seed is None:
            with open(os.path.join(d, "log.txt")) as f:
                for line in f:
                    if ", seed " in line:
                        seed = int(line.rsplit(", seed ", 1)[1].split()[0])
        last = sorted(x for x in os.listdir(d) if x.endswith(".pth.tar") and "_0" in x)[-1]
        net = load_encoder(os.path.join(d, last), 0)
        acc = probe(features(net, tr, a.size), ty, features(net, va, a.size), vy)
        runs.append({"implementation": "ours", "seed": seed,
                     "epochs": [{"loss": float(r["loss"]), "acc1": float(r["acc1"])} for r in rows],
                     "probe": acc})
    for p in a.torch:
        with open(p) as f:
            rec = json.load(f)
        runs.append({"implementation": "pytorch", "seed": rec["args"]["seed"],
                     "epochs": [{"loss": e["loss"], "acc1": e["acc1"]} for e in rec["epochs"]],
                     "probe": rec["probe"], "random_init_probe": rec["random_init_probe"]})
    out = {"recipe": a.recipe, "data": a.data, "probe": "sklearn LogisticRegression(C=1) on "
           "standardised backbone features, train split → val split", "runs": runs}
    with open(a.out + ".tmp", "w") as f:
        json.dump(out, f, indent=1)
    os.replace(a.out + ".tmp", a.out)
    for r in runs:
        print(r["implementation"], r["seed"], round(r["probe"], 3),
              [round(e["loss"], 3) for e in r["epochs"]])


if __name__ == "__main__":
    main()
