"""Child program: run a student's notebook cells and report the named answers (runs jailed).

Run as ``python -I -m tcpkit.course._student`` in a folder that holds only
``submission.ipynb``; the answer names arrive as JSON on standard input.  The
report goes to the original standard output as lines
``TCPKIT-ANSWERS <json>`` (one after every cell, so an answer survives a later
crash, ``os._exit`` or an endless loop); the cells' own output goes to
``/dev/null``.

Nothing here is trusted by the grader: the student's code runs in this very
interpreter and may change anything in it.  The grader only reads answers as
data (:mod:`tcpkit.course.codec`) and checks them elsewhere.
"""

from __future__ import annotations

import ast
import json
import os
import signal
import sys
import types
from typing import Any

FRAME = "TCPKIT-ANSWERS "


class CellTimeout(Exception):
    """A cell ran longer than its time limit."""


class _Grader:
    """Stands in for ``otter.Notebook``: checks are feedback for students, not grading."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def check(self, *args: Any, **kwargs: Any) -> None:
        return None

    def check_all(self, *args: Any, **kwargs: Any) -> None:
        return None

    def export(self, *args: Any, **kwargs: Any) -> None:
        return None


def stub_otter() -> None:
    otter = types.ModuleType("otter")
    otter.Notebook = _Grader  # type: ignore[attr-defined]
    sys.modules["otter"] = otter


def strip_magics(source: str) -> str:
    """Replace IPython magics and shell escapes by ``pass`` (keeping line numbers and indentation).

    >>> strip_magics("%matplotlib inline\\nx = 1\\n  !ls")
    'pass\\nx = 1\\n  pass'
    """
    out = []
    for line in source.split("\n"):
        body = line.lstrip()
        if body.startswith(("%", "!")):
            out.append(line[: len(line) - len(body)] + "pass")
        else:
            out.append(line)
    return "\n".join(out)


def definitions(sources: list[str]) -> str:
    """The imports, ``def``/``class`` statements, lambdas and literal assignments of the cells, in order.

    This is what a function answer takes with it to the function sandbox: enough
    to define it and its helpers, none of the cells' other top-level code.

    >>> print(definitions(["import math\\nx = 2\\ny = f(3)\\ndef f(a):\\n    return math.sqrt(a)"]))
    import math
    x = 2
    def f(a):
        return math.sqrt(a)
    """
    kept: list[str] = []
    for src in sources:
        try:
            tree = ast.parse(src)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.Import | ast.ImportFrom | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                kept.append(ast.unparse(node))
                continue
            if isinstance(node, ast.Assign):
                targets, value = node.targets, node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                targets, value = [node.target], node.value
            else:
                continue
            if not all(isinstance(t, ast.Name) for t in targets):
                continue  # x.attr = ... patches something: not a definition
            if not isinstance(value, ast.Lambda):
                try:
                    ast.literal_eval(value)
                except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                    continue
            kept.append(ast.unparse(node))
    return "\n".join(kept)


def _alarm(signum: int, frame: Any) -> None:
    raise CellTimeout("cell time limit reached")


def main() -> int:  # pragma: no cover - exercised through the grader in tests/test_course.py
    from tcpkit.course import codec

    request = json.loads(sys.stdin.read() or "{}")
    names: list[str] = list(request.get("names", []))
    cell_timeout = float(request.get("cell_timeout", 10.0))
    report = os.fdopen(os.dup(1), "w", encoding="utf-8")
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    stub_otter()
    errors: list[dict[str, Any]] = []
    sources: list[str] = []
    try:
        with open("submission.ipynb", encoding="utf-8") as f:
            nb = json.load(f)
        cells = [c for c in nb.get("cells", []) if isinstance(c, dict) and c.get("cell_type") == "code"]
    except Exception as exc:
        errors.append({"cell": None, "error": f"notebook unreadable: {type(exc).__name__}: {exc}"[:300]})
        cells = []
    ns: dict[str, Any] = {"__name__": "__main__", "display": lambda *a, **k: None}

    def emit(done: int) -> None:
        answers: dict[str, Any] = {}
        functions: list[str] = []
        for name in names:
            if name not in ns:
                continue
            value = ns[name]
            if isinstance(value, types.FunctionType):
                functions.append(name)
            else:
                answers[name] = codec.encode(value)
        frame = {
            "answers": answers,
            "functions": functions,
            "definitions": definitions(sources) if functions else "",
            "errors": errors[:20],
            "cells_run": done,
            "cells": len(cells),
        }
        report.write(FRAME + json.dumps(frame) + "\n")
        report.flush()

    signal.signal(signal.SIGALRM, _alarm)
    emit(0)
    for i, cell in enumerate(cells):
        src = cell.get("source", "")
        src = "".join(src) if isinstance(src, list) else str(src)
        src = strip_magics(src)
        try:
            signal.setitimer(signal.ITIMER_REAL, cell_timeout)
            code = compile(src, f"<cell {i + 1}>", "exec")
            sources.append(src)
            exec(code, ns)
        except BaseException as exc:  # noqa: BLE001 - a student's cell may raise anything, even SystemExit
            errors.append({"cell": i + 1, "error": f"{type(exc).__name__}: {exc}"[:300]})
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        try:
            emit(i + 1)
        except Exception as exc:  # an answer whose encoding blew up
            errors.append({"cell": i + 1, "error": f"answers unreadable: {type(exc).__name__}"})
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
