"""The few Linux system calls the grading jail needs that Python's ``os`` module lacks (through ``ctypes``).

Every function raises :class:`OSError` with the C ``errno`` when the call
fails, like the ``os`` functions do.  On other systems :data:`AVAILABLE` is
False and nothing here is called.

Notes
-----
``prctl(2)``, ``mount(2)``, ``mount_setattr(2)``, ``capset(2)``,
``capabilities(7)``, ``proc(5)`` (Linux man-pages).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys

AVAILABLE = sys.platform == "linux"

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24

AT_FDCWD = -100
AT_RECURSIVE = 0x8000
MOUNT_ATTR_RDONLY = 0x1
_SYS_MOUNT_SETATTR = {"x86_64": 442, "aarch64": 442, "riscv64": 442, "ppc64le": 442, "s390x": 442}

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True) if AVAILABLE else None


def _check(result: int, what: str) -> int:
    if result == -1:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def prctl(option: int, arg2: int = 0, arg3: int = 0) -> int:
    """``prctl(option, arg2, arg3, 0, 0)``."""
    assert _libc is not None
    f = _libc.prctl
    f.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    return _check(f(option, arg2, arg3, 0, 0), f"prctl({option})")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    """``mount(2)``."""
    assert _libc is not None
    f = _libc.mount
    f.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    enc = [None if s is None else os.fsencode(s) for s in (source, target, fstype, data)]
    _check(f(enc[0], enc[1], enc[2], flags, enc[3]), f"mount {target}")


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


def mount_setattr(path: str, *, readonly: bool, recursive: bool) -> None:
    """Set or clear the read-only flag of the mount at ``path`` (and of every mount below it if ``recursive``).

    Raises ``OSError(ENOSYS)`` on kernels older than 5.12.
    """
    assert _libc is not None
    import errno
    import platform

    nr = _SYS_MOUNT_SETATTR.get(platform.machine())
    if nr is None:
        raise OSError(errno.ENOSYS, "mount_setattr: unknown system call number on this machine")
    attr = _MountAttr(MOUNT_ATTR_RDONLY if readonly else 0, 0 if readonly else MOUNT_ATTR_RDONLY, 0, 0)
    f = _libc.syscall
    f.restype = ctypes.c_long
    flags = AT_RECURSIVE if recursive else 0
    _check(
        f(
            ctypes.c_long(nr),
            ctypes.c_int(AT_FDCWD),
            os.fsencode(path),
            ctypes.c_uint(flags),
            ctypes.byref(attr),
            ctypes.c_size_t(ctypes.sizeof(attr)),
        ),
        f"mount_setattr {path}",
    )


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_capabilities() -> None:
    """Lose every capability for good: no-new-privileges, an empty bounding set, empty cap sets.

    After this even uid 0 gets no capability back from ``execve``
    (``capabilities(7)``, "Transformation of capabilities during execve()").
    Bounding-set drops need ``CAP_SETPCAP``; a process without it has nothing to drop.
    """
    assert _libc is not None
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            last = int(f.read())
    except (OSError, ValueError):
        last = 40
    for cap in range(last + 1):
        try:
            prctl(PR_CAPBSET_DROP, cap)
        except OSError:
            break  # no CAP_SETPCAP: an unprivileged process, nothing to drop
    with contextlib.suppress(OSError):
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), ctypes.byref(data)), "capset")


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when its parent exits."""
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def undumpable() -> None:
    """Forbid other processes of the same user to ptrace this one or read its ``/proc/PID/{mem,fd,environ}``."""
    prctl(PR_SET_DUMPABLE, 0)


def subreaper() -> None:
    """Orphaned descendants are re-parented to this process instead of to init."""
    prctl(PR_SET_CHILD_SUBREAPER, 1)


def proc_stat(pid: int) -> tuple[int, float, int] | None:
    """``(ppid, cpu seconds incl. waited-for children, resident bytes)`` of a process, None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    rest = raw[raw.rfind(b")") + 2 :].split()
    try:
        ppid = int(rest[1])
        ticks = sum(int(x) for x in rest[11:15])  # utime, stime, cutime, cstime
        rss = int(rest[21]) * _PAGE
    except (IndexError, ValueError):
        return None
    return ppid, ticks / _HZ, rss


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def all_pids() -> list[int]:
    """Every process id visible in ``/proc``."""
    return [int(n) for n in os.listdir("/proc") if n.isdigit()]


def descendants(root: int) -> dict[int, tuple[float, int]]:
    """Every living descendant of ``root``: pid -> (cpu seconds, resident bytes)."""
    table: dict[int, tuple[int, float, int]] = {}
    for pid in all_pids():
        st = proc_stat(pid)
        if st is not None:
            table[pid] = st
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    out: dict[int, tuple[float, int]] = {}
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        if pid in out or pid == root:
            continue
        out[pid] = (table[pid][1], table[pid][2])
        todo += children.get(pid, [])
    return out
