"""A student's first minutes in the browser, run by ``precompile.py`` inside Pyodide to pick what to compile.

Each step is tried on its own (a step that fails in Node, e.g. one that needs the browser, is reported
and skipped); every module imported along the way from the site's wheels gets a ``.pyc``.  The rest
keep only their sources and are compiled in the browser if a notebook ever imports them.
"""

STEPS = [
    "import IPython",
    "import ipywidgets, comm, anywidget",
    "import networkx",
    "import plotly.graph_objects as go, plotly.io",
    # the course: every notebook's first cell, its figures, its widgets and its labs
    "import tcpkit, tcpkit.widgets, tcpkit.viz, tcpkit.lessons, tcpkit.live",
    "from tcpkit.lessons import setup_notebook, ask, check_yourself, key_terms, glossary_table",
    "from tcpkit.drivers.scenarios import run_scenario; T = run_scenario('open_close_client_first', seed=1)",
    "from tcpkit.viz import ladder_figure; ladder_figure(T).to_dict()",
    "from tcpkit.viz import state_graph_figure; state_graph_figure().to_dict()",
    "from tcpkit.viz import state_gantt_figure, time_sequence_figure; state_gantt_figure(T); time_sequence_figure(T)",
    "from tcpkit.viz import isn_figure; isn_figure()",
    "from tcpkit.viz import queue_figure, example_trace; queue_figure(example_trace('flood'))",
    "go.FigureWidget(ladder_figure(T))",
    "from tcpkit.widgets import TracePlayer; TracePlayer(T)",
    "from tcpkit.widgets import PredictWidget; PredictWidget(T, at=3)",
    "from tcpkit.widgets import KnobPanel; KnobPanel()",
    "from tcpkit.widgets import ScenarioExplorer; ScenarioExplorer()",
    *(
        f"from tcpkit.widgets import {lab}; {lab}()"
        for lab in (
            "ExitsLab",
            "SynRetryLab",
            "IsnAttackLab",
            "BurstLab",
            "FloodLab",
            "SlowCloseLab",
            "PortCeilingLab",
            "PortExhaustionLab",
            "KernelLab",
        )
    ),
    "ask('01.synack-reply'); check_yourself('01'); key_terms('01'); glossary_table()",
    "from tcpkit.lessons import tasks; tasks",
    # what the kernel imports as it starts (pyodide-kernel, its ipykernel shim, IPython); last, because the
    # shim replaces the comms the widgets above were made with
    "import pyodide_kernel",
    "import ipykernel, piplite",
]
