#!/usr/bin/env python3
"""The reference NAS of the duel: what a user would write instead of `nas search`.

Optuna (multivariate TPE + HyperbandPruner) over the same kind of space as
search_spaces/lightweight.toml -- 1 to 4 stages of vanilla / bottleneck / inverted residual
blocks with their widths, depths, strides, kernels, expansions, activations and SE; a head
convolution; dropout; Adam / AdamW / SGD with their own parameters, learning rate, batch size,
label smoothing -- trained with PyTorch on the CPU. Its low fidelity is the usual one: a 20 %
subset of the training split at 14x14 pixels, at most 3 epochs (the validation accuracy after
each is reported to the pruner). The network layers are bench_train.py's `PlanNetwork`, the
PyTorch mirror of what nas builds.

    reference_nas.py --budget 20m --seed 0 --out ref-s0.json [--threads 2]
                     [--data-dir /usr/share/datasets/fashion-mnist] [--final-epochs 5]
                     [--max-params 50000]

Objective: validation accuracy (maximised); the parameter count is kept as a user attribute,
so the (1 - accuracy, params) front is read over the complete trials afterwards. After the
budget, the best complete trial with at most --max-params parameters is trained again for
--final-epochs on the whole training split (train + validation) at 28x28 and scored once on
the test split. Writes one JSON document (--out): every trial (number, state, validation
accuracy, params, seconds, params) and the final training's test accuracy and seconds.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "pytorch"))
from bench_train import PlanNetwork  # noqa: E402  (the same layers nas builds)

VALIDATION = 5_000
CLASSES = 10
MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST's training-set statistics


def parse_budget(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    if text[-1] in units:
        return float(text[:-1]) * units[text[-1]]
    return float(text)


def read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(data_dir: Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    images = read_idx(data_dir / f"{split}-images-idx3-ubyte.gz")
    labels = read_idx(data_dir / f"{split}-labels-idx1-ubyte.gz")
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    return (x - MEAN) / STD, torch.from_numpy(labels.astype(np.int64))


def downsample(x: torch.Tensor, side: int) -> torch.Tensor:
    if x.shape[-1] == side:
        return x
    return F.interpolate(x, size=(side, side), mode="bilinear", antialias=True,
                         align_corners=False)


# ---- the search space, sampled define-by-run ------------------------------------------------

def sample_plan(trial: optuna.Trial, side: int) -> tuple[dict, float]:
    """A network as bench_train.PlanNetwork's plan, and its dropout."""
    stem = trial.suggest_int("stem_width", 8, 64, step=8)
    stem_conv = {"in_channels": 1, "out_channels": stem, "kernel": 3, "stride": 1}
    blocks, cin, at = [], stem, side
    for s in range(1, trial.suggest_int("num_stages", 1, 4) + 1):
        block = trial.suggest_categorical(f"s{s}_block",
                                          ["vanilla", "bottleneck", "inverted_residual"])
        width = trial.suggest_int(f"s{s}_width", 8, 128, step=8)
        depth = trial.suggest_int(f"s{s}_depth", 1, 3)
        stride = trial.suggest_categorical(f"s{s}_stride", [1, 2])
        if block == "vanilla":
            kind = {"type": "vanilla", "kernel": trial.suggest_categorical(f"s{s}_vk", [3, 5])}
        elif block == "bottleneck":
            kind = {"type": "bottleneck",
                    "kernel": trial.suggest_categorical(f"s{s}_bk", [3, 5]),
                    "reduction": trial.suggest_categorical(f"s{s}_red", [2, 4])}
        else:
            se = trial.suggest_categorical(f"s{s}_se", [True, False])
            kind = {"type": "inverted_residual",
                    "kernel": trial.suggest_categorical(f"s{s}_ik", [3, 5, 7]),
                    "expansion": trial.suggest_categorical(f"s{s}_exp", [1, 3, 6]),
                    "activation": trial.suggest_categorical(f"s{s}_act",
                                                            ["relu", "relu6", "hard_swish"]),
                    "se_ratio": trial.suggest_categorical(f"s{s}_ser", [0.125, 0.25])
                    if se else None}
        for d in range(depth):
            st = stride if d == 0 and at >= 4 else 1
            at = math.ceil(at / st)
            blocks.append(resolve(kind, cin, width, st))
            cin = width
    head = None
    if trial.suggest_categorical("head_conv", [True, False]):
        hw = trial.suggest_int("head_width", 64, 256, step=64)
        head = {"in_channels": cin, "out_channels": hw, "kernel": 1, "stride": 1}
        cin = hw
    dropout = trial.suggest_float("dropout", 0.0, 0.5, step=0.1)
    plan = {"stem": stem_conv, "blocks": blocks, "head_conv": head, "features": cin,
            "num_classes": CLASSES}
    return plan, dropout


