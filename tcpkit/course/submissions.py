"""Taking submissions in: only regular files, read without following links, decoded with a named reason.

A submission must be a regular file.  A symbolic link (say, to the
instructor's ``grading/hw1-solutions.ipynb``), a device, a FIFO or a socket
is refused with a reason, never opened: :func:`read_regular` checks with
``lstat`` and opens with ``O_NOFOLLOW`` (and ``O_NONBLOCK``, so a FIFO
cannot stall the grader), then checks the opened file again.
:func:`collect` copies notebooks out of students' home folders the same
way, one path component at a time, so no link anywhere in the path is
followed.

Examples
--------
>>> import os, tempfile
>>> d = tempfile.mkdtemp()
>>> os.symlink("/etc/hostname", os.path.join(d, "bob.ipynb"))
>>> read_regular(os.path.join(d, "bob.ipynb"))
Traceback (most recent call last):
...
tcpkit.course.submissions.Refused: a symbolic link (to '/etc/hostname'), not a regular file: submit the notebook itself
>>> read_regular("/dev/null")
Traceback (most recent call last):
...
tcpkit.course.submissions.Refused: a character device, not a regular file
"""

from __future__ import annotations

import contextlib
import fnmatch
import glob
import json
import os
import re
import stat
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tcpkit.engine.errors import ParameterError, TcpkitError

from ._student import strip_magics

__all__ = [
    "Refused",
    "Notebook",
    "read_regular",
    "decode_notebook",
    "find_submissions",
    "collect",
    "Collected",
    "MAX_BYTES",
]

#: Largest submission read (bytes).
MAX_BYTES = 100 * 1024 * 1024

_KINDS = {
    stat.S_IFDIR: "folder",
    stat.S_IFCHR: "character device",
    stat.S_IFBLK: "block device",
    stat.S_IFIFO: "FIFO (named pipe)",
    stat.S_IFSOCK: "socket",
}


class Refused(TcpkitError):
    """A submission that is not a regular file (or could not be read safely)."""


def _kind(mode: int) -> str:
    return _KINDS.get(stat.S_IFMT(mode), "special file")


def _read_fd(fd: int, expect: os.stat_result | None, where: str) -> tuple[bytes, os.stat_result]:
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        raise Refused(f"a {_kind(st.st_mode)}, not a regular file")
    if expect is not None and (st.st_dev, st.st_ino) != (expect.st_dev, expect.st_ino):
        raise Refused("the file was replaced while it was being read")
    if st.st_size > MAX_BYTES:
        raise Refused(f"{st.st_size / 2**20:.0f} MB, larger than the {MAX_BYTES // 2**20} MB a notebook may be")
    chunks = []
    total = 0
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            break
        total += len(chunk)
        if total > MAX_BYTES:
            raise Refused(f"larger than the {MAX_BYTES // 2**20} MB a notebook may be")
        chunks.append(chunk)
    return b"".join(chunks), st


def read_regular(path: str | os.PathLike[str]) -> tuple[bytes, os.stat_result]:
    """The bytes and ``stat`` of a regular file; :class:`Refused` for anything else (links are not followed)."""
    p = os.fspath(path)
    try:
        st = os.lstat(p)
    except OSError as exc:
        raise Refused(f"cannot be read: {exc.strerror}") from None
    if stat.S_ISLNK(st.st_mode):
        try:
            target = os.readlink(p)
        except OSError:
            target = "?"
        raise Refused(f"a symbolic link (to {target!r}), not a regular file: submit the notebook itself")
    if not stat.S_ISREG(st.st_mode):
        raise Refused(f"a {_kind(st.st_mode)}, not a regular file")
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise Refused(f"cannot be opened without following links: {exc.strerror}") from None
    try:
        return _read_fd(fd, st, p)
    finally:
        os.close(fd)


@dataclass
class Notebook:
    """A decoded submission."""

    text: str
    cells: list[str]
    assignment: str | None
    notes: list[str] = field(default_factory=list)


