#!/usr/bin/env python3
"""Scores the duel: for each side and seed, trials, complete trials, trials per hour, the
hypervolume of (1 - validation accuracy, params / 1e6) over complete trials with reference
point (1, 1), the best validation accuracy under --max-params, and the retrained network's
test accuracy; then the medians of both sides and their ratio.

    score.py OUT_DIR [--max-params 50000]

OUT_DIR holds what duel.sh wrote: `ref-s<SEED>.json` (reference_nas.py) and, for nas,
`nas/duel-s<SEED>/trials.csv`, `nas/duel-s<SEED>/wall.json` (the seconds the search took, timed by duel.sh)
and `nas/duel-s<SEED>/export/small/metrics.json` (nas export --pick max-params N).
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
from pathlib import Path


def hypervolume(points: list[tuple[float, float]]) -> float:
    """Area dominated by minimisation points in [0, 1]^2, up to the reference point (1, 1)."""
    inside = sorted((a, b) for a, b in points if a < 1 and b < 1)
    # Sweep over the front sorted by the first objective.
    front: list[tuple[float, float]] = []
    for a, b in inside:
        if not front or b < front[-1][1]:
            front.append((a, b))
    area = 0.0
    for i, (a, b) in enumerate(front):
        right = front[i + 1][0] if i + 1 < len(front) else 1.0
        area += (right - a) * (1.0 - b)
    return area


def side(trials, seconds, final, max_params) -> dict:
    complete = [t for t in trials if t["complete"]]
    small = [t for t in complete if t["params"] <= max_params]
    return {
        "trials": len(trials),
        "complete": len(complete),
        "seconds": seconds,
        "trials_per_hour": len(trials) * 3600.0 / seconds if seconds else None,
        "hypervolume": hypervolume([(1 - t["acc"], t["params"] / 1e6) for t in complete]),
        "best_small_val": max((t["acc"] for t in small), default=None),
        "best_small_params": max(small, key=lambda t: t["acc"])["params"] if small else None,
        "test": final.get("test_accuracy") if final else None,
        "final_params": final.get("params") if final else None,
    }


def reference(path: Path, max_params: int) -> dict:
    doc = json.loads(path.read_text())
    trials = [{"complete": t["state"] == "COMPLETE", "acc": t["val_accuracy"] or 0.0,
               "params": t["params"] or 0} for t in doc["trials"] if t["state"] != "RUNNING"]
    return side(trials, doc["search_s"], doc["final"], max_params)


def ours(folder: Path, max_params: int) -> dict:
    with open(folder / "trials.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    trials = [{"complete": r["state"] == "COMPLETE",
               "acc": float(r["val_accuracy"] or 0.0),
               "params": int(r["params"] or 0)} for r in rows
              if r["state"] in ("COMPLETE", "PRUNED", "FAIL")]
    seconds = json.loads((folder / "wall.json").read_text())["seconds"]
    metrics = folder / "export" / "small" / "metrics.json"
    final = json.loads(metrics.read_text()) if metrics.exists() else None
    return side(trials, seconds, final, max_params)


def fmt(x, spec: str) -> str:
    return "—" if x is None else format(x, spec)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--max-params", type=int, default=50_000)
    args = ap.parse_args()
    seeds = {p.stem.split("-s")[1] for p in args.out.glob("ref-s*.json")}
    seeds |= {p.name.split("-s")[1] for p in (args.out / "nas").glob("duel-s*")}
    rows = []
    for seed in sorted(seeds, key=int):
        ref = args.out / f"ref-s{seed}.json"
        if ref.exists():
            rows.append(("optuna+pytorch", seed, reference(ref, args.max_params)))
        folder = args.out / "nas" / f"duel-s{seed}"
        if (folder / "trials.csv").exists() and (folder / "wall.json").exists():
            rows.append(("nas", seed, ours(folder, args.max_params)))
    print("| side | seed | trials (complete) | trials/h | hypervolume | best val ≤ "
          f"{args.max_params // 1000} k (params) | retrained test |")
    print("|---|---|---|---|---|---|---|")
    for name, seed, r in rows:
        print(f"| {name} | {seed} | {r['trials']} ({r['complete']}) | "
              f"{fmt(r['trials_per_hour'], '.0f')} | {r['hypervolume']:.4f} | "
              f"{fmt(r['best_small_val'], '.4f')} ({fmt(r['best_small_params'], 'd')}) | "
              f"{fmt(r['test'], '.4f')} |")
    for key, label in [("hypervolume", "median hypervolume"), ("test", "median test")]:
        med = {}
        for name in ("optuna+pytorch", "nas"):
            vals = [r[key] for n, _, r in rows if n == name and r[key] is not None]
            med[name] = statistics.median(vals) if vals else None
        ratio = (med["nas"] / med["optuna+pytorch"]
                 if med["nas"] is not None and med["optuna+pytorch"] else None)
        print(f"{label}: nas {fmt(med['nas'], '.4f')}, optuna+pytorch "
              f"{fmt(med['optuna+pytorch'], '.4f')}, ratio {fmt(ratio, '.3f')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
