"""What every tcpkit widget shares: display with a static twin, language switching, figure replacement.

A widget shown in a notebook carries, in the same output, a static twin of
itself: its picture as Plotly JSON (which JupyterLab draws without a kernel)
and as HTML (nbviewer, exported HTML), and a line of text.  JupyterLab shows the
live widget when it can; a notebook read without a kernel, or opened before it
was run, shows the twin instead of "Error displaying widget: model not found".
"""

from __future__ import annotations

import functools
import html
import json
import pathlib
import warnings
import weakref
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio
from plotly.utils import PlotlyJSONEncoder

from tcpkit import i18n
from tcpkit.engine.errors import ParameterError

__all__ = [
    "TcpkitWidget",
    "set_language",
    "replace_figure",
    "figure_widget",
    "FigureWidget",
    "live_widgets",
    "figure_bundle",
    "figure_spec",
    "default_template",
    "static_html",
    "static_bundle",
    "strip_tags",
    "check_callable",
]

_LIVE: weakref.WeakSet[TcpkitWidget] = weakref.WeakSet()


class TcpkitWidget:
    """Base class: holds ``self.widget`` (an ipywidgets box) and relabels on a language change.

    Every open widget subscribes to :func:`tcpkit.i18n.on_language_change`
    through a weak reference, so ``tcpkit.set_language("zh")`` relabels it at
    once; the subscription ends when the widget is closed or garbage-collected.
    """

    widget: Any

    def __init__(self) -> None:
        self._lang = i18n.get_language()
        _LIVE.add(self)
        ref = weakref.ref(self)

        def relabel(_lang: str) -> None:
            w = ref()
            if w is not None:
                w._on_language_change()

        # finalize(): unsubscribes when the widget is collected, or at close() (at most once)
        self._language_subscription = weakref.finalize(self, i18n.on_language_change(relabel))

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        self._check_language()
        bundle = dict(self.widget._repr_mimebundle_(**kwargs) or {})
        try:
            twin = self.static()
        except Exception as exc:  # noqa: BLE001 - the live widget still shows; say why the twin is missing
            twin = None
            bundle["text/plain"] = f"{type(self).__name__} (no static picture: {type(exc).__name__}: {exc})"
        if twin is not None:
            bundle.update(static_bundle(twin, title=type(self).__name__))
        return bundle

    def static(self) -> Any:
        """What a notebook read without a kernel shows: a Figure, or rows of a table."""
        return None

    def _on_language_change(self) -> None:
        try:
            self._check_language()
        except Exception as exc:  # noqa: BLE001 - one broken widget must not stop set_language for the others
            warnings.warn(
                f"{type(self).__name__} could not switch language: {type(exc).__name__}: {exc}",
                RuntimeWarning,
                stacklevel=2,
            )

    def _check_language(self) -> None:
        if self._lang != i18n.get_language():
            self._lang = i18n.get_language()
            self.refresh_language()

    def refresh_language(self) -> None:
        """Rewrite every label in the current language (figures included)."""
        raise NotImplementedError

    def close(self) -> None:
        """Close the widget and its children (frees them in the kernel and the browser)."""
        _LIVE.discard(self)
        self._language_subscription()
        _close_tree(self.widget)


def _close_tree(w: Any) -> None:
    for child in getattr(w, "children", ()) or ():
        _close_tree(child)
    if hasattr(w, "close"):
        w.close()


def live_widgets() -> list[TcpkitWidget]:
    """The tcpkit widgets that are open (relabelled by :func:`set_language`)."""
    return list(_LIVE)


def set_language(lang: str) -> None:
    """:func:`tcpkit.set_language`: switch language and relabel every open widget at once.

    Open widgets subscribe to :func:`tcpkit.i18n.on_language_change`, so
    calling :func:`tcpkit.set_language` directly relabels them too.

    >>> set_language("zh"); set_language("en")
    """
    i18n.set_language(lang)
    for w in list(_LIVE):
        w._check_language()


#: Where plotly.js sits in plotly's FigureWidget bundle (``plotly/package_data/widgetbundle.js``, an esbuild
#: module): one ``var LQ=fbe((DQ,hA)=>{...})`` wrapper that ends by setting ``window.Plotly``.
_PLOTLY_START = "var LQ=fbe((DQ,hA)=>{"
_PLOTLY_END = "window.Plotly=Q,Q})});"

