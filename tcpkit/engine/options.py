"""TCP option layouts: the order in which Linux and FreeBSD write their SYN options.

The engine uses these to emit exactly the option lists real kernels send (the
conformance scripts compare them), and the window scale each OS offers.

Examples
--------
>>> ", ".join(map(str, linux_options(mss=1460, sack=True, ts=(100, 0), wscale=7)))
'mss 1460, sackOK, TS val 100 ecr 0, nop, wscale 7'
"""

from __future__ import annotations

from .segment import MSS, Eol, Nop, Option, SackPermitted, Timestamp, WScale

__all__ = ["wscale_for", "linux_options", "freebsd_options"]


def wscale_for(buffer_max: int) -> int:
    """The window-scale shift offered for a receive buffer of ``buffer_max`` bytes.

    The smallest shift ``s`` with ``65535 << s >= buffer_max``, at most 14.

    >>> wscale_for(6 * 1024 * 1024), wscale_for(15 * 1024 * 1024), wscale_for(2097152)
    (7, 8, 6)

    Notes
    -----
    Linux ``tcp_select_initial_window()`` (net/ipv4/tcp_output.c) and FreeBSD
    ``tcp_connect()``/syncache (``while ... (TCP_MAXWIN << wscale) < sb_max``);
    RFC 7323 §2.3 caps the shift at 14.
    """
    s = 0
    while s < 14 and (65535 << s) < buffer_max:
        s += 1
    return s


def linux_options(*, mss: int | None, sack: bool, ts: tuple[int, int] | None, wscale: int | None) -> tuple[Option, ...]:
    """Options in the order Linux's ``tcp_options_write()`` lays them out.

    >>> ", ".join(map(str, linux_options(mss=1460, sack=True, ts=(100, 0), wscale=8)))
    'mss 1460, sackOK, TS val 100 ecr 0, nop, wscale 8'
    >>> ", ".join(map(str, linux_options(mss=1460, sack=True, ts=None, wscale=8)))
    'mss 1460, nop, nop, sackOK, nop, wscale 8'

    Notes
    -----
    net/ipv4/tcp_output.c ``tcp_options_write``: MSS; SACK-permitted folded into
    the timestamp's padding when both are on, else ``nop,nop,TS`` or
    ``nop,nop,sackOK``; ``nop,wscale``.
    """
    out: list[Option] = []
    if mss is not None:
        out.append(MSS(mss))
    if ts is not None:
        if sack:
            out.append(SackPermitted())
        else:
            out += [Nop(), Nop()]
        out.append(Timestamp(*ts))
    elif sack:
        out += [Nop(), Nop(), SackPermitted()]
    if wscale is not None:
        out += [Nop(), WScale(wscale)]
    return tuple(out)


def freebsd_options(
    *, mss: int | None, sack: bool, ts: tuple[int, int] | None, wscale: int | None
) -> tuple[Option, ...]:
    """Options in FreeBSD's ``tcp_addoptions()`` order, padded with EOL to 4 bytes.

    >>> ", ".join(map(str, freebsd_options(mss=1460, sack=True, ts=None, wscale=None)))
    'mss 1460, sackOK, eol, eol'
    >>> ", ".join(map(str, freebsd_options(mss=1460, sack=True, ts=(100, 0), wscale=6)))
    'mss 1460, nop, wscale 6, sackOK, TS val 100 ecr 0'

    Notes
    -----
    sys/netinet/tcp_output.c ``tcp_addoptions``: MSS, window scale (after a
    NOP), SACK-permitted, timestamps; the list is terminated and padded to a
    multiple of four bytes with EOL.
    """
    out: list[Option] = []
    size = 0
    if mss is not None:
        out.append(MSS(mss))
        size += 4
    if wscale is not None:
        out += [Nop(), WScale(wscale)]
        size += 4
    if sack:
        out.append(SackPermitted())
        size += 2
    if ts is not None:
        out.append(Timestamp(*ts))
        size += 10
    while size % 4:
        out.append(Eol())
        size += 1
    return tuple(out)
