"""Evaluation on held-out data and speed benchmarks: `python -m engine eval|bench`.

The tables of each task live in engine/tasks/*/evaluate.py; this module gathers them and adds
the benchmark of every shipped model. Each returns a JSON-able dict with a "tables" list;
`format_tables` prints them readably."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from engine.core import runtime
from engine.core.report import format_tables, median_seconds, result_table
from engine.tasks.anomaly.evaluate import EVALS as ANOMALY
from engine.tasks.colorize.evaluate import EVALS as COLORIZE, megapixel_photo
from engine.tasks.denoise.evaluate import EVALS as DENOISE
from engine.tasks.generate.evaluate import EVALS as GENERATE
from engine.tasks.impute.evaluate import EVALS as IMPUTE
from engine.tasks.search.evaluate import EVALS as SEARCH
from engine.tasks.semisupervised.evaluate import EVALS as SEMISUPERVISED
from engine.tasks.sequence.evaluate import EVALS as SEQUENCE
from engine.tasks.studio.evaluate import EVALS as STUDIO

__all__ = ["EVALS", "bench", "format_tables", "serving_memory"]

EVALS = {**DENOISE, **ANOMALY, **SEARCH, **GENERATE, **COLORIZE, **SEQUENCE, **SEMISUPERVISED, **IMPUTE, **STUDIO}


def bench(repeats: int = 5, models: list[str] | None = None) -> dict:
    """onnxruntime (CPU provider) against eager torch on the same weights, per shipped model (or
    only `models`); the colorizer's whole task when it is among them; serving memory."""
    shipped = runtime.available_models()
    unknown = sorted(set(models or ()) - set(shipped))
    if unknown:
        raise ValueError(f"no shipped model {', '.join(unknown)}; choose from {', '.join(sorted(shipped))}")
    selected = {name: entry for name, entry in shipped.items() if models is None or name in models}
    import torch

    from engine.nn.checkpoints import from_checkpoint

    torch.set_num_threads(runtime.cpu_count())
    rows = []
    for name, entry in selected.items():
        session = runtime.session(name)
        shapes = [[d if isinstance(d, int) else 64 for d in i.shape[1:]] for i in session.get_inputs()]
        module = None
        if "torch_file" in entry:   # a checkpoint whose forward is the served graph
            module = from_checkpoint(torch.load(runtime.PRETRAINED_DIR / entry["torch_file"],
                                                weights_only=False))
        for batch in (1, 256):
            rng = np.random.default_rng(0)
            feed = {i.name: rng.random((batch, *shape), dtype=np.float32)
                    for i, shape in zip(session.get_inputs(), shapes)}
            ort_s = median_seconds(lambda: session.run(None, feed), repeats)
            torch_s = None
            if module is not None:
                with torch.no_grad():
                    tx = torch.from_numpy(next(iter(feed.values())))
                    torch_s = median_seconds(lambda: module(tx), repeats)
            rows.append([name, f"{batch}x{'x'.join(map(str, shapes[0]))}", round(ort_s * 1000, 2),
                         None if torch_s is None else round(torch_s * 1000, 2),
                         None if torch_s is None else round(torch_s / ort_s, 2)])
    tasks = []
    if "colorizer" in selected:
        from engine.tasks.colorize.serve import colorize

        big = megapixel_photo()[None]
        tasks.append(["colorize", "1 photo 1024x1024 RGB", round(median_seconds(lambda: colorize(big), repeats) * 1000, 1)])
    memory = serving_memory()
    return {"command": "bench", "device": runtime.device_name(), "threads": runtime.cpu_count(),
            "tables": [result_table("Latency per call, median (ms)",
                              ["Model", "Input", "onnxruntime", "torch eager", "torch / ort"], rows),
                       result_table("Serving memory: a fresh process that imports the engine and the page "
                              "libraries and runs every shipped model once",
                              ["Models", "Resident MB", "torch imported"],
                              [[memory["models"], memory["rss_mb"], memory["torch"]]]),
                       result_table("Whole tasks through the engine's API, median (ms)", ["Task", "Input", "ms"], tasks)]}


_SERVING_PROBE = """
import json, sys
import numpy as np
import engine, streamlit, plotly.graph_objects, sklearn.decomposition, skimage.color
from engine.core import runtime
for name in runtime.available_models():
    session = runtime.session(name)
    session.run(None, {i.name: np.random.rand(4, *[d if isinstance(d, int) else 64 for d in i.shape[1:]])
                       .astype(np.float32) for i in session.get_inputs()})
rss = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS:"))
print(json.dumps({"models": len(runtime.available_models()), "rss_mb": round(rss / 1024, 1),
                  "torch": "torch" in sys.modules}))
"""


def serving_memory() -> dict:
    """Resident memory of serving alone (no torch), measured in a fresh process."""
    out = subprocess.run([sys.executable, "-c", _SERVING_PROBE], capture_output=True, text=True, check=True,
                         cwd=runtime.PRETRAINED_DIR.parent, timeout=300)
    return json.loads(out.stdout.strip().splitlines()[-1])
