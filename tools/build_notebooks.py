#!/usr/bin/env python3
"""Build the course notebooks from their sources, execute them, and store them executed.

Sources live in ``notebook_sources/NN_name.md``: Markdown prose with fenced
```` ```python ```` blocks.  Each fenced block becomes one code cell; the prose
between blocks becomes Markdown cells, split further at lines holding only
``+++``.  The build

1. turns every source into an nbformat-4 notebook with stable cell ids,
2. executes it top to bottom in a fresh kernel with nbclient (working
   directory ``notebooks/``), recording the wall time,
3. strips widget state (``metadata.widgets``) and per-cell execution timing,
4. writes ``notebooks/NN_name.ipynb``.

Usage::

    .venv/bin/python tools/build_notebooks.py                 # all notebooks
    .venv/bin/python tools/build_notebooks.py 01_handshake    # one
    .venv/bin/python tools/build_notebooks.py --no-execute    # structure only
    .venv/bin/python tools/build_notebooks.py --budget 15     # exit 1 if one runs longer

The run time of each notebook is printed (the course promises under 15 s in a
fresh kernel); it is measured here rather than in a timed unit test.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path
from typing import Any

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SOURCES = ROOT / "notebook_sources"

_FENCE_OPEN = re.compile(r"^```python\s*$")
_FENCE_CLOSE = re.compile(r"^```\s*$")


def parse_source(text: str) -> list[tuple[str, str]]:
    """Split a source into ``(cell_type, source)`` pairs.

    >>> parse_source("# T\\n\\ntext\\n+++\\nmore\\n```python\\nx = 1\\n```\\nend\\n")
    [('markdown', '# T\\n\\ntext'), ('markdown', 'more'), ('code', 'x = 1'), ('markdown', 'end')]
    """
    cells: list[tuple[str, str]] = []
    buf: list[str] = []
    in_code = False
    opened = 0

    def flush(kind: str) -> None:
        body = "\n".join(buf).strip("\n")
        if kind == "code" or body.strip():
            cells.append((kind, body))
        buf.clear()

    for lineno, line in enumerate(text.splitlines(), 1):
        if not in_code and _FENCE_OPEN.match(line):
            flush("markdown")
            in_code = True
            opened = lineno
        elif in_code and _FENCE_CLOSE.match(line):
            flush("code")
            in_code = False
        elif not in_code and line.strip() == "+++":
            flush("markdown")
        else:
            buf.append(line)
    if in_code:
        raise SystemExit(f"the ```python block opened on line {opened} is never closed")
    flush("markdown")
    return cells


def make_notebook(stem: str, cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata = nbformat.from_dict(
        {
            "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        }
    )
    for i, (kind, src) in enumerate(cells):
        cell_id = f"{stem[:40]}-{i:03d}"
        cell = nbformat.v4.new_code_cell(src) if kind == "code" else nbformat.v4.new_markdown_cell(src)
        cell.id = cell_id
        nb.cells.append(cell)
    return nb


def strip_state(nb: nbformat.NotebookNode) -> None:
    """Remove widget state and volatile metadata so stored notebooks stay small and stable."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("widgets", None)


def execute(nb: nbformat.NotebookNode, timeout: int) -> float:
    from nbclient import NotebookClient

    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
        record_timing=False,
    )
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start


def build(stems: list[str] | None = None, *, run: bool = True, timeout: int = 120) -> list[dict[str, Any]]:
    sources = sorted(SOURCES.glob("*.md"))
    if stems:
        wanted = set(stems)
        sources = [s for s in sources if s.stem in wanted]
        missing = wanted - {s.stem for s in sources}
        if missing:
            raise SystemExit(
                f"no source for {sorted(missing)}; known: {[s.stem for s in sorted(SOURCES.glob('*.md'))]}"
            )
    from nbclient.exceptions import CellExecutionError

    report = []
    for src in sources:
        nb = make_notebook(src.stem, parse_source(src.read_text(encoding="utf-8")))
        try:
            seconds = execute(nb, timeout) if run else 0.0
        except CellExecutionError as exc:
            first = str(exc).strip().splitlines()
            where = "\n".join(first[:8])
            last = next((line for line in reversed(first) if line.strip()), "")
            print(f"{src.stem}: FAILED (not written)\n{where}\n  ...\n  {last}", flush=True)
            report.append(
                {"notebook": f"{src.stem}.ipynb", "cells": len(nb.cells), "seconds": None, "bytes": 0, "error": last}
            )
            continue
        strip_state(nb)
        nbformat.validate(nb)
        out = NOTEBOOKS / f"{src.stem}.ipynb"
        nbformat.write(nb, str(out))
        row = {"notebook": out.name, "cells": len(nb.cells), "seconds": round(seconds, 2), "bytes": out.stat().st_size}
        report.append(row)
        print(
            f"{row['notebook']:<32} {row['cells']:>4} cells  {row['seconds']:>6.2f} s wall  {row['bytes']:>8} bytes",
            flush=True,
        )
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="source stems, e.g. 01_handshake (default: all)")
    ap.add_argument("--no-execute", action="store_true", help="write the notebooks without running them")
    ap.add_argument("--budget", type=float, default=None, help="exit 1 if a notebook takes longer (seconds)")
    ap.add_argument("--timeout", type=int, default=120, help="per-cell timeout for nbclient (seconds)")
    args = ap.parse_args(argv)
    report = build(args.names or None, run=not args.no_execute, timeout=args.timeout)
    ok = [r for r in report if r["seconds"] is not None]
    total = sum(r["seconds"] for r in ok)
    print(f"{len(ok)} of {len(report)} notebooks built, {total:.1f} s wall in total")
    status = 0 if len(ok) == len(report) else 1
    if args.budget is not None:
        slow = [r for r in ok if r["seconds"] > args.budget]
        if slow:
            print(f"over the {args.budget:g} s budget: {', '.join(r['notebook'] for r in slow)}", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
