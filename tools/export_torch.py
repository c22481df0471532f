#!/usr/bin/python3
"""Export a PyTorch nn.Module to the corespec model format (docs/model_format.md).

A corespec model file is one safetensors file: the weights are its tensors
(named as in the module's state_dict) and the architecture JSON is stored in
its ``__metadata__`` under ``corespec.model``. With an example input the file
also carries a self-test: the input and PyTorch's output for it, checked by
corespec's loader at load time.

Supported modules (nested nn.Sequential containers are flattened):
  Linear, Conv1d, ConvTranspose1d, BatchNorm1d, LayerNorm (last dimension),
  MaxPool1d, AvgPool1d, AdaptiveAvgPool1d(1), Flatten, Unflatten, Dropout,
  ReLU, LeakyReLU, PReLU, ELU, GELU, SiLU, Tanh, Sigmoid, Softplus, Softmax.
Model graphs:
  * an nn.Sequential (or a single supported layer)          -> "sequential"
  * a module with submodules ``encoder``, ``mean``, ``logvar`` and
    ``decoder`` (a VAE; output = decoder(mean(encoder(x))))  -> "vae"
  * a module with ``trunk`` and ``heads`` (nn.ModuleDict)    -> "multi_head"
    (output = the heads' outputs concatenated along features, in order)

Use from Python:
    from export_torch import export
    export(model, "model.safetensors", example_input=torch.rand(4, 702))
or from the command line with a module saved by torch.save(model, path):
    /usr/bin/python3 tools/export_torch.py model.pt model.safetensors --input-shape 702 --batch 4

Runs with Debian's /usr/bin/python3 (python3-torch, numpy).
"""

import argparse
import json
import struct
import sys

import numpy as np
import torch
from torch import nn

FORMAT = "corespec.nn"
VERSION = 1
METADATA_KEY = "corespec.model"

_DTYPES = {torch.float32: ("float32", "F32", "<f4"), torch.float64: ("float64", "F64", "<f8")}


class ExportError(ValueError):
    """The module contains something the corespec format cannot express."""


# --------------------------------------------------------------------------
# safetensors writer (the safetensors Python package is not in Debian 12)

def write_safetensors(path, tensors, metadata=None):
    """Writes ``tensors`` (an ordered dict name -> numpy array) to ``path``."""
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    chunks = []
    offset = 0
    for name, array in tensors.items():
        array = np.ascontiguousarray(array)
        if array.dtype == np.float32:
            dtype, raw = "F32", array.astype("<f4").tobytes()
        elif array.dtype == np.float64:
            dtype, raw = "F64", array.astype("<f8").tobytes()
        else:
            raise ExportError(f"tensor {name}: dtype {array.dtype} is not float32/float64")
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)  # 8-byte aligned buffer
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in chunks:
            f.write(raw)


