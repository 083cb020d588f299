"""Check-yourself questions: answers, feedback, bad input, widgets and static views."""

from __future__ import annotations

import pytest

from tcpkit.engine.errors import ParameterError, TcpkitError
from tcpkit.lessons.quiz import Feedback, MultipleChoice, Numeric, Quiz, ShortText, normalise_text


def _mc() -> MultipleChoice:
    return MultipleChoice(
        "Who enters TIME_WAIT?",
        ["the side that closes first", "the side that closes last", "both"],
        answer=0,
        feedback={1: "The last closer goes through LAST_ACK to CLOSED."},
        explanation="The active closer sends the last ACK.",
    )


@pytest.mark.parametrize("answer", [0, "a", "A", " the side that closes FIRST "])
def test_multiple_choice_accepts_index_letter_and_text(answer: object) -> None:
    fb = _mc().check(answer)
    assert fb.correct and bool(fb)
    assert "The active closer" in fb.message


def test_multiple_choice_targeted_feedback_for_a_misconception() -> None:
    fb = _mc().check("b")
    assert not fb.correct
    assert "LAST_ACK" in fb.message


def test_multiple_choice_generic_feedback_names_the_wrong_option() -> None:
    fb = _mc().check(2)
    assert not fb.correct and "'both'" in fb.message


@pytest.mark.parametrize("bad", [3, -1, "d", "neither", True, 1.5, None])
def test_multiple_choice_rejects_answers_that_are_not_options(bad: object) -> None:
    with pytest.raises(ParameterError, match="option number from 0 to 2"):
        _mc().check(bad)


def test_multi_answer_needs_exactly_the_right_set() -> None:
    q = MultipleChoice("Pick the synchronized states", ["LISTEN", "ESTABLISHED", "TIME_WAIT"], answer={1, 2})
    assert q.check(["b", "c"]).correct
    assert not q.check(["b"]).correct
    assert "missing" in q.check(["b"]).message
    assert not q.check(["a", "b", "c"]).correct


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"options": ["only one"], "answer": 0}, "options"),
        ({"options": "ab", "answer": 0}, "options"),
        ({"options": ["a", "b"], "answer": 2}, "answer"),
        ({"options": ["a", "b"], "answer": set()}, "answer"),
    ],
)
def test_multiple_choice_construction_errors_name_the_parameter(kwargs: dict, name: str) -> None:
    with pytest.raises(ParameterError) as info:
        MultipleChoice("q?", **kwargs)
    assert info.value.name == name


def test_numeric_tolerances_and_direction() -> None:
    q = Numeric("2MSL in Linux?", 60, tol=1, unit="s")
    assert q.check(60.9).correct
    assert q.check("59 s").correct
    assert q.check("1,000").message.startswith("Not quite: 1000 s is too high")
    assert "too low" in q.check(-3).message
    r = Numeric("ports", 28232, rel_tol=0.01)
    assert r.check(28000).correct and not r.check(27000).correct


@pytest.mark.parametrize("bad", ["", "lots", float("nan"), None, [60], True])
def test_numeric_rejects_non_numbers(bad: object) -> None:
    with pytest.raises(TcpkitError, match="a number"):
        Numeric("x", 1).check(bad)


def test_numeric_construction_errors() -> None:
    with pytest.raises(ParameterError):
        Numeric("x", float("inf"))
    with pytest.raises(ParameterError):
        Numeric("x", 1, tol=-1)


def test_short_text_normalises_spelling_and_knows_near_misses() -> None:
    q = ShortText(
        "The state after a passive close's FIN is acknowledged?",
        accept=["CLOSED"],
        near_misses={"CLOSED_WAIT": "that state is called CLOSE_WAIT, and it is not the answer"},
    )
    assert q.check(" closed ").correct
    fb = q.check("closed-wait")
    assert not fb.correct and "CLOSE_WAIT" in fb.message
    assert "empty" in q.check("   ").message


