#!/usr/bin/env bash
# Does training several trials at once pay on this machine? The same networks (the first
# TRIALS random draws of seed 0, scheduler none, a tenth of Fashion-MNIST for one epoch each)
# trained with each --concurrency in CONCS, one after the other; prints the wall, user and
# system seconds of each run and every trial's own seconds. A trial's seconds at N at once
# over its seconds alone is what it loses to sharing the cores: below N, running N at once
# pays.
#
#   crates/nas-bench/concurrency.sh                          # CONCS="1 2", 6 trials
#   CONCS="1 2 4" TRIALS=8 NAS=target/release/nas OUT=/tmp/conc crates/nas-bench/concurrency.sh
#
# Run it on an otherwise idle machine.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
nas="${NAS:-$here/../../target/release/nas}"
out="${OUT:-$here/../../results/concurrency}"
trials="${TRIALS:-6}"
mkdir -p "$out"
for c in ${CONCS:-1 2}; do
  rm -rf "$out/c$c"
  /usr/bin/time -f "--concurrency $c: wall %e s, user %U s, system %S s, peak RSS %M KB" \
    "$nas" search --objectives accuracy,params --scheduler none --trials "$trials" \
    --top-fraction 0.1 --max-epochs 1 --seed 0 --concurrency "$c" \
    --study "c$c" --results "$out" --quiet >"$out/c$c.out" 2>"$out/c$c.err"
  grep -- "at once" "$out/c$c.err" || true
  tail -1 "$out/c$c.err"
  python3 - "$out/c$c/trials.csv" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
print("  trial seconds:", " ".join(f"{r['number']}:{float(r['duration_s']):.1f}" for r in rows))
EOF
done
