"""Run one untrusted Python program with a time limit, a memory limit and (where Linux allows) a jail.

Two levels of isolation, picked once per machine by :func:`isolation`:

``namespace``
    ``unshare`` puts the child in fresh user, mount, PID and network
    namespaces: the whole file system is read-only, the working directory is
    a private ``tmpfs`` (size-capped), the folders given in ``hide`` (the
    grading bundle, the other submissions, the output) are covered by empty
    ``tmpfs`` mounts, there is no network, and the child cannot see or signal
    any process outside its own tree.  When the child's init dies, the kernel
    kills everything it started.
``rlimit``
    where user namespaces are off (many containers): the child still gets its
    own session, a scrubbed environment, ``python -I`` (no current directory
    on ``sys.path``), a private temporary working directory and the resource
    limits below, but it runs with the grader's user and can read or write
    what that user can.

Both levels set ``RLIMIT_AS`` (memory), ``RLIMIT_CPU``, ``RLIMIT_FSIZE`` and
``RLIMIT_CORE`` = 0 on the child (with ``prlimit(1)`` when it exists, else
``resource.setrlimit`` between ``fork`` and ``exec``), never above the
grader's own hard limits, and
the parent kills the whole process group when the wall-clock time runs out.
Only the first ``output_cap`` bytes of the child's standard output are kept.

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
``setrlimit(2)``, ``unshare(1)``, ``user_namespaces(7)``,
``mount_namespaces(7)``, ``pid_namespaces(7)`` (Linux man-pages).
"""

from __future__ import annotations

import contextlib
import functools
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
from typing import IO

from tcpkit.engine.errors import ParameterError

__all__ = ["RunResult", "run_limited", "limited_process", "isolation", "child_env"]

#: Bytes of the child's standard output kept by default.
OUTPUT_CAP = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class RunResult:
    """What a limited run produced."""

    returncode: int | None
    stdout: bytes
    stderr: bytes
    timed_out: bool
    truncated: bool


def child_env(workdir: str | os.PathLike[str]) -> dict[str, str]:
    """The whole environment a child gets: nothing of the grader's, only what Python needs.

    >>> sorted(child_env("/tmp/x"))
    ['HOME', 'LANG', 'MPLBACKEND', 'PATH', 'PYTHONDONTWRITEBYTECODE', 'PYTHONHASHSEED', 'TMPDIR']
    """
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(workdir),
        "TMPDIR": str(workdir),
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "Agg",
    }


@functools.lru_cache(maxsize=1)
def isolation() -> str:
    """``"namespace"`` when ``unshare`` can build the jail on this machine, else ``"rlimit"``.

    >>> isolation() in ("namespace", "rlimit")
    True
    """
    if sys.platform != "linux" or shutil.which("unshare") is None:
        return "rlimit"
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "in").mkdir()
        Path(tmp, "run").mkdir()
        try:
            r = subprocess.run(
                ["unshare", *_UNSHARE_FLAGS, "sh", "-c", _JAIL, "jail", tmp, "", "", "true"],
                capture_output=True,
                timeout=20,
            )
        except (OSError, subprocess.TimeoutExpired):
            return "rlimit"
    return "namespace" if r.returncode == 0 else "rlimit"


_UNSHARE_FLAGS = [
    "--user",
    "--map-root-user",
    "--mount",
    "--net",
    "--pid",
    "--fork",
    "--mount-proc",
    "--kill-child=SIGKILL",
]

# $1 = private work dir, $2 = tmpfs size ("" for default), $3 = ":"-separated folders under /tmp that
# must stay visible (Python or tcpkit in a checkout under /tmp), $4... = folders to hide, then "--" and
# the command.
_JAIL = r"""
set -e
work="$1"; size="$2"; keep="$3"; shift 3
hide=""
while [ "$#" -gt 0 ] && [ "$1" != "--" ] && [ "$1" != "true" ]; do hide="$hide
$1"; shift; done
[ "$1" = "--" ] && shift
mount -t tmpfs -o "size=${size:-64m},mode=700" none "$work/run"
cp "$work/in/"* "$work/run/" 2>/dev/null || true
mount --rbind / /
mount -o remount,bind,ro /
mount -o remount,bind,ro /dev/shm 2>/dev/null || true
# the private folder becomes /tmp; folders Python itself needs from the old /tmp come back read-only
old_ifs="$IFS"; IFS=:
for k in $keep; do
  rel="${k#/tmp/}"; mkdir -p "$work/run/$rel"
  mount --bind "$k" "$work/run/$rel"; mount -o remount,bind,ro "$work/run/$rel"
done
IFS="$old_ifs"
mount --rbind "$work/run" /tmp
home=/tmp
printf '%s\n' "$hide" | while IFS= read -r d; do
  if [ -n "$d" ] && [ -d "$d" ]; then mount -t tmpfs -o size=64k,ro none "$d"; fi
done
ip link set lo up 2>/dev/null || true
cd "$home"
# a session of its own: kill(0, ...) from the student reaches no process outside the jail
if command -v setsid >/dev/null 2>&1; then exec setsid "$@"; fi
exec "$@"
"""


