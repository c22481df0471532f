#!/usr/bin/env python3
"""One training epoch of the study-1 reference MLP (702 -> 128 -> 64 -> 8,
ReLU, float32) on 50,000 synthetic spectra, batch 64, Adam (lr 1e-3), MSE,
shuffled: corespec (bench_train) and PyTorch CPU on 1 and 2 threads, in the
same run. Prints seconds per epoch and the ratios.

    /usr/bin/python3 benchmarks/compare_train_torch.py build-bench/benchmarks/bench_train
"""
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch

ROWS, FEATURES, OUTPUTS, BATCH = 50000, 702, 8, 64


def data():
    rng = np.random.default_rng(1)
    e0 = rng.uniform(200, 500, (ROWS, 1))
    j = np.arange(FEATURES)[None, :]
    x = 1 / (1 + np.exp(-(j - e0) / 8)) + 0.05 * rng.uniform(-1, 1, (ROWS, FEATURES))
    y = np.sin(e0 / 50 + np.arange(OUTPUTS)[None, :])
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)


def torch_epoch_seconds(threads, x, y, repeats=3):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(FEATURES, 128), torch.nn.ReLU(), torch.nn.Linear(128, 64),
                                torch.nn.ReLU(), torch.nn.Linear(64, OUTPUTS))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.MSELoss()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        perm = torch.randperm(ROWS)
        for b in range(0, ROWS, BATCH):
            idx = perm[b:b + BATCH]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - start)
    return min(times), float(loss)


def corespec_epoch_seconds(binary):
    """{threads: (seconds per epoch, last training loss)} from a bench_train* program."""
    out = subprocess.run([binary, "--benchmark_format=json"], check=True, capture_output=True, text=True).stdout
    res = {}
    for b in json.loads(out)["benchmarks"]:
        threads = int(b["name"].split("threads:")[1].split("/")[0])
        res[threads] = (b["real_time"], b["train_loss"])  # seconds (Unit kSecond), mean of 3 epochs
    return res


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    x, y = data()
    cs = corespec_epoch_seconds(sys.argv[1])
    print(f"torch {torch.__version__}, one epoch = {ROWS // BATCH + 1} Adam steps of batch {BATCH}, "
          f"load average {os.getloadavg()[0]:.2f}")
    for threads in (1, 2):
        t, loss = torch_epoch_seconds(threads, x, y)
        c, c_loss = cs[threads]
        print(f"threads {threads}: corespec {c:.3f} s/epoch (last loss {c_loss:.4g}), PyTorch {t:.3f} s/epoch "
              f"(best of 3, last loss {loss:.4g}), corespec is {t / c:.2f}x faster")


if __name__ == "__main__":
    main()
