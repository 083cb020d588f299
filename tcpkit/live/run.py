"""Run lab scenarios on this machine's kernel and judge them against the model.

Examples
--------
>>> import os
>>> proc = "/proc" if os.path.exists("/proc/net/tcp") else "/nonexistent"
>>> [r] = run_live(["abort_rst"], proc_root=proc, model=False)
>>> r.source in ("kernel", "recorded"), sorted(r.observed)[:2]
(True, ['client', 'listener'])
>>> [r.observed_path(role) for role in ("client", "server")]
[['ESTABLISHED', 'CLOSED'], ['ESTABLISHED', 'CLOSED']]

Notes
-----
The verdict compares, per socket role, the states the kernel was seen in with
the states :func:`tcpkit.drivers.scenarios.run_scenario` passes through under the
``linux`` profile (:func:`tcpkit.live.compare.compare_paths`).  Where the
machine has no ``/proc/net/tcp`` (macOS, Windows, JupyterLite) the lab says
so and uses observations recorded on a Linux machine, shipped with tcpkit
(``tcpkit/live/recorded.json``); the verdict is then about that machine.
"""

from __future__ import annotations

import contextlib
import dataclasses
import html
import importlib.resources
import json
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tcpkit.capture.pcap import read_capture
from tcpkit.engine.errors import ParameterError, TcpkitError, TraceFormatError
from tcpkit.engine.states import State
from tcpkit.engine.trace import QueueChanged, SegmentSent, Trace
from tcpkit.i18n import register, tr

from .compare import RoleVerdict, SegmentVerdict, Token, compare_paths, compare_segments, dedupe, segment_tokens
from .extras import LoopbackCapture, capture_unavailable, summarize_pcap
from .lab import Call, Lab
from .model import ModelPath, model_trace, role_paths
from .netns import netns_unavailable, run_in_netns
from .scripts import SCRIPTS, Script, get_script
from .watch import SHORT_STATES, Observation

__all__ = ["LiveResult", "run_live", "run_one", "load_recorded", "in_browser", "SHORT_STATE_NOTE"]

#: Said next to every result: what polling cannot see.
SHORT_STATE_NOTE = (
    "Polling /proc/net/tcp every ~1 ms cannot see states that last microseconds on loopback: "
    + ", ".join(s.value for s in sorted(SHORT_STATES, key=lambda s: s.linux_code))
    + ". A short state the kernel was not seen in is 'not observed', not a disagreement."
)

#: Model states after this many seconds are not waited for in these scenarios
#: (the lab watches well under a second; the first SYN retransmission is at 1 s).
_HORIZON = {"accept_queue_overflow": 0.5, "connection_refused": 0.5}


