"""The speed benchmark: `python -m engine bench`.

Per shipped model, at batch 1 and 256: onnxruntime through the serving sessions (engine.core.
runtime; the int8 twin where one is served, with its float graph beside it) against eager
torch on the same float weights (engine.nn.twins), timed in alternation so that a busy machine
slows all alike; the FLOPs per item, the GFLOP/s reached at batch 256 and
their share of the machine's practical peak (a large float32 matrix product, measured in the
same run). Then whole tasks through the engine's API, and memory: a fresh serving process
(no torch), and a fresh process under a stream of mixed requests with today's session
options beside the arena switched off."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from engine.core import runtime
from engine.core.graphs import flops_per_item, random_feed
from engine.core.report import median_seconds, once_seconds, paired_medians, result_table

__all__ = ["bench", "peak_gflops", "serving_memory", "memory_under_load"]

BATCHES = (1, 256)


def peak_gflops(repeats: int = 7, size: int = 2048) -> float:
    """The machine's practical float32 peak: the best of `repeats` products of two size x size
    matrices by numpy and by torch, on every CPU this process may use."""
    import time

    import torch

    rng = np.random.default_rng(0)
    a, b = rng.random((size, size), dtype=np.float32), rng.random((size, size), dtype=np.float32)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    best = float("inf")
    for product in (lambda: a @ b, lambda: ta @ tb):
        product()
        for _ in range(repeats):
            start = time.perf_counter()
            product()
            best = min(best, time.perf_counter() - start)
    return 2 * size ** 3 / best / 1e9


def _model_rows(name: str, repeats: int, peak: float) -> list[list]:
    import torch

    from engine.nn.twins import torch_twin

    precision = runtime.served_precision(name)
    session, float_session = runtime.session(name), runtime.session(name, precision="float")
    flops = flops_per_item(runtime.model_bytes(runtime.model_info(name)))
    twin = torch_twin(name)
    rows = []
    for batch in BATCHES:
        feed = random_feed(session, batch)
        tensors = [torch.from_numpy(feed[i.name]) for i in session.get_inputs()]

        def eager() -> None:
            with torch.no_grad():
                twin(*tensors)

        contenders = [lambda: session.run(None, feed), eager]
        if precision == "int8":
            contenders.append(lambda: float_session.run(None, feed))
        ort_s, torch_s, *float_s = paired_medians(contenders, repeats)
        shape = "x".join(map(str, next(iter(feed.values())).shape))
        gflops = flops * batch / ort_s / 1e9
        rows.append([name, shape, precision, round(ort_s * 1000, 2), round(float_s[0] * 1000, 2) if float_s else None,
                     round(torch_s * 1000, 2), round(torch_s / ort_s, 2), round(flops / 1e6, 3),
                     round(gflops, 1) if batch > 1 else None, f"{gflops / peak:.0%}" if batch > 1 else None])
    return rows


def _task_rows(selected: dict, repeats: int, baselines: bool = True) -> list[list]:
    from engine.core.photo_corpus import megapixel_photo
    from engine.tasks.colorize.evaluate import random_hints
    from engine.tasks.colorize.serve import colorize
    from engine.tasks.denoise.serve import denoise

    def with_hints(photos: np.ndarray) -> np.ndarray:
        return colorize(photos, hints=[random_hints(photos[0], 50, 0)])

    tasks = [(model, title, fn) for model, title, fn in (("colorizer", "colorize", colorize),
                                                         ("colorizer", "colorize, 50 colour points", with_hints),
                                                         ("denoiser_photo", "denoise (photo)", denoise))
             if model in selected]
    big = megapixel_photo()[None] if tasks else None
    rows = [[title, "1 photo 1024x1024 RGB", round(median_seconds(lambda fn=fn: fn(big), repeats) * 1000, 1)]
            for _, title, fn in tasks]
    if baselines and "denoiser_photo" in selected:   # what a user would run instead, on the same photo with noise
        from engine.core.baselines import bm3d_denoise, non_local_means
        from engine.core.imaging import add_noise

        noisy = add_noise(big, "gaussian", 25 / 255, seed=0)
        rows += [["denoise (photo), sigma 25/255 noise, level estimated", "1 photo 1024x1024 RGB",
                  round(median_seconds(lambda: denoise(noisy), repeats) * 1000, 1)],
                 ["non-local means (scikit-image), same photo", "1 photo 1024x1024 RGB",
                  round(median_seconds(lambda: non_local_means(noisy[0]), 1) * 1000, 1)],
                 ["BM3D (bm3d package, told sigma), same photo, one run", "1 photo 1024x1024 RGB",
                  round(once_seconds(lambda: bm3d_denoise(noisy[0], 25 / 255)) * 1000, 1)]]
    return rows


def bench(repeats: int = 11, models: list[str] | None = None, load_rounds: int = 12, baselines: bool = True) -> dict:
    """The benchmark of every shipped model (or only `models`); memory under load over
    `load_rounds` rounds of mixed requests (0: skip it); with `baselines`, non-local means and
    BM3D timed beside the photo denoiser. Returns a JSON-able dict of tables."""
    shipped = runtime.available_models()
    unknown = sorted(set(models or ()) - set(shipped))
    if unknown:
        raise ValueError(f"no shipped model {', '.join(unknown)}; choose from {', '.join(sorted(shipped))}")
    selected = {name: entry for name, entry in shipped.items() if models is None or name in models}
    import torch

    torch.set_num_threads(runtime.cpu_count())
    peak = peak_gflops()
    rows = [row for name in selected for row in _model_rows(name, repeats, peak)]
    tables = [
        result_table(f"Latency per call, median of {repeats} runs in blocks alternating onnxruntime and torch (ms); "
                     f"GFLOP/s of onnxruntime at batch 256 against this machine's practical peak of "
                     f"{peak:.0f} GFLOP/s (float32 matrix product, {runtime.cpu_count()} threads; an int8 twin "
                     "does the same multiply-adds in 8 bits, so it can pass the float peak)",
                     ["Model", "Input", "Served", "onnxruntime", "float graph", "torch eager", "torch / ort",
                      "MFLOP per item", "GFLOP/s", "of peak"], rows),
        result_table("Whole tasks through the engine's API, median (ms)", ["Task", "Input", "ms"],
                     _task_rows(selected, max(3, repeats // 3), baselines)),
    ]
    memory = serving_memory()
    tables.append(result_table("Serving memory: a fresh process that imports the engine and the page libraries "
                               "and runs every shipped model once", ["Models", "Resident MB", "torch imported"],
                               [[memory["models"], memory["rss_mb"], memory["torch"]]]))
    if load_rounds:
        loads = {arena: memory_under_load(load_rounds, arena) for arena in (True, False)}
        tables.append(result_table(
            f"Memory under load: a fresh serving process, {load_rounds} rounds of mixed requests (characters in "
            "batches of 1 to 256 through five models, photos from 0.1 to 2 megapixels denoised and colorized); "
            "resident MB", ["Memory arena", "after round 1", f"after round {load_rounds // 2}",
                            f"after round {load_rounds}", "largest", "seconds"],
            [[("one for all sessions, shrunk after large inputs" if arena else "off, a thread pool per session (before)"),
              r["rss_mb"][0], r["rss_mb"][load_rounds // 2 - 1], r["rss_mb"][-1], max(r["rss_mb"]), r["seconds"]]
             for arena, r in loads.items()]))
    return {"command": "bench", "device": runtime.device_name(), "threads": runtime.cpu_count(),
            "peak_gflops": round(peak, 1), "tables": tables}


def _probe(code: str, *args: str) -> dict:
    """Run `code` in a fresh Python process beside the engine; its last line of output is JSON."""
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True,
                         cwd=runtime.PRETRAINED_DIR.parent, timeout=900)
    return json.loads(out.stdout.strip().splitlines()[-1])


_RSS = 'lambda: round(next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS:")) / 1024, 1)'

_SERVING_PROBE = f"""
import json, sys
import numpy as np
import engine, streamlit, plotly.graph_objects, sklearn.decomposition, skimage.color
from engine.core import runtime
from engine.core.graphs import random_feed
for name in runtime.available_models():
    session = runtime.session(name)
    session.run(None, random_feed(session, 4))
