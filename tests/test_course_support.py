"""Shared helpers of the course tests (no tests here): one build per test run, small bundles, notebooks, snapshots."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tcpkit.course import build
from tcpkit.course.build import default_source

SUBMISSIONS = Path(__file__).parent / "data" / "submissions"
HW = "hw1_handshake"


def built_hw1(factory: pytest.TempPathFactory) -> Path:
    """``course-build`` of hw1 (release + grading), built once per test run and shared by all pytest workers.

    The build goes into a folder beside the workers' temporary folders, keyed by the master's
    content and guarded by a file lock: the first worker builds, the others wait and reuse it.
    """
    master = default_source() / HW / f"{HW}.ipynb"
    digest = hashlib.sha256(master.read_bytes()).hexdigest()[:16]
    base = factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    out = shared / f"course-build-{HW}-{digest}"
    with open(shared / f"course-build-{HW}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / "done").exists():
            build(default_source(), out, only=[HW], run_tests=False)
            (out / "done").write_text("ok")
    return out


def notebook(cells: list[str], assignment: str = HW) -> dict[str, Any]:
    """A notebook (as JSON data) with these code cells."""
    return {
        "cells": [
            {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": src}
            for src in cells
        ],
        "metadata": {"otter": {"assignment_name": assignment}, "kernelspec": {"name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def write_notebook(path: Path, cells: list[str], assignment: str = HW) -> Path:
    path.write_text(json.dumps(notebook(cells, assignment)))
    return path


def perfect_cells() -> list[str]:
    nb = json.loads((SUBMISSIONS / "perfect.ipynb").read_text())
    return ["".join(c["source"]) for c in nb["cells"]]


def make_bundle(folder: Path, name: str, questions: dict[str, list[tuple[str, bool]]], points: int = 2) -> Path:
    """An autograder zip like ``otter assign`` writes, with these doctest cases ``(code, hidden)`` per question."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("otter_config.json", json.dumps({"assignment_name": name}))
        for q, cases in questions.items():
            spec = {
                "name": q,
                "points": points,
                "suites": [
                    {
                        "cases": [{"code": code, "hidden": hidden, "locked": False} for code, hidden in cases],
                        "scored": True,
                        "setup": "",
                        "teardown": "",
                        "type": "doctest",
                    }
                ],
            }
            zf.writestr(f"tests/{q}.py", f"OK_FORMAT = True\n\ntest = {spec!r}\n")
    return path


MARK = "TCPKIT-VANDAL-5f1c"


def places_outside_the_jail() -> list[Path]:
    """Every mount point of this machine and the usual writable places: where a vandal would write."""
    found: set[str] = set()
    with open("/proc/self/mountinfo") as f:
        found |= {line.split()[4] for line in f}
    import tcpkit

    repo = Path(tcpkit.__file__).resolve().parents[1]
    found |= {
        "/",
        "/dev",
        "/dev/shm",
        "/run",
        "/run/netns",
        "/run/lock",
        "/sys/fs/cgroup",
        "/tmp",
        "/var/tmp",
        "/root",
        "/home",
        "/etc",
        str(Path.home()),
        str(repo),
        str(repo / "tcpkit"),
        str(repo / "course"),
    }
    found |= {str(p) for p in Path("/home").glob("*")} if Path("/home").is_dir() else set()
    return sorted(Path(p) for p in found if Path(p).is_dir())


def snapshot(places: list[Path]) -> dict[str, tuple[int, int]]:
    """Name -> (size, mtime) of every entry directly in these folders (not following links)."""
    out: dict[str, tuple[int, int]] = {}
    for place in places:
        with contextlib.suppress(OSError):
            for entry in os.scandir(place):
                with contextlib.suppress(OSError):
                    st = entry.stat(follow_symlinks=False)
                    out[entry.path] = (st.st_size, st.st_mtime_ns)
    return out


def marker_hits(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> list[str]:
    """Entries new or changed between two snapshots that carry the vandal's mark (in the name or the content)."""
    hits = []
    for path, stamp in after.items():
        if before.get(path) == stamp:
            continue
        if MARK in path:
            hits.append(path)
            continue
        with contextlib.suppress(OSError):
            if os.path.isfile(path) and not os.path.islink(path) and os.path.getsize(path) < 50_000_000:
                with open(path, "rb") as f:
                    if MARK.encode() in f.read():
                        hits.append(path)
    return hits


def sleepers(marker: str = "tcpkit-adversary-sleeper") -> list[int]:
    """Processes left by a sleepers submission (their argv[0] is the marker; tests running at the
    same time in another worker use other markers)."""
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            with contextlib.suppress(OSError):
                if Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0] == marker.encode():
                    found.append(int(pid))
    return found
