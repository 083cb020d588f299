"""Where untrusted code runs: the sealed jail of one submission, and limited helper processes.

Two modes, picked once per machine by :func:`isolation` (or forced with the
``TCPKIT_JAIL`` environment variable or the ``isolation`` parameter):

``namespace``
    ``unshare`` puts the jail's supervisor (:mod:`tcpkit.course._jail`) in
    fresh user, mount, PID, network, IPC and UTS namespaces.  There it makes
    every mount read-only (recursively: ``/``, ``/dev``, ``/dev/shm``,
    ``/run``, ``/sys/fs/cgroup``, a separately mounted home, ...), gives the
    student a private size- and inode-limited ``tmpfs`` as ``/tmp`` and
    working folder (the only writable place: this caps the number and the
    total size of files), a private ``/dev`` with only ``null``, ``zero`` and
    ``urandom``, covers the folders in ``hide`` and the grader's home folder
    with empty read-only mounts (binding back only what Python and tcpkit need),
    and starts the student's process with no capabilities left, no network
    (an empty network namespace), no view of or signal to any process
    outside the jail, and ``RLIMIT_NPROC``, ``RLIMIT_AS``, ``RLIMIT_CPU``,
    ``RLIMIT_FSIZE``.  When the supervisor (PID 1 of the jail) exits, the
    kernel kills every process left in the jail.
``fallback``
    where user namespaces are off (many containers).  Said loudly: the CSV's
    ``isolation`` column reads ``FALLBACK`` and the log warns.  The student's
    process runs as the grader's user, with the same limits, in a session of
    its own, in a private temporary folder, with capabilities dropped; the
    supervisor is a child subreaper, so even detached grandchildren are
    re-parented to it, and it kills every descendant at the end.  Nothing
    stops the student's code from reading or writing what the grader's user
    can, or from signalling the grader's processes; ``RLIMIT_NPROC`` counts
    every process of that user (and does not bind root), and the number of
    files is not capped.

Both modes stop a submission when the wall-clock time of all its cells and
calls, or the CPU time or resident memory of all its processes together,
pass the limits (:class:`tcpkit.course.grade.Limits`).

Examples
--------
>>> import sys
>>> r = run_limited([sys.executable, "-I", "-c", "print(6 * 7)"], timeout=30, memory_mb=512)
>>> r.returncode, r.stdout.strip(), r.timed_out
(0, b'42', False)
>>> run_limited([sys.executable, "-c", "pass"], timeout=0, memory_mb=512)
Traceback (most recent call last):
...
tcpkit.engine.errors.ParameterError: parameter timeout = 0 is not allowed: expected a number of seconds > 0

Notes
-----
``user_namespaces(7)``, ``mount_namespaces(7)`` (locked mounts),
``pid_namespaces(7)``, ``mount_setattr(2)``, ``capabilities(7)``,
``setrlimit(2)``, ``prctl(2)`` (``PR_SET_CHILD_SUBREAPER``), ``unshare(1)``
(Linux man-pages).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tcpkit.engine.errors import ParameterError

from .channel import MB, Reader, Writer

__all__ = [
    "RunResult",
    "Jail",
    "run_limited",
    "limited_process",
    "isolation",
    "describe_isolation",
    "kept_under_tmp",
    "hideable",
    "hide_plan",
    "MODES",
]

#: Bytes of a helper's standard output kept by :func:`run_limited` by default.
OUTPUT_CAP = 4 * MB

#: The isolation modes, and ``auto`` (namespace where it works, else fallback).
MODES = ("auto", "namespace", "fallback")

_UNSHARE_FLAGS = [
    "--user",
    "--map-root-user",
    "--mount",
    "--net",
    "--pid",
    "--ipc",
    "--uts",
    "--fork",
    "--mount-proc",
    "--kill-child=SIGKILL",
]


@dataclass(frozen=True, slots=True)
class RunResult:
    """What a limited run produced."""

    returncode: int | None
    stdout: bytes
    stderr: bytes
    timed_out: bool
    truncated: bool


def _needed() -> list[Path]:
    return [
        Path(__file__).resolve().parents[1],  # the tcpkit package
        Path(sys.prefix).resolve(),
        Path(sys.base_prefix).resolve(),
        Path(sys.executable).resolve().parent,
    ]


def kept_under_tmp() -> list[str]:
    """Folders under ``/tmp`` the jailed process still needs (Python or tcpkit in a checkout there).

    The jail puts a private folder over ``/tmp`` and mounts these back read-only at the same paths.

    >>> all(p.startswith("/tmp/") for p in kept_under_tmp())
    True
    """
    tmp = Path("/tmp")
    out: list[str] = []
    for n in sorted({p for p in _needed() if tmp in p.parents}):
        if not any(Path(k) in n.parents or Path(k) == n for k in out):
            out.append(str(n))
    return out


def hide_plan(folders: Sequence[str | os.PathLike[str]]) -> list[dict[str, Any]]:
    """How to hide each folder: an empty read-only mount over it, with what Python and tcpkit need bound back.

    A folder that holds Python or tcpkit (a home folder with a virtual environment, a checkout)
    is hidden all the same; only those paths come back, read-only.  A folder *inside* what
    Python needs cannot be hidden and is left out.  Folders under ``/tmp`` need no plan: the
    jail's private ``/tmp`` covers all of it.

    >>> import tcpkit, pathlib
    >>> repo = pathlib.Path(tcpkit.__file__).resolve().parents[1]
    >>> plan = hide_plan([repo, "/nonexistent/x"])
    >>> plan[-1]
    {'path': '/nonexistent/x', 'keep': []}
    >>> str(repo / "tcpkit") in plan[0]["keep"] or str(repo).startswith("/tmp/")
    True
    """
    needed = _needed()
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for f in folders:
        p = Path(f).resolve()
        if str(p) in seen or p == Path("/") or Path("/tmp") in (p, *p.parents):
            continue
        if any(n == p or n in p.parents for n in needed):
            continue  # inside what Python needs
        seen.add(str(p))
        keep = sorted({str(n) for n in needed if p in n.parents})
        out.append({"path": str(p), "keep": [k for k in keep if not any(Path(o) in Path(k).parents for o in keep)]})
    return out


def hideable(folders: Sequence[str | os.PathLike[str]]) -> list[str]:
    """The folders :func:`hide_plan` would hide (resolved), in order.

    >>> hideable(["/nonexistent/x", "/"])
    ['/nonexistent/x']
    """
    return [h["path"] for h in hide_plan(folders)]


def _homes() -> list[Path]:
    """This user's home folder, from the password database and from ``$HOME`` (which a caller may have changed)."""
    out = [Path.home()]
    with contextlib.suppress(KeyError, ImportError):
        import pwd

        out.append(Path(pwd.getpwuid(os.getuid()).pw_dir))
    return out


