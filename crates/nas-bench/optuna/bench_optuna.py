#!/usr/bin/env python3
"""Optuna on the same benchmark problems as `nas bench sampler-quality` / `sampler-speed`.

The functions and spaces mirror crates/nas-bench/src/functions.rs and
crates/nas-bench/spaces/conditional12.toml exactly (names, ranges, log / step flags,
conditions, formulas), written in Optuna's define-by-run form: a conditional parameter is
suggested only in the branch where its TOML `when` holds.

    python bench_optuna.py quality [--trials 100] [--seeds 10] [--first-seed 0] [--samplers ...] [--functions ...]
    python bench_optuna.py speed [--at 100,250,500,1000] [--window 20] [--seed 0] [--samplers ...]

The tables have the layout of the Rust ones; sampler columns are prefixed with `optuna-`.
Samplers (default settings otherwise, all seeded):
    random             RandomSampler(seed)
    tpe                TPESampler(seed, multivariate=False): univariate, like our `tpe` (and
                       Optuna 4's default; Optuna 5's plain TPESampler() is multivariate)
    tpe-multivariate   TPESampler(seed, multivariate=True, group=True), like ours
    gp                 GPSampler(seed)
    tpe-default        TPESampler(seed) as Optuna 5 defaults it (multivariate, no group);
                       not one of ours, so only when running this script directly
GPSampler needs torch and scipy; when they are not importable its column reads n/a.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import statistics
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from typing import Callable

import optuna

# ---------------------------------------------------------------------------------------------
# Functions (crates/nas-bench/src/functions.rs)
# ---------------------------------------------------------------------------------------------


def _box(trial: optuna.Trial, d: int, low: float, high: float) -> list[float]:
    return [trial.suggest_float(f"x{i}", low, high) for i in range(d)]


def rosenbrock(trial: optuna.Trial) -> float:
    """Rosenbrock in 4 dimensions on [-5, 10]^4; minimum 0 at (1, ..., 1)."""
    x = _box(trial, 4, -5.0, 10.0)
    return sum(100.0 * (x[i + 1] - x[i] * x[i]) ** 2 + (1.0 - x[i]) ** 2 for i in range(3))


def ackley(trial: optuna.Trial) -> float:
    """Ackley in 4 dimensions on [-32.768, 32.768]^4; minimum 0 at the origin."""
    x = _box(trial, 4, -32.768, 32.768)
    d = float(len(x))
    sq = sum(v * v for v in x) / d
    cos = sum(math.cos(2.0 * math.pi * v) for v in x) / d
    return -20.0 * math.exp(-0.2 * math.sqrt(sq)) - math.exp(cos) + 20.0 + math.e


def levy(trial: optuna.Trial) -> float:
    """Levy in 4 dimensions on [-10, 10]^4; minimum 0 at (1, ..., 1)."""
    w = [1.0 + (x - 1.0) / 4.0 for x in _box(trial, 4, -10.0, 10.0)]
    n = len(w)
    head = math.sin(math.pi * w[0]) ** 2
    mid = sum((wi - 1.0) ** 2 * (1.0 + 10.0 * math.sin(math.pi * wi + 1.0) ** 2) for wi in w[: n - 1])
    tail = (w[n - 1] - 1.0) ** 2 * (1.0 + math.sin(2.0 * math.pi * w[n - 1]) ** 2)
    return head + mid + tail


def six_hump_camel(trial: optuna.Trial) -> float:
    """Six-hump camel on [-3, 3] x [-2, 2]; minimum -1.0316 at (+-0.0898, -+0.7126)."""
    x = trial.suggest_float("x0", -3.0, 3.0)
    y = trial.suggest_float("x1", -2.0, 2.0)
    return (4.0 - 2.1 * x * x + x**4 / 3.0) * x * x + x * y + (-4.0 + 4.0 * y * y) * y * y


def mixed_int_log(trial: optuna.Trial) -> float:
    """lr (float, log), batch (int, log), depth (int), width (int, step 8).

    Minimum 0 at lr = 3e-3, batch 64, depth 5, width 96.
    """
    lr = trial.suggest_float("lr", 1e-5, 1.0, log=True)
    batch = trial.suggest_int("batch", 8, 512, log=True)
    depth = trial.suggest_int("depth", 1, 8)
    width = trial.suggest_int("width", 8, 256, step=8)
    return (
        (math.log10(lr) - math.log10(3e-3)) ** 2
        + (math.log2(batch) - 6.0) ** 2 / 4.0
        + (depth - 5.0) ** 2 / 4.0
        + ((width - 96.0) / 64.0) ** 2
    )


def _conditional_params(trial: optuna.Trial) -> dict:
    """The parameters of `conditional()`, each suggested only where its `when` holds."""
    p = {}
    p["optimizer"] = trial.suggest_categorical("optimizer", ["sgd", "adam", "adamw"])
    p["lr"] = trial.suggest_float("lr", 1e-5, 1.0, log=True)
    if p["optimizer"] in ("sgd",):
        p["momentum"] = trial.suggest_float("momentum", 0.0, 0.99)
    if p["optimizer"] in ("adam", "adamw"):
        p["beta1"] = trial.suggest_float("beta1", 0.5, 0.999)
    if p["optimizer"] in ("sgd", "adamw"):
        p["decay"] = trial.suggest_float("decay", 1e-6, 1e-1, log=True)
    return p


def _conditional_value(p: dict) -> float:
    lr = math.log10(p["lr"])
    if p["optimizer"] == "sgd":
        return (
            0.6
            + (lr + 1.0) ** 2 / 4.0
            + (p["momentum"] - 0.9) ** 2 * 4.0
            + (math.log10(p["decay"]) + 4.0) ** 2 / 9.0
        )
    if p["optimizer"] == "adam":
        return 0.3 + (lr + 3.0) ** 2 / 4.0 + (p["beta1"] - 0.9) ** 2
    # adamw
    return (
        (lr + 3.0) ** 2 / 4.0
        + (p["beta1"] - 0.9) ** 2
        + (math.log10(p["decay"]) + 2.0) ** 2 / 9.0
    )


def conditional(trial: optuna.Trial) -> float:
    """The branch picks which parameters matter; adamw reaches 0, adam 0.3, sgd 0.6."""
    return _conditional_value(_conditional_params(trial))


def _levy_value(x: list[float]) -> float:
    w = [1.0 + (v - 1.0) / 4.0 for v in x]
    n = len(w)
    head = math.sin(math.pi * w[0]) ** 2
    mid = sum((wi - 1.0) ** 2 * (1.0 + 10.0 * math.sin(math.pi * wi + 1.0) ** 2) for wi in w[: n - 1])
    tail = (w[n - 1] - 1.0) ** 2 * (1.0 + math.sin(2.0 * math.pi * w[n - 1]) ** 2)
    return head + mid + tail


def _rosenbrock_value(x: list[float]) -> float:
    return sum(100.0 * (x[i + 1] - x[i] * x[i]) ** 2 + (1.0 - x[i]) ** 2 for i in range(len(x) - 1))


_HARTMANN_ALPHA = [1.0, 1.2, 3.0, 3.2]
_HARTMANN_A = [
    [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
    [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
    [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
    [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
]
_HARTMANN_P = [
    [0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
    [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
    [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650],
    [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381],
]


def hartmann6(trial: optuna.Trial) -> float:
    """Hartmann 6-D on [0, 1]^6; minimum -3.32237."""
    x = _box(trial, 6, 0.0, 1.0)
    return -sum(
        _HARTMANN_ALPHA[i]
        * math.exp(-sum(_HARTMANN_A[i][j] * (x[j] - _HARTMANN_P[i][j]) ** 2 for j in range(6)))
        for i in range(4)
    )


def _st_term(x: float) -> float:
    return 0.5 * (x**4 - 16.0 * x * x + 5.0 * x)


_ST_MIN = -39.166_165_703_771_42


def styblinski_tang(trial: optuna.Trial) -> float:
    """Styblinski-Tang 10-D on [-5, 5]^10; minimum -391.66166."""
    return sum(_st_term(v) for v in _box(trial, 10, -5.0, 5.0))


def int_styblinski_tang(trial: optuna.Trial) -> float:
    """Styblinski-Tang 8-D: x0..x3 integers in [-5, 5], x4..x7 floats; minimum -312.66466."""
    ints = [trial.suggest_int(f"x{i}", -5, 5) for i in range(4)]
    floats = [trial.suggest_float(f"x{i}", -5.0, 5.0) for i in range(4, 8)]
    return sum(_st_term(float(v)) for v in ints + floats)


def levy16(trial: optuna.Trial) -> float:
    """Levy 16-D on [-10, 10]^16; minimum 0 at (1, ..., 1)."""
    return _levy_value(_box(trial, 16, -10.0, 10.0))


def mixed_recipe(trial: optuna.Trial) -> float:
    """A training recipe of seven mixed parameters; the best lr grows with the batch size."""
    lr = trial.suggest_float("lr", 1e-5, 1.0, log=True)
    batch = trial.suggest_int("batch", 16, 1024, log=True)
    decay = trial.suggest_float("decay", 1e-6, 1e-1, log=True)
    depth = trial.suggest_int("depth", 1, 12)
    width = trial.suggest_int("width", 16, 512, step=16)
    dropout = trial.suggest_float("dropout", 0.0, 0.8)
    momentum = trial.suggest_float("momentum", 0.5, 0.999)
    best_lr = math.log10(3e-3 * batch / 64.0)
    return (
        (math.log10(lr) - best_lr) ** 2
        + (math.log2(batch) - 7.0) ** 2 / 9.0
        + (math.log10(decay) + 4.0) ** 2 / 4.0
        + (depth - 6.0) ** 2 / 9.0
        + ((width - 192.0) / 128.0) ** 2
        + 2.0 * (dropout - 0.2) ** 2
        + (math.log10(1.0 - momentum) + 1.0) ** 2 / 2.0
    )


def rosenbrock10(trial: optuna.Trial) -> float:
    """Rosenbrock 10-D on [-5, 10]^10; minimum 0. Held out."""
    return _rosenbrock_value(_box(trial, 10, -5.0, 10.0))


def griewank12(trial: optuna.Trial) -> float:
    """Griewank 12-D on [-600, 600]^12; minimum 0. Held out."""
    x = _box(trial, 12, -600.0, 600.0)
    product = 1.0
    for i, v in enumerate(x):
        product *= math.cos(v / math.sqrt(i + 1))
    return 1.0 + sum(v * v / 4000.0 for v in x) - product


def int_rosenbrock6(trial: optuna.Trial) -> float:
    """Rosenbrock 6-D on [-5, 10]^6, x0..x2 integers; minimum 0. Held out."""
    ints = [float(trial.suggest_int(f"x{i}", -5, 10)) for i in range(3)]
    floats = [trial.suggest_float(f"x{i}", -5.0, 10.0) for i in range(3, 6)]
    return _rosenbrock_value(ints + floats)


FUNCTIONS: list[tuple[str, Callable[[optuna.Trial], float], float]] = [
    ("rosenbrock-4d", rosenbrock, 0.0),
    ("ackley-4d", ackley, 0.0),
    ("levy-4d", levy, 0.0),
    ("six-hump-camel", six_hump_camel, -1.031_628_453_489_877),
    ("mixed-int-log", mixed_int_log, 0.0),
    ("conditional", conditional, 0.0),
    ("hartmann-6d", hartmann6, -3.322_368_011_415_515),
    ("styblinski-tang-10d", styblinski_tang, 10.0 * _ST_MIN),
    ("levy-16d", levy16, 0.0),
    ("int-styblinski-tang-8d", int_styblinski_tang, 4.0 * -39.0 + 4.0 * _ST_MIN),
    ("mixed-recipe-7d", mixed_recipe, 0.0),
]

# Kept aside (functions.rs `held_out()`): run only when named with --functions.
HELD_OUT: list[tuple[str, Callable[[optuna.Trial], float], float]] = [
    ("rosenbrock-10d", rosenbrock10, 0.0),
    ("griewank-12d", griewank12, 0.0),
    ("int-rosenbrock-6d", int_rosenbrock6, 0.0),
]

# ---------------------------------------------------------------------------------------------
# The 12-parameter conditional space of the speed benchmark (spaces/conditional12.toml)
# ---------------------------------------------------------------------------------------------


def suggest_conditional12(trial: optuna.Trial) -> dict:
    """Suggests all 12 parameters in TOML order, conditional ones only in their branch."""
    p = {}
    opt = trial.suggest_categorical("optimizer", ["sgd", "adam", "adamw"])
    p["optimizer"] = opt
    p["lr"] = trial.suggest_float("lr", 1e-5, 1.0, log=True)
    if opt in ("sgd",):
        p["momentum"] = trial.suggest_float("momentum", 0.0, 0.99)
        p["nesterov"] = trial.suggest_categorical("nesterov", [True, False])
    if opt in ("adam", "adamw"):
        p["beta1"] = trial.suggest_float("beta1", 0.5, 0.999)
        p["beta2"] = trial.suggest_float("beta2", 0.9, 0.9999)
    if opt in ("sgd", "adamw"):
        p["decay"] = trial.suggest_float("decay", 1e-6, 1e-1, log=True)
    p["batch_size"] = trial.suggest_int("batch_size", 16, 256, log=True)
    p["num_layers"] = trial.suggest_int("num_layers", 1, 6)
    p["width"] = trial.suggest_int("width", 8, 128, step=8)
    p["dropout"] = trial.suggest_float("dropout", 0.0, 0.5)
    p["activation"] = trial.suggest_categorical("activation", ["relu", "relu6", "hard_swish"])
    return p


def conditional12_value(p: dict) -> float:
    """The objective of `speed_space()`."""
    return (
        _conditional_value(p)
        + (math.log2(p["batch_size"]) - 6.0) ** 2 / 8.0
        + (p["num_layers"] - 3.0) ** 2 / 4.0
        + ((p["width"] - 64.0) / 64.0) ** 2
        + (p["dropout"] - 0.1) ** 2
        + (0.0 if p["activation"] == "hard_swish" else 0.1)
        + (0.05 if p.get("nesterov") is False else 0.0)
    )


# ---------------------------------------------------------------------------------------------
# Samplers
# ---------------------------------------------------------------------------------------------

# Our names. `tpe` is the univariate TPE like ours: Optuna 5 made `TPESampler()` multivariate for
# single-objective studies, so it is asked for explicitly. `tpe-default` (not one of ours, so
# only when running this script directly) is Optuna 5's plain `TPESampler(seed=seed)`:
# multivariate without groups, which falls back to univariate sampling for conditional parameters.
SAMPLER_NAMES = ["random", "tpe", "tpe-multivariate", "gp", "tpe-default"]


def gp_available() -> bool:
    """GPSampler imports lazily but needs torch and scipy at its first model-based proposal."""
    return all(importlib.util.find_spec(m) is not None for m in ("torch", "scipy"))


def build_sampler(name: str, seed: int) -> optuna.samplers.BaseSampler:
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, multivariate=False)
    if name == "tpe-default":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "tpe-multivariate":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed)
    raise ValueError(f"unknown sampler `{name}`; choose from {', '.join(SAMPLER_NAMES)}")


def available(name: str) -> bool:
    return name != "gp" or gp_available()


def _quiet() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


# ---------------------------------------------------------------------------------------------
# quality
# ---------------------------------------------------------------------------------------------


def median(xs: list[float]) -> float:
    """Median; mean of the middle two for even lengths (as quality.rs)."""
    if not xs:
        return float("nan")
    return statistics.median(sorted(xs))


def best_of_run(job: tuple[int, str, int, int]) -> float:
    """Best value of one sequential run (in-memory storage)."""
    fi, sampler, seed, trials = job
    _quiet()
    _, f, _ = (FUNCTIONS + HELD_OUT)[fi]
    study = optuna.create_study(direction="minimize", sampler=build_sampler(sampler, seed))
    study.optimize(f, n_trials=trials)
    return min(t.value for t in study.trials if t.value is not None)


def cmd_quality(args: argparse.Namespace) -> int:
    names = [n for n in args.functions.split(",") if n] if args.functions else []
    every = FUNCTIONS + HELD_OUT
    for n in names:
        if n not in [name for name, _, _ in every]:
            sys.exit(f"no function `{n}`; choose from " + ", ".join(m for m, _, _ in every))
    chosen = [i for i, (n, _, _) in enumerate(every) if (n in names if names else i < len(FUNCTIONS))]
    samplers = [s for s in args.samplers.split(",") if s]
    for s in samplers:
        if s not in SAMPLER_NAMES:
            sys.exit(f"unknown sampler `{s}`; choose from {', '.join(SAMPLER_NAMES)}")
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    jobs = [
        (fi, s, seed, args.trials)
        for fi in chosen
        for s in samplers
        if available(s)
        for seed in seeds
    ]
    n_jobs = args.jobs or os.cpu_count() or 1
    if n_jobs > 1:
        with ProcessPoolExecutor(max_workers=n_jobs) as pool:
            results = list(pool.map(best_of_run, jobs))
    else:
        results = [best_of_run(j) for j in jobs]
    bests: dict[tuple[int, str], list[float]] = {}
    for (fi, s, _, _), v in zip(jobs, results):
        bests.setdefault((fi, s), []).append(v)

    cols = [f"optuna-{s}" for s in samplers]
    span = f" ({seeds[0]}–{seeds[-1]})" if seeds else ""
    print(
        f"median best value after {args.trials} trials over {len(seeds)} seeds{span} "
        "(lower is better)"
    )
    line = f"{'function':<22} {'optimum':>10}"
    widths = [max(17, len(c)) for c in cols]
    for c, w in zip(cols, widths):
        line += f" {c:>{w}}"
    print(line)
    for fi in chosen:
        name, _, optimum = (FUNCTIONS + HELD_OUT)[fi]
        line = f"{name:<22} {optimum:>10.4f}"
        for s, w in zip(samplers, widths):
            if (fi, s) in bests:
                line += f" {median(bests[(fi, s)]):>{w}.4f}"
            else:
                line += f" {'n/a':>{w}}"
        print(line)
    if "gp" in samplers and not gp_available():
        print("optuna-gp: n/a (GPSampler needs torch and scipy, which are not installed)")
    return 0


# ---------------------------------------------------------------------------------------------
# speed
# ---------------------------------------------------------------------------------------------


class TimedSampler(optuna.samplers.BaseSampler):
    """Delegates to a sampler and adds up the time spent inside its methods."""

    def __init__(self, inner: optuna.samplers.BaseSampler) -> None:
        self.inner = inner
        self.elapsed = 0.0

    def _timed(self, fn, *a):
        t = time.perf_counter()
        try:
            return fn(*a)
        finally:
            self.elapsed += time.perf_counter() - t

    def infer_relative_search_space(self, study, trial):
        return self._timed(self.inner.infer_relative_search_space, study, trial)

    def sample_relative(self, study, trial, search_space):
        return self._timed(self.inner.sample_relative, study, trial, search_space)

    def sample_independent(self, study, trial, param_name, param_distribution):
        return self._timed(
            self.inner.sample_independent, study, trial, param_name, param_distribution
        )

    def before_trial(self, study, trial):
        return self._timed(self.inner.before_trial, study, trial)

    def after_trial(self, study, trial, state, values):
        # Runs inside study.tell(), after the proposal; not part of the proposal time.
        return self.inner.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self.inner.reseed_rng()


def proposal_times(sampler_name: str, n: int, seed: int, timing: str) -> list[float]:
    """Runs `n` trials with ask-and-tell; returns the proposal time of each, in seconds.

    `ask`: wall-clock of study.ask() plus every suggest call of the trial (in define-by-run the
    sampler does its work inside them); includes Optuna's in-memory storage bookkeeping.
    `sampler`: only the time inside the sampler's own methods (before_trial,
    infer_relative_search_space, sample_relative, sample_independent).
    The objective and study.tell() are never timed.
    """
    sampler = build_sampler(sampler_name, seed)
    timed = TimedSampler(sampler) if timing == "sampler" else None
    study = optuna.create_study(direction="minimize", sampler=timed or sampler)
    times = []
    for _ in range(n):
        if timed is not None:
            timed.elapsed = 0.0
        t0 = time.perf_counter()
        trial = study.ask()
        params = suggest_conditional12(trial)
        t1 = time.perf_counter()
        times.append(timed.elapsed if timed is not None else t1 - t0)
        study.tell(trial, conditional12_value(params))
    return times


def cmd_speed(args: argparse.Namespace) -> int:
    at = [int(c) for c in args.at.split(",") if c]
    window = args.window
    if any(c == 0 or c < window for c in at):
        sys.exit(f"every --at value must be at least --window ({window}) and above 0")
    samplers = [s for s in args.samplers.split(",") if s]
    for s in samplers:
        if s not in SAMPLER_NAMES:
            sys.exit(f"unknown sampler `{s}`; choose from {', '.join(SAMPLER_NAMES)}")
    n = max(at)
    what = "ask() + suggest calls" if args.timing == "ask" else "inside the sampler's methods"
    print(
        "sampler time per proposal, 12-parameter conditional space "
        f"(mean and median of the {window} proposals before each history size; "
        f"Optuna, timed {what})"
    )
    cols = [f"optuna-{s}" for s in samplers]
    w = max([18] + [len(c) for c in cols])
    print(f"{'sampler':<{w}} {'trials':>8} {'mean ms':>12} {'median ms':>12}")
    for s, col in zip(samplers, cols):
        if not available(s):
            for c in at:
                print(f"{col:<{w}} {c:>8} {'n/a':>12} {'n/a':>12}")
            continue
        times = proposal_times(s, n, args.seed, args.timing)
        for c in at:
            win = sorted(times[c - window : c])
            mean = sum(win) / max(len(win), 1)
            med = win[len(win) // 2]  # upper median, as speed.rs
            print(f"{col:<{w}} {c:>8} {mean * 1e3:>12.4f} {med * 1e3:>12.4f}", flush=True)
    if "gp" in samplers and not gp_available():
        print("optuna-gp: n/a (GPSampler needs torch and scipy, which are not installed)")
    return 0


# ---------------------------------------------------------------------------------------------


def main() -> int:
    _quiet()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)

    q = sub.add_parser("quality", help="median best value after --trials over --seeds seeds")
    q.add_argument("--trials", type=int, default=100)
    q.add_argument("--seeds", type=int, default=10, help="how many seeds (default 10)")
    q.add_argument("--first-seed", type=int, default=0, help="the first seed (default 0)")
    q.add_argument("--samplers", default="random,tpe,tpe-multivariate,gp")
    q.add_argument("--functions", default="", help="comma-separated (default: all)")
    q.add_argument("--jobs", type=int, default=0, help="processes (default: number of cores)")
    q.set_defaults(run=cmd_quality)

    s = sub.add_parser("speed", help="time per proposal on the 12-parameter conditional space")
    s.add_argument("--at", default="100,250,500,1000", help="history sizes, comma-separated")
    s.add_argument("--window", type=int, default=20, help="proposals averaged before each size")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--samplers", default="tpe,tpe-multivariate,random")
    s.add_argument(
        "--timing",
        choices=["ask", "sampler"],
        default="ask",
        help="ask: study.ask() + suggest calls (default); sampler: only the sampler's methods",
    )
    s.set_defaults(run=cmd_speed)

    args = ap.parse_args()
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
