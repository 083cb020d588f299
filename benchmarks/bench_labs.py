"""The notebooks' labs: a redraw in the kernel, the flood lab's phase map, and click -> new figure in Chromium.

Rows:

* ``labs.update_<lab>``: one redraw after a control moved (the lab's run or
  computation, the figure, and replacing the picture and the sentence), in-process,
  the control values cycled as a student would move them; goal p95 < 50 ms.  The
  flood lab's phase map is computed before (it depends only on ``tcp_syncookies`` and
  ``tcp_synack_retries`` and is kept per pair), so its row is the run and the figure.
* ``labs.update_<lab>_cold``: for the labs that run a simulation or a model, the
  same moves with the lab's kept runs forgotten first (:meth:`Lab.clear_cache`): a
  setting the student has not tried yet.  The plain rows cycle through a few
  settings as a student going back and forth does, so after the first round the
  lab draws kept runs (:meth:`Lab.cached`).
* ``labs.update_flood_60s``: the same for a flood lab at 60 s of 10,000 SYN/s with
  100 honest clients per second (the README's flood benchmark), moving flood rate
  and backlog.
* ``labs.phase_map``: the 10 x 10 phase map of the flood lab at the notebook's
  settings, for each ``tcp_syncookies``; goal < 1 s.
* ``labs.browser_click_<lab>``: in headless Chromium, from a change of a lab's
  control (drop-down or button, dispatched in the page) until the lab's new figure
  is in the page (a new plot, or the plot redrawn in place by ``Plotly.react``) and
  the next animation frame has started; goal p95 < 100 ms.

The browser rows are skipped (value NaN) when Chromium, Playwright or JupyterLab is missing.
"""

from __future__ import annotations

import math
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.bench_widgets import _harness, _p95, _rows

#: Click a lab's control in the page and time until its new picture is drawn: [dom, frame] in ms.
JS_CLICK_TO_FIGURE = """async ([index, kind, target, limit]) => {
  const lab = document.querySelectorAll('.tcpkit-lab')[index];
  const pic = lab.querySelector('.tcpkit-lab-picture');
  const old = pic.querySelector('.js-plotly-plot');
  const oldView = old ? old.dataset.tcpkitView : undefined;
  return await new Promise((resolve) => {
    let done = false;
    // a new plot in the picture, or the same plot redrawn in place (Plotly.react; it then carries the view number)
    const drawn = () => { const gd = pic.querySelector('.js-plotly-plot');
                          return gd && gd.querySelector('.main-svg')
                                 && (gd !== old || gd.dataset.tcpkitView !== oldView); };
    const obs = new MutationObserver(() => {
      if (done || !drawn()) return;
      done = true;
      obs.disconnect();
      const dom = performance.now() - t0;
      const gd = pic.querySelector('.js-plotly-plot');
      const draw = gd && gd !== old ? -1 : parseFloat(gd.dataset.tcpkitDrawMs || '-1');
      requestAnimationFrame(() => resolve([dom, performance.now() - t0, draw]));
    });
    obs.observe(pic, {childList: true, subtree: true, attributes: true, attributeFilter: ['data-tcpkit-view']});
    setTimeout(() => { if (!done) { done = true; obs.disconnect(); resolve([-1, -1, -1]); } }, limit);
    const t0 = performance.now();
    if (kind === 'select') {
      const s = lab.querySelector('.tcpkit-lab-control select');
      s.selectedIndex = target;
      s.dispatchEvent(new Event('change', {bubbles: true}));
    } else {
      lab.querySelectorAll('.tcpkit-lab-control button')[target].click();
    }
  });
}"""


def _cycle(lab: Any, moves: list[dict[str, Any]], n: int, *, cold: bool = False) -> list[float]:
    """Milliseconds per move; ``cold``: the lab's kept runs are forgotten first (a setting not seen before)."""
    out = []
    for i in range(n):
        if cold:
            lab.clear_cache()
        t0 = time.perf_counter()
        lab.set(**moves[i % len(moves)])
        out.append((time.perf_counter() - t0) * 1000)
    return out


#: Labs whose draw runs a simulation or a model (kept per setting by Lab.cached): they get a "cold" row too.
_RUNS = ("flood", "slow_close", "port_exhaustion", "kernel_recorded")


