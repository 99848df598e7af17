"""One upload limit, N = server.maxUploadSize in .streamlit/config.toml, agreed on by the server,
every upload widget (the cap it is given and the limit its label states) and the engine.

How Streamlit counts it (read in the installed version's source): the server refuses a file above
N * 2**20 bytes (web/server/starlette/starlette_routes.py); the browser's uploader turns N "MB"
into bytes with 1024 on Windows and 1000 elsewhere, so it stops at N * 2**20 or N * 10**6 bytes.
The engine's limits are the server's: nothing a browser or the server lets through is refused by
the engine for its size, and the engine's own messages count MB as the server does."""
import ast
import inspect
import re
import tomllib
from pathlib import Path

import engine

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted(ROOT.glob("app_pages/**/*.py"))


def max_upload_mb() -> int:
    return tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]["maxUploadSize"]


def test_the_installed_streamlit_server_counts_max_upload_size_in_mebibytes():
    from streamlit.web.server.starlette import starlette_routes

    source = inspect.getsource(starlette_routes)
    assert re.search(r'get_option\(\s*"server\.maxUploadSize"\s*\)\s*\*\s*1024\s*\*\s*1024', source), (
        "Streamlit's server counts server.maxUploadSize otherwise now: check the engine's limits against it")


def test_the_engine_refuses_nothing_the_server_lets_through():
    server_limit = max_upload_mb() * 2**20
    assert engine.MAX_UPLOAD_BYTES == server_limit          # images, and zips of them
    assert engine.MAX_CSV_BYTES == server_limit             # the sequence page's CSV files
    assert max_upload_mb() * 10**6 <= server_limit          # browsers outside Windows stop below it


def uploaders(tree: ast.Module) -> list[ast.Call]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute) and node.func.attr == "file_uploader"]


def page_namespace(tree: ast.Module) -> dict:
    """The page's imports and its module-level MAX_UPLOAD_MB, evaluated (a page is a script that
    draws as it runs: it is not imported whole)."""
    namespace: dict = {}
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)) or (
                isinstance(node, ast.Assign) and [ast.unparse(t) for t in node.targets] == ["MAX_UPLOAD_MB"]):
            exec(compile(ast.Module([node], []), "<page>", "exec"), namespace)
    return namespace


def test_every_upload_widget_caps_and_states_the_servers_limit():
    limit, checked = max_upload_mb(), 0
    for path in PAGES:
        tree = ast.parse(path.read_text())
        calls = uploaders(tree)
        namespace = page_namespace(tree) if calls else {}
        for call in calls:
            where = f"{path.relative_to(ROOT)}:{call.lineno}"
            cap = next((k.value for k in call.keywords if k.arg == "max_upload_size"), None)
            assert cap is not None, f"{where}: give the widget max_upload_size"
            value = eval(compile(ast.Expression(cap), where, "eval"), namespace)
            if isinstance(cap, ast.Constant) and value < limit:
                continue                                    # a small file of its own kind (colour points)
            assert value == limit, f"{where}: caps at {value} MB, the server at {limit} MB"
            label = call.args[0] if call.args else next(k.value for k in call.keywords if k.arg == "label")
            stated = f"{{{ast.unparse(cap)}}} MB"               # f"... (up to {MAX_UPLOAD_MB} MB)"
            assert isinstance(label, ast.JoinedStr) and stated in ast.unparse(label), (
                f"{where}: the label should state the limit, {stated}")
            checked += 1
    assert checked >= 13       # every upload of every page


def test_the_app_watches_no_files_and_the_readme_says_how_to_reload():
    """A virtual environment inside the repository flooded the file watcher ("Inotify queue
    overflowed"); the README's first command never returns, and says so."""
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["fileWatcherType"] == "none"
    readme = (ROOT / "README.md").read_text()
    assert "--server.fileWatcherType auto" in readme and "second terminal" in readme
    assert "pip install -r requirements.txt && streamlit run streamlit_app.py" in readme   # the app alone
