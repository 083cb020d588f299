"""Child program: grade one submission.  Starts its jail, collects its answers, scores them with the tests.

Run by the grader as ``python -I -m tcpkit.course._checker``; standard
input carries one JSON request: the channel key, the notebook and its code
cells, the answer names, the tests (public and hidden, read by the grader
from the autograder zip: never written where student code runs), the limits
and the isolation mode.  Standard output carries one frame authenticated
with the key (:mod:`tcpkit.course.channel`): per question the score, the
points possible and every case's outcome, plus what happened in the run.

No student code runs here.  The notebook runs in the jail
(:class:`tcpkit.course.sandbox.Jail`); its answers arrive as data
(:mod:`tcpkit.course.codec`), only under the answer names the tests read
(any other name is dropped and reported); a function answer becomes a
:class:`FunctionProxy` whose calls run in the student's process, inside the
jail.  Test cases run with otter's doctest runner
(``otter.test_files.ok_test.run_doctest``) and are scored by otter's
``OKTestFile`` (points per case, partial credit, all-or-nothing).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import sys
import threading
import time
import traceback
import types
from typing import Any

from tcpkit.course import codec
from tcpkit.course.channel import ChannelClosed, ChannelError, Writer
from tcpkit.course.messages import one_line, summarize

GRACE = 3.0
MESSAGE_CHARS = 4000


class CaseTimeout(KeyboardInterrupt):
    """A test case ran longer than its time limit (a KeyboardInterrupt, so doctest stops the case)."""


class FunctionFailed(Exception):
    """A call to one of the student's functions did not return a value."""


_LOAD = threading.Lock()


def load_otter_test_runner() -> types.ModuleType:
    """otter's ``test_files.ok_test`` without the package ``__init__`` files around it.

    ``otter/__init__`` loads the exporters (~3 s) and ``otter/test_files/__init__``
    and ``otter/utils`` load nbformat and jsonschema (~1.5 s); the OK-format runner
    needs none of them, only ``otter.utils.hide_outputs`` (which silences
    IPython's display hooks: there are none in this process).  If otter's
    layout ever changes, the ordinary import is used instead.
    """
    with _LOAD:  # the grader's worker threads may ask at once
        return _load_otter_test_runner()


def _load_otter_test_runner() -> types.ModuleType:
    if "otter.test_files.ok_test" in sys.modules:
        return sys.modules["otter.test_files.ok_test"]
    if "otter" in sys.modules:  # the real otter is loaded already: use it as it is
        from otter.test_files import ok_test as loaded

        return loaded
    spec = importlib.util.find_spec("otter")
    assert spec is not None and spec.submodule_search_locations is not None
    root = list(spec.submodule_search_locations)
    added = []
    for name, path in (("otter", root), ("otter.test_files", [os.path.join(p, "test_files") for p in root])):
        pkg = types.ModuleType(name)
        pkg.__path__ = path
        sys.modules[name] = pkg
        added.append(name)
    utils = types.ModuleType("otter.utils")
    utils.hide_outputs = contextlib.nullcontext  # type: ignore[attr-defined]
    sys.modules["otter.utils"] = utils
    added.append("otter.utils")
    try:
        from otter.test_files import ok_test
    except ImportError:  # pragma: no cover - a different otter layout
        for name in added:
            sys.modules.pop(name, None)
        from otter.test_files import ok_test
    return ok_test


