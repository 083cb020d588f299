"""Render Plotly figures to PNG files with headless Chromium, for looking at charts during review.

Usage (from the repository root)::

    .venv/bin/python tests/data/browser/figshot.py OUTDIR [--width 900] [--zh]

writes one PNG per chart the course shows (the state graph, a ladder, the ISN
chart, the kernel-vs-model chart, the flood lab, ...) into ``OUTDIR``.  The
page loads plotly.js from the installed ``plotly`` package (no network), so the
pictures are what a notebook shows.  ``tests/test_viz_shots.py`` calls
:func:`render` for the same figures.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]


def _plotly_js() -> str:
    import plotly

    return (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_text(encoding="utf-8")


def render(figures: Iterable[tuple[str, Any]], out: Path, *, width: int = 900) -> list[Path]:
    """Draw each ``(name, figure)`` at ``width`` pixels (height from the figure) into ``out/name.png``."""
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(HERE))
    import harness

    out.mkdir(parents=True, exist_ok=True)
    items = [(name, json.loads(fig.to_json())) for name, fig in figures]
    page_html = (
        "<html><head><meta charset='utf-8'><script>"
        + _plotly_js()
        + "</script></head><body style='margin:0;background:white'><div id='plot'></div></body></html>"
    )
    written = []
    with sync_playwright() as pw:
        browser = harness.open_browser(pw)
        try:
            page = browser.new_page(viewport={"width": width + 40, "height": 900})
            page.set_content(page_html)
            for name, spec in items:
                height = int((spec.get("layout") or {}).get("height") or 450)
                page.set_viewport_size({"width": width + 40, "height": height + 40})
                page.evaluate(
                    """async ([spec, width]) => {
                      const el = document.getElementById('plot');
                      el.style.width = width + 'px';
                      await Plotly.newPlot(el, spec.data, Object.assign({}, spec.layout, {width: width}),
                                           {staticPlot: false, displayModeBar: false});
                    }""",
                    [spec, width],
                )
                path = out / f"{name}.png"
                page.locator("#plot").screenshot(path=str(path))
                written.append(path)
        finally:
            browser.close()
    return written


def course_figures() -> list[tuple[str, Callable[[], Any]]]:
    """The charts issue 15 asked to make readable, as they appear in the notebooks."""
    from tcpkit.drivers.scenarios import run_scenario
    from tcpkit.viz import isn_figure, ladder_figure, state_graph_figure

    def live() -> Any:
        from tcpkit.live import load_recorded

        return load_recorded("open_close_client_first").figure()

    def lab(name: str) -> Callable[[], Any]:
        def make() -> Any:
            from tcpkit.widgets import labs
            from tcpkit.widgets.flood_lab import FloodLab

            cls = FloodLab if name == "FloodLab" else getattr(labs, name)
            return cls().figure

        return make

    return [
        ("state_graph", lambda: state_graph_figure()),
        ("state_graph_player", lambda: state_graph_figure(run_scenario("open_close_client_first", seed=1))),
        ("ladder_handshake", lambda: ladder_figure(run_scenario("open_close_client_first", seed=1))),
        ("isn", lambda: isn_figure(("clock", "rfc6528", "linux", "random"), seed=1)),
        ("live_vs_model", live),
        ("flood_lab", lab("FloodLab")),
        ("lab_exits", lab("ExitsLab")),
        ("lab_syn", lab("SynRetryLab")),
        ("lab_isn", lab("IsnAttackLab")),
        ("lab_close", lab("SlowCloseLab")),
        ("lab_ceiling", lab("PortCeilingLab")),
        ("lab_exhaust", lab("PortExhaustionLab")),
        ("lab_kernel", lab("KernelLab")),
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--width", type=int, default=900)
    ap.add_argument("--zh", action="store_true")
    ap.add_argument("--only", nargs="*")
    args = ap.parse_args(argv)
    if args.zh:
        from tcpkit import set_language

        set_language("zh")
    figs = []
    for name, make in course_figures():
        if args.only and name not in args.only:
            continue
        try:
            figs.append((name, make()))
        except Exception as exc:  # noqa: BLE001 - a review tool: say which chart could not be made
            print(f"{name}: {type(exc).__name__}: {exc}")
    for p in render(figs, Path(args.out), width=args.width):
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
