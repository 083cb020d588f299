"""Child program: the student's process.  Runs the notebook's cells and the calls to its functions (runs jailed).

Run as ``python -I -m tcpkit.course._student`` by the jail's supervisor
(:mod:`tcpkit.course._jail`), which talks to it over a ``SOCK_SEQPACKET``
socket on standard input, in JSON messages cut into records
(:class:`tcpkit.course.channel.RecordWriter`; no key: nothing in this
process is secret or trusted, and bytes its code writes into the socket
arrive as records of their own, dropped by the supervisor).  The requests are:

``start``
    the answer names to report and the size limit of one answer;
``cell``
    run one code cell (IPython magics already replaced by ``pass``); the
    reply gives the error, if any, and the answers that changed;
``call``
    call one of the notebook's functions with arguments (tagged JSON) and
    reply with its result or the exception it raised.

Answers are data (:mod:`tcpkit.course.codec`).  An answer that is callable
(a function, also one wrapped by ``functools.lru_cache`` or
``functools.wraps``, a closure, a ``functools.partial``) is not sent: the
tests call it here, in the notebook's own namespace, so its helpers,
globals and decorators behave exactly as they did in the student's
notebook.  An answer larger than the limit is replaced by a named marker
(:class:`tcpkit.course.codec.TooLarge`), never cut.

The cells' own output goes to ``/dev/null``.  A cell or call that runs past
its limit is interrupted by the supervisor (``SIGUSR1`` raises
:class:`Interrupted` here).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
import traceback
import types
from typing import Any

__all__ = ["Interrupted", "strip_magics", "is_function_answer"]


class Interrupted(BaseException):
    """The grader interrupted a cell or call that ran past its time limit."""


class _Grader:
    """Stands in for ``otter.Notebook``: checks are feedback for students, not grading."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def check(self, *args: Any, **kwargs: Any) -> None:
        return None

    def check_all(self, *args: Any, **kwargs: Any) -> None:
        return None

    def export(self, *args: Any, **kwargs: Any) -> None:
        return None


def _stub_otter() -> None:
    otter = types.ModuleType("otter")
    otter.Notebook = _Grader  # type: ignore[attr-defined]
    sys.modules["otter"] = otter


def strip_magics(source: str) -> str:
    """Replace IPython magics and shell escapes by ``pass`` (keeping line numbers and indentation).

    >>> strip_magics("%matplotlib inline\\nx = 1\\n  !ls")
    'pass\\nx = 1\\n  pass'
    """
    out = []
    for line in source.split("\n"):
        body = line.lstrip()
        if body.startswith(("%", "!")):
            out.append(line[: len(line) - len(body)] + "pass")
        else:
            out.append(line)
    return "\n".join(out)


def is_function_answer(value: Any) -> bool:
    """Whether an answer is something the tests call (any callable but a class), not data.

    >>> import functools
    >>> is_function_answer(functools.lru_cache(maxsize=None)(abs)), is_function_answer(int), is_function_answer(3)
    (True, False, False)
    """
    return callable(value) and not isinstance(value, type)


_busy = False


def _on_interrupt(signum: int, frame: Any) -> None:
    if _busy:
        raise Interrupted("stopped by the grader: it ran past its time limit")


def _guarded(fn: Any) -> tuple[bool, Any]:
    """Run ``fn()`` with interrupts armed; ``(True, value)`` or ``(False, exception)``."""
    global _busy
    try:
        _busy = True
        try:
            return True, fn()
        finally:
            _busy = False
    except BaseException as exc:  # noqa: BLE001 - student code may raise anything, even SystemExit
        _busy = False
        return False, exc


def _describe(exc: BaseException, filename: str | None = None) -> str:
    try:
        detail = str(exc)
    except BaseException:  # noqa: BLE001 - a hostile __str__
        detail = ""
    text = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    line = None
    if filename is not None:
        for fs in traceback.extract_tb(exc.__traceback__):
            if fs.filename == filename:
                line = fs.lineno
    text = " ".join(text.split())
    return (f"line {line}: " if line else "") + text[:300]