def test_short_text_pattern() -> None:
    q = ShortText(
        "An nstat counter for accept-queue overflows",
        accept=["ListenOverflows"],
        pattern=r"(tcp ?ext ?)?listen ?overflows?",
    )
    assert q.check("TcpExtListenOverflows").correct
    assert q.check("TcpExt ListenOverflow").correct
    assert not q.check("ListenDrops").correct
    with pytest.raises(ParameterError, match="regular expression"):
        ShortText("x", accept=["a"], pattern="(")
    with pytest.raises(ParameterError, match="a string"):
        q.check(3)


def test_normalise_text() -> None:
    assert normalise_text("FIN_WAIT-2") == normalise_text("fin wait 2") == "fin wait 2"


def test_bad_prompt_and_role() -> None:
    with pytest.raises(ParameterError):
        ShortText("  ", accept=["a"])
    with pytest.raises(ParameterError, match="'check' or 'predict'"):
        ShortText("x", accept=["a"], role="exam")


def test_quiz_numbers_from_one_and_renders_static_html() -> None:
    quiz = Quiz("Check yourself", [_mc(), Numeric("SYN-ACK give-up time", 63, unit="s", role="predict")])
    assert quiz.check(1, "a").correct and not quiz.check(2, 31).correct
    html = quiz.static_html()
    assert "Q1." in html and "Q2." in html and "<details>" in html and "63 s" in html
    assert "Predict" in html and "Check yourself" in html
    text = str(quiz)
    assert "a) the side that closes first" in text
    with pytest.raises(ParameterError):
        Quiz("empty", [])
    with pytest.raises(ParameterError):
        quiz.check(0, "a")


def test_predictions_point_to_the_run_that_reveals_them() -> None:
    q = Numeric("SYN-ACK give-up time", 63, unit="s", role="predict", hint="Add the waits.")
    assert q.check(63).message.endswith("Now run the next cell and watch it happen.")
    wrong = q.check(31).message
    assert "Add the waits." in wrong and "run the next cell" in wrong and "Try again" not in wrong


def test_headless_display_has_no_widget_view() -> None:
    data = _mc()._repr_mimebundle_()
    assert set(data) == {"text/plain", "text/html"}
    assert "Show the answer" in data["text/html"]


def test_feedback_html_marks_right_and_wrong() -> None:
    assert "&#10004;" in Feedback(True, "ok")._repr_html_()
    assert "&#10008;" in Feedback(False, "<b>")._repr_html_()
    assert "&lt;b&gt;" in Feedback(False, "<b>")._repr_html_()


def _buttons(box):  # type: ignore[no-untyped-def]
    row = box.children[2]
    return row.children[0], row.children[1], box.children[3]


def test_widget_check_button_gives_immediate_feedback() -> None:
    box = _mc().widget(1)
    radio = box.children[1]
    check, show, out = _buttons(box)
    assert show.layout.display == "none", "the answer stays closed until a first attempt"
    radio.value = 1
    check.click()
    assert show.layout.display != "none"
    assert "LAST_ACK" in out.value and "&#10008;" in out.value
    radio.value = 0
    check.click()
    assert "&#10004;" in out.value
    show.click()
    assert "the side that closes first" in out.value


def test_widget_reports_bad_input_instead_of_raising() -> None:
    box = Numeric("x", 1).widget()
    text = box.children[1]
    check, _, out = _buttons(box)
    check.click()
    assert "answer first" in out.value
    text.value = "many"
    check.click()
    assert "a number" in out.value


def test_multi_answer_widget_uses_a_multi_select() -> None:
    q = MultipleChoice("Pick", ["a", "b", "c"], answer={0, 2})
    box = q.widget()
    sel = box.children[1]
    check, _, out = _buttons(box)
    sel.value = (0, 2)
    check.click()
    assert "&#10004;" in out.value


def test_in_a_kernel_the_bundle_adds_the_widget_view(monkeypatch: pytest.MonkeyPatch) -> None:
    import tcpkit.lessons.quiz as quiz_mod

    monkeypatch.setattr(quiz_mod, "_in_kernel", lambda: True)
    data = _mc()._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data
    assert "model_id" in data["application/vnd.jupyter.widget-view+json"]
    assert "text/html" in data  # the static view stays for renderers without a widget manager
    quiz = Quiz("t", [_mc()])
    assert "application/vnd.jupyter.widget-view+json" in quiz._repr_mimebundle_()
