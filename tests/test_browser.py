"""The player and a knob panel in a real JupyterLab, in headless Chromium.

Starts JupyterLab on a free localhost port (temp config/runtime dirs, no token),
runs tests/data/browser/player.ipynb, clicks the player's step button and moves a
knob slider, and checks in the page that the figures changed: the state graph's
highlight, the ladder's cursor overlay (drawn over the plot, aligned with its
axes) and, after the knob, the ladder itself.  A screenshot goes to
test-artifacts/browser_player.png.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
_spec = importlib.util.spec_from_file_location("tcpkit_browser_harness", HERE / "data" / "browser" / "harness.py")
assert _spec is not None and _spec.loader is not None
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]

LADDER = ".tcpkit-player .js-plotly-plot >> nth=1"

#: Whether the cursor overlay is shown and sits where the ladder's own axes put its data y (within 1 px).
JS_ALIGNED = """(gd) => { const svg = gd.querySelector('svg.tcpkit-cursor');
  if (!svg || svg.style.display === 'none' || svg.dataset.y === '') return false;
  const ya = gd._fullLayout.yaxis, want = ya._offset + ya.l2p(parseFloat(svg.dataset.y));
  const got = parseFloat(svg.querySelector('.tcpkit-cursor-line').getAttribute('y1'));
  return Math.abs(want - got) < 1; }"""


@pytest.fixture(scope="module")
def lab():
    why = harness.missing()
    if why:
        pytest.skip(why)
    lab = harness.Lab([HERE / "data" / "browser" / "player.ipynb"])
    try:
        lab.start()
        yield lab
    finally:
        lab.stop()


def test_player_and_knob_in_jupyterlab(lab) -> None:
    from playwright.sync_api import sync_playwright

    shots = ROOT / "test-artifacts"
    shots.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = harness.open_browser(pw)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 2400})
            page.set_default_timeout(60_000)
            page.goto(f"{lab.url}/lab/tree/player.ipynb", timeout=90_000)
            harness.run_all_cells(page, "player.ipynb", ".tcpkit-knobs .noUi-handle")
            page.wait_for_function(
                "() => document.querySelectorAll('.tcpkit-player .js-plotly-plot').length >= 2"
                " && document.querySelectorAll('.tcpkit-player .js-plotly-plot')[1].data",
                timeout=60_000,
            )
            graph_sel = ".tcpkit-player .js-plotly-plot"
            ladder_js = "document.querySelectorAll('.tcpkit-player .js-plotly-plot')[1]"
            overlay = f"() => ({harness.JS_OVERLAY})(document.querySelector('.tcpkit-player'))"
            aligned = f"() => ({JS_ALIGNED})({ladder_js})"
            lit = harness.JS_LIT
            # the first picture: record 6 (the client's SYN) is current
            page.wait_for_function(
                f"(sel) => JSON.stringify(({lit})(sel)) === JSON.stringify(['client|SYN_SENT', 'server|LISTEN'])",
                arg=graph_sel,
                timeout=30_000,
            )
            page.wait_for_function(aligned, timeout=30_000)
            # the cursor is the overlay: the figure's own cursor shape stays hidden
            assert json.loads(page.evaluate(f"() => ({harness.JS_CURSOR})({ladder_js})"))[0] is False
            before = json.loads(page.evaluate(overlay))
            assert before[0] == "" and before[3] is not None  # shown, and the SYN's arrow highlighted

            # step three records: the SYN arrives, the server moves to SYN_RECEIVED
            for _ in range(3):
                page.click(".tcpkit-step")
            page.wait_for_function(
                f"() => {{ const o = ({harness.JS_OVERLAY})(document.querySelector('.tcpkit-player'));"
                f" return o && JSON.parse(o)[1] !== {before[1]!r}; }}",
                timeout=15_000,
            )
            after = json.loads(page.evaluate(overlay))
            assert float(after[2]) > float(before[2])  # the cursor went down the ladder
            assert page.evaluate(aligned)
            page.wait_for_function(
                "(sel) => { const gd = document.querySelector(sel);"
                " return (gd.layout.annotations || []).some(a => a.name === 'server|SYN_RECEIVED' && a.bgcolor !== "
                "'white'); }",
                arg=graph_sel,
                timeout=15_000,
            )
            page.wait_for_function(
                "() => document.querySelector('.tcpkit-player').innerText.includes('record #8 ')", timeout=15_000
            )

            # move the RTO knob: the ladder is redrawn with the retransmission later
            ticks_before = page.evaluate(
                f"() => Array.from({ladder_js}.querySelectorAll('.ytick text')).map(t => t.textContent)"
            )
            assert "1.111" in ticks_before
            handle = page.locator(".tcpkit-knobs .noUi-handle").first
            handle.focus()
            for _ in range(10):
                handle.press("ArrowRight")
            page.wait_for_function(
                f"() => !Array.from({ladder_js}.querySelectorAll('.ytick text')).map(t => "
                f"t.textContent).includes('1.111')",
                timeout=20_000,
            )
            ticks_after = page.evaluate(
                f"() => Array.from({ladder_js}.querySelectorAll('.ytick text')).map(t => t.textContent)"
            )
            assert ticks_after != ticks_before
            page.wait_for_function(aligned, timeout=15_000)  # the overlay follows the redrawn ladder
            page.wait_for_timeout(300)  # let the last redraw settle before the picture
            page.screenshot(path=str(shots / "browser_lab.png"))
            page.locator(".tcpkit-player").first.screenshot(path=str(shots / "browser_player.png"))
        finally:
            browser.close()
