"""Drive the built JupyterLite site in headless Chromium with no network but 127.0.0.1.

Shared by ``tests/test_lite.py`` and ``benchmarks/bench_lite.py``:

* :func:`cached_site` builds the site once per set of inputs (``build.source_digest``: the pins,
  tcpkit's sources, the notebooks) with ``python3 tasks.py lite`` into ``build/lite-test/<digest>``;
* :class:`SiteServer` serves it from 127.0.0.1 with the standard library's static file handler, in a
  thread, and counts the bytes it sends;
* :class:`OfflineBrowser` opens Chromium with every request to another host aborted by Playwright
  routing and recorded in :attr:`OfflineBrowser.attempts` (host names other than 127.0.0.1 also do
  not resolve, so nothing can slip past the routing either);
* the ``js_*`` helpers and :func:`run_all` open a notebook, run all its cells once the kernel is
  ready and collect every cell's outputs and the page's timings.

The tests read the page through ``window.jupyterapp``, which JupyterLite exposes only when the site's
``jupyter-lite.json`` says ``exposeAppInBrowser``; the server hands the browser a copy that says so and
turns off virtual scrolling of cells (:data:`SiteServer.expose_app`); the built site itself is left as it is.
"""

from __future__ import annotations

import functools
import gzip
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-domain-reliability",
    # a second wall behind the routing: no host name but 127.0.0.1 resolves
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
TEST_BUILDS = ROOT / "build" / "lite-test"


