"""The lab base class: controls, one picture and one sentence, all replaced together on every change.

A notebook lab is a :class:`Lab`: a list of :class:`Control` specs (sliders,
drop-downs, toggles) and a :meth:`Lab.draw` method that turns their values into
a :class:`View`, a Plotly figure plus a short sentence of numbers.  On every
change the lab replaces the single output of its picture area and the sentence
at once, so nothing out of date stays below the controls, nothing is returned
for Jupyter to print and no raw result object is ever shown.

Labels are written in full next to each control (no ``description`` that the
browser would cut to ``tcp_syn_r…``); the tooltip gives the sysctl name, what the
knob does, its unit and the range the kernel allows.  Sliders report a value only
when released (``continuous_update=False``), so a slow run is not started for every
pixel of a drag.

Redrawing in place: a new Plotly plot per change costs the browser a whole
``Plotly.newPlot`` (and the JupyterLab renderer then renders a PNG copy of it).
Once the page has drawn the first picture, a :class:`PictureSync` (a small
anywidget, no plotly.js of its own) tells the kernel so; from then on each change
sends the new figure to it and its JavaScript calls ``Plotly.react`` on the plot
already in the picture area, which redraws only what changed.  The picture
area keeps its one output; its kernel-side copy is replaced only when the page
is not there to redraw in place (tests, a kernel without a front end) or after
an error cleared it.  A saved notebook keeps the first picture in the output
and the latest figure in the sync widget, which redraws it on reopening.

Slow runs are kept: :meth:`Lab.cached` holds the last :attr:`Lab.cache_size`
results of a lab's run per control values, so moving a control back to a
setting already seen costs only the figure.

A lab shown in a notebook carries a static twin in the same output
(:meth:`Lab._repr_mimebundle_`): the picture as Plotly JSON and as HTML, and the
sentence as text, so a notebook read without a kernel (nbviewer, GitHub, a
JupyterLab that has not run the notebook yet) still shows the picture.

Examples
--------
>>> import plotly.graph_objects as go
>>> class Square(Lab):
...     title_key = "w.lab.demo"
...     controls = (Control("n", "n", "int", 3, lo=1, hi=10),)
...     def draw(self, n):
...         return View(go.Figure(go.Bar(y=[n * n])), f"{n} squared is {n * n}")
>>> lab = Square()
>>> lab.sentence_text
'3 squared is 9'
>>> lab.set(n=4)
True
>>> lab.sentence_text, len(lab.picture.outputs)
('4 squared is 16', 1)
>>> sorted(lab._repr_mimebundle_())
['application/vnd.jupyter.widget-view+json', 'application/vnd.plotly.v1+json', 'text/html', 'text/plain']
>>> lab.set(n=99)
Traceback (most recent call last):
...
tcpkit.engine.errors.ParameterError: parameter n = 99 is not allowed: expected an integer from 1 to 10
>>> lab.close()
"""

from __future__ import annotations

import html
import math
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import anywidget
import ipywidgets as W
import plotly.graph_objects as go
import traitlets

from tcpkit.engine.errors import ParameterError, TcpkitError
from tcpkit.engine.profiles import get_profile
from tcpkit.i18n import register
from tcpkit.viz.labels import tr, zh

from ._base import TcpkitWidget, default_template, figure_bundle, static_html, strip_tags

__all__ = ["Control", "View", "Lab", "PictureSync"]

register(
    {
        "w.lab.demo": ("A demonstration lab", "演示实验"),
        "w.lab.error": ("This setting cannot be run: {why}", "这个设置无法运行：{why}"),
        "w.lab.range": ("allowed {lo}–{hi}", "允许范围 {lo}–{hi}"),
        "w.lab.range_lab": ("this lab offers {lo}–{hi}", "本实验可选 {lo}–{hi}"),
        "w.lab.choices": ("one of {choices}", "可选 {choices}"),
        "w.lab.unit": ("unit: {unit}", "单位：{unit}"),
        "w.lab.no_sysctl": ("a teaching knob (no sysctl)", "教学用参数（没有对应的 sysctl）"),
        "w.lab.running": ("running…", "运行中…"),
    }
)

_KINDS = ("int", "float", "choice", "toggle")


