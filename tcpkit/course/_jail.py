"""Child program: the jail's supervisor.  Seals the jail, runs the student's process, relays its messages.

Run by :func:`tcpkit.course.sandbox.start_jail` as
``python -I -m tcpkit.course._jail SETUP`` (``SETUP`` is JSON: the mode, the
work folder, the folders to hide, the scratch size).  In ``namespace`` mode
it runs as PID 1 of fresh user, mount, PID, network, IPC and UTS namespaces
(made by ``unshare``) and first builds the jail:

* a size- and inode-limited ``tmpfs`` becomes ``/tmp`` and the working
  folder: the only place anyone in the jail can write;
* a private ``/dev`` holding only ``null``, ``zero`` and ``urandom``;
* empty read-only ``tmpfs`` over every folder to hide (bundle, submissions,
  results, the course sources, the grader's home folder), with only what
  Python and tcpkit need bound back inside;
* ``pid_max`` of the new PID namespace lowered (Linux >= 6.14), a ceiling
  on the number of processes that binds even a grader running as root;
* then *every* mount, recursively, becomes read-only (``mount_setattr(2)``
  with ``AT_RECURSIVE``, or a bind remount of each entry of
  ``/proc/self/mountinfo`` on older kernels).

In ``fallback`` mode (no user namespaces) there is no jail: it becomes a
child subreaper in a session of its own, so that it can find and kill every
process the student starts, even detached ones.

Then it reads the per-submission key (first line of standard input) and the
run's configuration (an authenticated frame), and starts the student's
process (:mod:`tcpkit.course._student`) with a fresh ``execve`` (so the key
is not in its memory), in its own session, with resource limits and with
every capability dropped.  It drives the notebook one cell at a time, then
serves the scoring process's function calls, and keeps the clock:

* the student's code has one wall-clock budget for all its cells and calls;
  a cell or call past its own limit is interrupted (``SIGUSR1``), and one
  that ignores the interrupt is killed;
* every 0.25 s it adds up the CPU time and resident memory of all the
  student's processes and stops them all past the limits;
* every reply is matched to the request it answers: a message nobody asked
  for (forged by the student's code) or a late reply to an earlier request
  is dropped and counted, never passed on.

Everything it tells the scoring process travels in frames authenticated with
the key (:mod:`tcpkit.course.channel`), which the student's process never has.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from typing import Any

from tcpkit.course import _linux
from tcpkit.course.channel import (
    MB,
    ChannelClosed,
    ChannelError,
    ChannelTimeout,
    FrameTooLarge,
    GarbledFrame,
    Reader,
    RecordReader,
    RecordWriter,
    Writer,
)

TICK = 0.25
GRACE = 1.5  # seconds a cell or call gets to stop after being interrupted


class SetupError(Exception):
    """The jail could not be built."""


# ----------------------------------------------------------------------------- building the jail


def _mountinfo() -> list[tuple[str, str]]:
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            out.append((fields[4].replace("\\040", " "), fields[5]))
    return out


_OPT_FLAGS = {
    "nosuid": _linux.MS_NOSUID,
    "nodev": _linux.MS_NODEV,
    "noexec": _linux.MS_NOEXEC,
    "noatime": _linux.MS_NOATIME,
    "nodiratime": _linux.MS_NODIRATIME,
    "relatime": _linux.MS_RELATIME,
    "strictatime": _linux.MS_STRICTATIME,
}


def seal_read_only() -> str:
    """Make every mount read-only; returns how (for the log)."""
    try:
        _linux.mount_setattr("/", readonly=True, recursive=True)
        return "mount_setattr(AT_RECURSIVE)"
    except OSError as exc:
        import errno

        if exc.errno not in (errno.ENOSYS, errno.EINVAL):
            raise SetupError(f"could not make the file system read-only: {exc}") from None
    failed = []
    # deepest first, so that a remount of a parent never hides a child still to do
    for target, opts in sorted(_mountinfo(), key=lambda m: -m[0].count("/")):
        flags = _linux.MS_REMOUNT | _linux.MS_BIND | _linux.MS_RDONLY
        for opt in opts.split(","):
            flags |= _OPT_FLAGS.get(opt, 0)
        try:
            _linux.mount(None, target, None, flags)
        except OSError as exc:
            if os.path.exists(target):
                failed.append(f"{target} ({exc.strerror})")
    if failed:
        raise SetupError("could not make these mounts read-only: " + ", ".join(failed))
    return "bind remount of each mount"


def hide_folder(folder: str, keep: list[str]) -> None:
    """Cover ``folder`` with an empty tmpfs; bind the paths in ``keep`` (inside it) back at their places."""
    if not os.path.isdir(folder):
        return
    if not keep:
        _linux.mount("tcpkit-hidden", folder, "tmpfs", _linux.MS_RDONLY, "size=4k,nr_inodes=2,mode=000")
        return
    # hold the kept folders by file descriptor: after the cover, their paths lead into the empty tmpfs
    fds = [(k, os.open(k, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)) for k in keep if os.path.isdir(k)]
    try:
        _linux.mount("tcpkit-hidden", folder, "tmpfs", 0, "size=64k,nr_inodes=256,mode=755")
        for k, fd in fds:
            os.makedirs(k, exist_ok=True)
            _linux.mount(f"/proc/self/fd/{fd}", k, None, _linux.MS_BIND | _linux.MS_REC)
    finally:
        for _, fd in fds:
            os.close(fd)


def build_jail(setup: dict[str, Any], files: dict[str, str]) -> None:
    """Namespace mode: build the private /tmp and /dev, hide folders, seal everything read-only."""
    work = setup["work"]
    run, dev = os.path.join(work, "run"), os.path.join(work, "dev")
    os.makedirs(run, exist_ok=True)
    os.makedirs(dev, exist_ok=True)
    _linux.mount(None, "/", None, _linux.MS_REC | _linux.MS_PRIVATE)
    opts = f"size={int(setup['scratch_mb'])}m,nr_inodes={int(setup['files'])},mode=1777"
    _linux.mount("tcpkit-scratch", run, "tmpfs", _linux.MS_NOSUID | _linux.MS_NODEV, opts)
    for name, text in files.items():
        with open(os.path.join(run, name), "w", encoding="utf-8") as f:
            f.write(text)
    for keep in setup.get("keep", []):  # Python or tcpkit living under /tmp come back read-only
        inside = os.path.join(run, os.path.relpath(keep, "/tmp"))
        os.makedirs(inside, exist_ok=True)
        _linux.mount(keep, inside, None, _linux.MS_BIND | _linux.MS_REC)
    _linux.mount("tcpkit-dev", dev, "tmpfs", _linux.MS_NOSUID | _linux.MS_NOEXEC, "size=64k,nr_inodes=16,mode=755")
    for node in ("null", "zero", "urandom"):
        path = os.path.join(dev, node)
        with open(path, "w"):
            pass
        _linux.mount(f"/dev/{node}", path, None, _linux.MS_BIND)
    # /dev first: once the scratch covers /tmp, the work folder (usually under /tmp) is out of sight
    _linux.mount(dev, "/dev", None, _linux.MS_BIND | _linux.MS_REC)
    _linux.mount(run, "/tmp", None, _linux.MS_BIND | _linux.MS_REC)
    for item in setup.get("hide", []):
        hide_folder(item["path"], item.get("keep", []))
    # Linux >= 6.14 keeps pid_max per PID namespace: a hard cap on the processes in the jail that also
    # holds for a grader running as root, whom RLIMIT_NPROC does not bind (301 is the kernel's minimum)
    try:
        with open("/proc/sys/kernel/pid_max", "w") as f:
            f.write(str(max(301, int(setup.get("processes", 64)) + 4)))
    except OSError:
        pass
    how = seal_read_only()
    # the scratch tmpfs (and only it, not the read-only folders bound inside it) becomes writable again
    if how.startswith("mount_setattr"):
        _linux.mount_setattr("/tmp", readonly=False, recursive=False)
    else:
        _linux.mount(None, "/tmp", None, _linux.MS_REMOUNT | _linux.MS_BIND | _linux.MS_NOSUID | _linux.MS_NODEV)
    os.chdir("/tmp")


# ----------------------------------------------------------------------------- the student's process


def _limit(kind: int, want: int) -> None:
    soft, hard = resource.getrlimit(kind)
    value = want if hard == resource.RLIM_INFINITY else min(want, hard)
    resource.setrlimit(kind, (value, value))


def _user_processes(uid: int) -> int:
    n = 0
    for pid in _linux.all_pids():
        with contextlib.suppress(OSError):
            if os.stat(f"/proc/{pid}").st_uid == uid:
                n += 1
    return n


def _prepare_student(limits: dict[str, Any], nproc: int) -> None:  # pragma: no cover - runs in the forked child
    os.setsid()
    _limit(resource.RLIMIT_AS, int(limits["memory_mb"]) * MB)
    _limit(resource.RLIMIT_CPU, int(limits["cpu_s"]))
    _limit(resource.RLIMIT_FSIZE, int(limits["fsize_mb"]) * MB)
    _limit(resource.RLIMIT_CORE, 0)
    _limit(resource.RLIMIT_NPROC, nproc)
    _linux.drop_capabilities()
    _linux.die_with_parent()


class Student:
    """The student's process, as seen by the supervisor: one request at a time, one matching reply each."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: str, limits: dict[str, Any], mode: str) -> None:
        self.limits = limits
        self.mode = mode
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        nproc = int(limits["processes"])
        if mode == "fallback" and os.geteuid() != 0:
            nproc += _user_processes(os.geteuid())  # RLIMIT_NPROC counts every process of this user
        self.proc = subprocess.Popen(
            argv,
            stdin=theirs.fileno(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=cwd,
            env=env,
            close_fds=True,
            preexec_fn=lambda: _prepare_student(limits, nproc),
        )
        theirs.close()
        ours.setblocking(False)
        self.sock = ours
        self.out = RecordWriter(ours.fileno())
        self.inbox = RecordReader(ours.fileno(), limit=int(limits["answer_mb"]) * MB + MB)
        self.exit: str | None = None  # why it is gone, once it is
        self.exit_kind: str | None = None  # gone, limit, budget, stuck, too-large
        self.unexpected = 0
        self.stale = 0
        self.used = 0.0  # wall seconds of the budget spent
        self.peak_rss = 0
        self.peak_procs = 0

    # -- processes

    def processes(self) -> dict[int, tuple[float, int]]:
        if self.mode == "namespace":
            out = {}
            for pid in _linux.all_pids():
                if pid == os.getpid():
                    continue
                st = _linux.proc_stat(pid)
                if st is not None:
                    out[pid] = (st[1], st[2])
            return out
        return _linux.descendants(os.getpid())

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.proc.pid:
                self.proc.returncode = os.waitstatus_to_exitcode(status)
                if self.exit is None:
                    code = self.proc.returncode
                    self.exit = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
                    self.exit_kind = "gone"

    def watch(self) -> str | None:
        """Check the limits over all the student's processes; a reason when they were stopped."""
        self.reap()
        procs = self.processes()
        self.peak_procs = max(self.peak_procs, len(procs))
        rss = sum(r for _, r in procs.values())
        self.peak_rss = max(self.peak_rss, rss)
        children = os.times()
        cpu = sum(c for c, _ in procs.values()) + children.children_user + children.children_system
        if len(procs) > int(self.limits["processes"]):
            return self.stop(f"it ran {len(procs)} processes at once (limit {self.limits['processes']})", "limit")
        if rss > int(self.limits["memory_mb"]) * MB:
            return self.stop(
                f"its processes used {rss / MB:.0f} MB of memory together (limit {self.limits['memory_mb']} MB)",
                "limit",
            )
        if cpu > float(self.limits["cpu_s"]):
            return self.stop(
                f"its processes used {cpu:.1f} s of CPU time together (limit {float(self.limits['cpu_s']):g} s)",
                "limit",
            )
        return None

    def stop(self, why: str, kind: str) -> str:
        """Kill every process of the student (the supervisor survives); ``kind`` is the status it leaves."""
        if self.exit is None:
            self.exit, self.exit_kind = why, kind
        kill_all(self.mode)
        self.reap()
        return why

    def alive(self) -> bool:
        self.reap()
        return self.exit is None

    # -- one request, one reply

    def transact(self, request: dict[str, Any], limit: float, budget: float) -> tuple[str, Any, float, str]:
        """Send ``request``; wait for its reply.  Returns ``(status, reply, seconds, why)``.

        status: ``done``, ``interrupted`` (it stopped after the interrupt; the reply says how),
        ``stuck`` (ignored the interrupt: killed), ``budget`` (the submission's time ran out: killed),
        ``gone`` (the process had exited or was stopped), ``too-large``.
        """
        if not self.alive():
            return self.exit_kind or "gone", None, 0.0, self.exit or "the student's process is gone"
        left = budget - self.used
        if left <= 0:
            return "budget", None, 0.0, self.stop_budget()
        # whatever arrived before this request was sent answers nothing: drop it
        with contextlib.suppress(ChannelError):
            while self.inbox.fill(0):
                pass
        while self.inbox.pending():
            with contextlib.suppress(ChannelError):
                self.inbox.take()
                self.unexpected += 1
        t0 = time.monotonic()
        soft = t0 + min(limit, left)
        hard_budget = t0 + left
        interrupted = False
        try:
            self.out.send(request, deadline=min(soft + GRACE, hard_budget))
        except ChannelTimeout:
            self.used += time.monotonic() - t0
            return "stuck", None, time.monotonic() - t0, self.stop("it stopped reading its requests", "stuck")
        except ChannelClosed:
            self.used += time.monotonic() - t0
            self.reap()
            why = self.exit or self.stop("it closed its channel to the grader", "gone")
            return self.exit_kind or "gone", None, time.monotonic() - t0, why
        want = (request["op"], request.get("n"), request.get("id"))
        next_watch = t0 + TICK
        while True:
            now = time.monotonic()
            if self.inbox.pending():
                try:
                    reply = self.inbox.take()
                except GarbledFrame:
                    continue
                got = (
                    (reply.get("op"), reply.get("n"), reply.get("id"))
                    if isinstance(reply, dict)
                    else (None, None, None)
                )
                if got == want:
                    spent = time.monotonic() - t0
                    self.used += spent
                    stopped = self.watch()  # what it left running counts too
                    if stopped:
                        return "limit", reply, spent, stopped
                    return ("interrupted" if interrupted else "done"), reply, spent, ""
                if isinstance(reply, dict) and reply.get("op") == want[0] and self._earlier(reply, request):
                    self.stale += 1  # a late reply to a request that already timed out
                else:
                    self.unexpected += 1
                continue
            if now >= hard_budget:
                self.used += now - t0
                return "budget", None, now - t0, self.stop_budget()
            if now >= soft and not interrupted:
                interrupted = True
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.proc.pid, signal.SIGUSR1)
                soft = now + GRACE
            elif now >= soft and interrupted:
                self.used += now - t0
                what = "cell" if request["op"] == "cell" else "call"
                return (
                    "stuck",
                    None,
                    now - t0,
                    self.stop(f"the {what} ran past its {limit:g} s and ignored the interrupt", "stuck"),
                )
            if now >= next_watch:
                next_watch = now + TICK
                stopped = self.watch()
                if stopped:
                    self.used += now - t0
                    return "limit", None, now - t0, stopped
                if self.exit is not None:
                    self.used += now - t0
                    return self.exit_kind or "gone", None, now - t0, self.exit
            wait = max(0.0, min(next_watch, soft, hard_budget) - time.monotonic())
            try:
                self.inbox.fill(wait)
            except FrameTooLarge as exc:
                self.used += time.monotonic() - t0
                return (
                    "too-large",
                    None,
                    time.monotonic() - t0,
                    self.stop(
                        f"it sent {exc.size / MB:.1f} MB at once; the limit is {exc.limit / MB:g} MB (--answer-mb)",
                        "too-large",
                    ),
                )
            except ChannelClosed:
                # the process may still run (it closed the pipe on purpose): wait for it to exit or time out
                time.sleep(min(wait, TICK) if wait else 0.01)
                self.reap()
                if self.exit is None and time.monotonic() >= soft:
                    self.used += time.monotonic() - t0
                    return "gone", None, time.monotonic() - t0, self.stop("it closed its channel to the grader", "gone")

    @staticmethod
    def _earlier(reply: dict[str, Any], request: dict[str, Any]) -> bool:
        for k in ("n", "id"):
            if isinstance(reply.get(k), int) and isinstance(request.get(k), int) and reply[k] < request[k]:
                return True
        return False

    def stop_budget(self) -> str:
        return self.stop(f"the submission used up its {float(self.limits['budget']):g} s of wall-clock time", "budget")