def decode_notebook(data: bytes) -> Notebook:
    """Decode a submission's bytes into code cells; :class:`Refused` (with the reason) when it is not a notebook.

    UTF-8 (with or without a byte-order mark) is what Jupyter writes; UTF-16
    with a byte-order mark and, last, Windows-1252 are read too, with a note.

    >>> nb = decode_notebook('{"cells": [{"cell_type": "code", "source": ["x = 1\\\\n", "%time y"]}]}'.encode())
    >>> nb.cells, nb.notes
    (['x = 1\\npass'], [])
    >>> decode_notebook(b'{"cells": [], "metadata": {"s": "caf\\xe9"}}').notes
    ['the file is not UTF-8 (byte 0xe9 at offset 36 is not valid); read as Windows-1252']
    >>> decode_notebook(b"print(1)")
    Traceback (most recent call last):
    ...
    tcpkit.course.submissions.Refused: not a notebook: not JSON (line 1, column 1: Expecting value)
    """
    notes: list[str] = []
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16")
        notes.append("the file is UTF-16, not UTF-8")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            bad = data[exc.start]
            try:
                text = data.decode("cp1252")
                how = "Windows-1252"
            except UnicodeDecodeError:
                text = data.decode("latin-1")
                how = "Latin-1"
            notes.append(f"the file is not UTF-8 (byte 0x{bad:02x} at offset {exc.start} is not valid); read as {how}")
    if not text.strip():
        raise Refused("an empty file, not a notebook")
    try:
        nb = json.loads(text)
    except RecursionError:
        raise Refused("not a notebook: JSON nested too deeply") from None
    except ValueError as exc:
        m = re.match(r"(.*?): line (\d+) column (\d+)", str(exc))
        where = f"line {m.group(2)}, column {m.group(3)}: {m.group(1)}" if m else str(exc)
        raise Refused(f"not a notebook: not JSON ({where})") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise Refused("not a notebook: no list of cells")
    cells = []
    for c in nb["cells"]:
        if isinstance(c, dict) and c.get("cell_type") == "code":
            src = c.get("source", "")
            if isinstance(src, list):
                src = "".join(s for s in src if isinstance(s, str))
            cells.append(strip_magics(str(src)))
    meta = nb.get("metadata")
    otter = meta.get("otter") if isinstance(meta, dict) else None
    name = otter.get("assignment_name") if isinstance(otter, dict) else None
    return Notebook(text, cells, name if isinstance(name, str) and name else None, notes)


@dataclass(frozen=True)
class Entry:
    """One thing found in the submissions folder: a notebook to grade or something refused."""

    path: Path
    student: str
    refused: str | None = None


def find_submissions(root: str | os.PathLike[str]) -> list[Entry]:
    """Every ``*.ipynb`` below ``root`` (not following links), plus refused entries for linked folders.

    The student's name is the path below ``root`` without ``.ipynb``.
    ``.ipynb_checkpoints`` folders are skipped.

    >>> import os, tempfile, pathlib
    >>> top = pathlib.Path(tempfile.mkdtemp())
    >>> (top / "bob").mkdir()
    >>> _ = (top / "bob" / "hw1.ipynb").write_text("{}")
    >>> os.symlink("/etc", top / "eve")
    >>> [(e.student, e.refused) for e in find_submissions(top)]
    [('bob/hw1', None), ('eve', 'a symbolic link to a folder: not followed')]
    """
    root = Path(root)
    out: list[Entry] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        keep = []
        for d in sorted(dirnames):
            if d == ".ipynb_checkpoints":
                continue
            full = here / d
            if full.is_symlink():
                out.append(Entry(full, full.relative_to(root).as_posix(), "a symbolic link to a folder: not followed"))
                continue
            if d.endswith(".ipynb"):
                out.append(Entry(full, full.relative_to(root).with_suffix("").as_posix(), "a folder, not a notebook"))
                continue
            keep.append(d)
        dirnames[:] = keep
        for f in sorted(filenames):
            if f.endswith(".ipynb"):
                full = here / f
                out.append(Entry(full, full.relative_to(root).with_suffix("").as_posix()))
    return sorted(out, key=lambda e: e.student)


# ----------------------------------------------------------------------------- collecting from home folders


@dataclass(frozen=True)
class Collected:
    """What :func:`collect` did with one home folder."""

    student: str
    source: str
    status: str  # "copied", "missing", "refused"
    reason: str = ""