def _needed() -> list[Path]:
    return [
        Path(__file__).resolve().parents[1],  # the tcpkit package
        Path(sys.prefix).resolve(),
        Path(sys.base_prefix).resolve(),
        Path(sys.executable).resolve().parent,
    ]


def kept_under_tmp() -> list[str]:
    """Folders under ``/tmp`` the jailed child still needs (Python or tcpkit in a checkout there).

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


def hideable(folders: Sequence[str | os.PathLike[str]]) -> list[str]:
    """The folders that can be covered without hiding tcpkit or Python itself (their parents are skipped).

    >>> import tcpkit, pathlib
    >>> hideable([pathlib.Path(tcpkit.__file__).parents[1], "/nonexistent/x"])
    ['/nonexistent/x']
    """
    needed = _needed()
    kept = []
    for f in folders:
        p = Path(f).resolve()
        if any(n == p or p in n.parents for n in needed):
            continue
        kept.append(str(p))
    return kept


def _clamp(kind: int, want: int) -> int:
    soft, hard = resource.getrlimit(kind)
    return want if hard == resource.RLIM_INFINITY else min(want, hard)


def _limit_values(memory_mb: int, cpu_s: int, fsize_mb: int) -> dict[str, int]:
    return {
        "as": _clamp(resource.RLIMIT_AS, memory_mb * 1024 * 1024),
        "cpu": _clamp(resource.RLIMIT_CPU, cpu_s),
        "fsize": _clamp(resource.RLIMIT_FSIZE, fsize_mb * 1024 * 1024),
        "core": 0,
    }


def _prlimit_prefix(values: dict[str, int]) -> list[str]:
    return ["prlimit", *(f"--{name}={value}" for name, value in values.items()), "--"]


def _set_limits(values: dict[str, int]) -> None:  # pragma: no cover - runs in the child (fallback only)
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
        chunk = stream.read(65536)
        if not chunk:
            break
        if total < cap:
            out.append(chunk[: cap - total])
        total += len(chunk)
    flags[0] = total > cap
    stream.close()


def run_limited(
    cmd: Sequence[str],
    *,
    timeout: float,
    memory_mb: int,
    stdin: bytes = b"",
    files: dict[str, bytes] | None = None,
    hide: Sequence[str | os.PathLike[str]] = (),
    jail: bool = False,
    output_cap: int = OUTPUT_CAP,
    fsize_mb: int = 64,
) -> RunResult:
    """Run ``cmd`` in a fresh temporary directory holding only ``files``.

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
    hide : list of paths
        Folders the child must not see (only with the ``namespace`` jail).
    jail : bool
        Use the namespace jail when :func:`isolation` says it works.
    output_cap : int
        Bytes of standard output (and of standard error) kept.

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
    with limited_process(
        cmd, memory_mb=memory_mb, cpu_s=int(timeout) + 2, files=files, hide=hide, jail=jail, fsize_mb=fsize_mb
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        threads = [
            threading.Thread(target=_drain, args=(proc.stdout, output_cap, out, tflags), daemon=True),
            threading.Thread(target=_drain, args=(proc.stderr, output_cap, err, eflags), daemon=True),
        ]
        for t in threads:
            t.start()
        try:
            proc.stdin.write(stdin)
            proc.stdin.close()
        except OSError:
            pass
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


@contextlib.contextmanager
def limited_process(
    cmd: Sequence[str],
    *,
    memory_mb: int,
    cpu_s: int,
    files: dict[str, bytes] | None = None,
    hide: Sequence[str | os.PathLike[str]] = (),
    jail: bool = False,
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
        inbox = Path(tmp, "in")
        run = Path(tmp, "run")
        inbox.mkdir()
        run.mkdir()
        for name, content in (files or {}).items():
            (inbox / name).write_bytes(content)
            (run / name).write_bytes(content)
        argv = list(cmd)
        env = child_env(run)
        if jail and isolation() == "namespace":
            hidden = hideable(hide)
            if os.path.dirname(tmp) != "/tmp":
                hidden.append(os.path.dirname(tmp))  # the other jobs' folders
            keep = ":".join(kept_under_tmp())
            argv = [
                "unshare",
                *_UNSHARE_FLAGS,
                "sh",
                "-c",
                _JAIL,
                "jail",
                tmp,
                f"{fsize_mb}m",
                keep,
                *hidden,
                "--",
                *argv,
            ]
            env = child_env("/tmp")
        values = _limit_values(memory_mb, cpu_s, fsize_mb)
        # prlimit(1) sets the limits between fork and exec without running Python code in the
        # forked child (preexec_fn is unsafe when the parent has threads, as grade_folder does)
        prlimit = shutil.which("prlimit")
        if prlimit is not None:
            argv = [prlimit, *_prlimit_prefix(values)[1:], *argv]
        proc = subprocess.Popen(
            argv,
            cwd=run,
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
                    stream.close()


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
