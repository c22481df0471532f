#!/usr/bin/env python3
"""Side-by-side: corespec nn engine vs PyTorch (CPU) vs an OpenBLAS sgemm
forward, in the same run, on the shapes of benchmarks/bench_nn.cpp.

  /usr/bin/python3 benchmarks/compare_nn_torch.py [--bench build-bench/benchmarks/bench_nn]

Prints microseconds per spectrum for each engine and the ratios
(peer time / corespec time: > 1 means corespec is faster). Needs
python3-torch and libopenblas (Debian packages). PyTorch runs with
torch.set_num_threads(threads) and torch.inference_mode(); OpenBLAS with
openblas_set_num_threads(threads); both from Python, so batch-1 numbers
include the interpreter's call overhead.
"""
import argparse
import ctypes
import json
import statistics
import subprocess
import time

import numpy as np
import torch

MLP = [702, 128, 64, 8]


def timeit(fn, min_time=0.3, repeats=7):
    fn()  # warm-up
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 0.05:
        fn()
        n += 1
    per_call = []
    for _ in range(repeats):
        reps = max(1, int(n * min_time / 0.05 / repeats))
        t = time.perf_counter()
        for _ in range(reps):
            fn()
        per_call.append((time.perf_counter() - t) / reps)
    return statistics.median(per_call)


def torch_mlp():
    layers = []
    for i in range(len(MLP) - 1):
        layers.append(torch.nn.Linear(MLP[i], MLP[i + 1]))
        if i + 2 < len(MLP):
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers).eval()


def torch_encoder():
    lrelu = lambda: torch.nn.LeakyReLU(0.3)
    body = torch.nn.Sequential(
        torch.nn.Conv1d(1, 16, 7, stride=2, padding=3), lrelu(),
        torch.nn.Conv1d(16, 32, 7, stride=2, padding=3), lrelu(),
        torch.nn.Conv1d(32, 32, 3, stride=2, padding=1), lrelu(),
        torch.nn.Conv1d(32, 64, 3, stride=2, padding=1), lrelu(),
        torch.nn.Flatten()).eval()
    mean, logvar = torch.nn.Linear(960, 16).eval(), torch.nn.Linear(960, 16).eval()
    def encode(x):
        h = body(x)
        return mean(h), logvar(h)
    return encode


class OpenBlasMlp:
    """y = relu(x W1^T + b1) ... with cblas_sgemm on preallocated buffers."""

    def __init__(self, batch):
        names = ["libopenblas.so.0", "libopenblas.so"]
        for n in names:
            try:
                self.lib = ctypes.CDLL(n)
                break
            except OSError:
                self.lib = None
        if self.lib is None:
            raise RuntimeError("libopenblas not found (apt-get install libopenblas0)")
        rng = np.random.default_rng(1)
        self.w = [rng.uniform(-0.05, 0.05, (MLP[i + 1], MLP[i])).astype(np.float32) for i in range(len(MLP) - 1)]
        self.b = [np.zeros(MLP[i + 1], np.float32) for i in range(len(MLP) - 1)]
        self.h = [np.empty((batch, MLP[i + 1]), np.float32) for i in range(len(MLP) - 1)]
        self.batch = batch
        f = self.lib.cblas_sgemm
        f.restype = None
        self.sgemm = f

    def set_threads(self, n):
        self.lib.openblas_set_num_threads(ctypes.c_int(n))

    def __call__(self, x):
        cur = x
        P = ctypes.c_void_p
        for i, (w, b, h) in enumerate(zip(self.w, self.b, self.h)):
            m, k, n = self.batch, w.shape[1], w.shape[0]
            # row-major: C[m,n] = A[m,k] * B^T where B = W [n,k]
            self.sgemm(101, 111, 112, m, n, k, ctypes.c_float(1.0), P(cur.ctypes.data), k,
                       P(w.ctypes.data), k, ctypes.c_float(0.0), P(h.ctypes.data), n)
            h += b
            if i + 1 < len(self.w):
                np.maximum(h, 0, out=h)
            cur = h
        return cur


def corespec_results(bench):
    out = subprocess.run([bench, "--benchmark_format=json", "--benchmark_min_time=0.5"],
                         check=True, capture_output=True, text=True).stdout
    res = {}
    for b in json.loads(out)["benchmarks"]:
        res[b["name"].replace("/real_time", "")] = b["us/spectrum"]
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", default="build-bench/benchmarks/bench_nn")
    args = ap.parse_args()
    ours = corespec_results(args.bench)
    torch.set_grad_enabled(False)
    rows = []
    mlp = torch_mlp()
    for batch, threads in [(1, 1), (32, 1), (256, 1), (1024, 1), (4096, 1), (256, 2), (1024, 2), (4096, 2)]:
        torch.set_num_threads(threads)
        x = torch.rand(batch, 702)
        with torch.inference_mode():
            t_torch = timeit(lambda: mlp(x)) / batch * 1e6
        ob = OpenBlasMlp(batch)
        ob.set_threads(threads)
        xn = np.random.default_rng(2).random((batch, 702), dtype=np.float32)
        t_blas = timeit(lambda: ob(xn)) / batch * 1e6
        key = f"mlp/batch:{batch}/threads:{threads}"
        rows.append((f"MLP 702-128-64-8 batch {batch}, {threads} thr", ours.get(key), t_torch, t_blas))
    enc = torch_encoder()
    for batch, threads in [(1, 1), (32, 1), (256, 1), (256, 2)]:
        torch.set_num_threads(threads)
        x = torch.rand(batch, 1, 240)
        with torch.inference_mode():
            t_torch = timeit(lambda: enc(x)) / batch * 1e6
        key = f"conv_encoder/batch:{batch}/threads:{threads}"
        rows.append((f"conv encoder batch {batch}, {threads} thr", ours.get(key), t_torch, None))
    for batch in (1, 32):
        rows.append((f"MLP compile-time model batch {batch}", ours.get(f"mlp_static/batch:{batch}"), None, None))
    print(f"torch {torch.__version__}, numpy {np.__version__}; times in us per spectrum; ratio = peer / corespec")
    print(f"{'case':42s} {'corespec':>9s} {'torch':>9s} {'openblas':>9s} {'x torch':>8s} {'x blas':>8s}")
    for name, c, t, b in rows:
        fmt = lambda v: f"{v:9.2f}" if v is not None else f"{'-':>9s}"
        rt = f"{t / c:8.2f}" if (c and t) else f"{'-':>8s}"
        rb = f"{b / c:8.2f}" if (c and b) else f"{'-':>8s}"
        print(f"{name:42s} {fmt(c)} {fmt(t)} {fmt(b)} {rt} {rb}")
    s1 = ours.get("mlp/batch:1024/threads:1"), ours.get("mlp/batch:1024/threads:2")
    s4 = ours.get("mlp/batch:4096/threads:1"), ours.get("mlp/batch:4096/threads:2")
    if all(s1) and all(s4):
        print(f"corespec 2-thread scaling: batch 1024 {s1[0] / s1[1]:.2f}x, batch 4096 {s4[0] / s4[1]:.2f}x")


if __name__ == "__main__":
    main()
