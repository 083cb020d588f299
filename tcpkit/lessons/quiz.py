"""Check-yourself questions with immediate, ungraded feedback.

Three kinds of question: :class:`MultipleChoice`, :class:`Numeric` (with a
tolerance) and :class:`ShortText` (with accepted spellings and targeted
feedback for known wrong answers).  Each one

* answers ``check(answer)`` with a :class:`Feedback` (plain Python, works
  headless, in a terminal, in a test);
* shows itself in JupyterLab as a small ipywidget (an input, a *Check* button
  and a feedback line) when a kernel is running;
* shows itself as static HTML/text when the notebook is rendered without a
  kernel (GitHub, nbviewer), with the answer folded away in a ``<details>``.

Nothing is graded or recorded: the feedback is for the learner only.  A
:class:`Quiz` groups questions under a title; ``role="predict"`` marks a
question asked *before* a run (predict, then reveal).

Examples
--------
>>> q = MultipleChoice("Which flag opens a connection?", ["FIN", "SYN", "RST"], answer=1,
...                    explanation="SYN carries the initial sequence number.")
>>> q.check("SYN").correct
True
>>> print(q.check("b"))
Correct. SYN carries the initial sequence number.
>>> print(q.check(0))
Not quite: 'FIN' is not it. Try again.
>>> n = Numeric("SYN-ACK retransmissions give up after how many seconds?", 63, tol=0.5, unit="s")
>>> print(n.check("63 s"))
Correct.
>>> print(n.check(31))
Not quite: 31 s is too low. Try again.
>>> t = ShortText("Name the state that waits 2MSL.", accept=["TIME_WAIT"])
>>> t.check("time-wait").correct, t.check("CLOSE_WAIT").correct
(True, False)
>>> q.check(7)
Traceback (most recent call last):
...
tcpkit.engine.errors.ParameterError: parameter answer = 7 is not allowed: expected an option number from 0 to 2, ...

Notes
-----
Immediate, elaborated feedback on practice questions ("retrieval practice")
helps learning more than delayed, score-only feedback; the questions are
therefore never graded.  Widgets follow ipywidgets 8; the static fallback
keeps a rendered notebook readable without a kernel.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tcpkit.engine.errors import ParameterError
from tcpkit.i18n import register, tr

__all__ = ["Feedback", "Question", "MultipleChoice", "Numeric", "ShortText", "Quiz", "normalise_text"]

_ROLES = ("check", "predict")

register(
    {
        "quiz.predict": ("Predict", "预测"),
        "quiz.check_yourself": ("Check yourself", "自测"),
        "quiz.check": ("Check", "检查"),
        "quiz.show": ("Show answer", "显示答案"),
        "quiz.first": ("Choose or type an answer first.", "请先选择或输入答案。"),
    }
)


@dataclass(frozen=True, slots=True)
class Feedback:
    """What the learner sees after checking an answer.

    Attributes
    ----------
    correct : bool
    message : str
        One or two sentences, in English.

    Examples
    --------
    >>> fb = Feedback(True, "Correct.")
    >>> bool(fb), str(fb)
    (True, 'Correct.')
    """

    correct: bool
    message: str

    def __bool__(self) -> bool:
        return self.correct

    def __str__(self) -> str:
        return self.message

    def _repr_html_(self) -> str:
        colour = "#1a7f37" if self.correct else "#b35900"
        mark = "&#10004;" if self.correct else "&#10008;"
        return f"<div style='color:{colour}'>{mark} {html.escape(self.message)}</div>"


def normalise_text(text: str) -> str:
    """Lower case, with runs of spaces, ``_`` and ``-`` folded into one space.

    >>> normalise_text("  Time_Wait ") == normalise_text("time-wait")
    True
    """
    return re.sub(r"[\s_\-]+", " ", text.strip().lower()).strip()


class Question:
    """Base class: a prompt, a check, an explanation.

    Parameters
    ----------
    prompt : str
        The question (plain text; backticks are shown as code).
    explanation : str
        Shown with a correct answer, and in the folded answer of the static view.
    hint : str
        Shown with a wrong answer.
    role : str
        ``"check"`` (a check-yourself question) or ``"predict"`` (asked before a run).
    """

    kind = "question"

    def __init__(self, prompt: str, *, explanation: str = "", hint: str = "", role: str = "check") -> None:
        if not isinstance(prompt, str) or not prompt.strip():
            raise ParameterError("prompt", prompt, "a non-empty string")
        if role not in _ROLES:
            raise ParameterError("role", role, "'check' or 'predict'")
        self.prompt = prompt
        self.explanation = explanation
        self.hint = hint
        self.role = role

    # -- to be provided by subclasses -------------------------------------------
    def check(self, answer: Any) -> Feedback:  # pragma: no cover - abstract
        raise NotImplementedError

    def answer_text(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def _input_widget(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _body_text(self) -> str:
        return ""

    # -- shared --------------------------------------------------------------------
    def _right(self, extra: str = "") -> Feedback:
        parts = ["Correct.", extra, self.explanation]
        if self.role == "predict":
            parts.append("Now run the next cell and watch it happen.")
        return Feedback(True, " ".join(p for p in parts if p))

    def _wrong(self, what: str) -> Feedback:
        if self.role == "predict":
            tail = (
                self.hint + " " if self.hint else ""
            ) + "Keep your prediction in mind and run the next cell to see what really happens."
        else:
            tail = self.hint or "Try again."
        return Feedback(False, f"Not quite: {what}. {tail}")

    @property
    def label(self) -> str:
        return "Predict" if self.role == "predict" else "Check yourself"

    def __str__(self) -> str:
        body = self._body_text()
        return f"[{self.label}] {self.prompt}" + (f"\n{body}" if body else "")

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.prompt[:60]!r}>"

    def static_html(self, number: int | None = None) -> str:
        """The question as HTML, answer folded away (for rendering without a kernel)."""
        num = f"Q{number}. " if number is not None else ""
        body = html.escape(self._body_text()).replace("\n", "<br>")
        answer = html.escape(self.answer_text() + (f" ({self.explanation})" if self.explanation else ""))
        how = "Run the notebook to answer in place, or call <code>.check(answer)</code>."
        return (
            "<div style='border-left:4px solid #6f42c1;padding:4px 10px;margin:4px 0'>"
            f"<b>{self.label}</b> &mdash; {num}{_code(html.escape(self.prompt))}"
            + (f"<div style='margin:4px 0 4px 12px'>{body}</div>" if body else "")
            + f"<div style='font-size:small'>{how}</div>"
            f"<details><summary>Show the answer</summary>{answer}</details></div>"
        )

    def widget(self, number: int | None = None) -> Any:
        """An ipywidget: prompt, input, *Check* button, feedback line; *Show answer* appears after a first check."""
        return self._widget(number, self.prompt)

    def _widget(self, number: int | None, prompt_text: str) -> Any:
        """The widget, labelled in the current language (:func:`tcpkit.set_language`)."""
        import ipywidgets as w

        num = f"Q{number}. " if number is not None else ""
        label = tr("quiz.predict") if self.role == "predict" else tr("quiz.check_yourself")
        prompt = w.HTML(f"<b>{html.escape(label)}</b> &mdash; {num}{_code(html.escape(prompt_text))}")
        inp = self._input_widget()
        button = w.Button(description=tr("quiz.check"), button_style="primary")
        show = w.Button(description=tr("quiz.show"), layout=w.Layout(display="none", width="auto"))
        out = w.HTML("")

        def on_check(_: Any) -> None:
            if inp.value is None or inp.value == "" or inp.value == ():
                out.value = Feedback(False, tr("quiz.first"))._repr_html_()
                return
            try:
                fb = self.check(inp.value)
            except ParameterError as exc:
                fb = Feedback(False, str(exc))
            out.value = fb._repr_html_()
            show.layout.display = None  # the answer opens only after a first attempt

        def on_show(_: Any) -> None:
            out.value = Feedback(False, f"Answer: {self.answer_text()}. {self.explanation}".strip())._repr_html_()

        button.on_click(on_check)
        show.on_click(on_show)
        box = w.VBox([prompt, inp, w.HBox([button, show]), out])
        box.add_class("tcpkit-quiz")
        return box

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return _bundle(self.static_html(), str(self), self.widget)


def _code(text: str) -> str:
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", text)


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with ipywidgets
        return False
    ip = get_ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None


def _bundle(static_html: str, text: str, make_widget: Callable[[], Any]) -> dict[str, Any]:
    data: dict[str, Any] = {"text/plain": text, "text/html": static_html}
    if _in_kernel():
        view = make_widget()._repr_mimebundle_()
        if isinstance(view, tuple):  # pragma: no cover - (data, metadata) form
            view = view[0]
        key = "application/vnd.jupyter.widget-view+json"
        if key in view:
            data[key] = view[key]
    return data


class MultipleChoice(Question):
    """Pick one option (or, with a set of answers, every correct option).

    Parameters
    ----------
    prompt : str
    options : sequence of str
        At least two.
    answer : int or iterable of int
        Index of the right option (0-based), or indices when several are right.
    feedback : mapping of int to str, optional
        A targeted message for a particular wrong option (a known misconception).

    Examples
    --------
    >>> q = MultipleChoice("Which states can send data?", ["ESTABLISHED", "CLOSE_WAIT", "TIME_WAIT"],
    ...                    answer={0, 1}, feedback={2: "TIME_WAIT only re-sends the last ACK."})
    >>> q.check([1, 0]).correct
    True
    >>> print(q.check([0, 2]))
    Not quite: TIME_WAIT only re-sends the last ACK. Try again.
    >>> print(q)
    [Check yourself] Which states can send data?
      a) ESTABLISHED
      b) CLOSE_WAIT
      c) TIME_WAIT
    """

    kind = "multiple_choice"

    def __init__(
        self,
        prompt: str,
        options: Sequence[str],
        answer: int | Iterable[int],
        *,
        feedback: Mapping[int, str] | None = None,
        explanation: str = "",
        hint: str = "",
        role: str = "check",
    ) -> None:
        super().__init__(prompt, explanation=explanation, hint=hint, role=role)
        if isinstance(options, str) or len(options) < 2 or len(options) > 26:
            raise ParameterError("options", options, "a list of 2 to 26 strings")
        self.options = tuple(str(o) for o in options)
        self.multi = not isinstance(answer, int)
        answers = {answer} if isinstance(answer, int) else set(answer)
        if not answers or any(not isinstance(a, int) or not 0 <= a < len(self.options) for a in answers):
            raise ParameterError("answer", answer, f"option numbers from 0 to {len(self.options) - 1}")
        self.answers = frozenset(answers)
        self.feedback = dict(feedback or {})

    def _index(self, one: Any) -> int:
        n = len(self.options)
        if isinstance(one, bool):
            one = None
        if isinstance(one, int) and 0 <= one < n:
            return one
        if isinstance(one, str):
            s = one.strip()
            if len(s) == 1 and s.isalpha() and ord(s.lower()) - 97 < n:
                return ord(s.lower()) - 97
            for i, opt in enumerate(self.options):
                if normalise_text(opt) == normalise_text(s):
                    return i
        allowed = f"an option number from 0 to {n - 1}, a letter from a to {chr(96 + n)}, or the text of an option"
        raise ParameterError("answer", one, allowed)

    def check(self, answer: Any) -> Feedback:
        if self.multi and not isinstance(answer, str | int):
            chosen = {self._index(a) for a in answer}
        else:
            chosen = {self._index(answer)}
        if chosen == self.answers:
            return self._right()
        for i in sorted(chosen - self.answers):
            if i in self.feedback:
                return self._wrong(self.feedback[i].rstrip("."))
        wrong = sorted(chosen - self.answers)
        if wrong:
            return self._wrong(f"{self.options[wrong[0]]!r} is not it")
        return self._wrong("some correct options are missing")

    def answer_text(self) -> str:
        return ", ".join(f"{chr(97 + i)}) {self.options[i]}" for i in sorted(self.answers))

    def _body_text(self) -> str:
        return "\n".join(f"  {chr(97 + i)}) {o}" for i, o in enumerate(self.options))

    def _input_widget(self) -> Any:
        import ipywidgets as w

        labels = [f"{chr(97 + i)}) {o}" for i, o in enumerate(self.options)]
        layout = w.Layout(width="auto")
        if self.multi:
            sel = w.SelectMultiple(
                options=list(zip(labels, range(len(labels)), strict=True)), rows=len(labels), layout=layout
            )
            return sel
        return w.RadioButtons(options=list(zip(labels, range(len(labels)), strict=True)), value=None, layout=layout)


_NUMBER = re.compile(r"^\s*([-+]?(?:\d[\d_,]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([^\d\s].*)?$")


class Numeric(Question):
    """A number, right within an absolute or relative tolerance.

    Parameters
    ----------
    prompt : str
    answer : float
    tol : float
        Absolute tolerance (default 0: exact).
    rel_tol : float
        Relative tolerance, e.g. ``0.02`` for 2 %.
    unit : str
        Shown with the answer; a learner may type it after the number.

    Examples
    --------
    >>> q = Numeric("Seconds in 2MSL when the MSL is 2 minutes?", 240, rel_tol=0.01, unit="s")
    >>> q.check("241").correct, q.check(60).correct
    (True, False)
    >>> q.check("soon")
    Traceback (most recent call last):
    ...
    tcpkit.engine.errors.ParameterError: parameter answer = 'soon' is not allowed: expected a number, optionally ...
    """

    kind = "numeric"

    def __init__(
        self,
        prompt: str,
        answer: float,
        *,
        tol: float = 0.0,
        rel_tol: float = 0.0,
        unit: str = "",
        explanation: str = "",
        hint: str = "",
        role: str = "check",
    ) -> None:
        super().__init__(prompt, explanation=explanation, hint=hint, role=role)
        if isinstance(answer, bool) or not isinstance(answer, int | float) or not math.isfinite(answer):
            raise ParameterError("answer", answer, "a finite number")
        if tol < 0 or rel_tol < 0:
            raise ParameterError("tol", (tol, rel_tol), "tolerances of 0 or more")
        self.answer = float(answer)
        self.tol = float(tol)
        self.rel_tol = float(rel_tol)
        self.unit = unit

    def _value(self, answer: Any) -> float:
        if isinstance(answer, int | float) and not isinstance(answer, bool) and math.isfinite(answer):
            return float(answer)
        if isinstance(answer, str):
            m = _NUMBER.match(answer)
            if m:
                return float(m.group(1).replace(",", "").replace("_", ""))
        unit = f" ({self.unit})" if self.unit else ""
        raise ParameterError("answer", answer, f"a number, optionally followed by a unit{unit}")

    def check(self, answer: Any) -> Feedback:
        x = self._value(answer)
        if math.isclose(x, self.answer, rel_tol=self.rel_tol, abs_tol=self.tol):
            return self._right()
        side = "too high" if x > self.answer else "too low"
        unit = f" {self.unit}" if self.unit else ""
        return self._wrong(f"{_fmt(x)}{unit} is {side}")

    def answer_text(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return f"{_fmt(self.answer)}{unit}"

    def _body_text(self) -> str:
        return f"  (a number{', in ' + self.unit if self.unit else ''})"

    def _input_widget(self) -> Any:
        import ipywidgets as w

        return w.Text(placeholder=f"a number{' in ' + self.unit if self.unit else ''}")


def _fmt(x: float) -> str:
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else f"{x:g}"


class ShortText(Question):
    """A word or short phrase; spelling is normalised (case, spaces, ``_``, ``-``).

    Parameters
    ----------
    prompt : str
    accept : sequence of str
        Accepted answers (the first one is shown as *the* answer).
    pattern : str, optional
        A regular expression that also counts as right (matched against the
        normalised answer with ``re.fullmatch``).
    near_misses : mapping of str to str, optional
        Wrong answer -> targeted feedback (e.g. a misspelled state name).

    Examples
    --------
    >>> q = ShortText("What state follows SYN_SENT when a SYN (no ACK) arrives?",
    ...               accept=["SYN_RECEIVED"], near_misses={"SYN_REVD": "the state is spelled SYN_RECEIVED"})
    >>> print(q.check("syn-revd"))
    Not quite: the state is spelled SYN_RECEIVED. Try again.
    """

    kind = "short_text"

    def __init__(
        self,
        prompt: str,
        accept: Sequence[str],
        *,
        pattern: str | None = None,
        near_misses: Mapping[str, str] | None = None,
        explanation: str = "",
        hint: str = "",
        role: str = "check",
    ) -> None:
        super().__init__(prompt, explanation=explanation, hint=hint, role=role)
        if isinstance(accept, str) or not accept or not all(isinstance(a, str) and a.strip() for a in accept):
            raise ParameterError("accept", accept, "a non-empty list of non-empty strings")
        self.accept = tuple(accept)
        self._accept = {normalise_text(a) for a in accept}
        try:
            self._pattern = re.compile(pattern) if pattern else None
        except re.error as exc:
            raise ParameterError("pattern", pattern, f"a valid regular expression ({exc})") from None
        self.near_misses = {normalise_text(k): v for k, v in (near_misses or {}).items()}

    def check(self, answer: Any) -> Feedback:
        if not isinstance(answer, str):
            raise ParameterError("answer", answer, "a string")
        a = normalise_text(answer)
        if a in self._accept or (self._pattern is not None and self._pattern.fullmatch(a)):
            return self._right()
        if a in self.near_misses:
            return self._wrong(self.near_misses[a].rstrip("."))
        return self._wrong(f"{answer.strip()!r} is not it" if a else "the answer is empty")

    def answer_text(self) -> str:
        return self.accept[0]

    def _input_widget(self) -> Any:
        import ipywidgets as w

        return w.Text(placeholder="type your answer")


class Quiz:
    """A titled group of questions, numbered from 1.

    Examples
    --------
    >>> quiz = Quiz("Check yourself", [ShortText("Flag that closes?", accept=["FIN"]),
    ...                                Numeric("Sequence numbers a SYN uses?", 1)])
    >>> print(quiz.check(2, 1))
    Correct.
    >>> len(quiz), quiz[0].kind
    (2, 'short_text')
    >>> quiz.check(3, 1)
    Traceback (most recent call last):
    ...
    tcpkit.engine.errors.ParameterError: parameter number = 3 is not allowed: expected a question number from 1 to 2
    """

    def __init__(self, title: str, questions: Sequence[Question]) -> None:
        if not questions or not all(isinstance(q, Question) for q in questions):
            raise ParameterError("questions", questions, "a non-empty list of Question objects")
        self.title = title
        self.questions = tuple(questions)

    def __len__(self) -> int:
        return len(self.questions)

    def __getitem__(self, i: int) -> Question:
        return self.questions[i]

    def check(self, number: int, answer: Any) -> Feedback:
        """Check the answer to question ``number`` (1-based, as displayed)."""
        if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= len(self):
            raise ParameterError("number", number, f"a question number from 1 to {len(self)}")
        return self.questions[number - 1].check(answer)

    def __str__(self) -> str:
        lines = [self.title]
        for i, q in enumerate(self.questions, 1):
            lines.append(f"Q{i}. {q}")
        return "\n".join(lines)

    def static_html(self) -> str:
        return f"<h4>{html.escape(self.title)}</h4>" + "".join(
            q.static_html(i) for i, q in enumerate(self.questions, 1)
        )

    def widget(self) -> Any:
        import ipywidgets as w

        return w.VBox(
            [w.HTML(f"<h4>{html.escape(self.title)}</h4>")] + [q.widget(i) for i, q in enumerate(self.questions, 1)]
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return _bundle(self.static_html(), str(self), self.widget)
