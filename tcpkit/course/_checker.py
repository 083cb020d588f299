"""Child program: score one submission's answers with the assignment's tests (public and hidden).

Run as ``python -I -m tcpkit.course._checker`` in an empty temporary folder.
Standard input carries one JSON request: the tests (otter OK-format specs,
read by the parent from the autograder zip), the answers (tagged JSON from
the student process), the names of function answers with the source that
defines them, and the limits.  Standard output carries one JSON result:
per question the score, the points possible and the failure messages.

No student code runs in this process.  Answers are data; each function
answer is a :class:`FunctionProxy` whose calls go to a jailed
:mod:`tcpkit.course._funcbox` process.  Test cases run with otter's own
doctest runner (``otter.test_files.ok_test.run_doctest``) and are scored by
otter's ``OKTestFile`` (points per case, partial credit, all-or-nothing).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import select
import signal
import sys
import time
import types
from typing import Any

from tcpkit.course import codec
from tcpkit.course.sandbox import limited_process


class CaseTimeout(Exception):
    """A test case ran longer than its time limit."""


class FunctionBox:
    """A jailed process holding the student's functions; :meth:`call` sends one call."""

    def __init__(self, definitions: str, *, memory_mb: int, call_timeout: float, jail: bool, hide: list[str]) -> None:
        self.call_timeout = call_timeout
        self.dead: str | None = None
        self._stack = contextlib.ExitStack()
        self.proc = self._stack.enter_context(
            limited_process(
                [sys.executable, "-I", "-m", "tcpkit.course._funcbox"],
                memory_mb=memory_mb,
                cpu_s=600,
                hide=hide,
                jail=jail,
                stderr=-3,  # subprocess.DEVNULL
            )
        )
        self._buf = b""
        self._send({"definitions": definitions})
        first = self._receive(timeout=max(call_timeout, 20.0))
        if "error" in first:
            self.dead = "the submission's definitions failed: " + str(first["error"])

    def _send(self, obj: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write((json.dumps(obj) + "\n").encode())
            self.proc.stdin.flush()
        except OSError:
            self.dead = "the function sandbox exited"

    def _receive(self, timeout: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                self.close("a call ran out of time")
                return {"error": f"TimeoutError: no answer within {timeout:g} s"}
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                self.close("the function sandbox exited")
                return {"error": "RuntimeError: the student's process exited"}
            self._buf += chunk
            if len(self._buf) > 4 * 1024 * 1024:
                self.close("an answer was too large")
                return {"error": "ValueError: answer larger than 4 MB"}
        line, _, self._buf = self._buf.partition(b"\n")
        try:
            reply = json.loads(line)
        except ValueError:
            return {"error": "ValueError: garbled answer"}
        return reply if isinstance(reply, dict) else {"error": "ValueError: garbled answer"}

    def call(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if self.dead:
            raise RuntimeError(f"cannot call {name}: {self.dead}")
        self._send({"name": name, "args": codec.encode(list(args)), "kwargs": codec.encode(kwargs)})
        reply = self._receive(self.call_timeout)
        if "ok" in reply:
            return codec.decode(reply["ok"])
        raise RuntimeError(f"{name}(...) raised {reply.get('error')}")

    def close(self, why: str = "closed") -> None:
        self.dead = self.dead or why
        self._stack.close()


class FunctionProxy:
    """Looks like the student's function; every call runs in the :class:`FunctionBox`."""

    def __init__(self, box: FunctionBox, name: str) -> None:
        self._box = box
        self.__name__ = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._box.call(self.__name__, args, kwargs)

    def __repr__(self) -> str:
        return f"<student function {self.__name__}>"


def load_otter_test_runner() -> types.ModuleType:
    """otter's ``test_files.ok_test`` without otter's top-level ``__init__`` (which loads exporters, ~3 s)."""
    if "otter" not in sys.modules:
        spec = importlib.util.find_spec("otter")
        assert spec is not None and spec.submodule_search_locations is not None
        pkg = types.ModuleType("otter")
        pkg.__path__ = list(spec.submodule_search_locations)
        sys.modules["otter"] = pkg
    from otter.test_files import ok_test

    return ok_test


def _alarm(signum: int, frame: Any) -> None:
    raise CaseTimeout("test case time limit reached")


def score(request: dict[str, Any]) -> dict[str, Any]:
    """Run every test case of every question against the answers; return scores per question."""
    ok_test = load_otter_test_runner()
    from otter.test_files.abstract_test import TestCaseResult

    answers = {k: codec.decode(v) for k, v in request.get("answers", {}).items() if isinstance(k, str)}
    case_timeout = float(request.get("case_timeout", 20.0))
    box = None
    if request.get("functions"):
        box = FunctionBox(
            request.get("definitions", ""),
            memory_mb=int(request.get("memory_mb", 512)),
            call_timeout=case_timeout,
            jail=bool(request.get("jail", True)),
            hide=list(request.get("hide", [])),
        )
        for name in request["functions"]:
            answers[str(name)] = FunctionProxy(box, str(name))
    signal.signal(signal.SIGALRM, _alarm)
    results: dict[str, Any] = {}
    try:
        for qname, spec in request["tests"].items():
            tf = ok_test.OKTestFile.from_spec(spec, path=f"tests/{qname}.py")
            tf.test_case_results = []
            for i, case in enumerate(tf.test_cases):
                env = {"__name__": "__main__", **answers}
                try:
                    signal.setitimer(signal.ITIMER_REAL, case_timeout)
                    passed, message = ok_test.run_doctest(f"{qname} {i}", case.body, env)
                except CaseTimeout:
                    passed, message = False, f"timed out after {case_timeout:g} s"
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                tf.test_case_results.append(TestCaseResult(test_case=case, message=message[-2000:], passed=passed))
            results[qname] = {
                "score": float(tf.score),
                "possible": float(tf.possible),
                "failed": [
                    {"case": r.test_case.name, "hidden": bool(r.test_case.hidden), "message": r.message[-500:]}
                    for r in tf.test_case_results
                    if not r.passed
                ],
            }
    finally:
        if box is not None:
            box.close()
    return results


def main() -> int:  # pragma: no cover - exercised through the grader in tests/test_course.py
    request = json.loads(sys.stdin.read())
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 1)
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115
    out.write(json.dumps({"questions": score(request)}) + "\n")
    out.flush()
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