def _jail_argv(setup: dict[str, Any]) -> list[str]:
    return [sys.executable, "-I", "-m", "tcpkit.course._jail", json.dumps(setup)]


@functools.lru_cache(maxsize=1)
def _namespace_works() -> tuple[bool, str]:
    if sys.platform != "linux" or shutil.which("unshare") is None:
        return False, "not Linux or no unshare(1)"
    with tempfile.TemporaryDirectory(prefix="tcpkit-probe-") as tmp:
        setup = {
            "mode": "namespace",
            "probe": True,
            "work": tmp,
            "scratch_mb": 1,
            "files": 16,
            "hide": [],
            "keep": kept_under_tmp(),
        }
        try:
            r = subprocess.run(["unshare", *_UNSHARE_FLAGS, *_jail_argv(setup)], capture_output=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return False, str(exc)
    if r.returncode != 0:
        return False, (r.stderr.decode("utf-8", "replace").strip().splitlines() or ["unshare failed"])[-1]
    return True, ""


def isolation(requested: str | None = None) -> str:
    """The mode a jail gets: ``"namespace"`` or ``"fallback"``.

    ``requested`` (else the ``TCPKIT_JAIL`` environment variable, else
    ``"auto"``) may force ``"fallback"``; ``"namespace"`` raises when this
    machine cannot build the jail.

    >>> isolation() in ("namespace", "fallback"), isolation("fallback")
    (True, 'fallback')
    >>> isolation("docker")
    Traceback (most recent call last):
    ...
    tcpkit.engine.errors.ParameterError: parameter isolation = 'docker' is not allowed: expected one of auto, ...
    """
    want = requested or os.environ.get("TCPKIT_JAIL") or "auto"
    if want not in MODES:
        raise ParameterError("isolation", want, "one of " + ", ".join(MODES))
    if sys.platform != "linux":
        raise ParameterError("platform", sys.platform, "Linux: grading uses its namespaces, /proc and prctl(2)")
    if want == "fallback":
        return "fallback"
    ok, why = _namespace_works()
    if want == "namespace" and not ok:
        raise ParameterError("isolation", want, f"a machine with user namespaces (here: {why})")
    return "namespace" if ok else "fallback"


def describe_isolation(mode: str) -> str:
    """One line for the log and the grade command's output.

    >>> describe_isolation("fallback").startswith("WARNING")
    True
    """
    if mode == "namespace":
        return (
            "isolation: namespace jail (every mount read-only, private /tmp and /dev, no network, own PID "
            "namespace, no capabilities, limits on processes, files, memory, CPU and wall time)"
        )
    return (
        "WARNING: isolation: FALLBACK (user namespaces unavailable): student code runs as this user and can read, "
        "write and signal what this user can; only limits, a session of its own and killing every descendant "
        "apply. Grade on a throwaway machine or container."
    )


class Jail:
    """One submission's jail: the supervisor process and the authenticated channel to it.

    Use as a context manager; leaving it kills the jail and removes its folder.

    Parameters
    ----------
    mode : str
        ``"namespace"`` or ``"fallback"`` (see :func:`isolation`).
    key : bytes
        The submission's channel key (:func:`tcpkit.course.channel.new_key`).
    hide : list of paths
        Folders the student must not see (namespace mode).
    scratch_mb, files : int
        Size and number of files of the private ``/tmp``.
    reply_mb : int
        Largest message accepted from the jail.
    """

    def __init__(
        self,
        mode: str,
        key: bytes,
        *,
        hide: Sequence[str | os.PathLike[str]] = (),
        scratch_mb: int = 64,
        files: int = 1000,
        reply_mb: int = 64,
        processes: int = 64,
    ) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="tcpkit-jail-")
        work = Path(self._tmp.name)
        (work / "run").mkdir()
        # the folders to hide, the grader's home folder (keys, tokens, other courses) and the other jails' folders
        hidden = hide_plan([*hide, *_homes(), work.parent])
        setup = {
            "mode": mode,
            "work": str(work),
            "scratch_mb": scratch_mb,
            "files": files,
            "processes": processes,
            "hide": hidden,
            "keep": kept_under_tmp(),
        }
        argv = _jail_argv(setup)
        if mode == "namespace":
            argv = ["unshare", *_UNSHARE_FLAGS, *argv]
        else:
            os.chmod(work, 0o711)
        self.mode = mode
        self.stderr: list[bytes] = []
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            close_fds=True,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None and self.proc.stderr is not None
        self._err = threading.Thread(target=_drain, args=(self.proc.stderr, 64 * 1024, self.stderr, [False]))
        self._err.daemon = True
        # the scoring process times test cases with SIGALRM: it must reach the main thread, never this one
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        try:
            self._err.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
        self.proc.stdin.write(key.hex().encode() + b"\n")
        self.proc.stdin.flush()
        self._out = Writer(self.proc.stdin.fileno(), key, b"checker>jail")
        self._in = Reader(self.proc.stdout.fileno(), key, b"jail>checker", limit=reply_mb * MB)

    def send(self, obj: Any) -> None:
        """Send one authenticated message to the supervisor."""
        self._out.send(obj)

    def receive(self, timeout: float) -> Any:
        """The next authenticated message from the supervisor (raises a ``ChannelError`` subclass)."""
        return self._in.receive(timeout)

    def close(self) -> None:
        """Kill the jail (its whole process group) and remove its folder."""
        with contextlib.suppress(OSError, ValueError):
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=3)
        _kill_group(self.proc.pid)
        self.proc.wait()
        self._err.join(timeout=2)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self._tmp.cleanup()

    def diagnostics(self) -> str:
        """The supervisor's standard error (for a grader-error note)."""
        return b"".join(self.stderr).decode("utf-8", "replace")

    def __enter__(self) -> Jail:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _clamp(kind: int, want: int) -> int:
    soft, hard = resource.getrlimit(kind)
    return want if hard == resource.RLIM_INFINITY else min(want, hard)


