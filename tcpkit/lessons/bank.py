"""The question bank: every question the notebooks ask, kept as package data, asked by id.

A notebook cell holds only ``ask("03.accept-queue-size")``; the question lives
in ``tcpkit/lessons/bank/03.toml`` with its kind, its prompt in English and
Chinese, its answer *or* the rule that computes the answer from an engine run
(:mod:`tcpkit.lessons.rules`), its explanation and its source.  An answer
that is a fact of the engine (a state, a time, a count) is never typed into
the bank: the rule runs the engine when the student checks or reveals.  Such
a question can take a ``seed`` and comes back with new numbers.

Kinds
-----
``choice``
    Options with keys; one right key, or several (``multi = true``).
``numeric``
    A number with an optional tolerance and unit.
``text``
    A short answer with accepted spellings.
``state``
    One of the 11 states, in any common spelling (``time-wait``, ``SYN_RECV``).
``predict_send``, ``predict_state``, ``predict_state_before``
    A :class:`~tcpkit.widgets.PredictWidget` on a named run
    (:mod:`tcpkit.lessons.runs`) at a selected record.
``construct``
    A construction task (:mod:`tcpkit.lessons.construct`).

Examples
--------
>>> q = ask("03.accept-queue-size")
>>> print(q.prompt)
A server calls listen(fd, 4) and never calls accept(). How many clients can complete the handshake?
>>> q.check("4").correct, q.check("5").correct
(False, True)
>>> again = ask("03.accept-queue-size", seed=7)
>>> again.prompt != q.prompt
True
>>> ask("03.no-such-question")
Traceback (most recent call last):
...
tcpkit.engine.errors.ParameterError: parameter question = '03.no-such-question' is not allowed: expected ...
"""

from __future__ import annotations

import functools
import html
import importlib.resources
import random
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tcpkit.engine.errors import ParameterError, TcpkitError
from tcpkit.engine.states import State
from tcpkit.i18n import get_language

from . import quiz, tasks
from .construct import CHECKERS, ConstructTask, model_path
from .quiz import Feedback
from .rules import RULES, Given, compute
from .runs import RUNS, build_run, find_record

assert tasks.CHECKERS is CHECKERS  # importing tasks registers every checker

__all__ = ["Spec", "BankQuestion", "StateQuestion", "load_bank", "ask", "check_yourself", "questions", "KINDS"]

KINDS = (
    "choice",
    "numeric",
    "text",
    "state",
    "predict_send",
    "predict_state",
    "predict_state_before",
    "construct",
)
PREDICT_KINDS = {"predict_send": "next_send", "predict_state": "state", "predict_state_before": "state_before"}
NOTEBOOKS = ("00", "01", "02", "03", "04", "05", "06")


class BankError(TcpkitError):
    """The question bank (package data) is malformed: names the file, the question and the field."""


@dataclass(frozen=True)
class Spec:
    """One question as the bank holds it (see the module notes for the kinds)."""

    id: str
    kind: str
    prompt: str
    prompt_zh: str
    role: str = "check"
    answer: Any = None
    rule: str | None = None
    seedable: bool = False
    options: tuple[dict[str, str], ...] = ()
    multi: bool = False
    unit: str = ""
    tol: float = 0.0
    rel_tol: float = 0.0
    accept: tuple[str, ...] = ()
    pattern: str | None = None
    near_misses: Mapping[str, str] = field(default_factory=dict)
    explanation: str = ""
    explanation_zh: str = ""
    source: str = ""
    hint: str = ""
    run: str | None = None
    at: Mapping[str, Any] = field(default_factory=dict)
    host: str | None = None
    seed: int = 1
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def notebook(self) -> str:
        return self.id.split(".", 1)[0]