def _open_nofollow(base: str, rel: str) -> int:
    """Open ``base/rel`` one component at a time, refusing a symbolic link anywhere (base included)."""
    st = os.lstat(base)
    if stat.S_ISLNK(st.st_mode):
        raise Refused(f"{base} is a symbolic link")
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    parts = [p for p in Path(rel).parts if p not in ("", ".")]
    if any(p == ".." for p in parts):
        os.close(fd)
        raise ParameterError("path", rel, "a path inside each home folder (no '..')")
    try:
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | (os.O_NONBLOCK if last else os.O_DIRECTORY)
            try:
                nfd = os.open(part, flags, dir_fd=fd)
            except OSError as exc:
                import errno

                if exc.errno == errno.ELOOP or (exc.errno == errno.ENOTDIR and _is_link(fd, part)):
                    raise Refused(f"{'/'.join(parts[: i + 1])} is a symbolic link: not followed") from None
                raise
            os.close(fd)
            fd = nfd
        return fd
    except BaseException:
        os.close(fd)
        raise


def _is_link(dir_fd: int, name: str) -> bool:
    try:
        return stat.S_ISLNK(os.lstat(name, dir_fd=dir_fd).st_mode)
    except OSError:
        return False


def collect(pattern: str, path: str, dest: str | os.PathLike[str]) -> list[Collected]:
    """Copy ``<home>/<path>`` of every home folder matching ``pattern`` into ``dest/<name>.ipynb``.

    ``<name>`` is what the ``*`` of ``pattern`` matched (``/home/jupyter-*``
    gives ``alice`` for ``/home/jupyter-alice``).  No symbolic link is
    followed, in the home folder itself or anywhere along ``path``; only
    regular files with a single hard link are copied (a hard link could
    point at a file the student cannot read); the copy keeps the original's
    modification time (the submission time for late penalties).  Nothing in
    ``dest`` is overwritten unless the new copy differs.

    Parameters
    ----------
    pattern : str
        A glob of home folders with one ``*``.
    path : str
        The notebook's path inside each home folder.
    dest : path
        Folder for the copies (created).

    Returns
    -------
    list of Collected
        One per home folder: ``copied``, ``missing`` or ``refused`` (with the reason).

    Raises
    ------
    ParameterError
        If ``pattern`` does not have exactly one ``*``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> top = pathlib.Path(tempfile.mkdtemp())
    >>> (top / "jupyter-ann" / "hw").mkdir(parents=True)
    >>> _ = (top / "jupyter-ann" / "hw" / "hw1.ipynb").write_text("{}")
    >>> (top / "jupyter-bob").mkdir()
    >>> (top / "jupyter-bob" / "hw").symlink_to("/etc")
    >>> for c in collect(str(top / "jupyter-*"), "hw/hw1.ipynb", top / "out"):
    ...     print(c.student, c.status, c.reason)
    ann copied
    bob refused hw is a symbolic link: not followed
    """
    if pattern.count("*") != 1:
        raise ParameterError("pattern", pattern, "a glob of home folders with exactly one '*' (the student's name)")
    head, tail = pattern.split("*")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    out: list[Collected] = []
    for home in sorted(glob.glob(pattern)):
        if not fnmatch.fnmatch(home, pattern):
            continue
        name = home[len(head) : len(home) - len(tail) if tail else None]
        if not name or "/" in name or name.startswith("."):
            continue
        src = os.path.join(home, path)
        try:
            fd = _open_nofollow(home, path)
        except Refused as exc:
            out.append(Collected(name, src, "refused", str(exc)))
            continue
        except FileNotFoundError:
            out.append(Collected(name, src, "missing", "no such file"))
            continue
        except OSError as exc:
            out.append(Collected(name, src, "refused", exc.strerror or str(exc)))
            continue
        try:
            data, st = _read_fd(fd, None, src)
            if st.st_nlink > 1:
                raise Refused(f"a file with {st.st_nlink} hard links: only a notebook of its own is copied")
        except Refused as exc:
            out.append(Collected(name, src, "refused", str(exc)))
            continue
        finally:
            os.close(fd)
        target = dest / f"{name}.ipynb"
        with contextlib.suppress(OSError):
            if target.read_bytes() == data:
                out.append(Collected(name, src, "copied", "unchanged"))
                continue
        fd2, tmp = tempfile.mkstemp(dir=dest, prefix=f".{name}.")
        with os.fdopen(fd2, "wb") as f:
            f.write(data)
        os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.replace(tmp, target)
        out.append(Collected(name, src, "copied"))
    return out


def submitted_at(st: os.stat_result) -> str:
    """The file's modification time as ISO 8601 UTC (the submission time).

    >>> import os
    >>> submitted_at(os.stat_result((0,) * 8 + (1700000000, 0)))
    '2023-11-14T22:13:20Z'
    """
    return datetime.fromtimestamp(st.st_mtime, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
