#!/usr/bin/env python3
"""Golden training trajectories with PyTorch, for tests/nn/test_train_parity.cpp:
the reference MLP (702 -> 128 -> 64 -> 8, ReLU; mlp_adam.json), the study-2
conv VAE (vae_adam.json) and two small BatchNorm1d models whose running
statistics are compared too (batch_norm.json). Also writes the small tasks of
the nn_train / nn_explain example tests (window_*.npy, window_arch.json,
two_heads.safetensors).

Data and initial weights come from a counter-based hash (splitmix64) that
the C++ test computes identically, so the fixture stays small: it holds the
loss of each of the 100 Adam steps and a strided sample (plus sum and norm)
of every final parameter tensor, in float32 and float64.

The VAE and BatchNorm fixtures use the same generator for data, initial
weights and the reparameterisation noise eps (Box-Muller on u01 pairs), so
the C++ test recreates all of them and injects the same eps.

Run with Debian's Python (python3-torch):
    /usr/bin/python3 tools/make_training_fixtures.py [tests/data/train/mlp_adam.json]
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

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


def normal(n, salt):
    """n standard normal values: Box-Muller on pairs (u01(2n, salt)[2i], [2i + 1])."""
    u = u01(2 * n, salt)
    return np.sqrt(-2.0 * np.log1p(-u[0::2])) * np.cos(2.0 * np.pi * u[1::2])


def hash_init(module, salt):
    """Every floating tensor of the state_dict that is a weight or bias, in
    order k = 0, 1, ...: (2 u01(numel, salt + k) - 1) * bound, cast to
    float32, where bound = 1 / sqrt(numel / shape[0]) of the weight (a bias
    uses the bound of the weight before it). Buffers keep their defaults."""
    bound = 1.0
    with torch.no_grad():
        k = 0
        for name, t in module.named_parameters():
            if name.endswith("weight"):
                bound = 1.0 / np.sqrt(t.numel() / t.shape[0])
            v = (2 * u01(t.numel(), salt + k) - 1) * bound
            t.copy_(torch.from_numpy(v.astype(np.float32).reshape(t.shape)))
            k += 1
    return module


def tensor_summary(state):
    params = {}
    for name, p in state.items():
        if name.endswith("num_batches_tracked"):
            continue
        flat = p.detach().to(torch.float64).numpy().ravel()
        stride = max(1, flat.size // SAMPLES_PER_TENSOR)
        params[name] = {
            "shape": list(p.shape),
            "stride": stride,
            "samples": [float(v) for v in flat[::stride]],
            "sum": float(flat.sum()),
            "norm": float(np.sqrt((flat * flat).sum())),
        }
    return params


# --- study-2 VAE ------------------------------------------------------------
VAE_ROWS, VAE_BATCH, VAE_EPOCHS, VAE_BETA, VAE_LR = 8, 4, 50, 0.01, 1e-3


def vae_data():
    """Spectrum-like rows: two Gaussian peaks with hashed positions/widths on
    a 0.2 baseline plus 5 % uniform noise, [rows, 1, 240]."""
    e = np.arange(240, dtype=np.float64)
    r = u01(VAE_ROWS * 4, 20).reshape(VAE_ROWS, 4)
    noise = u01(VAE_ROWS * 240, 21).reshape(VAE_ROWS, 240)
    x = np.empty((VAE_ROWS, 240))
    for i in range(VAE_ROWS):
        c1, c2, w = 40 + 60 * r[i, 0], 130 + 80 * r[i, 1], 4 + 10 * r[i, 2]
        x[i] = 0.2 + np.exp(-0.5 * ((e - c1) / w) ** 2) + (0.5 + r[i, 3]) * np.exp(-0.5 * ((e - c2) / w) ** 2)
        x[i] += 0.05 * (noise[i] - 0.5)
    return x.astype(np.float32).reshape(VAE_ROWS, 1, 240)


def run_vae(dtype):
    from make_nn_fixtures import Study2ConvVAE
    torch.manual_seed(0)
    vae = hash_init(Study2ConvVAE(), 200).to(dtype)
    x = torch.from_numpy(vae_data()).to(dtype)
    opt = torch.optim.Adam(vae.parameters(), lr=VAE_LR)
    losses, recon, kl = [], [], []
    step = 0
    for _ in range(VAE_EPOCHS):
        for b in range(0, VAE_ROWS, VAE_BATCH):
            xb = x[b:b + VAE_BATCH]
            eps = torch.from_numpy(normal(xb.shape[0] * 16, 1000 + step).astype(np.float32).reshape(-1, 16)).to(dtype)
            opt.zero_grad()
            h = vae.encoder(xb)
            mu, logvar = vae.mean(h), vae.logvar(h)
            z = mu + torch.exp(0.5 * logvar) * eps
            rec = torch.nn.functional.mse_loss(vae.decoder(z), xb)
            k = (-0.5 * (1 + logvar - mu * mu - logvar.exp()).sum(dim=1)).mean()
            loss = rec + VAE_BETA * k
            loss.backward()
            opt.step()
            losses.append(float(loss)), recon.append(float(rec)), kl.append(float(k))
            step += 1
    return {"losses": losses, "reconstruction": recon, "kl": kl, "parameters": tensor_summary(vae.state_dict())}


# --- BatchNorm1d running statistics ----------------------------------------
BN_ROWS, BN_BATCH, BN_EPOCHS, BN_LR = 24, 8, 4, 1e-2


def bn_models():
    nn = torch.nn
    dense = nn.Sequential(nn.Linear(6, 5, bias=False), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 2))
    conv = nn.Sequential(nn.Conv1d(2, 4, 3, padding=1, bias=False), nn.BatchNorm1d(4), nn.ReLU(), nn.Flatten(), nn.Linear(40, 3))
    return {"dense": (dense, [6], [2]), "conv": (conv, [2, 10], [3])}


def run_batch_norm(dtype):
    out = {}
    for salt, (name, (model, xs, ys)) in enumerate(bn_models().items()):
        torch.manual_seed(0)
        model = hash_init(model, 300 + 10 * salt).to(dtype).train()
        nx, ny = int(np.prod(xs)), int(np.prod(ys))
        x = torch.from_numpy((2 * u01(BN_ROWS * nx, 40 + salt) - 1).astype(np.float32).reshape(BN_ROWS, *xs)).to(dtype)
        y = torch.from_numpy(u01(BN_ROWS * ny, 50 + salt).astype(np.float32).reshape(BN_ROWS, *ys)).to(dtype)
        opt = torch.optim.Adam(model.parameters(), lr=BN_LR)
        losses = []
        for _ in range(BN_EPOCHS):
            for b in range(0, BN_ROWS, BN_BATCH):
                opt.zero_grad()
                loss = torch.nn.functional.mse_loss(model(x[b:b + BN_BATCH]), y[b:b + BN_BATCH])
                loss.backward()
                opt.step()
                losses.append(float(loss))
        model.eval()
        with torch.no_grad():
            eval_out = model(x[:4]).to(torch.float64).numpy().ravel().tolist()
        out[name] = {"losses": losses, "parameters": tensor_summary(model.state_dict()), "eval_output": eval_out}
    return out


def write_two_heads(folder):
    """A two-head model for the nn_explain example test, weights by hand on
    the window task's 40 bins: head "window" averages bins 10..17, head
    "tail" bins 30..35 (trunk: identity-like ReLU layer on a positive input)."""
    from export_torch import export
    nn = torch.nn

    class TwoHeads(nn.Module):
        def __init__(self):
            super().__init__()
            self.trunk = nn.Sequential(nn.Linear(40, 40), nn.ReLU())
            self.heads = nn.ModuleDict({"window": nn.Sequential(nn.Linear(40, 1)),
                                        "tail": nn.Sequential(nn.Linear(40, 2))})

    m = TwoHeads()
    with torch.no_grad():
        m.trunk[0].weight.copy_(torch.eye(40)), m.trunk[0].bias.zero_()
        w = torch.zeros(1, 40)
        w[0, 10:18] = 1.0 / 8
        m.heads["window"][0].weight.copy_(w), m.heads["window"][0].bias.zero_()
        w = torch.zeros(2, 40)
        w[0, 30:36] = 1.0 / 6
        w[1, 0:4] = 1.0 / 4
        m.heads["tail"][0].weight.copy_(w), m.heads["tail"][0].bias.zero_()
    x = torch.from_numpy(np.load(folder + "/window_x.npy")[:2])
    export(m, folder + "/two_heads.safetensors", example_input=x, description="two heads on the window task (nn_explain test)")


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
    return {"losses": losses, "parameters": tensor_summary(model.state_dict())}


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
    folder = out.rsplit("/", 1)[0] if "/" in out else "."
    write_window_task(folder)
    write_two_heads(folder)
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

    provenance = doc["provenance"]
    vae = {
        "provenance": provenance,
        "conventions": {
            "model": "Study2ConvVAE of tools/make_nn_fixtures.py (Conv1d 16/32/32/64, kernels 7/7/3/3, stride 2, "
                     "padding k//2, LeakyReLU 0.3, latent 16, ConvTranspose1d mirror)",
            "init": "hash_init(salt 200): parameter k (state_dict order) = (2 u01(numel, 200 + k) - 1) * bound, "
                    "bound = 1/sqrt(numel/shape[0]) of the weight, float32",
            "data": "vae_data(): 8 rows [1, 240], two hashed Gaussian peaks + noise (u01 salts 20, 21), float32",
            "eps": "step s (0-based): normal(batch*16, 1000 + s) as float32, row-major [batch, 16]; "
                   "normal = Box-Muller sqrt(-2 log(1 - u[2i])) cos(2 pi u[2i+1]) on u01(2n, salt)",
            "training": "loss = MSE(decoder(mu + exp(logvar/2) eps), x) (mean) + beta * mean_batch(sum_latent KL), "
                        "Adam(lr=1e-3), batches of 4 rows in order, 50 epochs = 100 steps",
            "losses": "total / reconstruction / kl of each step before its update",
        },
        "rows": VAE_ROWS, "batch": VAE_BATCH, "epochs": VAE_EPOCHS, "beta": VAE_BETA, "lr": VAE_LR,
        "float32": run_vae(torch.float32),
        "float64": run_vae(torch.float64),
    }
    path = folder + "/vae_adam.json"
    with open(path, "w") as f:
        json.dump(vae, f, indent=1)
    print("wrote", path)

    bn = {
        "provenance": provenance,
        "conventions": {
            "models": "dense: Linear(6,5,bias=False), BatchNorm1d(5), ReLU, Linear(5,2); "
                      "conv: Conv1d(2,4,3,padding=1,bias=False), BatchNorm1d(4), ReLU, Flatten, Linear(40,3)",
            "init": "hash_init(salt 300 dense, 310 conv); BatchNorm weight/bias hashed too, running stats default",
            "data": "x = 2 u01 - 1 (salts 40, 41), y = u01 (salts 50, 51), float32; 24 rows",
            "training": "train mode, MSE, Adam(lr=1e-2), batches of 8 in order, 4 epochs = 12 steps",
            "eval_output": "eval-mode output on the first 4 rows after training (uses the running statistics)",
        },
        "rows": BN_ROWS, "batch": BN_BATCH, "epochs": BN_EPOCHS, "lr": BN_LR,
        "float32": run_batch_norm(torch.float32),
        "float64": run_batch_norm(torch.float64),
    }
    path = folder + "/batch_norm.json"
    with open(path, "w") as f:
        json.dump(bn, f, indent=1)
    print("wrote", path)


if __name__ == "__main__":
    main()
