#!/usr/bin/env bash
# corespec developer entry point: the two quick-start commands and CI's builds.
#
#   bash tools/dev.sh demo   install what is missing, build, run the main job (examples/nmc_demo; DEMO_OUT: its folder)
#   bash tools/dev.sh test   install what is missing, build, run every test (ctest)
#   bash tools/dev.sh sanitize   build (clang++) and run the tests with -fsanitize=address,undefined
#   bash tools/dev.sh clang      build and run the tests with clang++ (no sanitizers)
#   bash tools/dev.sh fuzz [SECONDS]  build the libFuzzer targets with clang and run each briefly
#   bash tools/dev.sh fuzz-run [SECONDS]  run the libFuzzer targets the sanitize build made
#
# Environment: BUILD_DIR (default build), CORESPEC_SHARED_DIR (default ../shared),
# JOBS (default: number of cores).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

JOBS=${JOBS:-$(nproc)}
PACKAGES=(g++ clang cmake ninja-build pkg-config libeigen3-dev xtensor-dev libxsimd-dev xtl-dev doctest-dev
          libbenchmark-dev nlohmann-json3-dev zlib1g-dev libhdf5-dev)
TEST_PACKAGES=(chromium)  # the browser test (ctest -L browser) renders the report in headless Chromium

install_missing() {  # extra packages...
  local missing=()
  for p in "${PACKAGES[@]}" "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "corespec: installing ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

# Installs the packages in the background (output in a log) when that needs no
# password prompt: as root or with passwordless sudo. Wait with wait_install.
install_async_pid=""
install_async_log=""
install_missing_async() {  # packages...
  local missing=()
  for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  if [ "$(id -u)" -ne 0 ] && ! sudo -n true 2>/dev/null; then
    install_missing "${missing[@]}"  # sudo may prompt: in the foreground
    return
  fi
  install_async_log=$(mktemp)
  echo "corespec: installing ${missing[*]} in the background (log: $install_async_log)"
  # PACKAGES are installed already, so only the missing extras are asked for.
  ( PACKAGES=(); install_missing "${missing[@]}" ) >"$install_async_log" 2>&1 &
  install_async_pid=$!
}
wait_install() {
  [ -n "$install_async_pid" ] || return 0
  if ! wait "$install_async_pid"; then
    cat "$install_async_log" >&2
    echo "corespec: installing the test packages failed" >&2
    return 1
  fi
  rm -f "$install_async_log"
  install_async_pid=""
}

configure_and_build() {  # dir, extra cmake args...
  local dir=$1; shift
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-Release} "$@"
  cmake --build "$dir" -j "$JOBS"
}

run_ctest() {  # dir, extra ctest args...
  local dir=$1; shift
  ctest --test-dir "$dir" --output-on-failure -j "$JOBS" "$@"
}

cmd=${1:-test}
case "$cmd" in
  demo)
    install_missing
    configure_and_build "${BUILD_DIR:-build}" -DCORESPEC_BUILD_TESTS=OFF -DCORESPEC_BUILD_EXAMPLES=ON
    # The NMC study end to end (examples/nmc_demo.cpp): synthetic data, single edges vs multimodal, ~3 min on 2 cores.
    "${BUILD_DIR:-build}/examples/nmc_demo" --out "${DEMO_OUT:-nmc_demo_out}"
    ;;
  test)
    install_missing
    # Chromium (only the browser test needs it) installs while the build runs.
    install_missing_async "${TEST_PACKAGES[@]}"
    configure_and_build "${BUILD_DIR:-build}" -DCORESPEC_BUILD_TESTS=ON -DCORESPEC_BUILD_EXAMPLES=ON
    wait_install
    run_ctest "${BUILD_DIR:-build}"
    ;;
  sanitize)
    install_missing
    # clang++ here, so that one build checks both the second compiler's warnings and the sanitizers;
    # the libFuzzer targets are built in the same tree (run them: bash tools/dev.sh fuzz-run SECONDS).
    # Debug (assertions on) at -O1 with line tables only: sanitizer reports keep file:line,
    # and the build skips full debug info (the slowest part of compiling and linking it).
    BUILD_TYPE=Debug configure_and_build "${BUILD_DIR:-build-asan}" -DCMAKE_CXX_COMPILER=clang++ \
      -DCORESPEC_BUILD_TESTS=ON -DCORESPEC_BUILD_EXAMPLES=ON -DCORESPEC_BUILD_FUZZERS=ON \
      -DCMAKE_CXX_FLAGS_DEBUG=-gline-tables-only \
      "-DCMAKE_CXX_FLAGS=-O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      run_ctest "${BUILD_DIR:-build-asan}" -LE packaging
    ;;
  fuzz-run)
    # The fuzz targets the sanitize build made, each run briefly (no second build).
    bash tests/fuzz/run_all.sh "${BUILD_DIR:-build-asan}/tests/fuzz" "${2:-20}"
    ;;
  clang)
    install_missing
    CXX=clang++ configure_and_build "${BUILD_DIR:-build-clang}" -DCORESPEC_BUILD_TESTS=ON -DCORESPEC_BUILD_EXAMPLES=ON \
      -DCMAKE_CXX_COMPILER=clang++
    run_ctest "${BUILD_DIR:-build-clang}" -LE packaging
    ;;
  fuzz)
    install_missing
    seconds=${2:-20}
    configure_and_build "${BUILD_DIR:-build-fuzz}" -DCMAKE_CXX_COMPILER=clang++ -DCORESPEC_BUILD_TESTS=OFF \
      -DCORESPEC_BUILD_EXAMPLES=OFF -DCORESPEC_BUILD_FUZZERS=ON
    bash tests/fuzz/run_all.sh "${BUILD_DIR:-build-fuzz}/tests/fuzz" "$seconds"
    ;;
  *)
    echo "usage: bash tools/dev.sh demo|test|sanitize|clang|fuzz|fuzz-run [SECONDS]" >&2
    exit 2
    ;;
esac
