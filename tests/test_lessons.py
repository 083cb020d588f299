"""The question bank, computed answers and seeds, the construction tasks, the glossary, and every predict
point of every notebook checked against the engine."""

from __future__ import annotations

import html
import random
import re
from pathlib import Path

import nbformat
import pytest

from tcpkit.engine.errors import ParameterError
from tcpkit.engine.states import State
from tcpkit.engine.trace import SegmentSent
from tcpkit.i18n import flag_key, glossary, set_language
from tcpkit.lessons import ask, check_yourself, key_terms, load_bank, questions
from tcpkit.lessons import rules as rules_mod
from tcpkit.lessons.bank import PREDICT_KINDS, BankError, BankQuestion, Spec, _spec
from tcpkit.lessons.construct import ConstructTask, TryFirst, model_path, placeholder_line
from tcpkit.lessons.rules import Given
from tcpkit.lessons.runs import build_run
from tcpkit.lessons.tasks import lab_server_first
from tcpkit.viz.ladder import segment_label
from tcpkit.widgets._base import live_widgets

ROOT = Path(__file__).resolve().parent.parent
CJK = re.compile(r"[\u4e00-\u9fff]")
ANSWERABLE = ("choice", "numeric", "text", "state")


@pytest.fixture(autouse=True)
def english():
    set_language("en")
    yield
    for w in live_widgets():
        w.close()
    set_language("en")


def _right_answer(q: BankQuestion) -> object:
    inner = q.inner()
    if q.spec.kind == "choice":
        return sorted(inner.answers) if inner.multi else next(iter(inner.answers))
    if q.spec.kind == "numeric":
        return inner.answer
    if q.spec.kind == "state":
        return inner.answer.value
    return inner.accept[0]


def _wrong_answer(q: BankQuestion) -> object:
    inner = q.inner()
    if q.spec.kind == "choice":
        others = [i for i in range(len(inner.options)) if i not in inner.answers]
        if inner.multi:
            return [others[0]] if others else sorted(inner.answers)[1:]  # a wrong option, or one right one missing
        return others[0]
    if q.spec.kind == "numeric":
        return inner.answer * 3 + 7
    if q.spec.kind == "state":
        return next(s.value for s in State if s is not inner.answer)
    return "certainly not this"


# ------------------------------------------------------------------------------------------- the bank
def test_the_bank_loads_every_notebook_with_prompts_in_both_languages() -> None:
    bank = load_bank()
    assert {s.notebook for s in bank.values()} == {"00", "01", "02", "03", "04", "05", "06"}
    for s in bank.values():
        assert s.prompt.strip() and CJK.search(s.prompt_zh), s.id
        if s.kind == "choice":
            assert all(o["zh"].strip() for o in s.options), s.id


@pytest.mark.parametrize("qid", [q for q, s in load_bank().items() if s.kind in ANSWERABLE])
def test_every_question_accepts_its_answer_and_rejects_another(qid: str) -> None:
    q = ask(qid)
    assert q.check(_right_answer(q)).correct, (qid, q.answer_text())
    assert not q.check(_wrong_answer(q)).correct
    assert q.reveal().startswith("Answer: ")


def test_facts_of_the_engine_are_computed_when_revealed_not_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def counting(_rng: random.Random | None) -> Given:
        return Given({"backlog": 4}, lambda: calls.append(1) or 5)

    monkeypatch.setitem(rules_mod.RULES, "accept-queue-fit", counting)
    q = BankQuestion(load_bank()["03.accept-queue-size"])
    q.static_html()
    q.widget()
    assert calls == [], "displaying a question must not compute its answer"
    assert q.check(5).correct and calls == [1]
    assert q.check(4).correct is False and calls == [1], "computed once"


def test_engine_facts_are_rules_not_typed_answers() -> None:
    """Every question whose answer is a state, a time or a count of the engine names a rule."""
    for s in load_bank().values():
        if s.kind == "state":
            assert s.rule is not None, f"{s.id}: a state is a fact of the engine"
        if s.kind == "numeric" and s.answer is not None:
            assert s.id == "02.rfc793-tick", f"{s.id}: typed number; compute it from the engine"


@pytest.mark.parametrize("qid", [q for q, s in load_bank().items() if s.seedable])
def test_a_seed_gives_new_numbers_and_the_answer_follows(qid: str) -> None:
    base = ask(qid)
    seeded = [ask(qid, seed=k) for k in range(1, 6)]
    assert any(q.prompt != base.prompt for q in seeded), "some seed changes the numbers"
    assert ask(qid, seed=3).prompt == seeded[2].prompt, "the same seed gives the same question"
    for q in seeded[:2]:
        assert q.check(_right_answer(q)).correct


