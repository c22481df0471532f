#!/usr/bin/python3
"""HyperSpy round trip of the .hspy files corespec writes.

Usage (Debian's python3-hyperspy 1.7.3; /usr/bin/python3, not a virtualenv):

    build/tests/corespec_hdf5_tests -tc="hspy: HyperSpy round trip*"   # writes the corespec files to $TMPDIR
    /usr/bin/python3 tools/hspy_roundtrip.py /tmp/corespec_hspy_rt_{si,spectrum,map}.hspy \
        --out tests/data/io/hspy

For each FILE it runs `s = hs.load(FILE)` and records what HyperSpy read
(class, shape, dtype, every axis, every value, the metadata corespec writes)
in OUT/roundtrip.json, copies FILE to OUT/corespec_<name>.hspy, and saves
the signal again with HyperSpy (`s.save(OUT/hyperspy_<name>.hspy)`), which
tests/unit/test_hdf5_hspy.cpp reads back with corespec.
"""
import argparse
import datetime
import json
import os
import platform
import shutil

import numpy as np
import hyperspy
import hyperspy.api as hs


def meta(s, path, default=None):
    return s.metadata.get_item(path, default)


def describe(s):
    axes = []
    for a in s.axes_manager._axes:  # array order
        d = {"name": a.name if isinstance(a.name, str) else None,
             "units": a.units if isinstance(a.units, str) else None,
             "size": int(a.size), "navigate": bool(a.navigate), "index_in_array": int(a.index_in_array),
             "is_uniform": bool(a.is_uniform)}
        if a.is_uniform:
            d["scale"] = float(a.scale)
            d["offset"] = float(a.offset)
        else:
            d["axis"] = [float(v) for v in a.axis]
        axes.append(d)
    return {
        "hyperspy_class": type(s).__name__,
        "array_shape": list(s.data.shape),
        "dtype": str(s.data.dtype),
        "values": [float(v) for v in np.asarray(s.data, dtype=np.float64).ravel()],
        "axes": axes,
        "metadata": {
            "title": meta(s, "General.title"),
            "signal_type": meta(s, "Signal.signal_type"),
            "beam_energy": meta(s, "Acquisition_instrument.TEM.beam_energy"),
            "convergence_angle": meta(s, "Acquisition_instrument.TEM.convergence_angle"),
            "collection_angle": meta(s, "Acquisition_instrument.TEM.Detector.EELS.collection_angle"),
            "exposure": meta(s, "Acquisition_instrument.TEM.Detector.EELS.exposure"),
        },
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    result = {
        "description": "What HyperSpy read from .hspy files written by corespec::io::write_hspy",
        "provenance": {"hyperspy_version": hyperspy.__version__, "numpy_version": np.__version__,
                       "python": platform.python_version(),
                       "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                       "generator": "tools/hspy_roundtrip.py"},
        "files": {},
    }
    for f in args.files:
        name = os.path.basename(f).replace("corespec_hspy_rt_", "").replace(".hspy", "")
        s = hs.load(f)
        result["files"][name] = describe(s)
        shutil.copyfile(f, os.path.join(args.out, "corespec_%s.hspy" % name))
        s.save(os.path.join(args.out, "hyperspy_%s.hspy" % name), overwrite=True)
        print(name, type(s).__name__, s.data.shape, s.data.dtype)
    with open(os.path.join(args.out, "roundtrip.json"), "w") as fh:
        json.dump(result, fh, indent=1, sort_keys=True)
        fh.write("\n")


if __name__ == "__main__":
    main()