def resolve(kind: dict, cin: int, cout: int, stride: int) -> dict:
    """One block with its resolved widths, as nas-arch resolves it."""
    k = {"type": kind["type"], "kernel": kind["kernel"]}
    if kind["type"] == "bottleneck":
        k.update(mid_channels=-(-cout // kind["reduction"]),
                 projection=stride != 1 or cin != cout)
    elif kind["type"] == "inverted_residual":
        hidden = cin * kind["expansion"]
        ratio = kind["se_ratio"]
        k.update(hidden_channels=hidden, expand=kind["expansion"] != 1,
                 activation=kind["activation"],
                 se_channels=None if ratio is None else max(1, round(hidden * ratio)),
                 residual=stride == 1 and cin == cout)
    return {"in_channels": cin, "out_channels": cout, "stride": stride, "kind": k}


def sample_recipe(trial: optuna.Trial, model: nn.Module) -> tuple[torch.optim.Optimizer, int, float]:
    name = trial.suggest_categorical("optimizer", ["adam", "adamw", "sgd"])
    lr = trial.suggest_float("lr", 1e-4, 0.3, log=True)
    if name == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=lr,
                              momentum=trial.suggest_float("sgd_momentum", 0.8, 0.99),
                              nesterov=trial.suggest_categorical("sgd_nesterov", [True, False]),
                              weight_decay=trial.suggest_float("sgd_wd", 1e-6, 1e-2, log=True))
    elif name == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr,
                               betas=(trial.suggest_float("adam_beta1", 0.8, 0.95),
                                      trial.suggest_float("adam_beta2", 0.99, 0.9999)))
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=lr,
                                weight_decay=trial.suggest_float("adamw_wd", 1e-4, 0.1, log=True),
                                betas=(trial.suggest_float("adamw_beta1", 0.8, 0.95),
                                       trial.suggest_float("adamw_beta2", 0.99, 0.9999)))
    batch = trial.suggest_categorical("batch_size", [32, 64, 128, 256])
    smoothing = trial.suggest_float("label_smoothing", 0.0, 0.2, step=0.05)
    return opt, batch, smoothing


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# ---- training -------------------------------------------------------------------------------

def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), 1000):
            correct += (model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum().item()
    return correct / len(x)


def train_epoch(model, opt, sched, x, y, batch, smoothing, gen) -> float:
    model.train()
    order = torch.randperm(len(x), generator=gen)
    last = 0.0
    for i in range(0, len(x), batch):
        idx = order[i:i + batch]
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x[idx]), y[idx], label_smoothing=smoothing)
        loss.backward()
        opt.step()
        sched.step()
        last = loss.item()
    return last


