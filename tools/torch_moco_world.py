#!/usr/bin/env python3
"""MoCo v2 on the built-in world with PyTorch: an independent re-implementation of the demo's
pretraining recipe (same world images, same policies, same narrow ResNet, same MoCo settings),
used to find a recipe that learns and to check the whole-run fidelity of `deno task pretrain`.

Not needed by CI. Run with Debian's interpreter (python3-torch, python3-torchvision, python3-sklearn):

    /usr/bin/python3 tools/torch_moco_world.py --data results/demo/retrain/pretrain-world \
        --policy default --epochs 10 --seed 0 --out results/torch-moco/default-s0.json

It prints one line per epoch (loss, acc@1, lr, img/s) and writes a JSON record with the per-epoch
curve and the final class-probe accuracy (logistic regression on the frozen 'backbone' features
of the world's val split, standardised, the same probe as the demo) beside a random-init network
of the same architecture.
"""
import argparse, json, math, os, random, sys, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision.transforms as T
from PIL import Image, ImageFilter

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def load_folder(root, saturation=1.0, zoom=1.0):
    """Every image of an ImageFolder, optionally altered to test what stands in MoCo's way:
    `saturation` < 1 blends towards grey (0 = no colour at all), `zoom` < 1 keeps the central
    fraction of the frame, resized back (a narrower camera)."""
    classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    images, labels = [], []
    for ci, c in enumerate(classes):
        for f in sorted(os.listdir(os.path.join(root, c))):
            im = Image.open(os.path.join(root, c, f)).convert("RGB")
            if zoom < 1.0:
                w, h = im.size
                cw, ch = round(w * zoom), round(h * zoom)
                left, top = (w - cw) // 2, (h - ch) // 2
                im = im.crop((left, top, left + cw, top + ch)).resize((w, h), Image.BILINEAR)
            if saturation < 1.0:
                im = Image.blend(im.convert("L").convert("RGB"), im, saturation)
            images.append(im)
            labels.append(ci)
    return images, np.array(labels)


BLUR_SCALE = 1.0


class Blur:
    """MoCo v2's GaussianBlur: Pillow's radius drawn uniformly in [0.1, 2] (times --blur-scale)."""

    def __call__(self, x):
        return x.filter(ImageFilter.GaussianBlur(radius=random.uniform(0.1, 2.0) * BLUR_SCALE))


