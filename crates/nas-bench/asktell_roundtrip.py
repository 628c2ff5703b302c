#!/usr/bin/env python3
"""Round trip of `nas ask-tell` as a client sees it: one ask and one tell over the pipe.

Starts `nas ask-tell` on the 12-parameter conditional space of `nas bench sampler-speed`
(spaces/conditional12.toml) once per sampler and storage, runs it to the largest history size
with ask / tell, and prints the mean and median wall-clock time of the asks (write the request,
read the answer, decode it) in the window before each size, and of the tells. The storages:
`memory` (no `--storage`), `sqlite` (a new file) and `postgres` (a new study on the server of
`--postgres URL`, the shared-study path: every statement a round trip to the server).

The values told are seeded uniform draws: what an ask costs does not depend on them, and the
benchmark stays a benchmark of the protocol, the study bookkeeping and the sampler.

    crates/nas-bench/asktell_roundtrip.py     # $CARGO_TARGET_DIR or target/release/nas, defaults
    crates/nas-bench/asktell_roundtrip.py --nas PATH --at 100,1000 --storage memory,sqlite
    crates/nas-bench/asktell_roundtrip.py --storage postgres --postgres postgres://nas:nas@127.0.0.1/nas_test

Python standard library only; nothing in the workspace runs it, CI neither.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def run_one(nas: str, space: str, sampler: str, storage: str, n: int, seed: int, postgres: str):
    """Asks and tells `n` trials; returns (ask seconds, tell seconds) per trial."""
    with tempfile.TemporaryDirectory(prefix="nas-asktell-") as tmp:
        cmd = [nas, "ask-tell", "--space", space, "--sampler", sampler, "--seed", str(seed)]
        if storage == "sqlite":
            cmd += ["--storage", os.path.join(tmp, "study.db")]
        elif storage == "postgres":
            study = f"roundtrip-{sampler}-{os.getpid()}-{time.time_ns()}"
            cmd += ["--storage", postgres, "--study", study]
        # Buffered both ways (an unbuffered reader's readline reads a byte per system call);
        # every request is flushed.
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        out = proc.stdout
        inp = proc.stdin
        values = random.Random(seed)
        asks, tells = [], []
        try:
            for _ in range(n):
                t0 = time.perf_counter()
                inp.write(b'{"op":"ask"}\n')
                inp.flush()
                answer = json.loads(out.readline())
                t1 = time.perf_counter()
                if "error" in answer:
                    sys.exit(f"nas ask-tell answered an ask with an error: {answer['error']}")
                tell = {"op": "tell", "trial": answer["trial"], "values": [values.random()]}
                t2 = time.perf_counter()
                inp.write(json.dumps(tell).encode() + b"\n")
                inp.flush()
                told = json.loads(out.readline())
                t3 = time.perf_counter()
                if "error" in told:
                    sys.exit(f"nas ask-tell answered a tell with an error: {told['error']}")
                asks.append(t1 - t0)
                tells.append(t3 - t2)
        finally:
            inp.close()
            proc.wait()
        return asks, tells


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    ap.add_argument("--nas", default=os.path.join(target, "release", "nas"))
    ap.add_argument("--space", default=os.path.join(HERE, "spaces", "conditional12.toml"))
    ap.add_argument("--at", default="100,1000", help="history sizes, comma-separated")
    ap.add_argument("--window", type=int, default=50, help="asks summarised before each size")
    ap.add_argument("--samplers", default="tpe,tpe-multivariate")
    ap.add_argument(
        "--storage", default="memory,sqlite", help="memory, sqlite (a file) and/or postgres"
    )
    ap.add_argument("--postgres", default="", help="server URL for --storage postgres")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    at = [int(c) for c in args.at.split(",") if c]
    if not at or any(c < args.window or c <= 0 for c in at):
        sys.exit(f"every --at value must be at least --window ({args.window}) and above 0")
    storages = [s for s in args.storage.split(",") if s]
    for s in storages:
        if s not in ("memory", "sqlite", "postgres"):
            sys.exit(f"unknown --storage `{s}`; use memory, sqlite and/or postgres")
    if "postgres" in storages and not args.postgres:
        sys.exit("--storage postgres needs --postgres URL")
    if not os.access(args.nas, os.X_OK):
        sys.exit(f"no nas binary at {args.nas}; build it (cargo build --release) or pass --nas")

    print(
        f"nas ask-tell round trip from a Python client, {os.path.basename(args.space)} "
        f"(mean and median ms of the {args.window} asks and tells before each history size)"
    )
    head = f"{'sampler':<18} {'storage':<8} {'trials':>7} {'ask mean':>9} {'ask med':>9} {'tell med':>9}"
    print(head)
    for sampler in [s for s in args.samplers.split(",") if s]:
        for storage in storages:
            asks, tells = run_one(
                args.nas, args.space, sampler, storage, max(at), args.seed, args.postgres
            )
            for c in at:
                window = asks[c - args.window : c]
                tell_window = tells[c - args.window : c]
                print(
                    f"{sampler:<18} {storage:<8} {c:>7} {statistics.mean(window) * 1e3:>9.3f} "
                    f"{statistics.median(window) * 1e3:>9.3f} "
                    f"{statistics.median(tell_window) * 1e3:>9.3f}",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