def cosine(opt, steps: int) -> torch.optim.lr_scheduler.LRScheduler:
    return torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / max(steps, 1))))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", default="20m", help="wall-clock search budget: 90s, 20m, 1h")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--subset", type=float, default=0.2, help="low-fidelity share of the split")
    ap.add_argument("--side", type=int, default=14, help="low-fidelity image side")
    ap.add_argument("--epochs", type=int, default=3, help="low-fidelity epochs (pruned between)")
    ap.add_argument("--final-epochs", type=int, default=5)
    ap.add_argument("--max-params", type=int, default=50_000)
    ap.add_argument("--out", required=True, help="where the JSON result goes")
    args = ap.parse_args()

    torch.set_num_interop_threads(args.threads)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    data_dir = Path(args.data_dir)
    started = time.perf_counter()

    x_all, y_all = load(data_dir, "train")
    x_test, y_test = load(data_dir, "t10k")
    gen = torch.Generator().manual_seed(args.seed)
    order = torch.randperm(len(x_all), generator=gen)
    val_idx, train_idx = order[:VALIDATION], order[VALIDATION:]
    sub_idx = train_idx[: int(len(train_idx) * args.subset)]
    x_low = downsample(x_all[sub_idx], args.side)
    y_low = y_all[sub_idx]
    x_val_low = downsample(x_all[val_idx], args.side)
    y_val = y_all[val_idx]

    def objective(trial: optuna.Trial) -> float:
        plan, dropout = sample_plan(trial, args.side)
        torch.manual_seed(args.seed * 100_003 + trial.number)
        model = PlanNetwork(plan, dropout)
        trial.set_user_attr("params", count_params(model))
        trial.set_user_attr("plan", plan)
        trial.set_user_attr("dropout", dropout)
        opt, batch, smoothing = sample_recipe(trial, model)
        sched = cosine(opt, args.epochs * math.ceil(len(x_low) / batch))
        tgen = torch.Generator().manual_seed(args.seed * 100_003 + trial.number)
        acc = 0.0
        for epoch in range(args.epochs):
            train_epoch(model, opt, sched, x_low, y_low, batch, smoothing, tgen)
            acc = evaluate(model, x_val_low, y_val)
            trial.report(acc, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return acc

    sampler = optuna.samplers.TPESampler(seed=args.seed, multivariate=True, group=True)
    study = optuna.create_study(direction="maximize", sampler=sampler,
                                pruner=optuna.pruners.HyperbandPruner(
                                    min_resource=1, max_resource=args.epochs))
    study.optimize(objective, timeout=parse_budget(args.budget), catch=(RuntimeError,))
    searched = time.perf_counter() - started

    trials = [{"number": t.number, "state": t.state.name, "val_accuracy": t.value,
               "params": t.user_attrs.get("params"),
               "seconds": (t.datetime_complete - t.datetime_start).total_seconds()
               if t.datetime_complete else None,
               "config": t.params} for t in study.trials]
    small = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE
             and t.user_attrs["params"] <= args.max_params]
    final = None
    if small:
        best = max(small, key=lambda t: t.value)
        torch.manual_seed(args.seed)
        model = PlanNetwork(best.user_attrs["plan"], best.user_attrs["dropout"])
        opt, batch, smoothing = sample_recipe(optuna.trial.FixedTrial(best.params), model)
        sched = cosine(opt, args.final_epochs * math.ceil(len(x_all) / batch))
        t0 = time.perf_counter()
        for _ in range(args.final_epochs):
            train_epoch(model, opt, sched, x_all, y_all, batch, smoothing, gen)
        final = {"trial": best.number, "params": best.user_attrs["params"],
                 "val_accuracy": best.value, "epochs": args.final_epochs,
                 "test_accuracy": evaluate(model, x_test, y_test),
                 "seconds": time.perf_counter() - t0}
    doc = {"tool": f"optuna {optuna.__version__} + pytorch {torch.__version__}",
           "seed": args.seed, "budget_s": parse_budget(args.budget), "search_s": searched,
           "threads": args.threads, "low_fidelity": {"subset": args.subset, "side": args.side,
                                                     "epochs": args.epochs},
           "trials": trials, "final": final}
    Path(args.out).write_text(json.dumps(doc, indent=1))
    done = sum(t["state"] == "COMPLETE" for t in trials)
    print(f"reference: {len(trials)} trials ({done} complete) in {searched:.0f} s; "
          f"final: {final}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
