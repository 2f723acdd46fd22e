#!/usr/bin/env python3
"""Smoke test of the built image, run with the image's own Python (no GPU needed).

  python image-smoke.py [--json FILE] [--skip MODULE]...

1. Imports every top-level module of every distribution in the environment, each distribution
   in its own interpreter (a module that switches the GIL back on does so for the whole process,
   so only a fresh one can tell which did): reports the imports that fail, and on a free-threaded
   interpreter the modules whose import re-enabled the GIL (CPython 3.13t+ warns when an extension
   does not declare free-threading support).
2. cuDNN: torch.backends.cudnn.version() must pass torch's own check, and the runtime cuDNN must
   satisfy torch's rule (same major, minor at least the one torch was compiled against).
3. triton finds libcuda's directory without ldconfig (TRITON_LIBCUDA_PATH, nix/config.nix).
4. Prints the versions found. Exits 1 with a report naming every failure, 0 when all passed.

Only the standard library: it runs before anything else is known to work.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import sysconfig
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata

# Directories that packaging mistakes put at the top of site-packages; not modules of the distribution.
NOT_MODULES = {"test", "tests", "testing", "docs", "doc", "examples", "example", "benchmarks", "scripts", "bin", "share", "include", "lib"}
IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def free_threaded_build():
    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def gil_enabled():
    f = getattr(sys, "_is_gil_enabled", None)
    return True if f is None else bool(f())


def top_level_modules(dist):
    """The importable top-level names a distribution installs: top_level.txt, else its RECORD."""
    text = dist.read_text("top_level.txt")
    names = set()
    if text:
        names = {line.strip().replace("/", ".").split(".")[0] for line in text.splitlines() if line.strip()}
    else:
        for f in dist.files or []:
            parts = f.parts
            if not parts or parts[0].startswith("..") or parts[0].endswith((".dist-info", ".egg-info", ".data")) or parts[0] == "__pycache__":
                continue
            if len(parts) == 1:
                name = parts[0]
                if name.endswith(".py"):
                    names.add(name[:-3])
                elif name.endswith(".so"):
                    names.add(name.split(".")[0])
            else:
                names.add(parts[0])
    return sorted(n for n in names if IDENT.match(n) and n not in NOT_MODULES)


# Run in a fresh interpreter per distribution: imports the modules one by one and says, for each,
# whether it failed and whether the GIL was enabled after it (None: not a free-threaded build).
PROBE = r"""
import json, sys, traceback, warnings
gil = getattr(sys, "_is_gil_enabled", None)
out = []
for m in sys.argv[1:]:
    before = gil() if gil else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            __import__(m)
            err = None
        except BaseException as e:
            err = "".join(traceback.format_exception_only(type(e), e)).strip()
    after = gil() if gil else None
    gil_warnings = [str(w.message) for w in caught if "GIL" in str(w.message)]
    out.append({"module": m, "error": err, "gilBefore": before, "gilAfter": after, "gilWarnings": gil_warnings})
