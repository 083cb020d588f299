"""Predict, then reveal: the student guesses the next segment or the current state first.

What the widget asks, exactly
-----------------------------
Every question is about one record of a trace, ``trace[at]``, and the widget
names that record in its prompt.

* ``question="state"``: the state of ``host`` *after* that record has been
  processed, i.e. once the engine has finished handling the input the record
  belongs to (a received segment, a fired timer or a call) and recorded every
  state change, segment and timer it caused (:func:`settled_index`).  Right
  after the ACK of its FIN arrives, a client is in FIN_WAIT_2, not FIN_WAIT_1.
* ``question="state_before"``: the state of ``host`` just before that record.
* ``question="next_send"``: the next segment ``host`` sends after that record
  (possibly one the record itself causes, such as the SYN-ACK a SYN triggers).

The state is the state of one connection (:attr:`PredictWidget.conn`): the
connection of ``trace[at]`` when it belongs to ``host``, else the one ``host``
last changed the state of.

Examples
--------
>>> from tcpkit.viz import example_trace
>>> t = example_trace("lossy")
>>> q = PredictWidget(t, at=6, question="next_send", host="server")   # the server just got the SYN
>>> q.answer_label
'S. 0:0(0) ack 1'
>>> q.check(choice="S")
False
>>> q.check(text="S. 0:0(0) ack 1 win 64240")
True
>>> q.check(text="S. 0:0(0) ak 1")
False
>>> "column 11" in q.feedback.value
True
>>> q.reveal(); "LISTEN → SYN_RECEIVED" in q.explanation.value
True
>>> s = PredictWidget(t, at=14, question="state", host="client")
>>> s.check(choice="ESTABLISHED")
True
>>> PredictWidget("lossy", at=0)
Traceback (most recent call last):
...
tcpkit.engine.errors.ParameterError: parameter trace = 'lossy' is not allowed: expected a tcpkit Trace ...
>>> PredictWidget(t, at=1.5)
Traceback (most recent call last):
...
tcpkit.engine.errors.ParameterError: parameter at = 1.5 is not allowed: expected a record index (an integer) ...
"""

from __future__ import annotations

import html
import re

import ipywidgets as W
import plotly.graph_objects as go

from tcpkit.engine.errors import ParameterError, SegmentSyntaxError
from tcpkit.engine.segment import Segment, format_flags, parse_segment
from tcpkit.engine.seqnum import MASK
from tcpkit.engine.states import STATES, State
from tcpkit.engine.trace import (
    CallMade,
    ConnId,
    Kind,
    SegmentReceived,
    SegmentSent,
    TimerFired,
    Trace,
    TraceRecord,
)
from tcpkit.i18n import get_language, register
from tcpkit.viz.labels import tr
from tcpkit.viz.ladder import LadderView, segment_label

from ._base import TcpkitWidget, figure_widget, replace_figure
from .flagkey import FlagKey, flag_tooltips
from .player import describe_record

__all__ = ["PredictWidget", "QUESTIONS", "settled_index"]

QUESTIONS = ("next_send", "state", "state_before")
FLAG_CHOICES = ("S", "S.", ".", "P.", "F.", "R", "R.")
NOTHING = "-"

register(
    {
        "w.predict.state_after": (
            "Which state is the {host} in once this record has been processed?",
            "处理完这条记录之后，{host}处于哪个状态？",
        ),
        "w.predict.state_before": (
            "Which state is the {host} in just before this record?",
            "就在这条记录之前，{host}处于哪个状态？",
        ),
        "w.predict.next_after": (
            "What does the {host} send next, after this record?",
            "在这条记录之后，{host}接下来发送什么？",
        ),
        "w.predict.moment": ("The record (t = {time:.3f} s): {what}", "这条记录（t = {time:.3f} 秒）：{what}"),
    }
)


