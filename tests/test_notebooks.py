"""Structure of the course notebooks (their execution is nbval's job, their run time the build script's)."""

from __future__ import annotations

import html as _html
import importlib.util
import json
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NB_DIR = ROOT / "notebooks"
NAMES = [
    "00_start_here",
    "01_handshake",
    "02_isn_safety",
    "03_listen_queues",
    "03b_floods_and_cookies",
    "04_four_way_close",
    "05_time_wait_and_tuning",
    "06_real_kernel_lab",
]
CJK = re.compile(r"[\u4e00-\u9fff]")
MAX_CELL_LINES = 40


def _key(name: str) -> str:
    """A notebook's key: the part of its name before the first underscore (``03b``)."""
    return name.split("_", 1)[0]


def _build_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("build_notebooks", ROOT / "tools" / "build_notebooks.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _load(name: str) -> nbformat.NotebookNode:
    return nbformat.read(str(NB_DIR / f"{name}.ipynb"), as_version=4)


def _md(nb: nbformat.NotebookNode) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "markdown"]


def _code(nb: nbformat.NotebookNode) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code"]


def _headings(nb: nbformat.NotebookNode) -> list[tuple[int, str]]:
    out = []
    for i, c in enumerate(nb.cells):
        if c.cell_type == "markdown":
            out += [(i, m.group(1).strip()) for m in re.finditer(r"^#{1,4} (.+)$", c.source, re.M)]
    return out


def _section(nb: nbformat.NotebookNode, title: str) -> tuple[int, str]:
    """(cell index, text up to the next heading) of the first heading starting with ``title``."""
    for i, c in enumerate(nb.cells):
        if c.cell_type != "markdown":
            continue
        m = re.search(rf"^#{{1,4}} {re.escape(title)}.*$", c.source, re.M | re.I)
        if m:
            rest = c.source[m.end() :]
            nxt = re.search(r"^#{1,4} ", rest, re.M)
            return i, rest[: nxt.start()] if nxt else rest
    raise AssertionError(f"no heading starting with {title!r}; headings: {[h for _, h in _headings(nb)]}")


def test_every_notebook_exists_with_a_source() -> None:
    assert sorted(p.stem for p in NB_DIR.glob("*.ipynb")) == NAMES
    assert sorted(p.stem for p in (NB_DIR.parent / "notebook_sources").glob("*.md")) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_stored_notebook_matches_its_source(name: str) -> None:
    build = _build_module()
    cells = build.parse_source((NB_DIR.parent / "notebook_sources" / f"{name}.md").read_text(encoding="utf-8"))
    nb = _load(name)
    assert [(c.cell_type, c.source) for c in nb.cells] == cells, "rebuild with tools/build_notebooks.py"


@pytest.mark.parametrize("name", NAMES)
def test_objectives_at_the_top(name: str) -> None:
    nb = _load(name)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# ")
    idx, text = _section(nb, "Learning objectives")
    assert idx <= 1
    assert len(re.findall(r"^\s*[-*\d.]+ ", text, re.M)) >= 3


@pytest.mark.parametrize("name", NAMES)
def test_summary_and_key_terms_at_the_end(name: str) -> None:
    """The key terms come from the glossary (``key_terms("NN")``): each with its Chinese name and a meaning."""
    nb = _load(name)
    s_idx, _ = _section(nb, "Summary")
    k_idx, _ = _section(nb, "Key terms")
    assert s_idx >= len(nb.cells) - 4 and k_idx >= s_idx
    cell = next(c for c in nb.cells[k_idx + 1 :] if c.cell_type == "code")
    assert cell.source.strip() == f'key_terms("{_key(name)}")'
    html = "".join(o.get("data", {}).get("text/html", "") for o in cell.outputs)
    rows = re.findall(r"<tr>(.*?)</tr>", html)[1:]
    assert len(rows) >= 5
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", r) for r in rows]
    assert all(len(c) == 3 and CJK.search(c[1]) and c[2].strip() for c in cells), "term, 中文 and meaning"


ASK = re.compile(r'ask\("(\d\d[a-z]?\.[a-z0-9-]+)"')


def _asks(nb: nbformat.NotebookNode) -> list[tuple[int, str]]:
    """(cell index, question id) of every ask("...") in a code cell."""
    return [(i, m) for i, c in enumerate(nb.cells) if c.cell_type == "code" for m in ASK.findall(c.source)]


