#!/usr/bin/env python3
"""Write SciPy savgol_filter and numpy.gradient values to tests/data/prep/savgol_scipy.json.

Run with Debian's python3 (python3-scipy, python3-numpy):
    /usr/bin/python3 tools/make_savgol_reference.py
The C++ test tests/unit/test_smoothing.cpp compares corespec::prep::SavitzkyGolay
(mode 'interp') and corespec::prep::gradient against these values.
"""
import json
import pathlib

import numpy as np
import scipy
from scipy.signal import savgol_filter

rng = np.random.default_rng(7)

# A noisy K-edge-like XANES on a uniform 0.25 eV grid.
x = np.arange(7080.0, 7160.0, 0.25)
y = 0.5 + np.arctan((x - 7112) / 1.5) / np.pi + 0.4 * np.exp(-0.5 * ((x - 7118) / 2.5) ** 2)
y = y + rng.normal(0, 0.01, x.size)
delta = 0.25

savgol = []
for window, order, derivs in [(5, 2, [0, 1, 2]), (7, 3, [0, 1, 2, 3]), (11, 4, [0, 1, 2]), (15, 2, [0, 1]),
                              (21, 6, [0, 1, 3]), (3, 0, [0]), (9, 8, [0, 1, 8]), (1, 0, [0]), (31, 5, [0, 2])]:
    for d in derivs:
        savgol.append({"window": window, "order": order, "deriv": d, "delta": delta,
                       "y": savgol_filter(y, window, order, deriv=d, delta=delta, mode="interp").tolist()})
# a short input (length == window) exercises the edge fits only
short = y[:9]
savgol_short = {"input": short.tolist(), "window": 9, "order": 3, "deriv": 1, "delta": 0.5,
                "y": savgol_filter(short, 9, 3, deriv=1, delta=0.5, mode="interp").tolist()}

# numpy.gradient on a non-uniform XAS scan grid (coarse pre-edge, fine XANES, k-space-like EXAFS).
xg = np.concatenate([np.arange(6900.0, 7090.0, 10.0), np.arange(7090.0, 7140.0, 0.35),
                     7140.0 + 3.81 * (np.arange(1.0, 30.0) * 0.5) ** 2])
yg = 0.5 + np.arctan((xg - 7112) / 1.5) / np.pi + 0.05 * np.sin(xg / 13.0)
gradient = {"x": xg.tolist(), "y": yg.tolist(),
            "edge_order_1": np.gradient(yg, xg).tolist(),
            "edge_order_2": np.gradient(yg, xg, edge_order=2).tolist()}

# scipy.special.voigt_profile over a range of widths and distances (core of prep::voigt_profile).
from scipy.special import voigt_profile
voigt = []
for sigma, gamma in [(0.5, 0.25), (0.2, 0.445), (0.2, 3.0), (1.0, 0.01), (0.05, 1.0), (2.0, 2.0)]:
    xv = np.concatenate([np.linspace(-5, 5, 41), [-60.0, 25.0, 300.0]]) * max(sigma, gamma)
    voigt.append({"sigma": sigma, "gamma": gamma, "x": xv.tolist(), "v": voigt_profile(xv, sigma, gamma).tolist()})

out = {"provenance": {"tool": "tools/make_savgol_reference.py", "scipy": scipy.__version__,
                      "numpy": np.__version__,
                      "calls": "scipy.signal.savgol_filter(y, window, order, deriv=d, delta=delta, mode='interp'); "
                               "numpy.gradient(y, x[, edge_order=2]); scipy.special.voigt_profile(x, sigma, gamma)"},
       "input": {"x": x.tolist(), "y": y.tolist()},
       "savgol": savgol, "voigt_profile": voigt, "savgol_short": savgol_short, "gradient": gradient}
path = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "prep" / "savgol_scipy.json"
path.write_text(json.dumps(out))
print("wrote", path, len(savgol), "savgol cases")
