"""Compare the segments the engine sent with the captured ones, in content and in time.

One :class:`SideMatcher` per side of a replayed connection pairs what the
engine sent with what the capture shows that side sending, in order, whichever
came first: a captured segment may wait for the engine to send it later (its
timer is slower) and an engine segment may wait for the capture (its timer is
faster).  A pair with the same core fields is a match; when its times differ
by more than the tolerance it is a *timing* difference, not a missing and an
extra segment.  What is left when a later pair matches, or at the end, is
paired as mismatches where plausible (same flags or same sequence number), and
otherwise counted as "not produced" (captured only) or "extra" (engine only).

Examples
--------
>>> from tcpkit.engine.segment import parse_segment
>>> rep = ReplayReport()
>>> m = SideMatcher("client", rep, tolerance=0.01, slack=0.0)
>>> syn = parse_segment("S 0:0(0) win 9")
>>> m.captured(0.0, syn, frame=1, cause=0.0); m.engine(0.0, syn)
>>> m.captured(1.0, syn, frame=2, cause=0.0); m.engine(3.0, syn)     # a retransmission, two seconds late
>>> m.finish()
>>> rep.matched, rep.timing, [r.verdict for r in rep.rows]
(2, 1, ['match', 'timing'])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tcpkit.engine.segment import Flags, Segment
from tcpkit.engine.seqnum import seq_sub
from tcpkit.engine.trace import ConnId

__all__ = ["CORE_FLAGS", "ReplayReport", "ReplayRow", "SideMatcher", "same_segment"]

#: Flags that must agree for two segments to match.
CORE_FLAGS = Flags.SYN | Flags.ACK | Flags.FIN | Flags.RST
#: How many waiting segments of one side a new one is compared with.
MATCH_WINDOW = 64


def same_segment(a: Segment, b: Segment) -> bool:
    """Same core flags, sequence number, acknowledgment (when ACK is set) and length.

    >>> from tcpkit.engine.segment import parse_segment
    >>> same_segment(parse_segment(". 1:1(0) ack 5 win 1"), parse_segment(". 1:1(0) ack 5 win 900"))
    True
    """
    if (a.flags & CORE_FLAGS) != (b.flags & CORE_FLAGS) or a.seq != b.seq or a.length != b.length:
        return False
    return not a.has_ack or a.ack == b.ack


@dataclass(frozen=True, slots=True)
class ReplayRow:
    """One captured or engine-made segment and what became of it.

    ``verdict`` is ``"match"``, ``"timing"`` (the same segment at a time further
    off than the tolerance), ``"mismatch"``, ``"not produced"`` (in the
    capture, not made by the engine) or ``"extra"`` (made by the engine, not
    in the capture).  ``time`` is the captured send time (the engine's for an
    extra segment); ``offset`` is engine time minus captured time.
    """

    time: float
    host: str
    verdict: str
    captured: str | None
    engine: str | None
    frame: int | None = None
    details: str = ""
    conn: ConnId | None = None
    offset: float | None = None


@dataclass(slots=True)
class ReplayReport:
    """How well the engine reproduced a capture.

    Attributes
    ----------
    captured : int
        Captured segments replayed.
    matched, mismatched, not_produced, extra : int
        Segment counts (see :class:`ReplayRow`); ``matched`` includes ``timing``.
    timing : int
        Matched segments whose time was off by more than the tolerance.
    minor : dict
        Matched segments that differ only in ``psh``, ``window`` or ``options``.
    rows : list of ReplayRow
    skipped : list of str
        Why connections were left out (e.g. the capture starts after their SYN).
    undelivered : list of str
        Captured segments the replay did not deliver, and why (lost after the
        capture point, or sent to a silent peer).
    inferred : list of str
        What the replay inferred from the capture (socket options, the accept
        behaviour, silent peers).
    setup : list of str
        What the replay was told (sysctls, socket options, listener).
    tolerance : float
        The timing tolerance used (seconds), plus ``timer_slack`` of the time
        since the sender's previous event.
    """

    captured: int = 0
    matched: int = 0
    mismatched: int = 0
    not_produced: int = 0
    extra: int = 0
    timing: int = 0
    minor: dict[str, int] = field(default_factory=dict)
    rows: list[ReplayRow] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    undelivered: list[str] = field(default_factory=list)
    inferred: list[str] = field(default_factory=list)
    setup: list[str] = field(default_factory=list)
    tolerance: float = 0.010
    timer_slack: float = 0.125

    @property
    def agrees(self) -> bool:
        """Every captured segment was made by the engine, and nothing else (times aside)."""
        return self.mismatched == self.not_produced == self.extra == 0 and not self.skipped

    @property
    def in_time(self) -> bool:
        """Every matched segment was made within the tolerance of its captured time."""
        return self.timing == 0

    @property
    def verdict(self) -> str:
        """``"agrees"``, ``"agrees, timing differs"`` or ``"differs"``."""
        if not self.agrees:
            return "differs"
        return "agrees" if self.in_time else "agrees, timing differs"

    def add(self, other: ReplayReport) -> None:
        """Add another report's counts and rows."""
        self.captured += other.captured
        self.matched += other.matched
        self.mismatched += other.mismatched
        self.not_produced += other.not_produced
        self.extra += other.extra
        self.timing += other.timing
        for k, v in other.minor.items():
            self.minor[k] = self.minor.get(k, 0) + v
        self.rows.extend(other.rows)
        self.skipped.extend(other.skipped)
        self.undelivered.extend(other.undelivered)
        self.inferred.extend(other.inferred)

    def summary(self) -> str:
        """One line in English.

        >>> ReplayReport(captured=3, matched=2, not_produced=1).summary()
        'replayed 3 captured segments: 2 matched, 0 mismatched, 1 not produced by the engine, 0 extra'
        """
        text = (
            f"replayed {self.captured} captured segments: {self.matched} matched, {self.mismatched} mismatched, "
            f"{self.not_produced} not produced by the engine, {self.extra} extra"
        )
        if self.timing:
            text += (
                f"; {self.timing} at a different time (beyond {self.tolerance * 1000:g} ms + "
                f"{self.timer_slack:.1%} of the wait)"
            )
        if self.minor:
            text += " (minor differences: " + ", ".join(f"{k} {v}" for k, v in sorted(self.minor.items())) + ")"
        if self.undelivered:
            text += f"; {len(self.undelivered)} captured segments not delivered"
        if self.skipped:
            text += f"; {len(self.skipped)} connections not replayable"
        return text

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (for a trace's ``meta``)."""
        return {
            "captured": self.captured,
            "matched": self.matched,
            "mismatched": self.mismatched,
            "not_produced": self.not_produced,
            "extra": self.extra,
            "timing": self.timing,
            "verdict": self.verdict,
            "tolerance": self.tolerance,
            "timer_slack": self.timer_slack,
            "minor": dict(sorted(self.minor.items())),
            "differences": [
                f"t={r.time:.6f} {r.host}: {r.verdict}: {r.details}" for r in self.rows if r.verdict != "match"
            ],
            "skipped": list(self.skipped),
            "undelivered": list(self.undelivered),
            "inferred": list(self.inferred),
            "setup": list(self.setup),
        }


@dataclass(slots=True)
class _Cap:
    time: float
    seg: Segment
    frame: int | None
    cause: float


@dataclass(slots=True)
class _Eng:
    time: float
    seg: Segment


def _rel(seg: Segment, base: tuple[int, int] | None) -> str:
    return seg.notation(relative_to=base) if base is not None else seg.notation()


def differences(eng: Segment, cap: Segment, base: tuple[int, int] | None) -> str:
    """What differs between an engine segment and a captured one, relative sequence numbers.

    >>> from tcpkit.engine.segment import parse_segment
    >>> differences(parse_segment(". 1:1(0) ack 6 win 1"), parse_segment(". 1:1(0) ack 4 win 1"), None)
    'captured vs engine: ack 4 vs 6'
    """
    out = []
    if (eng.flags & CORE_FLAGS) != (cap.flags & CORE_FLAGS):
        out.append(f"flags {_rel(cap, base).split()[0]} vs {_rel(eng, base).split()[0]}")
    iss, irs = base if base is not None else (0, 0)
    if eng.seq != cap.seq:
        out.append(f"seq {seq_sub(cap.seq, iss)} vs {seq_sub(eng.seq, iss)}")
    if (eng.has_ack or cap.has_ack) and eng.ack != cap.ack:
        out.append(f"ack {seq_sub(cap.ack, irs)} vs {seq_sub(eng.ack, irs)}")
    if eng.length != cap.length:
        out.append(f"length {cap.length} vs {eng.length}")
    return "captured vs engine: " + "; ".join(out)


class SideMatcher:
    """Pairs one side's engine segments with its captured segments (see the module docstring).

    Parameters
    ----------
    host : str
        The side's host name (for rows and notes).
    report : ReplayReport
        Where counts and rows go.
    tolerance : float
        Seconds two times may differ and still be the same time.
    slack : float
        Extra tolerance as a fraction of ``time - cause`` of the captured segment.
    base : callable returning ``(iss, irs)`` or None
        Sequence numbers are shown relative to these when known.
    note : callable ``(time, text)``, optional
        Called with a sentence for every difference.
    conn : ConnId, optional
        The side's connection, for the rows.
    """

    def __init__(
        self,
        host: str,
        report: ReplayReport,
        *,
        tolerance: float,
        slack: float,
        base: Callable[[], tuple[int, int] | None] = lambda: None,
        note: Callable[[float, str], None] | None = None,
        conn: ConnId | None = None,
    ) -> None:
        self.host = host
        self.report = report
        self.tolerance = tolerance
        self.slack = slack
        self.base = base
        self.note = note
        self.conn = conn
        self.caps: list[_Cap] = []
        self.engs: list[_Eng] = []

    # -- input -------------------------------------------------------------------
    def captured(self, time: float, seg: Segment, *, frame: int | None, cause: float) -> None:
        """The capture shows this side sending ``seg`` at ``time`` (its previous event was at ``cause``)."""
        self.report.captured += 1
        c = _Cap(time, seg, frame, cause)
        for k, e in enumerate(self.engs[:MATCH_WINDOW]):
            if same_segment(e.seg, seg):
                del self.engs[k]
                self._settle_before(e.time, c.time)
                self._match(c, e)
                return
        self.caps.append(c)
        self._trim()

    def engine(self, time: float, seg: Segment) -> None:
        """The engine made this side send ``seg`` at ``time``."""
        e = _Eng(time, seg)
        for k, c in enumerate(self.caps[:MATCH_WINDOW]):
            if same_segment(seg, c.seg):
                del self.caps[k]
                self._settle_before(e.time, c.time)
                self._match(c, e)
                return
        self.engs.append(e)
        self._trim()

    def waiting_engine(self, pred: Callable[[Segment], bool]) -> bool:
        """Whether an engine segment that the capture has not shown yet satisfies ``pred``."""
        return any(pred(e.seg) for e in self.engs)

    def finish(self) -> None:
        """Everything still waiting becomes a mismatch, "not produced" or "extra"."""
        self._settle(self.caps, self.engs)
        self.caps, self.engs = [], []

    # -- pairing -----------------------------------------------------------------
    def _allowed(self, c: _Cap) -> float:
        return self.tolerance + self.slack * max(0.0, c.time - c.cause)

    def _match(self, c: _Cap, e: _Eng) -> None:
        rep = self.report
        rep.matched += 1
        seg = c.seg
        minor = []
        if (e.seg.flags ^ seg.flags) & Flags.PSH:
            minor.append("psh")
        if e.seg.window != seg.window:
            minor.append("window")
        if e.seg.options != seg.options:
            minor.append("options")
        for m in minor:
            rep.minor[m] = rep.minor.get(m, 0) + 1
        details = ", ".join(f"{m} differs" for m in minor)
        offset = e.time - c.time
        verdict = "match"
        if abs(offset) > self._allowed(c):
            verdict = "timing"
            rep.timing += 1
            when = f"the engine sent it {abs(offset) * 1000:.1f} ms {'later' if offset > 0 else 'earlier'}"
            details = when + (f"; {details}" if details else "")
            self._note(c.time, f"frame {c.frame}: {when} than the capture shows ('{_rel(seg, self.base())}')")
        self._row(c.time, verdict, seg, e.seg, c.frame, details, offset)

    def _settle_before(self, e_time: float, c_time: float) -> None:
        """A pair matched: what waits from clearly before it can no longer pair with anything later."""
        horizon = min(e_time, c_time) - self.tolerance
        old_c = [c for c in self.caps if c.time < horizon]
        old_e = [e for e in self.engs if e.time < horizon]
        if old_c or old_e:
            self.caps = [c for c in self.caps if c.time >= horizon]
            self.engs = [e for e in self.engs if e.time >= horizon]
            self._settle(old_c, old_e)

    def _trim(self) -> None:
        """Keep the waiting lists short: the oldest beyond the window is settled."""
        while len(self.caps) > MATCH_WINDOW or len(self.engs) > MATCH_WINDOW:
            old_c = self.caps[:1] if len(self.caps) > MATCH_WINDOW else []
            old_e = self.engs[:1] if len(self.engs) > MATCH_WINDOW else []
            self.caps = self.caps[len(old_c) :]
            self.engs = self.engs[len(old_e) :]
            self._settle(old_c, old_e)

    def _settle(self, caps: list[_Cap], engs: list[_Eng]) -> None:
        used = [False] * len(engs)
        for c in caps:
            k = next(
                (
                    k
                    for k, e in enumerate(engs)
                    if not used[k]
                    and ((e.seg.flags & CORE_FLAGS) == (c.seg.flags & CORE_FLAGS) or e.seg.seq == c.seg.seq)
                ),
                None,
            )
            if k is None:
                self.report.not_produced += 1
                self._row(c.time, "not produced", c.seg, None, c.frame, "the engine did not send it", None)
                self._note(
                    c.time,
                    f"frame {c.frame}: the capture shows '{_rel(c.seg, self.base())}' from {self.host}, which the "
                    "engine did not send",
                )
                continue
            used[k] = True
            e = engs[k]
            self.report.mismatched += 1
            why = differences(e.seg, c.seg, self.base())
            self._row(c.time, "mismatch", c.seg, e.seg, c.frame, why, e.time - c.time)
            self._note(
                c.time,
                f"frame {c.frame}: the capture shows '{_rel(c.seg, self.base())}' but the engine sent "
                f"'{_rel(e.seg, self.base())}' ({why})",
            )
        for k, e in enumerate(engs):
            if not used[k]:
                self.report.extra += 1
                self._row(e.time, "extra", None, e.seg, None, "not in the capture", None)
                self._note(
                    e.time,
                    f"the engine sent '{_rel(e.seg, self.base())}' from {self.host}, which the capture does not show",
                )

    def _row(
        self,
        t: float,
        verdict: str,
        cap: Segment | None,
        eng: Segment | None,
        frame: int | None,
        details: str,
        offset: float | None,
    ) -> None:
        base = self.base()
        self.report.rows.append(
            ReplayRow(
                t,
                self.host,
                verdict,
                _rel(cap, base) if cap is not None else None,
                _rel(eng, base) if eng is not None else None,
                frame,
                details,
                self.conn,
                offset,
            )
        )

    def _note(self, t: float, text: str) -> None:
        if self.note is not None:
            self.note(t, "replay: " + text)
