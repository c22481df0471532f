#!/usr/bin/env python3
"""Golden training trajectory of the reference MLP (702 -> 128 -> 64 -> 8,
ReLU) with PyTorch, for tests/nn/test_train_parity.cpp.

Data and initial weights come from a counter-based hash (splitmix64) that
the C++ test computes identically, so the fixture stays small: it holds the
loss of each of the 100 Adam steps and a strided sample (plus sum and norm)
of every final parameter tensor, in float32 and float64.

Run with Debian's Python (python3-torch):
    /usr/bin/python3 tools/make_training_fixtures.py [tests/data/train/mlp_adam.json]
"""
import json
import sys

import numpy as np
import torch

SIZES = [702, 128, 64, 8]
ROWS, BATCH, EPOCHS = 320, 32, 10
LR, WEIGHT_DECAY = 1e-3, 1e-5
SAMPLES_PER_TENSOR = 64

M64 = (1 << 64) - 1


def u01(n, salt):
    """n values in [0, 1): splitmix64 of (i + salt * golden), top 53 bits."""
    with np.errstate(over="ignore"):
        z = np.arange(n, dtype=np.uint64) + np.uint64((salt * 0x9E3779B97F4A7C15) & M64)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53


def initial_model(dtype):
    layers = []
    for i in range(len(SIZES) - 1):
        lin = torch.nn.Linear(SIZES[i], SIZES[i + 1])
        bound = 1.0 / np.sqrt(SIZES[i])
        w = (2 * u01(SIZES[i + 1] * SIZES[i], 100 + 2 * i) - 1) * bound
        b = (2 * u01(SIZES[i + 1], 101 + 2 * i) - 1) * bound
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w.astype(np.float32).reshape(SIZES[i + 1], SIZES[i])))
            lin.bias.copy_(torch.from_numpy(b.astype(np.float32)))
        layers.append(lin)
        if i + 2 < len(SIZES):
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers).to(dtype)


def run(dtype):
    torch.manual_seed(0)
    x = torch.from_numpy(u01(ROWS * SIZES[0], 1).astype(np.float32).reshape(ROWS, SIZES[0])).to(dtype)
    y = torch.from_numpy(u01(ROWS * SIZES[-1], 2).astype(np.float32).reshape(ROWS, SIZES[-1])).to(dtype)
    model = initial_model(dtype)
    opt = torch.optim.Adam(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    loss_fn = torch.nn.MSELoss()
    losses = []
    for _ in range(EPOCHS):
        for b in range(0, ROWS, BATCH):
            opt.zero_grad()
            loss = loss_fn(model(x[b:b + BATCH]), y[b:b + BATCH])
            loss.backward()
            opt.step()
            losses.append(float(loss))
    params = {}
    for name, p in model.state_dict().items():
        flat = p.detach().to(torch.float64).numpy().ravel()
        stride = max(1, flat.size // SAMPLES_PER_TENSOR)
        params[name] = {
            "shape": list(p.shape),
            "stride": stride,
            "samples": [float(v) for v in flat[::stride]],
            "sum": float(flat.sum()),
            "norm": float(np.sqrt((flat * flat).sum())),
        }
    return {"losses": losses, "parameters": params}


def write_window_task(folder):
    """A small task for the nn_train / nn_explain example tests: 40 bins on
    an energy axis 850 + 0.5 i eV, mean spectrum + uniform noise; y is the mean
    deviation of bins 10..17 (855-858.5 eV) from the mean spectrum, times 4."""
    n, f = 256, 40
    e = 850 + 0.5 * np.arange(f)
    base = 0.2 + 0.8 / (1 + np.exp(-(e - 856) / 1.0))
    x = (base + 0.6 * (u01(n * f, 3).reshape(n, f) - 0.5)).astype(np.float32)
    y = (4 * (x[:, 10:18] - base[10:18]).mean(axis=1, keepdims=True)).astype(np.float32)
    np.save(folder + "/window_x.npy", x)
    np.save(folder + "/window_y.npy", y)
    arch = {
        "format": "corespec.nn", "version": 1, "dtype": "float32", "input_shape": [f],
        "description": "window task MLP for the nn_train example test",
        "graph": {"type": "sequential", "layers": [
            {"type": "dense", "in_features": f, "out_features": 16, "params": {"weight": "0.weight", "bias": "0.bias"}},
            {"type": "relu"},
            {"type": "dense", "in_features": 16, "out_features": 1, "params": {"weight": "2.weight", "bias": "2.bias"}},
        ]},
    }
    with open(folder + "/window_arch.json", "w") as fh:
        json.dump(arch, fh, indent=1)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/data/train/mlp_adam.json"
    write_window_task(out.rsplit("/", 1)[0] if "/" in out else ".")
    torch.set_num_threads(1)
    doc = {
        "provenance": {
            "generator": "tools/make_training_fixtures.py",
            "torch": torch.__version__,
            "numpy": np.__version__,
        },
        "conventions": {
            "model": "Sequential(Linear(702,128), ReLU, Linear(128,64), ReLU, Linear(64,8))",
            "init": "weight/bias = (2 u01(n, salt) - 1) / sqrt(fan_in) cast to float32, salts 100+2i / 101+2i, row-major [out, in]",
            "data": "x = u01(320*702, 1), y = u01(320*8, 2) cast to float32, row-major",
            "u01": "splitmix64(i + salt * 0x9E3779B97F4A7C15) >> 11 times 2^-53",
            "training": "MSELoss (mean), Adam(lr=1e-3, weight_decay=1e-5), batches of 32 rows in order, 10 epochs = 100 steps",
            "losses": "loss of each step before its update",
            "parameters": "final state_dict; samples = flat[::stride]",
        },
        "sizes": SIZES, "rows": ROWS, "batch": BATCH, "epochs": EPOCHS, "lr": LR, "weight_decay": WEIGHT_DECAY,
        "float32": run(torch.float32),
        "float64": run(torch.float64),
    }
    with open(out, "w") as f:
        json.dump(doc, f, indent=1)
    print("wrote", out)


if __name__ == "__main__":
    main()
