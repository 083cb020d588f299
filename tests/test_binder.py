"""binder/ must install exactly what pyproject.toml declares for students (deps + lab + grading)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[; ]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject_student_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in ("lab", "grading"):
        reqs += [r for r in project["optional-dependencies"][extra] if not r.startswith("tcpkit[")]
    return {_name(r): r.replace(" ", "") for r in reqs}


def _binder_requirements() -> dict[str, str]:
    lines = (ROOT / "binder" / "requirements.txt").read_text().splitlines()
    reqs = [ln.split("#", 1)[0].strip() for ln in lines]
    return {_name(r): r.replace(" ", "") for r in reqs if r}


def test_binder_installs_the_same_packages_as_pyproject() -> None:
    assert _binder_requirements() == _pyproject_student_requirements()


def test_binder_post_build_installs_the_package_and_python_matches() -> None:
    post = (ROOT / "binder" / "postBuild").read_text()
    assert "pip install" in post and "-e ." in post
    runtime = (ROOT / "binder" / "runtime.txt").read_text().strip()
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    major_minor = tuple(int(x) for x in runtime.split("-")[1].split("."))
    floor = tuple(int(x) for x in requires.lstrip(">=").split("."))
    assert major_minor >= floor


def test_readme_binder_link_opens_the_start_notebook_in_lab() -> None:
    readme = (ROOT / "README.md").read_text()
    link = re.search(r"https://mybinder\.org/v2/gh/[^)\s]+", readme)
    assert link, "README has no Binder link"
    assert "urlpath=lab/tree/notebooks/00_start_here.ipynb" in link.group(0)
    assert (ROOT / "notebooks" / "00_start_here.ipynb").exists()


def test_jupyterlab_saves_widget_state_with_the_notebook_in_tasks_lab_and_on_binder() -> None:
    import json

    overrides = ROOT / "jupyter_config" / "lab" / "settings" / "overrides.json"
    settings = json.loads(overrides.read_text())
    assert settings["@jupyter-widgets/jupyterlab-manager:plugin"]["saveState"] is True
    post = (ROOT / "binder" / "postBuild").read_text()
    assert "jupyter_config/lab/settings/overrides.json" in post and "share/jupyter/lab/settings" in post
    tasks = (ROOT / "tasks.py").read_text()
    assert "--LabApp.app_settings_dir=" in tasks and "jupyter_config" in tasks


def test_tasks_lab_installs_only_the_lab_extra_and_tests_add_dev() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("tasks", ROOT / "tasks.py")
    assert spec is not None and spec.loader is not None
    tasks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tasks)
    assert tasks._extras_covered("dev", "lab") and tasks._extras_covered("lab,grading", "lab")
    assert not tasks._extras_covered("lab", "dev") and not tasks._extras_covered("lab", "lab,grading")
    lab_extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["lab"]
    names = {_name(r) for r in lab_extra}
    assert "jupyterlab" in names and not names & {"otter-grader", "pytest", "playwright", "mypy", "ruff", "hypothesis"}
    args = ["--port", "9999", "--no-browser", "--ServerApp.ip=0.0.0.0"]
    assert tasks._take_option(args, "port") == "9999" and args == ["--no-browser", "--ServerApp.ip=0.0.0.0"]
