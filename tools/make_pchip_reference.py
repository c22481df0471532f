#!/usr/bin/env python3
"""Write SciPy PchipInterpolator values for a few curves to tests/data/pchip_scipy.json.

Run with Debian's python3 (python3-scipy):  /usr/bin/python3 tools/make_pchip_reference.py
The C++ test tests/unit/test_resample.cpp compares corespec's pchip resampling
against these values.
"""
import json
import pathlib

import numpy as np
from scipy.interpolate import PchipInterpolator

cases = []

def add(name, x, y, xq):
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    xq = np.asarray(xq, float)
    cases.append({"name": name, "x": x.tolist(), "y": y.tolist(), "xq": xq.tolist(),
                  "yq": PchipInterpolator(x, y)(xq).tolist()})

# A K-edge-like step (arctan) with a white line, on a non-uniform XAS scan grid.
x = np.concatenate([np.arange(7000, 7100, 10.0), np.arange(7100, 7140, 0.5), np.arange(7140, 7400, 7.0)])
y = 0.5 + np.arctan((x - 7112) / 2.0) / np.pi + 0.6 * np.exp(-0.5 * ((x - 7118) / 3.0) ** 2)
add("xas_edge_nonuniform", x, y, np.linspace(7001, 7390, 157))

# Noisy counts on a uniform EELS grid (monotone pieces, local extrema).
rng = np.random.default_rng(42)
x = np.arange(500.0, 540.0, 0.25)
y = 1e4 * (x / 500.0) ** -3 + rng.normal(0, 50, x.size)
add("eels_counts_uniform", x, y, np.arange(500.1, 539.7, 0.2))

# Monotone data with flat parts (slopes must vanish, no overshoot).
x = np.array([0.0, 1.0, 2.5, 3.0, 4.0, 6.0, 7.5])
y = np.array([0.0, 0.0, 1.0, 1.0, 1.5, 4.0, 4.0])
add("monotone_flat", x, y, np.linspace(0.0, 7.5, 61))

# Three points (end-slope formula only).
add("three_points", [1.0, 2.0, 4.0], [1.0, 3.0, 2.0], np.linspace(1.0, 4.0, 13))

out = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "pchip_scipy.json"
out.write_text(json.dumps({"generator": "scipy.interpolate.PchipInterpolator",
                           "scipy": __import__("scipy").__version__, "cases": cases}, indent=1))
print("wrote", out)
