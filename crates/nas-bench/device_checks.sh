#!/usr/bin/env bash
# The figures the README asks for on a GPU machine, in one run: backend check, inference
# latency, training throughput beside PyTorch on CUDA, and many architectures in one process.
#
#   crates/nas-bench/device_checks.sh [BACKEND]      # BACKEND: wgpu (default), vulkan or cuda
#   NAS=/path/to/nas OUT=/tmp/out crates/nas-bench/device_checks.sh wgpu
#
# Needs a Vulkan loader (libvulkan1) for wgpu/vulkan, and python3 with torch for the PyTorch
# line. Each step has its own time limit, so one slow step does not eat the others' time.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
nas="${NAS:-$here/../../target/release/nas}"
backend="${1:-wgpu}"
out="${OUT:-.}"
exec > >(tee "$out/device_checks.txt") 2>&1
step() { echo; echo "=== $* ($(date +%T))"; }
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
step backend-check; timeout 100 "$nas" bench backend-check --backend "$backend"
step latency;       timeout 120 "$nas" bench latency --backend "$backend" --runs 50
step train;         timeout 80 "$nas" bench train --backend "$backend" --steps 50
step pytorch-cuda;  timeout 80 python3 "$here/pytorch/bench_train.py" --device cuda --steps 50
step churn;         timeout 150 "$nas" bench churn --backend "$backend" --archs 200 --every 20
step done
