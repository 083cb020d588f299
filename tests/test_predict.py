"""PredictWidget says exactly what it asks: 'state' is the state after the record at ``at`` is processed.

The oracle is the engine itself: the same run is built again and the simulator stepped one event at a
time until the record exists; the socket's state is then read from the host's stack.
"""

from __future__ import annotations

import pytest

from tcpkit.engine.errors import ParameterError
from tcpkit.engine.states import State
from tcpkit.engine.trace import Trace
from tcpkit.lessons.runs import RUNS, Run, build_run, find_record
from tcpkit.viz.examples import example_trace
from tcpkit.widgets import PredictWidget, set_language
from tcpkit.widgets._base import live_widgets
from tcpkit.widgets.predict import settled_index


@pytest.fixture(autouse=True)
def english():
    set_language("en")
    yield
    for w in live_widgets():
        w.close()
    set_language("en")


def engine_state_after(run: Run, at: int, host: str, conn: tuple | None) -> State:
    """Step ``run``'s simulator until record ``at`` exists and its event is handled; read ``host``'s state."""
    net = run.net
    while len(net.records) <= at:
        assert net.sim.step(), f"the run ended before record {at}"
    if conn is None:
        return State.CLOSED
    for info in net.hosts[host].stack.sockets():
        if info.conn == conn:
            return info.state
    return State.CLOSED  # the connection is gone


def test_04_client_is_in_fin_wait_2_right_after_the_ack_of_its_fin() -> None:
    trace = build_run("client-closes-first").finish()
    at = find_record(trace, kind="recv", host="client", after=1.0)
    q = PredictWidget(trace, at=at, question="state", host="client")
    assert q.answer_label == "FIN_WAIT_2"
    assert q.check(choice="FIN_WAIT_2") and q.check(text="fin-wait-2")
    assert not q.check(choice="FIN_WAIT_1")
    assert "FIN_WAIT_1" in q.feedback.value and "FIN_WAIT_2" in q.feedback.value
    assert "once this record has been processed" in q.prompt.value
    assert "t = 1.020 s" in q.moment.value
    before = PredictWidget(trace, at=at, question="state_before", host="client")
    assert before.answer_label == "FIN_WAIT_1" and "just before this record" in before.prompt.value
    q.reveal()
    assert "FIN_WAIT_1 → FIN_WAIT_2" in q.explanation.value


@pytest.mark.parametrize("name", sorted(RUNS))
def test_every_record_of_every_run_agrees_with_the_engine(name: str) -> None:
    """For every record index of the run, the widget's 'state after' equals the stepped engine's state."""
    trace = build_run(name).finish()
    hosts = [h for h in ("client", "server") if h in trace.hosts]
    checked = 0
    for at in range(0, len(trace), 1 if len(trace) < 40 else 3):
        for host in hosts:
            q = PredictWidget(trace, at=at, question="state", host=host)
            want = engine_state_after(build_run(name), settled_index(trace, at), host, q.conn)
            oracle = engine_state_after(build_run(name), at, host, q.conn)
            assert q.answer_state() is want is oracle, (name, at, trace[at], host)
            q.close()
            checked += 1
    assert checked >= 20


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"trace": "str", "at": 0}, "trace"),
        ({"at": 1.5}, "at"),
        ({"at": True}, "at"),
        ({"at": -1}, "at"),
        ({"at": "3"}, "at"),
        ({"at": 1, "question": "why"}, "question"),
        ({"at": 1, "host": "bob"}, "host"),
        ({"at": 1, "relative": "yes"}, "relative"),
        ({"at": 1, "prompt": 3}, "prompt"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs: dict, name: str) -> None:
    kwargs = {"trace": example_trace("lossy"), **kwargs}
    trace = kwargs.pop("trace")
    with pytest.raises(ParameterError) as info:
        PredictWidget(trace, **kwargs)
    assert info.value.name == name


def test_the_flag_key_is_shown_with_hover_text_in_both_languages() -> None:
    q = PredictWidget(example_trace("lossy"), at=6, question="next_send", host="server")
    key = q.key.widget.value
    for letters in ("S", "S.", ".", "P.", "F.", "R", "R."):
        assert f"<code><b>{letters}</b></code>" in key
    assert "title=" in key
    assert q.choices.tooltips[q.choices.options.index("F.")].startswith("F. = FIN and ACK")
    set_language("zh")
    assert "标志位" in q.key.widget.value and "只有 SYN" in q.key.widget.value
    assert "在这条记录之后" in q.prompt.value


def test_a_custom_prompt_is_shown_above_the_exact_question() -> None:
    q = PredictWidget(example_trace("lossy"), at=6, host="server", prompt=("The SYN arrived.", "SYN 到了。"))
    assert q.prompt.value.startswith("The SYN arrived.<br><b>What does the server send next, after this record?")
    set_language("zh")
    assert q.prompt.value.startswith("SYN 到了。")


def test_a_typed_state_in_any_spelling_and_a_wrong_name() -> None:
    t = example_trace("lossy")
    q = PredictWidget(t, at=14, question="state", host="client")
    assert q.check(text="established")
    assert not q.check(text="OPEN")
    assert "OPEN" in q.feedback.value and "one of" in q.feedback.value


def test_settled_index_stops_at_the_next_input_and_at_a_later_call() -> None:
    trace: Trace = build_run("client-closes-first").finish()
    for at in range(len(trace)):
        j = settled_index(trace, at)
        assert at <= j < len(trace)
        assert all(r.host == trace[at].host and r.time == trace[at].time for r in trace[at : j + 1])


def test_the_trace_player_shows_the_flag_key_under_its_controls() -> None:
    from tcpkit.widgets import TracePlayer

    p = TracePlayer(example_trace("lossy"))
    assert p.key.widget in p.widget.children and "<code><b>F.</b></code>" in p.key.widget.value
    set_language("zh")
    assert "只有 RST" in p.key.widget.value


def test_the_record_in_the_prompt_uses_the_ladders_relative_numbers() -> None:
    handshake = build_run("handshake").finish()
    q = PredictWidget(handshake, at=find_record(handshake, kind="recv", host="server"), host="server")
    assert q.moment.value.endswith("server received: S 0:0(0)")
    close = build_run("client-closes-first").finish()
    q = PredictWidget(
        close, at=find_record(close, kind="recv", host="client", after=1.0), question="state", host="client"
    )
    assert q.moment.value.endswith("client received: . 1:1(0) ack 2")
    q.reveal()  # the ladder now reaches the state the answer names
    assert "FIN_WAIT_2" in str(q.ladder_fig.to_dict()["layout"]) + str(q.ladder_fig.to_dict()["data"])
