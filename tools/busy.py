#!/usr/bin/env python3
"""Run a command while two CPU-bound loops keep the machine busy, as on a student's laptop.

    python3 tools/busy.py                       # the README's test command under load
    python3 tools/busy.py --loops 2 -- python3 tasks.py test -x

The suite must pass this way: timing-sensitive tests (the real-kernel lab, the browser tests)
have to judge by observed progress, never by fixed sleeps.  The loops run at normal priority in
their own processes and are always stopped, also when the command fails or is interrupted.
Prints the command's wall time and the load average at the end; exits with the command's code.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _spin() -> None:  # pragma: no cover - runs in a child process until terminated
    x = 0
    while True:
        x = (x * 1103515245 + 12345) & 0xFFFFFFFF


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="tools/busy.py", description=__doc__.splitlines()[0])
    ap.add_argument("--loops", type=int, default=2, help="CPU-bound loops to run beside the command (default 2)")
    ap.add_argument("command", nargs=argparse.REMAINDER, help="the command (default: python3 tasks.py test)")
    args = ap.parse_args(argv)
    if args.loops < 0 or args.loops > 64:
        ap.error(f"--loops = {args.loops} is not allowed: expected 0 to 64")
    cmd = [c for c in args.command if c != "--"] or [sys.executable, "tasks.py", "test"]
    loops = [mp.Process(target=_spin, daemon=True) for _ in range(args.loops)]
    for p in loops:
        p.start()
    start = time.monotonic()
    try:
        rc = subprocess.run(cmd, cwd=ROOT).returncode
    except KeyboardInterrupt:
        rc = 130
    finally:
        for p in loops:
            p.terminate()
        for p in loops:
            p.join(5)
    took = time.monotonic() - start
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(
        f"busy run: {' '.join(cmd)} exited {rc} after {took:.0f} s beside {args.loops} CPU loops "
        f"(load average {load[0]:.1f}, {os.cpu_count()} CPUs)"
    )
    return rc


if __name__ == "__main__":
    sys.exit(main())
