"""The student's grader: otter's ``Notebook`` with one clear line per check.

The homework notebooks start with ::

    from tcpkit.course.notebook import Notebook
    grader = Notebook("hw1_handshake.ipynb")

and every question ends with ``grader.check("q1")``.  otter runs the
question's public tests; where otter would show each test's doctest report,
tracebacks through the standard library included, this shows one line:
whether the public tests passed, and if not, the first thing that went wrong
(``q3: q3_a is not defined yet: run the cell that sets it``).  Everything
else of otter's ``Notebook`` (``check_all``, ``export``, the result's
``passed_all``) works as before.

Examples
--------
>>> line = CheckLine("q1", passed=False, text="replace every ... with your answer", failed=1, total=1)
>>> line
q1: ❌ replace every ... with your answer
>>> CheckLine("q2", passed=True, text="", failed=0, total=2)
q2: ✅ both public tests passed (hidden tests run after you hand in)
"""

from __future__ import annotations

import html
import sys
from dataclasses import dataclass
from typing import Any

from .messages import one_line, summarize

__all__ = ["Notebook", "CheckLine", "describe_check"]


@dataclass
class CheckLine:
    """The outcome of one ``grader.check``, shown as one line (``result`` holds otter's own result)."""

    question: str
    passed: bool
    text: str
    failed: int = 0
    total: int = 0
    result: Any = None

    def line(self) -> str:
        if self.passed:
            what = {1: "the public test passed", 2: "both public tests passed"}.get(
                self.total, f"all {self.total} public tests passed"
            )
            return f"{self.question}: ✅ {what} (hidden tests run after you hand in)"
        more = f" ({self.failed} of {self.total} public tests failed)" if self.total > 1 else ""
        return f"{self.question}: ❌ {self.text}{more}"

    def __repr__(self) -> str:
        return self.line()

    def _repr_html_(self) -> str:
        color = "#1a7f37" if self.passed else "#b42318"
        return f'<p style="color:{color};font-family:monospace">{html.escape(self.line())}</p>'

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or self.result is None:
            raise AttributeError(name)
        return getattr(self.result, name)


def describe_check(question: str, result: Any) -> CheckLine:
    """Turn otter's result of ``check(question)`` (a test file with case results) into a :class:`CheckLine`."""
    cases = list(getattr(result, "test_case_results", None) or [])
    if not cases:
        return CheckLine(question, False, "no public test ran", 0, 0, result)
    failed = [c for c in cases if not c.passed]
    if not failed:
        return CheckLine(question, True, "", 0, len(cases), result)
    text = summarize(str(failed[0].message))
    return CheckLine(question, False, text, len(failed), len(cases), result)


class Notebook:
    """otter's ``Notebook`` whose ``check`` shows one line (see the module's docstring)."""

    def __init__(self, nb_path: str | None = None, *args: Any, **kwargs: Any) -> None:
        import otter

        self._otter = otter.Notebook(nb_path, *args, **kwargs)

    def check(self, question: str, global_env: dict[str, Any] | None = None) -> CheckLine:
        """Run the public tests of ``question`` against the notebook's variables; one line back."""
        if global_env is None:
            global_env = sys._getframe(1).f_globals
        try:
            result = self._otter.check(question, global_env)
        except Exception as exc:  # a missing test file, a broken notebook: still one line
            return CheckLine(question, False, one_line(f"the checks could not run: {type(exc).__name__}: {exc}"))
        if result is None:  # the grader's stand-in: nothing to show
            return CheckLine(question, True, "", 0, 0, None)
        return describe_check(question, result)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._otter, name)