def _kernel_rows(n: int) -> list[dict[str, Any]]:
    from tcpkit.live import load_recorded
    from tcpkit.widgets import (
        ExitsLab,
        FloodLab,
        IsnAttackLab,
        KernelLab,
        PortCeilingLab,
        PortExhaustionLab,
        SlowCloseLab,
        SynRetryLab,
    )

    flood = FloodLab(flood_rate=2000, backlog=128, tcp_syncookies=0)
    for c in (1, 2, 0):  # the three maps, computed once
        flood.set(tcp_syncookies=c)
    labs: list[tuple[str, Any, list[dict[str, Any]]]] = [
        ("exits", ExitsLab(), [{"state": s} for s in ("LISTEN", "FIN_WAIT_1", "ESTABLISHED", "TIME_WAIT")]),
        (
            "syn_retries",
            SynRetryLab(),
            [{"tcp_syn_retries": r, "tcp_syn_linear_timeouts": k} for r, k in ((3, 0), (10, 6), (6, 4))],
        ),
        ("isn_attack", IsnAttackLab(), [{"kind": k, "wait": w} for k, w in (("linux", 30.0), ("clock", 2.5))]),
        (
            "flood",
            flood,
            [
                {"flood_rate": 10000, "backlog": 4096},
                {"tcp_syncookies": 1},
                {"flood_rate": 500, "backlog": 16},
                {"tcp_syncookies": 2},
                {"flood_rate": 2000, "backlog": 128, "tcp_syncookies": 0},
            ],
        ),
        (
            "slow_close",
            SlowCloseLab(),
            [{"server_closes_at": t, "tcp_fin_timeout": f} for t, f in ((100.0, 30), (2.0, 120), (30.0, 60))],
        ),
        (
            "port_ceiling",
            PortCeilingLab(),
            [{"time_wait_len": 30.0}, {"ip_local_port_low": 1024}, {"time_wait_len": 60.0, "ip_local_port_low": 32768}],
        ),
        (
            "port_exhaustion",
            PortExhaustionLab(),
            [
                {"ports": 40, "rate": 10.0, "time_wait_len": 30.0},
                {"tcp_tw_reuse": 1},
                {"ports": 20, "rate": 5.0, "time_wait_len": 10.0, "tcp_tw_reuse": 0},
            ],
        ),
        (
            "kernel_recorded",
            KernelLab(runner=load_recorded),
            [{"scenario": s} for s in ("half_close", "abort_rst", "connection_refused")],
        ),
    ]
    rows: list[dict[str, Any]] = []
    for name, lab, moves in labs:
        _cycle(lab, moves, len(moves))  # warm up
        rows += _rows(f"labs.update_{name}", _cycle(lab, moves, n), 50, f"{type(lab).__name__} redraw, in-process")
        if name in _RUNS:  # the same moves, every one a setting the lab has not run yet
            what = f"{type(lab).__name__} redraw, first time at a setting (no kept run)"
            rows += _rows(f"labs.update_{name}_cold", _cycle(lab, moves, max(n // 2, len(moves)), cold=True), 50, what)
        lab.close()
    return rows


def _flood_60(n: int) -> list[dict[str, Any]]:
    from tcpkit.widgets import FloodLab

    t0 = time.perf_counter()
    lab = FloodLab(duration=60.0, legit_rate=100.0, flood_rate=10000, backlog=128, tcp_syncookies=0)
    first = time.perf_counter() - t0  # its phase map at these settings, and the first run
    moves = [{"backlog": b} for b in (1024, 4096, 256, 128)] + [{"flood_rate": r} for r in (5000, 10000)]
    times = _cycle(lab, moves, n)
    cold = _cycle(lab, moves, len(moves), cold=True)
    lab.close()
    return [
        *_rows("labs.update_flood_60s", times, 50, "flood lab redraw at 60 s of 10,000 SYN/s, 100 honest/s"),
        *_rows(
            "labs.update_flood_60s_cold",
            cold,
            50,
            "the same, first time at a setting (no kept run)",
        ),
        {
            "name": "labs.phase_map_60s",
            "value": first,
            "unit": "s",
            "goal": "for comparison: that lab's first view, its 10 x 10 map at 60 s / 100 honest/s (today's adapter)",
        },
    ]


def _phase_map_rows() -> list[dict[str, Any]]:
    from tcpkit.widgets.flood_lab import BACKLOGS, RATES, phase_map

    rows = []
    for cookies in (0, 1, 2):
        t0 = time.perf_counter()
        phase_map(RATES, BACKLOGS, tcp_synack_retries=5, tcp_syncookies=cookies, duration=10.0, legit_rate=20.0)
        dt = time.perf_counter() - t0
        rows.append(
            {
                "name": f"labs.phase_map_cookies{cookies}",
                "value": dt,
                "unit": "s",
                "goal": "< 1 s for 10 x 10 cells (10 s flood, 20 honest/s each)",
                "ok": dt < 1.0,
            }
        )
    return rows


def _notebook(folder: Path) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("from tcpkit.widgets import FloodLab, IsnAttackLab\nIsnAttackLab()"),
        nbformat.v4.new_code_cell("flood = FloodLab()\nfor c in (1, 2, 0):\n    flood.set(tcp_syncookies=c)\nflood"),
        nbformat.v4.new_code_cell(
            "import ipywidgets as W\n"
            "ping, pong = W.Button(description='ping'), W.HTML('0')\n"
            "ping.add_class('tcpkit-ping'); pong.add_class('tcpkit-pong')\n"
            "ping.on_click(lambda _b: setattr(pong, 'value', str(int(pong.value) + 1)))\n"
            "W.HBox([ping, pong])"
        ),
    ]
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    path = folder / "bench_labs.ipynb"
    nbformat.write(nb, str(path))
    return path


def _browser(n: int) -> tuple[dict[str, list[float]], str | None]:
    h = _harness()
    why = h.missing()
    if why:
        return {}, why
    from playwright.sync_api import sync_playwright

    out: dict[str, list[float]] = {
        f"{lab}{part}": [] for lab in ("isn_attack", "flood") for part in ("", "_dom", "_react")
    }
    out["floor"] = []
    with tempfile.TemporaryDirectory() as tmp:
        lab = h.Lab([_notebook(Path(tmp))])
        try:
            lab.start()
            with sync_playwright() as pw:
                browser = h.open_browser(pw)
                try:
                    page = browser.new_page(viewport={"width": 1400, "height": 900})
                    h.open_notebook(page, lab, "bench_labs.ipynb")
                    h.run_all_cells(page, "bench_labs.ipynb")
                    h.wait_until(
                        page,
                        "() => document.querySelectorAll('.tcpkit-lab .tcpkit-lab-picture .main-svg').length >= 2",
                        what="both labs drawn",
                    )
                    for name, index, kind, targets in (
                        ("isn_attack", 0, "select", (3, 1)),  # linux <-> clock
                        ("flood", 1, "button", (1, 0)),  # the cookie buttons not active: 1 <-> 0
                    ):
                        for i in range(n + 2):
                            dom, frame, react = page.evaluate(JS_CLICK_TO_FIGURE, [index, kind, targets[i % 2], 10_000])
                            h.wait_until(page, h.JS_KERNEL_IDLE, what="the kernel to be idle")
                            if i >= 2 and frame >= 0:  # the first two warm up
                                out[name].append(float(frame))
                                out[f"{name}_dom"].append(float(dom))
                                if react >= 0:  # redrawn in place: how long Plotly.react itself took
                                    out[f"{name}_react"].append(float(react))
                    for _ in range(n):  # what no widget can beat: a bare button -> HTML round trip
                        dt = page.evaluate(h.JS_CLICK_AND_TEXT, [".tcpkit-ping", ".tcpkit-pong", 5000])
                        if dt >= 0:
                            out["floor"].append(float(dt))
                finally:
                    browser.close()
        finally:
            lab.stop()
    return out, None


def run(quick: bool = False) -> list[dict[str, Any]]:
    n = 10 if quick else 30
    load_before = os.getloadavg()[0]
    rows = _kernel_rows(n)
    rows += _phase_map_rows()
    rows += _flood_60(6 if quick else 12)
    got, why = _browser(n)
    for name, what in (
        ("isn_attack", "IsnAttackLab: drop-down changed -> new figure drawn, next frame"),
        ("flood", "FloodLab: cookie button clicked -> figure (queues, clients, map) and counters redrawn, next frame"),
    ):
        xs = got.get(name, [])
        rows += _rows(f"labs.browser_click_{name}", xs, 100, f"{what}, Chromium, {len(xs)} changes")
        if got.get(f"{name}_dom"):
            rows.append(
                {
                    "name": f"labs.browser_click_{name}_dom_p95",
                    "value": _p95(got[f"{name}_dom"]),
                    "unit": "ms",
                    "goal": "the same, until the new plot is in the DOM (no frame wait)",
                }
            )
        if got.get(f"{name}_react"):
            react = got[f"{name}_react"]
            rows.append(
                {
                    "name": f"labs.browser_click_{name}_react_median",
                    "value": statistics.median(react),
                    "unit": "ms",
                    "goal": f"of which Plotly.react redrawing in place ({len(react)} of the changes)",
                }
            )
    rows += _rows(
        "labs.browser_roundtrip_floor",
        got.get("floor", []),
        100,
        "baseline: click -> text of a plain ipywidgets HTML changed (no tcpkit), same page and load",
    )
    rows.append(
        {
            "name": "labs.machine_load_1min",
            "value": max(load_before, os.getloadavg()[0]),
            "unit": "procs",
            "goal": f"1-min load average, the larger of before/after ({os.cpu_count()} CPUs)",
        }
    )
    if why:
        for r in rows:
            if r["name"].startswith("labs.browser"):
                r["goal"] += f"; skipped: {why}"
                r["value"] = math.nan
    return rows


if __name__ == "__main__":
    for row in run(quick=True):
        print(row)