rss = {_RSS}
print(json.dumps({{"models": len(runtime.available_models()), "rss_mb": rss(), "torch": "torch" in sys.modules}}))
"""


def serving_memory() -> dict:
    """Resident memory of serving alone (no torch), measured in a fresh process."""
    return _probe(_SERVING_PROBE)


_LOAD_PROBE = f"""
import json, sys, time
import numpy as np
from engine.core import runtime
if sys.argv[2] == "off":          # the options before: a pool per session, the arena off
    runtime._prepared.update(pool=False)
    options = runtime.session_options
    def session_options():
        o = options()
        o.add_session_config_entry("session.use_env_allocators", "0")
        o.enable_cpu_mem_arena = False
        return o
    runtime.session_options = session_options
from engine.tasks.colorize.serve import colorize
from engine.tasks.denoise.serve import denoise
from engine.core.graphs import random_feed
rss = {_RSS}
rng = np.random.default_rng(0)
chars = ["denoiser_char", "anomaly_char", "impute_char", "vae_decoder", "search_char"]
sides = [320, 600, 1000, 1400]
start, seen = time.perf_counter(), []
for round_ in range(int(sys.argv[1])):
    for name in chars:
        session = runtime.session(name)
        for batch in (1, 16, 256):
            session.run(None, random_feed(session, batch, seed=round_))
    side = sides[round_ % len(sides)]
    photo = rng.random((1, side, side * 3 // 4 + round_, 3), dtype=np.float32)
    denoise(photo)
    colorize(photo)
    seen.append(rss())
print(json.dumps({{"rss_mb": seen, "seconds": round(time.perf_counter() - start, 1)}}))
"""


def memory_under_load(rounds: int, arena: bool = True) -> dict:
    """Resident MB after each round of mixed requests in a fresh serving process: with the
    sessions' own options (`arena` True) or with their memory arena off."""
    return _probe(_LOAD_PROBE, str(rounds), "on" if arena else "off")
