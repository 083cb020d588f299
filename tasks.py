#!/usr/bin/env python3
"""One-file set-up for tcpkit: needs only Python 3.11+ and the standard library.

    python3 tasks.py lab     install everything into .venv, open the course in JupyterLab
    python3 tasks.py test    install everything into .venv, run ruff (lint and format), mypy and the whole test suite
    python3 tasks.py bench   install everything into .venv, run the benchmarks

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


def main(argv: list[str]) -> int:
    commands = {"lab": lab, "test": test, "bench": bench}
    if not argv or argv[0] not in commands:
        print(__doc__)
        return 2
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
