#!/usr/bin/env bash
# Runs our sampler benchmarks and Optuna's on the same problems, one table after the other.
#
#   crates/nas-bench/optuna/compare.sh                  # quality, then speed, default settings
#   crates/nas-bench/optuna/compare.sh quality [ARGS]   # only quality; ARGS go to both sides
#   crates/nas-bench/optuna/compare.sh speed [ARGS]     # only speed; ARGS go to both sides
#
# ARGS are the flags both sides share:
#   quality: --trials N --seeds N --functions a,b --samplers random,tpe,tpe-multivariate,gp --jobs N
#   speed:   --at 100,250,500,1000 --window N --seed N --samplers tpe,tpe-multivariate,random
#
# Optuna is pip-installed into a venv at ${NAS_OPTUNA_VENV:-/var/tmp/nas-optuna-venv}
# (created on first use from requirements.txt, with ${PYTHON:-python3}). Optional; CI does not
# run this.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
cd "$root"

venv="${NAS_OPTUNA_VENV:-/var/tmp/nas-optuna-venv}"
req="$here/requirements.txt"

usage() {
    sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

ensure_venv() {
    if [[ ! -x "$venv/bin/python" ]]; then
        echo "creating venv $venv" >&2
        "${PYTHON:-python3}" -m venv "$venv"
    fi
    # Install when the venv has not seen this requirements.txt yet.
    if ! cmp -s "$req" "$venv/.nas-requirements.txt"; then
        echo "installing $(grep -v '^#' "$req" | xargs) into $venv" >&2
        "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req"
        cp "$req" "$venv/.nas-requirements.txt"
    fi
}

# Prints a command (quoting only words that need it), then runs it.
run() {
    local word line='$'
    for word in "$@"; do
        if [[ "$word" =~ ^[A-Za-z0-9_./,=:+@%-]+$ ]]; then
            line+=" $word"
        else
            line+=" $(printf '%q' "$word")"
        fi
    done
    echo "$line"
    "$@"
}

compare() {
    local kind="$1"
    shift
    echo "=== nas (Rust): bench sampler-$kind ==="
    run cargo run --release -q -p nas-cli --bin nas -- bench "sampler-$kind" "$@"
    echo
    echo "=== Optuna $("$venv/bin/python" -c 'import optuna; print(optuna.__version__)'): same problems ==="
    run "$venv/bin/python" "$here/bench_optuna.py" "$kind" "$@"
    echo
}

mode="${1:-all}"
[[ $# -gt 0 ]] && shift
case "$mode" in
    -h | --help)
        usage
        exit 0
        ;;
    quality | speed) ;;
    all)
        if [[ $# -gt 0 ]]; then
            echo "arguments need a benchmark: $0 quality|speed ARGS" >&2
            exit 2
        fi
        ;;
    *)
        echo "unknown benchmark \`$mode\`; choose quality, speed or nothing (both)" >&2
        exit 2
        ;;
esac

ensure_venv
if [[ "$mode" == all ]]; then
    compare quality
    compare speed
else
    compare "$mode" "$@"
fi