def policy_transform(policy, size):
    norm = [T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    crop = T.RandomResizedCrop(size, scale=(0.2, 1.0))
    appearance = [
        T.RandomApply([T.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
        T.RandomGrayscale(p=0.2),
        T.RandomApply([Blur()], p=0.5),
    ]
    if policy == "default":
        return T.Compose([crop, *appearance, T.RandomHorizontalFlip(), *norm])
    if policy == "ventral":
        return T.Compose([crop, T.RandomHorizontalFlip(), *norm])
    if policy == "dorsal":
        return T.Compose([*appearance, T.Resize(size), T.CenterCrop(size), *norm])
    raise SystemExit(f"unknown policy {policy}")


class SplitBatchNorm(nn.BatchNorm2d):
    """BatchNorm over `groups` equal slices of the batch in training (MoCo's shuffle-BN stand-in)."""

    def __init__(self, c, groups):
        super().__init__(c)
        self.groups = groups

    def forward(self, x):
        if not self.training or self.groups == 1:
            return super().forward(x)
        n, c, h, w = x.shape
        g = self.groups
        rm = self.running_mean.repeat(g)
        rv = self.running_var.repeat(g)
        y = F.batch_norm(x.reshape(n // g, c * g, h, w), rm, rv, self.weight.repeat(g),
                         self.bias.repeat(g), True, self.momentum, self.eps).view(n, c, h, w)
        self.running_mean.data.copy_(rm.view(g, c).mean(0))
        self.running_var.data.copy_(rv.view(g, c).mean(0))
        return y


class Block(nn.Module):
    def __init__(self, cin, cout, stride, bn):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = bn(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = bn(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), bn(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class ResNet18(nn.Module):
    """torchvision's ResNet-18 layout with base width `w` (16 → 128-d backbone features)."""

    def __init__(self, w, out_dim, mlp, bn_groups, stem="imagenet"):
        super().__init__()
        bn = (lambda c: SplitBatchNorm(c, bn_groups)) if bn_groups > 1 else nn.BatchNorm2d
        # "imagenet": torchvision's 7×7/2 conv + 3×3/2 max pool (what the demo's checkpoints use);
        # "nomaxpool": the same conv without the pool; "cifar": a 3×3/1 conv, no pool (4× / 16× the
        # positions of every later layer). A diagnostic of how much the stem's downsampling costs.
        self.stem = stem
        if stem == "cifar":
            self.conv1 = nn.Conv2d(3, w, 3, 1, 1, bias=False)
        else:
            self.conv1 = nn.Conv2d(3, w, 7, 2, 3, bias=False)
        self.bn1 = bn(w)
        cin = w
        for i, cout in enumerate([w, 2 * w, 4 * w, 8 * w]):
            s = 1 if i == 0 else 2
            setattr(self, f"layer{i + 1}", nn.Sequential(Block(cin, cout, s, bn), Block(cout, cout, 1, bn)))
            cin = cout
        self.dim = cin
        fc = nn.Linear(cin, out_dim)
        self.fc = nn.Sequential(nn.Linear(cin, cin), nn.ReLU(), fc) if mlp else fc
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def backbone(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        if self.stem == "imagenet":
            x = F.max_pool2d(x, 3, 2, 1)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)

    def forward(self, x):
        return self.fc(self.backbone(x))


def features(model, images, size):
    tf = T.Compose([T.Resize(size), T.CenterCrop(size), T.ToTensor(),
                    T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(images), 256):
            x = torch.stack([tf(im) for im in images[i:i + 256]])
            out.append(model.backbone(x))
    return torch.cat(out).numpy().astype(np.float64)


def probe(train_f, train_y, val_f, val_y):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    sc = StandardScaler().fit(train_f)
    clf = LogisticRegression(max_iter=2000, C=1.0).fit(sc.transform(train_f), train_y)
    return float(clf.score(sc.transform(val_f), val_y))


def load_moco_state(path, q, k, queue, opt):
    """Loads a MoCo checkpoint's encoders, queue and SGD momentum buffers into this script's
    objects (strict key match: a checkpoint of another architecture is an error, not a silent
    partial load); returns (epoch to continue from, queue pointer)."""
    ck = torch.load(path, map_location="cpu", weights_only=False)
    sd = ck.get("state_dict")
    if not isinstance(sd, dict):
        raise SystemExit(f"{path}: no state_dict, not a MoCo checkpoint")
    sd = {key[len("module."):] if key.startswith("module.") else key: v for key, v in sd.items()}
    for prefix, net in (("encoder_q.", q), ("encoder_k.", k)):
        part = {key[len(prefix):]: v for key, v in sd.items() if key.startswith(prefix)}
        missing, unexpected = net.load_state_dict(part, strict=False)
        if missing or unexpected:
            raise SystemExit(f"{path}: {prefix[:-1]} does not match this network "
                             f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
    if tuple(sd["queue"].shape) != tuple(queue.shape):
        raise SystemExit(f"{path}: queue {tuple(sd['queue'].shape)}, --k gives {tuple(queue.shape)}")
    queue.copy_(sd["queue"])
    # The optimiser of main_moco.py covers encoder_q then encoder_k; only encoder_q's indices
    # (0 … P-1, in named_parameters order) carry momentum buffers.
    state = ck.get("optimizer", {}).get("state", {})
    params = list(q.parameters())
    for i, p in enumerate(params):
        buf = state.get(i, {}).get("momentum_buffer")
        if buf is None:
            raise SystemExit(f"{path}: no momentum buffer for parameter {i}")
        opt.state[p]["momentum_buffer"] = buf.clone().reshape(p.shape)
    return int(ck["epoch"]), int(sd["queue_ptr"].reshape(-1)[0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True, help="make-world ImageFolder root (train/, val/)")
    ap.add_argument("--policy", default="default")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.06)
    ap.add_argument("--wd", type=float, default=1e-4)
    ap.add_argument("--k", type=int, default=1024)
    ap.add_argument("--m", type=float, default=0.99)
    ap.add_argument("--t", type=float, default=0.2)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--base-width", type=int, default=16)
    ap.add_argument("--bn-groups", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--probe-every", type=int, default=0, help="probe after every N epochs")
    ap.add_argument("--saturation", type=float, default=1.0,
                    help="blend the images towards grey (0 = greyscale world)")
    ap.add_argument("--zoom", type=float, default=1.0, help="keep this central fraction")
    ap.add_argument("--blur-scale", type=float, default=1.0, help="scale the blur radius")
    ap.add_argument("--probe-data", default="",
                    help="probe on this make-world root instead of --data (so pretraining data "
                         "size can change while the probe's data stays fixed)")
    ap.add_argument("--no-cos", action="store_true",
                    help="MoCo's step schedule (lr drops 10x at each --schedule milestone) instead "
                         "of the per-epoch cosine")
    ap.add_argument("--schedule", type=int, nargs="*", default=[120, 160],
                    help="milestone epochs of the step schedule (with --no-cos); the original's "
                         "default 120 160 keeps lr constant in shorter runs")
    ap.add_argument("--stem", default="imagenet", choices=["imagenet", "nomaxpool", "cifar"],
                    help="the network's stem (a diagnostic; the demo uses imagenet)")
    ap.add_argument("--init-from", default="",
                    help="continue from a MoCo checkpoint (ours from `deno task pretrain`, or the "
                         "original's): its encoders, queue, queue pointer and SGD momentum, from "
                         "its epoch on. A diagnostic that separates where two runs' curves part: "
                         "the state reached so far or the steps taken from it")
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    global BLUR_SCALE
    BLUR_SCALE = a.blur_scale
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    random.seed(a.seed)
    np.random.seed(a.seed)

    train_im, train_y = load_folder(os.path.join(a.data, "train"), a.saturation, a.zoom)
    probe_root = a.probe_data or a.data
    if a.probe_data:
        probe_im, probe_y = load_folder(os.path.join(probe_root, "train"), a.saturation, a.zoom)
    else:
        probe_im, probe_y = train_im, train_y
    val_im, val_y = load_folder(os.path.join(probe_root, "val"), a.saturation, a.zoom)
    tf = policy_transform(a.policy, a.size)

    def make():
        return ResNet18(a.base_width, 128, True, a.bn_groups, a.stem)

    q, k = make(), make()
    for pk, pq in zip(k.parameters(), q.parameters()):
        pk.data.copy_(pq.data)
        pk.requires_grad = False
    queue = F.normalize(torch.randn(128, a.k), dim=0)
    ptr = 0
    opt = torch.optim.SGD(q.parameters(), a.lr, momentum=0.9, weight_decay=a.wd)

    start_epoch = 0
    if a.init_from:
        start_epoch, ptr = load_moco_state(a.init_from, q, k, queue, opt)
        print(f"continuing {a.init_from} from epoch {start_epoch}", flush=True)

    rand_net = make()
    record = {"args": vars(a), "epochs": []}
    r_acc = probe(features(rand_net, probe_im, a.size), probe_y,
                  features(rand_net, val_im, a.size), val_y)
    record["random_init_probe"] = r_acc
    print(f"random-init probe {r_acc:.3f}", flush=True)

    n = len(train_im)
    steps = n // a.batch
    for epoch in range(start_epoch, a.epochs):
        if a.no_cos:
            lr = a.lr * 0.1 ** sum(1 for m in a.schedule if epoch >= m)
        else:
            lr = a.lr * 0.5 * (1 + math.cos(math.pi * epoch / a.epochs))
        for g in opt.param_groups:
            g["lr"] = lr
        q.train()
        k.train()
        perm = np.random.permutation(n)
        t0 = time.time()
        tot_loss = tot_acc = 0.0
        for s in range(steps):
            idx = perm[s * a.batch:(s + 1) * a.batch]
            xq = torch.stack([tf(train_im[i]) for i in idx])
            xk = torch.stack([tf(train_im[i]) for i in idx])
            zq = F.normalize(q(xq), dim=1)
            with torch.no_grad():
                for pk, pq in zip(k.parameters(), q.parameters()):
                    pk.data.mul_(a.m).add_(pq.data, alpha=1 - a.m)
                sh = torch.randperm(len(idx))
                zk = F.normalize(k(xk[sh]), dim=1)[torch.argsort(sh)]
            lpos = (zq * zk).sum(1, keepdim=True)
            lneg = zq @ queue
            logits = torch.cat([lpos, lneg], 1) / a.t
            labels = torch.zeros(len(idx), dtype=torch.long)
            loss = F.cross_entropy(logits, labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                queue[:, ptr:ptr + len(idx)] = zk.T
                ptr = (ptr + len(idx)) % a.k
            tot_loss += loss.item()
            tot_acc += (logits.argmax(1) == 0).float().mean().item() * 100
        dt = time.time() - t0
        row = {"epoch": epoch, "loss": tot_loss / steps, "acc1": tot_acc / steps, "lr": lr,
               "img_per_s": steps * a.batch / dt}
        if a.probe_every and (epoch + 1) % a.probe_every == 0 and epoch + 1 < a.epochs:
            row["probe"] = probe(features(q, probe_im, a.size), probe_y,
                                 features(q, val_im, a.size), val_y)
        record["epochs"].append(row)
        print(json.dumps(row), flush=True)
    acc = probe(features(q, probe_im, a.size), probe_y, features(q, val_im, a.size), val_y)
    record["probe"] = acc
    print(f"final probe {acc:.3f} (random init {r_acc:.3f})", flush=True)
    if a.out:
        os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
        with open(a.out + ".tmp", "w") as f:
            json.dump(record, f, indent=1)
        os.replace(a.out + ".tmp", a.out)


if __name__ == "__main__":
    main()
