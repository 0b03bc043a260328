"""Nothing from the URL or a widget reaches raw HTML, eval/exec, pickle or a shell; the
server keeps XSRF protection; scripts only ever bind 127.0.0.1.

The source scan walks the ast of app.py, epochsteps/ and scripts/. Each rule is also run on
a small bad snippet, so a scanner that stopped finding things would fail here too.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted(
    [ROOT / "app.py", *ROOT.glob("pages/*.py"), *(ROOT / "epochsteps").rglob("*.py"), *(ROOT / "scripts").glob("*.py")]
)
SCRIPTS = sorted((ROOT / "scripts").rglob("*.py"))

# calls that render their argument as raw HTML/JS in the browser
HTML_SINKS = {"html", "iframe"}  # st.html, components.html, components.iframe
CODE_SINKS = {"eval", "exec", "compile", "__import__"}
SHELL_SINKS = {("os", "system"), ("os", "popen"), ("os", "execl"), ("os", "execlp"), ("os", "execv"), ("os", "execvp")}
UNSAFE_MODULES = {"pickle", "cPickle", "dill", "shelve", "marshal", "cloudpickle", "joblib"}
SUBPROCESS_FUNCS = {"run", "call", "check_call", "check_output", "Popen", "getoutput", "getstatusoutput"}
IPV4 = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")


def _name(func: ast.expr) -> tuple[str, str]:
    """(owner, attribute) of a call: os.system -> ('os', 'system'); eval -> ('', 'eval')."""
    if isinstance(func, ast.Name):
        return "", func.id
    if isinstance(func, ast.Attribute):
        owner = func.value
        base = owner.id if isinstance(owner, ast.Name) else owner.attr if isinstance(owner, ast.Attribute) else ""
        return base, func.attr
    return "", ""


def _constant_text(node: ast.expr | None, constants: frozenset[str] = frozenset()) -> bool:
    """A string literal, or a module-level name bound once to one (PAGE_CSS = "<style>...")."""
    if isinstance(node, ast.Name):
        return node.id in constants
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _module_constants(tree: ast.Module) -> frozenset[str]:
    stores: dict[str, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            stores[node.id] = stores.get(node.id, 0) + 1
        elif isinstance(node, ast.Global | ast.Nonlocal):
            for name in node.names:
                stores[name] = stores.get(name, 0) + 2  # rebound elsewhere: not a constant
    literal = {
        t.id
        for node in tree.body
        if isinstance(node, ast.Assign) and _constant_text(node.value)
        for t in node.targets
        if isinstance(t, ast.Name)
    }
    return frozenset(name for name in literal if stores.get(name) == 1)


def _kw(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def findings(source: str, filename: str = "<src>") -> list[str]:
    """Every rule broken in one module, as 'file:line: what'."""
    tree = ast.parse(source, filename)
    constants = _module_constants(tree)
    out = []

    def bad(node: ast.AST, what: str) -> None:
        out.append(f"{filename}:{getattr(node, 'lineno', 0)}: {what}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for name in names:
                if name.split(".")[0] in UNSAFE_MODULES:
                    bad(node, f"imports {name} (deserialising can run code)")
        if not isinstance(node, ast.Call):
            continue
        owner, attr = _name(node.func)
        unsafe = _kw(node, "unsafe_allow_html")
        if unsafe is not None and not (isinstance(unsafe, ast.Constant) and unsafe.value is False):
            body = node.args[0] if node.args else _kw(node, "body")
            if not _constant_text(body, constants):
                bad(node, "unsafe_allow_html with text that is not a constant string literal")
        if attr in HTML_SINKS and owner in ("st", "components", "v1", "streamlit"):
            body = node.args[0] if node.args else _kw(node, "body") or _kw(node, "html") or _kw(node, "src")
            if not _constant_text(body, constants):
                bad(node, f"{owner}.{attr} with text that is not a constant string literal")
        if owner == "" and attr in CODE_SINKS:
            bad(node, f"{attr}() runs code")
        if (owner, attr) in SHELL_SINKS:
            bad(node, f"{owner}.{attr}() runs a shell or replaces the process")
        if owner == "subprocess" and attr in ("getoutput", "getstatusoutput"):
            bad(node, f"subprocess.{attr} runs a shell")
        if attr in SUBPROCESS_FUNCS and owner == "subprocess":
            shell = _kw(node, "shell")
            if shell is not None and not (isinstance(shell, ast.Constant) and shell.value is False):
                bad(node, "subprocess with shell=True")
            cmd = node.args[0] if node.args else _kw(node, "args")
            if isinstance(cmd, ast.Constant | ast.JoinedStr | ast.BinOp):
                bad(node, "subprocess command built as one string (use an argument list)")
        if owner == "yaml" and attr in ("load", "unsafe_load", "full_load"):
            bad(node, f"yaml.{attr} can build arbitrary objects")
    return out


def string_constants(source: str) -> list[tuple[int, str]]:
    return [(n.lineno, n.value) for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def address_findings(source: str, filename: str = "<src>") -> list[str]:
    """Addresses a script could bind or call: only 127.0.0.1."""
    out = []
    for line, text in string_constants(source):
        for ip in IPV4.findall(text):
            if ip != "127.0.0.1":
                out.append(f"{filename}:{line}: address {ip}")
        if re.search(r"\blocalhost\b|\[::\]|(?<![\w:])::(?![\w:])", text):
            out.append(f"{filename}:{line}: {text!r} is not 127.0.0.1")
    return out


def launch_findings(source: str, filename: str = "<src>") -> list[str]:
    """A `streamlit run` command list must pass --server.address 127.0.0.1 (its default is every interface)."""
    tree = ast.parse(source)
    loopback = {
        t.id
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and node.value.value == "127.0.0.1"
        for t in node.targets
        if isinstance(t, ast.Name)
    }
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.List):
            continue
        texts = [e.value if isinstance(e, ast.Constant) else None for e in node.elts]
        if "streamlit" not in texts or "run" not in texts:
            continue
        if "--server.address" not in texts:
            out.append(f"{filename}:{node.lineno}: streamlit run without --server.address")
            continue
        value = node.elts[texts.index("--server.address") + 1] if texts.index("--server.address") + 1 < len(node.elts) else None
        if not (isinstance(value, ast.Constant) and value.value == "127.0.0.1") and not (
            isinstance(value, ast.Name) and value.id in loopback
        ):
            out.append(f"{filename}:{node.lineno}: streamlit run on an address other than 127.0.0.1")
    return out


# -- the scanner finds what it should (so a pass below means something) -----------------------


@pytest.mark.parametrize(
    ("snippet", "phrase"),
    [
        ("import streamlit as st\nst.markdown(f'<b>{name}</b>', unsafe_allow_html=True)", "unsafe_allow_html"),
        ("import streamlit as st\nst.markdown(text, unsafe_allow_html=flag)", "unsafe_allow_html"),
        ("import streamlit as st\nst.write(body=q, unsafe_allow_html=True)", "unsafe_allow_html"),
        ("import streamlit as st\nst.html(user_text)", "st.html"),
        ("import streamlit as st\nCSS = '<style>'\nCSS += name\nst.html(CSS)", "st.html"),
        ("import streamlit as st\nCSS = '<b>'\ndef f():\n    global CSS\n    CSS = q\nst.html(CSS)", "st.html"),
        ("import streamlit.components.v1 as components\ncomponents.html(page)", "components.html"),
        ("x = eval(query)", "eval"),
        ("exec(code)", "exec"),
        ("import pickle\npickle.loads(data)", "pickle"),
        ("from shelve import open", "shelve"),
        ("import os\nos.system('ls ' + name)", "os.system"),
        ("import subprocess\nsubprocess.run(cmd, shell=True)", "shell=True"),
        ("import subprocess\nsubprocess.Popen(f'streamlit run {x}')", "one string"),
        ("import yaml\nyaml.load(text)", "yaml.load"),
    ],
)
def test_the_scanner_flags_unsafe_code(snippet, phrase):
    assert any(phrase in f for f in findings(snippet)), findings(snippet)


@pytest.mark.parametrize(
    "snippet",
    [
        "import streamlit as st\nst.markdown('<style>.x{}</style>', unsafe_allow_html=True)",
        "import streamlit as st\nst.markdown(text, unsafe_allow_html=False)",
        "import streamlit as st\nst.markdown(text)",
        "import streamlit as st\nCSS = '<style></style>'\nst.html(CSS)",
        "import subprocess, sys\nsubprocess.Popen([sys.executable, '-m', 'streamlit', 'run', path])",
        "model.eval()",  # a method called eval is not the builtin
    ],
)
def test_the_scanner_passes_safe_code(snippet):
    assert findings(snippet) == []


@pytest.mark.parametrize(
    ("snippet", "ok"),
    [
        ("cmd = ['--server.address', '127.0.0.1']", True),
        ("url = f'http://127.0.0.1:{port}'", True),
        ("cmd = ['--server.address', '0.0.0.0']", False),
        ("url = 'http://localhost:8501'", False),
        ("url = 'http://10.1.2.3/'", False),
        ("host = '::'", False),
    ],
)
def test_the_address_check(snippet, ok):
    assert (address_findings(snippet) == []) is ok


@pytest.mark.parametrize(
    ("snippet", "ok"),
    [
        ("cmd = [python, '-m', 'streamlit', 'run', 'app.py', '--server.address', '127.0.0.1']", True),
        ("HOST = '127.0.0.1'\ncmd = ['streamlit', 'run', 'app.py', '--server.address', HOST]", True),
        ("cmd = ['streamlit', 'run', 'app.py', '--server.port', '8501']", False),
        ("cmd = ['streamlit', 'run', 'app.py', '--server.address', host]", False),
        ("cmd = ['streamlit', 'run', 'app.py', '--server.address', '0.0.0.0']", False),
    ],
)
def test_the_launch_check(snippet, ok):
    assert (launch_findings(snippet) == []) is ok


# -- the project's own source --------------------------------------------------------------------


def test_sources_are_scanned():
    names = {p.relative_to(ROOT).as_posix() for p in SOURCES}
    assert {"app.py", "epochsteps/urlstate.py", "epochsteps/cli.py"} <= names
    assert {"scripts/loadtest.py", "scripts/memory_soak.py"} <= names


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_raw_html_code_execution_pickle_or_shell(path):
    assert findings(path.read_text(), path.relative_to(ROOT).as_posix()) == []


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_scripts_only_use_127_0_0_1(path):
    source = path.read_text()
    assert address_findings(source, path.name) == []
    assert launch_findings(source, path.name) == []


def test_the_core_never_imports_streamlit():
    for path in (ROOT / "epochsteps").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert not any(n.split(".")[0] == "streamlit" for n in names), path


# -- server configuration -----------------------------------------------------------------------


def config() -> dict:
    return tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())


def test_config_keeps_xsrf_and_cors_protection_and_sends_no_usage_stats():
    c = config()
    server = c.get("server", {})
    assert server.get("enableXsrfProtection", True) is True
    assert server.get("enableCORS", True) is True
    assert c["browser"]["gatherUsageStats"] is False
    assert server.get("address") in (None, "127.0.0.1")  # Community Cloud chooses its own; never every interface here
    assert c.get("client", {}).get("showErrorDetails") in ("none", False)  # tracebacks are not shown to visitors
    assert c["theme"]  # the page's theme travels with the repository


def test_html_injection_in_the_url_is_shown_as_text():
    """URL values land in the page only as escaped Markdown, never in an HTML element."""
    attack = "<img src=x onerror=alert(1)><script>alert(2)</script>[x](javascript:alert(3))"
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params["batch_size"] = attack
    at.query_params[attack] = attack
    at.query_params["framework"] = "hf"
    at.query_params["early_stopping"] = "true"
    at.query_params["metric_source"] = "pasted"
    at.query_params["metrics_text"] = attack
    at.run()
    assert not at.exception
    for element in at.get("html"):  # the page's own constant CSS only
        assert "alert(" not in element.proto.body and "onerror" not in element.proto.body
    for md in [*at.markdown, *at.caption]:  # Markdown elements: raw HTML only in constant literals
        if md.proto.allow_html:
            assert "alert(" not in md.value, md.value
    shown = "\n".join(w.value for w in at.warning)
    assert "onerror" in shown.replace("\\", "")  # the value was echoed ...
    assert not re.search(r"(?<!\\)[<\[\]()]", shown.split(":", 1)[1]), shown  # ... with every tag and link bracket escaped


# -- bounded caches: memory stays flat however many settings are visited ---------------------------


def unbounded_caches(source: str, filename: str = "<src>") -> list[str]:
    out = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for deco in node.decorator_list:
            call = deco if isinstance(deco, ast.Call) else None
            _, attr = _name(call.func if call else deco)
            if attr in ("cache_data", "cache_resource", "experimental_memo", "experimental_singleton"):
                limit = _kw(call, "max_entries") if call else None
                if limit is None or (isinstance(limit, ast.Constant) and limit.value is None):
                    out.append(f"{filename}:{node.lineno}: {node.name} is cached with no max_entries")
            elif attr == "cache":  # functools.cache never evicts
                out.append(f"{filename}:{node.lineno}: {node.name} uses functools.cache (unbounded)")
            elif attr == "lru_cache":
                size = _kw(call, "maxsize") if call else None
                if call and call.args:
                    size = call.args[0]
                if call is not None and isinstance(size, ast.Constant) and size.value is None:
                    out.append(f"{filename}:{node.lineno}: {node.name} uses lru_cache(maxsize=None)")
    return out


@pytest.mark.parametrize(
    ("snippet", "ok"),
    [
        ("@st.cache_resource(max_entries=64)\ndef f(x): ...", True),
        ("@st.cache_data(max_entries=N, ttl=60)\ndef f(x): ...", True),
        ("@lru_cache(maxsize=4)\ndef f(x): ...", True),
        ("@lru_cache\ndef f(x): ...", True),  # 128 entries by default
        ("@st.cache_data\ndef f(x): ...", False),
        ("@st.cache_resource(show_spinner=False)\ndef f(x): ...", False),
        ("@st.cache_data(max_entries=None)\ndef f(x): ...", False),
        ("@functools.cache\ndef f(x): ...", False),
        ("@lru_cache(maxsize=None)\ndef f(x): ...", False),
        ("@lru_cache(None)\ndef f(x): ...", False),
    ],
)
def test_the_cache_rule(snippet, ok):
    assert (unbounded_caches(snippet) == []) is ok


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_cache_is_bounded(path):
    assert unbounded_caches(path.read_text(), path.relative_to(ROOT).as_posix()) == []


@pytest.mark.parametrize("path", sorted((ROOT / "tests").glob("*.py")), ids=lambda p: p.name)
def test_tests_start_streamlit_on_127_0_0_1_only(path):
    assert launch_findings(path.read_text(), path.name) == []
