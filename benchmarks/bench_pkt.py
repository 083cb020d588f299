"""packetdrill reader and runner benchmarks: time grows linearly with the script's size.

Rows (scripts made of a handshake and then data segments, each read by the application, the
shape of a long receive test; no ``>`` line takes the engine's ACKs, the case that was quadratic):

* ``pkt parse S MiB``: :func:`tcpkit.drivers.pktscript.parse_script` on S MiB (best of 3 rounds).
* ``pkt parse growth``: time(largest) / time(smallest) divided by the size ratio; linear gives 1.
  Goal: at most 1.5 (a quadratic reader gives about the size ratio, 4 or 16).
* ``pkt run S MiB``: parse and run (:func:`tcpkit.drivers.packetdrill.run_text`), best of 3 rounds.
* ``pkt run growth``: the same ratio for the runs.  Goal: at most 1.5.
* ``pkt refuse 10 MiB``: how long refusing a script over ``MAX_SCRIPT_BYTES`` takes. Goal: under 0.5 s.

Before the fix (round 2 runner, same machine): a 1 MiB script ran in 8.3 s, 2 MiB in 34 s,
4 MiB in 116 s (the runner rescanned every unacknowledged packet at each inbound line).
"""

from __future__ import annotations

import time
from typing import Any

from tcpkit.drivers.packetdrill import run_text
from tcpkit.drivers.pktscript import MAX_SCRIPT_BYTES, parse_script
from tcpkit.engine.errors import ScriptSyntaxError

_HEAD = """0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop>
+0 > S. 0:0(0) ack 1 <...>
+.1 < . 1:1(0) ack 1 win 32792
+0 accept(3, ..., ...) = 4
+0 %{ assert tcpi_state == TCP_ESTABLISHED, tcpi_state }%
"""


def make_script(size: int) -> str:
    """A valid script of about ``size`` bytes: a handshake, then 10-byte segments each read by the app."""
    out = [_HEAD]
    n = len(_HEAD)
    seq = 1
    while n < size:
        unit = f"+0 < P. {seq}:{seq + 10}(10) ack 1 win 32792\n+0 read(4, ..., 10) = 10\n"
        out.append(unit)
        n += len(unit)
        seq += 10
    return "".join(out)


def _best(fn: Any, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def run(quick: bool = False) -> list[dict[str, Any]]:
    mib = 1024 * 1024
    sizes = [mib // 4, mib] if quick else [mib // 2, mib, 2 * mib, 4 * mib - 4096]
    texts = {size: make_script(size) for size in sizes}
    for text in texts.values():
        result = run_text(text)
        assert result.passed, result.summary()
    # Rounds interleave the sizes, and each size keeps its best time, so a burst of load from
    # other work on the machine does not land on one size only.
    parse_t = {size: float("inf") for size in sizes}
    run_t = {size: float("inf") for size in sizes}
    for _ in range(2 if quick else 3):
        for size, text in texts.items():
            parse_t[size] = min(parse_t[size], _best(lambda text=text: parse_script(text), 1))
            run_t[size] = min(run_t[size], _best(lambda text=text: run_text(text), 1))
    rows: list[dict[str, Any]] = []
    for size in sizes:
        rows.append({"name": f"pkt parse {size / mib:.2f} MiB", "value": parse_t[size], "unit": "s"})
    for size in sizes:
        rows.append({"name": f"pkt run {size / mib:.2f} MiB", "value": run_t[size], "unit": "s"})
    lo, hi = sizes[0], sizes[-1]
    for label, table in (("parse", parse_t), ("run", run_t)):
        growth = (table[hi] / table[lo]) / (hi / lo)
        rows.append(
            {
                "name": f"pkt {label} growth",
                "value": growth,
                "unit": "x linear",
                "goal": "<= 1.5 (time per byte at the largest size over the smallest)",
                "ok": growth <= 1.5,
            }
        )
    big = "// " + "x" * (10 * mib) + "\n"
    t0 = time.perf_counter()
    try:
        parse_script(big)
        refused = False
    except ScriptSyntaxError:
        refused = True
    took = time.perf_counter() - t0
    rows.append(
        {
            "name": "pkt refuse 10 MiB",
            "value": took,
            "unit": "s",
            "goal": f"refused (limit {MAX_SCRIPT_BYTES} bytes) in < 0.5 s",
            "ok": refused and took < 0.5,
        }
    )
    return rows
