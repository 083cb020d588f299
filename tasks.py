#!/usr/bin/env python3
"""One-file set-up for tcpkit: needs only Python 3.11+ and the standard library.

    python3 tasks.py lab     install everything into .venv, open the course in JupyterLab
    python3 tasks.py test    install everything into .venv, run ruff (lint and format), mypy and the whole test suite
    python3 tasks.py bench   install everything into .venv, run the benchmarks
    python3 tasks.py lite [--out DIR]
                             build the course as a static JupyterLite site that needs no network (default
                             build/lite/); the pinned build tools go into build/lite-tools/venv
    python3 tasks.py lite --repin
                             after changing a version in tools/lite/ or pyproject.toml's lite extra

The virtual environment lives in ``.venv`` beside this file.  Installing is
skipped when ``pyproject.toml`` has not changed since the last install.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".tcpkit-installed"
LITE_VENV = ROOT / "build" / "lite-tools" / "venv"
LITE_CONSTRAINTS = ROOT / "tools" / "lite" / "constraints-tools.txt"


def run(*cmd: str | os.PathLike[str], check: bool = True) -> int:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run([str(c) for c in cmd], cwd=ROOT, check=check).returncode


def install() -> None:
    if not PY.exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=False).create(VENV)
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == want:
        return
    run(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(PY, "-m", "pip", "install", "--quiet", "-e", ".[dev]")
    STAMP.write_text(want)


def lab(args: list[str]) -> int:
    install()
    extra = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []  # containers run as root
    return run(BIN / "jupyter", "lab", "notebooks/00_start_here.ipynb", *extra, *args, check=False)


def test(args: list[str]) -> int:
    install()
    status = 0
    status |= run(BIN / "ruff", "check", ".", check=False)
    status |= run(BIN / "ruff", "format", "--check", ".", check=False)
    status |= run(BIN / "mypy", check=False)
    rc = run(PY, "-m", "pytest", "-n", "2", "--dist", "loadfile", *args, check=False)
    return status or rc


def bench(args: list[str]) -> int:
    install()
    return run(PY, "-m", "benchmarks", *args, check=False)


def lite_requirements() -> list[str]:
    """pyproject.toml's ``lite`` extra: the JupyterLite build tools, each pinned with ``==``."""
    import tomllib

    return list(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["lite"])


def install_lite_tools() -> Path:
    """The pinned JupyterLite build tools in their own environment (kept out of .venv's JupyterLab)."""
    bindir = LITE_VENV / ("Scripts" if os.name == "nt" else "bin")
    py = bindir / ("python.exe" if os.name == "nt" else "python")
    stamp = LITE_VENV / ".tcpkit-installed"
    reqs = lite_requirements()
    want = hashlib.sha256("\n".join([*reqs, LITE_CONSTRAINTS.read_text(), sys.version]).encode()).hexdigest()
    if py.exists() and stamp.exists() and stamp.read_text() == want:
        return py
    print(f"creating {LITE_VENV}", flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(LITE_VENV)
    run(py, "-m", "pip", "install", "--quiet", "-c", LITE_CONSTRAINTS, *reqs)
    stamp.write_text(want)
    return py


def lite(args: list[str]) -> int:
    if "--repin" in args:  # the pins may not install any more: refresh them with this Python's pip
        return run(sys.executable, "tools/lite/build.py", *args, check=False)
    return run(install_lite_tools(), "tools/lite/build.py", *args, check=False)


def main(argv: list[str]) -> int:
    commands = {"lab": lab, "test": test, "bench": bench, "lite": lite}
    if not argv or argv[0] not in commands:
        print(__doc__)
        return 2
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
