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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import ipywidgets as W
import plotly.graph_objects as go

from tcpkit.engine.errors import ParameterError, TcpkitError
from tcpkit.engine.profiles import get_profile
from tcpkit.i18n import register
from tcpkit.viz.labels import tr, zh

from ._base import TcpkitWidget, figure_bundle, static_html, strip_tags

__all__ = ["Control", "View", "Lab"]

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
        self.updates = 0
        self.view: View | None = None
        self.error: str | None = None
        self.widget = W.VBox(self._layout_children(), layout=W.Layout(width="100%"))
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
            self.updates += 1
            self.sentence.value = (
                f"<div data-view='{self.updates}' style='color:#d62728'>"
                f"⚠ {html.escape(tr('w.lab.error', why=str(exc)))}</div>"
            )
            self.details.value = ""
            return False
        self.error = None
        self.view = view
        self.picture.outputs = ({"output_type": "display_data", "data": figure_bundle(view.figure), "metadata": {}},)
        self.updates += 1
        self.sentence.value = (
            f"<div data-view='{self.updates}' style='font-size:14px;margin:4px 0 0 4px'>"
            f"{html.escape(view.sentence)}</div>"
        )
        self.details.value = view.details
        return True

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