def _limit_values(memory_mb: int, cpu_s: int, fsize_mb: int) -> dict[str, int]:
    return {
        "as": _clamp(resource.RLIMIT_AS, memory_mb * MB),
        "cpu": _clamp(resource.RLIMIT_CPU, cpu_s),
        "fsize": _clamp(resource.RLIMIT_FSIZE, fsize_mb * MB),
        "core": 0,
    }


def _set_limits(values: dict[str, int]) -> None:  # pragma: no cover - runs in the child (no prlimit(1) only)
    names = {
        "as": resource.RLIMIT_AS,
        "cpu": resource.RLIMIT_CPU,
        "fsize": resource.RLIMIT_FSIZE,
        "core": resource.RLIMIT_CORE,
    }
    for name, value in values.items():
        resource.setrlimit(names[name], (value, value))


def _drain(stream: IO[bytes], cap: int, out: list[bytes], flags: list[bool]) -> None:
    total = 0
    while True:
        try:
            chunk = stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536)
        except (OSError, ValueError):
            break
        if not chunk:
            break
        if total < cap:
            out.append(chunk[: cap - total])
        total += len(chunk)
    flags[0] = total > cap


def run_limited(
    cmd: Sequence[str],
    *,
    timeout: float,
    memory_mb: int,
    stdin: bytes = b"",
    files: dict[str, bytes] | None = None,
    output_cap: int = OUTPUT_CAP,
    fsize_mb: int = 64,
) -> RunResult:
    """Run a helper ``cmd`` in a fresh temporary directory holding only ``files``, with limits.

    Not a jail (see :class:`Jail`): for the grader's own helpers and for tests.

    Parameters
    ----------
    cmd : list of str
        The program and its arguments (use ``sys.executable, "-I", ...``).
    timeout : float
        Wall-clock seconds; then the whole process group is killed.
    memory_mb : int
        Address-space limit of the child.
    stdin : bytes
        Fed to the child's standard input.
    files : dict, optional
        ``name -> content`` written into the child's working directory.
    output_cap : int
        Bytes of standard output (and of standard error) kept; ``truncated`` says when more came.

    Returns
    -------
    RunResult

    Raises
    ------
    ParameterError
        If ``timeout`` or ``memory_mb`` is not positive.
    """
    if not timeout > 0:
        raise ParameterError("timeout", timeout, "a number of seconds > 0")
    if not (isinstance(memory_mb, int) and memory_mb >= 64):
        raise ParameterError("memory_mb", memory_mb, "an integer number of megabytes >= 64")
    out: list[bytes] = []
    err: list[bytes] = []
    tflags, eflags = [False], [False]
    with limited_process(cmd, memory_mb=memory_mb, cpu_s=int(timeout) + 2, files=files, fsize_mb=fsize_mb) as proc:
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        threads = [
            threading.Thread(target=_drain, args=(proc.stdout, output_cap, out, tflags), daemon=True),
            threading.Thread(target=_drain, args=(proc.stderr, output_cap, err, eflags), daemon=True),
        ]
        for t in threads:
            t.start()
        feeder = threading.Thread(target=_feed, args=(proc.stdin, stdin), daemon=True)
        feeder.start()
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        _kill_group(proc.pid)
        proc.wait()
        for t in threads:
            t.join(timeout=5)
    return RunResult(proc.returncode, b"".join(out), b"".join(err), timed_out, tflags[0])


