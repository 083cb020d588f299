"""Construction tasks: the student writes something from an empty scaffold and the engine checks it.

Each task (``kind = "construct"`` in the bank) opens with a scaffold whose
blanks are lines holding only ``...``.  *Check* runs what the student wrote on
the engine and explains the **first** thing that is wrong: a packetdrill line
and column, a Python line, a wrong state, a failed invariant.  Hints open one
at a time.  The model answer stays in the package data
(``tcpkit/lessons/models/``) and is read from there only when the student asks
for it, which the widget allows after a first attempt.

Examples
--------
>>> from tcpkit.lessons import ask
>>> task = ask("00.walk-path")
>>> v = task.check(task.scaffold)
>>> v.ok, v.line
(False, 2)
>>> print(v.message)
Line 2 still holds `...`: replace it with your own code.
>>> task.model_answer()
Traceback (most recent call last):
...
tcpkit.lessons.construct.TryFirst: the model answer of 00.walk-path opens after your first attempt: ...
>>> task.check("path = [Event.ACTIVE_OPEN, Event.RCV_FIN]").ok
False
>>> "Event.ACTIVE_OPEN" in task.model_answer()
True
"""

from __future__ import annotations

import html
import importlib.resources
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from typing import Any

from tcpkit.engine.errors import TcpkitError
from tcpkit.i18n import get_language, register, tr
from tcpkit.widgets import TcpkitWidget, figure_widget

__all__ = ["Verdict", "ConstructTask", "CHECKERS", "checker", "TryFirst", "placeholder_line", "run_user_code"]

register(
    {
        "task.check": ("Check", "检查"),
        "task.hint": ("Hint ({n} left)", "提示（还剩 {n} 条）"),
        "task.no_hints": ("No more hints", "没有更多提示"),
        "task.hint_n": ("Hint {n}:", "提示 {n}："),
        "task.model": ("Show a model answer", "显示参考答案"),
        "task.reset": ("Start again", "重新开始"),
        "task.label": ("Build it", "动手构建"),
        "task.ok": ("It works.", "成功。"),
        "task.not_yet": ("Not yet.", "还不对。"),
        "task.model_head": (
            "A model answer (one of several that work); compare it with yours:",
            "一个参考答案（可行的写法不止一种），与你的对照：",
        ),
    }
)


class TryFirst(TcpkitError):
    """The model answer of a task was asked for before any attempt."""


@dataclass
class Verdict:
    """What *Check* found: right or not, one explanation, and where (line and column of the student's text)."""

    ok: bool
    message: str
    line: int | None = None
    column: int | None = None
    details: str = ""
    figure: Any = field(default=None, repr=False)

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        return self.message + (f"\n{self.details}" if self.details else "")


#: checker name -> function(student text) -> Verdict
CHECKERS: dict[str, Callable[[str], Verdict]] = {}


def checker(name: str) -> Callable[[Callable[[str], Verdict]], Callable[[str], Verdict]]:
    def deco(fn: Callable[[str], Verdict]) -> Callable[[str], Verdict]:
        CHECKERS[name] = fn
        return fn

    return deco


_PLACEHOLDER = re.compile(r"^\s*\.\.\.(\s*(#.*|//.*)?)?$")


def placeholder_line(text: str) -> int | None:
    """The first line (1-based) that still holds only ``...`` (perhaps with a comment), or ``None``.

    >>> placeholder_line("a = 1\\n    ...  # your code\\n")
    2
    >>> placeholder_line("socket(..., SOCK_STREAM) = 3") is None
    True
    """
    for i, line in enumerate(text.splitlines(), 1):
        if _PLACEHOLDER.match(line):
            return i
    return None


def model_path(name: str) -> Traversable:
    """Where a model answer file lives in the package."""
    return importlib.resources.files("tcpkit.lessons").joinpath("models").joinpath(name)


USER_FILE = "<your code>"


