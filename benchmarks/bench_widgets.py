"""Widget latency: a player step in the kernel, and from a click to the redrawn figure in a browser.

Rows:

* ``widgets.kernel_step_*``: one TracePlayer step (cursor + graph highlight, inside
  ``batch_update``), measured in-process on the example trace and on a real
  scenario trace.  Goal: p95 under 20 ms.
* ``widgets.kernel_step_live_*``: the same, measured inside a real JupyterLab
  kernel with the widget displayed (so comm messages are really sent).
* ``widgets.browser_step_*``: from a click on the player's step/back button in
  headless Chromium until the ladder's cursor has moved in the plot's data
  (over 50 clicks).  Goal: p95 under 100 ms.

The browser rows are skipped (value NaN, ``ok`` None) when Chromium, Playwright
or JupyterLab is missing.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import statistics
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "tests" / "data" / "browser" / "player.ipynb"


def _harness() -> Any:
    spec = importlib.util.spec_from_file_location("tcpkit_browser_harness", ROOT / "tests" / "data" / "browser" / "harness.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _p95(xs: list[float]) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, math.ceil(0.95 * len(s)) - 1)]


def _rows(prefix: str, xs: list[float], goal_ms: float, what: str) -> list[dict[str, Any]]:
    if not xs:
        return [{"name": f"{prefix}_p95", "value": float("nan"), "unit": "ms", "goal": f"< {goal_ms:g} ms ({what})", "ok": None}]
    med, p95 = statistics.median(xs), _p95(xs)
    return [
        {"name": f"{prefix}_median", "value": med, "unit": "ms", "goal": what},
        {"name": f"{prefix}_p95", "value": p95, "unit": "ms", "goal": f"< {goal_ms:g} ms ({what})", "ok": p95 < goal_ms},
    ]


def _kernel_steps(trace: Any, n: int) -> list[float]:
    from tcpkit.widgets import TracePlayer

    p = TracePlayer(trace)
    last = len(trace) - 1
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        if p.index >= last:
            p.slider.value = 0
        else:
            p.step()
        out.append((time.perf_counter() - t0) * 1000)
        del i
    p.close()
    return out


_LIVE_CODE = """
import json as _j, time as _t
_ts = []
for _i in range(%d):
    _t0 = _t.perf_counter()
    (player.step() if _i %% 2 == 0 else player.back())
    _ts.append((_t.perf_counter() - _t0) * 1000)
print("TCPKIT_TIMES" + _j.dumps(_ts))
"""

_JS_EXEC = """async (code) => {
  const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  let out = "";
  const future = kernel.requestExecute({code});
  future.onIOPub = (msg) => { if (msg.header.msg_type === "stream") out += msg.content.text; };
  await future.done;
  return out;
}"""


def _browser(n: int) -> tuple[list[float], list[float], list[float], str | None]:
    h = _harness()
    why = h.missing()
    if why:
        return [], [], [], why
    from playwright.sync_api import sync_playwright

    lab = h.Lab([NOTEBOOK])
    clicks: list[float] = []
    live: list[float] = []
    pings: list[float] = []
    try:
        lab.start()
        with sync_playwright() as pw:
            browser = h.open_browser(pw)
            try:
                page = browser.new_page(viewport={"width": 1500, "height": 2400})
                page.set_default_timeout(60_000)
                page.goto(f"{lab.url}/lab/tree/{NOTEBOOK.name}", timeout=90_000)
                h.run_all_cells(page, NOTEBOOK.name, ".tcpkit-knobs .noUi-handle")
                page.wait_for_function("() => { const p = document.querySelectorAll('.tcpkit-player .js-plotly-plot');"
                                       " return p.length >= 2 && p[1].layout && (p[1].layout.shapes || []).some(s => s.name === '_cursor' && s.visible); }",
                                       timeout=60_000)
                page.wait_for_timeout(500)
                plot = ".tcpkit-player .js-plotly-plot:nth-of-type(1)"
                # the ladder is the second plot inside the player
                page.evaluate("() => document.querySelectorAll('.tcpkit-player .js-plotly-plot')[1].classList.add('tcpkit-bench-ladder')")
                plot = ".tcpkit-bench-ladder"
                for i in range(n):  # record 5 <-> 6: the cursor moves every time
                    button = ".tcpkit-step" if i % 2 == 0 else ".tcpkit-back"
                    dt = page.evaluate(h.JS_CLICK_AND_TIME, [button, plot, "_cursor", 5000])
                    if dt >= 0:
                        clicks.append(float(dt))
                    page.wait_for_timeout(30)
                for _ in range(n):
                    dt = page.evaluate(h.JS_CLICK_AND_TEXT, [".tcpkit-ping", ".tcpkit-pong", 5000])
                    if dt >= 0:
                        pings.append(float(dt))
                    page.wait_for_timeout(30)
                out = page.evaluate(_JS_EXEC, _LIVE_CODE % n)
                for line in out.splitlines():
                    if line.startswith("TCPKIT_TIMES"):
                        live = [float(x) for x in json.loads(line[len("TCPKIT_TIMES"):])]
            finally:
                browser.close()
    finally:
        lab.stop()
    return clicks, live, pings, None


def run(quick: bool = False) -> list[dict[str, Any]]:
    from tcpkit.viz import example_trace

    n = 20 if quick else 50
    rows: list[dict[str, Any]] = []
    _kernel_steps(example_trace("lossy"), 3)  # warm up imports and FigureWidget
    rows += _rows("widgets.kernel_step_example", _kernel_steps(example_trace("lossy"), n), 20, "player step, in-process, example trace")
    try:
        from tcpkit.scenarios import run_scenario

        big = run_scenario("half_close", seed=1)
        rows += _rows("widgets.kernel_step_scenario", _kernel_steps(big, n), 20, f"player step, in-process, half_close ({len(big)} records)")
    except ImportError:
        pass
    clicks, live, pings, why = _browser(n)
    rows += _rows("widgets.kernel_step_live", live, 20, "player step inside a JupyterLab kernel, comms live")
    rows += _rows("widgets.browser_step", clicks, 100, f"click -> ladder redrawn in Chromium, {len(clicks)} clicks")
    if pings:
        rows.append({"name": "widgets.browser_roundtrip_floor_median", "value": statistics.median(pings), "unit": "ms",
                     "goal": "baseline: click -> text of a plain ipywidgets HTML changed (no tcpkit)"})
        rows.append({"name": "widgets.browser_roundtrip_floor_p95", "value": _p95(pings), "unit": "ms",
                     "goal": "baseline, same machine and load"})
    rows.append({"name": "widgets.machine_load_1min", "value": os.getloadavg()[0], "unit": "procs",
                 "goal": f"load average while measuring ({os.cpu_count()} CPUs)"})
    if why:
        for r in rows:
            if r["name"].startswith(("widgets.browser", "widgets.kernel_step_live")):
                r["goal"] += f"; skipped: {why}"
    return rows


if __name__ == "__main__":
    for row in run(quick=True):
        print(row)
