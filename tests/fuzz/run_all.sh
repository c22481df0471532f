#!/usr/bin/env bash
# Runs every built fuzz target for a bounded time, seeded from ../shared.
#   bash tests/fuzz/run_all.sh BUILD_FUZZ_DIR [SECONDS_PER_TARGET]
# CI runs each target for a fixed number of inputs from a fixed seed (repeatable);
# for real fuzzing set CORESPEC_FUZZ_RUNS=-1 and a long time (see docs/formats.md).
# Fails on the first finding (crash, sanitizer report, leak, timeout).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin_dir=$1
seconds=${2:-15}
shared=${CORESPEC_SHARED_DIR:-$here/../../../shared}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
for exe in "$bin_dir"/fuzz_*; do
  [ -x "$exe" ] || continue
  name=$(basename "$exe")
  corpus="$work/$name"
  mkdir -p "$corpus"
  if [ -f "$here/$name.seeds" ] && [ -d "$shared" ]; then
    while read -r pattern; do
      [ -n "$pattern" ] && [ "${pattern:0:1}" != "#" ] || continue
      # Name each seed by its path so that equal basenames (1D/test-1.dm3, 3D/test-1.dm3) all stay.
      for f in $shared/$pattern; do
        [ -f "$f" ] && cp "$f" "$corpus/$(echo "${f#$shared/}" | tr '/' '_')" || true
      done
    done < "$here/$name.seeds"
  fi
  [ -d "$here/corpus/$name" ] && cp "$here/corpus/$name"/* "$corpus/" 2>/dev/null || true
  echo "fuzz: $name for ${seconds}s with $(ls "$corpus" | wc -l) seed file(s)"
  # A fixed seed and run count make CI's run repeatable; CORESPEC_FUZZ_RUNS=-1 fuzzes for the time alone.
  # A target may ask for more inputs (tests/fuzz/NAME.runs, one number): cheap
  # targets such as fuzz_eels cover 100,000 inputs within CI's time.
  runs=5000
  [ -f "$here/$name.runs" ] && runs=$(tr -dc '0-9' < "$here/$name.runs")
  # A target may add libFuzzer flags (tests/fuzz/NAME.args, one line; see that file for why).
  extra=()
  [ -f "$here/$name.args" ] && read -r -a extra < <(grep -v '^#' "$here/$name.args" | head -1)  || true
  if ! "$exe" "$corpus" -seed="${CORESPEC_FUZZ_SEED:-1}" -runs="${CORESPEC_FUZZ_RUNS:-$runs}" \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len=1048576 \
        -print_final_stats=1 -artifact_prefix="$work/$name-" "${extra[@]}" >"$work/$name.log" 2>&1; then
    echo "fuzz: $name FAILED"; tail -60 "$work/$name.log"
    for a in "$work/$name-"*; do [ -f "$a" ] && echo "artifact: $a ($(wc -c < "$a") bytes)"; done
    status=1
  else
    grep -E "stat::number_of_executed_units|Done" "$work/$name.log" | tail -2 || true
  fi
done
exit $status
