#!/usr/bin/env bash
# Training throughput of a network (Adam, batch 128): `nas bench train` on each backend and
# PyTorch, measured one after the other in the same run, same threads. ARCH is a built-in spec
# (bench-cnn — the 31,514-parameter benchmark CNN, the default —, tiny, small, medium) or an
# ArchSpec JSON file; PyTorch builds the same layers from the plan nas prints.
#
#   crates/nas-bench/pytorch/compare_train.sh                     # flex and wgpu, 2 threads
#   BACKENDS=flex THREADS=2 STEPS=30 NAS=target/release/nas crates/nas-bench/pytorch/compare_train.sh
#   ARCH=small BACKENDS=flex crates/nas-bench/pytorch/compare_train.sh
#   TORCH_DEVICE=cuda PYTHON=python3 ...                          # on a GPU machine with torch installed
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
nas="${NAS:-$here/../../../target/release/nas}"
python="${PYTHON:-/var/tmp/nas-torch-venv/bin/python}"
threads="${THREADS:-2}"
steps="${STEPS:-30}"
backends="${BACKENDS:-flex,wgpu}"
arch="${ARCH:-bench-cnn}"
torch_device="${TORCH_DEVICE:-cpu}"

rows=$(mktemp)
plan=$(mktemp)
trap 'rm -f "$rows" "$plan"' EXIT
IFS=',' read -ra list <<<"$backends"
for b in "${list[@]}"; do
  "$nas" bench train --backend "$b" --arch "$arch" --threads "$threads" --steps "$steps" --json >>"$rows"
done
head -n 1 "$rows" >"$plan"
"$python" "$here/bench_train.py" --plan "$plan" --threads "$threads" --steps "$steps" --device "$torch_device" --json >>"$rows"

python3 - "$rows" "$threads" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
torch = next(r for r in rows if r["framework"] == "pytorch")
print(f"training throughput of {torch['arch']}, {torch['params']} params, batch {torch['batch']}, {sys.argv[2]} CPU threads")
print(f"{'framework':<18} {'device':<42} {'images/s':>10} {'step ms':>9} {'× PyTorch':>10}")
for r in rows:
    name = "pytorch" if r["framework"] == "pytorch" else f"burn {r['backend']}"
    print(f"{name:<18} {str(r['device'])[:42]:<42} {r['images_per_s']:>10.1f} {r['step_ms_median']:>9.2f} "
          f"{r['images_per_s'] / torch['images_per_s']:>10.2f}")
PY
