"""Build the homework: student notebooks (release) and autograder zips (grading) from the masters.

Each master notebook (``course/<assignment>/<assignment>.ipynb``) is written
in otter-assign format: ``# ASSIGNMENT CONFIG``, ``# BEGIN QUESTION``,
``# BEGIN SOLUTION`` and ``# BEGIN TESTS`` raw cells; test cells that start
with ``# HIDDEN`` are hidden tests.  :func:`build` runs ``otter assign`` on
each and sorts its output into two folders that never mix:

``OUT/release/<assignment>/``
    what students get: the notebook without solutions or hidden tests (the
    public tests ride in its metadata, for ``grader.check("q1")``).
``OUT/grading/``
    what only the instructor keeps: ``<assignment>.zip`` (all tests) and
    ``<assignment>-solutions.ipynb``.

:func:`check_release` then proves the release holds no hidden test and no
solution line.

Examples
--------
>>> solution_lines(["x = 1  # SOLUTION", "# BEGIN SOLUTION", "y = compute()", "# END SOLUTION", "z = ..."])
['x = 1', 'y = compute()']
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tcpkit.engine.errors import ParameterError

from .bundle import doctest_source, load_bundle

__all__ = ["build", "masters", "check_release", "solution_lines", "BuildResult", "default_source"]


@dataclass(frozen=True)
class BuildResult:
    """Where :func:`build` put things."""

    release: Path
    grading: Path
    assignments: tuple[str, ...]


def default_source() -> Path:
    """The ``course/`` folder next to the tcpkit package (a source checkout)."""
    return Path(__file__).resolve().parents[2] / "course"


def masters(source: str | Path) -> list[Path]:
    """Master notebooks below ``source``: ``<name>/<name>.ipynb`` holding an ``# ASSIGNMENT CONFIG`` cell."""
    source = Path(source)
    found = []
    for nb in sorted(source.glob("*/*.ipynb")):
        if nb.stem == nb.parent.name and "ASSIGNMENT CONFIG" in nb.read_text(encoding="utf-8"):
            found.append(nb)
    return found


def build(
    source: str | Path | None = None,
    out: str | Path = "course-build",
    *,
    only: list[str] | None = None,
    run_tests: bool = True,
    progress: Callable[[int, int, str], None] | None = None,
) -> BuildResult:
    """Run ``otter assign`` on every master and write ``OUT/release`` and ``OUT/grading``.

    Parameters
    ----------
    source : path, optional
        Folder of masters (default :func:`default_source`).
    out : path
        Output folder; its ``release`` and ``grading`` subfolders are replaced.
    only : list of str, optional
        Build only these assignments.
    run_tests : bool
        Let otter run every test against the solutions first (slower, catches broken masters).
    progress : callable, optional
        Called as ``progress(done, total, name)`` after each assignment (and once with 0 at the start).

    Raises
    ------
    ParameterError
        If there are no masters or ``otter assign`` fails (its output is in the message).

    Examples
    --------
    >>> build("no/such/folder", "out")
    Traceback (most recent call last):
    ...
    tcpkit.engine.errors.ParameterError: parameter source = 'no/such/folder' is not allowed: expected a folder ...
    >>> [m.stem for m in masters(default_source())][:2]
    ['hw1_handshake', 'hw2_isn']

    Notes
    -----
    ``otter assign`` (otter-grader 7) does the splitting; see the otter docs,
    "Creating Assignments: Python Notebook Format".
    """
    src = Path(source) if source is not None else default_source()
    todo = [m for m in masters(src) if not only or m.stem in only]
    if not todo:
        raise ParameterError(
            "source",
            str(src),
            "a folder with <name>/<name>.ipynb master notebooks" + (f" named {only}" if only else ""),
        )
    out = Path(out)
    release, grading = out / "release", out / "grading"
    for d in (release, grading):
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
    if progress is not None:
        progress(0, len(todo), "")
    for done, master in enumerate(todo, start=1):
        name = master.stem
        with tempfile.TemporaryDirectory(prefix="tcpkit-assign-") as tmp:
            # otter assign resolves paths relative to the master's folder: work on a copy, output inside it
            work = Path(tmp, "src")
            shutil.copytree(master.parent, work, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
            cmd = [sys.executable, "-m", "otter", "assign", "--no-pdfs", master.name, "dist"]
            if not run_tests:
                cmd.insert(4, "--no-run-tests")
            r = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=900)
            if r.returncode != 0:
                raise ParameterError(
                    "master notebook", str(master), "one that otter assign accepts:\n" + (r.stdout + r.stderr)[-3000:]
                )
            dist = work / "dist"
            shutil.copytree(dist / "student", release / name)
            zips = list((dist / "autograder").glob("*.zip"))
            if len(zips) != 1:
                raise ParameterError("master notebook", str(master), "one that yields exactly one autograder zip")
            shutil.copyfile(zips[0], grading / f"{name}.zip")
            shutil.copyfile(dist / "autograder" / f"{name}.ipynb", grading / f"{name}-solutions.ipynb")
        if progress is not None:
            progress(done, len(todo), name)
    check_release(release, grading, src)
    return BuildResult(release, grading, tuple(m.stem for m in todo))