def kill_all(mode: str) -> None:
    """Kill every process of the jail except this supervisor."""
    if mode == "namespace":
        # as PID 1 of the namespace, kill(-1) reaches every other process in it and nothing outside
        for _ in range(20):
            with contextlib.suppress(ProcessLookupError):
                os.kill(-1, signal.SIGKILL)
            _reap_all()
            if not [p for p in _linux.all_pids() if p != os.getpid()]:
                return
            time.sleep(0.01)
        return
    for _ in range(200):
        procs = _linux.descendants(os.getpid())
        if not procs:
            return
        for pid in procs:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        _reap_all()
        time.sleep(0.005)


def _reap_all() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


# ----------------------------------------------------------------------------- main


def _read_key() -> bytes:
    line = b""
    while not line.endswith(b"\n"):
        chunk = os.read(0, 1)
        if not chunk:
            raise SystemExit(3)
        line += chunk
        if len(line) > 200:
            raise SystemExit(3)
    return bytes.fromhex(line.decode().strip())


def probe(setup: dict[str, Any]) -> int:  # pragma: no cover - runs inside the namespaces
    """Build a jail and check it is sealed: exit code 0 when it is."""
    try:
        build_jail(setup, {"probe.txt": "ok"})
    except (OSError, SetupError) as exc:
        print(f"jail setup failed: {exc}", file=sys.stderr)
        return 1
    for path in ("/dev/shm/x", "/probe-x"):
        try:
            with open(path, "w"):
                pass
            print(f"{path} is writable", file=sys.stderr)
            return 1
        except OSError:
            pass
    with open("/tmp/probe.txt") as f:
        return 0 if f.read() == "ok" else 1


