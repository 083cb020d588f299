"""Compare a socket's observed state path, and its connection's segment order, with the model's.

Pure functions: no sockets, no clock.

Examples
--------
>>> v = compare_paths("client",
...     model=["SYN_SENT", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT", "CLOSED"],
...     observed=["ESTABLISHED", "FIN_WAIT_2", "TIME_WAIT"],
...     not_waited_from=5)
>>> v.agree, v.not_observed, v.not_waited
(True, ('SYN_SENT', 'FIN_WAIT_1'), ('CLOSED',))
>>> v = compare_paths("server", model=["ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED"],
...                   observed=["ESTABLISHED", "CLOSED"])
>>> v.agree, v.differences
(False, ('the model reaches CLOSE_WAIT after ESTABLISHED; the kernel never showed it',))

Notes
-----
A state in ``missable`` (by default the short states of
:data:`tcpkit.live.watch.SHORT_STATES`) that the model passes through but the
kernel was never seen in is "not observed", not a disagreement: a poll every
millisecond cannot see a state that lasts microseconds.  States the model
reaches only after a kernel timer the lab does not wait for (the 60 s of
TIME_WAIT, ``TCP_TIMEWAIT_LEN`` in ``include/net/tcp.h``) are "not waited
for".  Everything else must appear in the same order on both sides.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tcpkit.engine.segment import Segment

from .watch import SHORT_STATES

__all__ = [
    "RoleVerdict",
    "compare_paths",
    "dedupe",
    "SegmentVerdict",
    "compare_segments",
    "segment_kind",
    "segment_tokens",
]

_DEFAULT_MISSABLE = frozenset(s.value for s in SHORT_STATES)


@dataclass(frozen=True, slots=True)
class RoleVerdict:
    """How one socket role's kernel path compares with the model's.

    Attributes
    ----------
    role : str
        ``client``, ``server``, ``listener``, ``client2`` ...
    model, observed : tuple of str
        The two state paths (consecutive repeats removed).
    agree : bool
    not_observed : tuple of str
        Short model states polling did not catch.
    not_waited : tuple of str
        Model states after a kernel timer the lab does not wait for.
    early : tuple of str
        States the kernel reached while the lab watched that the model
        reaches only later (after a timer, or past the lab's horizon).
    differences : tuple of str
        What differs, in words; empty when ``agree``.
    timing : tuple of str
        Differences of timing only (not of TCP): a state the model leaves at
        once that the kernel stayed in long enough to be seen, because the
        application or the machine was slower than a kernel timer.
    """

    role: str
    model: tuple[str, ...]
    observed: tuple[str, ...]
    agree: bool
    not_observed: tuple[str, ...] = ()
    not_waited: tuple[str, ...] = ()
    differences: tuple[str, ...] = ()
    early: tuple[str, ...] = ()
    timing: tuple[str, ...] = ()

    def summary(self) -> str:
        """One line: ``client: agree (not observed: SYN_SENT)``."""
        if self.agree:
            extra = []
            if self.not_observed:
                extra.append("not observed (too short to poll): " + ", ".join(self.not_observed))
            if self.not_waited:
                extra.append("not waited for (kernel timer): " + ", ".join(self.not_waited))
            if self.early:
                extra.append("reached sooner than in the model: " + ", ".join(self.early))
            if self.timing:
                extra.append(f"timing only: {len(self.timing)} note(s)")
            return f"{self.role}: agree" + (f" ({'; '.join(extra)})" if extra else "")
        return f"{self.role}: DIFFER: " + "; ".join(self.differences)


def dedupe(states: Iterable[str]) -> list[str]:
    """Drop consecutive repeats.

    >>> dedupe(["LISTEN", "LISTEN", "CLOSED", "LISTEN"])
    ['LISTEN', 'CLOSED', 'LISTEN']
    """
    out: list[str] = []
    for s in states:
        if not out or out[-1] != s:
            out.append(s)
    return out


def compare_paths(
    role: str,
    model: Sequence[str],
    observed: Sequence[str],
    *,
    missable: Iterable[str] | None = None,
    not_waited_from: int | None = None,
    instant: Iterable[str] = (),
) -> RoleVerdict:
    """Align the observed path with the model path.

    Parameters
    ----------
    role : str
    model : sequence of str
        The model's states in order (state names as in :class:`tcpkit.engine.states.State`).
    observed : sequence of str
        The kernel's states in order, as polled.
    missable : iterable of str, optional
        States that may be absent from ``observed`` without disagreeing.
    not_waited_from : int, optional
        Index into ``model`` (after removing repeats) from which on the model's
        states follow a kernel timer the lab does not wait for.
    instant : iterable of str
        Model states entered and left at the same moment: missable, and when the
        kernel was seen in one, that is a timing note, not a difference.

    Returns
    -------
    RoleVerdict

    Examples
    --------
    >>> compare_paths("c", ["SYN_SENT", "CLOSED"], ["ESTABLISHED"]).differences
    ('the kernel showed ESTABLISHED where the model expects CLOSED',
     'the model reaches CLOSED after SYN_SENT; the kernel never showed it')
    """
    miss = _DEFAULT_MISSABLE if missable is None else frozenset(missable)
    instant = frozenset(instant)
    miss = miss | instant
    m = dedupe(model)
    o = dedupe(observed)
    cut = len(m) if not_waited_from is None else max(0, min(not_waited_from, len(m)))

    def skip_cost(i: int) -> int:
        return 0 if (m[i] in miss or i >= cut) else 1

    # Edit-distance alignment: matching equal states is free, leaving out a
    # short (or not-waited-for) model state is free, anything else costs 1.
    INF = 1 << 30
    n_m, n_o = len(m), len(o)
    cost = [[INF] * (n_o + 1) for _ in range(n_m + 1)]
    cost[n_m][n_o] = 0
    for i in range(n_m, -1, -1):
        for j in range(n_o, -1, -1):
            if i == n_m and j == n_o:
                continue
            best = INF
            if i < n_m and j < n_o and m[i] == o[j]:
                best = cost[i + 1][j + 1]
            if i < n_m:
                best = min(best, cost[i + 1][j] + skip_cost(i))
            if j < n_o:
                best = min(best, cost[i][j + 1] + 1)
            cost[i][j] = best
    not_observed: list[str] = []
    not_waited: list[str] = []
    early: list[str] = []
    diffs: list[str] = []
    i = j = 0
    timing: list[str] = []
    while i < n_m or j < n_o:
        if i < n_m and j < n_o and m[i] == o[j] and cost[i][j] == cost[i + 1][j + 1]:
            if i >= cut:
                early.append(m[i])
            elif m[i] in instant:
                timing.append(_INSTANT_SEEN.get(m[i], _INSTANT_ANY).format(state=m[i]))
            i, j = i + 1, j + 1
        elif (
            j < n_o
            and cost[i][j] == cost[i][j + 1] + 1
            and not (i < n_m and skip_cost(i) == 0 and cost[i][j] == cost[i + 1][j])
        ):
            diffs.append(f"the kernel showed {o[j]} where the model expects {_expected(m, i, miss)}")
            j += 1
        elif i < n_m and cost[i][j] == cost[i + 1][j] + skip_cost(i):
            if i >= cut:
                not_waited.append(m[i])
            elif m[i] in miss:
                not_observed.append(m[i])
            else:
                after = f" after {m[i - 1]}" if i > 0 else " first"
                diffs.append(f"the model reaches {m[i]}{after}; the kernel never showed it")
            i += 1
        else:
            diffs.append(f"the kernel showed {o[j]} where the model expects {_expected(m, i, miss)}")
            j += 1
    return RoleVerdict(
        role=role,
        model=tuple(m),
        observed=tuple(o),
        agree=not diffs,
        not_observed=tuple(not_observed),
        not_waited=tuple(not_waited),
        differences=tuple(diffs),
        early=tuple(early),
        timing=tuple(timing),
    )


#: Why the kernel can sit in a state the model passes through at once (a timing difference).
_INSTANT_SEEN = {
    "FIN_WAIT_2": (
        "{state} was seen: the peer's application closed later than the delayed-ACK timer (40 ms, "
        "TCP_DELACK_MIN), so the ACK of our FIN went alone before the peer's FIN; in the model it rode on it. "
        "Timing (a busy machine or a slow application), not a different TCP."
    ),
}
_INSTANT_ANY = "{state} was seen although the model leaves it at once: a timing difference, not a different TCP."


def _expected(m: Sequence[str], i: int, miss: frozenset[str]) -> str:
    rest = list(m[i:])
    if not rest:
        return "no further state"
    firm = next((x for x in rest if x not in miss), None)
    shorts = [x for x in rest[: rest.index(firm)] if x in miss] if firm is not None else rest
    if firm is None:
        return " or ".join(shorts)
    return " or ".join([*shorts, firm])


# ---------------------------------------------------------------------------------------- segments
#: A segment reduced to what its order means: (sender role, kind).
Token = tuple[str, str]


def segment_kind(seg: Segment) -> list[str]:
    """What a segment is, for comparing orders: ``SYN``, ``SYN-ACK``, ``RST``, ``data``, ``FIN``, ``ACK``.

    >>> from tcpkit.engine.segment import parse_segment
    >>> [segment_kind(parse_segment(t)) for t in ("S 0:0(0) win 1", "P. 1:6(5) ack 1 win 1", "FP. 1:6(5) ack 1 win 1")]
    [['SYN'], ['data'], ['data', 'FIN']]
    """
    if seg.rst:
        return ["RST"]
    if seg.syn:
        return ["SYN-ACK" if seg.has_ack else "SYN"]
    out = ["data"] if seg.length else []
    if seg.fin:
        out.append("FIN")
    return out or ["ACK"]


def segment_tokens(segments: Iterable[tuple[str, Segment]]) -> list[Token]:
    """The order of one connection's segments, ``(sender, segment)`` in time order, as tokens.

    A burst of data from one side is one ``data`` token, whatever the segment sizes (they
    follow the MSS and the application's writes) and without the ACKs the other side sent
    in between (flow control: how many depends on timing).

    >>> from tcpkit.engine.segment import parse_segment as p
    >>> segment_tokens([("server", p("P. 1:1001(1000) ack 7 win 1")), ("client", p(". 7:7(0) ack 1001 win 1")),
    ...                 ("server", p("P. 1001:2001(1000) ack 7 win 1")), ("server", p("F. 2001:2001(0) ack 7 win 1"))])
    [('server', 'data'), ('server', 'FIN')]
    """
    tokens: list[Token] = []
    for who, seg in segments:
        for kind in segment_kind(seg):
            if kind == "data":
                k = len(tokens)
                while k > 0 and tokens[k - 1][1] == "ACK" and tokens[k - 1][0] != who:
                    k -= 1
                if k > 0 and tokens[k - 1] == (who, "data"):
                    del tokens[k:]
                    continue
            tokens.append((who, kind))
    return tokens


@dataclass(frozen=True, slots=True)
class SegmentVerdict:
    """How the order of one connection's segments compares (kernel capture against the model).

    ``timing`` lists pure ACKs that one side has and the other not: whether an ACK goes alone or
    rides on the next segment depends on whether the delayed-ACK timer (40 ms) fired before the
    application acted -- timing, not TCP.  ``ignored`` lists the lab's own clean-up resets.
    """

    role: str
    model: tuple[Token, ...]
    observed: tuple[Token, ...]
    agree: bool
    differences: tuple[str, ...] = ()
    timing: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()

    def summary(self) -> str:
        """One line: ``client segments: agree (timing only: 1)``."""
        if self.agree:
            extra = f" (timing only: {len(self.timing)})" if self.timing else ""
            return f"{self.role} segments: agree{extra}"
        return f"{self.role} segments: DIFFER: " + "; ".join(self.differences)


def _text(tokens: Sequence[Token]) -> str:
    return " ".join(f"{who[0]}:{kind}" for who, kind in tokens)


def compare_segments(role: str, model: Sequence[Token], observed: Sequence[Token]) -> SegmentVerdict:
    """Align the kernel's segment order with the model's.

    Equal tokens match; a pure ACK that only one side has is a timing note, and so is a
    second RST from a side that already reset the connection (it answers a segment that
    crossed the first RST in flight: the model's link has milliseconds of delay, loopback
    microseconds); anything else is a difference.  Resets the kernel sent after everything
    the model has (the lab closing its sockets) are ignored.

    Examples
    --------
    >>> m = [("client", "FIN"), ("server", "FIN"), ("client", "ACK")]
    >>> o = [("client", "FIN"), ("server", "ACK"), ("server", "FIN"), ("client", "ACK")]
    >>> v = compare_segments("client", m, o)
    >>> v.agree, len(v.timing)
    (True, 1)
    >>> compare_segments("client", m, [("client", "RST")]).agree
    False
    """
    m = list(model)
    o = list(observed)
    ignored: list[str] = []
    while o and o[-1][1] == "RST" and len(o) > len(m) and (not m or m[-1][1] != "RST"):
        ignored.append(f"{o[-1][0]} RST at the end (the lab closing its sockets)")
        o.pop()
    inf = 1 << 30
    n_m, n_o = len(m), len(o)

    def free(seq: Sequence[Token], k: int) -> bool:
        return seq[k][1] == "ACK" or (seq[k][1] == "RST" and (seq[k][0], "RST") in seq[:k])

    free_m = [free(m, k) for k in range(n_m)]
    free_o = [free(o, k) for k in range(n_o)]
    cost = [[inf] * (n_o + 1) for _ in range(n_m + 1)]
    cost[n_m][n_o] = 0
    for i in range(n_m, -1, -1):
        for j in range(n_o, -1, -1):
            if i == n_m and j == n_o:
                continue
            best = inf
            if i < n_m and j < n_o and m[i] == o[j]:
                best = cost[i + 1][j + 1]
            if i < n_m:
                best = min(best, cost[i + 1][j] + (0 if free_m[i] else 1))
            if j < n_o:
                best = min(best, cost[i][j + 1] + (0 if free_o[j] else 1))
            cost[i][j] = best
    diffs: list[str] = []
    timing: list[str] = []
    i = j = 0
    while i < n_m or j < n_o:
        if i < n_m and j < n_o and m[i] == o[j] and cost[i][j] == cost[i + 1][j + 1]:
            i, j = i + 1, j + 1
        elif i < n_m and cost[i][j] == cost[i + 1][j] + (0 if free_m[i] else 1):
            if m[i][1] == "RST" and free_m[i]:
                timing.append(f"the model's {m[i][0]} resets again, answering a segment that crossed its first RST")
            elif m[i][1] == "ACK":
                timing.append(
                    f"a pure ACK the model's {m[i][0]} sends here was not seen on its own: whether an ACK goes "
                    "alone or rides on a later segment depends on timing (delayed ACK, the application's speed)"
                )
            else:
                diffs.append(f"the model sends {m[i][1]} from the {m[i][0]}; the kernel did not")
            i += 1
        else:
            if o[j][1] == "RST" and free_o[j]:
                timing.append(f"the {o[j][0]} reset again, answering a segment that crossed its first RST")
            elif o[j][1] == "ACK":
                timing.append(
                    f"the {o[j][0]} sent an ACK alone where the model's rode on its next segment: the "
                    "delayed-ACK timer (40 ms, TCP_DELACK_MIN) fired before the application acted"
                )
            else:
                diffs.append(f"the kernel sent {o[j][1]} from the {o[j][0]}; the model does not here")
            j += 1
    return SegmentVerdict(role, tuple(m), tuple(o), not diffs, tuple(diffs), tuple(timing), tuple(ignored))