_COMMON = {"id", "kind", "prompt", "prompt_zh", "role", "explanation", "explanation_zh", "source", "hint"}
_FIELDS = {
    "choice": {"option", "answer", "rule", "multi", "seedable"},
    "numeric": {"answer", "rule", "unit", "tol", "rel_tol", "seedable"},
    "text": {"answer", "accept", "pattern", "near_misses"},
    "state": {"answer", "rule", "near_misses"},
    "predict_send": {"run", "at", "host", "seed"},
    "predict_state": {"run", "at", "host", "seed"},
    "predict_state_before": {"run", "at", "host", "seed"},
    "construct": {"title", "title_zh", "language", "scaffold", "checker", "hints", "hints_zh", "model", "rows"},
}


def _bad(where: str, what: str) -> BankError:
    return BankError(f"question bank {where}: {what}")


def _spec(d: dict[str, Any], where: str) -> Spec:

    qid = d.get("id")
    if not isinstance(qid, str) or not re.fullmatch(r"\d\d\.[a-z0-9-]+", qid):
        raise _bad(where, f"id {qid!r} is not NN.words-with-dashes")
    where = f"{where} {qid}"
    kind = d.get("kind")
    if kind not in KINDS:
        raise _bad(where, f"kind {kind!r} is not one of {', '.join(KINDS)}")
    unknown = set(d) - _COMMON - _FIELDS[kind]
    if unknown:
        raise _bad(where, f"fields not used by kind {kind}: {sorted(unknown)}")
    for f in ("prompt", "prompt_zh"):
        if not isinstance(d.get(f), str) or not d[f].strip():
            raise _bad(where, f"{f} is missing or empty")
    role = d.get("role", "predict" if kind in PREDICT_KINDS else "check")
    if role not in ("check", "predict", "construct"):
        raise _bad(where, f"role {role!r} is not check, predict or construct")
    if kind in ("choice", "numeric", "state") and ("answer" in d) == ("rule" in d):
        raise _bad(where, "give exactly one of answer (a concept) or rule (a fact of the engine)")
    rule = d.get("rule")
    if rule is not None and rule not in RULES:
        raise _bad(where, f"rule {rule!r} is not in tcpkit.lessons.rules")
    options = tuple(d.get("option", ()))
    if kind == "choice":
        if len(options) < 2 or any(not {"key", "text", "zh"} <= set(o) for o in options):
            raise _bad(where, "a choice needs at least two options, each with key, text and zh")
        keys = [o["key"] for o in options]
        if len(set(keys)) != len(keys):
            raise _bad(where, f"repeated option keys {keys}")
        if "answer" in d:
            given = d["answer"] if isinstance(d["answer"], list) else [d["answer"]]
            if not given or any(k not in keys for k in given):
                raise _bad(where, f"answer {d['answer']!r} names keys that are not options {keys}")
    if kind in PREDICT_KINDS:
        if d.get("run") not in RUNS:
            raise _bad(where, f"run {d.get('run')!r} is not one of {', '.join(RUNS)}")
        if not isinstance(d.get("at"), dict) or not isinstance(d.get("host"), str):
            raise _bad(where, "a predict question needs at = {kind, host, ...} and host")
    extra: dict[str, Any] = {}
    if kind == "construct":
        for f in ("title", "title_zh", "scaffold", "checker", "model", "language"):
            if not isinstance(d.get(f), str) or not d[f].strip():
                raise _bad(where, f"{f} is missing or empty")
        if d["checker"] not in CHECKERS:
            raise _bad(where, f"checker {d['checker']!r} is not in tcpkit.lessons.tasks")
        if not model_path(d["model"]).is_file():
            raise _bad(where, f"model answer file {d['model']!r} is not in tcpkit/lessons/models/")
        hints = d.get("hints", [])
        if not hints or len(hints) != len(d.get("hints_zh", [])):
            raise _bad(where, "a construct task needs hints and as many hints_zh")
        extra = {k: d[k] for k in _FIELDS["construct"] if k in d}
        role = "construct"
    return Spec(
        id=qid,
        kind=kind,
        prompt=d["prompt"].strip(),
        prompt_zh=d["prompt_zh"].strip(),
        role=role,
        answer=d.get("answer"),
        rule=rule,
        seedable=bool(d.get("seedable", False)),
        options=options,
        multi=bool(d.get("multi", isinstance(d.get("answer"), list))),
        unit=d.get("unit", ""),
        tol=float(d.get("tol", 0.0)),
        rel_tol=float(d.get("rel_tol", 0.0)),
        accept=tuple(d.get("accept", ())),
        pattern=d.get("pattern"),
        near_misses=dict(d.get("near_misses", {})),
        explanation=d.get("explanation", "").strip(),
        explanation_zh=d.get("explanation_zh", "").strip(),
        source=d.get("source", "").strip(),
        hint=d.get("hint", "").strip(),
        run=d.get("run"),
        at=dict(d.get("at", {})),
        host=d.get("host"),
        seed=int(d.get("seed", 1)),
        extra=extra,
    )


