"""The course in a browser tab (JupyterLite, ``python3 tasks.py lite``): size, first-load bytes and load times.

Rows:

* ``lite.site_size``: the built site on disk (goal < 80 MB) and ``lite.site_files``;
* ``lite.first_load`` / ``lite.first_load_gzip``: what the server sent from opening notebook 01 until all
  its cells had run, as sent by the plain test server and as a gzip-compressing host (GitHub Pages)
  would send it;
* ``lite.{cold,warm}_{kernel,first_output,interactive}``: seconds from the start of the page load until the
  kernel is ready, until the first output of the run appears, and until every cell of notebook 01 has
  run (all its widgets shown: interactive).  Cold: a fresh browser profile (on disk, as a student's
  browser has); warm: the same notebook loaded again in that profile, from its cache.  Goals:
  interactive within 20 s cold, 8 s warm;
* ``lite.warm_bytes``: what the server sent for the warm load;
* ``lite.{cold,warm}_browser_cpu``: CPU seconds Chromium used for each load (all its processes and
  threads; Linux): on a busy machine the wall times above stretch, this does not, much;
* ``lite.load_average``: the machine's 1-minute load average when the loads started;
* ``lite.notebook_<name>``: each notebook's cold load + run-all time, in a profile of its own; ``ok``
  says whether it ran with no error output (skipped with ``--quick``);
* ``lite.build``: ``python3 tasks.py lite`` into a temporary folder, downloads already cached
  (skipped with ``--quick``).

Served from 127.0.0.1 by the standard library's static file server; headless Chromium with every other
host unresolvable and every attempt recorded (any attempt makes ``lite.offline`` fail).  Rows are NaN
when Chromium or Playwright is missing.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MB = 1e6


def _browser() -> Any:
    spec = importlib.util.spec_from_file_location("tcpkit_lite_browser", ROOT / "tools" / "lite" / "browser.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def _browser_cpu_seconds(marker: str) -> float:
    """CPU time used so far by the Chromium whose command line names ``marker`` and all its child processes (Linux)."""
    stats: dict[int, tuple[int, float]] = {}  # pid -> (parent, cpu seconds)
    roots = set()
    for proc in Path("/proc").iterdir():
        try:
            if not proc.name.isdigit():
                continue
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            stats[int(proc.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
            if marker.encode() in (proc / "cmdline").read_bytes():
                roots.add(int(proc.name))
        except (OSError, ValueError, IndexError):
            continue
    total, seen, todo = 0.0, set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid in seen or pid not in stats:
            continue
        seen.add(pid)
        total += stats[pid][1]
        todo += [child for child, (parent, _) in stats.items() if parent == pid]
    return total


def _load(b: Any, page: Any, server: Any, notebook: str) -> tuple[dict[str, Any], list[tuple[str, int]]]:
    server.take()
    b.open_notebook(page, server.url, f"notebooks/{notebook}")
    state = b.run_all(page)
    return state, server.take()


def _timing_rows(prefix: str, state: dict[str, Any], goal: float | None) -> list[dict[str, Any]]:
    t = state["times"]
    rows = [
        {"name": f"lite.{prefix}_kernel", "value": t["kernel_idle"] / 1000, "unit": "s"},
        {"name": f"lite.{prefix}_first_output", "value": t["first_output"] / 1000, "unit": "s"},
        {"name": f"lite.{prefix}_interactive", "value": t["all_cells_run"] / 1000, "unit": "s"},
    ]
    if goal is not None:
        rows[-1].update(goal=f"< {goal:g} s", ok=t["all_cells_run"] / 1000 < goal)
    return rows


def run(quick: bool = False) -> list[dict[str, Any]]:
    b = _browser()
    why = b.missing()
    if why:
        return [{"name": "lite.cold_interactive", "value": math.nan, "unit": "s", "goal": f"skipped: {why}"}]
    site, build_s = b.cached_site()
    files = [p for p in site.rglob("*") if p.is_file()]
    size = sum(p.stat().st_size for p in files)
    rows: list[dict[str, Any]] = [
        {"name": "lite.site_size", "value": size / MB, "unit": "MB", "goal": "< 80 MB", "ok": size < 80 * MB},
        {"name": "lite.site_files", "value": len(files), "unit": "files"},
    ]
    with b.SiteServer(site) as server, b.offline_browser(server.url) as chromium:
        profile = tempfile.TemporaryDirectory(prefix="tcpkit-lite-profile-")
        ctx = chromium.profile_context(Path(profile.name))  # a disk cache, as a student's browser has
        page = ctx.new_page()
        page.set_default_timeout(120_000)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
        cpu0 = _browser_cpu_seconds(profile.name)
        cold, sent = _load(b, page, server, "01_handshake.ipynb")
        cpu1 = _browser_cpu_seconds(profile.name)
        rows += [
            {"name": "lite.first_load", "value": sum(n for _, n in sent) / MB, "unit": "MB"},
            {"name": "lite.first_load_gzip", "value": server.gzip_bytes(sent) / MB, "unit": "MB"},
            *_timing_rows("cold", cold, 20.0),
            {"name": "lite.cold_browser_cpu", "value": cpu1 - cpu0, "unit": "s", "goal": "CPU time, all threads"},
        ]
        warm, sent = _load(b, page, server, "01_handshake.ipynb")
        rows.append({"name": "lite.warm_browser_cpu", "value": _browser_cpu_seconds(profile.name) - cpu1, "unit": "s"})
        rows += [
            *_timing_rows("warm", warm, 8.0),
            {"name": "lite.warm_bytes", "value": sum(n for _, n in sent) / MB, "unit": "MB"},
        ]
        if not quick:
            for nb in sorted((site / "files" / "notebooks").glob("*.ipynb")):
                ctx_nb = chromium.new_context(route=False)  # its own profile: the lab reopens no other notebook
                page_nb = ctx_nb.new_page()
                page_nb.set_default_timeout(120_000)
                t0 = time.monotonic()
                state, _ = _load(b, page_nb, server, nb.name)
                ctx_nb.close()
                bad = b.problems(state)
                rows.append(
                    {
                        "name": f"lite.notebook_{nb.stem}",
                        "value": time.monotonic() - t0,
                        "unit": "s",
                        "goal": "no error output" + (f": {bad[0][:80]}" if bad else ""),
                        "ok": not bad,
                    }
                )
        ctx.close()
        profile.cleanup()
        rows.append({"name": "lite.load_average", "value": load, "unit": "", "goal": f"{os.cpu_count()} CPUs"})
        rows.append(
            {
                "name": "lite.offline",
                "value": len(chromium.attempts),
                "unit": "requests",
                "goal": "0 to other hosts",
                "ok": not chromium.attempts,
            }
        )
    if not quick:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.monotonic()
            cmd = [sys.executable, str(ROOT / "tasks.py"), "lite", "--out", str(Path(tmp) / "site")]
            ok = subprocess.run(cmd, cwd=ROOT, capture_output=True, check=False).returncode == 0
            rows.append(
                {
                    "name": "lite.build",
                    "value": time.monotonic() - t0,
                    "unit": "s",
                    "goal": "downloads cached",
                    "ok": ok,
                }
            )
    print(json.dumps({"cold_ms": cold["times"], "warm_ms": warm["times"], "test_build_s": build_s}), file=sys.stderr)
    return rows