def read_safetensors(path):
    """The tensors of a safetensors file (F32/F64 only) as a dict of numpy arrays."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        dtype = {"F32": "<f4", "F64": "<f8"}[entry["dtype"]]
        out[name] = np.frombuffer(data[8 + n + begin:8 + n + end], dtype=dtype).reshape(entry["shape"])
    return out


# --------------------------------------------------------------------------
# module -> architecture JSON

def _int(v):
    if isinstance(v, (tuple, list)):
        if len(v) != 1:
            raise ExportError(f"expected a 1-d hyper-parameter, got {v}")
        v = v[0]
    return int(v)


def _params(prefix, module, names):
    return {n: f"{prefix}{n}" for n in names if getattr(module, n, None) is not None}


def _layer_config(module, prefix, shapes=None):
    """The architecture JSON of one leaf module (prefix: its state_dict prefix;
    shapes: module -> input shape seen on the example input, if any)."""
    m = module
    if isinstance(m, nn.Linear):
        return {"type": "dense", "in_features": m.in_features, "out_features": m.out_features,
                "bias": m.bias is not None, "params": _params(prefix, m, ["weight", "bias"])}
    if isinstance(m, nn.Conv1d):
        if m.padding_mode != "zeros":
            raise ExportError(f"{prefix}: Conv1d padding_mode '{m.padding_mode}' is not supported")
        padding = m.padding if isinstance(m.padding, str) else _int(m.padding)
        return {"type": "conv1d", "in_channels": m.in_channels, "out_channels": m.out_channels,
                "kernel_size": _int(m.kernel_size), "stride": _int(m.stride), "padding": padding,
                "dilation": _int(m.dilation), "groups": m.groups, "bias": m.bias is not None,
                "params": _params(prefix, m, ["weight", "bias"])}
    if isinstance(m, nn.ConvTranspose1d):
        if m.padding_mode != "zeros":
            raise ExportError(f"{prefix}: ConvTranspose1d padding_mode '{m.padding_mode}' is not supported")
        return {"type": "conv_transpose1d", "in_channels": m.in_channels, "out_channels": m.out_channels,
                "kernel_size": _int(m.kernel_size), "stride": _int(m.stride), "padding": _int(m.padding),
                "output_padding": _int(m.output_padding), "dilation": _int(m.dilation), "groups": m.groups,
                "bias": m.bias is not None, "params": _params(prefix, m, ["weight", "bias"])}
    if isinstance(m, nn.BatchNorm1d):
        if not m.track_running_stats or m.running_mean is None:
            raise ExportError(f"{prefix}: BatchNorm1d without running statistics cannot run at inference")
        return {"type": "batch_norm1d", "num_features": m.num_features, "eps": float(m.eps),
                "affine": bool(m.affine),
                "params": _params(prefix, m, ["weight", "bias", "running_mean", "running_var"])}
    if isinstance(m, nn.LayerNorm):
        if len(m.normalized_shape) != 1:
            raise ExportError(f"{prefix}: LayerNorm over more than the last dimension is not supported")
        return {"type": "layer_norm", "normalized_shape": int(m.normalized_shape[0]), "eps": float(m.eps),
                "elementwise_affine": bool(m.elementwise_affine),
                "params": _params(prefix, m, ["weight", "bias"])}
    if isinstance(m, (nn.MaxPool1d, nn.AvgPool1d)):
        kind = "max_pool1d" if isinstance(m, nn.MaxPool1d) else "avg_pool1d"
        if m.ceil_mode:
            raise ExportError(f"{prefix}: ceil_mode pooling is not supported")
        cfg = {"type": kind, "kernel_size": _int(m.kernel_size),
               "stride": _int(m.stride if m.stride is not None else m.kernel_size), "padding": _int(m.padding)}
        if isinstance(m, nn.MaxPool1d):
            if _int(m.dilation) != 1 or m.return_indices:
                raise ExportError(f"{prefix}: MaxPool1d with dilation or indices is not supported")
        else:
            cfg["count_include_pad"] = bool(m.count_include_pad)
        return cfg
    if isinstance(m, nn.AdaptiveAvgPool1d):
        # corespec's global_avg_pool1d gives [batch, channels] (PyTorch: [batch, channels, 1]);
        # _sequential merges it with a following Flatten, else a reshape restores the 1.
        if _int(m.output_size) != 1:
            raise ExportError(f"{prefix}: only AdaptiveAvgPool1d(1) (global average) is supported")
        shape = (shapes or {}).get(m)
        if shape is None:
            raise ExportError(f"{prefix}: AdaptiveAvgPool1d(1) not followed by Flatten needs an example input")
        return [{"type": "global_avg_pool1d"}, {"type": "reshape", "shape": [int(shape[1]), 1]}]
    if isinstance(m, nn.Flatten):
        if m.start_dim != 1 or m.end_dim != -1:
            raise ExportError(f"{prefix}: only Flatten(1, -1) is supported")
        return {"type": "flatten"}
    if isinstance(m, nn.Unflatten):
        if m.dim not in (1, -1):
            raise ExportError(f"{prefix}: only Unflatten of the feature dimension is supported")
        return {"type": "reshape", "shape": [int(d) for d in m.unflattened_size]}
    if isinstance(m, nn.Dropout):
        return {"type": "dropout", "p": float(m.p)}
    if isinstance(m, nn.Identity):
        return None
    if isinstance(m, nn.ReLU):
        return {"type": "relu"}
    if isinstance(m, nn.LeakyReLU):
        return {"type": "leaky_relu", "negative_slope": float(m.negative_slope)}
    if isinstance(m, nn.PReLU):
        return {"type": "prelu", "num_parameters": int(m.num_parameters), "params": _params(prefix, m, ["weight"])}
    if isinstance(m, nn.ELU):
        return {"type": "elu", "alpha": float(m.alpha)}
    if isinstance(m, nn.GELU):
        return {"type": "gelu", "approximate": m.approximate}
    if isinstance(m, nn.SiLU):
        return {"type": "silu"}
    if isinstance(m, nn.Tanh):
        return {"type": "tanh"}
    if isinstance(m, nn.Sigmoid):
        return {"type": "sigmoid"}
    if isinstance(m, nn.Softplus):
        return {"type": "softplus", "beta": float(m.beta), "threshold": float(m.threshold)}
    if isinstance(m, nn.Softmax):
        # corespec's softmax runs over the last dimension.
        shape = (shapes or {}).get(m)
        rank = len(shape) if shape is not None else 2
        if m.dim is None or m.dim % rank != rank - 1 or (shape is None and m.dim != -1):
            raise ExportError(f"{prefix}: only Softmax over the last dimension is supported (dim=-1)")
        return {"type": "softmax"}
    raise ExportError(f"{prefix or 'module'}: {type(m).__name__} is not a supported layer")


def _sequential(module, prefix, shapes=None):
    """{"type": "sequential", "layers": [...]} for a Sequential or a single layer."""
    leaves = []

    def walk(m, p):
        if isinstance(m, nn.Sequential):
            for name, child in m.named_children():
                walk(child, f"{p}{name}.")
        else:
            leaves.append((m, p))

    walk(module, prefix)
    layers = []
    i = 0
    while i < len(leaves):
        m, p = leaves[i]
        nxt = leaves[i + 1][0] if i + 1 < len(leaves) else None
        if isinstance(m, nn.AdaptiveAvgPool1d) and isinstance(nxt, nn.Flatten) and _int(m.output_size) == 1:
            layers.append({"type": "global_avg_pool1d"})  # pool + flatten = corespec's [batch, channels]
            i += 2
            continue
        cfg = _layer_config(m, p, shapes)
        if isinstance(cfg, list):
            layers.extend(cfg)
        elif cfg is not None:
            layers.append(cfg)
        i += 1
    return {"type": "sequential", "layers": layers}


def architecture(module, shapes=None):
    """The architecture JSON (a dict) of ``module``, without dtype and shapes.
    shapes: module -> input shape, recorded on an example input (optional)."""
    if all(hasattr(module, n) for n in ("encoder", "mean", "logvar", "decoder")):
        return {"type": "vae",
                "encoder": _sequential(module.encoder, "encoder.", shapes),
                "mean": _sequential(module.mean, "mean.", shapes),
                "logvar": _sequential(module.logvar, "logvar.", shapes),
                "decoder": _sequential(module.decoder, "decoder.", shapes)}
    if hasattr(module, "trunk") and isinstance(getattr(module, "heads", None), nn.ModuleDict):
        return {"type": "multi_head",
                "trunk": _sequential(module.trunk, "trunk.", shapes),
                "heads": [dict(name=name, **_sequential(head, f"heads.{name}.", shapes))
                          for name, head in module.heads.items()]}
    return _sequential(module, "", shapes)


def _input_shapes(module, x):
    """module -> the shape of its input while running ``module`` on x."""
    shapes, hooks = {}, []

    def record(mod, inp):
        shapes.setdefault(mod, tuple(inp[0].shape))  # returns None: the input is unchanged

    for m in module.modules():
        hooks.append(m.register_forward_pre_hook(record))
    try:
        with torch.no_grad():
            if all(hasattr(module, n) for n in ("encoder", "mean", "logvar", "decoder")):
                h = module.encoder(x)
                module.logvar(h)
                module.decoder(module.mean(h))
            elif hasattr(module, "trunk") and isinstance(getattr(module, "heads", None), nn.ModuleDict):
                h = module.trunk(x)
                for head in module.heads.values():
                    head(h)
            else:
                module(x)
    finally:
        for hk in hooks:
            hk.remove()
    return shapes


def run_reference(module, graph, x):
    """What corespec's Model::forward computes, run in PyTorch."""
    with torch.no_grad():
        if graph["type"] == "vae":
            return module.decoder(module.mean(module.encoder(x)))
        if graph["type"] == "multi_head":
            h = module.trunk(x)
            return torch.cat([head(h).reshape(x.shape[0], -1) for head in module.heads.values()], dim=1)
        return module(x)


