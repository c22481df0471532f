#!/usr/bin/python3
"""Reading a 256 x 256 x 2048 float32 .hspy SI: corespec vs HyperSpy, same run.

Runs benchmarks/bench_hdf5_read (which writes the gzip and uncompressed files
with corespec's writer on its first run), then times HyperSpy's eager
hs.load and lazy hs.load(lazy=True) + compute() on the same files, checks the
values, and prints MB/s (of float32 data) and the ratios, wall and CPU.

    /usr/bin/python3 benchmarks/compare_hdf5_read.py [path/to/bench_hdf5_read] [repeats]
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
bench = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "build-bench", "benchmarks", "bench_hdf5_read")
repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 2
data_mb = 256 * 256 * 2048 * 4 / 1e6

out = subprocess.run([bench, "--benchmark_format=json", "--benchmark_min_time=1"], check=True,
                     capture_output=True, text=True).stdout
ours = {b["name"].replace("/real_time", ""): b for b in json.loads(out)["benchmarks"]}

import hyperspy.api as hs  # noqa: E402  (after the benchmark: it writes the files)

i = np.arange(256 * 256 * 2048, dtype=np.int64)
expected = ((i % 4093).astype(np.float32) * np.float32(0.5) + (i // 2048 % 7).astype(np.float32)).reshape(256, 256, 2048)
print(f"load average before HyperSpy: {os.getloadavg()}")
for gzip in (0, 1):
    path = os.path.join(tempfile.gettempdir(), "corespec_bench_256x256x2048_%s.hspy" % ("gzip" if gzip else "raw"))
    res = {}
    for mode in ("eager", "lazy"):
        wall, cpu = [], []
        for _ in range(repeats):
            w0, c0 = time.perf_counter(), time.process_time()
            s = hs.load(path, lazy=(mode == "lazy"))
            data = np.asarray(s.data.compute() if mode == "lazy" else s.data)
            wall.append(time.perf_counter() - w0)
            cpu.append(time.process_time() - c0)
        assert np.array_equal(data, expected), "HyperSpy read other values than corespec wrote"
        res[mode] = (min(wall), min(cpu))
    print(f"file: {path} ({os.path.getsize(path) / 1e6:.0f} MB on disk)")
    for mode, (w, c) in res.items():
        print(f"  HyperSpy {hs.__version__} {mode}: {w * 1e3:.0f} ms wall ({data_mb / w:.0f} MB/s), "
              f"{c * 1e3:.0f} ms CPU  [best of {repeats}]")
    for name, label in (("hspy_read/gzip:%d" % gzip, "read_hspy<float>"),
                        ("hspy_stream/gzip:%d" % gzip, "for_each_hspy_block<float> (16 rows)")):
        b = ours[name]
        w, c = b["real_time"] / 1e3, b["cpu_time"] / 1e3
        print(f"  corespec {label}: {w * 1e3:.0f} ms wall ({data_mb / w:.0f} MB/s), {c * 1e3:.0f} ms CPU; "
              f"HyperSpy eager / corespec wall {res['eager'][0] / w:.2f}x, lazy / corespec {res['lazy'][0] / w:.2f}x")
print(f"load average after: {os.getloadavg()}")
