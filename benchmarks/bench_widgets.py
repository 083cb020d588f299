"""Widget latency: a player step in the kernel, and from a click to the redrawn figure in a browser.

Rows:

* ``widgets.kernel_step_*``: one TracePlayer step (cursor + graph highlight, inside
  ``batch_update``), measured in-process on the example trace and on a real
  scenario trace.  Goal: p95 under 20 ms.
* ``widgets.kernel_step_live_*``: the same, measured inside a real JupyterLab
  kernel with the widget displayed (so comm messages are really sent).
* ``widgets.browser_step_*``: from a click on the player's step/back button in
  headless Chromium until the ladder's cursor overlay has moved *and* the next
  animation frame has started (the frame that paints the new cursor), over 50
  clicks.  Goal: p95 under 100 ms.
* ``widgets.browser_step_dom_*``: the same clicks, until the overlay's SVG
  changed (no frame wait; what the old shape-based row measured).
* ``widgets.browser_step_settled_*``: the same clicks, until a task queued after
  that frame ran (an upper bound: it also waits for the player's other
  messages, text and slider, queued behind the cursor).
* ``widgets.browser_step_shapes_*``: the old way, for comparison: a second
  player with ``overlay=False`` moves the cursor as Plotly layout shapes of
  the ladder FigureWidget (``Plotly.relayout`` of the whole ladder); until the
  shape moved in the plot, polled every ~1 ms.
* ``widgets.big_*``: a tw_reuse-sized trace (thousands of segments): building
  its ladder cut to the default 100 segment records and uncut, and one player
  page turn (the cursor leaves the drawn records: the ladder is rebuilt and re-sent).
* ``widgets.browser_roundtrip_floor_*``: a bare ipywidgets button -> HTML round
  trip on the same page: what no widget can beat.

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
    spec = importlib.util.spec_from_file_location(
        "tcpkit_browser_harness", ROOT / "tests" / "data" / "browser" / "harness.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _p95(xs: list[float]) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, math.ceil(0.95 * len(s)) - 1)]


def _rows(prefix: str, xs: list[float], goal_ms: float, what: str) -> list[dict[str, Any]]:
    if not xs:
        return [
            {
                "name": f"{prefix}_p95",
                "value": float("nan"),
                "unit": "ms",
                "goal": f"< {goal_ms:g} ms ({what})",
                "ok": None,
            }
        ]
    med, p95 = statistics.median(xs), _p95(xs)
    return [
        {"name": f"{prefix}_median", "value": med, "unit": "ms", "goal": what},
        {
            "name": f"{prefix}_p95",
            "value": p95,
            "unit": "ms",
            "goal": f"< {goal_ms:g} ms ({what})",
            "ok": p95 < goal_ms,
        },
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


def _browser(n: int) -> tuple[dict[str, list[float]], list[float], str | None]:
    h = _harness()
    why = h.missing()
    if why:
        return {}, [], why
    from playwright.sync_api import sync_playwright

    lab = h.Lab([NOTEBOOK])
    out: dict[str, list[float]] = {"frame": [], "dom": [], "settled": [], "shapes": [], "floor": []}
    live: list[float] = []
    try:
        lab.start()
        with sync_playwright() as pw:
            browser = h.open_browser(pw)
            try:
                page = browser.new_page(viewport={"width": 1500, "height": 2400})
                page.set_default_timeout(60_000)
                page.goto(f"{lab.url}/lab/tree/{NOTEBOOK.name}", timeout=90_000)
                h.run_all_cells(page, NOTEBOOK.name, ".tcpkit-knobs .noUi-handle")
                page.wait_for_function(
                    f"() => {{ const o = ({h.JS_OVERLAY})(document.querySelector('.tcpkit-player'));"
                    " return o && JSON.parse(o)[0] === ''; }",
                    timeout=60_000,
                )
                page.wait_for_function(
                    "() => { const p = document.querySelectorAll('.tcpkit-bench-shapes .js-plotly-plot');"
                    " return p.length >= 2 && p[1].layout && (p[1].layout.shapes || []).some(s => s.name === "
                    "'_cursor' && s.visible); }",
                    timeout=60_000,
                )
                page.wait_for_timeout(500)
                # the overlay player: the first .tcpkit-player
                page.evaluate("() => document.querySelector('.tcpkit-player').classList.add('tcpkit-bench-overlay')")
                for i in range(n):  # record 5 <-> 6: the cursor moves every time
                    button = ".tcpkit-step" if i % 2 == 0 else ".tcpkit-back"
                    dom, frame, settled = page.evaluate(
                        h.JS_CLICK_AND_TIME_OVERLAY, [button, ".tcpkit-bench-overlay", 5000]
                    )
                    if dom >= 0:
                        out["dom"].append(float(dom))
                        out["frame"].append(float(frame))
                        out["settled"].append(float(settled))
                    page.wait_for_timeout(30)
                # the shapes player: its ladder is its second plot
                page.evaluate(
                    "() => document.querySelectorAll('.tcpkit-bench-shapes "
                    ".js-plotly-plot')[1].classList.add('tcpkit-bench-ladder')"
                )
                for i in range(n):
                    button = ".tcpkit-bench-shapes " + (".tcpkit-step" if i % 2 == 0 else ".tcpkit-back")
                    dt = page.evaluate(h.JS_CLICK_AND_TIME, [button, ".tcpkit-bench-ladder", "_cursor", 5000])
                    if dt >= 0:
                        out["shapes"].append(float(dt))
                    page.wait_for_timeout(30)
                for _ in range(n):
                    dt = page.evaluate(h.JS_CLICK_AND_TEXT, [".tcpkit-ping", ".tcpkit-pong", 5000])
                    if dt >= 0:
                        out["floor"].append(float(dt))
                    page.wait_for_timeout(30)
                text = page.evaluate(_JS_EXEC, _LIVE_CODE % n)
                for line in text.splitlines():
                    if line.startswith("TCPKIT_TIMES"):
                        live = [float(x) for x in json.loads(line[len("TCPKIT_TIMES") :])]
            finally:
                browser.close()
    finally:
        lab.stop()
    return out, live, None


def _big(trace: Any) -> list[dict[str, Any]]:
    from tcpkit.viz.ladder import MAX_SEGMENTS, ladder_figure
    from tcpkit.widgets import TracePlayer

    segs = sum(1 for r in trace if r.segment is not None)
    rows = []
    for name, kw in (("big_ladder_cut", {}), ("big_ladder_uncut", {"max_segments": None})):
        t0 = time.perf_counter()
        ladder_figure(trace, **kw)
        rows.append(
            {
                "name": f"widgets.{name}",
                "value": (time.perf_counter() - t0) * 1000,
                "unit": "ms",
                "goal": f"ladder_figure({kw or 'default'}) of tw_reuse: {len(trace)} records, {segs} segment records",
            }
        )
    p = TracePlayer(trace)
    turn = p._pages[1] if len(p._pages) > 1 else 0
    t0 = time.perf_counter()
    p.slider.value = turn
    rows.append(
        {
            "name": "widgets.big_page_turn",
            "value": (time.perf_counter() - t0) * 1000,
            "unit": "ms",
            "goal": (
                f"player step onto the next ladder page ({len(p._pages)} pages of <= {MAX_SEGMENTS} segment records)"
            ),
        }
    )
    p.close()
    return rows


def run(quick: bool = False) -> list[dict[str, Any]]:
    from tcpkit.viz import example_trace

    n = 20 if quick else 50
    rows: list[dict[str, Any]] = []
    _kernel_steps(example_trace("lossy"), 3)  # warm up imports and FigureWidget
    rows += _rows(
        "widgets.kernel_step_example",
        _kernel_steps(example_trace("lossy"), n),
        20,
        "player step, in-process, example trace",
    )
    try:
        from tcpkit.drivers.scenarios import run_scenario

        big = run_scenario("half_close", seed=1)
        rows += _rows(
            "widgets.kernel_step_scenario",
            _kernel_steps(big, n),
            20,
            f"player step, in-process, half_close ({len(big)} records)",
        )
        rows += _big(run_scenario("tw_reuse", seed=1))
    except ImportError:
        pass
    load_before = os.getloadavg()[0]
    got, live, why = _browser(n)
    rows += _rows("widgets.kernel_step_live", live, 20, "player step inside a JupyterLab kernel, comms live")
    clicks = got.get("frame", [])
    rows += _rows(
        "widgets.browser_step",
        clicks,
        100,
        f"click -> ladder cursor moved, next frame started, Chromium, {len(clicks)} clicks",
    )
    for key, what in (
        ("dom", "click -> cursor overlay SVG changed (no frame wait)"),
        ("settled", "click -> a task after the cursor's frame ran (upper bound, incl. text/slider messages)"),
    ):
        if got.get(key):
            rows.append(
                {
                    "name": f"widgets.browser_step_{key}_median",
                    "value": statistics.median(got[key]),
                    "unit": "ms",
                    "goal": what,
                }
            )
            rows.append(
                {"name": f"widgets.browser_step_{key}_p95", "value": _p95(got[key]), "unit": "ms", "goal": what}
            )
    if got.get("shapes"):
        rows.append(
            {
                "name": "widgets.browser_step_shapes_median",
                "value": statistics.median(got["shapes"]),
                "unit": "ms",
                "goal": "comparison: overlay=False, cursor as Plotly layout shapes (relayout of the ladder)",
            }
        )
        rows.append(
            {
                "name": "widgets.browser_step_shapes_p95",
                "value": _p95(got["shapes"]),
                "unit": "ms",
                "goal": "comparison: overlay=False",
            }
        )
    pings = got.get("floor", [])
    if pings:
        rows.append(
            {
                "name": "widgets.browser_roundtrip_floor_median",
                "value": statistics.median(pings),
                "unit": "ms",
                "goal": "baseline: click -> text of a plain ipywidgets HTML changed (no tcpkit)",
            }
        )
        rows.append(
            {
                "name": "widgets.browser_roundtrip_floor_p95",
                "value": _p95(pings),
                "unit": "ms",
                "goal": "baseline, same machine and load",
            }
        )
    rows.append(
        {
            "name": "widgets.machine_load_1min",
            "value": max(load_before, os.getloadavg()[0]),
            "unit": "procs",
            "goal": f"1-min load average, the larger of before/after the browser runs ({os.cpu_count()} CPUs)",
        }
    )
    if why:
        for r in rows:
            if r["name"].startswith(("widgets.browser", "widgets.kernel_step_live")):
                r["goal"] += f"; skipped: {why}"
    return rows


if __name__ == "__main__":
    for row in run(quick=True):
        print(row)