@dataclass(frozen=True)
class Control:
    """One control of a lab.

    Parameters
    ----------
    name : str
        The keyword :meth:`Lab.draw` receives.
    label : str
        What the student reads next to the control, in full: a sysctl name (shown
        as it is) or a catalogue key of :mod:`tcpkit.i18n` (translated).
    kind : {"int", "float", "choice", "toggle"}
        A slider (``int``, ``float``), a drop-down (``choice``) or a row of
        buttons (``toggle``).
    default : value
    lo, hi, step : numbers, optional
        Slider range and step.
    options : sequence of (label, value), optional
        For ``choice`` and ``toggle``; a label is translated when it is a catalogue key.
    unit : str
        Catalogue key of the unit (``"w.unit.s"``) or ``""``.
    help, help_zh : str
        What the control changes, in English and Chinese (the tooltip).
    sysctl : str, optional
        The real sysctl (``net.ipv4.tcp_syn_retries``), named in the tooltip.
    allowed : str, optional
        The range the kernel allows, if wider than the slider's.
    """

    name: str
    label: str
    kind: str
    default: Any
    lo: float | None = None
    hi: float | None = None
    step: float | None = None
    options: tuple[tuple[str, Any], ...] = ()
    unit: str = ""
    help: str = ""
    help_zh: str = ""
    sysctl: str | None = None
    allowed: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ParameterError("kind", self.kind, "one of " + ", ".join(_KINDS))
        if self.kind in ("int", "float") and (self.lo is None or self.hi is None):
            raise ParameterError("lo/hi", (self.lo, self.hi), f"a range for the {self.kind} control {self.name!r}")
        if self.kind in ("choice", "toggle") and not self.options:
            raise ParameterError("options", self.options, f"choices for the control {self.name!r}")

    @classmethod
    def knob(
        cls,
        name: str,
        *,
        lo: float | None = None,
        hi: float | None = None,
        step: float | None = None,
        default: Any = None,
        kind: str | None = None,
        options: Sequence[tuple[str, Any]] = (),
        profile: str = "linux",
    ) -> Control:
        """A control for a knob of a profile: label, unit, help and sysctl come from its metadata.

        ``lo``/``hi`` narrow the slider to what the lab needs; the tooltip still
        gives the range the kernel allows.

        >>> c = Control.knob("tcp_syn_retries", hi=10)
        >>> c.label, c.lo, c.hi, c.sysctl, c.allowed
        ('tcp_syn_retries', 1, 10, 'net.ipv4.tcp_syn_retries', '1–127')
        """
        k = get_profile(profile).knob(name)
        value = k.default if default is None else default
        if k.kind in ("choice", "bool"):
            choices = options or tuple((str(c), c) for c in (k.choices or (0, 1)))
            return cls(
                name,
                name,
                kind or "toggle",
                int(value) if k.kind == "bool" else value,
                options=tuple(choices),
                unit=f"w.unit.{k.unit}" if k.unit else "",
                help=k.help,
                help_zh=k.help_zh,
                sysctl=k.sysctl,
                allowed=", ".join(str(c) for c in (k.choices or (0, 1))),
            )
        assert k.lo is not None and k.hi is not None
        return cls(
            name,
            name,
            kind or k.kind,
            value,
            lo=k.lo if lo is None else lo,
            hi=k.hi if hi is None else hi,
            step=step,
            unit=f"w.unit.{k.unit}" if k.unit else "",
            help=k.help,
            help_zh=k.help_zh,
            sysctl=k.sysctl,
            allowed=f"{_num(k.lo)}–{_num(k.hi)}",
        )

    # -- text ------------------------------------------------------------------------
    def label_text(self) -> str:
        """The label in the current language (sysctl-like names stay as they are)."""
        return tr(self.label)

    def tooltip(self) -> str:
        """Sysctl name, meaning, unit and range, in the current language."""
        parts = [self.sysctl or (tr("w.lab.no_sysctl") if self.allowed and not self.sysctl else self.label_text())]
        text = self.help_zh if zh() and self.help_zh else self.help
        if text:
            parts.append(tr(text))
        if self.unit:
            parts.append(tr("w.lab.unit", unit=tr(self.unit)))
        if self.allowed:
            parts.append(tr("w.lab.range", lo=self.allowed.split("–")[0], hi=self.allowed.split("–")[-1]))
        if self.kind in ("int", "float"):
            parts.append(tr("w.lab.range_lab", lo=_num(self.lo), hi=_num(self.hi)))
        elif not self.allowed:
            parts.append(tr("w.lab.choices", choices=", ".join(str(v) for _, v in self.options)))
        return " · ".join(p for p in parts if p)

    def check(self, value: Any) -> Any:
        """The value if this control can show it, else a ParameterError naming the control."""
        if self.kind in ("int", "float"):
            ok_type = isinstance(value, int | float) and not isinstance(value, bool)
            if self.kind == "int" and isinstance(value, float) and value.is_integer():
                value = int(value)
            if self.kind == "int" and not isinstance(value, int):
                ok_type = False
            if not ok_type or not math.isfinite(value):
                what = "an integer" if self.kind == "int" else "a number"
                raise ParameterError(self.name, value, f"{what} from {_num(self.lo)} to {_num(self.hi)}")
            assert self.lo is not None and self.hi is not None
            if not self.lo <= value <= self.hi:
                what = "an integer" if self.kind == "int" else "a number"
                raise ParameterError(self.name, value, f"{what} from {_num(self.lo)} to {_num(self.hi)}")
            return value
        values = [v for _, v in self.options]
        if value not in values or isinstance(value, bool) != any(isinstance(v, bool) for v in values):
            raise ParameterError(self.name, value, "one of " + ", ".join(repr(v) for v in values))
        return value

    def make(self) -> W.ValueWidget:
        """The ipywidgets control (no description: the label is a separate element)."""
        lay = W.Layout(width="auto", min_width="260px", max_width="420px")
        if self.kind == "int":
            return W.IntSlider(
                value=int(self.default),
                min=int(self.lo or 0),
                max=int(self.hi or 0),
                step=int(self.step or 1),
                continuous_update=False,
                layout=lay,
            )
        if self.kind == "float":
            step = self.step or ((self.hi or 1) - (self.lo or 0)) / 100
            return W.FloatSlider(
                value=float(self.default),
                min=float(self.lo or 0),
                max=float(self.hi or 0),
                step=step,
                continuous_update=False,
                readout_format=".1f" if step >= 0.1 else ".2f",
                layout=lay,
            )
        opts = [(tr(lab), v) for lab, v in self.options]
        if self.kind == "choice":
            return W.Dropdown(options=opts, value=self.default, layout=W.Layout(width="auto", min_width="200px"))
        return W.ToggleButtons(options=opts, value=self.default, style={"button_width": "auto"})