class Session:
    """The scoring side of one submission: the jail, the answers received, the case clock."""

    def __init__(self, jail: Any, names: list[str], limits: dict[str, Any]) -> None:
        self.jail = jail
        self.names = set(names)
        self.limits = limits
        self.answers: dict[str, Any] = {}  # name -> tagged JSON
        self.functions: set[str] = set()
        self.extra: set[str] = set()
        self.events: list[dict[str, Any]] = []
        self.cells_run = 0
        self.stopped: dict[str, Any] | None = None
        self.calls = 0
        self.jail_dead: str | None = None
        self.case_deadline = float("inf")
        self.started: dict[str, Any] = {}
        self.calls_stopped: dict[str, Any] | None = None
        self.used = 0.0

    # -- cells

    def merge(self, reply: Any) -> None:
        """Take the answers of one cell reply (untrusted data: only answer names, only data)."""
        if not isinstance(reply, dict):
            return
        answers = reply.get("answers")
        if isinstance(answers, dict):
            for k, v in answers.items():
                if isinstance(k, str) and k in self.names:
                    self.answers[k] = v
                    self.functions.discard(k)
                else:
                    self.extra.add(str(k)[:40])
        functions = reply.get("functions")
        if isinstance(functions, list):
            current = set()
            for k in functions:
                if isinstance(k, str) and k in self.names:
                    current.add(k)
                    self.answers.pop(k, None)
                else:
                    self.extra.add(str(k)[:40])
            self.functions = current
        gone = reply.get("gone")
        if isinstance(gone, list):
            for k in gone:
                if isinstance(k, str):
                    self.answers.pop(k, None)

    def run_cells(self, lifetime: float) -> None:
        deadline = time.monotonic() + lifetime
        while True:
            try:
                frame = self.jail.receive(timeout=max(0.1, deadline - time.monotonic()))
            except ChannelClosed:
                # only possible in fallback mode, where the student may kill its supervisor
                self.jail_dead = "the jail's supervisor was killed"
                self.stopped = {"cell": self.cells_run + 1, "status": "gone", "why": self.jail_dead}
                return
            if not isinstance(frame, dict):
                continue
            kind = frame.get("kind")
            if kind == "setup-failed":
                raise RuntimeError(f"the jail could not be built: {frame.get('why')}")
            if kind == "started":
                self.started = frame
                if frame.get("status") != "done":
                    self.stopped = {"cell": 0, "status": frame.get("status"), "why": frame.get("why")}
            elif kind == "cell":
                n = int(frame.get("n", 0))
                status = frame.get("status")
                reply = frame.get("reply")
                if isinstance(reply, dict) and status in ("done", "interrupted", "limit"):
                    self.cells_run = n
                    self.merge(reply)
                    error = reply.get("error")
                    if isinstance(error, str) and error:
                        self.events.append({"cell": n, "error": one_line(error, 300), "status": status})
                if status not in ("done", "interrupted"):
                    self.stopped = {"cell": n, "status": status, "why": frame.get("why")}
            elif kind == "cells-done":
                self.used = float(frame.get("used", 0.0))
                return

    # -- calls

    def call(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        shown = one_line(
            f"{name}({', '.join([*(repr(a) for a in args), *(f'{k}={v!r}' for k, v in kwargs.items())])})", 80
        )
        if self.jail_dead:
            raise FunctionFailed(f"{shown} could not be called: {self.jail_dead}")
        left = self.case_deadline - time.monotonic()
        if left <= 0:
            raise CaseTimeout(f"the test ran out of time before calling {shown}")
        self.calls += 1
        ident = self.calls
        request = {
            "op": "call",
            "id": ident,
            "name": name,
            "args": codec.encode(list(args)),
            "kwargs": codec.encode(kwargs),
            "timeout": left,
        }
        # the case's alarm must not fire in the middle of a frame: it waits until the reply is read
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        try:
            self.jail.send(request)
            wait_until = time.monotonic() + left + GRACE + 2.0
            while True:
                frame = self.jail.receive(timeout=max(0.1, wait_until - time.monotonic()))
                if isinstance(frame, dict) and frame.get("kind") == "reply" and frame.get("id") == ident:
                    break
        except ChannelError as exc:
            self.jail_dead = f"the jail stopped answering ({exc})"
            raise FunctionFailed(f"{shown} could not be called: {self.jail_dead}") from None
        finally:
            out_of_time = signal.SIGALRM in signal.sigpending()
            if out_of_time:
                signal.sigtimedwait({signal.SIGALRM}, 0)  # the case is over: say why below, not just "time"
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
        status, reply, why = frame.get("status"), frame.get("reply"), frame.get("why") or ""
        if status == "interrupted" or (out_of_time and status == "done"):
            raise CaseTimeout(f"{shown} ran past the test's time limit ({left:.3g} s) and was interrupted")
        if status == "done" and isinstance(reply, dict):
            if "ok" in reply:
                try:
                    return codec.decode(reply["ok"])
                except (RecursionError, ValueError, TypeError):
                    raise FunctionFailed(f"{shown} returned something the grader cannot read") from None
            raise FunctionFailed(f"{shown} raised {one_line(str(reply.get('error')), 200)}")
        if self.calls_stopped is None:
            self.calls_stopped = {"status": status, "why": why, "call": shown}
        if status in ("stuck", "budget", "limit", "too-large"):
            self.jail_dead = f"the notebook's process was stopped: {why}"
            raise FunctionFailed(f"{shown} did not finish: {why}")
        self.jail_dead = f"the notebook's process is gone ({why})"
        raise FunctionFailed(f"{shown} could not be called: {self.jail_dead}")

    # -- answers

    def answer_status(self) -> dict[str, str]:
        out = {}
        for name in sorted(self.names):
            if name in self.functions:
                out[name] = "function"
            elif name not in self.answers:
                out[name] = "missing"
            else:
                value = _decode(self.answers[name])
                out[name] = codec.describe(value) or "data"
        return out

    def environment(self) -> dict[str, Any]:
        env: dict[str, Any] = {"__name__": "__main__"}
        for name, data in self.answers.items():
            env[name] = _decode(data)
        for name in self.functions:
            env[name] = FunctionProxy(self, name)
        return env


def _decode(data: Any) -> Any:
    try:
        return codec.decode(data)
    except (RecursionError, ValueError, TypeError, AttributeError):
        return codec.Unsendable("an answer the grader cannot read")


class FunctionProxy:
    """Looks like the student's function; every call runs in the student's process, in the jail."""

    def __init__(self, session: Session, name: str) -> None:
        self._session = session
        self.__name__ = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._session.call(self.__name__, args, kwargs)

    def __repr__(self) -> str:
        return f"<student function {self.__name__}>"


def _alarm(signum: int, frame: Any) -> None:
    raise CaseTimeout("")


def score(session: Session, tests: dict[str, Any], case_timeout: float) -> dict[str, Any]:
    """Run every test case of every question; return per question the score, possible points and cases."""
    ok_test = load_otter_test_runner()
    from otter.test_files.abstract_test import TestCaseResult

    signal.signal(signal.SIGALRM, _alarm)
    results: dict[str, Any] = {}
    for qname, spec in tests.items():
        tf = ok_test.OKTestFile.from_spec(spec, path=f"tests/{qname}.py")
        tf.test_case_results = []
        cases = []
        for i, case in enumerate(tf.test_cases):
            env = session.environment()
            session.case_deadline = time.monotonic() + case_timeout
            timed_out = ""
            try:
                signal.setitimer(signal.ITIMER_REAL, case_timeout)
                passed, message = ok_test.run_doctest(f"{qname} {i}", case.body, env)
            except CaseTimeout as exc:
                timed_out = str(exc) or f"the test ran longer than {case_timeout:g} s"
                passed, message = False, timed_out
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                session.case_deadline = float("inf")
            tf.test_case_results.append(TestCaseResult(test_case=case, message=message, passed=passed))
            spec_case = spec["suites"][0]["cases"][i]
            cases.append(
                {
                    "name": case.name,
                    "hidden": bool(case.hidden),
                    "passed": bool(passed),
                    "summary": "" if passed else (timed_out or summarize(message)),
                    "message": "" if passed else message[:MESSAGE_CHARS],
                    "failure_message": str(spec_case.get("failure_message") or ""),
                }
            )
        results[qname] = {"score": float(tf.score), "possible": float(tf.possible), "cases": cases}
    return results


def grade(request: dict[str, Any], key: bytes) -> dict[str, Any]:
    """Run the notebook in its jail and score its answers."""
    from tcpkit.course.sandbox import Jail

    limits = request["limits"]
    mode = request["mode"]
    t0 = time.monotonic()
    with Jail(
        mode,
        key,
        hide=request.get("hide", []),
        scratch_mb=int(limits["scratch_mb"]),
        files=int(limits["files"]),
        reply_mb=int(limits["answer_mb"]) + 8,
        processes=int(limits["processes"]),
    ) as jail:
        session = Session(jail, list(request["names"]), limits)
        jail.send(
            {
                "notebook": request.get("notebook", ""),
                "cells": request["cells"],
                "names": request["names"],
                "argv": [sys.executable, "-I", "-m", "tcpkit.course._student"],
                "limits": {
                    "budget": limits["timeout"],
                    "cell_timeout": limits["cell_timeout"],
                    "memory_mb": limits["memory_mb"],
                    "cpu_s": limits["cpu_s"],
                    "fsize_mb": limits["scratch_mb"],
                    "processes": limits["processes"],
                    "answer_mb": limits["answer_mb"],
                    "lifetime": limits["lifetime"],
                },
            }
        )
        load_otter_test_runner()  # while the notebook runs
        try:
            session.run_cells(float(limits["lifetime"]))
        except ChannelError as exc:
            raise RuntimeError(f"the jail's channel failed: {exc}; {one_line(jail.diagnostics(), 300)}") from None
        results = score(session, request["tests"], float(limits["case_timeout"]))
        end: dict[str, Any] = {}
        with contextlib.suppress(ChannelError):
            jail.send({"op": "end"})
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                frame = jail.receive(timeout=max(0.1, deadline - time.monotonic()))
                if isinstance(frame, dict) and frame.get("kind") == "end":
                    end = frame
                    break
    return {
        "questions": results,
        "answers": session.answer_status(),
        "run": {
            "mode": mode,
            "cells": len(request["cells"]),
            "cells_run": session.cells_run,
            "errors": session.events[:20],
            "stopped": session.stopped,
            "calls_stopped": session.calls_stopped,
            "extra_names": sorted(session.extra)[:20],
            "used": session.used,
            "end": end,
            "seconds": round(time.monotonic() - t0, 3),
        },
    }


def main() -> int:  # pragma: no cover - exercised through the grader in tests/test_course*.py
    from tcpkit.course import _linux

    _linux.die_with_parent()
    _linux.undumpable()
    request = json.loads(sys.stdin.buffer.read())
    key = bytes.fromhex(request.pop("key"))
    out_fd = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 1)
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115
    if request["mode"] == "fallback":
        _linux.subreaper()  # if the student kills its supervisor, its orphans come here
    try:
        result = grade(request, key)
    except Exception as exc:  # reported as a grader error, with the reason
        result = {"error": one_line(f"{type(exc).__name__}: {exc}", 500), "trace": traceback.format_exc()[-3000:]}
    finally:
        if request["mode"] == "fallback":
            from tcpkit.course._jail import kill_all

            kill_all("fallback")
    Writer(out_fd, key, b"checker>grader").send(result)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
