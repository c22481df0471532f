#!/usr/bin/env python3
"""One training epoch of the study-2 conv VAE (float32) on 8192 synthetic
two-peak spectra, batch 64, Adam (lr 1e-3), MSE reconstruction + 0.01 * KL,
shuffled: corespec (bench_train_vae) and PyTorch CPU (the module of
tools/make_nn_fixtures.py, a plain training loop) on 1 and 2 threads, in the
same run. Prints seconds per epoch and the ratios.

    /usr/bin/python3 benchmarks/compare_train_vae_torch.py build-bench/benchmarks/bench_train_vae
"""
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from make_nn_fixtures import Study2ConvVAE  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_train_torch import corespec_epoch_seconds  # noqa: E402

ROWS, LENGTH, BATCH, BETA, LATENT = 8192, 240, 64, 0.01, 16


def data():
    """The distribution bench_train_vae.cpp draws from (not the same draws)."""
    rng = np.random.default_rng(1)
    c1, c2 = rng.uniform(40, 100, (ROWS, 1)), rng.uniform(130, 210, (ROWS, 1))
    w, h2 = rng.uniform(4, 14, (ROWS, 1)), rng.uniform(0.5, 1.5, (ROWS, 1))
    e = np.arange(LENGTH)[None, :]
    x = 0.2 + np.exp(-0.5 * ((e - c1) / w) ** 2) + h2 * np.exp(-0.5 * ((e - c2) / w) ** 2)
    x += 0.05 * rng.uniform(-0.5, 0.5, x.shape)
    return torch.tensor(x.reshape(ROWS, 1, LENGTH), dtype=torch.float32)


def torch_epoch_seconds(threads, x, repeats=3):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    vae = Study2ConvVAE()
    opt = torch.optim.Adam(vae.parameters(), lr=1e-3)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        perm = torch.randperm(ROWS)
        for b in range(0, ROWS, BATCH):
            xb = x[perm[b:b + BATCH]]
            opt.zero_grad(set_to_none=True)
            h = vae.encoder(xb)
            mu, logvar = vae.mean(h), vae.logvar(h)
            z = mu + torch.exp(0.5 * logvar) * torch.randn(xb.shape[0], LATENT)
            rec = torch.nn.functional.mse_loss(vae.decoder(z), xb)
            kl = (-0.5 * (1 + logvar - mu * mu - logvar.exp()).sum(dim=1)).mean()
            loss = rec + BETA * kl
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - start)
    return min(times), float(loss)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    x = data()
    cs = corespec_epoch_seconds(sys.argv[1])
    print(f"torch {torch.__version__}, one epoch = {ROWS // BATCH} Adam steps of batch {BATCH}, study-2 conv VAE")
    for threads in (1, 2):
        t, loss = torch_epoch_seconds(threads, x)
        c, c_loss = cs[threads]
        print(f"threads {threads}: corespec {c:.3f} s/epoch (last loss {c_loss:.4g}), PyTorch {t:.3f} s/epoch "
              f"(best of 3, last loss {loss:.4g}), corespec is {t / c:.2f}x faster")


if __name__ == "__main__":
    main()
