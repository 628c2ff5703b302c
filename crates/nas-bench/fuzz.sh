#!/usr/bin/env bash
# Fuzzes the parsers of input nas does not control (see fuzz/): each target runs
# ${FUZZ_SECONDS:-30} seconds from its seeds in fuzz/corpus/<target>/. Fails if any target
# finds a crash, a timeout or an out-of-memory (libFuzzer leaves the input in
# fuzz/artifacts/<target>/). Needs the nightly toolchain; installs cargo-fuzz if missing.
# Developer tool: CI does not run it.
#
#   crates/nas-bench/fuzz.sh                      # every target, 30 s each
#   FUZZ_SECONDS=600 crates/nas-bench/fuzz.sh idx  # one target, 10 minutes
set -euo pipefail

cd "$(dirname "$0")/../../fuzz"
seconds=${FUZZ_SECONDS:-30}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(space_toml idx cifar arch_json ask_tell study_config)
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  cargo +nightly install cargo-fuzz --locked
fi

failed=()
for target in "${targets[@]}"; do
  case $target in
    idx | cifar) max_len=65536 ;;
    *) max_len=4096 ;;
  esac
  echo "== $target: ${seconds} s"
  if ! cargo +nightly fuzz run "$target" -- -max_total_time="$seconds" \
    -rss_limit_mb=4096 -max_len="$max_len" -timeout=10 -print_final_stats=1; then
    failed+=("$target")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: failed: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
echo "fuzz.sh: no crash in ${targets[*]}"
