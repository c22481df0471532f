#!/usr/bin/python3
"""Power-law background removal: corespec vs HyperSpy 1.7.3 in the same run.

Both sides work on the same values: this script rebuilds bench_eels.cpp's
synthetic core-loss image bit for bit (same formula, same hash noise, float32)
and times HyperSpy's remove_background (fast two-area power law, 40-channel
window 500-509.75 eV, subtraction over all 2048 channels, a new signal
returned) on one core (BLAS/OpenMP threads pinned to 1, best of `repeats`),
on its first 4096 pixels (as 64 x 64) and, with --full, on all 256 x 256. Then it runs
bench_eels's background cases on the same two sizes:

  power_law_fast/T/P      fit + subtraction into a caller's reused buffer
  power_law_new_image/T/P remove_background(image): a new image every call,
                          as HyperSpy returns a new signal (page faults included)
  power_law_in_place/T/P  remove_background_in_place (no output buffer)

and prints spectra/s for each and the ratios to HyperSpy on the same size.
It also times HyperSpy's align_zero_loss_peak (subpixel, calibrate, crop)
once on the first 1024 pixels (32 x 32) of bench_eels's low-loss image,
against bench_eels zlp_align/T/0/1024 (the same procedure).
HyperSpy's result is float64 (float32 data minus a float64 background);
corespec's stays float32. Wall-clock rates; run on an idle machine (flock -x).

usage: /usr/bin/python3 benchmarks/compare_eels_hyperspy.py [--bench build-bench/benchmarks/bench_eels] [--full]
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

CHANNELS = 2048


def noise(k):
    """bench_eels.cpp noise(k): a 64-bit hash mapped to [-0.5, 0.5)."""
    k = k.astype(np.uint64)
    k ^= k >> np.uint64(33)
    k *= np.uint64(0xff51afd7ed558ccd)  # wraps modulo 2^64 as in C++
    k ^= k >> np.uint64(33)
    u = (k >> np.uint64(11)).astype(np.float64) / 9007199254740992.0 - 0.5
    return u.astype(np.float32).astype(np.float64)  # the C++ function returns float


def make_image(side):
    """bench_eels.cpp's core_loss() pixels 0 .. side^2 - 1 (the whole 256 x 256
    image, or its first 4096 pixels for side 64) as a side x side image."""
    e = 400.0 + 0.25 * np.arange(CHANNELS)
    edge = np.where(e > 532.0, 20.0 * (1.0 + np.arctan((e - 535.0) / 2.0)), 0.0)
    out = np.empty((side * side, CHANNELS), dtype=np.float32)
    for start in range(0, side * side, 256):  # in blocks: float64 temporaries stay small
        p = np.arange(start, min(start + 256, side * side))[:, None]
        a = 1e10 * (1.0 + 0.3 * np.sin(0.01 * p))
        r = 3.0 + 0.2 * np.cos(0.003 * p)
        y = a * 0.25 * np.power(e[None, :], -r) + edge[None, :]
        k = p.astype(np.uint64) * np.uint64(CHANNELS) + np.arange(CHANNELS, dtype=np.uint64)[None, :]
        out[p[:, 0]] = (y * (1.0 + 0.01 * noise(k))).astype(np.float32)
    return out.reshape(side, side, CHANNELS)


def make_low_loss(pixels):
    """bench_eels.cpp's low_loss() pixels 0 .. pixels - 1 (ZLP drifting by up to 0.5 eV)."""
    e = -20.0 + 0.05 * np.arange(CHANNELS)
    p = np.arange(pixels)[:, None]
    c = 0.4 * np.sin(0.002 * p) + 0.1 * noise(p)
    y = 1e5 * np.exp(-0.5 * (e - c) ** 2 / 0.09) + 1e4 * np.exp(-0.5 * (e - c - 18.0) ** 2 / 16.0) + 50.0
    k = p.astype(np.uint64) * np.uint64(CHANNELS) + np.arange(CHANNELS, dtype=np.uint64)[None, :] + np.uint64(7)
    return (y * (1.0 + 0.01 * noise(k))).astype(np.float32)


