#!/usr/bin/python3
"""Regenerates the golden PyTorch fixtures under tests/data/nn/.

Each fixture is a corespec model file (see docs/model_format.md) written by
tools/export_torch.py: weights, architecture and a self-test batch (input and
PyTorch's output). The parity tests (tests/nn/test_torch_parity.cpp) load
every *.safetensors here and compare corespec's forward with the stored output.

    /usr/bin/python3 tools/make_nn_fixtures.py [OUT_DIR]

Deterministic (fixed seeds, torch.use_deterministic_algorithms); needs
python3-torch. Models: the study-1 MLP (702 -> 128 -> 64 -> 8, ReLU, dropout
0.1) and the study-2 conv VAE (240 channels, filters 16/32/32/64, kernels
7/7/3/3, stride 2, LeakyReLU 0.3, latent 16, transposed-conv decoder), both
in float32 and float64, plus every supported layer and activation alone.
"""

import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_torch import export  # noqa: E402


def study1_mlp(n_in=702, n_out=8):
    return nn.Sequential(nn.Linear(n_in, 128), nn.ReLU(), nn.Dropout(0.1),
                         nn.Linear(128, 64), nn.ReLU(), nn.Dropout(0.1),
                         nn.Linear(64, n_out))


class Study2ConvVAE(nn.Module):
    """The conv VAE of study 2: [batch, 1, 240] -> latent 16 -> [batch, 1, 240]."""

    def __init__(self, channels=240, latent=16, slope=0.3):
        super().__init__()
        filters, kernels = [16, 32, 32, 64], [7, 7, 3, 3]
        enc, c_in, length = [], 1, channels
        for f, k in zip(filters, kernels):
            enc += [nn.Conv1d(c_in, f, k, stride=2, padding=k // 2), nn.LeakyReLU(slope)]
            c_in, length = f, (length + 2 * (k // 2) - k) // 2 + 1
        enc.append(nn.Flatten())
        self.encoder = nn.Sequential(*enc)
        flat = c_in * length
        self.mean = nn.Sequential(nn.Linear(flat, latent))
        self.logvar = nn.Sequential(nn.Linear(flat, latent))
        dec = [nn.Linear(latent, flat), nn.LeakyReLU(slope), nn.Unflatten(1, (c_in, length))]
        rev_f, rev_k = filters[::-1][1:] + [1], kernels[::-1]
        for i, (f, k) in enumerate(zip(rev_f, rev_k)):
            dec.append(nn.ConvTranspose1d(c_in, f, k, stride=2, padding=k // 2, output_padding=1))
            if i + 1 < len(rev_f):
                dec.append(nn.LeakyReLU(slope))
            c_in = f
        self.decoder = nn.Sequential(*dec)

    def forward(self, x):
        return self.decoder(self.mean(self.encoder(x)))


def randomize_norm(module, gen):
    """Non-trivial BatchNorm/LayerNorm/PReLU parameters (defaults are 1 and 0)."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.5)
                m.running_var.copy_(torch.rand(m.num_features, generator=gen) * 1.5 + 0.25)
                if m.affine:
                    m.weight.copy_(torch.randn(m.num_features, generator=gen) * 0.5 + 1.0)
                    m.bias.copy_(torch.randn(m.num_features, generator=gen) * 0.3)
            elif isinstance(m, nn.LayerNorm) and m.elementwise_affine:
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * 0.5 + 1.0)
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.3)
            elif isinstance(m, nn.PReLU):
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) * 0.5)
    return module


def layer_cases():
    """(name, module, per-sample input shape, input scale) for every layer alone."""
    acts = [("relu", nn.ReLU()), ("leaky_relu", nn.LeakyReLU(0.3)), ("prelu", nn.PReLU()),
            ("prelu_channels", nn.PReLU(37)), ("elu", nn.ELU(0.7)), ("gelu", nn.GELU()),
            ("gelu_tanh", nn.GELU(approximate="tanh")), ("silu", nn.SiLU()), ("tanh", nn.Tanh()),
            ("sigmoid", nn.Sigmoid()), ("softplus", nn.Softplus()),
            ("softmax", nn.Softmax(dim=-1))]
    cases = [(f"act_{n}", m, [37], 6.0) for n, m in acts]
    cases += [
        ("dense", nn.Linear(23, 11), [23], 1.0),
        ("dense_nobias", nn.Linear(23, 11, bias=False), [23], 1.0),
        ("conv1d_valid", nn.Conv1d(3, 5, 5), [3, 40], 1.0),
        ("conv1d_same", nn.Conv1d(3, 5, 5, padding="same"), [3, 40], 1.0),
        ("conv1d_stride2_pad3", nn.Conv1d(2, 6, 7, stride=2, padding=3), [2, 41], 1.0),
        ("conv1d_dilation2", nn.Conv1d(3, 4, 3, dilation=2, padding=2), [3, 30], 1.0),
        ("conv1d_groups2", nn.Conv1d(4, 6, 3, groups=2, bias=False), [4, 25], 1.0),
        ("conv_transpose1d", nn.ConvTranspose1d(4, 3, 3, stride=2, padding=1, output_padding=1), [4, 15], 1.0),
        ("conv_transpose1d_k7", nn.ConvTranspose1d(2, 3, 7, stride=2, padding=3, output_padding=1), [2, 20], 1.0),
        ("conv_transpose1d_dil_groups", nn.ConvTranspose1d(4, 6, 3, stride=3, dilation=2, groups=2), [4, 9], 1.0),
        ("batch_norm1d", nn.BatchNorm1d(5), [5, 12], 1.0),
        ("batch_norm1d_features", nn.BatchNorm1d(9), [9], 1.0),
        ("conv1d_batch_norm", nn.Sequential(nn.Conv1d(3, 5, 3, padding=1), nn.BatchNorm1d(5), nn.ReLU()), [3, 20], 1.0),
        ("dense_batch_norm", nn.Sequential(nn.Linear(12, 7), nn.BatchNorm1d(7), nn.ReLU()), [12], 1.0),
        ("layer_norm", nn.LayerNorm(19), [19], 2.0),
        ("max_pool1d", nn.MaxPool1d(3, stride=2, padding=1), [3, 21], 1.0),
        ("avg_pool1d", nn.AvgPool1d(4, stride=2), [3, 21], 1.0),
        ("avg_pool1d_pad", nn.AvgPool1d(3, stride=2, padding=1), [3, 21], 1.0),
        ("global_avg_pool1d", nn.Sequential(nn.AdaptiveAvgPool1d(1), nn.Flatten()), [4, 17], 1.0),
        ("global_avg_pool1d_keepdim", nn.AdaptiveAvgPool1d(1), [4, 17], 1.0),
        ("conv1d_softmax", nn.Sequential(nn.Conv1d(2, 3, 3), nn.Softmax(dim=-1)), [2, 12], 3.0),
        ("flatten", nn.Flatten(), [3, 8], 1.0),
        ("reshape", nn.Unflatten(1, (4, 6)), [24], 1.0),
        ("dropout", nn.Dropout(0.25), [16], 1.0),
    ]
    return cases


def main(out_dir=None):
    here = os.path.dirname(os.path.abspath(__file__))
    out_dir = out_dir or os.path.join(here, "..", "tests", "data", "nn")
    os.makedirs(out_dir, exist_ok=True)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    written = []

    def put(name, module, x, dtype, **kw):
        path = os.path.join(out_dir, f"{name}_{'f32' if dtype == torch.float32 else 'f64'}.safetensors")
        export(module.to(dtype), path, example_input=x.to(dtype), **kw)
        written.append(path)

    for dtype in (torch.float32, torch.float64):
        # Study 1: min-max normalised spectra in [0, 1].
        torch.manual_seed(1)
        mlp = study1_mlp()
        x = torch.rand(3, 702, dtype=torch.float64)
        put("mlp_study1", mlp, x, dtype, description="study-1 MLP 702-128-64-8, ReLU, dropout 0.1")

        # Study 2: the conv VAE; golden latent mean / log-variance and decoder output too.
        torch.manual_seed(2)
        vae = Study2ConvVAE().to(dtype).eval()
        x = torch.rand(3, 1, 240, dtype=dtype)
        with torch.no_grad():
            h = vae.encoder(x)
            mu, logvar = vae.mean(h), vae.logvar(h)
            z = torch.randn(3, 16, generator=torch.Generator().manual_seed(3), dtype=dtype)
            decoded = vae.decoder(z)
        put("vae_study2", vae, x, dtype, description="study-2 conv VAE 240-16-240",
            extra_tensors={"golden.mean": mu.numpy(), "golden.logvar": logvar.numpy(),
                           "golden.z": z.numpy(), "golden.decoded": decoded.numpy()})

        # Every layer and activation alone (batch 3).
        gen = torch.Generator().manual_seed(4)
        for name, module, shape, scale in layer_cases():
            torch.manual_seed(5)
            module = randomize_norm(module.to(dtype).eval(), gen)
            x = (torch.rand(3, *shape, generator=gen, dtype=torch.float64) * 2 - 1) * scale
            put(name, module, x, dtype)

    # NPY inputs and PyTorch outputs for the nn_predict example tests.
    import numpy as np
    from export_torch import read_safetensors
    npy_dir = os.path.join(out_dir, "npy")
    os.makedirs(npy_dir, exist_ok=True)
    for name in ("mlp_study1_f32", "vae_study2_f64"):
        tensors = read_safetensors(os.path.join(out_dir, name + ".safetensors"))
        for kind in ("input", "output"):
            path = os.path.join(npy_dir, f"{name}_{kind}.npy")
            np.save(path, tensors[f"selftest.{kind}"])
            written.append(path)

    # Fuzz seeds: the small model files, and every architecture JSON.
    import json
    import shutil
    fuzz_dir = os.path.join(here, "..", "tests", "fuzz", "corpus")
    st_dir, js_dir = os.path.join(fuzz_dir, "fuzz_safetensors"), os.path.join(fuzz_dir, "fuzz_model_json")
    for d in (st_dir, js_dir):
        os.makedirs(d, exist_ok=True)
    for path in sorted(p for p in written if p.endswith("_f32.safetensors")):
        name = os.path.basename(path)[:-len(".safetensors")]
        if os.path.getsize(path) <= 4096:
            shutil.copyfile(path, os.path.join(st_dir, name + ".safetensors"))
        with open(path, "rb") as f:
            data = f.read()
        header = json.loads(data[8:8 + int.from_bytes(data[:8], "little")])
        with open(os.path.join(js_dir, name + ".json"), "w") as f:
            f.write(header["__metadata__"]["corespec.model"])

    total = sum(os.path.getsize(p) for p in written)
    print(f"make_nn_fixtures: wrote {len(written)} files, {total / 1e6:.2f} MB, to {os.path.normpath(out_dir)}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
