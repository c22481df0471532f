#!/usr/bin/env python3
"""The tools a user runs against PyTorch, in one run, one thread
(docs/benchmarks.md, "The tools as built by the README"):

  nn_predict  study-1 MLP 702-128-64-8 (tests/data/nn/mlp_study1_f32), batch 4096 and batch 1
  nn_train    240-128-64-3 ReLU MLP, 16384 synthetic rows, batch 64, Adam 1e-3, MSE: s/epoch

for each build given (e.g. the README build, the same forced to AVX2 by
CORESPEC_KERNELS, a -march=native header-only build), PyTorch (Python,
torch.set_num_threads(1), OMP_NUM_THREADS=1, inference_mode) and, with
--libtorch, libtorch's C++ forward (benchmarks/peer_libtorch_mlp.cpp). The
variants alternate over --rounds rounds; medians are printed with the load
average, as one JSON object per measurement and a summary table.

  OMP_NUM_THREADS=1 /usr/bin/python3 benchmarks/compare_tools_torch.py \\
      --build readme=build/examples --build avx2=build/examples:avx2 --build native=build-native \\
      --libtorch build-bench/benchmarks/peer_libtorch_mlp
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "tests", "data", "nn", "mlp_study1_f32.safetensors")
TRAIN_ROWS, TRAIN_IN, TRAIN_OUT, BATCH = 16384, 240, 3, 64


def write_data(folder):
    rng = np.random.default_rng(3)
    x4096 = rng.uniform(0, 1, (4096, 702)).astype(np.float32)
    np.save(os.path.join(folder, "x4096.npy"), x4096)
    np.save(os.path.join(folder, "x1.npy"), x4096[:1])
    e0 = rng.uniform(60, 180, (TRAIN_ROWS, 1))
    j = np.arange(TRAIN_IN)[None, :]
    x = (1 / (1 + np.exp(-(j - e0) / 6)) + 0.05 * rng.uniform(-1, 1, (TRAIN_ROWS, TRAIN_IN))).astype(np.float32)
    y = np.sin(e0 / 40 + np.arange(TRAIN_OUT)[None, :]).astype(np.float32)
    np.save(os.path.join(folder, "train_x.npy"), x)
    np.save(os.path.join(folder, "train_y.npy"), y)
    arch = {"format": "corespec.nn", "version": 1, "dtype": "float32", "input_shape": [TRAIN_IN],
            "graph": {"type": "sequential", "layers": [
                {"type": "dense", "in_features": TRAIN_IN, "out_features": 128}, {"type": "relu"},
                {"type": "dense", "in_features": 128, "out_features": 64}, {"type": "relu"},
                {"type": "dense", "in_features": 64, "out_features": TRAIN_OUT}]}}
    with open(os.path.join(folder, "train_arch.json"), "w") as f:
        json.dump(arch, f)
    return x4096, x, y


def run_json(cmd, env_extra=None):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.update(env_extra or {})
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def corespec_predict(folder, tools, kernels, batch):
    x = os.path.join(folder, "x%d.npy" % batch)
    repeat = 40 if batch > 1 else 4000
    env = {"CORESPEC_KERNELS": kernels} if kernels else {}
    r = run_json([os.path.join(tools, "nn_predict"), MODEL, x, os.path.join(folder, "out.npy"), "--repeat", str(repeat)], env)
    return r["seconds_per_sample"] * 1e6, r["kernels"]


def corespec_train(folder, tools, kernels):
    env = {"CORESPEC_KERNELS": kernels} if kernels else {}
    r = run_json([os.path.join(tools, "nn_train"), os.path.join(folder, "train_arch.json"), os.path.join(folder, "train_x.npy"),
                  os.path.join(folder, "train_y.npy"), "--loss", "mse", "--epochs", "3", "--batch", str(BATCH), "--lr", "1e-3",
                  "--quiet", "--out", os.path.join(folder, "trained.safetensors")], env)
    return r["seconds_per_epoch"], r["kernels"]


def torch_mlp(sizes):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i + 2 < len(sizes):
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def torch_predict_us(model, x, min_time=0.3):
    with torch.inference_mode():
        model(x)
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < min_time:
            model(x)
            n += 1
        return (time.perf_counter() - t0) / n / x.shape[0] * 1e6


def torch_train_epoch_s(x, y):
    torch.manual_seed(0)
    model = torch_mlp([TRAIN_IN, 128, 64, TRAIN_OUT])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.MSELoss()
    t0 = time.perf_counter()
    perm = torch.randperm(x.shape[0])
    for k in range(0, x.shape[0], BATCH):
        idx = perm[k:k + BATCH]
        opt.zero_grad()
        loss = loss_fn(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", action="append", default=[],
                    help="NAME=DIR[:KERNELS]: a folder with nn_predict and nn_train, optionally run with CORESPEC_KERNELS")
    ap.add_argument("--libtorch", default="", help="benchmarks/peer_libtorch_mlp binary")
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(1)
    builds = []
    for b in a.build:
        name, rest = b.split("=", 1)
        folder, _, kernels = rest.partition(":")
        builds.append((name, folder, kernels))
    results = {}

    def record(key, value):
        results.setdefault(key, []).append(value)
        print(json.dumps({"what": key, "value": value, "load": os.getloadavg()[0]}), flush=True)

    with tempfile.TemporaryDirectory() as folder:
        x4096, tx, ty = write_data(folder)
        model = torch_mlp([702, 128, 64, 8]).eval()
        xt, tx, ty = torch.from_numpy(x4096), torch.from_numpy(tx), torch.from_numpy(ty)
        for _ in range(a.rounds):
            for name, tools, kernels in builds:
                for batch in (4096, 1):
                    us, ran = corespec_predict(folder, tools, kernels, batch)
                    record("nn_predict b%d us/spectrum, %s (%s)" % (batch, name, ran), us)
                s, ran = corespec_train(folder, tools, kernels)
                record("nn_train s/epoch, %s (%s)" % (name, ran), s)
            record("nn_predict b4096 us/spectrum, pytorch", torch_predict_us(model, xt))
            record("nn_predict b1 us/spectrum, pytorch (Python call)", torch_predict_us(model, xt[:1]))
            record("nn_train s/epoch, pytorch", torch_train_epoch_s(tx, ty))
            if a.libtorch:
                r = run_json([a.libtorch, "5"])
                record("nn_predict b1 us/spectrum, libtorch C++", r["batch1_us"])
                record("nn_predict b4096 us/spectrum, libtorch C++", r["batch4096_us_per_spectrum"])
    print("\n| what | median | runs |\n| --- | --- | --- |")
    for key, values in results.items():
        print("| %s | %.4g | %s |" % (key, statistics.median(values), ", ".join("%.4g" % v for v in values)))


if __name__ == "__main__":
    main()