def solution_lines(lines: list[str]) -> list[str]:
    """The solution code lines of a master code cell (``# SOLUTION`` lines and ``BEGIN/END SOLUTION`` blocks)."""
    kept = []
    inside = False
    for line in lines:
        s = line.strip()
        if s.startswith("# BEGIN SOLUTION"):
            inside = True
        elif s.startswith("# END SOLUTION"):
            inside = False
        elif inside and s:
            kept.append(s)
        elif s.endswith("# SOLUTION"):
            kept.append(s[: -len("# SOLUTION")].strip())
    return [k for k in kept if k]


def _master_solutions(master: Path) -> list[str]:
    nb = json.loads(master.read_text(encoding="utf-8"))
    out: list[str] = []
    in_solution = False
    for cell in nb["cells"]:
        src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        first = src.strip().splitlines()[0].strip().upper() if src.strip() else ""
        if cell["cell_type"] == "raw":
            if first.startswith("# BEGIN SOLUTION"):
                in_solution = True
            elif first.startswith("# END SOLUTION"):
                in_solution = False
            continue
        if cell["cell_type"] == "code" and in_solution:
            out += solution_lines(src.splitlines())
    return out


def _release_text(folder: Path) -> str:
    parts = []
    for f in sorted(folder.rglob("*")):
        if f.is_file():
            text = f.read_text(encoding="utf-8", errors="replace")
            parts.append(text)
            if f.suffix == ".ipynb":  # compare decoded cell text too, not only JSON-escaped text
                nb = json.loads(text)
                parts += ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in nb["cells"]]
                parts.append(json.dumps(nb.get("metadata", {}), ensure_ascii=False))
    return "\n".join(parts)


def check_release(release: str | Path, grading: str | Path, source: str | Path | None = None) -> None:
    """Raise if any hidden test or solution line of any assignment appears in the release.

    Raises
    ------
    ParameterError
        Naming the file kind and the leaked line.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> rel, gra = pathlib.Path(tempfile.mkdtemp()), pathlib.Path(tempfile.mkdtemp())
    >>> (rel / "note.txt").write_text("# BEGIN SOLUTION")
    16
    >>> check_release(rel, gra)
    Traceback (most recent call last):
    ...
    tcpkit.engine.errors.ParameterError: parameter release = ... is not allowed: expected no otter markers, but ...
    """
    release, grading = Path(release), Path(grading)
    text = _release_text(release)
    for marker in ("# BEGIN SOLUTION", "# END SOLUTION", "# SOLUTION", "# BEGIN TESTS", "# HIDDEN", "BEGIN QUESTION"):
        if marker in text:
            raise ParameterError("release", str(release), f"no otter markers, but {marker!r} is in it")
    for z in sorted(grading.glob("*.zip")):
        bundle = load_bundle(z)
        for spec in bundle.tests.values():
            cases = spec["suites"][0]["cases"]
            public = {
                ln.strip() for c in cases if not c.get("hidden", False) for ln in doctest_source(c["code"]).splitlines()
            }
            for case in cases:
                if case.get("hidden", False):
                    for line in doctest_source(case["code"]).splitlines():
                        s = line.strip()
                        if (
                            len(s) > 12
                            and s not in public
                            and not s.startswith(("#", "import ", "from "))
                            and s in text
                        ):
                            raise ParameterError(
                                "release", str(release), f"no hidden tests, but this hidden test line is in it: {s!r}"
                            )
    src = Path(source) if source is not None else default_source()
    for master in masters(src):
        for s in _master_solutions(master):
            if len(s) > 12 and s in text:
                raise ParameterError(
                    "release", str(release), f"no solutions, but this solution line of {master.name} is in it: {s!r}"
                )
