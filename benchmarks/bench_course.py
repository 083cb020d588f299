"""Grading benchmark: a class batch of 48 notebooks (15 honest, 33 hostile) on 2 workers, default limits.

Rows:

* ``course: 48 notebooks, 2 workers``: wall-clock seconds of ``grade_folder`` for the whole batch
  with the limits of ``tcpkit course grade --timeout 60 --memory-mb 1024`` (cell limit 20 s), in the
  isolation mode this machine gives (namespace jail, or the fallback without the notebooks that
  would harm the machine outside a jail).  Goal: under 4 minutes on a busy 2-core machine.
  ``ok`` also requires every honest notebook to get its exact score and no process to survive.
* ``course: seconds per notebook``: the same run divided by the batch size (two workers).

The batch is built from ``tests/data/submissions`` plus generated notebooks (honest variants,
a 5 MB literal, a symbolic link to the solutions, a FIFO, a copy of the solutions).
``--quick`` grades 12 notebooks instead.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from tcpkit.course import Limits, build, grade_folder
from tcpkit.course.build import default_source
from tcpkit.course.sandbox import isolation

HERE = Path(__file__).resolve().parent
SUBMISSIONS = HERE.parent / "tests" / "data" / "submissions"
HW = "hw1_handshake"

#: honest notebooks: the answers of perfect.ipynb with some of them changed, and the score each deserves
HONEST = [
    ("perfect", {}, 10),
    ("partial", None, 7.25),
    ("decorated", None, 10),
    ("latin1", None, 10),
    ("=1+2", None, 4),
    ("q2_wrong", {'q2_order = ["B", "C", "A", "D", "E"]': 'q2_order = ["A", "B", "C", "D", "E"]'}, 9),
    ("q3_wrong", {'q3_c = "closed"': 'q3_c = "LISTEN"'}, 9.5),
    ("q4_flat", {"total += rto * 2 ** k": "total += rto"}, 7.75),
    ("q1_off_by_one", {'q1["synack_ack"] = 1001': 'q1["synack_ack"] = 1000'}, 9.4),
    ("states_as_enums", {'q3_a = "SYN-RECEIVED"': "q3_a = State.SYN_RECEIVED"}, 10),
    ("unanswered_q4", {"q4_default = synack_giveup(5)": "q4_default = ..."}, 9.25),
    ("perfect_again", {}, 10),
    ("extra_cells", {'q3_c = "closed"': 'q3_c = "closed"\nimport math\nnotes = [math.pi] * 1000'}, 10),
    (
        "slow_but_fine",
        {"from tcpkit.states import State": "from tcpkit.states import State\nimport time\ntime.sleep(2)"},
        10,
    ),
    ("print_everything", {"q2_order = [": "print('hello ' * 10000)\nq2_order = ["}, 10),
]
HOSTILE_JAILED = ["mount_vandal", "file_vandal", "read_hidden_tests", "fake_score"]
HOSTILE = [
    "infinite_loop",
    "exception_first_cell",
    "huge_output",
    "memory_hog",
    "not_json",
    "monkeypatch",
    "sleepers",
    "forged_frame",
    "wrong_assignment",
    "big_literal",
    "symlinked",
    "fifo",
    "copied_solutions",
]


def _notebook(name: str, changes: dict[str, str], subs: Path) -> None:
    nb = json.loads((SUBMISSIONS / "perfect.ipynb").read_text())
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        for old, new in changes.items():
            src = src.replace(old, new)
        cell["source"] = src
    (subs / f"{name}.ipynb").write_text(json.dumps(nb))


def make_batch(subs: Path, built: Path, n: int, jailed: bool) -> dict[str, float]:
    """Write ``n`` notebooks (15 honest when ``n`` = 48) into ``subs``; returns the honest ones' scores."""
    subs.mkdir(parents=True)
    n_honest = round(n * 15 / 48)
    expected: dict[str, float] = {}
    for name, changes, score in HONEST[:n_honest]:
        if changes is None:
            shutil.copy(SUBMISSIONS / f"{name}.ipynb", subs / f"{name}.ipynb")
        else:
            _notebook(name, changes, subs)
        expected[name] = score
    kinds = (HOSTILE_JAILED if jailed else []) + HOSTILE
    for i in range(n - n_honest):
        kind = kinds[i % len(kinds)]
        target = subs / f"{kind}_{i}.ipynb"
        if kind == "big_literal":
            nb = json.loads((SUBMISSIONS / "perfect.ipynb").read_text())
            nb["cells"].insert(
                2,
                {
                    "cell_type": "code",
                    "metadata": {},
                    "outputs": [],
                    "execution_count": None,
                    "source": "SPLASH = '" + "tcp" * (5 * 2**20 // 3) + "'",
                },
            )
            target.write_text(json.dumps(nb))
        elif kind == "symlinked":
            target.symlink_to(built / "grading" / f"{HW}-solutions.ipynb")
        elif kind == "fifo":
            os.mkfifo(target)
        elif kind == "copied_solutions":
            shutil.copy(built / "grading" / f"{HW}-solutions.ipynb", target)
        else:
            shutil.copy(SUBMISSIONS / f"{kind}.ipynb", target)
    return expected


def _survivors() -> int:
    n = 0
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"tcpkit-adversary-sleeper"):
                    n += 1
            except OSError:
                pass
    return n


def run(quick: bool = False) -> list[dict[str, Any]]:
    n = 12 if quick else 48
    mode = isolation()
    with tempfile.TemporaryDirectory(prefix="tcpkit-bench-course-") as tmp:
        built = Path(tmp, "build")
        build(default_source(), built, only=[HW], run_tests=False)
        subs = Path(tmp, "submissions")
        expected = make_batch(subs, built, n, jailed=mode == "namespace")
        limits = Limits(timeout=60, memory_mb=1024)
        t0 = time.monotonic()
        results = grade_folder(subs, built / "grading", Path(tmp, "grades.csv"), workers=2, limits=limits)
        elapsed = time.monotonic() - t0
    by = {r.student: r for r in results}
    honest_ok = all(abs(by[k].total - v) < 1e-6 for k, v in expected.items())
    clean = _survivors() == 0 and len(results) == n
    statuses: dict[str, int] = {}
    for r in results:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    note = f"{mode} mode; " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items()))
    return [
        {
            "name": f"course: {n} notebooks ({len(expected)} honest), 2 workers",
            "value": elapsed,
            "unit": "s",
            "goal": f"< 240 s; honest scores exact, no process left ({note})",
            "ok": elapsed < 240 and honest_ok and clean,
        },
        {"name": "course: seconds per notebook", "value": elapsed / n, "unit": "s", "goal": "(2 workers)"},
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
