"""Ready for Streamlit Community Cloud: what it reads from the repository.

Community Cloud installs the first dependency file it finds (uv.lock, Pipfile,
environment.yml, requirements.txt, pyproject.toml, in that order) and runs
`streamlit run app.py` from the repository root with the Python version chosen at deploy
time. `.ci/run` installs requirements.txt alone in a fresh Python 3.11 venv and runs the
page there; these tests check the files that make that work.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
PYTHON = "3.11"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([0-9][A-Za-z0-9.+!-]*)$")


def pins() -> dict[str, str]:
    out = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        m = PIN.match(line)
        assert m, f"requirements.txt: {line!r} is not pinned as name==version"
        out[metadata.distribution(m.group(1)).metadata["Name"].lower()] = m.group(2)
    return out


def test_requirements_are_pinned_and_cover_the_page():
    assert {"streamlit", "altair", "pandas", "numpy", "vl-convert-python"} <= set(pins())


def test_the_tests_run_the_pinned_versions():
    for name, version in pins().items():
        assert metadata.version(name) == version, f"{name}: installed {metadata.version(name)}, pinned {version}"


def closure(names: set[str]) -> set[str]:
    """Distributions installed by pip for these requirements (their Requires-Dist, transitively)."""
    env = {"extra": ""}
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop().lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        for spec in metadata.requires(name) or []:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate(env):
                todo.append(req.name)
    return seen


def third_party_imports() -> dict[str, str]:
    """Top-level modules the page and the core import (module -> first file that does)."""
    files = [ROOT / "app.py", *(ROOT / "page").rglob("*.py"), *(ROOT / "epochsteps").rglob("*.py")]
    local = {"epochsteps", "page", "app"}
    out: dict[str, str] = {}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in local:
                    out.setdefault(top, path.relative_to(ROOT).as_posix())
    return out


def test_every_import_is_installed_by_requirements_txt_alone():
    provided = metadata.packages_distributions()
    installed = closure(set(pins()))
    missing = {
        module: where
        for module, where in third_party_imports().items()
        if not {d.lower().replace("_", "-") for d in provided.get(module, [])} & installed
    }
    assert missing == {}, f"imported but not installed by requirements.txt: {missing}"


def test_requirements_txt_is_the_dependency_file_community_cloud_reads():
    for ahead in ("uv.lock", "Pipfile", "environment.yml", "environment.yaml"):
        assert not (ROOT / ahead).exists(), f"{ahead} would be read instead of requirements.txt"
    text = (ROOT / "requirements.txt").read_text()
    assert not re.search(r"^\s*(-e|--index-url|--extra-index-url|--find-links|-f|\.|/)", text, re.M)  # nothing local or private
    packages = ROOT / "packages.txt"
    assert not packages.exists() or not packages.read_text().strip()  # no apt packages needed


def test_python_version_is_named_and_consistent():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == f">={PYTHON}"
    assert f"Python {PYTHON}" in (ROOT / "requirements.txt").read_text()
    assert sys.version_info[:2] == tuple(int(x) for x in PYTHON.split("."))  # the tests run on it too


def readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert m, f"README has no '## {title}' section"
    return m.group(1)


def test_readme_says_how_to_deploy():
    section = readme_section("Deploy to Streamlit Community Cloud")
    for phrase in (
        "share.streamlit.io",
        "app.py",
        "requirements.txt",
        f"Python {PYTHON}",
        "Advanced settings",
        ".streamlit/config.toml",
    ):
        assert phrase in section, phrase
    steps = re.findall(r"^\d+\. ", section, re.M)
    assert 3 <= len(steps) <= 7  # a few steps


def test_config_has_the_theme_and_no_usage_stats():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["browser"]["gatherUsageStats"] is False
    assert config["theme"]["primaryColor"] and config["theme"]["base"] in ("light", "dark")
    assert "address" not in config.get("server", {}) and "port" not in config.get("server", {})  # Community Cloud sets them


def test_ci_installs_requirements_alone_in_a_fresh_venv_and_runs_the_page():
    ci = (ROOT / ".ci" / "run").read_text()
    step = ci[ci.index("Community Cloud check") : ci.index("# The README's test command.")]
    assert "python3.11" in step and "-m venv" in step
    assert re.search(r'"\$deploy_venv/bin/python" -m pip install -q -r requirements.txt\n', step)
    assert "requirements-dev" not in step and "--system-site-packages" not in step
    assert 'AppTest.from_file("app.py"' in step and "assert not at.exception" in step
    assert ci.index("Community Cloud check") < ci.index("python -m pytest")
    assert 'if [ "$status" -eq 5 ]' in ci  # the zero-tests guard stays