_LIGHT_ESM = r"""
const MIME = "application/vnd.plotly.v1+json";
const CODE = @CODE@;
let loading = null;

function havePlotly() { return !!(window.Plotly && typeof window.Plotly.newPlot === "function"); }

// JupyterLab, Notebook 7 and JupyterLite ship plotly.js in the jupyterlab-plotly extension, which
// loads it (and sets window.Plotly) the first time it draws a figure: draw an empty one, off the page.
async function plotlyFromJupyter() {
  const c = window._JUPYTERLAB && window._JUPYTERLAB["jupyterlab-plotly"];
  if (!c || typeof c.get !== "function") return;
  const mod = (await c.get("./mimeExtension"))();
  let ext = mod && mod.default !== undefined ? mod.default : mod;
  if (Array.isArray(ext)) ext = ext[0];
  const factory = ext && ext.rendererFactory;
  if (!factory) return;
  const r = factory.createRenderer({
    mimeType: MIME, sanitizer: {}, resolver: null, linkHandler: null, latexTypesetter: null,
  });
  await r.renderModel({ data: { [MIME]: { data: [], layout: {} } }, metadata: {}, trusted: true, setData() {} });
  if (typeof r.dispose === "function") r.dispose();
}

export default async () => {
  if (!havePlotly()) {
    if (!loading) loading = plotlyFromJupyter().catch((err) => console.error("tcpkit: loading plotly.js", err));
    await loading;
  }
  if (!havePlotly()) throw new Error("tcpkit: no plotly.js in this page (JupyterLab's plotly extension is missing)");
  const url = URL.createObjectURL(new Blob([CODE], { type: "text/javascript" }));
  try {
    const mod = await import(url);
    return mod.default();
  } finally {
    URL.revokeObjectURL(url);
  }
};
"""


@functools.lru_cache(maxsize=1)
def _light_esm() -> str | None:
    """plotly's FigureWidget JavaScript without its copy of plotly.js (None if the bundle is not as expected)."""
    import plotly

    path = pathlib.Path(plotly.__file__).parent
    try:
        code = (path / "package_data" / "widgetbundle.js").read_text(encoding="utf-8")
    except OSError:
        return None
    start, end = code.find(_PLOTLY_START), code.find(_PLOTLY_END)
    if start < 0 or end < start or code.count(_PLOTLY_START) != 1 or code.count(_PLOTLY_END) != 1:
        return None
    light = code[:start] + "var LQ=fbe((DQ,hA)=>{hA.exports=globalThis.Plotly});" + code[end + len(_PLOTLY_END) :]
    return _LIGHT_ESM.replace("@CODE@", json.dumps(light))


class FigureWidget(go.FigureWidget):
    """A plotly FigureWidget that carries no copy of plotly.js: it uses the page's, from JupyterLab's plotly extension.

    plotly's own FigureWidget is an anywidget whose JavaScript (``_esm``, 5 MB)
    holds all of plotly.js; JupyterLab saves it in the notebook with every
    FigureWidget's state, so a saved notebook with a trace player weighed
    11 MB.  This one sends plotly's widget code without plotly.js (about
    120 kB) and takes plotly.js from the jupyterlab-plotly extension that draws
    Plotly outputs anyway (JupyterLab, Notebook 7, JupyterLite; no network).
    If plotly's bundle is not laid out as expected it keeps plotly's ``_esm``.

    >>> fw = FigureWidget(go.Figure(go.Bar(y=[1])))
    >>> isinstance(fw, go.FigureWidget), len(fw._esm) < 1_000_000
    (True, True)
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        light = _light_esm()
        if light is not None:
            self._esm = light  # read by anywidget's __init__ when it makes the synced _esm trait
        super().__init__(*args, **kwargs)


def figure_widget(fig: go.Figure | None = None) -> go.FigureWidget:
    """A :class:`FigureWidget` (no plotly.js of its own) showing ``fig``.

    >>> figure_widget().data
    ()
    """
    return FigureWidget(fig)


def replace_figure(fw: go.FigureWidget, fig: go.Figure) -> None:
    """Make ``fw`` show ``fig`` (all traces and the layout) in one batch.

    >>> fw = go.FigureWidget(go.Figure(go.Scatter(y=[1, 2])))
    >>> replace_figure(fw, go.Figure([go.Bar(y=[3]), go.Bar(y=[4])]))
    >>> [d.type for d in fw.data]
    ['bar', 'bar']
    """
    with fw.batch_update():
        fw.data = []
        fw.add_traces(list(fig.data))
        fw.layout = fig.layout


def strip_tags(text: str) -> str:
    """``text`` without HTML tags (entities stay).

    >>> strip_tags("<b>a</b> &lt; b")
    'a &lt; b'
    """
    out, inside = [], False
    for ch in text:
        if ch == "<":
            inside = True
        elif ch == ">":
            inside = False
        elif not inside:
            out.append(ch)
    return "".join(out)


@functools.lru_cache(maxsize=1)
def _template() -> dict[str, Any]:
    """Plotly's default template as plain JSON (what a go.Figure would carry)."""
    return json.loads(json.dumps(pio.templates[pio.templates.default].to_plotly_json(), cls=PlotlyJSONEncoder))


