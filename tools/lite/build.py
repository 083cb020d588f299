#!/usr/bin/env python3
"""Build the course as a static JupyterLite site that runs in a browser tab with no network.

    python3 tasks.py lite [--out DIR]     # default build/lite/
    python3 tasks.py lite --repin         # after changing a version in tools/lite/: refresh the pins

``tasks.py`` installs the build tools (pyproject.toml's ``lite`` extra, every
dependency pinned by ``constraints-tools.txt``) into ``build/lite-tools/venv``
and runs this file with that environment's Python.
The build needs the package registries only (PyPI and the npm registry); the
site it makes needs nothing but a static file server:

1. Pyodide's core (``pyodide.mjs``, the WebAssembly interpreter, the standard
   library) from the npm registry's ``pyodide`` package, at the exact version
   the kernel expects, checked against the pinned sha512 (``pyodide.json``);
2. the browser's wheels from PyPI (``requirements-browser.txt``, pip
   ``--require-hashes``), tcpkit's wheel built from this checkout, and the
   kernel's own wheels (piplite, pyodide-kernel, the ipykernel shim) that ship
   inside jupyterlite-pyodide-kernel, each byte-compiled for Pyodide's Python by
   Pyodide itself under Node.js (``precompile.py``: the browser then skips
   compiling several thousand modules at every page load);
3. a ``pyodide-lock.json`` listing exactly those wheels, next to them (sha256,
   imports, and dependencies worked out from each wheel's metadata for
   Pyodide's Python, every one checked to be served and to satisfy its
   specifier), so the kernel loads all of it from the site, in parallel, while
   Pyodide starts, and never asks PyPI or a CDN;
4. ``jupyter lite build`` with the notebooks, the homework page, the
   labextensions that widgets, anywidget and Plotly need (from the same pinned
   wheels), and settings that save widget state in the notebook.

The pyodide-lock addons (``jupyterlite-pyodide-lock``, the kernel's ``[lock]``
extra) are not used: the first supports jupyterlite-core < 0.6 only and the
second needs Python 3.12 (``pyodide-lock`` >= 0.1.3), while this build must run
on Python 3.11.  Step 3 does what they do, for pure-Python wheels, with
``packaging``.
"""

from __future__ import annotations

import argparse
import base64
import email.parser
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TOOLS = ROOT / "build" / "lite-tools"
DOWNLOADS = TOOLS / "downloads"
DEFAULT_OUT = ROOT / "build" / "lite"

TOOLS_CONSTRAINTS = HERE / "constraints-tools.txt"
BROWSER_PINS = HERE / "requirements-browser.txt"
PYODIDE_PIN = HERE / "pyodide.json"
HOMEWORK_PAGE = ROOT / "course" / "homework.md"  # the student-facing page, once it exists
HOMEWORK_PLACEHOLDER = HERE / "homework.md"

#: The file every finished build carries: what it was built from (``--out`` only ever replaces a folder holding it).
MARKER = "tcpkit-lite.json"
#: Timestamps inside the site (contents index, zip entries of tcpkit's wheel): fixed, so builds are reproducible.
SOURCE_DATE_EPOCH = 1767225600  # 2026-01-01T00:00:00Z
NPM_REGISTRY = "https://registry.npmjs.org"
#: The kernel's package names it checks in ``loadPyodideOptions.packages`` before installing them itself.
KERNEL_STARTUP = ("micropip", "piplite", "ipykernel", "comm", "pyodide-kernel", "jedi", "ipython")


class BuildError(Exception):
    """Something the build cannot go on without; the message says what and how to fix it."""


@dataclass(frozen=True)
class Pin:
    """One ``name==version --hash=sha256:...`` line of a requirements file."""

    name: str
    version: str
    hashes: tuple[str, ...]


@dataclass(frozen=True)
class Wheel:
    """A wheel the site serves, with what the lock needs to know about it."""

    path: Path
    name: str
    version: str
    requires: tuple[str, ...]
    requires_python: str
    imports: tuple[str, ...]
    sha256: str