class Runner:
    """Holds the notebook's namespace and what was last sent of each answer."""

    def __init__(self) -> None:
        from tcpkit.course import codec

        self.codec = codec
        self.ns: dict[str, Any] = {"__name__": "__main__", "display": lambda *a, **k: None}
        self.names: list[str] = []
        self.limit = 16 * 2**20
        self.sent: dict[str, str] = {}

    def encode(self, value: Any) -> tuple[Any, int]:
        """Tagged JSON of ``value`` and its size; a :class:`TooLarge` marker past the limit."""
        try:
            data = self.codec.encode(value)
            size = len(json.dumps(data, separators=(",", ":")))
        except Exception as exc:  # noqa: BLE001 - a value whose encoding blew up
            return {"__unsendable__": f"could not be read: {type(exc).__name__}"}, 0
        if size > self.limit:
            return {"__too_large__": size, "limit": self.limit}, size
        return data, size

    def answers(self) -> dict[str, Any]:
        changed: dict[str, Any] = {}
        sizes: dict[str, int] = {}
        functions: list[str] = []
        gone: list[str] = []
        for name in self.names:
            if name not in self.ns:
                if name in self.sent:
                    del self.sent[name]
                    gone.append(name)
                continue
            value = self.ns[name]
            if is_function_answer(value):
                functions.append(name)
                if self.sent.get(name) != "function":
                    self.sent[name] = "function"
                continue
            data, size = self.encode(value)
            digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
            if self.sent.get(name) != digest:
                changed[name], sizes[name] = data, size
                self.sent[name] = digest
        # all answers of one message together stay under the limit: the largest become markers
        while sum(sizes.values()) > self.limit:
            big = max(sizes, key=lambda n: sizes[n])
            changed[big] = {"__too_large__": sizes[big], "limit": self.limit, "together": True}
            sizes[big] = 0
        return {"answers": changed, "functions": functions, "gone": gone}

    def cell(self, n: int, source: str) -> dict[str, Any]:
        filename = f"<cell {n}>"
        ok, value = _guarded(lambda: exec(compile(source, filename, "exec"), self.ns))
        error = None if ok else _describe(value, filename)
        return {"op": "cell", "n": n, "error": error, **self.answers()}

    def call(self, ident: int, name: str, args: Any, kwargs: Any) -> dict[str, Any]:
        fn = self.ns.get(name)
        if fn is None:
            return {"op": "call", "id": ident, "error": f"NameError: {name} is not defined in the notebook"}
        if not is_function_answer(fn):
            return {"op": "call", "id": ident, "error": f"TypeError: {name} is not a function"}
        try:
            a = self.codec.decode(args)
            k = self.codec.decode(kwargs)
        except Exception:  # noqa: BLE001
            return {"op": "call", "id": ident, "error": "ValueError: the test's arguments could not be read"}
        ok, value = _guarded(lambda: fn(*a, **k))
        if not ok:
            return {"op": "call", "id": ident, "error": _describe(value)}
        data, size = self.encode(value)
        if isinstance(data, dict) and "__too_large__" in data:
            return {
                "op": "call",
                "id": ident,
                "error": f"ValueError: its result is {size / 2**20:.1f} MB as data, more than the "
                f"{self.limit / 2**20:g} MB allowed",
            }
        return {"op": "call", "id": ident, "ok": data}


def main() -> int:  # pragma: no cover - exercised through the grader in tests/test_course*.py
    from tcpkit.course.channel import ChannelError, RecordReader, RecordWriter

    chan = os.dup(0)  # a SOCK_SEQPACKET socket to the supervisor
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    _stub_otter()
    inbox = RecordReader(chan, limit=2**31 - 1)
    out = RecordWriter(chan)
    runner = Runner()
    signal.signal(signal.SIGUSR1, _on_interrupt)
    while True:
        try:
            msg = inbox.receive(timeout=24 * 3600)
        except ChannelError:
            return 0
        if not isinstance(msg, dict):
            return 0
        op = msg.get("op")
        if op == "start":
            runner.names = [str(n) for n in msg.get("names", [])]
            runner.limit = int(msg.get("answer_bytes", runner.limit))
            reply: dict[str, Any] = {"op": "start", "n": 0}
        elif op == "cell":
            reply = runner.cell(int(msg["n"]), str(msg.get("source", "")))
        elif op == "call":
            reply = runner.call(int(msg["id"]), str(msg.get("name")), msg.get("args", []), msg.get("kwargs", {}))
        else:
            return 0
        try:
            out.send(reply)
        except ChannelError:
            return 0
        except (TypeError, ValueError):  # something in the reply was not JSON after all
            out.send({k: v for k, v in reply.items() if k in ("op", "n", "id")} | {"error": "answers unreadable"})


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