@functools.cache
def load_bank() -> dict[str, Spec]:
    """Every question of every notebook, by id (read once from ``tcpkit/lessons/bank/NN.toml``).

    Raises
    ------
    BankError
        Naming the file, the question and the field, if the bank is malformed.
    """
    out: dict[str, Spec] = {}
    folder = importlib.resources.files("tcpkit.lessons").joinpath("bank")
    for nb in NOTEBOOKS:
        name = f"bank/{nb}.toml"
        try:
            doc = tomllib.loads(folder.joinpath(f"{nb}.toml").read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise _bad(name, f"not valid TOML: {exc}") from None
        for d in doc.get("question", []):
            spec = _spec(d, name)
            if spec.notebook != nb:
                raise _bad(name, f"{spec.id} belongs in bank/{spec.notebook}.toml")
            if spec.id in out:
                raise _bad(name, f"{spec.id} appears twice")
            out[spec.id] = spec
    return out


def questions(notebook: str | None = None) -> list[Spec]:
    """The bank's questions (of one notebook, ``"03"``), in file order."""
    return [s for s in load_bank().values() if notebook is None or s.notebook == notebook]


def _spec_of(qid: str) -> Spec:
    bank = load_bank()
    if not isinstance(qid, str) or qid not in bank:
        near = [k for k in bank if isinstance(qid, str) and k.startswith(qid.split(".")[0] + ".")]
        raise ParameterError("question", qid, "a question id of the bank, e.g. " + ", ".join((near or list(bank))[:4]))
    return bank[qid]


class StateQuestion(quiz.Question):
    """One of the 11 states, typed in any common spelling (:meth:`State.parse`).

    >>> q = StateQuestion("After listen()?", State.LISTEN)
    >>> q.check("listen").correct, q.check("syn-recv").correct
    (True, False)
    >>> print(q.check("LISTENING"))
    Not quite: 'LISTENING' is not a state name; the 11 states are CLOSED, LISTEN, ... Try again.
    """

    kind = "state"

    def __init__(self, prompt: str, answer: State, *, near_misses: Mapping[str, str] | None = None, **kw: Any) -> None:
        super().__init__(prompt, **kw)
        self.answer = State.parse(answer, "answer")
        self.near_misses = {quiz.normalise_text(k): v for k, v in (near_misses or {}).items()}

    def check(self, answer: Any) -> Feedback:
        if not isinstance(answer, str | State):
            raise ParameterError("answer", answer, "a state name")
        key = quiz.normalise_text(answer.value if isinstance(answer, State) else answer)
        if key in self.near_misses:
            return self._wrong(self.near_misses[key].rstrip("."))
        try:
            got = State.parse(answer, "answer")
        except ParameterError:
            names = ", ".join(s.value for s in State)
            return self._wrong(f"{str(answer).strip()!r} is not a state name; the 11 states are {names}")
        return self._right() if got is self.answer else self._wrong(f"{got.value} is not it")

    def answer_text(self) -> str:
        return self.answer.value

    def _input_widget(self) -> Any:
        import ipywidgets as w

        return w.Text(placeholder="a state, e.g. ESTABLISHED")


class BankQuestion(quiz.Question):
    """A question from the bank; its answer is computed (or read) only when it is checked or revealed."""

    def __init__(self, spec: Spec, seed: int | None = None) -> None:
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ParameterError("seed", seed, "an integer, or None for the notebook's own numbers")
        if seed is not None and not spec.seedable:
            raise ParameterError("seed", seed, f"None: {spec.id} has no numbers to change")
        self.spec, self.seed = spec, seed
        rng = None if seed is None else random.Random(f"{spec.id}:{seed}")
        self.given: Given = compute(spec.rule, rng) if spec.rule else Given()
        super().__init__(self._fill(spec.prompt), explanation=self._explanation("en"), hint=spec.hint, role=spec.role)
        self.kind = spec.kind
        self._inner: quiz.Question | None = None

    # -- text ---------------------------------------------------------------------------
    def _fill(self, text: str) -> str:
        values = {k: (f"{v:g}" if isinstance(v, float) else v) for k, v in self.given.values.items()}
        return text.format(**values) if values else text

    def _explanation(self, lang: str) -> str:
        s = self.spec
        text = s.explanation_zh if lang == "zh" and s.explanation_zh else s.explanation
        return text + (f" (Source: {s.source}.)" if s.source else "")

    def text_in(self, lang: str) -> str:
        """The prompt in ``lang`` (``"en"`` or ``"zh"``)."""
        return self._fill(self.spec.prompt_zh if lang == "zh" else self.spec.prompt)

    def option_texts(self, lang: str) -> list[str]:
        return [self._fill(o["zh"] if lang == "zh" else o["text"]) for o in self.spec.options]

    # -- the answer, computed on demand -------------------------------------------------
    def inner(self) -> quiz.Question:
        """The checking question, with the answer read from the bank or computed by the engine now."""
        if self._inner is None:
            s = self.spec
            answer = s.answer if s.rule is None else self.given.answer()
            kw: dict[str, Any] = {"explanation": self.explanation, "hint": s.hint, "role": self.role}
            q: quiz.Question
            if s.kind == "choice":
                keys = [o["key"] for o in s.options]
                chosen = sorted(answer) if isinstance(answer, list | set | frozenset) else [answer]
                unknown = [k for k in chosen if k not in keys]
                if unknown:
                    raise BankError(f"question bank {s.id}: rule {s.rule} gave {unknown}, not an option key {keys}")
                idx = [keys.index(k) for k in chosen]
                feedback = {i: o["feedback"] for i, o in enumerate(s.options) if o.get("feedback")}
                q = quiz.MultipleChoice(
                    self.prompt,
                    self.option_texts("en"),
                    set(idx) if s.multi else idx[0],
                    feedback=feedback,
                    **kw,
                )
            elif s.kind == "numeric":
                q = quiz.Numeric(self.prompt, float(answer), tol=s.tol, rel_tol=s.rel_tol, unit=s.unit, **kw)
            elif s.kind == "state":
                q = StateQuestion(self.prompt, answer, near_misses=s.near_misses, **kw)
            else:
                accept = [answer] if isinstance(answer, str) else list(s.accept)
                q = quiz.ShortText(
                    self.prompt, accept + list(s.accept), pattern=s.pattern, near_misses=s.near_misses, **kw
                )
            self._inner = q
        return self._inner

    def check(self, answer: Any) -> Feedback:
        return self.inner().check(answer)

    def answer_text(self) -> str:
        return self.inner().answer_text()

    def reveal(self) -> str:
        """The answer and why (this runs the engine for a computed answer)."""
        return f"Answer: {self.answer_text()}. {self.explanation}".strip()

    # -- views --------------------------------------------------------------------------
    def _body_text(self) -> str:
        if self.spec.kind == "choice":
            return "\n".join(f"  {chr(97 + i)}) {o}" for i, o in enumerate(self.option_texts("en")))
        if self.spec.kind == "numeric":
            return f"  (a number{', in ' + self.spec.unit if self.spec.unit else ''})"
        return ""

    def _input_widget(self) -> Any:
        import ipywidgets as w

        lang = get_language()
        if self.spec.kind == "choice":
            labels = [f"{chr(97 + i)}) {o}" for i, o in enumerate(self.option_texts(lang))]
            pairs = list(zip(labels, range(len(labels)), strict=True))
            if self.spec.multi:
                return w.SelectMultiple(options=pairs, rows=len(labels), layout=w.Layout(width="auto"))
            return w.RadioButtons(options=pairs, value=None, layout=w.Layout(width="auto"))
        if self.spec.kind == "numeric":
            unit = f" ({self.spec.unit})" if self.spec.unit else ""
            return w.Text(placeholder=("一个数" if lang == "zh" else "a number") + unit)
        if self.spec.kind == "state":
            return w.Text(placeholder="a state, e.g. ESTABLISHED")
        return w.Text(placeholder="type your answer")

    def static_html(self, number: int | None = None) -> str:
        """The question without its answer (a notebook read without a kernel shows this)."""
        num = f"Q{number}. " if number is not None else ""
        body = html.escape(self._body_text()).replace("\n", "<br>")
        how = (
            f"Run the notebook to answer here, or in code: <code>ask(&quot;{self.spec.id}&quot;)"
            ".check(your_answer)</code>."
        )
        return (
            f"<div style='border-left:4px solid #6f42c1;padding:4px 10px;margin:4px 0'>"
            f"<b>{self.label}</b> &mdash; {num}{quiz._code(html.escape(self.prompt))}"
            + (f"<div style='margin:4px 0 4px 12px'>{body}</div>" if body else "")
            + f"<div style='font-size:small'>{how}</div></div>"
        )

    def widget(self, number: int | None = None) -> Any:
        """Prompt (current language), input, *Check*; *Show answer* after a first check; *New numbers* if seedable."""
        import ipywidgets as w

        box = self._widget(number, self.text_in(get_language()))
        if self.spec.seedable:
            again = w.Button(description="换一组数字" if get_language() == "zh" else "New numbers")
            again.add_class("tcpkit-new-numbers")

            def on_again(_: Any) -> None:
                nxt = BankQuestion(self.spec, (self.seed or 0) + 1)
                box.children = nxt.widget(number).children

            again.on_click(on_again)
            box.children = (*box.children, again)
        return box

    def __repr__(self) -> str:
        return f"<ask({self.spec.id!r}{'' if self.seed is None else f', seed={self.seed}'})>"


def ask(qid: str, *, seed: int | None = None) -> Any:
    """The question (or predict widget, or construct task) with id ``qid``, ready to display.

    Parameters
    ----------
    qid : str
        ``"NN.name"``, e.g. ``"03.accept-queue-size"`` (see :func:`questions`).
    seed : int, optional
        New numbers for a question whose answer the engine computes (``None``:
        the numbers the notebook's text uses).  A predict widget takes it as its run's seed.

    Returns
    -------
    BankQuestion, PredictWidget or ConstructTask
    """
    spec = _spec_of(qid)
    if spec.kind in PREDICT_KINDS:
        from tcpkit.widgets.predict import PredictWidget

        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ParameterError("seed", seed, "an integer")
        assert spec.run is not None and spec.host is not None
        trace = build_run(spec.run, spec.seed if seed is None else seed).finish()
        at = find_record(trace, **spec.at)
        w = PredictWidget(
            trace, at=at, question=PREDICT_KINDS[spec.kind], host=spec.host, prompt=(spec.prompt, spec.prompt_zh)
        )
        return w
    if spec.kind == "construct":
        if seed is not None:
            raise ParameterError("seed", seed, f"None: {spec.id} is a construction task")
        return ConstructTask(spec)
    return BankQuestion(spec, seed)


def check_yourself(notebook: str) -> quiz.Quiz:
    """The notebook's check-yourself questions (role ``check``) as one numbered quiz.

    >>> q = check_yourself("05")
    >>> q.title, len(q) >= 5
    ('Check yourself: 05', True)
    """
    if notebook not in NOTEBOOKS:
        raise ParameterError("notebook", notebook, "one of " + ", ".join(NOTEBOOKS))
    items = [BankQuestion(s) for s in questions(notebook) if s.role == "check"]
    return quiz.Quiz(f"Check yourself: {notebook}", items)