print("MEGAPAK-SMOKE " + json.dumps(out))
"""


def probe(dist_name, modules, timeout):
    try:
        r = subprocess.run([sys.executable, "-c", PROBE, *modules], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return [{"module": m, "error": f"import did not finish within {timeout} s", "gilBefore": None, "gilAfter": None, "gilWarnings": []} for m in modules]
    line = next((l for l in r.stdout.splitlines() if l.startswith("MEGAPAK-SMOKE ")), None)
    if line is None:
        err = (r.stderr.strip().splitlines() or [f"exit status {r.returncode}"])[-1]
        return [{"module": m, "error": f"the interpreter died importing {dist_name}: {err}", "gilBefore": None, "gilAfter": None, "gilWarnings": []} for m in modules]
    return json.loads(line[len("MEGAPAK-SMOKE "):])


def check_imports(skip, timeout, paths):
    dists = {}
    for d in (metadata.distributions(path=paths) if paths else metadata.distributions()):
        name = d.metadata["Name"]
        if name and name.lower() not in dists:
            dists[name.lower()] = d
    jobs = {}
    for key, d in sorted(dists.items()):
        mods = [m for m in top_level_modules(d) if m not in skip]
        if mods:
            jobs[d.metadata["Name"]] = (d.version, mods)
    results = {}
    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        futures = {name: pool.submit(probe, name, mods, timeout) for name, (_, mods) in jobs.items()}
        for name, fut in futures.items():
            results[name] = {"version": jobs[name][0], "modules": fut.result()}
    return results


def cudnn_rule(compile_v, runtime_v):
    """torch/backends/cudnn/__init__.py: same major; from cuDNN 7 on, runtime minor >= compile minor."""
    (cmaj, cmin), (rmaj, rmin) = compile_v[:2], runtime_v[:2]
    if rmaj != cmaj:
        return False
    return rmin == cmin if rmaj < 7 else rmin >= cmin


def as_tuple(v):
    if isinstance(v, (tuple, list)):
        return tuple(int(x) for x in v)
    v = int(v)  # cuDNN 9 encodes 9.20.0 as 92000: major * 10000 + minor * 100 + patch
    return (v // 10000, (v % 10000) // 100, v % 100) if v >= 10000 else (v // 1000, (v % 1000) // 100, v % 100)


def check_cudnn():
    import torch

    info = {"torch": torch.__version__, "cuda": torch.version.cuda}
    try:
        version = torch.backends.cudnn.version()
    except Exception as e:  # torch's own check raises RuntimeError on an incompatible cuDNN
        return info, [f"cuDNN: torch.backends.cudnn.version() failed: {e}"]
    info["cudnn"] = version
    if version is None:
        return info, ["cuDNN: torch.backends.cudnn.version() is None: torch found no cuDNN"]
    c = torch._C._cudnn
    compile_v, runtime_v = as_tuple(c.getCompileVersion()), as_tuple(c.getRuntimeVersion())
    info["cudnnCompile"], info["cudnnRuntime"] = ".".join(map(str, compile_v)), ".".join(map(str, runtime_v))
    if not cudnn_rule(compile_v, runtime_v):
        return info, [f"cuDNN: runtime {info['cudnnRuntime']} does not satisfy torch's rule for the {info['cudnnCompile']} it was compiled against (same major, minor at least)"]
    return info, []


def check_triton():
    import triton
    from triton.backends.nvidia import driver

    info = {"triton": triton.__version__, "TRITON_LIBCUDA_PATH": os.environ.get("TRITON_LIBCUDA_PATH")}
    if not info["TRITON_LIBCUDA_PATH"]:
        return info, ["triton: TRITON_LIBCUDA_PATH is not set (nix/config.nix sets it: the image has no ldconfig)"]
    try:
        dirs = driver.libcuda_dirs()
    except Exception as e:
        return info, [f"triton: libcuda_dirs() failed: {type(e).__name__}: {e}"]
    info["libcudaDirs"] = list(dirs)
    # Without a GPU the driver is not mounted; with one it must be where the variable says.
    info["libcudaPresent"] = any(os.path.exists(os.path.join(d, "libcuda.so.1")) for d in dirs)
    return info, []


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", help="also write the whole report as JSON to this file")
    ap.add_argument("--skip", action="append", default=[], help="a top-level module not to import (repeatable)")
    ap.add_argument("--timeout", type=int, default=600, help="seconds one distribution's imports may take")
    ap.add_argument("--require-free-threading", action="store_true", help="fail unless the interpreter is a free-threaded build running without the GIL")
    ap.add_argument("--path", action="append", default=[], help="only the distributions in this directory (repeatable; default: all of sys.path)")
    args = ap.parse_args(argv)

    failures = []
    # The GIL is off at start on a free-threaded build (unless PYTHON_GIL=1): only then can an import switch it on.
    ft = not gil_enabled()
    report = {"python": sys.version, "executable": sys.executable, "freeThreadedBuild": free_threaded_build(), "gilDisabled": ft}
    if args.require_free_threading and not ft:
        failures.append(f"python: {sys.version.split()[0]} {'is free-threaded but runs with the GIL enabled (PYTHON_GIL=1 or -X gil=1?)' if free_threaded_build() else 'is not a free-threaded build'}")
    imports = check_imports(set(args.skip), args.timeout, args.path)
    report["distributions"] = imports
    gil_back = []
    for name, r in imports.items():
        for m in r["modules"]:
            if m["error"]:
                failures.append(f"import {m['module']} ({name} {r['version']}): {m['error']}")
            elif ft and m["gilBefore"] is False and m["gilAfter"] is True:
                gil_back.append(f"{m['module']} ({name} {r['version']})")
    report["gilReenabledBy"] = gil_back
    failures += [f"GIL: importing {m} re-enabled the GIL (an extension that does not declare free-threading support)" for m in gil_back]
    for key, check in (("torch", check_cudnn), ("triton", check_triton)):
        try:
            info, errs = check()
        except ImportError as e:
            info, errs = {}, [f"{key}: cannot import: {e}"]
        report[key] = info
        failures += errs

    print(f"megapak smoke: Python {sys.version.split()[0]}, {'free-threaded build' if report['freeThreadedBuild'] else 'GIL build'}, GIL {'off' if ft else 'on'} at start")
    for key in ("torch", "triton"):
        if report[key]:
            print(f"  {key}: " + ", ".join(f"{k}={v}" for k, v in report[key].items()))
    print(f"  {len(imports)} distributions, {sum(len(r['modules']) for r in imports.values())} top-level modules imported")
    for name, r in sorted(imports.items()):
        print(f"    {name} {r['version']}")
    report["failures"] = failures
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    if failures:
        print(f"megapak smoke: {len(failures)} failure(s):", file=sys.stderr)
        for f in failures:
            print(f"  {f}", file=sys.stderr)
        return 1
    print("megapak smoke: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
