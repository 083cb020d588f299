#!/usr/bin/env python3
"""One-file set-up for tcpkit: needs only Python 3.11+ and the standard library.

    python3 tasks.py lab     install the course (the "lab" extra) into .venv, open notebooks/00_start_here.ipynb
                             in JupyterLab and print its URL (--no-browser: only print it; --homework: also
                             install otter-grader for the homework checks; --port N; other options go to jupyter)
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
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import venv
import webbrowser
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


def _extras_covered(have: str, want: str) -> bool:
    """Whether an install with extras ``have`` already holds extras ``want`` (``dev`` holds them all)."""
    have_s, want_s = set(have.split(",")), set(want.split(","))
    return "dev" in have_s or want_s <= have_s


def install(extras: str = "dev") -> None:
    """Create ``.venv`` if needed and ``pip install -e .[extras]`` unless that is already done.

    The course needs only the ``lab`` extra; the test and bench commands add ``dev``.
    """
    if not PY.exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=False).create(VENV)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists():
        done, _, have = STAMP.read_text().strip().partition(" ")
        if done == digest and _extras_covered(have or "dev", extras):
            return
    run(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(PY, "-m", "pip", "install", "--quiet", "-e", f".[{extras}]")
    STAMP.write_text(f"{digest} {extras}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _take_option(args: list[str], name: str) -> str | None:
    """Remove ``--name=value`` or ``--name value`` from ``args``; return the value (None if absent)."""
    for i, a in enumerate(args):
        if a.startswith(f"--{name}="):
            del args[i]
            return a.split("=", 1)[1]
        if a == f"--{name}" and i + 1 < len(args):
            value = args[i + 1]
            del args[i : i + 2]
            return value
    return None


def lab(args: list[str]) -> int:
    args = list(args)
    homework = "--homework" in args
    no_browser = "--no-browser" in args
    args = [a for a in args if a not in ("--homework", "--no-browser")]
    install("lab,grading" if homework else "lab")
    port = int(_take_option(args, "port") or _free_port())
    token = secrets.token_hex(16)
    start = "notebooks/00_start_here.ipynb"
    url = f"http://127.0.0.1:{port}/lab/tree/{start}?token={token}"
    extra = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []  # containers run as root
    cmd = [
        str(BIN / "jupyter"),
        "lab",
        "--no-browser",
        f"--ServerApp.root_dir={ROOT}",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--LabApp.default_url=/lab/tree/{start}",
        f"--LabApp.app_settings_dir={ROOT / 'jupyter_config' / 'lab' / 'settings'}",
        "--ServerApp.log_level=WARN",
        *extra,
        *args,
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT)
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, lambda _sig, _frame: proc.terminate())  # stopped by a supervisor: stop it too
    try:
        while proc.poll() is None:  # wait until the server answers, however long that takes here
            try:
                req = urllib.request.Request(
                    f"http://127.0.0.1:{port}/api/status", headers={"Authorization": f"token {token}"}
                )
                with urllib.request.urlopen(req, timeout=2):
                    break
            except OSError:
                time.sleep(0.3)
        else:
            return proc.returncode
        print(f"\ntcpkit course: open {url}  (Ctrl+C stops JupyterLab)\n", flush=True)
        if not no_browser:
            webbrowser.open(url)
        return proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
        try:
            return proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.terminate()
            return proc.wait()


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