def time_hyperspy_zlp(side):
    """align_zero_loss_peak (maximum, then the cross-correlation step; calibrate, crop), once."""
    import hyperspy.api as hs
    data = make_low_loss(side * side).reshape(side, side, CHANNELS)
    s = hs.signals.EELSSpectrum(data)
    ax = s.axes_manager.signal_axes[0]
    ax.offset, ax.scale, ax.units = -20.0, 0.05, "eV"
    t0 = time.perf_counter()
    s.align_zero_loss_peak(calibrate=True, subpixel=True, crop=True, print_stats=False, show_progressbar=False)
    return side * side / (time.perf_counter() - t0)


def time_hyperspy(side, repeats):
    import hyperspy.api as hs
    s = hs.signals.EELSSpectrum(make_image(side))
    ax = s.axes_manager.signal_axes[0]
    ax.offset, ax.scale, ax.units = 400.0, 0.25, "eV"
    try:
        ax.is_binned = True
    except AttributeError:
        s.metadata.Signal.binned = True
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = s.remove_background(signal_range=(500.0, 509.75), background_type="Power law", fast=True,
                                  zero_fill=False, plot_remainder=False, show_progressbar=False,
                                  return_model=False, display=False)
        best = min(best, time.perf_counter() - t0)
        dtype = str(res.data.dtype)
        del res
    return side * side / best, dtype


def time_corespec(bench, pixel_counts):
    """{pixels: {case: {threads: spectra/s}}} for the background cases and the ZLP alignment."""
    sizes = "|".join(str(p) for p in pixel_counts)
    flt = (f"^power_law_(fast|new_image|in_place)/threads:[12]/pixels:({sizes})/|"
           "^zlp_align/threads:[12]/gaussian:0/pixels:1024/")
    out = subprocess.run([bench, f"--benchmark_filter={flt}", "--benchmark_format=json"],
                         check=True, capture_output=True, text=True).stdout
    res = {}
    for b in json.loads(out)["benchmarks"]:
        parts = b["name"].split("/")
        args = dict(p.split(":") for p in parts[1:] if ":" in p and not p.startswith("min_time"))
        pixels = int(args["pixels"])
        scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b["time_unit"]]
        res.setdefault(pixels, {}).setdefault(parts[0], {})[int(args["threads"])] = pixels / (b["real_time"] * scale)
    return res


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--bench", default=os.path.join(here, "..", "build-bench", "benchmarks", "bench_eels"))
    ap.add_argument("--full", action="store_true", help="also time HyperSpy on all 256 x 256 pixels (~3 GB RAM)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    if not os.path.exists(args.bench):
        sys.exit(f"bench_eels not found at {args.bench}; build with -DCORESPEC_BUILD_BENCHMARKS=ON")
    import hyperspy
    sides = [64] + ([256] if args.full else [])
    hs_rate = {}
    for side in sides:
        rate, dtype = time_hyperspy(side, args.repeats)
        hs_rate[side * side] = {"spectra_per_s": rate, "result_dtype": dtype}
    hs_zlp = time_hyperspy_zlp(32)
    cs = time_corespec(args.bench, [s * s for s in sides])
    report = {"hyperspy_version": hyperspy.__version__, "sizes": {}}
    for pixels, h in hs_rate.items():
        c = {k: v for k, v in cs.get(pixels, {}).items() if k != "zlp_align"}
        report["sizes"][f"{int(pixels ** 0.5)}x{int(pixels ** 0.5)}"] = {
            "hyperspy": h,
            "corespec_spectra_per_s": c,
            "ratio_to_hyperspy": {k: {t: v / h["spectra_per_s"] for t, v in by_t.items()} for k, by_t in c.items()},
        }
    zc = cs.get(1024, {}).get("zlp_align", {})
    report["zlp_align_32x32"] = {"hyperspy_spectra_per_s": hs_zlp, "corespec_spectra_per_s": zc,
                                 "ratio_to_hyperspy": {t: v / hs_zlp for t, v in zc.items()}}
    report["load_average"] = os.getloadavg()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