def test_a_seed_for_a_question_without_numbers_is_refused() -> None:
    with pytest.raises(ParameterError) as info:
        ask("01.why-third", seed=2)
    assert info.value.name == "seed"
    with pytest.raises(ParameterError) as info:
        ask("03.accept-queue-size", seed="7")  # type: ignore[arg-type]
    assert info.value.name == "seed"
    with pytest.raises(ParameterError, match="question"):
        ask("09.nothing")


def test_the_static_view_never_shows_the_answer() -> None:
    for s in questions():
        if s.kind not in ANSWERABLE:
            continue
        html = BankQuestion(s).static_html()
        assert "<details>" not in html and "Answer" not in html, s.id
        assert f"ask(&quot;{s.id}&quot;)" in html


def test_the_widget_shows_the_answer_only_after_a_try_and_new_numbers_change_the_prompt() -> None:
    q = ask("03.accept-queue-size")
    box = q.widget(1)
    prompt, inp, row, out = box.children[:4]
    check, show = row.children
    assert show.layout.display == "none"
    inp.value = "4"
    check.click()
    assert "too low" in out.value and show.layout.display != "none"
    show.click()
    assert "Answer: 5" in out.value
    again = box.children[-1]
    assert again.description == "New numbers"
    again.click()
    assert box.children[0].value != prompt.value


def test_chinese_prompt_and_options() -> None:
    set_language("zh")
    box = ask("05.which-sysctl").widget()
    assert "哪个 sysctl" in box.children[0].value
    assert any("固定为 60 秒" in label for label, _ in box.children[1].options)
    assert box.children[0].value.startswith("<b>自测</b>")
    assert box.children[2].children[0].description == "检查" and box.children[2].children[1].description == "显示答案"


def test_check_yourself_numbers_the_notebooks_check_questions() -> None:
    quiz = check_yourself("04")
    assert len(quiz) == len([s for s in questions("04") if s.role == "check"])
    assert quiz.check(1, "close-wait").correct
    with pytest.raises(ParameterError):
        check_yourself("7")


@pytest.mark.parametrize(
    ("fields", "complaint"),
    [
        ({"id": "3.bad"}, "NN.words"),
        ({"kind": "essay"}, "kind"),
        ({"prompt_zh": ""}, "prompt_zh"),
        ({"rule": "accept-queue-fit"}, "exactly one of answer"),
        ({"answer": "z"}, "not options"),
        ({"colour": "red"}, "fields not used"),
    ],
)
def test_a_malformed_bank_entry_is_named(fields: dict, complaint: str) -> None:
    d = {
        "id": "03.x",
        "kind": "choice",
        "prompt": "p",
        "prompt_zh": "问",
        "answer": "a",
        "option": [{"key": "a", "text": "A", "zh": "甲"}, {"key": "b", "text": "B", "zh": "乙"}],
        **fields,
    }
    with pytest.raises(BankError, match=complaint):
        _spec(d, "bank/03.toml")


# ------------------------------------------------------------------------------------------- construction tasks
WRONG = {
    "00.walk-path": (
        "path = [Event.ACTIVE_OPEN, Event.RCV_FIN]",
        "Step 2: in SYN_SENT the table has no row for rcv FIN",
    ),
    "01.simultaneous-open": (
        "MODEL:> S. 0:0(0) ack 1 <...>=>> . 1:1(0) ack 1",
        "flags differ: your script expects .",
    ),
    "02.keyed-isn": ("def my_isn(now, conn):\n    return int(now / 4e-6) % 2**32\n", "extrapolating from its own"),
    "03.flood-config": ("listener = dict(backlog=4096, tcp_syncookies=0)", "ListenDrops"),
    "04.simultaneous-close": ("MODEL:TCP_CLOSING=>TCP_FIN_WAIT2", "your script expects"),
    "05.port-knobs": ('knobs = {"tcp_fin_timeout": 10}', "tcp_fin_timeout only bounds an orphaned FIN_WAIT_2"),
    "06.server-first": (
        'MODEL:lab.close(s, "server")  # the server closes first ...=>lab.close(c, "client")',
        "The first end to close is the client",
    ),
}
TASKS = [q for q, s in load_bank().items() if s.kind == "construct"]


def _model(qid: str) -> str:
    return model_path(load_bank()[qid].extra["model"]).read_text(encoding="utf-8")


def _wrong(qid: str) -> tuple[str, str]:
    text, want = WRONG[qid]
    if text.startswith("MODEL:"):
        old, new = text[len("MODEL:") :].split("=>")
        model = _model(qid)
        assert old in model
        text = model.replace(old, new, 1)
    return text, want


def test_every_notebook_01_to_06_has_a_task_and_every_task_a_wrong_attempt_here() -> None:
    assert {q[:2] for q in TASKS} >= {"01", "02", "03", "04", "05", "06"}
    assert set(TASKS) == set(WRONG)


