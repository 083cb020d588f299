"""A knob panel generated from a profile's knob metadata.

Examples
--------
>>> seen = []
>>> panel = KnobPanel("linux", knobs=["tcp_syn_retries", "tcp_syncookies", "rto_initial"], on_change=seen.append)
>>> panel.set("tcp_syn_retries", 3)
True
>>> panel.profile["tcp_syn_retries"], seen[-1]["tcp_syn_retries"]
(3, 3)
>>> panel.set("tcp_syn_retries", 0)        # invalid: message inline, last good value kept
False
>>> panel.profile["tcp_syn_retries"], panel.controls["tcp_syn_retries"].value
(3, 3)
>>> "expected an integer from 1 to 127" in panel.errors["tcp_syn_retries"].value
True
>>> panel.apply_sysctl("net.ipv4.tcp_syncookies = 2")
True
>>> panel.controls["tcp_syncookies"].value
2
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from typing import Any

import ipywidgets as W

from tcpkit.engine.errors import KnobError, ParameterError, TcpkitError
from tcpkit.engine.profiles import Knob, Profile, get_profile
from tcpkit.i18n import register
from tcpkit.viz.labels import tr, zh

from ._base import TcpkitWidget, check_callable

__all__ = ["KnobPanel"]

register(
    {
        "w.unit.s": ("s", "秒"),
        "w.unit.ms": ("ms", "毫秒"),
        "w.unit.count": ("times", "次"),
        "w.unit.bytes": ("bytes", "字节"),
        "w.unit.port": ("port", "端口"),
        "w.unit.connections": ("connections", "个连接"),
        "w.unit.requests": ("requests", "个请求"),
        "w.knobs.bad_line": ("expected 'name = value', got {line!r}", "应为 'name = value'，实际为 {line!r}"),
        "w.lab.allowed": ("allowed: {allowed}", "允许：{allowed}"),
    }
)


def _allowed_text(k: Knob) -> str:
    if k.kind == "bool":
        return "0, 1"
    if k.kind == "choice":
        return ", ".join(str(c) for c in k.choices)
    lo = int(k.lo) if k.lo is not None and float(k.lo).is_integer() else k.lo
    hi = int(k.hi) if k.hi is not None and float(k.hi).is_integer() else k.hi
    return f"{lo}–{hi}"


#: Numeric knobs with a wider range than this get a text box instead of a slider.
SLIDER_MAX_STEPS = 20000


class KnobPanel(TcpkitWidget):
    """Sliders and dropdowns for a profile's knobs; emits a new Profile on every valid change.

    Parameters
    ----------
    profile : str or Profile
        ``"linux"``, ``"freebsd"``, ``"rfc9293"`` or a Profile.
    knobs : iterable of str, optional
        Which knobs to show (default: all modelled knobs of the profile).
    on_change : callable, optional
        Called with the new :class:`~tcpkit.engine.profiles.Profile` after each valid change.
    sysctl_box : bool
        Also show a ``sysctl -w name = value`` line.

    Notes
    -----
    Ranges, units and help text come from :class:`tcpkit.engine.profiles.Knob`, so the
    panel cannot offer a value the engine would refuse.  A value that is
    refused anyway (typed into a text box, or inconsistent with another knob)
    shows the :class:`~tcpkit.engine.errors.KnobError` text next to the knob and the
    control goes back to the last good value.
    """

    def __init__(
        self,
        profile: str | Profile = "linux",
        *,
        knobs: Iterable[str] | None = None,
        on_change: Callable[[Profile], Any] | None = None,
        sysctl_box: bool = True,
    ) -> None:
        super().__init__()
        check_callable("on_change", on_change)
        if isinstance(knobs, str):
            raise ParameterError("knobs", knobs, f"a list of knob names, e.g. [{knobs!r}]")
        self.profile = get_profile(profile)
        self._default = self.profile
        if knobs is None:
            chosen = [k for k in self.profile.knobs if k.modelled]
        else:
            try:
                names = list(knobs)
            except TypeError:
                raise ParameterError("knobs", type(knobs).__name__, "a list of knob names") from None
            for name in names:
                if not isinstance(name, str):
                    raise ParameterError("knobs", name, "knob names (strings)")
            chosen = [self.profile.knob(name) for name in names]
        self.knobs: list[Knob] = chosen
        self.callbacks: list[Callable[[Profile], Any]] = [on_change] if on_change else []
        self.controls: dict[str, W.ValueWidget] = {}
        self.errors: dict[str, W.HTML] = {}
        self.units: dict[str, W.HTML] = {}
        self.helps: dict[str, W.HTML] = {}
        self.labels: dict[str, W.HTML] = {}
        self._quiet = False
        # each knob's name in full, in its own element as wide as the longest name (monospace: about
        # 0.6 em per character), so the sliders line up and no name is cut to "tcp_syn_r…"
        width = f"{0.62 * max([len(k.name) for k in chosen] or [8]) + 1.2:.1f}em"
        rows: list[W.Widget] = []
        for k in chosen:
            ctl = self._make_control(k)
            ctl.add_class("tcpkit-lab-control")
            ctl.observe(lambda ch, name=k.name: self._on_control(name, ch), names="value")
            self.controls[k.name] = ctl
            self.labels[k.name] = W.HTML(layout=W.Layout(width=width, min_width=width))
            self.labels[k.name].add_class("tcpkit-lab-label")
            self.units[k.name] = W.HTML(layout=W.Layout(width="max-content"))
            self.errors[k.name] = W.HTML()
            self.helps[k.name] = W.HTML(layout=W.Layout(margin=f"0 0 0 {width}"))
            line = W.HBox(
                [self.labels[k.name], ctl, self.units[k.name], self.errors[k.name]],
                layout=W.Layout(align_items="center", width="100%"),
            )
            rows.append(W.VBox([line, self.helps[k.name]]))
        self.title = W.HTML()
        self.sysctl_text = W.Text(placeholder="net.ipv4.tcp_syn_retries = 3", layout=W.Layout(width="360px"))
        self.sysctl_button = W.Button()
        self.sysctl_msg = W.HTML()
        self.reset_button = W.Button()
        self.sysctl_button.on_click(lambda _b: self.apply_sysctl(self.sysctl_text.value))
        self.reset_button.on_click(lambda _b: self.reset())
        extra = [W.HBox([self.sysctl_text, self.sysctl_button, self.sysctl_msg])] if sysctl_box else []
        self.widget = W.VBox([self.title, *rows, *extra, self.reset_button])
        self.widget.add_class("tcpkit-knobs")
        self.refresh_language()

    # -- controls ---------------------------------------------------------------------
    def _make_control(self, k: Knob) -> W.ValueWidget:
        v = self.profile[k.name]
        style: dict[str, str] = {}
        lay = W.Layout(width="auto", min_width="260px", max_width="420px")
        if k.kind == "bool":
            return W.Dropdown(options=[("0", 0), ("1", 1)], value=int(bool(v)), style=style, layout=lay)
        if k.kind == "choice":
            return W.Dropdown(options=list(k.choices), value=v, style=style, layout=lay)
        assert k.lo is not None and k.hi is not None
        if k.kind == "int":
            if k.hi - k.lo <= SLIDER_MAX_STEPS:
                return W.IntSlider(
                    min=int(k.lo),
                    max=int(k.hi),
                    value=int(v),
                    style=style,
                    layout=lay,
                    continuous_update=False,
                )
            return W.IntText(value=int(v), style=style, layout=lay)
        step = 0.01 if k.hi <= 100 else (0.1 if k.hi <= 1000 else 1.0)
        if (k.hi - k.lo) / step <= SLIDER_MAX_STEPS:
            return W.FloatSlider(
                min=float(k.lo),
                max=float(k.hi),
                step=step,
                value=float(v),
                style=style,
                layout=lay,
                continuous_update=False,
                readout_format=".2f",
            )
        return W.FloatText(value=float(v), style=style, layout=lay)

    def _show(self, name: str, value: Any) -> None:
        ctl = self.controls.get(name)
        if ctl is None:
            return
        k = self.profile.knob(name)
        shown = int(bool(value)) if k.kind == "bool" else value
        if ctl.value != shown:
            self._quiet = True
            try:
                ctl.value = shown
            finally:
                self._quiet = False

    def _on_control(self, name: str, change: dict[str, Any]) -> None:
        if self._quiet:
            return
        self.set(name, change["new"])

    # -- API ------------------------------------------------------------------------------
    def set(self, name: str, value: Any) -> bool:
        """Set one knob as if the user had; ``False`` (and the message inline) if refused."""
        self._check_language()
        try:
            new = self.profile.set(**{name: value})
        except KnobError as exc:
            self._error(name, exc)
            return False
        self._accept(new, name)
        return True

    def apply_sysctl(self, line: str) -> bool:
        """Apply ``sysctl -w name=value`` text, e.g. ``"net.ipv4.tcp_syn_retries = 3"``."""
        self._check_language()
        name, sep, value = line.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            self.sysctl_msg.value = self._err_html(tr("w.knobs.bad_line", line=line))
            return False
        try:
            new = self.profile.set_sysctl(name, value)
        except TcpkitError as exc:
            self.sysctl_msg.value = self._err_html(str(exc))
            return False
        self.sysctl_msg.value = (
            f"<span style='color:#2ca02c'>{html.escape(tr('w.knobs.ok', knob=name, value=value))}</span>"
        )
        self._accept(new, None)
        return True

    def reset(self) -> None:
        """Back to the profile's defaults."""
        self._accept(self._default, None)

    def observe(self, callback: Callable[[Profile], Any]) -> None:
        """Call ``callback(profile)`` after every valid change."""
        if not callable(callback):
            raise ParameterError("callback", type(callback).__name__, "a function (callable)")
        self.callbacks.append(callback)

    def _accept(self, new: Profile, name: str | None) -> None:
        self.profile = new
        for k in self.knobs:
            self._show(k.name, new[k.name])
            if name is None or k.name == name:
                self.errors[k.name].value = ""
        for cb in self.callbacks:
            cb(new)

    @staticmethod
    def _err_html(text: str) -> str:
        return f"<span style='color:#d62728;white-space:pre-wrap'>⚠ {html.escape(text)}</span>"

    def _error(self, name: str, exc: KnobError) -> None:
        last = self.profile[name] if name in self.controls else None
        kept = tr("w.knobs.kept", value=last) if name in self.controls else ""
        box = self.errors.get(name, self.sysctl_msg)
        box.value = self._err_html(f"{exc}. {kept}")
        self._show(name, last)

    def refresh_language(self) -> None:
        self.title.value = f"<b>{html.escape(tr('w.knobs.title', name=self.profile.name))}</b> — " + html.escape(
            self.profile.description_zh if zh() else self.profile.description
        )
        for k in self.knobs:
            unit = tr(f"w.unit.{k.unit}") if k.unit else ""
            self.units[k.name].value = f"<span style='color:#555'>{html.escape(unit)}</span>"
            help_ = k.help_zh if zh() else k.help
            where = f" <code>{k.sysctl}</code>" if k.sysctl else ""
            self.helps[
                k.name
            ].value = f"<div style='font-size:90%;color:#555;margin:-4px 0 6px 0'>{html.escape(help_)}{where}</div>"
            tip = " · ".join(
                p
                for p in (
                    k.sysctl or tr("w.lab.no_sysctl"),
                    help_,
                    tr("w.lab.unit", unit=unit) if unit else "",
                    tr("w.lab.allowed", allowed=_allowed_text(k)),
                )
                if p
            )
            self.labels[k.name].value = (
                f"<span class='tcpkit-label' title='{html.escape(tip, quote=True)}' "
                f"style='white-space:nowrap;font-family:monospace'>{html.escape(k.name)}</span>"
            )
            self.controls[k.name].tooltip = tip
        self.sysctl_button.description = tr("w.knobs.apply")
        self.reset_button.description = tr("w.knobs.reset")

    def static(self) -> list[dict[str, Any]]:
        """The knob table (no figure here): rows of name, value, unit, allowed, meaning."""
        return [r for r in self.profile.table() if r["knob"] in self.controls]
