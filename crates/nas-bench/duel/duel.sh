#!/usr/bin/env bash
# The duel: `nas search` against the reference NAS a user would write instead (Optuna +
# PyTorch, reference_nas.py), the same wall-clock budget each, one after the other on this
# machine, for each seed; then both retrain their best complete network of at most MAX_PARAMS
# parameters for FINAL_EPOCHS on the whole training split and score it on the test split, and
# score.py prints the table (trials, trials/h, hypervolume, best small network, its test
# accuracy) with the medians and their ratio.
#
#   crates/nas-bench/duel/duel.sh                                  # seeds 0 1 2, 20m each side
#   SEEDS="0" BUDGET=5m OUT=/var/tmp/duel NAS=target/release/nas crates/nas-bench/duel/duel.sh
#   NAS_ARGS="--objectives accuracy,params --max-params 50000" ...  # what nas search is given
#   SIDES=nas ... / SIDES=reference ...                            # one side only (re-runs)
#   SIDES="reference nas" ...; later SIDES=export ...               # searches first, exports after
#
# Run it on an otherwise idle machine: both sides use every core (THREADS, default 2, for
# PyTorch; nas search its own default).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
nas="${NAS:-$here/../../../target/release/nas}"
python="${PYTHON:-/var/tmp/nas-torch-venv/bin/python}"
seeds="${SEEDS:-0 1 2}"
budget="${BUDGET:-20m}"
out="${OUT:-$here/../../../results/duel}"
threads="${THREADS:-2}"
max_params="${MAX_PARAMS:-50000}"
final_epochs="${FINAL_EPOCHS:-5}"
sides="${SIDES:-reference nas export}"
read -ra nas_args <<<"${NAS_ARGS:---objectives accuracy,params}"
mkdir -p "$out/nas"

for seed in $seeds; do
  if [[ " $sides " == *" reference "* ]]; then
    echo "== seed $seed: optuna + pytorch, $budget"
    "$python" "$here/reference_nas.py" --budget "$budget" --seed "$seed" --threads "$threads" \
      --max-params "$max_params" --final-epochs "$final_epochs" --out "$out/ref-s$seed.json"
  fi
  if [[ " $sides " == *" nas "* ]]; then
    study="duel-s$seed"
    echo "== seed $seed: nas search ${nas_args[*]}, $budget"
    rm -rf "${out:?}/nas/$study"
    start=$(date +%s.%N)
    "$nas" search "${nas_args[@]}" --budget "$budget" --seed "$seed" --study "$study" \
      --results "$out/nas" --quiet
    end=$(date +%s.%N)
    python3 -c "import json,sys; print(json.dumps({'seconds': float(sys.argv[2]) - float(sys.argv[1])}))" \
      "$start" "$end" >"$out/nas/$study/wall.json"
  fi
  if [[ " $sides " == *" export "* ]]; then
    study="duel-s$seed"
    # A study with no complete network that small has nothing to export: scored as none.
    "$nas" export "$study" --results "$out/nas" --pick max-params "$max_params" \
      --epochs "$final_epochs" --name small --seed "$seed" ||
      echo "== seed $seed: nas export --pick max-params $max_params found nothing to export"
  fi
done
python3 "$here/score.py" "$out" --max-params "$max_params"