def run_user_code(text: str, names: dict[str, Any]) -> tuple[dict[str, Any] | None, Verdict | None]:
    """Execute the student's Python in a fresh namespace seeded with ``names``.

    Returns ``(namespace, None)``, or ``(None, Verdict)`` naming the line of a
    syntax error or of the exception the code raised.
    """
    try:
        code = compile(text, USER_FILE, "exec")
    except SyntaxError as exc:
        return None, Verdict(
            False,
            f"Line {exc.lineno}, column {exc.offset}: Python cannot read this ({exc.msg}).",
            line=exc.lineno,
            column=exc.offset,
            details=(exc.text or "").rstrip(),
        )
    ns = dict(names)
    try:
        exec(code, ns)
    except Exception as exc:  # noqa: BLE001 - the student's code may raise anything; report it, with its line
        return None, error_verdict(exc)
    return ns, None


def error_verdict(exc: BaseException, what: str = "Your code") -> Verdict:
    """A Verdict for an exception raised inside the student's code (its line, its message)."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == USER_FILE:
            line = frame.lineno
    where = f"line {line}" if line else "while running"
    return Verdict(False, f"{what} raised {type(exc).__name__} at {where}: {exc}", line=line)


class ConstructTask(TcpkitWidget):
    """A construction task from the bank (use :func:`tcpkit.lessons.ask`).

    Attributes
    ----------
    attempts : int
        How many times *Check* ran on something other than the untouched scaffold (the model answer
        opens after the first).
    """

    def __init__(self, spec: Any) -> None:
        """``spec``: the task's :class:`tcpkit.lessons.bank.Spec` (``kind = "construct"``)."""
        super().__init__()
        import ipywidgets as W

        self.spec = spec
        self.id = spec.id
        self.scaffold = spec.extra["scaffold"].strip("\n") + "\n"
        self.attempts = 0
        self.hints_shown = 0
        self.last: Verdict | None = None
        rows = int(spec.extra.get("rows", max(8, self.scaffold.count("\n") + 3)))
        self.title = W.HTML()
        self.prompt = W.HTML()
        self.editor = W.Textarea(value=self.scaffold, layout=W.Layout(width="100%", height=f"{rows * 1.45 + 1:.1f}em"))
        self.editor.add_class("tcpkit-editor")
        self.check_button = W.Button(button_style="primary")
        self.hint_button = W.Button(layout=W.Layout(width="auto"))
        self.model_button = W.Button(layout=W.Layout(display="none", width="auto"))
        self.reset_button = W.Button(layout=W.Layout(width="auto"))
        self.feedback = W.HTML()
        self.hints = W.HTML()
        self.model = W.HTML()
        self.picture = W.Box()
        self.check_button.on_click(lambda _b: self.check())
        self.hint_button.on_click(lambda _b: self.hint())
        self.model_button.on_click(lambda _b: self.show_model())
        self.reset_button.on_click(lambda _b: setattr(self.editor, "value", self.scaffold))
        style = W.HTML(
            "<style>.tcpkit-editor textarea{font-family:monospace;font-size:12.5px;line-height:1.45em}</style>"
        )
        self.widget = W.VBox(
            [
                style,
                self.title,
                self.prompt,
                self.editor,
                W.HBox([self.check_button, self.hint_button, self.model_button, self.reset_button]),
                self.feedback,
                self.hints,
                self.model,
                self.picture,
            ]
        )
        self.widget.add_class("tcpkit-construct")
        self.refresh_language()

    # -- API -------------------------------------------------------------------------------
    def check(self, text: str | None = None) -> Verdict:
        """Run ``text`` (default: what the editor holds) on the engine; show and return the verdict."""
        if text is None:
            text = self.editor.value
        if not isinstance(text, str):
            from tcpkit.engine.errors import ParameterError

            raise ParameterError("text", text, "the text of your answer (a string)")
        if text.strip() != self.scaffold.strip():  # checking the untouched scaffold is not an attempt
            self.attempts += 1
        line = placeholder_line(text)
        if line is not None:
            verdict = Verdict(False, f"Line {line} still holds `...`: replace it with your own code.", line=line)
        else:
            try:
                verdict = CHECKERS[self.spec.extra["checker"]](text)
            except Exception as exc:  # noqa: BLE001 - a checker bug must show as a message, not kill the widget
                verdict = Verdict(False, f"The checker itself failed ({type(exc).__name__}: {exc}); please report it.")
        self.last = verdict
        self._show(verdict)
        if self.attempts:
            self.model_button.layout.display = None
        return verdict

    def hint(self) -> str | None:
        """The next hint (``None`` when all are shown); shown hints stay listed."""
        hints = self._hints()
        if self.hints_shown >= len(hints):
            return None
        self.hints_shown += 1
        self._show_hints()
        self.refresh_language()
        return hints[self.hints_shown - 1]

    def model_answer(self) -> str:
        """The model answer, read from the package data; only after a first attempt."""
        if self.attempts == 0:
            raise TryFirst(
                f"the model answer of {self.id} opens after your first attempt: write your answer and press Check"
            )
        return model_path(self.spec.extra["model"]).read_text(encoding="utf-8")

    def show_model(self) -> None:
        try:
            text = self.model_answer()
        except TryFirst as exc:
            self.model.value = html.escape(str(exc))
            return
        self.model.value = f"<i>{html.escape(tr('task.model_head'))}</i><pre>{html.escape(text)}</pre>"

    # -- internals ---------------------------------------------------------------------------
    def _hints(self) -> list[str]:
        key = "hints_zh" if get_language() == "zh" else "hints"
        return list(self.spec.extra.get(key, []))

    def _show_hints(self) -> None:
        shown = self._hints()[: self.hints_shown]
        label = tr("task.hint_n")
        self.hints.value = "".join(
            f"<div><b>{html.escape(label.format(n=i))}</b> {_inline_code(html.escape(h))}</div>"
            for i, h in enumerate(shown, 1)
        )

    def _show(self, v: Verdict) -> None:
        color = "#1a7f37" if v.ok else "#b35900"
        head = tr("task.ok") if v.ok else tr("task.not_yet")
        where = ""
        if v.line is not None:
            lines = (self.editor.value or "").splitlines()
            if 0 < v.line <= len(lines):
                caret = " " * ((v.column or 1) - 1) + "^" if v.column else ""
                shown = html.escape(lines[v.line - 1]) + ("\n" + caret if caret else "")
                where = f"<pre style='margin:2px 0'>{v.line:>3} | {shown}</pre>"
        details = f"<pre style='margin:2px 0;white-space:pre-wrap'>{html.escape(v.details)}</pre>" if v.details else ""
        self.feedback.value = (
            f"<div style='color:{color}'><b>{html.escape(head)}</b> {_inline_code(html.escape(v.message))}</div>"
            f"{where}{details}"
        )
        if v.figure is not None:
            self.picture.children = (figure_widget(v.figure),)
        else:
            self.picture.children = ()

    def refresh_language(self) -> None:
        zh = get_language() == "zh"
        title = self.spec.extra["title_zh" if zh else "title"]
        self.title.value = f"<h4 style='margin:4px 0'>{html.escape(tr('task.label'))}: {html.escape(title)}</h4>"
        prompt = self.spec.prompt_zh if zh else self.spec.prompt
        self.prompt.value = "".join(
            f"<p style='margin:2px 0'>{_inline_code(html.escape(p))}</p>" for p in prompt.split("\n\n")
        )
        self.check_button.description = tr("task.check")
        left = len(self._hints()) - self.hints_shown
        self.hint_button.description = tr("task.hint", n=left) if left else tr("task.no_hints")
        self.hint_button.disabled = left == 0
        self.model_button.description = tr("task.model")
        self.reset_button.description = tr("task.reset")
        self._show_hints()

    def static_html(self) -> str:
        """The task without a kernel: title, prompt and the empty scaffold (never the model answer)."""
        return (
            "<div style='border-left:4px solid #1f6feb;padding:4px 10px'>"
            f"<b>Build it: {html.escape(self.spec.extra['title'])}</b>"
            + "".join(f"<p>{_inline_code(html.escape(p))}</p>" for p in self.spec.prompt.split("\n\n"))
            + f"<pre>{html.escape(self.scaffold)}</pre>"
            "<div style='font-size:small'>Run the notebook to write and check your answer here.</div></div>"
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        data = dict(self.widget._repr_mimebundle_(**kwargs) or {})
        data["text/html"] = self.static_html()
        data["text/plain"] = f"Build it: {self.spec.extra['title']}"
        return data

    def __repr__(self) -> str:
        return f"<ask({self.id!r}): construct, {self.attempts} attempt(s)>"


def _inline_code(text: str) -> str:
    """Markdown's `code` and **bold** in an already HTML-escaped text."""
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    return re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", text)