def main() -> int:  # pragma: no cover - exercised through the grader in tests/test_course*.py
    setup = json.loads(sys.argv[1])
    mode = setup["mode"]
    if setup.get("probe"):
        return probe(setup)
    _linux.undumpable()
    if mode == "fallback":
        _linux.subreaper()
    key = _read_key()
    inbox = Reader(0, key, b"checker>jail", limit=1024 * MB)
    out = Writer(1, key, b"jail>checker")
    config = inbox.receive(timeout=120)
    limits = config["limits"]
    files = {"submission.ipynb": config.get("notebook", "")}
    try:
        if mode == "namespace":
            build_jail(setup, files)
            cwd = "/tmp"
        else:
            cwd = os.path.join(setup["work"], "run")
            for name, text in files.items():
                with open(os.path.join(cwd, name), "w", encoding="utf-8") as f:
                    f.write(text)
    except (OSError, SetupError) as exc:
        out.send({"kind": "setup-failed", "why": str(exc)})
        return 1
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": cwd,
        "TMPDIR": cwd,
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "Agg",
    }
    t_start = time.monotonic()
    lifetime = float(limits["lifetime"])
    student = Student(config["argv"], env, cwd, limits, mode)
    budget = float(limits["budget"])
    status, reply, _, why = student.transact(
        {"op": "start", "n": 0, "names": config["names"], "answer_bytes": int(limits["answer_mb"]) * MB},
        limit=max(60.0, float(limits["cell_timeout"])),
        budget=float("inf"),
    )
    student.used = 0.0  # starting Python is not the student's time
    out.send({"kind": "started", "mode": mode, "status": status, "why": why})
    for i, source in enumerate(config["cells"], start=1):
        status, reply, spent, why = student.transact(
            {"op": "cell", "n": i, "source": source}, limit=float(limits["cell_timeout"]), budget=budget
        )
        out.send({"kind": "cell", "n": i, "status": status, "seconds": round(spent, 3), "reply": reply, "why": why})
        if status not in ("done", "interrupted"):
            break
    out.send({"kind": "cells-done", "used": round(student.used, 3), "alive": student.alive(), "why": student.exit})
    # serve the scoring process's calls until it says "end" (or goes away, or the lifetime ends)
    while True:
        left = lifetime - (time.monotonic() - t_start)
        if left <= 0:
            break
        try:
            req = inbox.receive(timeout=min(left, TICK))
        except ChannelTimeout:
            if student.alive():
                student.watch()
            continue
        except ChannelError:
            break
        if not isinstance(req, dict) or req.get("op") != "call":
            break
        call = {k: req.get(k) for k in ("id", "name", "args", "kwargs")}
        status, reply, spent, why = student.transact(
            {"op": "call", **call}, limit=float(req.get("timeout", limits["cell_timeout"])), budget=budget
        )
        out.send({"kind": "reply", "id": req.get("id"), "status": status, "reply": reply, "why": why})
    alive_at_end = student.alive()
    if alive_at_end:
        student.watch()  # the peak counts include the end
    procs = student.processes()
    student.stop("the grading ended", "end")
    survivors = len(student.processes())
    with contextlib.suppress(ChannelError):
        out.send(
            {
                "kind": "end",
                "used": round(student.used, 3),
                "unexpected": student.unexpected + student.inbox.garbage,
                "stale": student.stale,
                "peak_processes": student.peak_procs,
                "peak_rss_mb": round(student.peak_rss / MB, 1),
                "alive_at_end": alive_at_end,
                "processes_at_end": len(procs),
                "survivors": survivors,
                "exit": None if alive_at_end else student.exit,
            }
        )
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