@pytest.mark.parametrize("qid", TASKS)
def test_a_wrong_attempt_gets_a_specific_explanation_and_the_model_answer_passes(qid: str) -> None:
    task = ask(qid)
    assert isinstance(task, ConstructTask)
    empty = task.check()
    assert not empty and "still holds `...`" in empty.message and task.attempts == 0
    text, want = _wrong(qid)
    v = task.check(text)
    assert not v.ok and want in v.message, v.message
    assert want in html.unescape(re.sub(r"</?code>", "`", task.feedback.value))
    good = task.check(_model(qid))
    assert good.ok, good
    assert "It works." in task.feedback.value


def test_packetdrill_tasks_point_at_the_line_and_column() -> None:
    task = ask("01.simultaneous-open")
    model = _model("01.simultaneous-open")
    broken = model.replace("+.1  < S 0:0(0) win 65535", "+.1  < S 0:0(0) wn 65535")
    v = task.check(broken)
    line = broken.splitlines().index(next(x for x in broken.splitlines() if " wn " in x)) + 1
    assert (v.line, v.column) == (line, 17) and "unexpected 'wn'" in v.message
    assert f"{line:>3} | " in task.feedback.value and "^" in task.feedback.value
    no_walk = model.replace("+.1  < S 0:0(0) win 65535 <mss 1460>", "+.1  < S. 0:0(0) ack 1 win 65535 <mss 1460>")
    v = task.check(no_walk)
    assert not v.ok


def test_the_isn_task_explains_each_kind_of_weak_generator() -> None:
    task = ask("02.keyed-isn")
    cases = {
        "import random\ndef my_isn(now, conn):\n    return random.getrandbits(32)\n": "must give the same ISN",
        "def my_isn(now, conn):\n    return 0\n": "did not move forward",
        (
            "import zlib\ndef my_isn(now, conn):\n"
            "    return (int(now / 4e-6) + zlib.crc32(repr(conn).encode())) % 2**32\n"
        ): "running your code on its own machine",
        "def my_isn(now, conn):\n    return -1\n": "an ISN is an int from 0 to 2**32 - 1",
        "def my_isn(now, conn):\n    return 1 / 0\n": "ZeroDivisionError at line 2",
        "def my_isn(now, conn)\n    return 1\n": "Line 1, column",
        "x = 1\n": "Define a function my_isn",
    }
    for text, want in cases.items():
        v = task.check(text)
        assert not v.ok and want in v.message, (text, v.message)


def test_the_port_task_names_removed_and_fixed_knobs() -> None:
    task = ask("05.port-knobs")
    assert "removed" in task.check('knobs = {"tcp_tw_recycle": 1}').message
    assert "no sysctl" in task.check('knobs = {"time_wait_len": 1}').message
    assert "needs TCP timestamps" in task.check('knobs = {"tcp_tw_reuse": 1, "tcp_timestamps": 0}').message
    assert "loopback" in task.check("knobs = {}").message


def test_the_flood_task_names_an_unknown_setting_and_a_full_syn_queue() -> None:
    task = ask("03.flood-config")
    assert "'backlog_size' is not a setting" in task.check("listener = dict(backlog_size=5)").message
    v = task.check("listener = dict(tcp_syncookies=0)")
    assert "the SYN queue was full of spoofed requests" in v.message and "TCPReqQFullDrop=" in v.details
    assert "refuses this configuration" in task.check("listener = dict(tcp_syncookies=7)").message


def test_the_lab_task_without_proc_checks_the_calls_and_shows_recorded_observations(tmp_path: Path) -> None:
    v = lab_server_first(_model("06.server-first"), proc_root=tmp_path)
    assert v.ok and "no Linux /proc/net/tcp" in v.message and "recorded" in v.details
    text, want = _wrong("06.server-first")
    assert want in lab_server_first(text, proc_root=tmp_path).message


def test_the_model_answer_opens_only_after_a_first_attempt_and_is_not_in_the_widget() -> None:
    for qid in TASKS:
        task = ask(qid)
        model = _model(qid)
        hints = " ".join(task.spec.extra["hints"])  # a hint may quote a line; the answer as a whole stays hidden
        own = [
            ln.strip()
            for ln in model.splitlines()
            if len(ln.strip()) > 20 and ln.strip() not in task.scaffold and ln.strip() not in hints
        ]
        state = repr(vars(task)) + repr(task.spec) + "".join(str(getattr(w, "value", "")) for w in task.widget.children)
        assert own and not any(line in state for line in own), qid
        assert task.model_button.layout.display == "none"
        with pytest.raises(TryFirst):
            task.model_answer()
        task.check("something of my own")
        assert task.model_button.layout.display != "none"
        task.model_button.click()
        assert html.escape(own[0]) in task.model.value