@pytest.mark.parametrize("name", NAMES)
def test_three_predict_then_reveal_moments(name: str) -> None:
    from tcpkit.lessons.bank import load_bank

    bank = load_bank()
    nb = _load(name)
    predicts = [i for i, qid in _asks(nb) if bank[qid].role == "predict"]
    assert len(predicts) >= 3
    # every prediction is followed (later) by a code cell that runs something
    for i in predicts:
        assert any(c.cell_type == "code" and "ask(" not in c.source for c in nb.cells[i + 1 :])


@pytest.mark.parametrize("name", NAMES)
def test_lab_construction_task_and_check_yourself(name: str) -> None:
    from tcpkit.lessons.bank import load_bank

    bank = load_bank()
    nb = _load(name)
    _section(nb, "Lab")
    build, _ = _section(nb, "Build it")
    idx, _ = _section(nb, "Check yourself")
    tasks = [qid for i, qid in _asks(nb) if build < i < idx and bank[qid].kind == "construct"]
    assert tasks, 'the Build it section asks a construction task: ask("NN.task")'
    after = [c.source for c in nb.cells[idx + 1 :] if c.cell_type == "code"]
    assert f'check_yourself("{_key(name)}")' in after


# what the course's before-stop hook counts too: a keyword argument that passes an answer
ANSWER_LITERAL = re.compile(r"\b(answer|answers|accept|correct|solution)\s*=")


def test_no_code_cell_passes_an_answer_literally() -> None:
    found = [
        f"{n}: {line.strip()}"
        for n in NAMES
        for src in _code(_load(n))
        for line in src.splitlines()
        if ANSWER_LITERAL.search(line)
    ]
    assert not found, "answers belong in the question bank (tcpkit/lessons/bank), asked by id:\n" + "\n".join(found)


def test_every_question_asked_exists_and_every_question_is_asked_in_its_notebook() -> None:
    from tcpkit.lessons.bank import load_bank

    bank = load_bank()
    asked: dict[str, str] = {}
    for n in NAMES:
        for _i, qid in _asks(_load(n)):
            assert qid in bank, f"{n} asks {qid}, which is not in the bank"
            assert qid.startswith(_key(n) + "."), f"{n} asks {qid} from another notebook"
            assert qid not in asked, f"{qid} is asked twice"
            asked[qid] = n
    not_asked = [q for q, s in bank.items() if s.role != "check" and q not in asked]
    assert not not_asked, f"bank questions no notebook asks: {not_asked}"
    stray = [q for q, s in bank.items() if s.role == "check" and q in asked]
    assert not stray, f"check-yourself questions are asked by check_yourself(), not one by one: {stray}"


def test_no_model_answer_appears_in_a_notebook() -> None:
    """A construction task's model answer stays in the package data until the student asks for it."""
    from tcpkit.lessons.bank import load_bank
    from tcpkit.lessons.construct import model_path

    text = "\n".join(c.source + json.dumps(c.get("outputs", [])) for n in NAMES for c in _load(n).cells)
    for spec in load_bank().values():
        if spec.kind != "construct":
            continue
        model = model_path(spec.extra["model"]).read_text(encoding="utf-8")
        scaffold = spec.extra["scaffold"]
        own = [line.strip() for line in model.splitlines() if len(line.strip()) > 20 and line.strip() not in scaffold]
        assert own, spec.id
        leaked = [line for line in own if line in text]
        assert not leaked, f"{spec.id}: model answer lines in a notebook: {leaked}"


def test_01_asks_for_the_synack_before_drawing_the_handshake() -> None:
    nb = _load("01_handshake")
    asked = next(i for i, qid in _asks(nb) if qid == "01.synack-reply")
    shown = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "ladder_figure(handshake)" in c.source]
    table = [i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and "| segment | the letter |" in c.source]
    assert shown and table and asked < min(shown) and asked < min(table)
    run = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "handshake = net.trace(" in c.source)
    assert asked < run, "the run that answers the question comes after it"
    for qid in ("01.client-confirmed", "01.server-confirmed"):
        assert next(i for i, q in _asks(nb) if q == qid) < min(table)


def test_04_asks_for_the_state_before_drawing_the_close() -> None:
    nb = _load("04_four_way_close")
    asked = next(i for i, qid in _asks(nb) if qid == "04.state-after-fin-acked")
    drawn = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "ladder_figure(trace)" in c.source)
    assert asked < drawn