@dataclass(frozen=True)
class View:
    """What a lab shows after a change: a picture first, a short sentence second.

    ``figure`` is a go.Figure or a plain Plotly dict spec (faster to build for a redraw).
    """

    figure: go.Figure | dict[str, Any]
    sentence: str
    details: str = ""  # optional small HTML under the sentence (a short table), already escaped


_SYNC_ESM = r"""
const LAB = ".tcpkit-lab";

function render({ model, el }) {
  el.classList.add("tcpkit-picture-sync");
  el.style.cssText = "display:none";
  let timer = null, tries = 0, busy = false, again = false, told = null;

  function plot() {
    const lab = el.closest(LAB);
    return lab ? lab.querySelector(".tcpkit-lab-picture .js-plotly-plot") : null;
  }

  async function apply() {
    const gd = plot();
    const P = window.Plotly;  // set by plotly.js when the picture's renderer loaded it
    if (!gd || !P || typeof P.react !== "function" || !gd._fullLayout) return false;
    if (told !== gd) { told = gd; model.send({ ready: true }); }  // a new plot: the kernel may redraw in place
    const view = String(model.get("view"));
    const spec = model.get("spec");
    if (!spec || !spec.data || gd.dataset.tcpkitView === view) return true;
    if (busy) { again = true; return true; }
    busy = true;
    try {
      const layout = Object.assign({}, spec.layout || {});
      if (!layout.template && gd.layout && gd.layout.template) layout.template = gd.layout.template;
      if (!layout.height) layout.height = 360;  // what JupyterLab's renderer gives a figure without one
      const t0 = performance.now();
      await P.react(gd, spec.data, layout, spec.config || {});
      gd.dataset.tcpkitDrawMs = (performance.now() - t0).toFixed(1);  // for benchmarks/bench_labs.py
      gd.dataset.tcpkitView = view;
    } catch (err) {
      console.error("tcpkit: redraw in place failed", err);
      model.send({ failed: String(err) });
    } finally {
      busy = false;
    }
    if (again) { again = false; await apply(); }
    return true;
  }

  function retry() {  // the picture may not be attached or drawn yet
    timer = null;
    apply().then((ok) => { if (!ok && tries++ < 600) timer = setTimeout(retry, 50); });
  }

  const changed = () => { tries = 0; if (timer === null) retry(); };
  model.on("change:view", changed);
  retry();
  return () => { model.off("change:view", changed); if (timer !== null) clearTimeout(timer); };
}

export default { render };
"""