def export(module, path, example_input=None, extra_tensors=None, description=None):
    """Writes ``module`` (float32 or float64 parameters) to ``path``.

    example_input: a batch (first dimension = batch) stored with the module's
    output as the self-test; its per-sample shape becomes ``input_shape``.
    extra_tensors: more named arrays to store (e.g. golden intermediate outputs).
    Returns the output for example_input (numpy) or None.
    """
    module = module.eval()
    params = list(module.state_dict().items())
    float_dtypes = {t.dtype for _, t in params if t.is_floating_point()}
    if not float_dtypes and example_input is not None:
        float_dtypes = {example_input.dtype}
    if not float_dtypes:
        float_dtypes = {torch.float32}
    if len(float_dtypes) != 1 or next(iter(float_dtypes)) not in _DTYPES:
        raise ExportError(f"parameters must all be float32 or all float64, found {sorted(map(str, float_dtypes))}")
    tdtype = next(iter(float_dtypes))
    dtype_name, _, np_dtype = _DTYPES[tdtype]

    shapes = _input_shapes(module, example_input.to(tdtype)) if example_input is not None else None
    graph = architecture(module, shapes)
    arch = {"format": FORMAT, "version": VERSION, "dtype": dtype_name, "graph": graph}
    if description:
        arch["description"] = description
    tensors = {}
    for name, t in params:
        if name.endswith("num_batches_tracked"):
            continue
        tensors[name] = t.detach().cpu().numpy().astype(np_dtype)
    output = None
    if example_input is not None:
        x = example_input.to(tdtype)
        output = run_reference(module, graph, x)
        arch["input_shape"] = list(x.shape[1:])
        tensors["selftest.input"] = x.cpu().numpy().astype(np_dtype)
        tensors["selftest.output"] = output.cpu().numpy().astype(np_dtype)
        arch["selftest"] = {"input": "selftest.input", "output": "selftest.output"}
        output = tensors["selftest.output"]
    for name, array in (extra_tensors or {}).items():
        tensors[name] = np.asarray(array).astype(np_dtype)
    write_safetensors(path, tensors, {"format": FORMAT, METADATA_KEY: json.dumps(arch, separators=(",", ":"))})
    return output


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("module", help="a module saved with torch.save(model, path) (or a TorchScript file)")
    ap.add_argument("output", help="the .safetensors model file to write")
    ap.add_argument("--input-shape", help="per-sample input shape, e.g. 702 or 1,240 (enables the self-test)")
    ap.add_argument("--example-input", help="a .npy file with a batch of inputs (enables the self-test)")
    ap.add_argument("--batch", type=int, default=4, help="self-test batch size with --input-shape (default 4)")
    ap.add_argument("--dtype", choices=["float32", "float64"], help="convert the parameters first")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    try:
        module = torch.load(args.module, map_location="cpu")
    except Exception:  # TorchScript archives need torch.jit.load
        module = torch.jit.load(args.module, map_location="cpu")
    if args.dtype:
        module = module.to(torch.float32 if args.dtype == "float32" else torch.float64)
    x = None
    if args.example_input:
        x = torch.from_numpy(np.load(args.example_input))
    elif args.input_shape:
        torch.manual_seed(args.seed)
        shape = [int(s) for s in args.input_shape.split(",") if s]
        x = torch.rand(args.batch, *shape)
    try:
        export(module, args.output, example_input=x)
    except ExportError as e:
        print(f"export_torch: {e}", file=sys.stderr)
        return 1
    print(f"export_torch: wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
