"""The import contract: layers, no cycles, no private names across modules, ``now`` required in the engine.

The layers are data in ``tcpkit/cli/docs.py`` (``LAYERS``); the same data draws
``docs/architecture.md``. Imports are read from the source with ``ast`` (module-level and
function-level alike), so a lazy import cannot hide a dependency.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import networkx as nx
import pytest

import tcpkit
import tcpkit.engine
from tcpkit.cli.docs import BEGIN, END, LAYER_OF, architecture_markdown
from tcpkit.compat import MOVED

PKG = Path(tcpkit.__file__).resolve().parent
ROOT = PKG.parent
THIRD_PARTY_OK_IN_ENGINE: set[str] = set()  # the engine uses the standard library only


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        if "data" in rel.parts:
            continue
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _package(mod: str) -> str:
    parts = mod.split(".")
    if len(parts) == 1:
        return "(root)"
    if len(parts) == 2 and parts[1] in ("i18n", "__main__"):
        return {"i18n": "i18n", "__main__": "cli"}[parts[1]]
    if len(parts) == 2 and f"tcpkit.{parts[1]}" in MODULES and not (PKG / parts[1]).is_dir():
        return "(root)"
    return parts[1]


def _resolve(mod: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports() -> list[tuple[str, str, str | None, int]]:
    """``(importer, imported module, imported name or None, line)`` for every tcpkit import."""
    out = []
    for mod, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                out += [(mod, a.name, None, node.lineno) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(mod, path, node)
                for a in node.names:
                    sub = f"{target}.{a.name}"
                    if sub in MODULES:  # "from tcpkit.engine import states": the module itself
                        out.append((mod, sub, None, node.lineno))
                    else:
                        out.append((mod, target, a.name, node.lineno))
    return out


IMPORTS = _imports()


def test_every_package_has_a_layer() -> None:
    assert {_package(m) for m in MODULES} <= set(LAYER_OF)


def test_the_engine_imports_nothing_outside_itself() -> None:
    bad = []
    for mod, target, _name, line in IMPORTS:
        if _package(mod) != "engine":
            continue
        top = target.split(".")[0]
        if top == "tcpkit" and _package(target) != "engine":
            bad.append(f"{mod}:{line} imports {target}")
        elif top != "tcpkit" and top in _third_party():
            bad.append(f"{mod}:{line} imports the third-party package {top}")
    assert not bad, "\n".join(bad)


def _third_party() -> set[str]:
    import sys

    std = set(sys.stdlib_module_names) | {"__future__"}
    tops = {t.split(".")[0] for _, t, _, _ in IMPORTS}
    return {t for t in tops if t not in std and t != "tcpkit"} - THIRD_PARTY_OK_IN_ENGINE


def test_layers_only_import_downwards() -> None:
    bad = []
    for mod, target, _name, line in IMPORTS:
        if not target.startswith("tcpkit"):
            continue
        a, b = _package(mod), _package(target)
        if a != b and LAYER_OF[b] >= LAYER_OF[a]:
            bad.append(f"{mod}:{line} ({a}, layer {LAYER_OF[a]}) imports {target} ({b}, layer {LAYER_OF[b]})")
    assert not bad, "\n".join(bad)


def test_no_module_imports_another_modules_private_name() -> None:
    bad = [
        f"{mod}:{line} imports {name} from {target}"
        for mod, target, name, line in IMPORTS
        if target.startswith("tcpkit")
        and name is not None
        and name.startswith("_")
        and not name.startswith("__")
        and target != mod
    ]
    # a private module may be imported by its own package (the grader's child processes)
    bad += [
        f"{mod}:{line} imports the private module {target}"
        for mod, target, name, line in IMPORTS
        if name is None
        and target.startswith("tcpkit")
        and target.split(".")[-1].startswith("_")
        and not target.split(".")[-1].startswith("__")
        and target.rsplit(".", 1)[0] != mod.rsplit(".", 1)[0]
    ]
    assert not bad, "\n".join(bad)


def test_no_import_cycles() -> None:
    g = nx.DiGraph()
    for mod, target, _name, _line in IMPORTS:
        if target in MODULES and target != mod:
            # a package's __init__ re-exporting its own modules is not a cycle of the design
            if mod == target.rsplit(".", 1)[0]:
                continue
            g.add_edge(mod, target)
    cycles = list(nx.simple_cycles(g))
    assert not cycles, cycles


def _engine_functions() -> list[tuple[str, inspect.Signature]]:
    out = []
    for info in pkgutil.iter_modules(tcpkit.engine.__path__, "tcpkit.engine."):
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if getattr(obj, "__module__", None) != module.__name__:
                continue
            if inspect.isfunction(obj):
                out.append((f"{module.__name__}.{name}", inspect.signature(obj)))
            elif inspect.isclass(obj):
                for mname, member in vars(obj).items():
                    if inspect.isfunction(member):
                        out.append((f"{module.__name__}.{name}.{mname}", inspect.signature(member)))
    return out


def test_now_is_a_required_argument_everywhere_in_the_engine() -> None:
    bad = [
        name
        for name, sig in _engine_functions()
        if "now" in sig.parameters and sig.parameters["now"].default is not inspect.Parameter.empty
    ]
    assert not bad, "these engine functions give `now` a default: " + ", ".join(bad)


def test_the_architecture_page_is_current() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    generated = text[text.index(BEGIN) : text.index(END) + len(END)]
    assert generated == architecture_markdown(), "run: python -m tcpkit.cli.docs"


@pytest.mark.parametrize("old", sorted(MOVED))
def test_round_one_paths_still_import_the_same_module(old: str) -> None:
    assert importlib.import_module(old) is importlib.import_module(MOVED[old])


def test_import_tcpkit_does_not_load_the_live_lab() -> None:
    import subprocess
    import sys

    code = "import sys, tcpkit; print('tcpkit.live' in sys.modules, 'plotly' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


def test_the_readme_module_map_matches_the_tree() -> None:
    import re

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    listed = dict(re.findall(r"^\| `tcpkit/(\w+)/` \| (\d) \|", readme, re.M))
    packages = {p.name for p in PKG.iterdir() if (p / "__init__.py").exists()}
    assert set(listed) == packages
    assert {k: int(v) for k, v in listed.items()} == {k: LAYER_OF[k] for k in packages}
