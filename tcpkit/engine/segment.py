"""TCP segments and their tcpdump/packetdrill notation.

A :class:`Segment` is an immutable value: ports, sequence and acknowledgment
numbers, flags, window, payload length (and optionally the bytes), and
options.  :func:`parse_segment` reads the notation used by tcpdump and
packetdrill; :meth:`Segment.notation` writes it back, and the two round-trip
exactly for canonical text.

Examples
--------
>>> s = parse_segment("S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>")
>>> s.flags
<Flags.SYN|ACK: 18>
>>> s.mss, s.wscale, s.sack_permitted, s.timestamp
(1460, 7, True, (100, 0))
>>> s.notation()
'S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>'
>>> s.seg_len        # a SYN occupies one sequence number
1

Notes
-----
Header fields: RFC 9293 section 3.1.  Options: MSS (RFC 9293 3.2),
window scale and timestamps (RFC 7323), SACK (RFC 2018), Fast Open cookie
(RFC 7413).  Flag letters follow tcpdump: ``F S R P . U E W`` for FIN, SYN,
RST, PSH, ACK, URG, ECE, CWR.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field, replace

from .errors import SegmentSyntaxError
from .seqnum import MASK, seq_add

__all__ = [
    "Flags",
    "MSS",
    "WScale",
    "SackPermitted",
    "Sack",
    "Timestamp",
    "Nop",
    "Eol",
    "FastOpen",
    "Option",
    "Segment",
    "parse_segment",
    "parse_options",
    "format_flags",
    "parse_flags",
]


class Flags(enum.IntFlag):
    """The TCP header flags (RFC 9293 section 3.1, RFC 3168 for ECE/CWR)."""

    FIN = 0x01
    SYN = 0x02
    RST = 0x04
    PSH = 0x08
    ACK = 0x10
    URG = 0x20
    ECE = 0x40
    CWR = 0x80


#: tcpdump's letter for each flag, in the order tcpdump prints them.
FLAG_LETTERS: tuple[tuple[Flags, str], ...] = (
    (Flags.FIN, "F"),
    (Flags.SYN, "S"),
    (Flags.RST, "R"),
    (Flags.PSH, "P"),
    (Flags.ACK, "."),
    (Flags.URG, "U"),
    (Flags.ECE, "E"),
    (Flags.CWR, "W"),
)
_LETTER_FLAG = {letter: flag for flag, letter in FLAG_LETTERS}


def format_flags(flags: Flags) -> str:
    """Flags in tcpdump letters.

    >>> format_flags(Flags.FIN | Flags.PSH | Flags.ACK)
    'FP.'
    >>> format_flags(Flags(0))
    'none'
    """
    text = "".join(letter for flag, letter in FLAG_LETTERS if flags & flag)
    # A segment with no flags at all is printed by tcpdump as "none".
    return text or "none"


def parse_flags(text: str) -> Flags:
    """Parse tcpdump flag letters.

    >>> parse_flags("S.")
    <Flags.SYN|ACK: 18>
    """
    if text == "none":
        return Flags(0)
    flags = Flags(0)
    for ch in text:
        if ch not in _LETTER_FLAG:
            raise ValueError(f"unknown flag letter {ch!r} (allowed: F S R P . U E W)")
        flags |= _LETTER_FLAG[ch]
    return flags


# --------------------------------------------------------------------------- options


@dataclass(frozen=True, slots=True)
class MSS:
    """Maximum segment size option (kind 2)."""

    value: int

    def __str__(self) -> str:
        return f"mss {self.value}"


@dataclass(frozen=True, slots=True)
class WScale:
    """Window scale option (kind 3, RFC 7323 section 2)."""

    shift: int

    def __str__(self) -> str:
        return f"wscale {self.shift}"


@dataclass(frozen=True, slots=True)
class SackPermitted:
    """SACK-permitted option (kind 4, RFC 2018)."""

    def __str__(self) -> str:
        return "sackOK"


@dataclass(frozen=True, slots=True)
class Sack:
    """SACK blocks (kind 5, RFC 2018): ``(left, right)`` edges."""

    blocks: tuple[tuple[int, int], ...]

    def __str__(self) -> str:
        return "sack " + " ".join(f"{a}:{b}" for a, b in self.blocks)


@dataclass(frozen=True, slots=True)
class Timestamp:
    """Timestamps option (kind 8, RFC 7323 section 3)."""

    val: int
    ecr: int

    def __str__(self) -> str:
        return f"TS val {self.val} ecr {self.ecr}"


@dataclass(frozen=True, slots=True)
class Nop:
    """No-operation padding (kind 1)."""

    def __str__(self) -> str:
        return "nop"


@dataclass(frozen=True, slots=True)
class Eol:
    """End of option list (kind 0)."""

    def __str__(self) -> str:
        return "eol"


@dataclass(frozen=True, slots=True)
class FastOpen:
    """TCP Fast Open cookie (kind 34, RFC 7413); an empty cookie is a cookie request."""

    cookie: bytes = b""

    def __str__(self) -> str:
        return "FO " + self.cookie.hex() if self.cookie else "FO"


Option = MSS | WScale | SackPermitted | Sack | Timestamp | Nop | Eol | FastOpen

_OPTION_SIZES = {MSS: 4, WScale: 3, SackPermitted: 2, Timestamp: 10, Nop: 1, Eol: 1}


def option_size(opt: Option) -> int:
    """Bytes an option occupies on the wire.

    >>> option_size(Timestamp(1, 0)), option_size(Sack(((1, 2), (5, 9))))
    (10, 18)
    """
    if isinstance(opt, Sack):
        return 2 + 8 * len(opt.blocks)
    if isinstance(opt, FastOpen):
        return 2 + len(opt.cookie)
    return _OPTION_SIZES[type(opt)]


# --------------------------------------------------------------------------- segment


@dataclass(frozen=True, slots=True, kw_only=True)
class Segment:
    """One TCP segment.

    Parameters
    ----------
    src_port, dst_port : int
        Ports (0 when the context makes them obvious, as in packetdrill).
    seq, ack : int
        Sequence and acknowledgment numbers (``ack`` is meaningful only with ACK).
    flags : Flags
    window : int or None
        The raw 16-bit window field; ``None`` means "unspecified" (a packetdrill
        line may leave it out; the engine always fills it in).
    length : int
        Payload length in bytes.
    payload : bytes or None
        The payload bytes when they are known.
    options : tuple of options, or None
        ``None`` means "unspecified" (``<...>`` in packetdrill).
    urg : int
        Urgent pointer.

    Examples
    --------
    >>> seg = Segment(seq=100, ack=7, flags=Flags.FIN | Flags.ACK, window=512, length=10)
    >>> seg.seg_len, seg.end_seq
    (11, 111)
    >>> seg.notation()
    'F. 100:110(10) ack 7 win 512'
    """

    src_port: int = 0
    dst_port: int = 0
    seq: int = 0
    ack: int = 0
    flags: Flags = Flags(0)
    window: int | None = None
    length: int = 0
    payload: bytes | None = field(default=None, compare=True, repr=False)
    options: tuple[Option, ...] | None = ()
    urg: int = 0

    def __post_init__(self) -> None:
        if self.payload is not None and len(self.payload) != self.length:
            object.__setattr__(self, "length", len(self.payload))
        if not 0 <= self.seq <= MASK or not 0 <= self.ack <= MASK:
            raise ValueError(f"seq/ack must be in [0, 2**32): got seq={self.seq} ack={self.ack}")
        if self.length < 0:
            raise ValueError(f"payload length must be >= 0, got {self.length}")

    # -- flag helpers -------------------------------------------------------------
    @property
    def syn(self) -> bool:
        return bool(self.flags & Flags.SYN)

    @property
    def fin(self) -> bool:
        return bool(self.flags & Flags.FIN)

    @property
    def rst(self) -> bool:
        return bool(self.flags & Flags.RST)

    @property
    def has_ack(self) -> bool:
        return bool(self.flags & Flags.ACK)

    @property
    def seg_len(self) -> int:
        """SEG.LEN of RFC 9293: payload plus one for SYN and one for FIN."""
        return self.length + (1 if self.syn else 0) + (1 if self.fin else 0)

    @property
    def end_seq(self) -> int:
        """The sequence number just after this segment."""
        return seq_add(self.seq, self.seg_len)

    # -- option helpers -----------------------------------------------------------
    def _opt(self, kind: type) -> Option | None:
        for opt in self.options or ():
            if isinstance(opt, kind):
                return opt
        return None

    @property
    def mss(self) -> int | None:
        o = self._opt(MSS)
        return o.value if isinstance(o, MSS) else None

    @property
    def wscale(self) -> int | None:
        o = self._opt(WScale)
        return o.shift if isinstance(o, WScale) else None

    @property
    def sack_permitted(self) -> bool:
        return self._opt(SackPermitted) is not None

    @property
    def timestamp(self) -> tuple[int, int] | None:
        o = self._opt(Timestamp)
        return (o.val, o.ecr) if isinstance(o, Timestamp) else None

    @property
    def fastopen(self) -> bytes | None:
        o = self._opt(FastOpen)
        return o.cookie if isinstance(o, FastOpen) else None

    def options_size(self) -> int:
        """Bytes of options, before padding."""
        return sum(option_size(o) for o in self.options or ())

    def replace(self, **changes: object) -> Segment:
        """A copy with some fields changed."""
        return replace(self, **changes)  # type: ignore[arg-type]

    # -- notation -------------------------------------------------------------------
    def notation(self, *, relative_to: tuple[int, int] | None = None) -> str:
        """This segment in tcpdump/packetdrill notation.

        Parameters
        ----------
        relative_to : (seq_base, ack_base), optional
            Subtract these (mod 2**32) from seq and ack, as tcpdump does after the
            handshake and packetdrill always does.

        >>> Segment(seq=1000, ack=5001, flags=Flags.ACK, window=10).notation(relative_to=(1000, 5000))
        '. 0:0(0) ack 1 win 10'
        """
        seq, ack = self.seq, self.ack
        if relative_to is not None:
            seq = (seq - relative_to[0]) & MASK
            ack = (ack - relative_to[1]) & MASK
        end = (seq + self.length) & MASK
        parts = [format_flags(self.flags), f"{seq}:{end}({self.length})"]
        if self.flags & Flags.ACK:
            parts.append(f"ack {ack}")
        if self.window is not None:
            parts.append(f"win {self.window}")
        if self.urg:
            parts.append(f"urg {self.urg}")
        if self.options is None:
            parts.append("<...>")
        elif self.options:
            parts.append("<" + ",".join(str(o) for o in self.options) + ">")
        return " ".join(parts)

    def __str__(self) -> str:
        return self.notation()


# --------------------------------------------------------------------------- parsing

_TOKEN = re.compile(r"\S+")


def _fail(text: str, pos: int, reason: str) -> SegmentSyntaxError:
    return SegmentSyntaxError(text, pos + 1, reason)


def _int(text: str, tok: str, pos: int, what: str, limit: int = MASK) -> int:
    try:
        value = int(tok, 0)
    except ValueError:
        raise _fail(text, pos, f"{what} must be a whole number, got {tok!r}") from None
    if not 0 <= value <= limit:
        raise _fail(text, pos, f"{what} must be between 0 and {limit}, got {value}")
    return value


def parse_options(text: str, *, offset: int = 0, whole: str | None = None) -> tuple[Option, ...]:
    """Parse the inside of ``<...>``: comma-separated options.

    >>> parse_options("mss 1000,nop,nop,sackOK,sack 1:5 9:12,FO 0a0b,eol")
    (MSS(value=1000), Nop(), Nop(), SackPermitted(), Sack(blocks=((1, 5), (9, 12))),
     FastOpen(cookie=b'\\n\\x0b'), Eol())
    """
    src = whole if whole is not None else text
    opts: list[Option] = []
    pos = 0
    for raw in text.split(","):
        item = raw.strip()
        col = offset + pos + (len(raw) - len(raw.lstrip()))
        pos += len(raw) + 1
        words = item.split()
        if not words:
            raise _fail(src, col, "empty option (two commas in a row?)")
        name = words[0]
        args = words[1:]
        try:
            if name == "mss" and len(args) == 1:
                opts.append(MSS(_int(src, args[0], col, "mss", 0xFFFF)))
            elif name == "wscale" and len(args) == 1:
                opts.append(WScale(_int(src, args[0], col, "wscale", 255)))
            elif name == "sackOK" and not args:
                opts.append(SackPermitted())
            elif name == "sack" and args:
                blocks = []
                for b in args:
                    left, sep, right = b.partition(":")
                    if not sep:
                        raise _fail(src, col, f"sack block must be left:right, got {b!r}")
                    blocks.append((_int(src, left, col, "sack edge"), _int(src, right, col, "sack edge")))
                opts.append(Sack(tuple(blocks)))
            elif name == "TS" and len(args) == 4 and args[0] == "val" and args[2] == "ecr":
                opts.append(Timestamp(_int(src, args[1], col, "TS val"), _int(src, args[3], col, "TS ecr")))
            elif name == "nop" and not args:
                opts.append(Nop())
            elif name == "eol" and not args:
                opts.append(Eol())
            elif name == "FO" and len(args) <= 1:
                try:
                    cookie = bytes.fromhex(args[0]) if args else b""
                except ValueError:
                    raise _fail(src, col, f"Fast Open cookie must be hex, got {args[0]!r}") from None
                opts.append(FastOpen(cookie))
            else:
                raise _fail(
                    src,
                    col,
                    f"unknown or malformed option {item!r} (allowed: mss N, wscale N, sackOK, "
                    "sack L:R ..., TS val N ecr N, nop, eol, FO [hex])",
                )
        except SegmentSyntaxError:
            raise
    return tuple(opts)


def parse_segment(text: str) -> Segment:
    """Parse one segment in tcpdump/packetdrill notation.

    The accepted form is ``FLAGS START:END(LEN) [ack N] [win N] [urg N] [<OPTIONS>|<...>]``.
    A missing ``win`` gives ``window=None`` and ``<...>`` gives ``options=None``
    (both mean "unspecified").

    Raises
    ------
    SegmentSyntaxError
        With the 1-based column of the problem.

    Examples
    --------
    >>> parse_segment("F. 1001:1001(0) ack 1").notation()
    'F. 1001:1001(0) ack 1'
    >>> parse_segment("P. 1:11(5)")
    Traceback (most recent call last):
    ...
    tcpkit.engine.errors.SegmentSyntaxError: column 4: the range 1:11 holds 10 bytes but the length says 5
      P. 1:11(5)
         ^
    """
    stripped = text.rstrip()
    # options first: everything between the first '<' and the last '>'
    opt_start = stripped.find("<")
    options: tuple[Option, ...] | None = ()
    head = stripped
    if opt_start >= 0:
        if not stripped.endswith(">"):
            raise _fail(text, len(stripped) - 1, "options must end with '>'")
        inner = stripped[opt_start + 1 : -1]
        head = stripped[:opt_start]
        options = None if inner.strip() == "..." else parse_options(inner, offset=opt_start + 1, whole=text)
    tokens = [(m.group(), m.start()) for m in _TOKEN.finditer(head)]
    if not tokens:
        raise _fail(text, 0, "empty segment: expected flags such as S, S., ., F., R, P.")
    flag_tok, flag_pos = tokens[0]
    try:
        flags = parse_flags(flag_tok)
    except ValueError as exc:
        raise _fail(text, flag_pos, str(exc)) from None
    if len(tokens) < 2:
        raise _fail(text, len(head), "missing sequence range START:END(LEN)")
    rng, rpos = tokens[1]
    m = re.fullmatch(r"(\d+):(\d+)\((\d+)\)", rng)
    if not m:
        raise _fail(text, rpos, f"sequence range must look like 0:0(0), got {rng!r}")
    start, end, length = int(m.group(1)), int(m.group(2)), int(m.group(3))
    for v in (start, end):
        if v > MASK:
            raise _fail(text, rpos, f"sequence number {v} does not fit in 32 bits")
    if (end - start) & MASK != length:
        raise _fail(
            text, rpos, f"the range {start}:{end} holds {(end - start) & MASK} bytes but the length says {length}"
        )
    ack = 0
    window: int | None = None
    urg = 0
    i = 2
    seen: set[str] = set()
    while i < len(tokens):
        key, kpos = tokens[i]
        if key not in ("ack", "win", "urg"):
            raise _fail(text, kpos, f"unexpected {key!r}: expected ack N, win N, urg N or <options>")
        if key in seen:
            raise _fail(text, kpos, f"{key} given twice")
        seen.add(key)
        if i + 1 >= len(tokens):
            raise _fail(text, kpos, f"{key} needs a number after it")
        val_tok, vpos = tokens[i + 1]
        if key == "ack":
            ack = _int(text, val_tok, vpos, "ack")
        elif key == "win":
            window = _int(text, val_tok, vpos, "win", 0xFFFF)
        else:
            urg = _int(text, val_tok, vpos, "urg", 0xFFFF)
        i += 2
    # packetdrill writes "ack N" only when the ACK flag is on, tcpdump likewise.
    if "ack" in seen and not flags & Flags.ACK:
        raise _fail(text, tokens[2][1], "'ack N' given but the ACK flag ('.') is not set")
    return Segment(seq=start, ack=ack, flags=flags, window=window, length=length, options=options, urg=urg)
