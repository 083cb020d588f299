"""Write an output file so that nothing the user gave is ever destroyed.

Every command and save helper of tcpkit that writes a file goes through
:func:`write_output` (or checks its path early with :func:`check_output`):

* the output may not be one of the inputs: not the same path, and not the same
  file reached another way (a symbolic link, a hard link, ``./x`` vs ``x``),
  compared by resolved path and by ``os.stat`` device and inode numbers;
* the bytes go to a temporary file in the output's own folder, are flushed to
  disk, and only then take the output's name with :func:`os.replace` (atomic
  on POSIX and Windows), so a failure at any point leaves the old file as it
  was and no half-written file behind;
* an existing output keeps its permission bits; a symbolic link as output
  writes the file it points to (the link stays);
* a FIFO or character device (``/dev/stdout``, a pipe) is written straight
  through, since there is nothing to replace; any other non-regular file (a
  folder, a block device, a socket) is refused.

Errors are :class:`~tcpkit.engine.errors.ParameterError` naming the output
(``name``) and what is allowed.

Examples
--------
>>> import os, tempfile
>>> d = tempfile.mkdtemp()
>>> src = os.path.join(d, "trace.json")
>>> _ = write_output(src, "{}")
>>> write_output(src, "oops", inputs=[src], name="OUT")
Traceback (most recent call last):
...
tcpkit.engine.errors.ParameterError: parameter OUT = '...trace.json' is not allowed: expected a file that is not ...
>>> open(src).read()
'{}'
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tcpkit.engine.errors import ParameterError

__all__ = ["check_output", "same_file", "write_output"]

PathLike = str | os.PathLike[str]


def _as_path(p: Any, name: str) -> Path:
    if isinstance(p, bytes) or not isinstance(p, str | os.PathLike):
        raise ParameterError(name, p, "a file path (a string)")
    text = os.fspath(p)
    if not isinstance(text, str) or not text or "\x00" in text:
        raise ParameterError(name, p, "a non-empty file path without NUL characters")
    return Path(text)


def _stat(p: Path) -> os.stat_result | None:
    try:
        return p.stat()
    except (OSError, ValueError):
        return None


def same_file(a: PathLike, b: PathLike) -> bool:
    """True when ``a`` and ``b`` name the same file (same resolved path, or same device and inode).

    Examples
    --------
    >>> import os, tempfile
    >>> d = tempfile.mkdtemp(); f = os.path.join(d, "a"); open(f, "w").close()
    >>> os.link(f, os.path.join(d, "b")); os.symlink(f, os.path.join(d, "c"))
    >>> same_file(f, os.path.join(d, "b")), same_file(f, os.path.join(d, "c")), same_file(f, d)
    (True, True, False)
    >>> same_file(os.path.join(d, "x", "..", "a"), f)      # a path through a missing folder is not the file
    False
    """
    pa, pb = Path(os.fspath(a)), Path(os.fspath(b))
    sa, sb = _stat(pa), _stat(pb)
    if sa is not None and sb is not None:
        return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)
    if sa is None and sb is None:
        try:
            return pa.resolve() == pb.resolve()
        except (OSError, RuntimeError):
            return False
    return False


def check_output(out: PathLike, inputs: Iterable[PathLike] = (), *, name: str = "output") -> Path:
    """Check an output path before any work is done; return the path that will be written.

    Parameters
    ----------
    out : str or path
        Where the output goes.
    inputs : paths
        Every file the command reads; ``out`` may be none of them.
    name : str
        How the user named the output (``"OUT"``, ``"--json"``), for the error.

    Returns
    -------
    Path
        The file to write: ``out`` with symbolic links resolved.

    Raises
    ------
    ParameterError
        ``out`` is not a path, is an input (also through a link), is a folder or
        another non-regular file, or its folder does not exist.

    Examples
    --------
    >>> import tempfile
    >>> check_output(tempfile.gettempdir(), name="--json")
    Traceback (most recent call last):
    ...
    tcpkit.engine.errors.ParameterError: parameter --json = '...' is not allowed: expected a file path, not a folder
    """
    path = _as_path(out, name)
    for given in inputs:
        inp = _as_path(given, "input")
        if same_file(path, inp):
            how = "the same path" if os.fspath(path) == os.fspath(inp) else "the same file through another path or link"
            raise ParameterError(
                name,
                os.fspath(out),
                f"a file that is not one of the inputs ({os.fspath(inp)} is {how}; writing would destroy it)",
            )
    try:
        target = path.resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise ParameterError(name, os.fspath(out), f"a path that can be resolved ({exc})") from None
    st = _stat(target)
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise ParameterError(name, os.fspath(out), "a file path, not a folder")
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode)):
            raise ParameterError(name, os.fspath(out), "a regular file, a pipe or a terminal")
    folder = target.parent
    if not folder.is_dir():
        raise ParameterError(name, os.fspath(out), f"a path in an existing folder ({folder} does not exist)")
    return target


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_output(
    out: PathLike,
    data: str | bytes,
    *,
    inputs: Iterable[PathLike] = (),
    name: str = "output",
    encoding: str = "utf-8",
) -> Path:
    """Write ``data`` to ``out`` safely: never over an input, through a temporary file and ``os.replace``.

    Parameters
    ----------
    out : str or path
    data : str or bytes
        Text is encoded with ``encoding``.
    inputs, name
        As for :func:`check_output`.
    encoding : str

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    ParameterError
        As :func:`check_output`, or when writing fails (disk full, no
        permission): the old file is then left exactly as it was.

    Examples
    --------
    >>> import os, tempfile
    >>> d = tempfile.mkdtemp(); p = os.path.join(d, "out.txt")
    >>> write_output(p, "one").name
    'out.txt'
    >>> _ = write_output(p, "two"); open(p).read(), sorted(os.listdir(d))
    ('two', ['out.txt'])
    """
    target = check_output(out, inputs, name=name)
    raw = data.encode(encoding) if isinstance(data, str) else bytes(data)
    st = _stat(target)
    if st is not None and not stat.S_ISREG(st.st_mode):  # a pipe or terminal: nothing to replace
        try:
            with open(target, "wb") as fh:
                fh.write(raw)
        except OSError as exc:
            raise ParameterError(name, os.fspath(out), f"a writable file ({exc.strerror or exc})") from None
        return target
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, stat.S_IMODE(st.st_mode) if st is not None else 0o666 & ~_umask())
        os.replace(tmp, target)
        tmp = None
    except OSError as exc:
        raise ParameterError(
            name, os.fspath(out), f"a file this process can write ({exc.strerror or exc}); nothing was changed"
        ) from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return target