def _build_module() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("tcpkit_lite_build", HERE / "build.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


build = _build_module()


def missing() -> str | None:
    """Why the browser checks cannot run here, or ``None`` if they can."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is not installed (Playwright's own browser download does not work here)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install -e .[dev])"
    return None


def cached_site(log: Path | None = None) -> tuple[Path, float]:
    """The site for this checkout, built once per :func:`build.source_digest`; returns it and the build seconds.

    Builds (``python3 tasks.py lite --out ...``) only when no finished build of these inputs exists, and then
    removes the builds of other inputs but the newest.  ``0.0`` seconds means the cached build was used.
    """
    digest = build.source_digest()
    site = TEST_BUILDS / digest
    marker = site / build.MARKER
    if marker.exists() and json.loads(marker.read_text(encoding="utf-8")).get("source_digest") == digest:
        return site, 0.0
    t0 = time.monotonic()
    cmd = [sys.executable, str(ROOT / "tasks.py"), "lite", "--out", str(site)]
    with open(log or os.devnull, "w", encoding="utf-8") as fh:
        proc = subprocess.run(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, check=False, timeout=3600)
    if proc.returncode != 0:
        tail = log.read_text(encoding="utf-8")[-4000:] if log else ""
        raise RuntimeError(f"python3 tasks.py lite failed ({proc.returncode}):\n{tail}")
    # keep this build and the newest other one (another run may still be serving it); remove the rest
    others = [p for p in TEST_BUILDS.iterdir() if p.name != digest and (p / build.MARKER).exists()]
    for old in sorted(others, key=lambda p: (p / build.MARKER).stat().st_mtime)[:-1]:
        shutil.rmtree(old, ignore_errors=True)
    return site, time.monotonic() - t0


class SiteServer:
    """A plain static file server for ``root`` on 127.0.0.1 (a free port), in a thread; counts bytes sent."""

    #: Hand the browser a jupyter-lite.json that exposes the app as ``window.jupyterapp`` (tests only).
    expose_app = True

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.sent: list[tuple[str, int]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            extensions_map = {
                **http.server.SimpleHTTPRequestHandler.extensions_map,
                ".mjs": "text/javascript",
                ".js": "text/javascript",
                ".wasm": "application/wasm",
                ".json": "application/json",
            }

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
                pass

            def do_GET(self) -> None:
                if server.expose_app and urlparse(self.path).path == "/jupyter-lite.json":
                    cfg = json.loads((server.root / "jupyter-lite.json").read_text(encoding="utf-8"))
                    cfg["jupyter-config-data"]["exposeAppInBrowser"] = True
                    # every cell stays in the page (no virtual scrolling), so the checks find each widget
                    overrides = cfg["jupyter-config-data"].setdefault("settingsOverrides", {})
                    overrides.setdefault("@jupyterlab/notebook-extension:tracker", {})["windowingMode"] = "none"
                    body = json.dumps(cfg).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    server._count(self.path, len(body))
                    return
                super().do_GET()

            def copyfile(self, source: Any, outputfile: Any) -> None:
                n = 0
                while chunk := source.read(1 << 16):
                    outputfile.write(chunk)
                    n += len(chunk)
                server._count(self.path, n)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="lite-site-server", daemon=True)

    def _count(self, path: str, n: int) -> None:
        with self._lock:
            self.sent.append((urlparse(path).path, n))

    def __enter__(self) -> SiteServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=10)

    def take(self) -> list[tuple[str, int]]:
        """What was sent since the last call: ``(path, body bytes)`` per response."""
        with self._lock:
            out, self.sent = self.sent, []
        return out

    def gzip_bytes(self, sent: list[tuple[str, int]]) -> int:
        """What the same responses would weigh gzip-compressed (as GitHub Pages and most hosts send them)."""
        total = 0
        for path, n in sent:
            f = self.root / path.lstrip("/")
            total += len(gzip.compress(f.read_bytes(), 6)) if n and f.is_file() else n
        return total


class OfflineBrowser:
    """Headless Chromium whose pages may only talk to ``allowed`` (the site server).

    Every request to another host, from a page, a worker or a service worker, is recorded in :attr:`attempts`.
    With ``route=True`` (the tests) Playwright routing aborts it; routing also turns Chromium's HTTP cache off,
    so warm loads are measured with ``route=False``, where the request is only recorded and fails because no
    other host name resolves (:data:`CHROMIUM_ARGS`).
    """

    def __init__(self, pw: Any, allowed: str) -> None:
        self.pw = pw
        self.allowed = urlparse(allowed).netloc
        self.attempts: list[str] = []
        self.browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, timeout=60_000)

    def _outside(self, url: str) -> bool:
        u = urlparse(url)
        return u.scheme not in ("data", "blob", "about") and u.netloc != self.allowed

    def _route(self, route: Any) -> None:
        if self._outside(route.request.url):
            self.attempts.append(route.request.url)
            route.abort("blockedbyclient")
        else:
            route.continue_()

    def _observe(self, request: Any) -> None:
        if self._outside(request.url):
            self.attempts.append(request.url)

    def new_context(self, route: bool = True) -> Any:
        """A fresh profile: empty cache and storage (the next load is a cold one)."""
        ctx = self.browser.new_context(viewport={"width": 1400, "height": 2400}, service_workers="allow")
        if route:
            ctx.route("**/*", self._route)
        else:
            ctx.on("request", self._observe)
        ctx.add_init_script(JS_TIMELINE)
        return ctx

    def profile_context(self, user_data_dir: Path) -> Any:
        """A browser profile on disk, as a student's browser has: its disk cache keeps the big files for a warm load.

        Requests to other hosts are recorded and cannot resolve (no routing: it would turn the cache off).
        """
        ctx = self.pw.chromium.launch_persistent_context(
            str(user_data_dir),
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            timeout=60_000,
            viewport={"width": 1400, "height": 2400},
            service_workers="allow",
        )
        ctx.on("request", self._observe)
        ctx.add_init_script(JS_TIMELINE)
        return ctx

    def close(self) -> None:
        self.browser.close()


@contextmanager
def offline_browser(allowed: str) -> Iterator[OfflineBrowser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = OfflineBrowser(pw, allowed)
        try:
            yield b
        finally:
            b.close()


# --- in the page -----------------------------------------------------------------------------------------------------
#: Installed before every page load: records (performance.now(), ms since navigation started) when the app, the
#: notebook and an idle kernel first appear.
JS_TIMELINE = """(() => {
  const t = window.__tcpkitTimes = {};
  const mark = (k) => { if (!(k in t)) t[k] = performance.now(); };
  const tick = () => {
    try {
      const app = window.jupyterapp;
      if (app) mark('app');
      const w = app && app.shell.currentWidget;
      if (w && w.content && w.content.widgets) mark('notebook');
      const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
      if (k && k.status === 'idle') mark('kernel_idle');
    } catch (e) { /* the app is still starting */ }
    if (!('kernel_idle' in t) && performance.now() < 600000) setTimeout(tick, 20);
  };
  tick();
})();"""

#: Clear the outputs the notebook file carries, then run all cells (not awaited); records when the run started and
#: when the first output of this run appeared.
JS_RUN_ALL = """async () => { const app = window.jupyterapp, t = window.__tcpkitTimes;
  await app.commands.execute('notebook:clear-all-cell-outputs');
  t.run_all = performance.now();
  const tick = () => {
    if (document.querySelector('.jp-CodeCell .jp-OutputArea-output')) t.first_output = performance.now();
    else if (performance.now() - t.run_all < 600000) setTimeout(tick, 10); };
  tick();
  app.commands.execute('notebook:run-all-cells');
  return true; }"""

JS_KERNEL_IDLE = """() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!(k && k.status === 'idle' && w.content && w.content.widgets.length); }"""

#: Every code cell: execution count, whether it has source, and its outputs in short.
JS_CELLS = """() => { const w = window.jupyterapp.shell.currentWidget;
  const k = w.sessionContext.session.kernel;
  return {status: k ? k.status : 'none', now: performance.now(), cells: w.content.widgets
    .filter(c => c.model.type === 'code')
    .map(c => ({count: c.model.executionCount, empty: !c.model.sharedModel.getSource().trim(),
      head: c.model.sharedModel.getSource().split('\\n')[0].slice(0, 80),
      outputs: c.model.outputs.toJSON().map(o => ({type: o.output_type, name: o.name || null,
        text: o.output_type === 'stream' ? String(o.text).slice(0, 2000) :
              o.output_type === 'error' ? (o.ename + ': ' + o.evalue) :
              String((o.data || {})['text/plain'] || '').slice(0, 2000),
        mimes: Object.keys(o.data || {})}))}))}; }"""

#: Run Python in the open notebook's kernel (not shown in the notebook); resolves to its text output.
JS_KERNEL_RUN = """async (code) => { const w = window.jupyterapp.shell.currentWidget;
  const f = w.sessionContext.session.kernel.requestExecute({code, store_history: false});
  let out = '';
  f.onIOPub = (msg) => { const c = msg.content || {};
    if (c.text) out += c.text;
    if (c.data && c.data['text/plain']) out += c.data['text/plain'] + '\\n';
    if (c.ename) out += c.ename + ': ' + c.evalue + '\\n'; };
  await f.done; return out; }"""

#: Append a code cell with ``code`` to the open notebook and run it.
JS_APPEND_AND_RUN = """async (code) => { const app = window.jupyterapp, nb = app.shell.currentWidget.content;
  nb.activeCellIndex = nb.widgets.length - 1;
  await app.commands.execute('notebook:insert-cell-below');
  await app.commands.execute('notebook:change-cell-to-code');
  nb.activeCell.model.sharedModel.setSource(code);
  await app.commands.execute('notebook:run-cell');
  return nb.widgets.length; }"""

#: Rendered Plotly figures in the page: how many, and how many have data and drawn SVG.
JS_PLOTS = """() => { const gds = [...document.querySelectorAll('.js-plotly-plot')];
  const drawn = gds.filter(g => g.data && g.data.length && g.querySelector('.main-svg'));
  return {plots: gds.length, drawn: drawn.length}; }"""

#: Save the open notebook and read it back from JupyterLite's contents: how many widget models it stores.
JS_SAVE_AND_COUNT_WIDGET_STATE = """async () => { const app = window.jupyterapp, w = app.shell.currentWidget;
  await app.commands.execute('docmanager:save');
  const m = await app.serviceManager.contents.get(w.context.path, {content: true});
  const ws = ((m.content.metadata || {}).widgets || {})['application/vnd.jupyter.widget-state+json'];
  return ws && ws.state ? Object.keys(ws.state).length : 0; }"""


def open_notebook(page: Any, base: str, path: str, timeout_ms: int = 180_000) -> None:
    """Load the lab on ``path`` and wait until its kernel is idle (the only notebook open: JupyterLite reopens the
    notebooks of the profile's last visit, so use a fresh profile per notebook, or the same notebook again)."""
    page.goto(f"{base}/lab/index.html?path={path}", timeout=timeout_ms)
    page.wait_for_function(JS_KERNEL_IDLE, timeout=timeout_ms, polling=100)
    tabs = page.evaluate("() => [...window.jupyterapp.shell.widgets('main')].map(w => w.title.label)")
    if tabs != [Path(path).name]:
        raise RuntimeError(f"expected only {path} open in the lab, found {tabs}")


def cells(page: Any) -> dict[str, Any]:
    out: dict[str, Any] = page.evaluate(JS_CELLS)
    return out


def run_all(page: Any, timeout_s: float = 300.0) -> dict[str, Any]:
    """Run every cell and wait until all have run (or one failed); returns :data:`JS_CELLS` plus the timings."""
    page.evaluate(JS_RUN_ALL)
    deadline = time.monotonic() + timeout_s
    while True:
        state = cells(page)
        failed = any(o["type"] == "error" for c in state["cells"] for o in c["outputs"])
        done = all(c["count"] is not None or c["empty"] for c in state["cells"])
        if state["status"] == "idle" and (done or failed):
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"cells still running after {timeout_s} s: {[c['count'] for c in state['cells']]}")
        time.sleep(0.1)
    state["times"] = {**page.evaluate("() => window.__tcpkitTimes || {}"), "all_cells_run": state["now"]}
    return state


def problems(state: dict[str, Any]) -> list[str]:
    """Error outputs and anything written to stderr, one line per cell."""
    out = []
    for i, c in enumerate(state["cells"]):
        for o in c["outputs"]:
            if o["type"] == "error" or (o["type"] == "stream" and o["name"] == "stderr"):
                out.append(f"code cell {i} ({c['head']!r}): {o['type']} {o['text'][:500]}")
    return out


def all_text(state: dict[str, Any]) -> str:
    return "\n".join(o["text"] for c in state["cells"] for o in c["outputs"])
