"""Child program: hold a student's functions and answer calls to them (runs jailed).

Run as ``python -I -m tcpkit.course._funcbox``.  The first line on standard
input is ``{"definitions": SOURCE}``: the imports, ``def`` and ``class``
statements and literal assignments taken from the submission (see
:func:`tcpkit.course._student.definitions`), executed here in a clean
namespace.  Every further line is a call ``{"name", "args", "kwargs"}`` in
tagged JSON; every answer is one line ``{"ok": VALUE}`` or ``{"error": TEXT}``.

The grader process never runs student code itself: a function answer becomes
a proxy (:class:`tcpkit.course._checker.FunctionProxy`) that talks to this
process, so whatever the student's function does (monkeypatching, reading
files, looping forever) happens here, under the sandbox's limits.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import sys
from typing import Any


def main() -> int:  # pragma: no cover - exercised through the grader in tests/test_course.py
    from tcpkit.course import codec
    from tcpkit.course._student import stub_otter

    report = os.fdopen(os.dup(1), "w", encoding="utf-8")
    requests = os.fdopen(os.dup(0), "r", encoding="utf-8")
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115
    stub_otter()
    ns: dict[str, Any] = {"__name__": "__main__"}
    first = json.loads(requests.readline() or "{}")
    # one statement at a time: a failing import or definition costs only what depends on it
    try:
        statements = ast.parse(first.get("definitions", "")).body
    except SyntaxError:
        statements = []
    for node in statements:
        # a failure costs only the functions that needed this statement (they fail when called)
        with contextlib.suppress(BaseException):
            exec(compile(ast.Module(body=[node], type_ignores=[]), "<submission>", "exec"), ns)
    report.write(json.dumps({"ok": None}) + "\n")
    report.flush()
    for line in requests:
        call = json.loads(line)
        try:
            fn = ns[call["name"]]
            result = fn(*codec.decode(call["args"]), **codec.decode(call["kwargs"]))
            reply = {"ok": codec.encode(result)}
        except BaseException as exc:  # noqa: BLE001
            reply = {"error": f"{type(exc).__name__}: {exc}"[:300]}
        report.write(json.dumps(reply) + "\n")
        report.flush()
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
