"""The import rules of the layout (DESIGN.md): serving code never needs torch, pages reach the
engine only through its public API.

Read from the import statements of every file (function-level imports included), and checked
at run time: every public serving function is called in a process where importing torch fails.
"""
from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENGINE = ROOT / "engine"
# Serving code: what pages and notebooks run (numpy, scikit-learn, onnxruntime)
SERVING = sorted([*ENGINE.glob("core/*.py"), *ENGINE.glob("tasks/*/serve.py"), ENGINE / "tasks/sequence/series.py",
                  ENGINE / "__init__.py", ENGINE / "training.py"])
PAGES = sorted([ROOT / "streamlit_app.py", *ROOT.glob("app_pages/**/*.py")])
PAGE_IMPORTS = {"engine", "app_pages", "streamlit", "plotly", "altair", "numpy", "pandas",
                "streamlit_image_coordinates",   # a Streamlit component: the colorization page's clicks
                "streamlit_drawable_canvas"}     # and one to draw characters on
STDLIB = set(sys.stdlib_module_names)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, module: str | None = None) -> list[str]:
    """Every module a file imports, anywhere in it, as absolute dotted names (for `from X import
    y` both X and X.y, since y may be a module); `module` is the file's dotted name (by default
    from its place in the project)."""
    tree = ast.parse(path.read_text())
    package = (module or module_name(path)).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            found.append(base)
            found += [f"{base}.{alias.name}" for alias in node.names]
    return found


def forbidden_for_serving(name: str) -> bool:
    parts = name.split(".")
    return (parts[0] == "torch" or name.startswith("engine.nn") or name in ("engine.builds", "engine.evaluate")
            or (len(parts) >= 4 and parts[:2] == ["engine", "tasks"] and parts[3] in ("model", "build", "evaluate")))


def test_the_layout_has_what_the_rules_speak_of():
    assert len([p for p in SERVING if p.name == "serve.py"]) == 9
    assert (ENGINE / "core" / "runtime.py").exists() and (ENGINE / "nn" / "train.py").exists()
    assert len(PAGES) > 10


@pytest.mark.parametrize("path", SERVING, ids=lambda p: str(p.relative_to(ROOT)))
def test_serving_code_imports_no_torch_and_no_training_code(path):
    bad = sorted({name for name in imports(path) if forbidden_for_serving(name)})
    if path.name == "training.py":   # only for type checkers: `if TYPE_CHECKING:` imports
        bad = [name for name in bad if not _only_when_type_checking(path, name)]
    assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def _only_when_type_checking(path: Path, name: str) -> bool:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            inside = {n.module for n in ast.walk(node) if isinstance(n, ast.ImportFrom)}
            if any(name.endswith(m.lstrip(".")) or m.lstrip(".") in name for m in inside if m):
                return True
    return False


def test_the_rule_catches_a_serving_module_that_imports_torch(tmp_path):
    """The check itself fails on a module that breaks the rule, however it imports."""
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text("import numpy\n\ndef f():\n    from ..nn.train import fit\n    import torch\n"
                      "    from engine.tasks.denoise import build\n")
    found = sorted(n for n in imports(sneaky, "engine.core.sneaky") if forbidden_for_serving(n))
    assert found == ["engine.nn.train", "engine.nn.train.fit", "engine.tasks.denoise.build", "torch"]


@pytest.mark.parametrize("path", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_pages_import_only_the_engine_api_and_display_libraries(path):
    bad = sorted({name for name in imports(path)
                  if name.split(".")[0] not in PAGE_IMPORTS | STDLIB
                  and not name.startswith(("app_pages.", "engine."))})
    reaching = sorted({name for name in imports(path) if name.startswith("engine.")
                       and name not in ("engine.training",) and not name.startswith("engine.training.")
                       and not _is_attribute_of_engine(name)})
    assert not bad, f"{path.relative_to(ROOT)} imports {bad}"
    assert not reaching, f"{path.relative_to(ROOT)} reaches past the API: {reaching}"


def _is_attribute_of_engine(name: str) -> bool:
    """`from engine import X` lists engine.X: fine when X is a public name of the API."""
    import engine

    parts = name.split(".")
    return len(parts) == 2 and parts[1] in engine.__all__


NO_TORCH = """
import importlib.abc, importlib.util, sys

class NoTorch(importlib.abc.MetaPathFinder):      # `import torch` fails, as where it is not installed
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, NoTorch())
_find_spec = importlib.util.find_spec
importlib.util.find_spec = lambda name, *a: None if name.split(".")[0] == "torch" else _find_spec(name, *a)
"""

# Every public serving function, called with small real inputs.
CALLS = """
import numpy as np
import engine

for name in engine.__all__:          # every name resolves without torch
    getattr(engine, name)
assert engine.training.available() is False
try:
    engine.training.train_model
except engine.training.TrainingUnavailable as error:
    assert "pip install -r requirements-train.txt" in str(error)
else:
    raise AssertionError("training names must refuse without torch")

rng = np.random.default_rng(0)
chars = engine.denoise_examples()
char = next(v for v in chars.values() if v.shape == (28, 28))
photo = rng.random((40, 52, 3), dtype=np.float32)
engine.prepare_character(char)
engine.denoise(char[None]); engine.denoise(photo[None])
engine.compare_denoising(char, seed=0); engine.compare_denoising(photo, seed=0)
engine.colorize(photo[None]); engine.compare_colorization(photo)
engine.colorize_examples()
engine.anomaly_scores(char[None])
engine.explain_anomalies(char[None], engine.AnomalyDetector.shipped())
engine.anomaly_examples()
engine.embed(char[None]); engine.embed(photo[None])
gallery = engine.builtin_gallery(next(iter(engine.BUILTIN_GALLERIES)))
engine.search(gallery, gallery.images[0], k=3)
engine.vae_sample(2, seed=0); mean, log_var = engine.vae_encode(char[None]); engine.vae_decode(mean)
engine.vae_decode(engine.interpolate(mean[0], -mean[0], 3))
engine.judge_samples(engine.vae_sample(2, seed=1))
import engine.tasks.studio.serve as studio_serve
studio_serve.DIGITS28_SCALE = 0.01    # 200 rendered digits: the same code path, quickly
data = engine.builtin_digits("digits28", heldout_count=20)
assert data.train.shape[1:] == (28, 28)
engine.builtin_digits("digits8")
series = engine.synthetic_load_series()
engine.forecast_heldout(series)
engine.detect_sequence_anomalies(series)
semi = engine.semisupervised_data(200, 100)
run = engine.run_labels(semi, 10, 0)
engine.predict_digits(char[None], run, semi)
engine.impute_examples()
mask = engine.random_mask((28, 28), "pixels", 0.5, 0)
engine.compare_character_filling(char[None], mask[None])
table = engine.load_table("digits")
hidden = np.random.default_rng(0).random(table.values[:5].shape) < 0.3
engine.fill_table(table.values[:5], hidden, table.model); engine.mean_fill(table.values[:5], hidden)
print("served without torch:", len(engine.__all__), "names;", "torch" in sys.modules)
"""


@pytest.mark.slow
def test_every_serving_function_runs_where_torch_cannot_be_imported():
    script = NO_TORCH + "\nimport sys\n" + CALLS
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], cwd=ROOT, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "served without torch" in result.stdout and result.stdout.strip().endswith("False")
