"""Compare a socket's observed state path with the model's, allowing for polling.

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

from .watch import SHORT_STATES

__all__ = ["RoleVerdict", "compare_paths", "dedupe"]

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
    """

    role: str
    model: tuple[str, ...]
    observed: tuple[str, ...]
    agree: bool
    not_observed: tuple[str, ...] = ()
    not_waited: tuple[str, ...] = ()
    differences: tuple[str, ...] = ()
    early: tuple[str, ...] = ()

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
    while i < n_m or j < n_o:
        if i < n_m and j < n_o and m[i] == o[j] and cost[i][j] == cost[i + 1][j + 1]:
            if i >= cut:
                early.append(m[i])
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
    )


def _expected(m: Sequence[str], i: int, miss: frozenset[str]) -> str:
    rest = list(m[i:])
    if not rest:
        return "no further state"
    firm = next((x for x in rest if x not in miss), None)
    shorts = [x for x in rest[: rest.index(firm)] if x in miss] if firm is not None else rest
    if firm is None:
        return " or ".join(shorts)
    return " or ".join([*shorts, firm])