def _feed(stream: IO[bytes], data: bytes) -> None:
    try:
        stream.write(data)
        stream.close()
    except (OSError, ValueError):
        pass


@contextlib.contextmanager
def limited_process(
    cmd: Sequence[str],
    *,
    memory_mb: int,
    cpu_s: int,
    files: dict[str, bytes] | None = None,
    fsize_mb: int = 64,
    stderr: int = subprocess.PIPE,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``cmd`` limited as in :func:`run_limited` and yield the ``Popen`` (pipes on stdin/stdout).

    The process group is killed and the temporary folder removed on exit.

    >>> import sys
    >>> with limited_process([sys.executable, "-I", "-c", "print(input()[::-1])"], memory_mb=256, cpu_s=10) as p:
    ...     p.communicate(b"abc\\n", timeout=30)[0]
    b'cba\\n'
    """
    with tempfile.TemporaryDirectory(prefix="tcpkit-course-") as tmp:
        for name, content in (files or {}).items():
            Path(tmp, name).write_bytes(content)
        argv = list(cmd)
        values = _limit_values(memory_mb, cpu_s, fsize_mb)
        # prlimit(1) sets the limits between fork and exec without running Python code in the
        # forked child (preexec_fn is unsafe when the parent has threads, as grade_folder does)
        prlimit = shutil.which("prlimit")
        if prlimit is not None:
            argv = [prlimit, *(f"--{name}={value}" for name, value in values.items()), "--", *argv]
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TCPKIT_JAIL")}
        env.update({"HOME": tmp, "TMPDIR": tmp, "PYTHONDONTWRITEBYTECODE": "1"})
        proc = subprocess.Popen(
            argv,
            cwd=tmp,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            start_new_session=True,
            preexec_fn=None if prlimit is not None else functools.partial(_set_limits, values),
        )
        try:
            yield proc
        finally:
            _kill_group(proc.pid)
            proc.wait()
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