def settled_index(trace: Trace, at: int) -> int:
    """The last record the engine wrote while handling the same input as ``trace[at]``.

    A received segment or a fired timer is recorded first and its effects
    (state changes, segments, timers) after it.  So the step of ``trace[at]``
    runs on while the records keep the same host and time, and ends before the
    next arrival or timer.  A call may be recorded after its effects (the
    simulator) or before them (traces built call by call): records that end in
    a later call at the same moment belong to that call, not to this step.

    >>> from tcpkit.viz import example_trace
    >>> t = example_trace("lossy")
    >>> t[6].kind.value, [r.kind.value for r in t[6 : settled_index(t, 6) + 1]]
    ('recv', ['recv', 'state', 'queue', 'timer_set', 'send'])
    """
    first = trace[at]
    j = at
    while j + 1 < len(trace):
        r = trace[j + 1]
        if r.host != first.host or r.time != first.time or isinstance(r, SegmentReceived | TimerFired):
            break
        if isinstance(r, CallMade):
            # a call recorded after its effects ends the step it belongs to
            return at if isinstance(first, CallMade) else j + 1
        j += 1
    return j


class PredictWidget(TcpkitWidget):
    """Ask about the moment after record ``at`` of a trace, then reveal the answer and why.

    Parameters
    ----------
    trace : Trace
    at : int
        Index of the last record the student has seen.
    question : {"next_send", "state"}
        ``next_send``: what does ``host`` send next?  ``state``: which state is
        ``host`` in after record ``at``?
    host : str
    relative : bool
        Compare sequence numbers relative to the ISNs (as the ladder shows them).

    Notes
    -----
    A typed segment is parsed with :func:`tcpkit.engine.segment.parse_segment`; a
    syntax error shows its column inline.  It is right when flags, sequence
    range and (for an ACK) acknowledgment number match the trace; window and
    options are not compared.
    """

    def __init__(
        self,
        trace: Trace,
        *,
        at: int,
        question: str = "next_send",
        host: str = "server",
        relative: bool = True,
        prompt: str | tuple[str, str] | None = None,
    ) -> None:
        if not isinstance(trace, Trace):
            raise ParameterError("trace", trace, "a tcpkit Trace (e.g. net.trace() or run_scenario(...))")
        if question not in QUESTIONS:
            raise ParameterError("question", question, "one of " + ", ".join(QUESTIONS))
        if isinstance(at, bool) or not isinstance(at, int) or not 0 <= at < len(trace):
            raise ParameterError("at", at, f"a record index (an integer) from 0 to {len(trace) - 1}")
        if not isinstance(host, str) or host not in trace.hosts:
            raise ParameterError("host", host, "a host of the trace: " + ", ".join(trace.hosts))
        if not isinstance(relative, bool):
            raise ParameterError("relative", relative, "True or False")
        if prompt is not None and not (
            isinstance(prompt, str)
            or (isinstance(prompt, tuple) and len(prompt) == 2 and all(isinstance(p, str) for p in prompt))
        ):
            raise ParameterError("prompt", prompt, "a string, or an (English, Chinese) pair of strings")
        super().__init__()
        self.trace, self.at, self.question, self.host, self.relative = trace, at, question, host, relative
        self.custom_prompt = prompt
        self.settled = settled_index(trace, at)
        self.conn: ConnId | None = self._connection()
        self.answer_record: SegmentSent | None = None
        self.answer_index: int | None = None
        if question == "next_send":
            for i in range(at + 1, len(trace)):
                r = trace[i]
                if isinstance(r, SegmentSent) and r.host == host:
                    self.answer_record, self.answer_index = r, i
                    break
            self.answer_label = (
                segment_label(self.answer_record.segment, self.answer_record.seq_base if relative else None)
                if self.answer_record is not None
                else NOTHING
            )
            options = [*FLAG_CHOICES, NOTHING]
        else:
            self.answer_label = self.answer_state().value
            options = [s.value for s in STATES]
        self.prompt = W.HTML()
        self.moment = W.HTML()
        self.choices = W.ToggleButtons(options=options, value=None, style={"button_width": "auto"})
        self.key = FlagKey()
        self.typed_label = W.HTML()
        self.typed = W.Text(placeholder="S. 0:0(0) ack 1", layout=W.Layout(width="360px"))
        self.check_button = W.Button(button_style="primary")
        self.reveal_button = W.Button()
        self.feedback = W.HTML()
        self.explanation = W.HTML()
        self.check_button.on_click(lambda _b: self.check())
        self.reveal_button.on_click(lambda _b: self.reveal())
        view = LadderView(trace[: at + 1], relative=relative, hosts=self._ladder_hosts(trace[: at + 1]))
        self.ladder_fig = figure_widget(view.figure())
        typed_row = [W.HBox([self.typed_label, self.typed])] if question == "next_send" else []
        self.widget = W.VBox(
            [
                self.prompt,
                self.moment,
                self.choices,
                *typed_row,
                W.HBox([self.check_button, self.reveal_button]),
                self.feedback,
                self.explanation,
                self.ladder_fig,
                self.key.widget,
            ]
        )
        self.widget.add_class("tcpkit-predict")
        self.revealed = False
        self.refresh_language()

    def _connection(self) -> ConnId | None:
        """The connection a state question is about (see the module notes)."""
        r = self.trace[self.at]
        if r.host == self.host and r.conn is not None and r.conn[3] != 0:
            return r.conn
        for i in range(self.settled, -1, -1):
            c = self.trace[i]
            if c.kind is Kind.STATE and c.host == self.host:
                return c.conn
        return None

    def answer_state(self) -> State:
        """The state the question asks for: after record ``at`` is processed (``state``) or just before it."""
        upto = self.settled if self.question != "state_before" else self.at - 1
        path = self.trace[: upto + 1].states(self.host, self.conn) if upto >= 0 else []
        return path[-1][1] if path else State.CLOSED

    def _ladder_hosts(self, shown: Trace) -> list[str] | None:
        """The whole trace's host order (so columns do not move on reveal), limited to hosts ``shown`` has."""
        from tcpkit.viz.ladder import order_hosts

        present = set(shown.hosts)
        return [h for h in order_hosts(self.trace) if h in present] or None

    # -- API ----------------------------------------------------------------------------
    def check(self, *, choice: str | None = None, text: str | None = None) -> bool:
        """Check an answer (a choice, or a segment typed in packetdrill notation).

        Without arguments, reads the widget's own controls (what the button does).
        """
        self._check_language()
        if choice is None and text is None:
            text = self.typed.value.strip() or None
            choice = None if text else self.choices.value
        if text:
            if self.question != "next_send":
                try:
                    choice = State.parse(text, "answer").value
                except ParameterError as exc:
                    self.feedback.value = f"<span style='color:#d62728'>{html.escape(str(exc))}</span>"
                    return False
            else:
                try:
                    seg = parse_segment(text)
                except SegmentSyntaxError as exc:
                    self.feedback.value = f"<pre style='color:#d62728'>{html.escape(str(exc))}</pre>"
                    return False
                ok, why = self._compare(seg)
                self._verdict(ok, why)
                return ok
        if choice is None:
            self.feedback.value = html.escape(tr("w.predict.pick"))
            return False
        if self.question == "next_send":
            want = format_flags(self.answer_record.segment.flags) if self.answer_record else NOTHING
        else:
            want = self.answer_label
        ok = choice == want
        self._verdict(
            ok,
            []
            if ok
            else [
                tr(
                    "w.predict.mismatch",
                    field="flags" if self.question == "next_send" else tr("state"),
                    got=choice,
                    want=want,
                )
            ],
        )
        return ok

    def reveal(self) -> None:
        """Show the answer, why it happens, and the ladder up to the answer."""
        self._check_language()
        self.revealed = True
        ans = tr("w.predict.nothing") if self.answer_label == NOTHING else self.answer_label
        self.explanation.value = (
            f"<b>{html.escape(tr('w.predict.answer', answer=ans))}</b><br>"
            f"{html.escape(tr('w.predict.why', why=self._why()))}"
        )
        end = self.settled if self.question == "state" else self.at  # show the state the answer names
        if self.answer_index is not None and self.answer_record is not None:
            end = self.answer_index
            # show the answer arriving too, so its arrow is complete
            for j in range(self.answer_index + 1, len(self.trace)):
                r = self.trace[j]
                if isinstance(r, SegmentReceived) and r.host != self.host and r.segment == self.answer_record.segment:
                    end = j
                    break
        shown = self.trace[: end + 1]
        view = LadderView(shown, relative=self.relative, hosts=self._ladder_hosts(shown))
        replace_figure(self.ladder_fig, view.figure(upto=self.answer_index if self.answer_index is not None else end))

    def static(self) -> go.Figure:
        """A plain Figure of the ladder as currently shown."""
        return go.Figure(self.ladder_fig.to_dict())

    # -- internals ----------------------------------------------------------------------
    def _compare(self, seg: Segment) -> tuple[bool, list[str]]:
        r = self.answer_record
        if r is None:
            return False, [tr("w.predict.mismatch", field="segment", got=seg.notation(), want=tr("w.predict.nothing"))]
        want = r.segment
        base = r.seq_base if (self.relative and r.seq_base is not None) else (0, 0)
        ws, wa = (want.seq - base[0]) & MASK, (want.ack - base[1]) & MASK
        bad = []
        if seg.flags != want.flags:
            bad.append(
                tr("w.predict.mismatch", field="flags", got=format_flags(seg.flags), want=format_flags(want.flags))
            )
        if seg.seq != ws or seg.length != want.length:
            bad.append(
                tr(
                    "w.predict.mismatch",
                    field="seq",
                    got=f"{seg.seq}:{seg.seq + seg.length}({seg.length})",
                    want=f"{ws}:{ws + want.length}({want.length})",
                )
            )
        if want.has_ack and seg.ack != wa:
            bad.append(tr("w.predict.mismatch", field="ack", got=seg.ack, want=wa))
        return not bad, bad

    def _verdict(self, ok: bool, why: list[str]) -> None:
        head = tr("w.predict.right") if ok else tr("w.predict.wrong")
        color = "#2ca02c" if ok else "#d62728"
        items = "".join(f"<li>{html.escape(w)}</li>" for w in why)
        self.feedback.value = f"<b style='color:{color}'>{html.escape(head)}</b>" + (
            f"<ul>{items}</ul>" if items else ""
        )

    def _why(self) -> str:
        """The STATE record (or arrival, or timer) that explains the answer."""
        t = self.trace
        if self.question != "next_send":
            upto = self.settled if self.question == "state" else self.at - 1
            for i in range(upto, -1, -1):
                r = t[i]
                if r.kind is Kind.STATE and r.host == self.host and (self.conn is None or r.conn == self.conn):
                    return describe_record(r)
            return describe_record(t[self.at])
        if self.answer_index is None:
            return tr("w.predict.nothing")
        # a state change of this host at the answer's time, else the last arrival or timer before it
        for i in range(self.answer_index, -1, -1):
            r = t[i]
            if r.host != self.host or r.time < t[self.answer_index].time - 1e-9:
                continue
            if r.kind is Kind.STATE:
                return describe_record(r)
        for i in range(self.answer_index - 1, -1, -1):
            r = t[i]
            if r.host == self.host and r.kind in (Kind.RECV, Kind.TIMER_FIRE, Kind.CALL):
                return describe_record(r)
        return describe_record(t[self.answer_index])

    def _moment_text(self, r: TraceRecord) -> str:
        """The record in words; a segment in the ladder's numbers (relative to the ISNs when ``relative``)."""
        if isinstance(r, SegmentSent | SegmentReceived):
            base = r.seq_base if self.relative else None
            if self.relative and isinstance(r, SegmentReceived):
                # an arrival carries the receiver's view, which may not know the sender's ISN yet:
                # number it as its sender did when it left
                sent = next(
                    (
                        x
                        for x in reversed(self.trace[: self.at])
                        if isinstance(x, SegmentSent) and x.host != r.host and x.segment == r.segment
                    ),
                    None,
                )
                base = sent.seq_base if sent is not None else None
            h = tr(r.host) if r.host in ("client", "server", "attacker") else r.host
            verb = tr("sent") if isinstance(r, SegmentSent) else tr("received")
            return f"{h} {verb}: {segment_label(r.segment, base)}"
        return describe_record(r)

    def refresh_language(self) -> None:
        h = tr(self.host) if self.host in ("client", "server", "attacker") else self.host
        key = {"next_send": "w.predict.next_after", "state": "w.predict.state_after"}.get(
            self.question, "w.predict.state_before"
        )
        lead = ""
        if self.custom_prompt is not None:
            en, zh = (
                (self.custom_prompt, self.custom_prompt) if isinstance(self.custom_prompt, str) else self.custom_prompt
            )
            lead = re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(zh if get_language() == "zh" else en)) + "<br>"
        self.prompt.value = f"{lead}<b>{html.escape(tr(key, host=h))}</b>"
        r = self.trace[self.at]
        self.moment.value = html.escape(tr("w.predict.moment", time=r.time, what=self._moment_text(r)))
        if self.question == "next_send":
            self.choices.tooltips = flag_tooltips(list(self.choices.options))
        self.key.refresh()
        self.typed_label.value = html.escape(tr("w.predict.type"))
        self.check_button.description = tr("w.predict.check")
        self.reveal_button.description = tr("w.predict.reveal")
        if self.revealed:
            self.reveal()
