"""Read an otter autograder zip: the tests of each question and the answer names they need.

Examples
--------
>>> answer_names(">>> assert q1_state == State.LISTEN\\n>>> from tcpkit.engine.states import State\\n")
['q1_state']
>>> answer_names(">>> total = sum(x for x in q2_list)\\n>>> assert total > 0\\n")
['q2_list']
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tcpkit.engine.errors import ParameterError

__all__ = ["Bundle", "load_bundle", "find_bundles", "answer_names", "doctest_source"]


@dataclass(frozen=True)
class Bundle:
    """One assignment's grading data.

    Attributes
    ----------
    name : str
        The assignment name (``otter_config.json``).
    path : Path
        The autograder zip.
    tests : dict
        Question name -> otter OK-format spec (public and hidden cases).
    answers : dict
        Question name -> the names its tests read from the student's notebook.
    digest : str
        SHA-256 of the tests (part of the grading cache key).
    """

    name: str
    path: Path
    tests: dict[str, dict[str, Any]]
    answers: dict[str, list[str]]
    digest: str

    @property
    def questions(self) -> list[str]:
        return list(self.tests)

    @property
    def names(self) -> list[str]:
        """Every answer name, in question order, without repeats."""
        seen: dict[str, None] = {}
        for q in self.tests:
            for n in self.answers[q]:
                seen[n] = None
        return list(seen)

    def possible(self, question: str) -> float:
        from ._checker import load_otter_test_runner

        ok_test = load_otter_test_runner()
        return float(ok_test.OKTestFile.from_spec(self.tests[question]).possible)


def doctest_source(body: str) -> str:
    """The Python code of a doctest string (``>>>``/``...`` lines, prompts removed).

    >>> doctest_source(">>> for i in x:\\n...     pass\\n")
    'for i in x:\\n    pass'
    """
    lines = []
    for line in body.splitlines():
        s = line.strip()
        if s.startswith((">>> ", "... ")) or s in (">>>", "..."):
            lines.append(line.lstrip()[4:])
    return "\n".join(lines)


def answer_names(body: str) -> list[str]:
    """Names a test case reads but never defines: the answers it needs from the notebook."""
    try:
        tree = ast.parse(doctest_source(body))
    except SyntaxError:
        return []
    loaded: dict[str, None] = {}
    bound: set[str] = set(dir(builtins))
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                loaded.setdefault(node.id, None)
            else:
                bound.add(node.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                bound.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    return [n for n in loaded if n not in bound]


def _read_spec(text: str, where: str) -> dict[str, Any]:
    tree = ast.parse(text, where)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "test" for t in node.targets):
            spec = ast.literal_eval(node.value)
            if isinstance(spec, dict):
                return spec
    raise ParameterError("test file", where, "an otter OK-format test file defining test = {...}")


def load_bundle(path: str | Path) -> Bundle:
    """Read an autograder zip written by ``otter assign`` (or ``tcpkit course build``).

    Raises
    ------
    ParameterError
        If the file is not such a zip.

    Examples
    --------
    >>> load_bundle("missing.zip")
    Traceback (most recent call last):
    ...
    tcpkit.engine.errors.ParameterError: parameter bundle = 'missing.zip' is not allowed: expected an autograder ...
    """
    path = Path(path)
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile):
        raise ParameterError("bundle", str(path), "an autograder zip written by 'tcpkit course build'") from None
    with zf:
        names = sorted(n for n in zf.namelist() if n.startswith("tests/") and n.endswith(".py"))
        config = json.loads(zf.read("otter_config.json")) if "otter_config.json" in zf.namelist() else {}
        tests: dict[str, dict[str, Any]] = {}
        digest = hashlib.sha256()
        for n in names:
            text = zf.read(n).decode("utf-8")
            digest.update(n.encode() + b"\0" + text.encode() + b"\0")
            spec = _read_spec(text, n)
            tests[str(spec["name"])] = spec
    if not tests:
        raise ParameterError("bundle", str(path), "a zip with tests/*.py (none found)")
    tests = dict(sorted(tests.items(), key=lambda kv: _natural(kv[0])))
    answers = {
        q: list(dict.fromkeys(n for case in spec["suites"][0]["cases"] for n in answer_names(case["code"])))
        for q, spec in tests.items()
    }
    name = str(config.get("assignment_name") or path.stem)
    return Bundle(name=name, path=path, tests=tests, answers=answers, digest=digest.hexdigest())


def _natural(name: str) -> tuple[Any, ...]:
    import re

    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


def find_bundles(folder: str | Path) -> dict[str, Bundle]:
    """Every autograder zip in ``folder`` (or the one zip ``folder`` names), by assignment name.

    >>> find_bundles("no/such/folder")
    Traceback (most recent call last):
    ...
    tcpkit.engine.errors.ParameterError: parameter bundle folder = 'no/such/folder' is not allowed: expected a ...
    """
    folder = Path(folder)
    zips = [folder] if folder.is_file() else sorted(folder.glob("*.zip"))
    if not zips:
        raise ParameterError(
            "bundle folder", str(folder), "a folder holding the autograder zips of 'tcpkit course build'"
        )
    bundles = [load_bundle(z) for z in zips]
    return {b.name: b for b in bundles}
