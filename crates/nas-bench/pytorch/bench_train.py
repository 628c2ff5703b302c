#!/usr/bin/env python3
"""PyTorch reference for the training-throughput benchmark.

Trains a fixed 31,514-parameter CNN on random 28x28x1 inputs with 10 classes (Adam, lr 1e-3,
cross-entropy, train mode) and reports the median step time and images/s = batch / median.

    python bench_train.py [--threads 2] [--batch 128] [--warmup-steps 5] [--steps 30]
                          [--device cpu|cuda] [--seed 0] [--json] [--plan ROW.json]

With --plan, the network is built instead from the JSON row `nas bench train --arch A --json`
prints (its `input`, `plan` and `dropout`: the same layers, widths and activations as nas
builds for that ArchSpec), and its parameter count must equal the row's `params`.

Network (every conv has no bias; BN = BatchNorm2d with PyTorch defaults):
    conv3x3 1->16 pad 1, BN, ReLU
    conv3x3 16->32 stride 2 pad 1, BN, ReLU                       28x28 -> 14x14
    inverted residual 32->96->32 + identity:
        conv1x1 32->96, BN, ReLU6
        depthwise conv3x3 96 (groups 96) pad 1, BN, ReLU6
        conv1x1 96->32, BN
    conv3x3 32->64 stride 2 pad 1, BN, ReLU                       14x14 -> 7x7
    global average pool, linear 64->10 (with bias)

Timing: every batch (warmup + measured) is generated and moved to the device before the
first step; each step (zero_grad, forward, loss, backward, optimizer step) is timed with
time.perf_counter, with torch.cuda.synchronize() before and after on cuda. Warmup steps are
not counted.

With --json, stdout is exactly one JSON line
    {"framework":"pytorch","device":..,"threads":..,"batch":..,"params":..,
     "images_per_s":..,"step_ms_median":..}
and the human-readable lines go to stderr.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

EXPECTED_PARAMS = 31514
IMAGE = 28
CLASSES = 10


def conv_bn(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1) -> list[nn.Module]:
    return [
        nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
    ]


class InvertedResidual(nn.Module):
    """MobileNetV2 block c -> c*expand -> c with an identity shortcut."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            *conv_bn(channels, hidden, 1),
            nn.ReLU6(inplace=True),
            *conv_bn(hidden, hidden, 3, groups=hidden),
            nn.ReLU6(inplace=True),
            *conv_bn(hidden, channels, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def build_model() -> nn.Module:
    return nn.Sequential(
        *conv_bn(1, 16, 3),
        nn.ReLU(inplace=True),
        *conv_bn(16, 32, 3, stride=2),
        nn.ReLU(inplace=True),
        InvertedResidual(32, 96),
        *conv_bn(32, 64, 3, stride=2),
        nn.ReLU(inplace=True),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(64, CLASSES),
    )


ACTIVATIONS = {"relu": F.relu_, "relu6": lambda x: F.relu6(x, inplace=True),
               "hard_swish": lambda x: F.hardswish(x, inplace=True)}


def plan_conv_bn(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(*conv_bn(cin, cout, k, stride, groups))


class PlanBlock(nn.Module):
    """One block of a nas plan, as nas-model's `Block::forward` runs it."""

    def __init__(self, block: dict) -> None:
        super().__init__()
        cin, cout, stride = block["in_channels"], block["out_channels"], block["stride"]
        kind = block["kind"]
        self.type = kind["type"]
        k = kind["kernel"]
        if self.type == "vanilla":
            self.conv = plan_conv_bn(cin, cout, k, stride)
        elif self.type == "bottleneck":
            mid = kind["mid_channels"]
            self.reduce = plan_conv_bn(cin, mid, 1)
            self.conv = plan_conv_bn(mid, mid, k, stride)
            self.expand = plan_conv_bn(mid, cout, 1)
            self.shortcut = plan_conv_bn(cin, cout, 1, stride) if kind["projection"] else None
        elif self.type == "inverted_residual":
            hid = kind["hidden_channels"]
            self.act = ACTIVATIONS[kind["activation"]]
            self.expand = plan_conv_bn(cin, hid, 1) if kind["expand"] else None
            self.depthwise = plan_conv_bn(hid, hid, k, stride, groups=hid)
            sq = kind["se_channels"]
            self.se = None if sq is None else nn.ModuleList(
                [nn.Conv2d(hid, sq, 1), nn.Conv2d(sq, hid, 1)])
            self.project = plan_conv_bn(hid, cout, 1)
            self.residual = kind["residual"]
        else:
            raise ValueError(f"unknown block type {self.type!r}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.type == "vanilla":
            return F.relu_(self.conv(x))
        if self.type == "bottleneck":
            y = F.relu_(self.reduce(x))
            y = F.relu_(self.conv(y))
            y = self.expand(y)
            return F.relu_(y + (x if self.shortcut is None else self.shortcut(x)))
        y = x if self.expand is None else self.act(self.expand(x))
        y = self.act(self.depthwise(y))
        if self.se is not None:
            s = y.mean(dim=(2, 3), keepdim=True)
            s = torch.sigmoid(self.se[1](F.relu_(self.se[0](s))))
            y = y * s
        y = self.project(y)
        return y + x if self.residual else y


class PlanNetwork(nn.Module):
    """nas-model's `Network` for a resolved plan: stem, blocks, optional head conv, global
    average pool, dropout, linear."""

    def __init__(self, plan: dict, dropout: float) -> None:
        super().__init__()
        stem = plan["stem"]
        self.stem = plan_conv_bn(stem["in_channels"], stem["out_channels"], stem["kernel"],
                                 stem["stride"])
        self.blocks = nn.Sequential(*[PlanBlock(b) for b in plan["blocks"]])
        head = plan["head_conv"]
        self.head = None if head is None else plan_conv_bn(
            head["in_channels"], head["out_channels"], head["kernel"], head["stride"])
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classifier = nn.Linear(plan["features"], plan["num_classes"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(F.relu_(self.stem(x)))
        if self.head is not None:
            x = F.relu_(self.head(x))
        return self.classifier(self.dropout(self.pool(x)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2,
                    help="torch.set_num_threads and set_num_interop_threads (default 2)")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--warmup-steps", type=int, default=5)
    ap.add_argument("--steps", type=int, default=30, help="timed steps")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print one JSON line on stdout")
    ap.add_argument("--plan", help="a `nas bench train --json` row: build its network instead")
    args = ap.parse_args()
    if args.threads < 1 or args.batch < 1 or args.steps < 1 or args.warmup_steps < 0:
        ap.error("--threads, --batch and --steps must be >= 1, --warmup-steps >= 0")

    log = sys.stderr if args.json else sys.stdout

    def say(msg: str) -> None:
        print(msg, file=log, flush=True)

    # Interop threads can only be set before any inter-op parallel work has started.
    torch.set_num_interop_threads(args.threads)
    torch.set_num_threads(args.threads)

    if args.device == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda but torch.cuda.is_available() is False", file=sys.stderr)
        return 2
    device = torch.device(args.device)

    torch.manual_seed(args.seed)
    shape, classes, expected, arch = (1, IMAGE, IMAGE), CLASSES, EXPECTED_PARAMS, "bench-cnn"
    if args.plan:
        with open(args.plan) as f:
            row = json.loads(f.readline())
        model = PlanNetwork(row["plan"], row["dropout"])
        inp = row["input"]
        shape = (inp["channels"], inp["height"], inp["width"])
        classes, expected, arch = row["plan"]["num_classes"], row["params"], row["arch"]
    else:
        model = build_model()
    model = model.to(device)
    model.train()
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    say(f"{arch}: trainable params: {params}")
    assert params == expected, f"expected {expected} trainable params, got {params}"

    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    # All batches are made up front, outside the timed loop.
    gen = torch.Generator().manual_seed(args.seed)
    total = args.warmup_steps + args.steps
    batches = [
        (
            torch.randn(args.batch, *shape, generator=gen).to(device),
            torch.randint(0, classes, (args.batch,), generator=gen).to(device),
        )
        for _ in range(total)
    ]

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    def step(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    say(
        f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()} "
        f"(interop {torch.get_num_interop_threads()}), batch {args.batch}, "
        f"warmup {args.warmup_steps}, steps {args.steps}, seed {args.seed}"
    )

    times_ms: list[float] = []
    loss = None
    sync()
    for i, (x, y) in enumerate(batches):
        t0 = time.perf_counter()
        loss = step(x, y)
        sync()
        dt = (time.perf_counter() - t0) * 1e3
        if i >= args.warmup_steps:
            times_ms.append(dt)

    median_ms = statistics.median(times_ms)
    images_per_s = args.batch / (median_ms / 1e3)
    say(
        f"step ms: median {median_ms:.3f}, mean {statistics.fmean(times_ms):.3f}, "
        f"min {min(times_ms):.3f}, max {max(times_ms):.3f}; final loss {loss.item():.4f}"
    )
    say(f"images/s: {images_per_s:.1f}")

    if args.json:
        print(json.dumps({
            "framework": "pytorch",
            "arch": arch,
            "device": args.device,
            "threads": args.threads,
            "batch": args.batch,
            "params": params,
            "images_per_s": round(images_per_s, 2),
            "step_ms_median": round(median_ms, 4),
        }, separators=(",", ":")), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