class PictureSync(anywidget.AnyWidget):
    """Redraws a lab's picture in place in the browser: ``Plotly.react`` on the plot already shown.

    It is a hidden element of the lab's box; its JavaScript finds the plot in the
    lab's picture area and uses the page's own plotly.js (loaded by JupyterLab's
    Plotly renderer for the first picture), so it carries no copy of plotly.js.

    Attributes
    ----------
    spec : dict or None
        The figure to show (Plotly JSON: data, layout without the default
        template, config), ``None`` while the picture area's own output is current.
    view : int
        The lab's view number; the plot is redrawn when it changes.
    ready : bool
        A page has drawn the picture and can redraw it in place (set by the browser).
    failed : str
        Why the last redraw in place failed in the browser ("" if it did not).

    >>> s = PictureSync()
    >>> s.ready, s.view, s.spec is None
    (False, 0, True)
    >>> s._handle_message(None, {"ready": True}, None); s.ready
    True
    >>> s._handle_message(None, {"failed": "TypeError"}, None); s.ready, s.failed
    (False, 'TypeError')
    """

    #: Called (no arguments) when the browser could not redraw in place: the lab then replaces its output.
    on_failed: Callable[[], Any] | None = None

    _esm = _SYNC_ESM
    spec = traitlets.Dict(allow_none=True, default_value=None).tag(sync=True)
    view = traitlets.Int(0).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ready = False
        self.failed = ""
        self.on_msg(self._handle_message)

    def _handle_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict):
            return
        if content.get("ready"):
            self.ready = True
        if content.get("failed"):
            self.ready = False  # the picture's output is replaced instead, now and on the next changes
            self.failed = str(content["failed"])[:500]
            if self.on_failed is not None:
                self.on_failed()

    def show(self, spec: dict[str, Any] | None, view: int) -> None:
        """Send ``spec`` (or ``None``: the output is current) with its view number, in one message."""
        if spec is not None:
            layout = spec.get("layout") or {}
            if layout.get("template") == default_template():
                spec = {**spec, "layout": {k: v for k, v in layout.items() if k != "template"}}
        with self.hold_sync():
            self.set_trait("spec", spec)  # None is allowed (mypy sees a dict trait)
            self.view = view


def _num(v: float | None) -> str:
    if v is None:
        return "?"
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


