"""Start JupyterLab on a free localhost port and drive it with headless Chromium (Playwright).

Shared by ``tests/test_browser.py`` and the browser rows of ``benchmarks/``.  JupyterLab
runs with the course's own settings (``jupyter_config/lab/settings``: widget state saved
with the notebook).  :meth:`Lab.stop` shuts kernels down and kills the server's process
group, and is meant to run in a ``finally``.

Waiting on a busy machine: :func:`wait_until` polls a condition in the page and gives up
only when *nothing has happened* for ``idle`` seconds (no change in the kernel's status,
the cells' execution counts, the number of outputs or the notebook's text), not after a
fixed time, so a slow but progressing run is waited for, and a stuck one still fails.
No wait is ever retried.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
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
]


def missing() -> str | None:
    """Why the browser setup cannot run here, or ``None`` if it can."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is not installed (Playwright's own browser download does not work here)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install -e .[dev])"
    if shutil.which("jupyter", path=str(Path(sys.executable).parent)) is None:
        return "jupyter (JupyterLab) is not installed next to this Python"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Lab:
    """A throw-away JupyterLab server: temp config, runtime and root dirs, no token."""

    def __init__(
        self, notebooks: list[Path], *, settings: Path | None = ROOT / "jupyter_config" / "lab" / "settings"
    ) -> None:
        self.settings = settings
        self.tmp = Path(tempfile.mkdtemp(prefix="tcpkit-lab-"))
        self.root = self.tmp / "root"
        self.root.mkdir()
        for nb in notebooks:
            shutil.copy(nb, self.root / nb.name)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = self.tmp / "lab.log"

    def start(self, timeout: float = 90.0) -> None:
        env = dict(os.environ)
        for name in ("config", "runtime", "data", "ipython"):
            (self.tmp / name).mkdir()
        env.update(
            JUPYTER_CONFIG_DIR=str(self.tmp / "config"),
            JUPYTER_RUNTIME_DIR=str(self.tmp / "runtime"),
            JUPYTER_DATA_DIR=str(self.tmp / "data"),
            IPYTHONDIR=str(self.tmp / "ipython"),
            JUPYTER_PLATFORM_DIRS="1",
            PYTHONUNBUFFERED="1",
        )
        notif = self.tmp / "settings" / "@jupyterlab" / "apputils-extension"
        notif.mkdir(parents=True)
        (notif / "notification.jupyterlab-settings").write_text('{"fetchNews": "false", "checkForUpdates": false}')
        nbset = self.tmp / "settings" / "@jupyterlab" / "notebook-extension"
        nbset.mkdir(parents=True)
        # keep every cell in the DOM (no virtual scrolling), so selectors find the widgets
        (nbset / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
        jupyter = str(Path(sys.executable).parent / "jupyter")
        cmd = [
            jupyter,
            "lab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--port-retries=0",
            "--IdentityProvider.token=",
            "--ServerApp.password=",
            "--ServerApp.disable_check_xsrf=True",
            "--ServerApp.allow_root=True",
            "--LabApp.extension_manager=readonly",
            f"--ServerApp.root_dir={self.root}",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            f"--LabApp.workspaces_dir={self.tmp / 'workspaces'}",
            f"--LabApp.user_settings_dir={self.tmp / 'settings'}",
            *([f"--LabApp.app_settings_dir={self.settings}"] if self.settings is not None else []),
        ]
        with open(self.log, "wb") as fh:
            self.proc = subprocess.Popen(
                cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=self.root, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/status", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.3)
        raise TimeoutError(f"JupyterLab did not answer within {timeout} s:\n{self.log.read_text()[-3000:]}")

    def _api(self, method: str, path: str) -> Any:
        req = urllib.request.Request(f"{self.url}{path}", method=method)
        with urllib.request.urlopen(req, timeout=5) as r:
            body = r.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        """End every session and kernel of this server (as a closed laptop would)."""
        for sess in self._api("GET", "/api/sessions") or []:
            self._api("DELETE", f"/api/sessions/{sess['id']}")
        for k in self._api("GET", "/api/kernels") or []:
            self._api("DELETE", f"/api/kernels/{k['id']}")

    def saved(self, name: str) -> dict[str, Any]:
        """The notebook ``name`` as saved on disk (nbformat JSON)."""
        return json.loads((self.root / name).read_text(encoding="utf-8"))

    def stop(self) -> None:
        """Shut kernels down, stop the server, kill what is left; never raises."""
        if self.proc is None:
            return
        try:
            if self.proc.poll() is None:
                for k in self._api("GET", "/api/kernels") or []:
                    with contextlib.suppress(Exception):  # best effort
                        self._api("DELETE", f"/api/kernels/{k['id']}")
                with contextlib.suppress(Exception):  # the server may already be going
                    self._api("POST", "/api/shutdown")
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(timeout=10)
        except Exception:  # noqa: BLE001 - fall through to the kill
            pass
        finally:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                if self.proc.poll() is not None:
                    break
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    continue
            shutil.rmtree(self.tmp, ignore_errors=True)


def open_browser(pw: Any) -> Any:
    """Headless Chromium at /usr/bin/chromium (Playwright's download is not used)."""
    return pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, timeout=60_000)


# JavaScript helpers run in the page ------------------------------------------------------------

JS_TRACE_Y = """([sel, name]) => {
  const gd = document.querySelectorAll(sel)[0];
  if (!gd || !gd.data) return null;
  const tr = gd.data.find(d => d.name === name);
  return tr ? Array.from(tr.y || []) : null;
}"""

JS_TICKS = """(sel) => {
  const gd = document.querySelector(sel);
  return gd ? Array.from(gd.querySelectorAll('.ytick text')).map(t => t.textContent) : null;
}"""

JS_LIT = """(sel) => {
  const gd = document.querySelector(sel);
  if (!gd || !gd.layout) return null;
  return (gd.layout.annotations || []).filter(a => a.name && a.bgcolor !== 'white').map(a => a.name);
}"""

#: Where a ladder's cursor shape is drawn, as a string (compare before/after).
JS_CURSOR = """(gd) => { const s = (gd.layout.shapes || []).find(s => s.name === '_cursor');
  return s ? JSON.stringify([s.visible, s.y0]) : null; }"""

#: Click a button and time until the named layout shape moves in the plot (ms), polled every ~1 ms.
JS_CLICK_AND_TIME = """async ([button, plot, name, limit]) => {
  const gd = document.querySelector(plot);
  const where = () => { const s = (gd.layout.shapes || []).find(s => s.name === name); return JSON.stringify([s.visible, s.y0, s.x0]); };
  const y0 = where();
  const t0 = performance.now();
  document.querySelector(button).click();
  return await new Promise((resolve) => {
    const check = () => {
      const y = where();
      const dt = performance.now() - t0;
      if (y !== y0) resolve(dt);
      else if (dt > limit) resolve(-1);
      else setTimeout(check, 1);
    };
    check();
  });
}"""


#: What counts as progress while waiting: the kernel's status, every cell's prompt, the number of
#: outputs, and the notebook's text length.  Any change restarts the idle clock of :func:`wait_until`.
JS_PROGRESS = """() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook') || document.body;
  const prompts = Array.from(nb.querySelectorAll('.jp-InputPrompt')).map(p => p.textContent).join('|');
  return [k ? k.status : 'none', prompts, nb.querySelectorAll('.jp-OutputArea-output').length,
          nb.innerText.length].join('#'); }"""

#: The current notebook's kernel is idle.
JS_KERNEL_IDLE = """() => { const w = window.jupyterapp.shell.currentWidget;
  return !!(w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel
            && w.sessionContext.session.kernel.status === 'idle'); }"""

#: Every code cell of the current notebook has run (a number in its prompt, no "[*]").
JS_ALL_RAN = """() => { const w = window.jupyterapp.shell.currentWidget;
  if (!w || !w.content || !w.content.widgets) return false;
  const cells = w.content.widgets.filter(c => c.model.type === 'code');
  const failed = cells.find(c => c.model.outputs.toJSON().some(o => o.output_type === 'error'));
  if (failed) return 'error: ' + failed.model.outputs.toJSON().filter(o => o.output_type === 'error')
                                  .map(o => o.ename + ': ' + o.evalue).join('; ');
  return cells.length > 0 && cells.every(c => typeof c.model.executionCount === 'number'
                                              && c.model.executionCount > 0); }"""


class Stuck(AssertionError):
    """Nothing changed in the page for longer than the idle limit while waiting."""


def wait_until(
    page: Any, condition: str, *, what: str, idle: float = 90.0, limit: float = 1200.0, arg: Any = None
) -> Any:
    """Wait until the JavaScript ``condition`` is truthy; fail only after ``idle`` s without progress.

    Progress is any change of :data:`JS_PROGRESS`.  ``limit`` is a last bound for a
    page that keeps changing without ever meeting the condition.
    """
    start = last_change = time.monotonic()
    seen = None
    while True:
        value = page.evaluate(condition, arg) if arg is not None else page.evaluate(condition)
        if value:
            return value
        now = time.monotonic()
        sig = page.evaluate(JS_PROGRESS)
        if sig != seen:
            seen, last_change = sig, now
        if now - last_change > idle:
            raise Stuck(f"waiting for {what}: nothing changed in the page for {idle:.0f} s ({sig[:200]})")
        if now - start > limit:
            raise Stuck(f"waiting for {what}: still not there after {limit:.0f} s")
        page.wait_for_timeout(200)


def open_notebook(page: Any, lab: Lab, name: str) -> None:
    """Open ``name`` alone in a fresh JupyterLab workspace and wait until its kernel is idle.

    A fresh workspace (``?reset``) keeps JupyterLab from reopening the notebooks of
    earlier tests beside it.
    """
    space = "t" + "".join(ch for ch in name if ch.isalnum())[:40] + str(int(time.monotonic() * 1000))
    page.goto(f"{lab.url}/lab/workspaces/{space}/tree/{name}?reset", timeout=180_000, wait_until="domcontentloaded")
    wait_until(page, "() => !!(window.jupyterapp && window.jupyterapp.commands)", what="JupyterLab to start")
    wait_until(page, "() => !!document.querySelector('.jp-Notebook .jp-Cell')", what=f"{name} to show")
    wait_until(page, JS_KERNEL_IDLE, what=f"the kernel of {name} to be idle")


def run_all_cells(page: Any, notebook: str, ready_selector: str | None = None, timeout_ms: int = 0) -> None:
    """Run every cell of the open notebook and wait until all ran and the kernel is idle.

    ``ready_selector`` (optional): also wait until it is in the page.  ``timeout_ms`` is
    ignored (kept for old callers): waits end on progress, see :func:`wait_until`.
    """
    wait_until(page, "() => !!(window.jupyterapp && window.jupyterapp.commands)", what="JupyterLab to start")
    wait_until(page, "() => !!document.querySelector('.jp-Notebook .jp-Cell')", what=f"{notebook} to show")
    wait_until(page, JS_KERNEL_IDLE, what=f"the kernel of {notebook} to be idle")
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    ran = wait_until(page, JS_ALL_RAN, what=f"every cell of {notebook} to run")
    if isinstance(ran, str) and ran.startswith("error"):
        raise AssertionError(f"{notebook}: a cell failed: {ran}")
    wait_until(page, JS_KERNEL_IDLE, what=f"the kernel of {notebook} to finish")
    if ready_selector:
        wait_until(page, "(sel) => !!document.querySelector(sel)", arg=ready_selector, what=ready_selector)


#: Click a button and time until an element's text changes (ms): the widget round-trip floor.
JS_CLICK_AND_TEXT = """async ([button, target, limit]) => {
  const el = document.querySelector(target);
  const v0 = el.innerText;
  const t0 = performance.now();
  document.querySelector(button).click();
  return await new Promise((resolve) => {
    const check = () => {
      const dt = performance.now() - t0;
      if (el.innerText !== v0) resolve(dt);
      else if (dt > limit) resolve(-1);
      else setTimeout(check, 1);
    };
    check();
  });
}"""

#: Where a player's cursor overlay (tcpkit.widgets.cursor.LadderCursor) is drawn, as a string:
#: [display, data y, pixel y of the cursor line, pixel ends of the highlighted segment]; null if absent.
JS_OVERLAY = """(root) => { const svg = (root || document).querySelector('svg.tcpkit-cursor');
  if (!svg) return null;
  const l = svg.querySelector('.tcpkit-cursor-line'), b = svg.querySelector('.tcpkit-cursor-segment');
  return JSON.stringify([svg.style.display, svg.dataset.y, l.getAttribute('y1'),
    b.style.display === 'none' ? null : [b.getAttribute('x1'), b.getAttribute('y1'), b.getAttribute('x2'), b.getAttribute('y2')]]); }"""

#: Click a button and time until the cursor overlay under ``root`` has moved (ms): ``[dom, frame, settled]``.
#: ``dom``: the overlay's SVG changed (MutationObserver, no polling delay); ``frame``: the next
#: animation frame has started (the browser paints the new cursor right after its rAF callbacks);
#: ``settled``: a task queued after that frame ran (upper bound: also waits for whatever other
#: messages were queued, e.g. the player's text and slider).  ``[-1, -1, -1]`` after ``limit`` ms.
JS_CLICK_AND_TIME_OVERLAY = """async ([button, root, limit]) => {
  const box = document.querySelector(root);
  const svg = box.querySelector('svg.tcpkit-cursor');
  const l = svg.querySelector('.tcpkit-cursor-line'), b = svg.querySelector('.tcpkit-cursor-segment');
  const where = () => JSON.stringify([svg.style.display, l.getAttribute('y1'), b.style.display,
                                      b.getAttribute('y1'), b.getAttribute('y2')]);
  const w0 = where();
  return await new Promise((resolve) => {
    let done = false;
    const obs = new MutationObserver(() => {
      if (done || where() === w0) return;
      done = true;
      obs.disconnect();
      const dom = performance.now() - t0;
      requestAnimationFrame(() => {
        const frame = performance.now() - t0;
        setTimeout(() => resolve([dom, frame, performance.now() - t0]), 0);
      });
    });
    obs.observe(svg, {attributes: true, subtree: true});
    setTimeout(() => { if (!done) { done = true; obs.disconnect(); resolve([-1, -1, -1]); } }, limit);
    const t0 = performance.now();
    box.querySelector(button).click();
  });
}"""
