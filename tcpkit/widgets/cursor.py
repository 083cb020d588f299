"""A tiny browser-side cursor drawn over a ladder figure, so a player step does not re-render the ladder.

Moving a Plotly layout shape in a ``FigureWidget`` costs a ``Plotly.relayout``
of the whole ladder in the browser plus a layout delta sent back to the
kernel (about 55 ms for a few hundred arrows).  :class:`LadderCursor` is a
small anywidget whose JavaScript draws the cursor line and the highlight of
the current segment as one SVG laid over the plot area; a step sends five
numbers and the browser moves two SVG lines.  The ladder stays a real Plotly
figure: the overlay reads its axes (``_fullLayout.xaxis``/``yaxis``) to turn
data coordinates into pixels, and redraws after every Plotly redraw.

Examples
--------
>>> from tcpkit.viz.examples import example_trace
>>> from tcpkit.viz.ladder import LadderView
>>> view = LadderView(example_trace("lossy"))
>>> c = LadderCursor()
>>> c.show(view, 5)
>>> c.y == view.ry[5], c.segment == list(view.cursor_at(5)[1])
(True, True)
>>> c.show(view, None); c.y is None
True
"""

from __future__ import annotations

from typing import Any

import anywidget
import traitlets

from tcpkit.viz.ladder import LadderView

__all__ = ["LadderCursor", "STACK_CLASS"]

#: CSS class of the box holding a ladder FigureWidget and its cursor overlay.
STACK_CLASS = "tcpkit-ladder-stack"

_ESM = r"""
const NS = "http://www.w3.org/2000/svg";
const STACK = "@STACK@";

function render({ model, el }) {
  el.classList.add("tcpkit-cursor-overlay");
  el.style.cssText = "width:0;height:0;overflow:visible;pointer-events:none";
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("class", "tcpkit-cursor");
  svg.setAttribute("width", "1");
  svg.setAttribute("height", "1");
  svg.style.cssText = "position:absolute;left:0;top:0;overflow:visible;pointer-events:none;z-index:5";
  const band = document.createElementNS(NS, "line");
  band.setAttribute("class", "tcpkit-cursor-segment");
  band.setAttribute("stroke", "#f5a623");
  band.setAttribute("stroke-width", "9");
  band.setAttribute("stroke-opacity", "0.45");
  band.setAttribute("stroke-linecap", "round");
  const line = document.createElementNS(NS, "line");
  line.setAttribute("class", "tcpkit-cursor-line");
  line.setAttribute("stroke", "#f5a623");
  line.setAttribute("stroke-width", "2");
  line.setAttribute("stroke-dasharray", "6,4");
  svg.append(band, line);
  let gd = null;
  let tries = 0;
  let timer = null;

  const place = (ln, x0, y0, x1, y1) => {
    ln.setAttribute("x1", x0.toFixed(1)); ln.setAttribute("y1", y0.toFixed(1));
    ln.setAttribute("x2", x1.toFixed(1)); ln.setAttribute("y2", y1.toFixed(1));
  };

  function plot() {
    const box = el.closest("." + STACK);
    return box ? box.querySelector(".js-plotly-plot") : null;
  }

  function draw() {
    const g = plot();
    const fl = g && g._fullLayout;
    if (!fl || !fl.xaxis || !fl.yaxis || typeof fl.xaxis.l2p !== "function") return false;
    if (g !== gd) {
      gd = g;
      if (typeof gd.on === "function") gd.on("plotly_afterplot", draw);
    }
    const host = g.querySelector(".svg-container") || g;
    if (svg.parentNode !== host) host.appendChild(svg);
    const xa = fl.xaxis, ya = fl.yaxis;
    const X = (v) => xa._offset + xa.l2p(v);
    const Y = (v) => ya._offset + ya.l2p(v);
    const y = model.get("y");
    const seg = model.get("segment") || [];
    const span = model.get("span") || [-0.6, 1.6];
    svg.dataset.y = y === null ? "" : String(y);
    svg.dataset.segment = JSON.stringify(seg);
    if (y === null || y === undefined) { svg.style.display = "none"; return true; }
    svg.style.display = "";
    place(line, X(span[0]), Y(y), X(span[1]), Y(y));
    if (seg.length === 4) {
      place(band, X(seg[0]), Y(seg[1]), X(seg[2]), Y(seg[3]));
      band.style.display = "";
    } else {
      band.style.display = "none";
    }
    return true;
  }

  function retry() {  // the plot may not be attached or drawn yet
    timer = null;
    if (!draw() && tries++ < 600) timer = setTimeout(retry, 50);
  }

  model.on("change", draw);
  retry();
  return () => {
    model.off("change", draw);
    if (timer !== null) clearTimeout(timer);
    if (gd && typeof gd.removeListener === "function") gd.removeListener("plotly_afterplot", draw);
    svg.remove();
  };
}

export default { render };
""".replace("@STACK@", STACK_CLASS)


class LadderCursor(anywidget.AnyWidget):
    """The player's cursor line and current-segment highlight, drawn over a ladder in the browser.

    Put it in a box with CSS class :data:`STACK_CLASS` next to the ladder's
    ``FigureWidget``; the JavaScript finds the plot in that box.

    Attributes
    ----------
    y : float or None
        Where the cursor line is (ladder y), ``None`` to hide it.
    segment : list of float
        ``[x0, y0, x1, y1]`` of the highlighted arrow, or ``[]``.
    span : list of float
        ``[x_left, x_right]`` of the cursor line.
    """

    _esm = _ESM
    y = traitlets.Float(None, allow_none=True).tag(sync=True)
    segment = traitlets.List(traitlets.Float(), default_value=[]).tag(sync=True)
    span = traitlets.List(traitlets.Float(), default_value=[-0.6, 1.6]).tag(sync=True)

    def show(self, view: LadderView | None, index: int | None) -> None:
        """Move to record ``index`` of ``view``'s trace (hidden if ``None`` or not drawn).

        All changes go to the browser in one message.
        """
        where = view.cursor_at(index) if view is not None else None
        y: float | None = None
        seg: list[float] = []
        span = list(view.x_span) if view is not None else self.span
        if where is not None:
            y = float(where[0])
            seg = [float(v) for v in where[1]] if where[1] is not None else []
        with self.hold_sync():
            if span != self.span:
                self.span = span
            if seg != self.segment:
                self.segment = seg
            if y != self.y:
                self.y = y

    def state(self) -> dict[str, Any]:
        """What the overlay shows (for tests and debugging)."""
        return {"y": self.y, "segment": list(self.segment), "span": list(self.span)}
