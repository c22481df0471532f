#!/usr/bin/python3
"""Power-law background removal: corespec vs HyperSpy 1.7.3 in the same run.

Times HyperSpy's remove_background (fast two-area power law, 40-channel
window, subtraction over the whole axis) on a 64 x 64 x 2048 float32 image
made like the one in bench_eels.cpp, on one core (BLAS/OpenMP threads pinned
to 1), then runs bench_eels (power_law_fast, 1 and 2 threads, 256 x 256 x
2048) and prints spectra/s for both and their ratio, by wall-clock and by CPU
time (the machine may be shared; CPU time is the fairer per-core number).

usage: /usr/bin/python3 benchmarks/compare_eels_hyperspy.py [--bench build-bench/benchmarks/bench_eels]
"""
import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402


def make_image(rows=64, cols=64, channels=2048):
    e = 400.0 + 0.25 * np.arange(channels)
    p = np.arange(rows * cols)[:, None]
    a = 1e10 * (1.0 + 0.3 * np.sin(0.01 * p))
    r = 3.0 + 0.2 * np.cos(0.003 * p)
    y = a * 0.25 * e[None, :] ** (-r)
    y = y + np.where(e > 532.0, 20.0 * (1.0 + np.arctan((e - 535.0) / 2.0)), 0.0)[None, :]
    rng = np.random.default_rng(1)
    y *= 1.0 + 0.01 * (rng.random(y.shape) - 0.5)
    return y.reshape(rows, cols, channels).astype(np.float32)


def time_hyperspy(repeats=3):
    import hyperspy
    import hyperspy.api as hs
    data = make_image()
    s = hs.signals.EELSSpectrum(data)
    ax = s.axes_manager.signal_axes[0]
    ax.offset, ax.scale, ax.units = 400.0, 0.25, "eV"
    try:
        ax.is_binned = True
    except AttributeError:
        s.metadata.Signal.binned = True
    best_wall, best_cpu = float("inf"), float("inf")
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        s.remove_background(signal_range=(500.0, 509.75), background_type="Power law", fast=True,
                            zero_fill=False, plot_remainder=False, show_progressbar=False,
                            return_model=False, display=False)
        best_wall = min(best_wall, time.perf_counter() - w0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    n = data.shape[0] * data.shape[1]
    return hyperspy.__version__, n / best_wall, n / best_cpu


def time_corespec(bench):
    out = subprocess.run([bench, "--benchmark_filter=power_law_fast/", "--benchmark_format=json"],
                         check=True, capture_output=True, text=True).stdout
    res = {}
    for b in json.loads(out)["benchmarks"]:
        threads = int(b["name"].split("/")[1])
        scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b["time_unit"]]
        n = 256 * 256
        res[threads] = {"wall": n / (b["real_time"] * scale),
                        # cpu_time counts the calling thread only: meaningful for 1 thread
                        "cpu": n / (b["cpu_time"] * scale) if threads == 1 else None}
    return res


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--bench", default=os.path.join(here, "..", "build-bench", "benchmarks", "bench_eels"))
    args = ap.parse_args()
    if not os.path.exists(args.bench):
        sys.exit(f"bench_eels not found at {args.bench}; build with -DCORESPEC_BUILD_BENCHMARKS=ON")
    version, hs_wall, hs_cpu = time_hyperspy()
    cs = time_corespec(args.bench)
    print(json.dumps({
        "hyperspy_version": version,
        "hyperspy_spectra_per_s": {"wall": hs_wall, "cpu": hs_cpu},
        "corespec_spectra_per_s": {str(k): v for k, v in cs.items()},
        "ratio_1_thread": {"wall": cs[1]["wall"] / hs_wall, "cpu": cs[1]["cpu"] / hs_cpu},
        "ratio_2_threads_wall": cs[2]["wall"] / hs_wall if 2 in cs else None,
        "scaling_2_threads_wall": cs[2]["wall"] / cs[1]["wall"] if 2 in cs else None,
        "load_average": os.getloadavg(),
    }, indent=2))


if __name__ == "__main__":
    main()