class Lab(TcpkitWidget):
    """Controls, one picture and one sentence, replaced together on every change.

    Subclasses set :attr:`controls` (a tuple of :class:`Control`) and
    :attr:`title_key`, and implement :meth:`draw`.  Keyword arguments of the
    constructor give a control another starting value.

    Attributes
    ----------
    widget : ipywidgets.VBox
        Title, the grid of labelled controls, the picture area, the sentence.
    inputs : dict
        Control name -> its ipywidgets control.
    labels : dict
        Control name -> the HTML element holding its full label.
    picture : ipywidgets.Output
        Holds exactly one output: the current figure.
    sentence : ipywidgets.HTML
        The numbers, in one short sentence.
    view : View
        What is shown now.
    updates : int
        How many times the view was drawn (the browser test waits for it to change).
    """

    title_key: ClassVar[str] = ""
    controls: ClassVar[tuple[Control, ...]] = ()
    css_class: ClassVar[str] = ""
    picture_height: ClassVar[int] = 420
    #: How many runs :meth:`cached` keeps (the controls are discrete, so settings come back).
    cache_size: ClassVar[int] = 128

    def __init__(self, **start: Any) -> None:
        super().__init__()
        self._controls = {c.name: c for c in self._control_specs()}
        for name, value in start.items():
            if name not in self._controls:
                raise ParameterError(name, value, "a control of this lab: " + ", ".join(self._controls))
            self._controls[name].check(value)
        self.title = W.HTML()
        self.inputs: dict[str, W.ValueWidget] = {}
        self.labels: dict[str, W.HTML] = {}
        self.units: dict[str, W.HTML] = {}
        cells: list[W.Widget] = []
        for c in self._controls.values():
            ctl = c.make()
            if c.name in start:
                ctl.value = start[c.name]
            ctl.add_class("tcpkit-lab-control")
            ctl.observe(self._on_change, names="value")
            self.inputs[c.name] = ctl
            self.labels[c.name] = W.HTML(layout=W.Layout(width="max-content"))
            self.labels[c.name].add_class("tcpkit-lab-label")
            self.units[c.name] = W.HTML(layout=W.Layout(width="max-content"))
            cells += [self.labels[c.name], ctl, self.units[c.name]]
        self.grid = W.GridBox(
            cells,
            layout=W.Layout(
                grid_template_columns="max-content minmax(260px, 420px) max-content",
                grid_gap="2px 12px",
                align_items="center",
                width="auto",
            ),
        )
        self.picture = W.Output(layout=W.Layout(min_height=f"{self.picture_height}px", width="100%"))
        self.picture.add_class("tcpkit-lab-picture")
        self.sentence = W.HTML()
        self.sentence.add_class("tcpkit-lab-sentence")
        self.details = W.HTML()
        self.details.add_class("tcpkit-lab-details")
        self.sync = PictureSync()
        self.sync.on_failed = self._replace_picture
        self._cache: OrderedDict[Hashable, Any] = OrderedDict()
        self._drawn = False  # whether the picture area's output holds a figure the page can redraw in place
        self.updates = 0
        self.view: View | None = None
        self.error: str | None = None
        self.widget = W.VBox(self._children(), layout=W.Layout(width="100%"))
        self.widget.add_class("tcpkit-lab")
        if self.css_class:
            self.widget.add_class(self.css_class)
        self._label_controls()
        self.update()

    # -- to override ----------------------------------------------------------------
    def _control_specs(self) -> tuple[Control, ...]:
        return tuple(self.controls)

    def _layout_children(self) -> list[W.Widget]:
        return [self.title, self.grid, self.picture, self.sentence, self.details]

    def _children(self) -> list[W.Widget]:
        return [*self._layout_children(), self.sync]

    #: The view for given control values (keyword arguments named after the controls); each lab defines it.
    draw: Callable[..., View]

    def title_text(self) -> str:
        """The lab's title in the current language."""
        return tr(self.title_key) if self.title_key else ""

    # -- API -------------------------------------------------------------------------
    @property
    def values(self) -> dict[str, Any]:
        """Control name -> current value."""
        return {name: ctl.value for name, ctl in self.inputs.items()}

    @property
    def figure(self) -> go.Figure:
        """The figure shown now (a plain Figure, validated when asked for)."""
        if self.view is None:
            return go.Figure()
        fig = self.view.figure
        return fig if isinstance(fig, go.Figure) else go.Figure(fig)

    @property
    def sentence_text(self) -> str:
        """The sentence shown now, as plain text."""
        return strip_tags(html.unescape(self.sentence.value))

    def cached(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """``compute()``, kept under ``key`` (the run's inputs) for the next time the same setting is drawn.

        Only for pure runs (same inputs, same result: a seeded simulation, a model);
        the least recently used of more than :attr:`cache_size` results is dropped.

        >>> class Twice(Lab):
        ...     controls = (Control("n", "n", "int", 1, lo=1, hi=5),)
        ...     runs = 0
        ...     def draw(self, n):
        ...         def run():
        ...             self.runs += 1
        ...             return 2 * n
        ...         v = self.cached(("twice", n), run)
        ...         return View({"data": [{"type": "bar", "y": [v]}]}, f"twice {n} is {v}")
        >>> lab = Twice(); lab.set(n=2); lab.set(n=1); lab.runs
        True
        True
        2
        >>> lab.close()
        """
        try:
            self._cache.move_to_end(key)
            return self._cache[key]
        except KeyError:
            pass
        value = compute()
        self._cache[key] = value
        while len(self._cache) > max(self.cache_size, 0):
            self._cache.popitem(last=False)
        return value

    def clear_cache(self) -> None:
        """Forget the kept runs (:meth:`cached`): the next draw of every setting runs again.

        >>> lab = Lab.__new__(Lab); lab._cache = OrderedDict(a=1); lab.clear_cache(); len(lab._cache)
        0
        """
        self._cache.clear()

    def set(self, **values: Any) -> bool:
        """Move controls as a student would, then redraw once; ``False`` if the draw was refused.

        Raises ParameterError (naming the control and what is allowed) for a
        value no control offers.
        """
        for name, value in values.items():
            if name not in self._controls:
                raise ParameterError(name, value, "a control of this lab: " + ", ".join(self._controls))
            self._controls[name].check(value)
        self._quiet = True
        try:
            for name, value in values.items():
                self.inputs[name].value = value
        finally:
            self._quiet = False
        return self.update()

    def update(self) -> bool:
        """Draw the view for the current values and replace picture and sentence at once."""
        self._check_language()
        try:
            view = self.draw(**self.values)
        except TcpkitError as exc:
            self.error = str(exc)
            self.picture.outputs = ()
            self._drawn = False
            self.updates += 1
            self.sync.show(None, self.updates)
            self.sentence.value = (
                f"<div data-view='{self.updates}' style='color:#d62728'>"
                f"⚠ {html.escape(tr('w.lab.error', why=str(exc)))}</div>"
            )
            self.details.value = ""
            return False
        self.error = None
        self.view = view
        bundle = figure_bundle(view.figure)
        self.updates += 1
        if self._drawn and self.sync.ready:  # the page redraws the plot it has: Plotly.react, not a new plot
            self.sync.show(bundle["application/vnd.plotly.v1+json"], self.updates)
        else:
            self.picture.outputs = ({"output_type": "display_data", "data": bundle, "metadata": {}},)
            self._drawn = True
            self.sync.show(None, self.updates)
        self.sentence.value = (
            f"<div data-view='{self.updates}' style='font-size:14px;margin:4px 0 0 4px'>"
            f"{html.escape(view.sentence)}</div>"
        )
        self.details.value = view.details
        return True

    def _replace_picture(self) -> None:
        """Show the current view as the picture area's output again (after a failed redraw in place)."""
        if self.view is not None and self.error is None:
            bundle = figure_bundle(self.view.figure)
            self.picture.outputs = ({"output_type": "display_data", "data": bundle, "metadata": {}},)
            self._drawn = True
            self.sync.show(None, self.updates)

    def refresh_language(self) -> None:
        self._label_controls()
        self.update()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        self._check_language()
        bundle = dict(self.widget._repr_mimebundle_(**kwargs) or {})
        if self.view is not None:
            bundle.update(figure_bundle(self.view.figure))
        bundle["text/plain"] = f"{self.title_text()}: {self.sentence_text}"
        bundle["text/html"] = static_html(
            self.view.figure if self.view else None, self.sentence_text, self.title_text(), self.details.value
        )
        return bundle

    def static(self) -> go.Figure:
        """The current picture as a plain Figure (for notebooks read without a kernel)."""
        return go.Figure(self.figure)

    # -- internals ---------------------------------------------------------------------
    _quiet = False

    def _on_change(self, _change: dict[str, Any]) -> None:
        if not self._quiet:
            self.update()

    def _label_controls(self) -> None:
        self.title.value = f"<b style='font-size:15px'>{html.escape(self.title_text())}</b>" if self.title_key else ""
        for name, c in self._controls.items():
            tip = c.tooltip()
            self.labels[name].value = (
                f"<span class='tcpkit-label' title='{html.escape(tip, quote=True)}' "
                f"style='white-space:nowrap;font-family:monospace'>{html.escape(c.label_text())}</span>"
            )
            self.units[name].value = (
                f"<span style='color:#555;white-space:nowrap'>{html.escape(tr(c.unit))}</span>" if c.unit else ""
            )
            ctl = self.inputs[name]
            ctl.tooltip = tip
            if c.kind in ("choice", "toggle"):
                new = [(tr(lab), v) for lab, v in c.options]
                if list(ctl.options) != new:
                    value = ctl.value
                    self._quiet = True
                    try:
                        ctl.options = new
                        ctl.value = value
                    finally:
                        self._quiet = False
