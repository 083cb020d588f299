"""The scenario explorer: pick a scenario, change its parameters, rerun, watch every picture update.

:mod:`tcpkit.drivers.scenarios` is imported lazily.  When it cannot be imported the
explorer says so and explores the hand-made example traces of
:mod:`tcpkit.viz.examples` instead, so the widget always works.

Examples
--------
>>> ex = ScenarioExplorer(runner=_example_runner(), name="lossy")
>>> ex.params["rto"].value = 0.5
>>> ex.on_run_clicked(None)
True
>>> ex.trace.meta["rto"]
0.5
>>> ex.params["delay"].value = -1
>>> ex.run()
False
>>> "delay = -1" in ex.status.value
True
"""

from __future__ import annotations

import html
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import ipywidgets as W
import plotly.graph_objects as go

from tcpkit.engine.errors import ParameterError, TcpkitError
from tcpkit.engine.trace import Kind, Trace
from tcpkit.viz.labels import tr, zh
from tcpkit.viz.timeline import queue_figure, state_gantt_figure

from ._base import TcpkitWidget, figure_widget, replace_figure
from .player import TracePlayer

__all__ = ["ScenarioExplorer", "ScenarioRunner", "scenario_runner"]


@dataclass
class ScenarioRunner:
    """How the explorer lists, describes and runs scenarios."""

    names: list[str]
    params: Callable[[str], dict[str, Any]]  # name -> default parameters
    describe: Callable[[str], str]
    run: Callable[..., Trace]  # run(name, seed=..., **params)
    source: str
    problem: str | None = None


def _example_runner(problem: str | None = None) -> ScenarioRunner:
    from tcpkit.viz.examples import KINDS, example_trace

    def run(name: str, seed: int = 0, **params: Any) -> Trace:
        return example_trace(name, **params)

    return ScenarioRunner(
        names=list(KINDS),
        params=lambda name: {"delay": 0.05, "rto": 1.0},
        describe=lambda name: f"hand-made example trace {name!r} (tcpkit.viz.examples)",
        run=run,
        source="tcpkit.viz.examples",
        problem=problem,
    )


def scenario_runner() -> ScenarioRunner:
    """The scenarios of :mod:`tcpkit.drivers.scenarios`, or the examples if it cannot be imported.

    >>> r = scenario_runner()
    >>> r.source in ("tcpkit.drivers.scenarios", "tcpkit.viz.examples"), len(r.names) > 0
    (True, True)
    """
    try:
        from tcpkit.drivers import scenarios as sc
    except Exception as exc:  # noqa: BLE001 - any import problem: fall back, and say why
        return _example_runner(f"{type(exc).__name__}: {exc}")
    table: Mapping[str, Any] = getattr(sc, "SCENARIOS", {}) or {}
    if table:
        names = list(table)
    elif hasattr(sc, "list_scenarios"):
        names = [x[0] if isinstance(x, tuple) else str(getattr(x, "name", x)) for x in sc.list_scenarios()]
    else:
        return _example_runner("tcpkit.drivers.scenarios has neither SCENARIOS nor list_scenarios()")

    def params(name: str) -> dict[str, Any]:
        obj = table.get(name)
        for attr in ("params", "defaults", "parameters"):
            val = getattr(obj, attr, None)
            if isinstance(val, Mapping):
                return dict(val)
        fn = getattr(obj, "func", None) or getattr(obj, "fn", None) or (obj if callable(obj) else None)
        if fn is not None:
            out = {}
            for p in inspect.signature(fn).parameters.values():
                if (
                    p.default is not inspect.Parameter.empty
                    and p.name not in ("seed", "profile", "tracer")
                    and isinstance(p.default, bool | int | float | str)
                ):
                    out[p.name] = p.default
            return out
        return {}

    def describe(name: str) -> str:
        obj = table.get(name)
        en = getattr(obj, "description", "") or getattr(obj, "doc", "") or ""
        zh_ = getattr(obj, "description_zh", "") or ""
        return str(zh_ if zh() and zh_ else en)

    return ScenarioRunner(
        names=names, params=params, describe=describe, run=sc.run_scenario, source="tcpkit.drivers.scenarios"
    )


def _param_tip(name: str, spec: Any) -> str:
    """A parameter's tooltip: its help (English only) or, in Chinese, its name and allowed values."""
    lo, hi = getattr(spec, "lo", None), getattr(spec, "hi", None)
    choices = tuple(getattr(spec, "choices", ()) or ())
    allowed = ", ".join(str(c) for c in choices) if choices else (f"{lo}–{hi}" if lo is not None else "")
    if zh():
        return f"{name}" + (f" · {tr('w.lab.allowed', allowed=allowed)}" if allowed else "")
    help_ = str(getattr(spec, "help", "") or "")
    return " · ".join(p for p in (help_, f"allowed: {allowed}" if allowed else "") if p)


def _param_widget(name: str, spec: Any) -> W.ValueWidget:
    """A control for one parameter: ``spec`` is a default value or a Param-like object."""
    style = {"description_width": "150px"}
    lay = W.Layout(width="300px")
    default = getattr(spec, "default", spec)
    choices = tuple(getattr(spec, "choices", ()) or ())
    if choices:
        w: W.ValueWidget = W.Dropdown(
            options=list(choices),
            value=default if default in choices else choices[0],
            description=name,
            style=style,
            layout=lay,
        )
        w.tooltip = _param_tip(name, spec)
        return w
    if isinstance(default, bool):
        w = W.Checkbox(value=default, description=name, style=style, indent=False)
    elif isinstance(default, int):
        w = W.IntText(value=default, description=name, style=style, layout=lay)
    elif isinstance(default, float):
        w = W.FloatText(value=default, description=name, style=style, layout=lay)
    else:
        w = W.Text(value=str(default), description=name, style=style, layout=lay)
    w.tooltip = _param_tip(name, spec)
    return w