def test_hints_open_one_at_a_time() -> None:
    task = ask("04.simultaneous-close")
    hints = task.spec.extra["hints"]
    assert task.hint_button.description == f"Hint ({len(hints)} left)"
    assert task.hint() == hints[0] and task.hints.value.count("<b>Hint ") == 1
    task.hint_button.click()
    assert "<b>Hint 2:</b>" in task.hints.value and "<b>Hint 3:" not in task.hints.value
    while task.hint() is not None:
        pass
    assert task.hint_button.disabled and task.hints.value.count("<b>Hint ") == len(hints)
    assert "<code>" in task.hints.value
    set_language("zh")
    assert "对方 FIN" in task.hints.value and "提示 1" in task.hints.value


def test_placeholders_are_lines_of_dots_only() -> None:
    assert placeholder_line("+0 > S 0:0(0) <...>\n...\n") == 2
    assert placeholder_line("    ...  # here\n") == 1
    assert placeholder_line("x = f(...)\n") is None


# ------------------------------------------------------------------------------------------- predict points
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
ASK = re.compile(r'ask\("(\d\d\.[a-z0-9-]+)"')


def _predict_points() -> list[str]:
    bank = load_bank()
    out = []
    for path in NOTEBOOKS:
        nb = nbformat.read(str(path), as_version=4)
        for c in nb.cells:
            if c.cell_type == "code":
                out += [q for q in ASK.findall(c.source) if bank[q].kind in PREDICT_KINDS]
    return out


def test_the_notebooks_use_no_hand_built_predict_widget() -> None:
    for path in NOTEBOOKS:
        nb = nbformat.read(str(path), as_version=4)
        assert not any("PredictWidget(" in c.source for c in nb.cells if c.cell_type == "code"), path.name


@pytest.mark.parametrize("qid", _predict_points())
def test_every_predict_point_agrees_with_the_engine_after_that_record(qid: str) -> None:
    """Step the same run event by event until the record exists; the engine's own answer must match."""
    spec: Spec = load_bank()[qid]
    w = ask(qid)
    run = build_run(spec.run or "", spec.seed)
    net = run.net
    while len(net.records) <= w.at:
        assert net.sim.step()
    assert net.records[w.at] == w.trace[w.at], "the oracle runs the same simulation"
    if spec.kind == "predict_state":
        infos = {i.conn: i.state for i in net.hosts[spec.host or ""].stack.sockets()}
        engine = infos.get(w.conn, State.CLOSED) if w.conn is not None else State.CLOSED
        assert w.answer_label == engine.value
        assert w.check(choice=engine.value)
    elif spec.kind == "predict_send":
        start = w.at + 1
        while not any(isinstance(r, SegmentSent) and r.host == spec.host for r in net.records[start:]):
            assert net.sim.step()
        sent = next(r for r in net.records[start:] if isinstance(r, SegmentSent) and r.host == spec.host)
        assert w.answer_label == segment_label(sent.segment, sent.seq_base)
    else:  # just before the record: the engine as it was when the record's step began
        assert spec.kind == "predict_state_before"


def test_there_are_predict_points_to_walk() -> None:
    assert {"01.synack-reply", "04.state-after-fin-acked"} <= set(_predict_points())


# ------------------------------------------------------------------------------------------- the glossary
def test_every_glossary_entry_has_a_one_line_meaning_in_both_languages() -> None:
    entries = glossary()
    assert len(entries) >= 60
    for t in entries:
        assert t.meaning.strip() and t.meaning_zh.strip(), t.name
        assert "\n" not in t.meaning and "\n" not in t.meaning_zh, t.name
        assert CJK.search(t.meaning_zh), t.name
        if t.kind in ("term", "state"):
            assert CJK.search(t.zh), t.name


def test_half_open_and_the_syn_queue_entry_are_two_terms() -> None:
    g = {t.name: t for t in glossary()}
    half_open = g["half-open connection"]
    assert half_open.zh == "半开连接" and "RFC 9293 §3.5.1" in half_open.meaning and "crash" in half_open.meaning
    entry = g["SYN-queue entry (request socket)"]
    assert entry.zh == "半连接" and "SYN_RECEIVED" in entry.meaning and "not RFC 9293's half-open" in entry.meaning
    assert g["SYN queue"].zh == "半连接队列"


def test_the_flag_key_covers_every_letter_the_course_prints() -> None:
    assert [t.name for t in flag_key()] == ["S", "S.", ".", "P.", "F.", "R", "R.", "-"]


@pytest.mark.parametrize("nb", ["00", "01", "02", "03", "04", "05", "06"])
def test_every_notebook_has_key_terms_from_the_glossary(nb: str) -> None:
    t = key_terms(nb)
    assert len(t.rows) >= 5
    set_language("zh")
    assert t.columns != key_terms(nb).columns and CJK.search(key_terms(nb).rows[0][2])
