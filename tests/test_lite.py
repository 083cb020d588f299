"""The course in a browser tab with no server: the JupyterLite build, checked offline in Chromium.

The site is built once per set of inputs (the pins, tcpkit's sources, the notebooks: see
``tools/lite/browser.py``) with ``python3 tasks.py lite``, served from 127.0.0.1 by a plain
static file server, and opened in headless Chromium where every request to another host is
aborted and recorded; any such request fails the test.  Notebooks 01, 03b and 06 run all their
cells there: no error output, Plotly figures drawn, a TracePlayer step moves the cursor, the
flood lab's slider changes its result, widget state is saved in the notebook, and what cannot
work in a browser (``tools/lite/limits.py``) says so.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
LITE = ROOT / "tools" / "lite"


def _load(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"tcpkit_lite_{name}", LITE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


browser = _load("browser")
build = browser.build
limits = _load("limits")

pytestmark = pytest.mark.xdist_group("lite")

ARTIFACTS = ROOT / "test-artifacts"

#: Shown if notebook 01 has no TracePlayer of its own (the test then adds one at the end and steps that).
PLAYER_CELL = (
    "from tcpkit import run_scenario\nfrom tcpkit.widgets import TracePlayer\n"
    'TracePlayer(run_scenario("open_close_client_first", seed=1))'
)


# --- the pins and the site, without a browser -----------------------------------------------------------------------
def test_lite_extra_is_pinned_and_matches_the_tool_constraints() -> None:
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["lite"]
    constraints = {
        build.canonical(ln.split("==")[0]): ln.split("==")[1]
        for ln in (LITE / "constraints-tools.txt").read_text().splitlines()
        if "==" in ln and not ln.startswith("#")
    }
    assert {build.canonical(r.split("==")[0]) for r in extra} >= {"jupyterlite-core", "jupyterlite-pyodide-kernel"}
    for req in extra:
        name, _, version = req.partition("==")
        assert version, f"{req} is not pinned with =="
        assert constraints.get(build.canonical(name)) == version, f"{req} differs from constraints-tools.txt"


def test_browser_wheels_are_pinned_by_hash() -> None:
    pins = build.read_pins(build.BROWSER_PINS)
    assert len(pins) > 20 and all(p.hashes for p in pins), [p.name for p in pins if not p.hashes]
    assert {"networkx", "plotly", "ipywidgets", "anywidget", "micropip"} <= {build.canonical(p.name) for p in pins}
    pin = build.pyodide_pin()
    assert re.fullmatch(r"sha512-[A-Za-z0-9+/]+=*", pin["integrity"]) and pin["version"]


def test_lock_is_made_from_wheel_metadata_and_refuses_what_does_not_fit(tmp_path: Path) -> None:
    import zipfile

    def wheel(name: str, version: str, requires: list[str], python: str = ">=3.10") -> Any:
        p = tmp_path / f"{name}-{version}-py3-none-any.whl"
        meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nRequires-Python: {python}\n"
        meta += "".join(f"Requires-Dist: {r}\n" for r in requires)
        with zipfile.ZipFile(p, "w") as z:
            z.writestr(f"{name}-{version}.dist-info/METADATA", meta)
            z.writestr(f"{name}/__init__.py", "")
        return build.read_wheel(p)

    info = {"python": "3.14.2", "arch": "wasm32"}
    a = wheel("alpha", "1.0", ["beta>=2", 'pexpect; sys_platform != "emscripten"', 'gamma; extra == "x"'])
    b = wheel("beta", "2.1", [])
    lock = build.make_lock({"info": info}, [a, b], ["alpha"])
    assert lock["packages"]["alpha"]["depends"] == ["beta"]  # the marker and the extra are evaluated for Pyodide
    assert lock["packages"]["alpha"]["imports"] == ["alpha"] and lock["packages"]["beta"]["sha256"] == b.sha256
    with pytest.raises(build.BuildError, match="does not serve"):
        build.make_lock({"info": info}, [a], [])
    with pytest.raises(build.BuildError, match="serves beta 1.0"):
        build.make_lock({"info": info}, [a, wheel("beta", "1.0", [])], [])
    with pytest.raises(build.BuildError, match="requires Python"):
        build.make_lock({"info": info}, [wheel("old", "1", [], python="<3.12")], [])
    with pytest.raises(build.BuildError, match="preloaded"):
        build.make_lock({"info": info}, [b], ["alpha"])


def test_build_never_replaces_a_folder_it_did_not_make(tmp_path: Path) -> None:
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "essay.txt").write_text("keep me")
    built = tmp_path / "built"
    built.mkdir()
    (built / build.MARKER).write_text("{}")
    with pytest.raises(build.BuildError, match="not a tcpkit lite build"):
        build.replace_output(built, mine)
    assert (mine / "essay.txt").read_text() == "keep me"
    old = tmp_path / "old-site"
    old.mkdir()
    (old / build.MARKER).write_text("{}")
    build.replace_output(built, old)  # an earlier build is replaced
    assert (old / build.MARKER).exists() and not built.exists()


def test_pins_file_errors_name_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "req.txt"
    bad.write_text("# comment\nplotly>=6\n")
    with pytest.raises(build.BuildError, match="line 2"):
        build.read_pins(bad)


def test_readme_and_the_pages_workflow_use_the_same_build() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "## Open the course in your browser (nothing to install)" in readme
    url = re.search(r"https://<owner>\.github\.io/<repo>/lab/index\.html\?path=(\S+)", readme)
    assert url and (ROOT / url.group(1)).exists()
    assert "python3 tasks.py lite" in readme
    workflow = (ROOT / ".github" / "workflows" / "pages.yml").read_text(encoding="utf-8")
    assert re.search(r"^\s+run: python3 tasks\.py lite --out (\S+)$", workflow, re.M)
    assert "actions/upload-pages-artifact" in workflow and "actions/deploy-pages" in workflow


def test_live_lab_says_it_runs_in_the_browser_under_pyodide(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tcpkit.live import run_one

    monkeypatch.setattr(sys, "platform", "emscripten")  # what Pyodide reports
    res = run_one("connection_refused", proc_root=tmp_path)
    assert res.source == "recorded" and "running in the browser" in res.summary()
    assert "running in the browser (Pyodide)" in res.notes[0]


def test_live_lab_says_when_your_own_script_did_not_run(tmp_path: Path) -> None:
    import dataclasses

    from tcpkit.live import SCRIPTS, run_one

    mine = dataclasses.replace(SCRIPTS["half_close"], run=lambda lab: None)
    assert any("did not run" in n for n in run_one(mine, proc_root=tmp_path).notes)
    assert not any("did not run" in n for n in run_one("half_close", proc_root=tmp_path).notes)


def test_no_notebook_uses_what_the_browser_copy_lacks() -> None:
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        code = "\n".join("".join(c["source"]) for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code")
        for module, why in limits.NOT_SHIPPED:
            assert not re.search(rf"\b{re.escape(module)}\b(?!_)", code), f"{nb.name} uses {module}: {why}"


@pytest.fixture(scope="module")
def site() -> Path:
    why = browser.missing()
    if why:
        pytest.skip(why)
    ARTIFACTS.mkdir(exist_ok=True)
    path, seconds = browser.cached_site(log=ARTIFACTS / "lite_build.log")
    (ARTIFACTS / "lite_build_seconds.txt").write_text(f"{seconds:.1f}\n")
    return path


@pytest.mark.slow
def test_site_serves_everything_itself(site: Path) -> None:
    info = json.loads((site / build.MARKER).read_text())
    assert info["source_digest"] == build.source_digest()
    cfg = json.loads((site / "jupyter-lite.json").read_text())["jupyter-config-data"]
    kernel = cfg["litePluginSettings"]["@jupyterlite/pyodide-kernel-extension:kernel"]
    assert kernel["pyodideUrl"] == "./static/pyodide/pyodide.mjs" and kernel["disablePyPIFallback"] is True
    assert cfg["settingsOverrides"]["@jupyter-widgets/jupyterlab-manager:plugin"]["saveState"] is True
    lock = json.loads((site / "static" / "pyodide" / "pyodide-lock.json").read_text())
    for pkg in lock["packages"].values():
        assert build.sha256_of(site / "static" / "pyodide" / pkg["file_name"]) == pkg["sha256"], pkg["name"]
    for name in (*build.KERNEL_STARTUP, "tcpkit", "networkx", "plotly", "ipywidgets", "anywidget"):
        assert build.canonical(name) in lock["packages"], name
    served = sorted(p.name for p in (site / "files" / "notebooks").glob("*.ipynb"))
    assert served == sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb")) and len(served) >= 7
    for nb in (ROOT / "notebooks").glob("*.ipynb"):
        assert (site / "files" / "notebooks" / nb.name).read_bytes() == nb.read_bytes()
    assert (site / "files" / "homework.md").exists()
    for ext in ("@jupyter-widgets/jupyterlab-manager", "anywidget", "jupyterlab-plotly"):
        assert (site / "extensions" / ext / "package.json").exists(), ext


@pytest.mark.slow
def test_what_the_course_imports_is_served_byte_compiled_for_pyodides_python(site: Path) -> None:
    """The modules the course imports have unchecked-hash .pyc files for Pyodide's Python, listed in RECORD.

    One magic number for all, newer than this host Python's (Pyodide's Python is newer than 3.11; the host
    cannot recompute its source hashes, which are keyed by that magic number).
    """
    import base64
    import hashlib
    import importlib.util
    import zipfile

    info = json.loads((site / build.MARKER).read_text())
    assert info["precompiled"] is True and info["precompiled_modules"] > 500
    tag = "cpython-" + "".join(info["python"].split(".")[:2])
    wheels = sorted((site / "static" / "pyodide").glob("*.whl"))
    assert len(wheels) >= 30
    magics, compiled = set(), set()
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as z:
            names = set(z.namelist())
            [record] = [n for n in names if n.endswith(".dist-info/RECORD")]
            listed = {line.split(",")[0]: line.split(",")[1] for line in z.read(record).decode().splitlines() if line}
            for pyc_name in (n for n in names if n.endswith(".pyc")):
                folder, _, file = pyc_name.rpartition("__pycache__/")
                assert file.endswith(f".{tag}.pyc") and folder + file[: -len(f".{tag}.pyc")] + ".py" in names
                pyc = z.read(pyc_name)
                assert int.from_bytes(pyc[4:8], "little") == 0b01, pyc_name  # PEP 552: hash-based, unchecked
                magics.add(pyc[:4])
                digest = base64.urlsafe_b64encode(hashlib.sha256(pyc).digest()).rstrip(b"=").decode()
                assert listed[pyc_name] == f"sha256={digest}", pyc_name
                compiled.add(folder + file[: -len(f".{tag}.pyc")] + ".py")
    [magic] = magics
    assert magic[2:] == b"\r\n"
    assert int.from_bytes(magic[:2], "little") > int.from_bytes(importlib.util.MAGIC_NUMBER[:2], "little")
    for module in (
        "tcpkit/__init__.py",
        "tcpkit/engine/connection.py",
        "tcpkit/widgets/lab.py",
        "tcpkit/widgets/flood_lab.py",
        "tcpkit/viz/ladder.py",
        "tcpkit/lessons/bank.py",
        "networkx/__init__.py",
        "plotly/graph_objs/_figure.py",
        "ipywidgets/__init__.py",
        "IPython/core/interactiveshell.py",
        "pyodide_kernel/__init__.py",
    ):
        assert module in compiled, module
    assert info["precompiled_modules"] == len(compiled)


# --- in the browser --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def served(site: Path) -> Any:
    with browser.SiteServer(site) as server, browser.offline_browser(server.url) as chromium:
        yield server, chromium
        assert chromium.attempts == [], f"the site tried to reach other hosts: {chromium.attempts[:10]}"


@pytest.fixture
def lite(served: Any) -> Any:
    """The server, the browser and a page in a fresh profile (each notebook is a cold load, its kernel alone)."""
    server, chromium = served
    ctx = chromium.new_context()
    page = ctx.new_page()
    page.set_default_timeout(60_000)
    yield server, chromium, page
    ctx.close()


def _open_and_run(lite: Any, notebook: str) -> dict[str, Any]:
    server, chromium, page = lite
    browser.open_notebook(page, server.url, f"notebooks/{notebook}")
    state = browser.run_all(page)
    assert browser.problems(state) == []
    assert chromium.attempts == [], f"tried to reach other hosts: {chromium.attempts[:10]}"
    return state


@pytest.mark.browser
@pytest.mark.slow
def test_blocked_hosts_are_caught_from_the_page_and_from_workers(served: Any) -> None:
    # a canary: if a request to another host could slip past unrecorded, the offline checks below could not fail
    server, chromium = served
    for route in (True, False):
        ctx = chromium.new_context(route=route)
        page = ctx.new_page()
        page.goto(f"{server.url}/{build.MARKER}")
        page.evaluate("() => fetch('https://pypi.org/simple/').catch(() => null)")
        page.evaluate(
            "() => new Promise(r => { const w = new Worker(URL.createObjectURL(new Blob(["
            "\"fetch('https://cdn.jsdelivr.net/pyodide/').catch(() => null).then(() => postMessage(1))\"]))); "
            "w.onmessage = () => r(1); setTimeout(() => r(0), 10000); })"
        )
        ctx.close()
        assert any("pypi.org" in u for u in chromium.attempts), (route, chromium.attempts)
        assert any("jsdelivr" in u for u in chromium.attempts), (route, chromium.attempts)
        chromium.attempts.clear()


@pytest.mark.browser
@pytest.mark.slow
def test_notebook_01_runs_offline_with_figures_a_working_player_and_saved_widget_state(lite: Any) -> None:
    server, chromium, page = lite
    server.take()
    state = _open_and_run(lite, "01_handshake.ipynb")
    plots = page.evaluate(browser.JS_PLOTS)
    assert plots["drawn"] >= 1, plots  # a rendered Plotly figure
    if not page.locator(".tcpkit-player").count():  # the notebook has none of its own: add one at the end
        page.evaluate(browser.JS_APPEND_AND_RUN, PLAYER_CELL)
    player = page.locator(".tcpkit-player").first
    player.locator(".tcpkit-step").wait_for(timeout=60_000)
    page.wait_for_function(
        "(el) => { const s = el.querySelector('svg.tcpkit-cursor'); return s && s.dataset.y !== ''; }",
        arg=player.element_handle(),
        timeout=60_000,
    )
    shown = "(el) => [el.innerText, el.querySelector('svg.tcpkit-cursor').dataset.y]"
    first = player.evaluate(shown)
    changed = (
        "([el, b, i]) => { const s = el.querySelector('svg.tcpkit-cursor');"
        " return [el.innerText, s.dataset.y][i] !== b[i]; }"
    )
    player.locator(".tcpkit-step").click()
    page.wait_for_function(changed, arg=[player.element_handle(), first, 0], timeout=30_000)  # the text moved on
    for _ in range(30):  # the first records happen at t = 0: step until the cursor goes down the ladder
        if player.evaluate(shown)[1] != first[1]:
            break
        before = player.evaluate(shown)
        player.locator(".tcpkit-step").click()
        page.wait_for_function(changed, arg=[player.element_handle(), before, 0], timeout=30_000)
    assert float(player.evaluate(shown)[1]) > float(first[1])
    assert page.evaluate(browser.JS_SAVE_AND_COUNT_WIDGET_STATE) > 0  # saveState: widgets are stored in the file
    assert browser.problems(browser.cells(page)) == []
    page.screenshot(path=str(ARTIFACTS / "lite_01.png"))
    sent = server.take()
    report = {"cold_ms": state["times"], "bytes_sent": sum(n for _, n in sent), "requests": len(sent)}
    (ARTIFACTS / "lite_01_cold.json").write_text(json.dumps(report, indent=1))  # benchmarks/bench_lite.py: warm too


@pytest.mark.browser
@pytest.mark.slow
def test_notebook_03b_flood_lab_slider_changes_its_result(lite: Any) -> None:
    _server, _chromium, page = lite
    _open_and_run(lite, "03b_floods_and_cookies.ipynb")
    assert page.evaluate(browser.JS_PLOTS)["drawn"] >= 1
    # the flood lab: found by its class (tcpkit.widgets.FloodLab), not by cell number
    lab = page.locator(".tcpkit-lab-flood").first
    lab.wait_for(timeout=30_000)
    # what the lab shows: its figures' data if it draws any (then they must change), else its text
    shown = """(el) => { const gds = [...el.querySelectorAll('.js-plotly-plot')];
      return gds.length ? 'figure ' + JSON.stringify(gds.map(g => g.data)) : 'text ' + el.innerText; }"""
    before = lab.evaluate(shown)
    handle = lab.locator(".tcpkit-lab-control.widget-slider").first.locator(".noUi-handle").first  # the flood rate
    handle.focus()
    for _ in range(5):
        handle.press("ArrowRight")
    page.wait_for_function(f"([el, b]) => ({shown})(el) !== b", arg=[lab.element_handle(), before], timeout=60_000)
    assert lab.evaluate(shown).split(" ")[0] == before.split(" ")[0]  # a figure was redrawn, not replaced by text
    page.screenshot(path=str(ARTIFACTS / "lite_03b.png"))
    assert browser.problems(browser.cells(page)) == []


@pytest.mark.browser
@pytest.mark.slow
def test_notebook_06_says_it_runs_in_the_browser_and_every_listed_limit_says_so(lite: Any) -> None:
    _server, _chromium, page = lite
    state = _open_and_run(lite, "06_real_kernel_lab.ipynb")
    assert "running in the browser" in browser.all_text(state)
    assert page.evaluate(browser.JS_KERNEL_RUN, "import sys; print(sys.platform)").strip() == "emscripten"
    for limit in limits.LIMITS:
        out = page.evaluate(browser.JS_KERNEL_RUN, limit.probe)
        assert limit.says in out and "Error" not in out, (limit.what, out)
