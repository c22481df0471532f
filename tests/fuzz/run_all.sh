#!/usr/bin/env bash
# Runs every built fuzz target for a bounded time, seeded from ../shared.
#   bash tests/fuzz/run_all.sh BUILD_FUZZ_DIR [SECONDS_PER_TARGET]
# CI runs each target for a fixed number of inputs from a fixed seed (repeatable);
# for real fuzzing set CORESPEC_FUZZ_RUNS=-1 and a long time (see docs/formats.md).
# Fails on any finding (crash, sanitizer report, leak, timeout). The targets
# run CORESPEC_FUZZ_JOBS at a time (default: the number of cores), each
# report printed when all are done, in name order.
#
# A target that reads through a third-party library which is itself not safe
# on hostile input (fuzz_hspy: libhdf5 1.10.8) names that library in
# tests/fuzz/NAME.upstream (a regex on the shared object's path). Such a target
# runs in libFuzzer's fork mode, which keeps going after a crash; afterwards
# every crash, leak and out-of-memory input is replayed and classified by the
# first stack frame that is not the sanitizer's or the allocator's: inside the
# named library it is an upstream finding (counted and listed, the input kept
# under the artifact prefix), anywhere else (corespec, the standard library) it
# fails the run as any finding does. Timeouts always fail.
#   bash tests/fuzz/run_all.sh --classify FUZZ_TARGET ARTIFACT_DIR
# replays and sorts saved findings of a target that has a NAME.upstream file.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
classify_exe=""
if [ "${1:-}" = "--classify" ]; then classify_exe=$2; classify_dir=$3; set -- "$(dirname "$2")"; fi
bin_dir=$1
seconds=${2:-15}
shared=${CORESPEC_SHARED_DIR:-$here/../../../shared}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0

# The first frame of the first sanitizer report in a replay log that is not the
# sanitizer's own (interceptors, malloc/new, libFuzzer's driver).
first_own_frame() {
  grep -E '^ +#[0-9]+ 0x' "$1" | grep -vE '__interceptor_|__asan|__sanitizer|__lsan|in (malloc|calloc|realloc|free|operator new|operator delete)\b|libFuzzer|LLVMFuzzer|fuzzer::' | head -1 || true
}

# Fork-mode run of a target with an upstream library (see the file comment).
run_with_upstream() {  # exe corpus runs upstream_regex extra-args...
  local exe=$1 corpus=$2 runs=$3 upstream=$4; shift 4
  local name; name=$(basename "$exe")
  local art="$work/$name-art/"; mkdir -p "$art"
  # libFuzzer exits non-zero when any job crashed; the artifacts say which.
  local rc=0
  "$exe" "$corpus" -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=0 -print_funcs=0 \
    -seed="${CORESPEC_FUZZ_SEED:-1}" -runs="${CORESPEC_FUZZ_RUNS:-$runs}" -max_total_time="$seconds" \
    -rss_limit_mb=2048 -timeout=10 -max_len=1048576 -print_final_stats=1 -artifact_prefix="$art" "$@" \
    >"$work/$name.log" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ] && ! ls "$art"* >/dev/null 2>&1; then
    echo "fuzz: $name FAILED (libFuzzer exit $rc, no artifact)"; tail -40 "$work/$name.log"; return 1
  fi
  grep -E "stat::number_of_executed_units|Done|INFO: exiting" "$work/$name.log" | tail -2 || true
  classify_artifacts "$exe" "$art" "$upstream" "$@"
}

# Replays each artifact of a fork-mode run and sorts it (see the file comment).
classify_artifacts() {  # exe artifact_prefix upstream_regex extra-args...
  local exe=$1 art=$2 upstream=$3; shift 3
  local name; name=$(basename "$exe")
  local ok=0 upstream_count=0 f frame
  for f in "$art"*; do
    case "$f" in *.replay) continue ;; esac
    [ -f "$f" ] || continue
    case "$(basename "$f")" in
      timeout-*) echo "fuzz: $name FAILED: timeout on $f"; ok=1; continue ;;
    esac
    "$exe" -rss_limit_mb=2048 -timeout=10 "$@" "$f" >"$f.replay" 2>&1 || true
    frame=$(first_own_frame "$f.replay")
    if [ -n "$frame" ] && echo "$frame" | grep -qE "$upstream"; then
      upstream_count=$((upstream_count + 1))
      echo "fuzz: $name upstream finding ($(basename "$f")): $(grep -m1 -E 'ERROR|SUMMARY' "$f.replay" | cut -c1-120)"
      echo "      first frame: $(echo "$frame" | sed 's/^ *//' | cut -c1-160)"
    else
      echo "fuzz: $name FAILED: $(basename "$f") is not inside $upstream"
      grep -E 'ERROR|SUMMARY|^ +#[0-9]+ 0x' "$f.replay" | head -20
      ok=1
    fi
  done
  [ "$ok" -eq 0 ] || { echo "fuzz: $name FAILED"; return 1; }
  echo "fuzz: $name: $upstream_count upstream finding(s) in $upstream, none elsewhere"
  return 0
}

if [ -n "$classify_exe" ]; then
  upstream=$(grep -v '^#' "$here/$(basename "$classify_exe").upstream" | head -1)
  extra=()
  [ -f "$here/$(basename "$classify_exe").args" ] && read -r -a extra < <(grep -v '^#' "$here/$(basename "$classify_exe").args" | head -1) || true
  classify_artifacts "$classify_exe" "$classify_dir/" "$upstream" "${extra[@]}"
  exit $?
fi

# One target: seeds, run, verdict on stdout; returns 1 on a finding.
fuzz_one() {  # exe
  local exe=$1 name corpus runs upstream pattern f
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
  if [ -f "$here/$name.upstream" ]; then
    upstream=$(grep -v '^#' "$here/$name.upstream" | head -1)
    run_with_upstream "$exe" "$corpus" "$runs" "$upstream" "${extra[@]}"
    return
  fi
  if ! "$exe" "$corpus" -seed="${CORESPEC_FUZZ_SEED:-1}" -runs="${CORESPEC_FUZZ_RUNS:-$runs}" \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len=1048576 \
        -print_final_stats=1 -artifact_prefix="$work/$name-" "${extra[@]}" >"$work/$name.log" 2>&1; then
    echo "fuzz: $name FAILED"; tail -60 "$work/$name.log"
    for a in "$work/$name-"*; do [ -f "$a" ] && echo "artifact: $a ($(wc -c < "$a") bytes)"; done
    return 1
  else
    grep -E "stat::number_of_executed_units|Done" "$work/$name.log" | tail -2 || true
  fi
}

# Each target is one process (one core): run CORESPEC_FUZZ_JOBS of them at a
# time (default: the number of cores), then print their reports in order.
parallel=${CORESPEC_FUZZ_JOBS:-$(nproc)}
names=()
for exe in "$bin_dir"/fuzz_*; do
  [ -x "$exe" ] || continue
  name=$(basename "$exe")
  names+=("$name")
  ( rc=0; fuzz_one "$exe" >"$work/$name.out" 2>&1 || rc=$?; echo "$rc" >"$work/$name.status" ) &
  while [ "$(jobs -rp | wc -l)" -ge "$parallel" ]; do wait -n || true; done
done
wait
for name in "${names[@]}"; do
  cat "$work/$name.out"
  [ "$(cat "$work/$name.status" 2>/dev/null)" = "0" ] || status=1
done
exit $status
