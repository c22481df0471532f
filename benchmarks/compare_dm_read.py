#!/usr/bin/env python3
"""Reading a 256 x 256 x 2048 float32 DM4 spectrum image: corespec vs HyperSpy.

Runs benchmarks/bench_dm_read (which writes /tmp/corespec_bench_256x256x2048.dm4
with corespec's DM writer on its first run), then times HyperSpy's hs.load on the
same file, checks that both read the same values, and prints MB/s and the ratio.
Both wall-clock and process CPU time are given: on a shared machine the CPU
time is the steadier number.

    /usr/bin/python3 benchmarks/compare_dm_read.py [path/to/bench_dm_read] [repeats]

Needs python3-hyperspy (apt-get install -y python3-hyperspy).
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
bench = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "build-bench", "benchmarks", "bench_dm_read")
repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
path = os.path.join(tempfile.gettempdir(), "corespec_bench_256x256x2048.dm4")
data_mb = 256 * 256 * 2048 * 4 / 1e6

out = subprocess.run([bench, "--benchmark_filter=dm_read_(into_)?map_float", "--benchmark_format=json",
                      "--benchmark_min_time=1"], check=True, capture_output=True, text=True).stdout
ours = {b["name"].split("/")[0]: b for b in json.loads(out)["benchmarks"]}

import hyperspy.api as hs  # noqa: E402  (after the benchmark: it writes the file)

wall, cpu = [], []
for _ in range(repeats):
    w0, c0 = time.perf_counter(), time.process_time()
    s = hs.load(path)
    data = np.asarray(s.data)
    wall.append(time.perf_counter() - w0)
    cpu.append(time.process_time() - c0)
assert data.shape == (256, 256, 2048) and data.dtype == np.float32, (data.shape, data.dtype)
i = np.arange(data.size, dtype=np.int64)
expected = ((i % 4093).astype(np.float32) * np.float32(0.5) + (i // 2048 % 7).astype(np.float32)).reshape(data.shape)
assert np.array_equal(data, expected), "HyperSpy read other values than corespec wrote"
ax = s.axes_manager.signal_axes[0]
assert (ax.offset, ax.scale, ax.size) == (400.0, 0.25, 2048), (ax.offset, ax.scale, ax.size)

hs_wall, hs_cpu = min(wall), min(cpu)
print(f"file: {path} ({os.path.getsize(path) / 1e6:.0f} MB, {data_mb:.0f} MB of float32 data)")
print(f"HyperSpy {hs.__version__} hs.load: {hs_wall * 1e3:.0f} ms wall ({data_mb / hs_wall:.0f} MB/s), "
      f"{hs_cpu * 1e3:.0f} ms CPU ({data_mb / hs_cpu:.0f} MB/s)  [best of {repeats}]")
for name, label in (("dm_read_map_float", "read_dm<float> (fresh result)"),
                    ("dm_read_into_map_float", "read_dm_into<float> (reused result)")):
    b = ours[name]
    w, c = b["real_time"] / 1e3, b["cpu_time"] / 1e3  # ms -> s
    print(f"corespec {label}: {w * 1e3:.0f} ms wall ({data_mb / w:.0f} MB/s), {c * 1e3:.0f} ms CPU "
          f"({data_mb / c:.0f} MB/s); HyperSpy / corespec time ratio: wall {hs_wall / w:.1f}x, CPU {hs_cpu / c:.1f}x")