# --- pins ------------------------------------------------------------------------------------------------------------
_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;]+)(?P<rest>.*)$")


def read_pins(path: Path) -> list[Pin]:
    """The ``name==version`` lines of a requirements file, with their ``--hash`` values."""
    pins = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        m = _PIN.match(line)
        if not m:
            raise BuildError(f"{path.name} line {n}: expected 'name==version --hash=sha256:...', got {line!r}")
        hashes = tuple(re.findall(r"--hash=sha256:([0-9a-f]{64})", m["rest"]))
        pins.append(Pin(m["name"], m["version"], hashes))
    return pins


def canonical(name: str) -> str:
    """PEP 503 normal form of a distribution name.

    >>> canonical("Typing_Extensions")
    'typing-extensions'
    """
    return re.sub(r"[-_.]+", "-", name).lower()


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def source_digest(root: Path = ROOT) -> str:
    """A hash of everything the site is built from: tcpkit's sources, the notebooks, the homework page, the pins.

    Two checkouts with the same digest build the same site (the browser test caches its build under it).
    """
    h = hashlib.sha256()
    files: list[Path] = [root / "pyproject.toml", root / "README.md"]
    files += sorted((root / "notebooks").glob("*.ipynb"))
    files += [p for p in (HOMEWORK_PAGE,) if p.exists()]
    for folder in (root / "tcpkit", root / "tools" / "lite"):
        files += sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    for p in files:
        h.update(p.relative_to(root).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()[:16]


# --- downloads -------------------------------------------------------------------------------------------------------
def npm_registry() -> str:
    env = {k.upper(): v for k, v in os.environ.items()}  # npm reads npm_config_registry in either case
    return (env.get("NPM_CONFIG_REGISTRY") or NPM_REGISTRY).rstrip("/")


def fetch(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=120) as r:
            data: bytes = r.read()
            return data
    except OSError as exc:
        raise BuildError(f"could not download {url}: {exc}") from None


def pyodide_pin() -> dict[str, Any]:
    pin: dict[str, Any] = json.loads(PYODIDE_PIN.read_text(encoding="utf-8"))
    return pin


def _npm_integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def pyodide_core(dest: Path) -> dict[str, Any]:
    """Pyodide's core from the npm registry (checked against its pin) into ``dest``; returns its pyodide-lock.json."""
    pin = pyodide_pin()
    tgz = DOWNLOADS / f"{pin['package']}-{pin['version']}.tgz"
    data = tgz.read_bytes() if tgz.exists() else b""
    if _npm_integrity(data) != pin["integrity"]:
        url = f"{npm_registry()}/{pin['package']}/-/{pin['package']}-{pin['version']}.tgz"
        print(f"  downloading {url}", flush=True)
        data = fetch(url)
        if _npm_integrity(data) != pin["integrity"]:
            raise BuildError(
                f"{url} does not match the integrity pinned in {PYODIDE_PIN.relative_to(ROOT)}: "
                f"got {_npm_integrity(data)}"
            )
        tgz.parent.mkdir(parents=True, exist_ok=True)
        tgz.write_bytes(data)
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in (*pin["serve"], pin["lock"]):
            f = tar.extractfile(member)
            if f is None:
                raise BuildError(f"{tgz.name} has no file {member}")
            if member != pin["lock"]:
                (dest / Path(member).name).write_bytes(f.read())
            else:
                upstream: dict[str, Any] = json.loads(f.read())
    return upstream


def pip(*args: str | Path, quiet: bool = True) -> None:
    cmd = [sys.executable, "-m", "pip", *map(str, args), *(["--quiet"] if quiet else [])]
    if subprocess.run(cmd, check=False).returncode != 0:
        raise BuildError(f"pip failed: {' '.join(map(str, cmd))}")


def pure_wheel_args(python: str) -> list[str]:
    """pip options that pick pure-Python wheels for Pyodide's Python (``python`` is e.g. ``3.14``)."""
    return ["--platform", "any", "--implementation", "py", "--abi", "none", "--python-version", python]


def download_wheels(pins_file: Path, dest: Path, python: str) -> list[Path]:
    """Every pinned wheel of ``pins_file`` (pip checks the hashes), as files in ``dest``."""
    pins = read_pins(pins_file)
    missing = [p.name for p in pins if not p.hashes]
    if missing:
        raise BuildError(f"{pins_file.name}: no --hash for {', '.join(missing)}: run python3 tasks.py lite --repin")
    dest.mkdir(parents=True, exist_ok=True)
    pip(
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--require-hashes",
        *pure_wheel_args(python),
        "-r",
        pins_file,
        "-d",
        dest,
    )
    by_hash = {sha256_of(p): p for p in dest.glob("*.whl")}
    out = []
    for pin in pins:
        found = [by_hash[h] for h in pin.hashes if h in by_hash]
        if not found:
            raise BuildError(f"pip did not leave a wheel of {pin.name}=={pin.version} in {dest}")
        out.append(found[0])
    return out


def build_tcpkit_wheel(tmp: Path) -> Path:
    """tcpkit's wheel, built from a copy of the checkout's sources (nothing is written into the checkout)."""
    src = tmp / "src"
    src.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "tcpkit", src / "tcpkit", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    env = dict(os.environ, SOURCE_DATE_EPOCH=str(SOURCE_DATE_EPOCH), PYTHONDONTWRITEBYTECODE="1")
    cmd = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", tmp / "dist"]
    if subprocess.run([*map(str, cmd), str(src)], check=False, env=env, cwd=tmp).returncode != 0:
        raise BuildError("building tcpkit's wheel from the checkout failed (see pip's output above)")
    [wheel] = (tmp / "dist").glob("tcpkit-*.whl")
    return wheel


def kernel_extension_dir() -> Path:
    """The pyodide-kernel labextension as installed in the build tools' environment."""
    d = Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "@jupyterlite" / "pyodide-kernel-extension"
    if not (d / "package.json").exists():
        raise BuildError(f"no pyodide-kernel labextension in {d}: run this file through python3 tasks.py lite")
    return d


def kernel_wheels() -> list[Path]:
    """The kernel's own wheels (piplite, pyodide-kernel, the ipykernel and widgetsnbextension shims), newest of each."""
    newest: dict[str, tuple[tuple[int, ...], Path]] = {}
    for p in sorted((kernel_extension_dir() / "static" / "pypi").glob("*.whl")):
        name, version = p.name.split("-")[:2]
        key = tuple(int(x) for x in re.findall(r"\d+", version))
        if canonical(name) not in newest or key > newest[canonical(name)][0]:
            newest[canonical(name)] = (key, p)
    return [p for _, p in newest.values()]


# --- the lock --------------------------------------------------------------------------------------------------------
def read_wheel(path: Path) -> Wheel:
    """Name, version, requirements and importable top-level names of a wheel."""
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        [meta] = [n for n in names if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
        msg = email.parser.BytesParser().parsebytes(z.read(meta))
        top = meta.replace("METADATA", "top_level.txt")
        if top in names:
            imports = [s.strip() for s in z.read(top).decode().splitlines() if s.strip()]
        else:
            imports = []
            for n in names:
                first = n.split("/", 1)[0]
                if first.endswith((".dist-info", ".data")) or first == "__pycache__":
                    continue
                mod = first[:-3] if "/" not in n and first.endswith(".py") else first if "/" in n else ""
                if mod and mod.isidentifier() and mod not in imports:
                    imports.append(mod)
    return Wheel(
        path=path,
        name=str(msg["Name"]),
        version=str(msg["Version"]),
        requires=tuple(msg.get_all("Requires-Dist") or ()),
        requires_python=str(msg.get("Requires-Python") or ""),
        imports=tuple(sorted(set(imports))),
        sha256=sha256_of(path),
    )


def labextension_wheels(wheels: Iterable[Wheel]) -> list[Path]:
    """The wheels that carry a prebuilt JupyterLab extension (``share/jupyter/labextensions``)."""
    out = []
    for w in wheels:
        with zipfile.ZipFile(w.path) as z:
            if any(re.search(r"\.data/data/share/jupyter/labextensions/.+/package\.json$", n) for n in z.namelist()):
                out.append(w.path)
    return out


def pyodide_environment(info: dict[str, Any]) -> dict[str, str]:
    """PEP 508 marker values of the Python that runs in the browser (Pyodide's ``info`` block)."""
    full = str(info["python"])
    return {
        "implementation_name": "cpython",
        "implementation_version": full,
        "os_name": "posix",
        "platform_machine": "wasm32",
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": "Emscripten",
        "platform_version": "",
        "python_full_version": full,
        "python_version": ".".join(full.split(".")[:2]),
        "sys_platform": "emscripten",
        "extra": "",
    }


def make_lock(upstream: dict[str, Any], wheels: list[Wheel], preload: Iterable[str]) -> dict[str, Any]:
    """A pyodide-lock.json naming exactly ``wheels`` (file names relative to the lock, which sits beside them).

    Raises :class:`BuildError` when a wheel needs a package the site does not serve, a served version does not
    satisfy a requirement, a wheel does not support Pyodide's Python, or a preloaded name is not in the lock.
    """
    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    preload = list(preload)
    env = pyodide_environment(upstream["info"])
    python = Version(env["python_full_version"])
    by_name: dict[str, Wheel] = {}
    for w in wheels:
        key = canonical(w.name)
        if key in by_name:
            raise BuildError(f"two wheels of {w.name}: {by_name[key].path.name} and {w.path.name}")
        by_name[key] = w
    problems: list[str] = []
    packages: dict[str, dict[str, Any]] = {}
    for key, w in sorted(by_name.items()):
        if w.requires_python and not SpecifierSet(w.requires_python).contains(python, prereleases=True):
            problems.append(f"{w.path.name} requires Python {w.requires_python}; Pyodide has {python}")
        depends = []
        for text in w.requires:
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate(env):
                continue
            dep = by_name.get(canonical(req.name))
            if dep is None:
                problems.append(
                    f"{w.name} needs {text!r}, which the site does not serve (add it to {BROWSER_PINS.name})"
                )
            elif not req.specifier.contains(Version(dep.version), prereleases=True):
                problems.append(f"{w.name} needs {text!r}, but the site serves {dep.name} {dep.version}")
            else:
                depends.append(canonical(req.name))
        packages[key] = {
            "name": w.name,
            "version": w.version,
            "file_name": w.path.name,
            "install_dir": "site",
            "sha256": w.sha256,
            "package_type": "package",
            "imports": list(w.imports),
            "depends": sorted(set(depends)),
            "unvendored_tests": False,
        }
    problems += [f"preloaded package {p!r} is not in the lock" for p in preload if canonical(p) not in packages]

    if problems:
        raise BuildError("the browser's packages do not fit together:\n  " + "\n  ".join(problems))
    return {"info": upstream["info"], "packages": packages}


# --- the site --------------------------------------------------------------------------------------------------------
def lite_config() -> dict[str, Any]:
    cfg: dict[str, Any] = json.loads((HERE / "jupyter-lite.json").read_text(encoding="utf-8"))
    return cfg


def preload_packages() -> list[str]:
    """What the kernel loads from the lock while Pyodide starts (``loadPyodideOptions.packages``)."""
    plugins = lite_config()["jupyter-config-data"]["litePluginSettings"]
    packages = list(plugins["@jupyterlite/pyodide-kernel-extension:kernel"]["loadPyodideOptions"]["packages"])
    missing = [name for name in KERNEL_STARTUP if name not in packages]
    if missing:  # the kernel would install them itself at start, from PyPI
        raise BuildError(f"tools/lite/jupyter-lite.json: preload {', '.join(missing)} (the kernel needs them at start)")
    return packages


def stage(lite_dir: Path, pyodide_dir: Path, lock: dict[str, Any], wheels: list[Wheel]) -> None:
    """Lay out the ``--lite-dir`` that ``jupyter lite build`` reads."""
    static = lite_dir / "static" / "pyodide"
    shutil.copytree(pyodide_dir, static)
    for w in wheels:
        shutil.copy2(w.path, static / w.path.name)
    (static / "pyodide-lock.json").write_text(json.dumps(lock, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    content = lite_dir / "content"
    (content / "notebooks").mkdir(parents=True)
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    if not notebooks:
        raise BuildError(f"no notebooks in {ROOT / 'notebooks'} (build them with tools/build_notebooks.py)")
    for nb in notebooks:
        shutil.copy2(nb, content / "notebooks" / nb.name)
    page = HOMEWORK_PAGE if HOMEWORK_PAGE.exists() else HOMEWORK_PLACEHOLDER
    shutil.copy2(page, content / "homework.md")
    for name in ("jupyter-lite.json", "overrides.json"):
        shutil.copy2(HERE / name, lite_dir / name)
    config = json.loads((HERE / "jupyter_lite_config.json").read_text(encoding="utf-8"))
    config["LiteBuildConfig"].update(
        contents=["content"],
        federated_extensions=[str(kernel_extension_dir()), *map(str, labextension_wheels(wheels))],
        source_date_epoch=SOURCE_DATE_EPOCH,
    )
    (lite_dir / "jupyter_lite_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")


def jupyter_lite_build(lite_dir: Path, out: Path) -> None:
    exe = shutil.which("jupyter-lite", path=str(Path(sys.executable).parent))
    if exe is None:
        raise BuildError(
            "jupyter-lite is not installed next to this Python: run this file through python3 tasks.py lite"
        )
    env = dict(os.environ, SOURCE_DATE_EPOCH=str(SOURCE_DATE_EPOCH))
    env.pop("JUPYTERLITE_PYODIDE_URL", None)
    cmd = [exe, "build", "--lite-dir", str(lite_dir), "--output-dir", str(out)]
    proc = subprocess.run(cmd, cwd=lite_dir, env=env, check=False, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(f"jupyter lite build failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")


def check_site(out: Path, lock: dict[str, Any]) -> None:
    """The built site serves Pyodide and every locked wheel itself, and the kernel is pointed at them."""
    settings = json.loads((out / "jupyter-lite.json").read_text(encoding="utf-8"))["jupyter-config-data"]
    kernel = settings["litePluginSettings"]["@jupyterlite/pyodide-kernel-extension:kernel"]
    if kernel.get("pyodideUrl") != "./static/pyodide/pyodide.mjs":
        raise BuildError(
            f"the kernel is not pointed at the site's own Pyodide: pyodideUrl = {kernel.get('pyodideUrl')!r}"
        )
    served = out / "static" / "pyodide"
    if json.loads((served / "pyodide-lock.json").read_text(encoding="utf-8")) != lock:
        raise BuildError("the site's pyodide-lock.json is not the one this build wrote")
    for pkg in lock["packages"].values():
        f = served / pkg["file_name"]
        if not f.exists() or sha256_of(f) != pkg["sha256"]:
            raise BuildError(f"the lock names {pkg['file_name']}, which the site does not serve as locked")
    for path in out.rglob("*.map"):
        path.unlink()  # sourcemaps only help developers; some extensions ship them regardless of no_sourcemaps


def folder_size(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def replace_output(built: Path, out: Path) -> None:
    """Move the finished site to ``out``; an existing ``out`` is replaced only if it is an earlier build."""
    if out.exists():
        if not (out / MARKER).exists() and any(out.iterdir()):
            raise BuildError(f"{out} exists and is not a tcpkit lite build ({MARKER} missing): choose another --out")
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(built), str(out))


@dataclass
class Timer:
    t0: float
    steps: list[tuple[str, float]]

    def step(self, name: str) -> None:
        now = time.monotonic()
        self.steps.append((name, now - self.t0))
        print(f"  {name}: {now - self.t0:.1f} s", flush=True)
        self.t0 = now


def _precompile_module() -> Any:
    """``tools/lite/precompile.py``, loaded by path (this file runs as a script and is loaded by path in tests)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("tcpkit_lite_precompile", HERE / "precompile.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build(out: Path, compile_wheels: bool = True) -> dict[str, Any]:
    """Build the site into ``out`` and return what :data:`MARKER` records about it.

    ``compile_wheels=False`` serves the wheels as downloaded (sources only): the browser then compiles every
    module it imports at each page load (for comparing load times).
    """
    try:
        import jupyterlite_pyodide_kernel.constants as kc
    except ImportError:
        raise BuildError(
            "jupyterlite-pyodide-kernel is not installed: run this file through python3 tasks.py lite"
        ) from None
    pin = pyodide_pin()
    if pin["version"] != kc.PYODIDE_VERSION:
        raise BuildError(
            f"jupyterlite-pyodide-kernel expects Pyodide {kc.PYODIDE_VERSION}, {PYODIDE_PIN.name} pins "
            f"{pin['version']}: run python3 tasks.py lite --repin"
        )
    t = Timer(time.monotonic(), [])
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out.name}-building-", dir=out.parent) as tmp_name:
        tmp = Path(tmp_name)
        upstream = pyodide_core(tmp / "pyodide")
        t.step(f"Pyodide {pin['version']} core from the npm registry")
        python = ".".join(str(upstream["info"]["python"]).split(".")[:2])
        pypi = download_wheels(BROWSER_PINS, DOWNLOADS / "wheels", python)
        t.step(f"{len(pypi)} wheels from PyPI")
        tcpkit = build_tcpkit_wheel(tmp / "tcpkit")
        t.step(f"tcpkit wheel {tcpkit.name}")
        served = [*pypi, tcpkit, *kernel_wheels()]
        if compile_wheels:
            pc = _precompile_module()
            try:
                served, counts = pc.precompile(
                    served, tmp / "pyodide", upstream, DOWNLOADS / "compiled", pin["version"]
                )
            except pc.PrecompileError as exc:
                raise BuildError(str(exc)) from None
            t.step(
                f"{counts['modules']} modules of {counts['wheels']} wheels byte-compiled in Pyodide, the ones the "
                f"course imports{' (from the cache)' if counts['cached'] else ''}"
            )
            for failed in counts["failed_steps"]:
                print(f"  (a workload step did not run in Node, its modules compile in the browser: {failed})")
        wheels = [read_wheel(p) for p in served]
        lock = make_lock(upstream, wheels, preload_packages())
        stage(tmp / "lite", tmp / "pyodide", lock, wheels)
        jupyter_lite_build(tmp / "lite", tmp / "site")
        check_site(tmp / "site", lock)
        t.step("jupyter lite build")
        files, size = folder_size(tmp / "site")
        info = {
            "built_by": "tools/lite/build.py",
            "source_digest": source_digest(),
            "pyodide": pin["version"],
            "precompiled": compile_wheels,
            "precompiled_modules": counts["modules"] if compile_wheels else 0,
            "python": str(upstream["info"]["python"]),
            "homework_page": (HOMEWORK_PAGE if HOMEWORK_PAGE.exists() else HOMEWORK_PLACEHOLDER)
            .relative_to(ROOT)
            .as_posix(),
            "wheels": {k: v["file_name"] for k, v in sorted(lock["packages"].items())},
            "files": files + 1,
            "bytes": size,
        }
        (tmp / "site" / MARKER).write_text(json.dumps(info, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        replace_output(tmp / "site", out)
    print(f"lite: {out} ({info['files']} files, {size / 1e6:.1f} MB) in {sum(s for _, s in t.steps):.0f} s", flush=True)
    return info


# --- repin -----------------------------------------------------------------------------------------------------------
def _pip_download_hashes(pins: list[Pin], extra: list[str]) -> dict[str, list[str]]:
    with tempfile.TemporaryDirectory() as d:
        reqs = Path(d) / "req.txt"
        reqs.write_text("".join(f"{p.name}=={p.version}\n" for p in pins), encoding="utf-8")
        pip("download", "--no-deps", "--only-binary=:all:", *extra, "-r", reqs, "-d", Path(d) / "w")
        found: dict[str, list[str]] = {}
        for f in sorted((Path(d) / "w").glob("*.whl")):
            found.setdefault(canonical(f.name.split("-")[0]), []).append(sha256_of(f))
        return found


def _rewrite_pins(path: Path, found: dict[str, list[str]]) -> None:
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        m = _PIN.match(line.strip())
        if m:
            hashes = found.get(canonical(m["name"]))
            if not hashes:
                raise BuildError(f"pip found no wheel of {m['name']}=={m['version']}")
            line = f"{m['name']}=={m['version']} " + " ".join(f"--hash=sha256:{h}" for h in hashes)
        lines.append(line)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def lite_extra() -> list[str]:
    """pyproject.toml's ``lite`` extra (the build tools)."""
    import tomllib

    doc = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return list(doc["project"]["optional-dependencies"]["lite"])


def _repin_tools() -> str:
    """Install the ``lite`` extra into a fresh environment, write its full freeze; return the kernel's Pyodide."""
    import venv

    with tempfile.TemporaryDirectory() as d:
        venv.EnvBuilder(with_pip=True).create(d)
        py = Path(d) / ("Scripts" if os.name == "nt" else "bin") / ("python.exe" if os.name == "nt" else "python")
        subprocess.run([py, "-m", "pip", "install", "--quiet", *lite_extra()], check=True)
        frozen = subprocess.run([py, "-m", "pip", "freeze", "--all"], check=True, capture_output=True, text=True)
        lines = sorted(
            (ln for ln in frozen.stdout.splitlines() if "==" in ln and not ln.startswith("pip==")), key=str.lower
        )
        code = "import jupyterlite_pyodide_kernel.constants as c; print(c.PYODIDE_VERSION)"
        version = subprocess.run([py, "-c", code], check=True, capture_output=True, text=True).stdout.strip()
    head = [
        "# Every package in build/lite-tools/venv, pinned: python3 tasks.py lite installs pyproject.toml's",
        "# `lite` extra with `pip install -c` this file.  Written by `python3 tasks.py lite --repin`",
        "# (a fresh install of the extra, frozen).",
    ]
    TOOLS_CONSTRAINTS.write_text("\n".join([*head, *lines]) + "\n", encoding="utf-8")
    return version


def repin() -> None:
    """Re-resolve the build tools, refresh the browser wheels' hashes and the Pyodide pin (the kernel's version)."""
    pyodide_version = _repin_tools()
    python = pyodide_version_python(pyodide_version)
    _rewrite_pins(BROWSER_PINS, _pip_download_hashes(read_pins(BROWSER_PINS), pure_wheel_args(python)))
    pin = pyodide_pin()
    meta = json.loads(fetch(f"{npm_registry()}/{pin['package']}/{pyodide_version}"))
    pin.update(version=pyodide_version, integrity=meta["dist"]["integrity"])
    PYODIDE_PIN.write_text(json.dumps(pin, indent=2) + "\n", encoding="utf-8")
    print(f"repinned {TOOLS_CONSTRAINTS.name}, {BROWSER_PINS.name} and {PYODIDE_PIN.name} (Pyodide {pyodide_version})")


def pyodide_version_python(version: str) -> str:
    """The Python minor version of a Pyodide release: ``314.0.6`` -> ``3.14`` (0.x releases: from the npm lock)."""
    major = version.split(".")[0]
    if len(major) == 3 and major.startswith("3"):
        return f"3.{major[1:]}"
    pin = pyodide_pin()
    data = fetch(f"{npm_registry()}/{pin['package']}/-/{pin['package']}-{version}.tgz")
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        f = tar.extractfile(pin["lock"])
        assert f is not None
        return ".".join(str(json.loads(f.read())["info"]["python"]).split(".")[:2])


# --- command line ----------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python3 tasks.py lite", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to put the site (default build/lite/)")
    ap.add_argument(
        "--no-precompile", action="store_true", help="serve the wheels uncompiled (slower loads; for comparison)"
    )
    ap.add_argument("--repin", action="store_true", help="refresh the hashes in tools/lite/ after changing a version")
    args = ap.parse_args(argv)
    try:
        if args.repin:
            repin()
        else:
            build(args.out, compile_wheels=not args.no_precompile)
    except BuildError as exc:
        print(f"lite: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
