"""Run notebook cells in the grading jail and read their answers back: the jail's own API, used by tests."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from . import codec
from ._checker import FunctionFailed, Session
from .channel import new_key
from .limits import Limits
from .sandbox import Jail, isolation

__all__ = ["CellsRun", "run_cells"]


@dataclass
class CellsRun:
    """What :func:`run_cells` saw: the answers (decoded), the calls' outcomes, and how the run went."""

    answers: dict[str, Any]
    functions: list[str]
    errors: list[dict[str, Any]]
    stopped: dict[str, Any] | None
    calls: list[tuple[bool, Any]]
    end: dict[str, Any]
    mode: str


def run_cells(
    cells: Sequence[str],
    names: Sequence[str] = (),
    *,
    calls: Sequence[tuple[str, tuple[Any, ...]]] = (),
    limits: Any = None,
    hide: Sequence[str | os.PathLike[str]] = (),
) -> CellsRun:
    """Run code cells in a jail exactly as a submission's cells run, and read back the named answers.

    This is the grading pipeline without the tests: useful to see what a
    notebook can do inside the jail (the test suite probes the jail with it).

    Parameters
    ----------
    cells : list of str
        Code cells, run in order in one namespace.
    names : list of str
        Answer names to read back (data is decoded; callables are listed in ``functions``).
    calls : list of (name, args)
        Calls made to the notebook's functions after the cells, as the tests would.
    limits : Limits, optional
        :class:`tcpkit.course.grade.Limits` (its ``isolation`` picks the mode).
    hide : list of paths
        Folders the cells must not see.

    Examples
    --------
    >>> run = run_cells(["x = 6 * 7", "def f(a):\\n    return a + x"], ["x", "f"], calls=[("f", (1,))])
    >>> run.answers, run.functions, run.calls, run.stopped
    ({'x': 42}, ['f'], [(True, 43)], None)
    """
    lim = limits if limits is not None else Limits()
    mode = isolation(lim.isolation)
    key = new_key()
    with Jail(
        mode,
        key,
        hide=hide,
        scratch_mb=lim.scratch_mb,
        files=lim.files,
        reply_mb=lim.answer_mb + 8,
        processes=lim.processes,
    ) as jail:
        session = Session(jail, list(names), {})
        lifetime = lim.timeout + lim.case_timeout * (len(calls) + 1) + 30
        jail.send(
            {
                "notebook": "{}",
                "cells": list(cells),
                "names": list(names),
                "argv": [sys.executable, "-I", "-m", "tcpkit.course._student"],
                "limits": {
                    "budget": lim.timeout,
                    "cell_timeout": min(lim.cell_timeout, lim.timeout),
                    "memory_mb": lim.memory_mb,
                    "cpu_s": lim.cpu,
                    "fsize_mb": lim.scratch_mb,
                    "processes": lim.processes,
                    "answer_mb": lim.answer_mb,
                    "lifetime": lifetime,
                },
            }
        )
        session.run_cells(lifetime)
        outcomes: list[tuple[bool, Any]] = []
        for name, args in calls:
            session.case_deadline = time.monotonic() + lim.case_timeout
            try:
                outcomes.append((True, session.call(name, tuple(args), {})))
            except FunctionFailed as exc:
                outcomes.append((False, str(exc)))
            finally:
                session.case_deadline = float("inf")
        end: dict[str, Any] = {}
        with contextlib.suppress(Exception):
            jail.send({"op": "end"})
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                frame = jail.receive(timeout=max(0.1, deadline - time.monotonic()))
                if isinstance(frame, dict) and frame.get("kind") == "end":
                    end = frame
                    break
    answers = {k: codec.decode(v) for k, v in session.answers.items()}
    return CellsRun(answers, sorted(session.functions), session.events, session.stopped, outcomes, end, mode)


# ----------------------------------------------------------------------------- limited helper processes