def default_template() -> dict[str, Any]:
    """Plotly's default template as plain JSON, computed once (shared: do not modify it).

    >>> default_template() is default_template()
    True
    """
    return _template()


def figure_spec(fig: go.Figure | dict[str, Any]) -> dict[str, Any]:
    """A figure as plain JSON data: a go.Figure serialised, or a dict spec (kept unvalidated) with the template.

    Widgets that redraw often build dict specs: validating a go.Figure costs more than drawing it.

    >>> figure_spec({"data": [{"type": "bar", "y": [1]}], "layout": {}})["layout"]["template"]["layout"]["font"]
    {'color': '#2a3f5f'}
    """
    if isinstance(fig, dict):
        spec = json.loads(json.dumps(fig, cls=PlotlyJSONEncoder))
        spec.setdefault("layout", {}).setdefault("template", _template())
        return spec
    return json.loads(pio.to_json(fig, validate=False, remove_uids=True))


def figure_bundle(fig: go.Figure | dict[str, Any]) -> dict[str, Any]:
    """Plotly's own MIME bundle for a figure: JSON that JupyterLab draws without a kernel, plus a text line.

    >>> sorted(figure_bundle(go.Figure()))
    ['application/vnd.plotly.v1+json', 'text/plain']
    """
    spec = figure_spec(fig)
    spec.setdefault("config", {}).setdefault("displaylogo", False)
    title = ((spec.get("layout") or {}).get("title") or {}).get("text") or "figure"
    return {"application/vnd.plotly.v1+json": spec, "text/plain": f"<figure: {strip_tags(str(title))}>"}


def static_html(fig: go.Figure | dict[str, Any] | None, sentence: str = "", title: str = "", details: str = "") -> str:
    """HTML for a notebook read without a kernel: a title, the figure (plotly.js from its CDN), a sentence.

    ``details`` is HTML the caller has already escaped.

    >>> "<b>t</b>" in static_html(go.Figure(), "s", "t")
    True
    """
    parts = ["<div class='tcpkit-static'>"]
    if title:
        parts.append(f"<p><b>{html.escape(title)}</b></p>")
    if fig is not None:
        parts.append(
            pio.to_html(figure_spec(fig), full_html=False, include_plotlyjs="cdn", default_width="100%", validate=False)
        )
    if sentence:
        parts.append(f"<p>{html.escape(sentence)}</p>")
    if details:
        parts.append(details)
    parts.append("</div>")
    return "\n".join(parts)


def rows_html(rows: Sequence[dict[str, Any]]) -> str:
    """A small HTML table from rows of dicts (the keys of the first row are the columns).

    >>> rows_html([{"a": 1, "b": "<x>"}])
    '<table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>&lt;x&gt;</td></tr></table>'
    """
    if not rows:
        return ""
    cols = list(rows[0])
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(r.get(c, '')))}</td>" for c in cols) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def static_bundle(twin: Any, *, title: str = "", sentence: str = "", details: str = "") -> dict[str, Any]:
    """The static MIME types for ``twin``: a Figure (Plotly JSON + HTML) or rows of a table (HTML).

    >>> sorted(static_bundle(go.Figure(), title="t"))
    ['application/vnd.plotly.v1+json', 'text/html', 'text/plain']
    >>> sorted(static_bundle([{"knob": "x"}]))
    ['text/html', 'text/plain']
    """
    if isinstance(twin, go.Figure | go.FigureWidget):
        fig = go.Figure(twin)
        out = figure_bundle(fig)
        out["text/html"] = static_html(fig, sentence, title, details)
        if sentence:
            out["text/plain"] = f"{title}: {sentence}" if title else sentence
        return out
    if isinstance(twin, list | tuple):
        table = rows_html(list(twin))
        return {
            "text/html": static_html(None, sentence, title, table + details),
            "text/plain": sentence or f"{title} ({len(twin)} rows)",
        }
    raise ParameterError("static()", type(twin).__name__, "a plotly Figure or a list of table rows")


def check_callable(name: str, fn: Any) -> Any:
    """``fn`` if it is callable or None, else a ParameterError naming ``name``.

    >>> check_callable("on_change", 5)
    Traceback (most recent call last):
    ...
    tcpkit.engine.errors.ParameterError: parameter on_change = 'int' is not allowed: expected a function ... or None
    """
    if fn is None or callable(fn):
        return fn
    raise ParameterError(name, type(fn).__name__, "a function (callable) or None")