class ScenarioExplorer(TcpkitWidget):
    """Pick a scenario, set its parameters and seed, run, and see graph, ladder and timelines.

    Parameters
    ----------
    name : str, optional
        Scenario to start with (default: the first).
    seed : int
    runner : ScenarioRunner, optional
        Where scenarios come from (default: :func:`scenario_runner`).
    autorun : bool
        Run the first scenario at once.
    """

    def __init__(
        self, name: str | None = None, *, seed: int = 0, runner: ScenarioRunner | None = None, autorun: bool = True
    ) -> None:
        super().__init__()
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ParameterError("seed", seed, "an integer (same seed, same trace)")
        if runner is not None and not isinstance(runner, ScenarioRunner):
            raise ParameterError("runner", type(runner).__name__, "a ScenarioRunner (see scenario_runner())")
        if name is not None and not isinstance(name, str):
            raise ParameterError("name", name, "a scenario name (a string)")
        self.runner = runner or scenario_runner()
        if not self.runner.names:
            raise ParameterError("runner", self.runner.source, "a scenario source with at least one scenario")
        if name is not None and name not in self.runner.names:
            raise ParameterError("name", name, "one of " + ", ".join(self.runner.names))
        self.choice = W.Dropdown(options=self.runner.names, value=name or self.runner.names[0])
        self.seed = W.IntText(value=seed, layout=W.Layout(width="220px"))
        self.profile = W.Dropdown(
            options=["linux", "freebsd", "rfc9293"], value="linux", layout=W.Layout(width="220px")
        )
        self.run_button = W.Button(button_style="primary")
        self.run_button.add_class("tcpkit-run")
        self.description = W.HTML()
        self.status = W.HTML()
        self.notice = W.HTML()
        self.param_box = W.VBox()
        self.params: dict[str, W.ValueWidget] = {}
        self.trace = Trace()
        self.player = TracePlayer(Trace())
        self.queue_fig = figure_widget()
        self.gantt_fig = figure_widget()
        self.queue_box = W.Box([self.queue_fig])
        self.run_button.on_click(self.on_run_clicked)
        self.choice.observe(lambda _ch: self._build_params(), names="value")
        self.widget = W.VBox(
            [
                self.notice,
                W.HBox(
                    [
                        self.choice,
                        self.seed,
                        *([self.profile] if self.runner.source == "tcpkit.drivers.scenarios" else []),
                        self.run_button,
                    ]
                ),
                self.description,
                self.param_box,
                self.status,
                self.player.widget,
                self.gantt_fig,
                self.queue_box,
            ]
        )
        self.widget.add_class("tcpkit-explorer")
        self._build_params()
        self.refresh_language()
        if autorun:
            self.run()

    def _build_params(self) -> None:
        defaults = self.runner.params(self.choice.value)
        self.params = {k: _param_widget(k, v) for k, v in defaults.items()}
        self.param_box.children = list(self.params.values())
        self.description.value = f"<i>{html.escape(self.runner.describe(self.choice.value))}</i>"

    def run(self) -> bool:
        """Run the chosen scenario with the current parameters; ``False`` (message shown) on bad input."""
        self._check_language()
        name = self.choice.value
        kwargs = {k: w.value for k, w in self.params.items()}
        try:
            if self.runner.source == "tcpkit.drivers.scenarios":
                kwargs["profile"] = self.profile.value
            trace = self.runner.run(name, seed=int(self.seed.value), **kwargs)
        except TcpkitError as exc:
            self.status.value = (
                f"<span style='color:#d62728'>⚠ {html.escape(tr('w.explorer.error', name=name, why=str(exc)))}</span>"
            )
            return False
        self.trace = trace
        self.player.set_trace(trace)
        replace_figure(self.gantt_fig, state_gantt_figure(trace))
        has_queue = any(r.kind is Kind.QUEUE for r in trace.records)
        replace_figure(self.queue_fig, queue_figure(trace) if has_queue else go.Figure(layout={"height": 10}))
        self.queue_box.layout.display = "" if has_queue else "none"
        self.status.value = html.escape(tr("w.explorer.ran", name=name, n=len(trace)))
        return True

    def on_run_clicked(self, _button: Any) -> bool:
        return self.run()

    def static(self, which: str = "ladder") -> go.Figure:
        """A plain Figure: ``"ladder"``, ``"graph"``, ``"gantt"`` or ``"queue"``."""
        if which in ("ladder", "graph"):
            return self.player.static(which)
        if which == "gantt":
            return state_gantt_figure(self.trace)
        if which == "queue":
            return queue_figure(self.trace)
        raise ParameterError("which", which, "'ladder', 'graph', 'gantt' or 'queue'")

    def refresh_language(self) -> None:
        self.choice.description = tr("w.explorer.scenario")
        self.seed.description = tr("w.explorer.seed")
        self.profile.description = tr("w.explorer.profile")
        self.run_button.description = tr("w.explorer.run")
        self.notice.value = (
            f"<div style='color:#8a6d3b'>{html.escape(tr('w.explorer.missing', why=self.runner.problem))}</div>"
            if self.runner.problem
            else ""
        )
        self.description.value = f"<i>{html.escape(self.runner.describe(self.choice.value))}</i>"
        specs = self.runner.params(self.choice.value)
        for k, w in self.params.items():
            w.tooltip = _param_tip(k, specs.get(k))
        if len(self.trace):
            self.run()
