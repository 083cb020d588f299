"""A progress bar for ``tcpkit course grade`` and ``build``: redrawn in place on a terminal, one line per step in a log.

Examples
--------
>>> import io
>>> out = io.StringIO()
>>> bar = ProgressBar(4, "grading", stream=out, width=8, clock=iter([0.0, 1.0, 2.0, 3.0]).__next__)
>>> bar.update(1, "alice: 10/10 ok")
>>> print(out.getvalue().strip())
grading [##......] 1/4  25%  eta 0:03  alice: 10/10 ok
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import IO, Any

__all__ = ["ProgressBar"]


class ProgressBar:
    """Shows ``done/total``, a bar, the share done, an estimate of the time left and the last item."""

    def __init__(
        self,
        total: int,
        label: str,
        *,
        stream: IO[str] | None = None,
        width: int = 24,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total, self.label, self.width = max(total, 0), label, width
        self.stream = stream if stream is not None else sys.stderr
        self.clock = clock
        self.start = clock()
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.done = 0

    def line(self, done: int, text: str = "") -> str:
        frac = done / self.total if self.total else 1.0
        fill = int(round(frac * self.width))
        elapsed = self.clock() - self.start
        eta = elapsed / done * (self.total - done) if done else 0.0
        n = len(str(self.total))
        return (
            f"{self.label} [{'#' * fill}{'.' * (self.width - fill)}] {done:>{n}}/{self.total} {frac:4.0%}"
            f"  eta {int(eta) // 60}:{int(eta) % 60:02d}  {text}"
        ).rstrip()

    def update(self, done: int, text: str = "") -> None:
        self.done = done
        line = self.line(done, text)
        if self.tty:
            self.stream.write("\r\x1b[2K" + line[:200])
            if done >= self.total:
                self.stream.write("\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def __call__(self, done: int, total: int, result: Any) -> None:
        """The ``progress`` callback of :func:`tcpkit.course.grade.grade_folder`."""
        self.total = total
        text = getattr(result, "student", str(result))
        if hasattr(result, "total"):
            text = f"{result.student}: {result.total:g}/{result.max:g} {result.status}"
        self.update(done, text)