def test_flag_notation_is_taught_in_01_before_any_segment_is_shown() -> None:
    nb = _load("01_handshake")
    taught, text = _section(nb, "Reading a segment")
    for letters in ("`S`", "`S.`", "`.`", "`P.`", "`F.`", "`R`", "`R.`"):
        assert letters in "".join(c.source for c in nb.cells[taught : taught + 4]), letters
    first_segment = next(
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and re.search(r"ask\(|ladder_figure|filter\(kind=Kind.SEND", c.source)
    )
    assert taught < first_segment


def test_myth_boxes_cover_every_erratum_where_it_is_taught() -> None:
    from tcpkit.lessons.myths import myth_boxes, problems

    sources = {_key(n): "\n\n".join(c.source for c in _load(n).cells if c.cell_type == "markdown") for n in NAMES}
    assert problems(sources) == []
    counts = {n: len(myth_boxes(t)) for n, t in sources.items()}
    assert sum(counts[n] for n in ("01", "02", "03", "03b", "04", "05")) >= 16
    assert all(counts[n] >= 1 for n in ("01", "02", "03", "03b", "04", "05", "06")), counts


def test_myth_boxes_are_written_fresh_not_copied_from_the_source_notes() -> None:
    from tcpkit.lessons.myths import myth_boxes

    seeds = ROOT.parent / "shared" / "seeds" / "README.md"
    if not seeds.exists():
        pytest.skip("the course's source notes are not next to this checkout")
    notes = " ".join(seeds.read_text(encoding="utf-8").split())
    for n in NAMES:
        text = "\n\n".join(c.source for c in _load(n).cells if c.cell_type == "markdown")
        for box in myth_boxes(text):
            words = (box.myth + " " + box.fact).split()
            copied = [" ".join(words[i : i + 8]) for i in range(len(words) - 7) if " ".join(words[i : i + 8]) in notes]
            assert not copied, f"{n}: copied from the source notes: {copied[0]!r}"


@pytest.mark.parametrize("name", NAMES)
def test_cells_are_short_and_executed_and_stateless(name: str) -> None:
    nb = _load(name)
    assert "widgets" not in nb.metadata
    for cell in nb.cells:
        assert "widgets" not in cell.metadata
        if cell.cell_type == "code":
            n = len(cell.source.splitlines())
            assert n <= MAX_CELL_LINES, f"a {n}-line cell belongs in the package:\n{cell.source[:200]}"
            assert cell.execution_count is not None, "notebooks are stored executed"
            assert not any(o.get("output_type") == "error" for o in cell.outputs)


@pytest.mark.parametrize("name", NAMES)
def test_outputs_are_readable_without_a_kernel(name: str) -> None:
    """Every output that needs a widget manager also carries a static HTML or text form."""
    nb = _load(name)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "application/vnd.jupyter.widget-view+json" in data:
                assert {"text/html", "text/plain", "application/vnd.plotly.v1+json"} & set(data)
            assert "text/html" not in data or "plotly.min.js" not in data["text/html"], "no embedded plotly.js"


def test_every_key_term_in_the_course_text_has_a_chinese_name() -> None:
    from tcpkit.lessons.text import TERMS

    assert all(CJK.search(zh) for zh in TERMS.values())


def test_00_glossary_shows_every_term_with_both_meanings() -> None:
    from tcpkit.i18n import glossary

    nb = _load("00_start_here")
    idx, _ = _section(nb, "Glossary")
    cell = next(c for c in nb.cells[idx + 1 :] if c.cell_type == "code")
    assert cell.source.strip() == "glossary_table()"
    html = "".join(o.get("data", {}).get("text/html", "") for o in cell.outputs)
    for t in glossary():
        if t.name != "-":
            assert f"<td style='text-align:left'>{_html.escape(t.meaning)}</td>" in html, t.name
            assert _html.escape(t.meaning_zh) in html, t.name


ERRATA_FACTS = {
    # erratum number in /work/shared/seeds/README.md -> text the course must say somewhere
    1: "tcp_fin_timeout",
    2: "240 s",
    3: "4 microseconds",
    4: "4.12",
    5: "loopback",
    6: "63 s",
    7: "131 s",
    8: "backlog + 1",
    9: "tcp_max_syn_backlog",
    10: "tcp_abort_on_overflow",
    11: "MSS",
    12: "SYN_RECEIVED",
    13: "half-close",
    14: "Fast Open",
    15: "RFC 1337",
    16: "7875",
}


