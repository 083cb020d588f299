"""Turn a failed test case's doctest report into one clear line.

otter runs each test case as a doctest and reports every example, with the
traceback of each failure (paths into the standard library included).  The
first failing example is the one that matters (later ones usually fail
because of it); :func:`summarize` gives it as one line: what was checked
and what happened, without the traceback.

Examples
--------
>>> report = '''Trying:
...     assert x == 3, 'x must be three'
... Expecting nothing
... **********************************************************************
... Line 1, in q1 0
... Failed example:
...     assert x == 3, 'x must be three'
... Exception raised:
...     Traceback (most recent call last):
...       File "/usr/lib/python3.11/doctest.py", line 1353, in __run
...         exec(compile(example.source, filename, "single",
...       File "<doctest q1 0[0]>", line 1, in <module>
...         assert x == 3, 'x must be three'
...     AssertionError: x must be three
... '''
>>> summarize(report)
'x must be three'
>>> first_failure(report)
Failure(source="assert x == 3, 'x must be three'", exception='AssertionError: x must be three', expected=None, got=None)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Failure", "first_failure", "summarize", "one_line"]

_STARS = "*" * 70


@dataclass(frozen=True, slots=True)
class Failure:
    """The first failing example of a doctest report."""

    source: str
    exception: str | None
    expected: str | None
    got: str | None


def _dedent(lines: list[str], n: int = 4) -> list[str]:
    return [ln[n:] if ln.startswith(" " * n) else ln.lstrip() for ln in lines]


def first_failure(report: str) -> Failure | None:
    """The first failing example of otter's doctest report, or None if there is none."""
    lines = report.splitlines()
    try:
        start = next(i for i, ln in enumerate(lines) if ln.strip() == "Failed example:")
    except StopIteration:
        return None
    block: list[str] = []
    for ln in lines[start + 1 :]:
        if ln.startswith(_STARS) or ln.startswith("Trying:"):
            break
        block.append(ln)
    heads = {"Exception raised:", "Expected:", "Expected nothing", "Got:", "Got nothing"}
    sections: dict[str, list[str]] = {"source": []}
    current = "source"
    for ln in block:
        if ln.strip() in heads and not ln.startswith(" "):
            current = ln.strip().rstrip(":")
            sections[current] = []
            continue
        sections[current].append(ln)
    source = " ".join(s.strip() for s in _dedent(sections["source"]) if s.strip())
    exception = None
    if "Exception raised" in sections:
        body = _dedent(sections["Exception raised"])
        exc_lines: list[str] = []
        seen_header = False
        for ln in body:
            if ln.startswith("Traceback (most recent call last)"):
                seen_header = True
                exc_lines = []
                continue
            if seen_header and (ln.startswith(" ") or not ln.strip()) and not exc_lines:
                continue  # a frame of the traceback
            exc_lines.append(ln.strip())
        exception = " ".join(x for x in exc_lines if x) or None
    expected = " ".join(_dedent(sections.get("Expected", []))).strip() if "Expected" in sections else None
    if "Expected nothing" in sections:
        expected = ""
    got = " ".join(_dedent(sections.get("Got", []))).strip() if "Got" in sections else None
    if "Got nothing" in sections:
        got = ""
    return Failure(source, exception, expected, got)


def one_line(text: str, limit: int = 160) -> str:
    """Collapse whitespace and cut to ``limit`` characters (with an ellipsis).

    >>> one_line("a\\n  b   c", 4)
    'a b…'
    """
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


_EXC = re.compile(r"^(?:[A-Za-z_][\w]*\.)*(?P<name>[A-Za-z_]\w*)(?::\s*(?P<msg>.*))?$", re.S)


def summarize(report: str, limit: int = 160) -> str:
    """One line for the first failure of a doctest report (what was checked, what went wrong).

    >>> summarize("Failed example:\\n    f(2)\\nExpected:\\n    4\\nGot:\\n    5\\n")
    'f(2) gave 5, expected 4'
    """
    f = first_failure(report)
    if f is None:
        return one_line(report, limit) if report.strip() else "failed"
    if f.exception is not None:
        m = _EXC.match(f.exception)
        name = m.group("name") if m else f.exception
        msg = (m.group("msg") or "").strip() if m else ""
        if name == "FunctionFailed":
            return one_line(msg, limit)
        if name == "CaseTimeout":
            return one_line(msg or "the test ran out of time", limit)
        undefined = re.match(r"name '(\w+)' is not defined", msg) if name == "NameError" else None
        if undefined:
            return one_line(f"{undefined.group(1)} is not defined yet: run the cell that sets it", limit)
        if name == "AssertionError":
            return one_line(msg if msg else f"this check failed: {f.source}", limit)
        return one_line(f"{f.source} raised {name}" + (f": {msg}" if msg else ""), limit)
    if f.expected is not None or f.got is not None:
        return one_line(f"{f.source} gave {f.got or 'nothing'}, expected {f.expected or 'nothing'}", limit)
    return one_line(f"this check failed: {f.source}", limit)
