"""What does not work in the browser copy of the course, and why: the one list.

Each entry says what a student meets, why Pyodide cannot do it, where it shows up, and the
line tcpkit prints there instead.  ``tests/test_lite.py`` runs every ``probe`` in the
browser's kernel (with no network) and checks that its output contains ``says``: the
course never fails silently or with a traceback on these, it says so in one line.
Everything not listed here runs in the browser as it does in JupyterLab (the same test
runs notebooks 01, 03 and 06 there; ``benchmarks/bench_lite.py`` runs all of them).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BrowserLimit:
    """Something the browser copy of the course cannot do."""

    what: str
    why: str
    where: str
    probe: str  # Python run in the browser's kernel
    says: str  # text the probe's output contains: what the student reads instead


LIMITS: tuple[BrowserLimit, ...] = (
    BrowserLimit(
        what="the real-kernel lab: real TCP sockets on 127.0.0.1, their states polled from /proc/net/tcp",
        why="a browser tab has no sockets and no Linux /proc (Pyodide's socket module cannot open a TCP socket)",
        where="notebooks/06_real_kernel_lab.ipynb (every lab cell), tcpkit.live.run_one / run_live",
        probe='from tcpkit.live import run_one\nprint(run_one("connection_refused").summary())',
        says="running in the browser",
    ),
    BrowserLimit(
        what="a lab scenario of your own (a tcpkit.live Script whose steps you wrote)",
        why="its steps open real sockets; the lab shows the recorded run of the built-in scenario of the same name",
        where="notebooks/06_real_kernel_lab.ipynb ('Build it: your own lab scenario')",
        probe=(
            "import dataclasses\nfrom tcpkit.live import SCRIPTS, run_one\n"
            'mine = dataclasses.replace(SCRIPTS["half_close"], run=lambda lab: None)\nprint(run_one(mine).summary())'
        ),
        says="The steps of your own script did not run",
    ),
    BrowserLimit(
        what="the root-only lab extras: a tcpdump capture of each scenario, SYN-ACK retransmits in a network namespace",
        why="they need root, tcpdump and Linux network namespaces; the recorded run (and its shipped capture) is shown",
        where="tcpkit.live.run_live(root_extras=True), tcpkit live --root-extras",
        probe=(
            'from tcpkit.live import run_live\nr = run_live(["synack_retransmit"], root_extras=True)[0]\n'
            "print(r.summary())"
        ),
        says="running in the browser",
    ),
)

#: Not in the browser copy at all (so no probe): what no notebook uses.  ``tests/test_lite.py`` checks that no
#: notebook imports these modules.
NOT_SHIPPED: tuple[tuple[str, str], ...] = (
    (
        "tcpkit.course",
        "building and grading homework (tcpkit course build/grade): graders run in separate, resource-limited "
        "processes (subprocess, the POSIX resource module, Otter-Grader); a browser tab has neither, and "
        "importing tcpkit.course fails in Pyodide (no module named 'resource'). The homework's graded notebooks "
        "run in JupyterLab; the site's homework page says so.",
    ),
    ("tcpkit.cli", "the tcpkit command line: there is no shell in the browser (same for tcpkit.course's CLI)."),
)