def test_the_course_teaches_every_erratum() -> None:
    text = "\n".join(c.source for n in NAMES for c in _load(n).cells)
    missing = {k: v for k, v in ERRATA_FACTS.items() if v not in text}
    assert not missing
    myths = _load("05_time_wait_and_tuning")
    _section(myths, "Myth")  # the end-of-05 summary table stays


def test_misspelled_state_names_appear_only_as_corrections() -> None:
    """Erratum 12: SYN_RECEIVED, CLOSE_WAIT; a wrong spelling may only appear in a sentence that corrects it
    (or as the myth of a myth-vs-fact box, which states the wrong belief on purpose)."""
    wrong = re.compile(r"SYN[-_]REVD|ITMED_WAIT|CLOSED[-_]WAIT", re.I)
    for n in NAMES:
        for c in _load(n).cells:
            if c.cell_type != "markdown":
                continue
            prose = "\n".join(line for line in c.source.splitlines() if not line.startswith("> **Myth:**"))
            for sentence in re.split(r"(?<=[.!?])\s", prose):
                if wrong.search(sentence):
                    assert re.search(r"\b(not|no)\b", sentence), sentence


def test_build_script_parses_sources_into_cells() -> None:
    build = _build_module()
    text = "# Title\n\nprose\n+++\nmore prose\n```python\nx = 1\n\ny = 2\n```\n```python\n```\ntail\n"
    assert build.parse_source(text) == [
        ("markdown", "# Title\n\nprose"),
        ("markdown", "more prose"),
        ("code", "x = 1\n\ny = 2"),
        ("code", ""),
        ("markdown", "tail"),
    ]
    with pytest.raises(SystemExit, match="line 2 is never closed"):
        build.parse_source("text\n```python\nx = 1\n")


def test_build_script_strips_widget_state_and_timing() -> None:
    build = _build_module()
    nb = build.make_notebook("t", [("markdown", "# T"), ("code", "1 + 1")])
    assert [c.id for c in nb.cells] == ["t-000", "t-001"]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    nb.cells[1].metadata["execution"] = {"iopub.status.busy": "2026-01-01T00:00:00Z"}
    build.strip_state(nb)
    assert "widgets" not in nb.metadata and "execution" not in nb.cells[1].metadata
    nbformat.validate(nb)


def test_notebook_code_has_no_unused_names_or_undefined_names() -> None:
    """pyflakes-level checks (ruff F rules) over the code cells: a stale import or a typo fails here."""
    import shutil
    import subprocess
    import sys

    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed")
    paths = [str(NB_DIR / f"{n}.ipynb") for n in NAMES]
    proc = subprocess.run(
        [ruff, "check", "--no-cache", "--select", "F", "--output-format", "concise", *paths],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_course_text_table_and_terms() -> None:
    from tcpkit.engine.errors import ParameterError
    from tcpkit.lessons.text import TERMS, Table, glossary_rows, term

    with pytest.raises(ParameterError, match="2 values, one per column"):
        Table(["a", "b"], [[1]])
    t = Table(["x", "y"], [[0.5, "<b>"], [2.0, True]])
    assert "&lt;b&gt;" in t._repr_html_()
    assert str(t).splitlines()[2].split() == ["0.5", "<b>"]
    assert str(t).splitlines()[3].split() == ["2", "True"]
    rows = glossary_rows()
    assert len(rows) == 11 + len(TERMS)
    assert term("TIME_WAIT") == "TIME_WAIT (时间等待)"


def test_syn_ack_lifetime_is_taught_for_a_lone_request_and_under_a_flood() -> None:
    """Notebook 03: 63 s for a lone request, 7 s when reqsk_timer_handler prunes a crowded SYN queue."""
    nb = _load("03_listen_queues")
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "63 s" in text and "7 s" in text
    assert "inet_connection_sock.c" in text and "reqsk_timer_handler" in text
    outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "request dropped after 63.0 s" in outputs
    lengths = re.search(r"SYN queue length every 5 s: \[([\d, ]+)\] \| limit (\d+)", outputs)
    assert lengths is not None
    assert max(int(x) for x in lengths.group(1).split(",")) < int(lengths.group(2)), (
        "pruning keeps a gentle flood below the limit"
    )