@dataclass
class LiveResult:
    """One scenario: what the kernel did, what the model predicts, and the verdict.

    Attributes
    ----------
    scenario, title, about : str
    source : str
        ``kernel`` (observed now, on this machine), ``recorded`` (shipped
        observations from a Linux machine: this one has no ``/proc``) or
        ``error``.
    system : str
        Kernel the observations come from, e.g. ``Linux 6.8.0``.
    observed : dict
        role -> list of :class:`~tcpkit.live.watch.Observation`.
    gone_at_end : dict
        role -> whether the socket was no longer listed when the lab stopped.
    calls : list of Call
    notes : list of str
    model : dict
        role -> :class:`~tcpkit.live.model.ModelPath` (empty without a model).
    verdicts : list of RoleVerdict
    model_error, error : str or None
    backlog : int or None
        The listen() backlog the scenario asked for.
    send_q : int or None
        The backlog the kernel uses (a listener's Send-Q, from ``inet_diag``;
        ``min(backlog, somaxconn)``), when it could be asked.
    duration, polls : how long the lab watched and how many polls it made.
    capture : bytes or None
        pcap bytes of the scenario's loopback packets (``root_extras``, or a
        capture shipped in ``tcpkit/data/captures/`` for the fallback).
    capture_trace : Trace or None
        That capture read back and annotated by :mod:`tcpkit.capture.pcap`.
    timing_notes : list of str
        Differences of timing only (the machine or the application slower than a
        kernel timer), which do not make the verdict "differ".
    model_segments : dict
        client role -> the order of its connection's segments in the model
        (:func:`tcpkit.live.compare.segment_tokens`), run with loopback's MTU.
    segment_verdicts : list of SegmentVerdict
        The captured segment order against the model's, when there is a capture.
    model_accept_queue : int or None
        The model's accept-queue peak, for scenarios about the queue.
    sockets : dict
        role -> the socket's 4-tuple on this machine.
    """

    scenario: str
    title: str = ""
    about: str = ""
    source: str = "kernel"
    system: str = ""
    observed: dict[str, list[Observation]] = field(default_factory=dict)
    gone_at_end: dict[str, bool] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    model: dict[str, ModelPath] = field(default_factory=dict)
    verdicts: list[RoleVerdict] = field(default_factory=list)
    model_error: str | None = None
    error: str | None = None
    backlog: int | None = None
    send_q: int | None = None
    duration: float = 0.0
    polls: int = 0
    capture: bytes | None = None
    capture_trace: Any = None
    timing_notes: list[str] = field(default_factory=list)
    model_segments: dict[str, list[Token]] = field(default_factory=dict)
    segment_verdicts: list[SegmentVerdict] = field(default_factory=list)
    model_accept_queue: int | None = None
    sockets: dict[str, tuple[str, int, str, int]] = field(default_factory=dict)

    # -- derived -----------------------------------------------------------------
    def observed_path(self, role: str) -> list[str]:
        """The kernel's states for ``role``, with CLOSED at the end if the socket was gone."""
        path = dedupe(o.state.value for o in self.observed.get(role, []))
        while path and path[0] == "CLOSED":
            path.pop(0)
        if self.gone_at_end.get(role) and (not path or path[-1] != "CLOSED"):
            path.append("CLOSED")
        return path

    @property
    def verdict(self) -> str:
        """``agree``, ``differ``, ``no model``, ``skipped`` or ``error``."""
        if self.error:
            return "error"
        if self.source == "skipped":
            return "skipped"
        if not self.verdicts:
            return "no model"
        agree = all(v.agree for v in self.verdicts) and all(v.agree for v in self.segment_verdicts)
        return "agree" if agree else "differ"

    @property
    def differences(self) -> list[str]:
        paths = [f"{v.role}: {d}" for v in self.verdicts for d in v.differences]
        return paths + [f"{v.role} segments: {d}" for v in self.segment_verdicts for d in v.differences]

    def accept_queue(self) -> list[tuple[float, int]]:
        """The listener's accept-queue length over time (``rx_queue`` on a LISTEN socket)."""
        return [(o.time, o.rx_queue) for o in self.observed.get("listener", []) if o.present]

    # -- judging -----------------------------------------------------------------------
    def judge(self) -> None:
        """Fill :attr:`verdicts` from :attr:`observed` and :attr:`model`."""
        self.verdicts = []
        self.timing_notes = []
        self.segment_verdicts = []
        if not self.model:
            return
        self._judge_segments()
        roles = list(self.model) + [r for r in self.observed if r not in self.model]
        for role in roles:
            obs = self.observed_path(role)
            mp = self.model.get(role)
            if mp is None:
                if self.observed.get(role):
                    self.verdicts.append(
                        RoleVerdict(
                            role,
                            (),
                            tuple(obs),
                            False,
                            differences=(f"the kernel had a {role} socket ({' -> '.join(obs)}); the model has none",),
                        )
                    )
                continue
            if role not in self.observed:
                self.verdicts.append(
                    RoleVerdict(
                        role,
                        mp.states,
                        (),
                        False,
                        differences=(f"the model has a {role} socket ({' -> '.join(mp.states)}); the lab made none",),
                    )
                )
                continue
            v = compare_paths(role, mp.states, obs, not_waited_from=mp.not_waited_from, instant=mp.instant)
            self.timing_notes += [f"{role}: {note}" for note in v.timing]
            if role == "listener" and self.model_accept_queue is not None:
                peak = max((n for _, n in self.accept_queue()), default=0)
                if peak != self.model_accept_queue:
                    v = dataclasses.replace(
                        v,
                        agree=False,
                        differences=(
                            *v.differences,
                            f"the accept queue (Recv-Q on the listener) peaked at {peak} in the kernel, "
                            f"{self.model_accept_queue} in the model",
                        ),
                    )
            self.verdicts.append(v)

    def _judge_segments(self) -> None:
        """The capture's segment order against the model's, connection by connection."""
        if self.capture_trace is None or not self.model_segments:
            return
        observed = connection_tokens(self.capture_trace)
        kernel_roles = sorted(observed)
        for k, role in enumerate(sorted(self.model_segments)):
            if role in observed:
                got = observed[role]
            else:
                got = observed[kernel_roles[k]] if k < len(kernel_roles) else []
            v = compare_segments(role, self.model_segments[role], got)
            self.segment_verdicts.append(v)
            self.timing_notes += [f"{role} segments: {note}" for note in v.timing]

    # -- showing -----------------------------------------------------------------------------
    def summary(self) -> str:
        """The verdict in a few lines of text."""
        where = {
            "kernel": f"real sockets on this machine ({self.system})",
            "skipped": "not run",
            "recorded": f"observations recorded on {self.system} ({_no_proc_here()})",
            "error": "the lab failed",
        }.get(self.source, self.source)
        lines = [f"{self.scenario}: {self.verdict.upper()}  [{where}]"]
        if self.error:
            lines.append(f"  error: {self.error}")
        if self.model_error:
            lines.append(f"  model: {self.model_error}")
        for v in self.verdicts:
            lines.append("  " + v.summary())
        for sv in self.segment_verdicts:
            lines.append("  " + sv.summary())
        q = self.accept_queue()
        peak = max((n for _, n in q), default=0)
        if self.backlog is not None and (peak or self.model_accept_queue is not None):
            model_q = f" (model: {self.model_accept_queue})" if self.model_accept_queue is not None else ""
            send_q = f", Send-Q {self.send_q}" if self.send_q is not None else ""
            lines.append(
                f"  listener: listen(backlog={self.backlog}){send_q}; accept queue (Recv-Q) peaked at {peak}{model_q}"
            )
        lines += [f"  note: {n}" for n in self.notes]
        lines += [f"  timing: {n}" for n in self.timing_notes]
        return "\n".join(lines)

    def table(self) -> str:
        """Kernel and model paths side by side, then the kernel timeline with the calls."""
        roles = list(dict.fromkeys([*self.observed, *self.model]))
        rw = max([4] + [len(r) for r in roles])
        lines = [f"{'role':<{rw}}  {'kernel (observed)':<55}  model (linux profile)"]
        for role in roles:
            hist = self.observed.get(role, [])
            if not hist and role not in self.model and role not in self.gone_at_end:
                continue
            k = " > ".join(dedupe(o.state.value for o in hist)) or "(never listed)"
            if self.gone_at_end.get(role) and not k.endswith("CLOSED"):
                k += " > (gone)"
            mp = self.model.get(role)
            m = " > ".join(mp.states) if mp else "-"
            lines.append(f"{role:<{rw}}  {k:<55}  {m}")
        lines.append("")
        lines.append(f"{'t (ms)':>8}  {'role':<{rw}}  what")
        rows: list[tuple[float, str, str]] = []
        for role, hist in self.observed.items():
            for o in hist:
                q = f"  (tx_queue {o.tx_queue}, rx_queue {o.rx_queue})" if (o.tx_queue or o.rx_queue) else ""
                q += f"  (retransmitted {o.retransmits}x)" if o.retransmits else ""
                rows.append((o.time, role, ("state " + o.state.value if o.present else "gone from /proc/net/tcp") + q))
        rows += [(c.time, c.role, f"{c.call} -> {c.result}") for c in self.calls]
        for t, role, what in sorted(rows, key=lambda r: r[0]):
            lines.append(f"{t * 1000:8.1f}  {role:<{rw}}  {what}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        parts = (self.summary(), self.table(), SHORT_STATE_NOTE)
        return "<pre>" + "\n\n".join(html.escape(p) for p in parts) + "</pre>"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data (``tcpkit live --json``)."""
        return {
            "scenario": self.scenario,
            "title": self.title,
            "source": self.source,
            "system": self.system,
            "verdict": self.verdict,
            "differences": self.differences,
            "roles": {
                v.role: {
                    "kernel": list(v.observed),
                    "model": list(v.model),
                    "agree": v.agree,
                    "not_observed": list(v.not_observed),
                    "not_waited": list(v.not_waited),
                    "early": list(v.early),
                    "differences": list(v.differences),
                }
                for v in self.verdicts
            },
            "segments": {
                v.role: {
                    "kernel": [list(x) for x in v.observed],
                    "model": [list(x) for x in v.model],
                    "agree": v.agree,
                    "differences": list(v.differences),
                    "timing": list(v.timing),
                }
                for v in self.segment_verdicts
            },
            "timing_notes": list(self.timing_notes),
            "observed": {
                role: [
                    [round(o.time, 6), o.state.value, o.tx_queue, o.rx_queue, o.retransmits]
                    if o.present
                    else [round(o.time, 6), "gone"]
                    for o in hist
                ]
                for role, hist in self.observed.items()
            },
            "gone_at_end": dict(self.gone_at_end),
            "calls": [[round(c.time, 6), c.role, c.call, c.result] for c in self.calls],
            "notes": list(self.notes),
            "backlog": self.backlog,
            "send_q": self.send_q,
            "model_error": self.model_error,
            "error": self.error,
            "duration": round(self.duration, 6),
            "polls": self.polls,
        }

    def figure(self) -> Any:
        """Kernel and model side by side on one time axis: per role, a row of kernel states above a row of model states.

        Both rows count milliseconds from the scenario's first call (``listen()``):
        the kernel's from the lab's clock, the model's from its simulated clock
        (a 10 ms one-way link, and calls made as soon as the previous step is
        done, while the lab waits for each state it polls).  So compare the
        order and colours of the states, not the lengths of the bars.  A state
        that lasts beyond the picture (the model's 60 s TIME_WAIT) ends in an
        arrow with its real length.  Each state has one colour; hovering shows
        its Chinese name.
        """
        import plotly.graph_objects as go
        from plotly.colors import qualitative

        colour = {st.value: qualitative.Set3[i % len(qualitative.Set3)] for i, st in enumerate(State)}
        zh = {st.value: st.zh for st in State}
        roles = list(dict.fromkeys([*self.observed, *self.model]))
        starts = [c.time for c in self.calls] or [o.time for h in self.observed.values() for o in h] or [0.0]
        k0 = min(starts)
        kernel_end = max([self.duration] + [o.time for h in self.observed.values() for o in h]) - k0
        model_end = max([t for mp in self.model.values() for t in mp.times if t < 1.0] or [0.0])
        end_ms = 1000 * max(kernel_end, model_end, 0.001) * 1.15
        rows: list[tuple[str, list[tuple[float, float, str, float | None]]]] = []
        for role in roles:
            hist = self.observed.get(role, [])
            bars: list[tuple[float, float, str, float | None]] = []
            for i, o in enumerate(hist):
                stop = hist[i + 1].time if i + 1 < len(hist) else k0 + end_ms / 1000
                # a socket gone from /proc/net/tcp is CLOSED, as in the model's row
                bars.append((1000 * (o.time - k0), 1000 * (stop - k0), o.state.value if o.present else "CLOSED", None))
            if hist or role in self.model:
                rows.append((tr("live.fig.kernel", role=role), bars))
            mp = self.model.get(role)
            if mp:
                mbars: list[tuple[float, float, str, float | None]] = []
                for i, (st, t) in enumerate(zip(mp.states, mp.times, strict=True)):
                    nxt = mp.times[i + 1] if i + 1 < len(mp.times) else None
                    real = None if nxt is None else nxt - t
                    shown_stop = min(1000 * nxt, end_ms) if nxt is not None else end_ms
                    clipped = nxt is not None and 1000 * nxt > end_ms
                    if 1000 * t >= end_ms:
                        continue
                    mbars.append((1000 * t, shown_stop, st, real if clipped else None))
                rows.append((tr("live.fig.model", role=role), mbars))
        fig = go.Figure()
        seen: set[str] = set()
        least = end_ms / 14  # room for a state's name: shorter states are widened (hover gives the real times)
        for label, bars in rows:
            shift = 0.0
            for x0_real, x1_real, st, real in bars:
                x0 = max(x0_real, shift)
                width = max(x1_real - x0, least) if x1_real - x0_real < least else x1_real - x0
                shift = x0 + width
                text = st + (f" → {real:.0f} s" if real is not None else "")
                fig.add_trace(
                    go.Bar(
                        x=[width],
                        base=[x0],
                        y=[label],
                        orientation="h",
                        marker={"color": colour.get(st, "#ccc"), "line": {"color": "#666", "width": 0.5}},
                        text=[text],
                        textposition="inside",
                        insidetextanchor="middle",
                        textangle=0,
                        constraintext="inside",
                        name=st,
                        legendgroup=st,
                        showlegend=st not in seen,
                        hoverinfo="text",
                        hovertext=[f"{label}: {st} ({zh.get(st, '')}) {x0_real:.1f} → {x1_real:.1f} ms"],
                    )
                )
                seen.add(st)
        fig.update_layout(
            title={
                "text": tr("live.fig.title", scenario=self.scenario, verdict=tr(f"live.verdict.{self.verdict}"))
                + f"<br><span style='font-size:11px;color:#555'>{tr('live.fig.sub')}</span>",
                "x": 0.01,
            },
            barmode="overlay",
            xaxis={"title": {"text": tr("live.fig.axis")}, "range": [0, end_ms], "gridcolor": "#eee"},
            yaxis={"autorange": "reversed", "categoryorder": "array", "categoryarray": [r[0] for r in rows]},
            plot_bgcolor="white",
            height=170 + 48 * len(rows),
            margin={"l": 130, "r": 20, "t": 80, "b": 50},
            legend={"orientation": "h", "y": -90 / (40 + 48 * max(len(rows), 1)), "yanchor": "top"},
            bargap=0.35,
        )
        return fig


register(
    {
        "live.fig.title": (
            "{scenario}: {verdict} — kernel and model on one time axis",
            "{scenario}：{verdict} — 内核与模型在同一时间轴上",
        ),
        "live.fig.sub": (
            "model: simulated 10 ms link · kernel: the lab waits for each state · compare the order of the states; "
            "short ones are widened (hover: real times)",
            "模型：模拟的 10 毫秒链路 · 内核：实验程序逐个等待状态 · 请比较状态的先后顺序；"
            "很短的状态被加宽显示（悬停可见真实时间）",
        ),
        "live.fig.axis": ("ms since the first call (listen)", "自第一次调用（listen）起的毫秒数"),
        "live.fig.kernel": ("{role} · kernel", "{role} · 内核"),
        "live.fig.model": ("{role} · model", "{role} · 模型"),
        "live.verdict.agree": ("agree", "一致"),
        "live.verdict.differ": ("differ", "不一致"),
        "live.verdict.no model": ("no model", "无模型"),
        "live.verdict.skipped": ("skipped", "未运行"),
        "live.verdict.error": ("error", "出错"),
    }
)


# ---------------------------------------------------------------------------------------
def _system() -> str:
    return f"{platform.system()} {platform.release()}".strip()


def in_browser() -> bool:
    """Whether Python runs in a web browser (Pyodide, e.g. the JupyterLite course): no sockets, no ``/proc``.

    >>> in_browser() == (sys.platform == "emscripten")
    True
    """
    return sys.platform == "emscripten"


def _no_proc_here() -> str:
    if in_browser():
        return "running in the browser: no sockets, no /proc/net/tcp"
    return "this machine has no /proc/net/tcp"


def _attach_model(res: LiveResult, sc: Script, model: bool, profile: str) -> None:
    if not model:
        return
    if sc.model_name is None:
        res.model_error = "tcpkit.drivers.scenarios has no model of this scenario; showing the kernel only"
        return
    try:
        trace = model_trace(sc.model_name, profile=profile, **dict(sc.params))
    except ImportError as exc:
        res.model_error = f"the model is not available here ({exc}); showing the kernel only"
        return
    except TcpkitError as exc:
        res.model_error = f"the model could not run this scenario: {exc}"
        return
    res.model = role_paths(trace, horizon=_HORIZON.get(res.scenario))
    res.model_segments = connection_tokens(trace)
    if sc.compare_queue:
        peaks = [r.accept_queue for r in trace.of(QueueChanged, "server")]
        res.model_accept_queue = max(peaks, default=0)
    res.judge()


def run_one(
    script: Script | str,
    *,
    proc_root: str | Path = "/proc",
    model: bool = True,
    profile: str = "linux",
    interval: float = 0.001,
    step_timeout: float = 1.0,
    catch: bool = True,
    root_extras: bool = False,
    here: bool = False,
) -> LiveResult:
    """Run one lab scenario with real sockets.

    Parameters
    ----------
    script : Script or str
        A scenario name from :data:`tcpkit.live.scripts.SCRIPTS`, or a
        :class:`~tcpkit.live.scripts.Script` of your own.
    proc_root : path
        Where procfs is mounted; if ``proc_root/net/tcp`` is missing the
        recorded observations are used instead (see :func:`load_recorded`).
    model : bool
        Compare with the model (needs :mod:`tcpkit.drivers.scenarios`).
    catch : bool
        Turn an exception in a step into ``verdict == "error"`` (sockets are
        cleaned up either way); ``False`` re-raises it.
    root_extras : bool
        As root with tcpdump installed: capture the scenario's loopback
        packets (:class:`~tcpkit.live.extras.LoopbackCapture`) into
        :attr:`LiveResult.capture`; otherwise a note says why not.  Needed
        too for a scenario that runs in a private network namespace
        (``Script.netns``, e.g. ``synack_retransmit``).
    here : bool
        Run a ``netns`` scenario in the current namespace (what the child
        process inside the private namespace does).

    Returns
    -------
    LiveResult
    """
    sc = get_script(script) if isinstance(script, str) else script
    if not (Path(proc_root) / "net" / "tcp").exists():
        res = load_recorded(sc.name, missing=Path(proc_root) / "net" / "tcp")
        if sc.run is not get_script(sc.name).run:
            res.notes.insert(
                1,
                f"The steps of your own script did not run (nothing can run without /proc/net/tcp): these are the "
                f"recorded observations of the built-in scenario {sc.name!r}.",
            )
        _attach_model(res, sc, model, profile)
        return res
    if sc.netns and not here:
        return _run_netns(sc, model=model, profile=profile, root_extras=root_extras)
    res = LiveResult(sc.name, sc.title, sc.about, source="kernel", system=_system())
    capture: LoopbackCapture | None = None
    ports: list[int] = []
    if root_extras:
        why = capture_unavailable()
        if why:
            res.notes.append(f"loopback capture skipped: {why}")
        else:
            ports = _free_ports(2)  # the listener's and (connection_refused) the closed one
            capture = LoopbackCapture(ports)
    lab = Lab(proc_root=proc_root, interval=interval, step_timeout=step_timeout, ports=ports)
    t0 = time.monotonic()
    try:
        with contextlib.ExitStack() as stack:
            if capture is not None:
                try:
                    stack.enter_context(capture)
                except OSError as exc:
                    res.notes.append(f"loopback capture skipped: {exc}")
                    capture = None
            with lab:
                sc.run(lab)
    except Exception as exc:
        if not catch:
            raise
        res.source = "error"
        res.error = f"{type(exc).__name__}: {exc}"
    finally:
        res.duration = time.monotonic() - t0
        res.polls = lab.watcher.polls
        res.calls = list(lab.calls)
        res.notes += lab.notes
        res.backlog = lab.backlog
        res.send_q = lab.send_q
        res.gone_at_end = dict(lab.closed_at_end)
        res.observed = {role: lab.watcher.history(conn) for conn, role in lab.labels.items()}
        res.sockets = {role: conn for conn, role in lab.labels.items()}
        if lab.watcher.error is not None:
            res.notes.append(f"the watcher thread stopped: {lab.watcher.error!r}")
    if capture is not None:
        _attach_capture(res, capture.data)
    if res.error is None:
        _attach_model(res, sc, model, profile)
    return res


def _run_netns(sc: Script, *, model: bool, profile: str, root_extras: bool) -> LiveResult:
    res = LiveResult(sc.name, sc.title, sc.about, source="kernel", system=_system())
    if not root_extras:
        res.source = "skipped"
        res.notes.append(
            "needs a private network namespace: run with root_extras=True (tcpkit live --root-extras) as root"
        )
        return res
    why = netns_unavailable()
    if why:
        res.source = "skipped"
        res.notes.append(f"skipped: {why}")
        return res
    try:
        d = run_in_netns(sc.name)
    except (OSError, subprocess.SubprocessError, TcpkitError) as exc:
        res.source = "error"
        res.error = f"private namespace: {exc}"
        return res
    _fill_from_dict(res, d)
    res.notes.append("ran in a private network namespace whose loopback drops pure ACKs (removed afterwards)")
    if d.get("error"):
        res.source, res.error = "error", str(d["error"])
    else:
        _attach_model(res, sc, model, profile)
    return res


def connection_tokens(trace: Trace) -> dict[str, list[Token]]:
    """Each client connection's segments, in order, as tokens (both directions).

    Roles are named as :func:`tcpkit.live.model.role_paths` names them (``client``,
    ``client1`` ...); a model trace and a capture read back by :mod:`tcpkit.capture.pcap`
    give the same names.

    >>> from tcpkit.live.model import model_trace
    >>> connection_tokens(model_trace("abort_rst"))["client"][:3]
    [('client', 'SYN'), ('server', 'SYN-ACK'), ('client', 'ACK')]
    """
    out: dict[str, list[Token]] = {}
    for role, path in role_paths(trace).items():
        if not role.startswith("client") or path.conn is None:
            continue
        conn = path.conn
        back = (conn[2], conn[3], conn[0], conn[1])
        mine = [r for r in trace.of(SegmentSent) if r.conn in (conn, back)]
        segs = [("client" if r.conn == conn else "server", r.segment) for r in mine]
        out[role] = segment_tokens(segs)
    return out


def _free_ports(n: int) -> list[int]:
    with contextlib.ExitStack() as stack:
        probes = [stack.enter_context(socket.socket()) for _ in range(n)]
        for p in probes:
            p.bind(("127.0.0.1", 0))
        return [int(p.getsockname()[1]) for p in probes]


def _attach_capture(res: LiveResult, data: bytes) -> None:
    res.capture = data
    try:
        pkts = summarize_pcap(data)
    except TraceFormatError as exc:
        res.notes.append(f"loopback capture unreadable: {exc}")
        return
    flags = " ".join(f for _, _, _, f in pkts)
    res.notes.append(
        f"loopback capture (tcpdump -i lo, including the lab's clean-up RSTs): {len(pkts)} packets: {flags}"
    )
    _import_capture(res, data)


def _import_capture(res: LiveResult, data: bytes) -> None:
    """Read the capture back with :mod:`tcpkit.capture.pcap` (when present) into :attr:`LiveResult.capture_trace`."""
    try:
        res.capture_trace = read_capture(data).annotate()
    except TcpkitError as exc:
        res.notes.append(f"tcpkit.capture.pcap could not read the capture: {exc}")
        return
    paths = role_paths(res.capture_trace)
    shown = "; ".join(f"{role} {' > '.join(p.states)}" for role, p in paths.items() if not role.startswith("listener"))
    res.notes.append(f"the capture read back by tcpkit.capture.pcap: {shown}")


def run_live(
    scenarios: Iterable[str] | None = None,
    *,
    proc_root: str | Path = "/proc",
    model: bool = True,
    profile: str = "linux",
    root_extras: bool = False,
    here: bool = False,
) -> list[LiveResult]:
    """Run lab scenarios (default: all) and judge each against the model.

    Parameters
    ----------
    scenarios : iterable of str, optional
        Names from :data:`tcpkit.live.scripts.SCRIPTS`; by default all of
        them (those that need a private namespace only with ``root_extras``).
    proc_root : path
        Where procfs is mounted (a missing one means "not Linux": recorded
        observations are used).
    model : bool
        Compare with the model.
    profile : str
        The model's profile (``linux``: the one the kernel should match).
    root_extras : bool
        Also capture each scenario's loopback packets with tcpdump (root
        only; see :mod:`tcpkit.live.extras`); skipped with a note when not
        root or tcpdump is missing.

    Raises
    ------
    ParameterError
        For an unknown scenario name.
    """
    names = [n for n, s in SCRIPTS.items() if root_extras or not s.netns] if scenarios is None else list(scenarios)
    scripts = [get_script(n) for n in names]
    return [
        run_one(s, proc_root=proc_root, model=model, profile=profile, root_extras=root_extras, here=here)
        for s in scripts
    ]


# ---------------------------------------------------------------------------------------
def _recorded_doc() -> dict[str, Any]:
    text = importlib.resources.files("tcpkit.live").joinpath("recorded.json").read_text(encoding="utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc


def load_recorded(name: str, *, missing: Path | str | None = None) -> LiveResult:
    """Observations of scenario ``name`` recorded on Linux and shipped with tcpkit.

    Used when this machine has no ``/proc/net/tcp``; the result says so in
    :attr:`LiveResult.notes`.

    >>> r = load_recorded("open_close_client_first")
    >>> r.source, r.observed_path("client")[-1]
    ('recorded', 'TIME_WAIT')
    """
    sc = get_script(name)
    name = sc.name
    doc = _recorded_doc()
    if name not in doc["scenarios"]:
        raise ParameterError("scenario", name, "one with recorded observations: " + ", ".join(sorted(doc["scenarios"])))
    d = doc["scenarios"][name]
    res = LiveResult(name, sc.title, sc.about, source="recorded", system=doc.get("system", "Linux"))
    _fill_from_dict(res, d)
    where = f" ({missing} does not exist)" if missing is not None else ""
    if in_browser():
        res.notes.append(
            "This notebook is running in the browser (Pyodide): it has no real sockets and no Linux /proc/net/tcp, "
            f"so the lab cannot watch a kernel here. Showing real observations recorded on {res.system} instead."
        )
    else:
        res.notes.append(
            f"This system has no Linux /proc/net/tcp{where}, so the lab cannot watch real sockets here. "
            f"Showing real observations recorded on {res.system} instead."
        )
    shipped = _shipped_capture(name)
    if shipped is not None:
        res.capture = shipped[1]
        res.notes.append(
            f"A real loopback capture of this scenario ships with tcpkit: tcpkit/data/captures/{shipped[0]}."
        )
        _import_capture(res, shipped[1])
    return res


def _fill_from_dict(res: LiveResult, d: dict[str, Any]) -> None:
    """Observations, calls and counters from :meth:`LiveResult.to_dict` data."""
    try:
        res.observed = {
            role: [
                Observation(
                    float(row[0]),
                    State(row[1]),
                    int(row[2]),
                    int(row[3]),
                    retransmits=int(row[4]) if len(row) > 4 else 0,
                )
                if row[1] != "gone"
                else Observation(float(row[0]), State.CLOSED, present=False)
                for row in rows
            ]
            for role, rows in d["observed"].items()
        }
        res.gone_at_end = {k: bool(v) for k, v in d["gone_at_end"].items()}
        res.calls = [Call(float(t), str(role), str(call), str(result)) for t, role, call, result in d["calls"]]
        res.backlog = d.get("backlog")
        res.send_q = d.get("send_q")
        res.duration = float(d.get("duration", 0.0))
        res.polls = int(d.get("polls", 0))
        res.notes.extend(str(n) for n in d.get("notes", ()))
    except (KeyError, TypeError, ValueError) as exc:
        raise TraceFormatError(f"bad lab result data: {exc!r}") from None


def _shipped_capture(name: str) -> tuple[str, bytes] | None:
    """A capture of scenario ``name`` shipped in ``tcpkit/data/captures/`` (file name starting with it)."""
    try:
        base = importlib.resources.files("tcpkit").joinpath("data", "captures")
        if not base.is_dir():
            return None
        for entry in sorted(base.iterdir(), key=lambda e: e.name):
            if entry.name.startswith(name) and entry.name.endswith((".pcap", ".pcapng")):
                return entry.name, entry.read_bytes()
    except (FileNotFoundError, ModuleNotFoundError, NotADirectoryError, OSError):
        return None
    return None


def record_observations(path: str | Path, scenarios: Sequence[str] | None = None) -> None:
    """Run the scenarios here and write the observations file used by :func:`load_recorded`.

    For maintainers, on a Linux machine: ``python -c "from tcpkit.live.run import
    record_observations as r; r('tcpkit/live/recorded.json')"``.
    """
    results = run_live(scenarios, model=False, root_extras=True)
    recorded: dict[str, Any] = {}
    doc = {"system": _system(), "recorded_by": "tcpkit.live.run.record_observations", "scenarios": recorded}
    for r in results:
        if r.source != "kernel":
            raise TcpkitError(f"cannot record {r.scenario}: {r.error or r.source}")
        d = r.to_dict()
        recorded[r.scenario] = {
            k: d[k] for k in ("observed", "gone_at_end", "calls", "backlog", "send_q", "duration", "polls")
        }
    Path(path).write_text(json.dumps(doc, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
