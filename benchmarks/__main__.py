"""Run every ``benchmarks/bench_*.py``, print one table and write ``benchmarks/results.json``.

Each module exposes ``run(quick: bool = False) -> list[dict]``; a row has ``name``, ``value``,
``unit``, and optionally ``goal`` (text) and ``ok`` (bool).

Usage: ``python -m benchmarks [--quick] [--only NAME] [--out PATH]``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks")
    ap.add_argument("--quick", action="store_true", help="fewer repetitions (for a smoke run)")
    ap.add_argument("--only", help="run only bench_NAME.py")
    ap.add_argument("--out", default=str(HERE / "results.json"))
    args = ap.parse_args(argv)
    sys.path.insert(0, str(HERE.parent))
    rows: list[dict] = []
    for path in sorted(HERE.glob("bench_*.py")):
        name = path.stem[len("bench_") :]
        if args.only and name != args.only:
            continue
        module = importlib.import_module(f"benchmarks.{path.stem}")
        for row in module.run(quick=args.quick):
            row.setdefault("suite", name)
            rows.append(row)
    width = max([len(r["name"]) for r in rows] + [9])
    print(f"{'benchmark':<{width}}  {'value':>12}  unit      goal")
    failed = 0
    for r in rows:
        ok = r.get("ok")
        mark = "" if ok is None else ("  ok" if ok else "  MISSED")
        failed += ok is False
        print(f"{r['name']:<{width}}  {r['value']:>12.4g}  {r['unit']:<8}  {r.get('goal', '')}{mark}")
    doc = {
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": __import__("os").cpu_count(),
        },
        "rows": rows,
    }
    Path(args.out).write_text(json.dumps(doc, indent=2, sort_keys=True))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
