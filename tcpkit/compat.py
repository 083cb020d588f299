"""Round-1 module paths keep working after the move into layered subpackages.

Until the package was split into ``engine``, ``drivers``, ``capture``,
``lessons`` and ``cli``, its modules sat at the top level (``tcpkit.sim``,
``tcpkit.states``, ...).  Notebooks, homework and student code written then
still import those paths.  :data:`MOVED` maps each old path to its new home;
:class:`MovedModuleFinder`, installed when :mod:`tcpkit` is imported, makes an
old path load the *same module object* as the new one, lazily, so nothing is
imported before somebody asks for it.

Examples
--------
>>> import tcpkit.sim, tcpkit.drivers.sim
>>> tcpkit.sim is tcpkit.drivers.sim
True
>>> from tcpkit.states import State
>>> State.LISTEN.zh
'监听'
>>> MOVED["tcpkit.trace"]
'tcpkit.engine.trace'
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
from collections.abc import Sequence

__all__ = ["MOVED", "MovedModuleFinder", "install"]

#: old module path -> new module path
MOVED: dict[str, str] = {
    f"tcpkit.{old}": f"tcpkit.{new}"
    for old, new in {
        "errors": "engine.errors",
        "seqnum": "engine.seqnum",
        "segment": "engine.segment",
        "options": "engine.options",
        "states": "engine.states",
        "profiles": "engine.profiles",
        "timers": "engine.timers",
        "isn": "engine.isn",
        "siphash": "engine.siphash",
        "syncookies": "engine.syncookies",
        "connection": "engine.connection",
        "listener": "engine.listener",
        "stack": "engine.stack",
        "trace": "engine.trace",
        "sim": "drivers.sim",
        "links": "drivers.links",
        "apps": "drivers.apps",
        "scenarios": "drivers.scenarios",
        "flood": "drivers.flood",
        "packetdrill": "drivers.packetdrill",
        "pktscript": "drivers.pktscript",
        "wire": "capture.wire",
        "pcap": "capture.pcap",
        "replay": "capture.replay",
        "course_text": "lessons.text",
        "quiz": "lessons.quiz",
        "profiles_cli": "cli.profile",
        "docgen": "cli.docs",
    }.items()
}


class MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answer an import of an old path with the module at its new path."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def __init__(self) -> None:
        self._specs: dict[str, importlib.machinery.ModuleSpec | None] = {}

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = importlib.import_module(MOVED[spec.name])
        self._specs[spec.name] = module.__spec__
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        # The import system stamped the old path's spec on the real module; give it back its own.
        alias = module.__spec__.name if module.__spec__ is not None else ""
        real = self._specs.pop(alias, None)
        if real is not None:
            module.__spec__ = real
            module.__loader__ = real.loader


def install() -> None:
    """Put the finder on :data:`sys.meta_path` once (idempotent)."""
    if not any(isinstance(f, MovedModuleFinder) for f in sys.meta_path):
        sys.meta_path.append(MovedModuleFinder())
