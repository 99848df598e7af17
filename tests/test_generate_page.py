"""The VAE generation page, driven by Streamlit's AppTest: the real engine and pretrained models."""

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from page_helpers import drawn
from streamlit.testing.v1 import AppTest

import engine
from app_pages.logic import generate as logic

pytestmark = pytest.mark.slow   # every test drives the app under AppTest

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "streamlit_app.py"
GENERATE = "app_pages/generate.py"
VERDICT = re.compile(r"^#(\d+): (\d)(\??) · (\d+)%$")  # a sample's caption: number, digit, confidence


def open_generate(tab: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90).run()
    at.switch_page(GENERATE).run()
    assert not at.exception
    if tab is not None:
        at = show_tab(at, tab)
    return at


def show_tab(at: AppTest, tab: str) -> AppTest:
    """Open a tab as a click would: only the open tab's content runs."""
    at.session_state["generate_tab"] = tab
    at.run()
    assert not at.exception
    assert not at.error, [error.value for error in at.error]
    return at


SEVEN = [[(20, 12), (55, 12), (32, 60)]]


def images_by_caption(at: AppTest) -> list[tuple[str, str]]:
    """(caption, image URL) for every image on the page; the URL names the image's content."""
    return [
        (caption, url)
        for image in at.image
        for caption, url in zip(image.captions, image.value, strict=True)
    ]


def verdicts(at: AppTest) -> list[tuple[int, int, float]]:
    """The samples' captions read back: (sample number, the judge's digit, its confidence)."""
    found = [VERDICT.match(caption) for caption, _ in images_by_caption(at)]
    return [(int(m[1]), int(m[2]), int(m[4]) / 100) for m in found if m]


def sample_urls(at: AppTest) -> list[str]:
    return [url for caption, url in images_by_caption(at) if VERDICT.match(caption)]


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def charts(at: AppTest) -> list[dict]:
    """The page's Vega-Lite charts: each one's spec, with its title's text as "name" and its data
    sets' rows as "layers" (one frame a layer, or one for a chart of a single layer). The page draws
    no plotly chart (its 4.7 MB script would slow the page's open)."""
    assert not at.get("plotly_chart")
    found = []
    for chart in at.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        data = {dataset.name: pa.ipc.open_stream(dataset.data.data).read_pandas() for dataset in chart.proto.datasets}
        title = spec.get("title") or ""
        spec["name"] = title.get("text", "") if isinstance(title, dict) else title
        spec["layers"] = [data[part["data"]["name"]] for part in spec.get("layer", [spec])]
        found.append(spec)
    return found


# --- Sample ----------------------------------------------------------------------------------
def test_default_page_shows_a_judged_sample_grid():
    at = open_generate()
    assert not at.error
    assert len(at.latex) >= 2  # the reparameterisation trick and the ELBO
    found = verdicts(at)
    assert [number for number, _, _ in found] == list(range(1, 17))  # a 4 x 4 grid, in order
    assert all(0.0 <= confidence <= 1.0 for _, _, confidence in found)
    shown = float(metric(at, "Judged confidently").rstrip("%")) / 100
    assert shown == pytest.approx(np.mean([c > 0.9 for _, _, c in found]), abs=0.07)  # captions round
    assert {button.label for button in at.get("download_button")} >= {
        "Download sample #1",
        "Download the whole grid",
    }
    # The page's samples are the engine's: seed 0, temperature 1, the default model, its learned prior.
    assert at.selectbox(key="sample_prior").value == "learned"
    expected = engine.judge_samples(engine.vae_sample(16, seed=0, model=engine.DEFAULT_VAE, prior="learned"))
    assert [digit for _, digit, _ in found] == list(expected.predicted)


def test_the_prior_can_be_the_one_the_vae_was_trained_towards():
    at = open_generate()
    learned = sample_urls(at)
    at.selectbox(key="sample_prior").set_value("standard").run()
    assert not at.exception and not at.error
    assert not set(sample_urls(at)) & set(learned)
    expected = engine.judge_samples(engine.vae_sample(16, seed=0, model=engine.DEFAULT_VAE))
    assert [digit for _, digit, _ in verdicts(at)] == list(expected.predicted)
    assert any("learned prior" in m.value for m in at.markdown)       # what the two priors are
    at.selectbox(key="sample_model").set_value("vae_beta4").run()     # every unconditional digit VAE has one
    assert not at.exception and at.selectbox(key="sample_prior").value == "standard"


def test_the_seed_decides_the_samples():
    at = open_generate()
    first, first_verdicts = sample_urls(at), verdicts(at)
    at.number_input(key="sample_seed").set_value(1).run()
    assert not at.exception
    other = sample_urls(at)
    assert len(other) == 16 and not set(other) & set(first)  # every sample changed
    at.number_input(key="sample_seed").set_value(0).run()
    assert sample_urls(at) == first  # the same pixels again
    assert verdicts(at) == first_verdicts


def test_grid_size_and_temperature():
    at = open_generate()
    at.slider(key="sample_grid").set_value(3).run()
    assert not at.exception
    assert len(verdicts(at)) == 9
    at.selectbox(key="sample_prior").set_value("standard").run()
    before = sample_urls(at)
    at.slider(key="sample_temperature").set_value(0.0).run()
    assert not at.exception
    cold = sample_urls(at)
    assert len(set(cold)) == 1 and cold[0] not in before  # temperature 0: every code is 0
    at.selectbox(key="sample_prior").set_value("learned").run()
    parts = len(engine.learned_prior(engine.DEFAULT_VAE).weights)
    assert 1 <= len(set(sample_urls(at))) <= min(9, parts)    # the learned prior's: each part's centre


def test_settings_survive_a_trip_to_another_tab():
    at = open_generate()
    at.number_input(key="sample_seed").set_value(5).run()
    samples = sample_urls(at)
    at = show_tab(at, "Map")
    assert not verdicts(at)  # a closed tab's content does not run
    at = show_tab(at, "Sample")
    assert at.number_input(key="sample_seed").value == 5
    assert sample_urls(at) == samples


# --- Interpolate -----------------------------------------------------------------------------
def test_interpolation_decodes_every_step_of_both_paths():
    at = open_generate("Interpolate")
    steps = [(caption, url) for caption, url in images_by_caption(at) if caption.startswith("t = ")]
    assert len(steps) == 2 * 8  # eight steps, linear and spherical
    headings = {"**Linear (a straight line)**", "**Spherical (slerp, along the arc)**"}
    assert {m.value for m in at.markdown} >= headings
    linear, spherical = [url for _, url in steps[:8]], [url for _, url in steps[8:]]
    assert linear[0] == spherical[0] and linear[-1] == spherical[-1]  # the same two ends
    assert linear[1:-1] != spherical[1:-1]  # by different roads
    assert len(set(linear)) == 8  # every step draws something new

    at.slider(key="interp_steps").set_value(5).run()
    assert not at.exception
    assert sum(caption.startswith("t = ") for caption, _ in images_by_caption(at)) == 2 * 5
    (lengths,) = next(chart for chart in charts(at) if chart["name"].startswith("Length of the code"))["layers"]
    assert lengths.groupby("path").size().to_dict() == {label: 5 for label in logic.METHOD_LABELS.values()}
    assert np.allclose(lengths.t.unique(), np.linspace(0, 1, 5)) and (lengths["‖z‖"] > 0).all()


# --- Walk ------------------------------------------------------------------------------------
def test_walk_draws_the_map_and_has_a_slider_per_dimension():
    at = open_generate("Walk")
    (manifold,) = charts(at)
    assert manifold["mark"]["type"] == "image" and manifold["layers"][0].url[0].startswith("data:image/png;base64,")
    assert [manifold["encoding"][axis]["field"] for axis in ("x", "y")] == ["z1", "z2"]

    size = engine.latent_size(engine.DEFAULT_VAE)
    assert size == 16
    sliders = [at.slider(key=f"walk_z{i}") for i in range(size)]
    assert [s.label for s in sliders] == [f"z{i + 1}" for i in range(size)]
    # They start at the code of the built-in 3.
    gallery = engine.builtin_gallery("digits")
    three = gallery.images[int(np.flatnonzero(gallery.labels == "3")[0])]
    code = np.clip(engine.vae_encode(three[None])[0][0], -4, 4)
    np.testing.assert_allclose([s.value for s in sliders], code, atol=0.006)

    def decoded() -> str:
        return next(url for caption, url in images_by_caption(at) if caption.startswith("The judge reads"))

    start = decoded()
    at.slider(key="walk_z0").set_value(-3.5 if code[0] > 0 else 3.5).run()
    assert not at.exception
    assert decoded() != start
    at.button(key="walk_reset").click().run()
    assert not at.exception
    assert at.slider(key="walk_z0").value == pytest.approx(code[0], abs=0.006)
    assert decoded() == start


# --- Map -------------------------------------------------------------------------------------
def test_map_plots_held_out_digits_by_label():
    at = open_generate("Map")
    (points,) = charts(at)[0]["layers"]
    assert sorted(points.digit.unique()) == [str(d) for d in range(10)] and len(points) == 1000
    assert points["index"].tolist() == list(range(1000))   # a click selects the picture's index
    assert at.info  # asks for a click
    at.selectbox(key="map_model").set_value(engine.DEFAULT_VAE).run()
    assert not at.exception and not at.error
    assert any(caption.value.startswith("PCA keeps") for caption in at.caption)
    assert charts(at)[0]["encoding"]["x"]["title"] == "PCA 1"


def test_a_clicked_point_is_found_from_the_selection():
    selected_point = logic.selected_point

    def clicked(*points):
        """What st.altair_chart returns as `.selection` after a click on the map."""
        return {logic.MAP_PICK: list(points)}

    assert selected_point(clicked({"index": 7}), 10) == 7
    assert selected_point(clicked({"index": 0.0}), 10) == 0
    assert selected_point(clicked({"index": 12}), 10) is None  # from a bigger map
    assert selected_point(clicked({"index": -1}), 10) is None
    assert selected_point(clicked({"index": "x"}), 10) is None
    assert selected_point(clicked({"index": True}), 10) is None
    assert selected_point(clicked({"digit": "3"}), 10) is None
    assert selected_point(clicked(), 10) is None  # nothing selected
    assert selected_point({}, 10) is None and selected_point(None, 10) is None
    assert selected_point(clicked({"index": 3}, {"index": 4}), 10) == 4  # the latest click


# --- Choose a digit --------------------------------------------------------------------------
def test_the_conditional_vae_draws_the_digit_asked_for():
    at = open_generate("Choose a digit")
    at.segmented_control(key="cvae_digit").set_value(3).run()
    assert not at.exception and not at.error
    found = verdicts(at)
    assert len(found) == 12
    threes = sum(digit == 3 for _, digit, _ in found)
    assert threes > len(found) / 2
    assert metric(at, "Judged a 3") == f"{threes / len(found):.0%}"
    every = [caption for caption, _ in images_by_caption(at) if caption.isdigit()]
    assert every == [str(d) for d in range(10)]  # one code drawn as each digit


# --- Your digit & beta -----------------------------------------------------------------------
def test_an_uploaded_digit_is_reconstructed_and_its_code_shown():
    at = open_generate()
    at.file_uploader(key="uploads").set_value([("seven.png", drawn(SEVEN), "image/png")]).run()
    assert not at.exception
    assert not at.error
    assert at.session_state["generate_tab"] == "Your digit & beta"  # the upload is shown at once
    captions = [caption for caption, _ in images_by_caption(at)]
    assert "Your picture: seven.png" in captions and "What the model sees (28x28)" in captions   # side by side
    assert "Reconstruction" in captions
    code = next(chart for chart in charts(at) if chart["name"].startswith("Its code"))["layers"][-1]
    assert code.number.tolist() == [f"z{i + 1}" for i in range(16)]
    assert code.sd.min() > 0 and np.allclose(code.high - code.low, 2 * code.sd)
    assert float(metric(at, "KL from the prior").split()[0]) > 0
    # The beta comparison: both 16-number models, their ELBO split into its two terms.
    table = next(frame.value for frame in at.dataframe if "KL (nats)" in frame.value.columns)
    assert len(table) == 2
    np.testing.assert_allclose(
        table["Reconstruction (nats)"] + table["KL (nats)"], table["−ELBO (nats)"], rtol=1e-6
    )
    assert (table["Path roughness"] >= 1).all()
    assert any("The trade-off" in md.value for md in at.markdown)
    assert captions.count("Its reconstruction of seven.png") == 2  # by each model


def tabs_place(at: AppTest) -> int:
    """The index, among the page's top-level elements, of the one that holds the tabs."""
    for index, node in at.main.children.items():
        stack = [node]
        while stack:
            element = stack.pop()
            if type(element).__name__ == "Tab":
                return index
            stack.extend(getattr(element, "children", {}).values())
    raise AssertionError("no tabs on the page")


def test_an_upload_leaves_the_tabs_in_their_place():
    """The browser keys an element by its place: tabs that moved down by the upload's view were
    drawn anew there, and once in a thousand uploads kept "Sample" open while the server had
    opened "Your digit & beta" (issue 22's ten-visitor load)."""
    at = open_generate()
    before = tabs_place(at)
    at.file_uploader(key="uploads").set_value([("x.png", b"hello", "image/png"),
                                               ("seven.png", drawn(SEVEN), "image/png")]).run()
    assert not at.exception and len(at.error) == 1 and at.expander   # a view and a report were added
    assert at.session_state["generate_tab"] == "Your digit & beta"
    assert tabs_place(at) == before


def test_a_file_that_is_not_an_image_is_reported():
    at = open_generate()
    at.file_uploader(key="uploads").set_value([("x.png", b"hello", "image/png")]).run()
    assert not at.exception
    assert len(at.error) == 1 and "x.png" in at.error[0].value
    assert at.session_state["generate_tab"] == "Sample"  # nothing to show: the tab stays
    assert len(verdicts(at)) == 16  # and the page goes on
    at.session_state["generate_tab"] = "Your digit & beta"
    at.run()
    assert not at.exception
    assert len(at.error) == 1 and "x.png" in at.error[0].value
    assert "Input: Built-in 5" in [caption for caption, _ in images_by_caption(at)]


# --- The page's logic ------------------------------------------------------------------------
def test_captions_and_download_names():
    assert logic.verdict(0, 7, 0.95) == "#1: 7 · 95%"
    assert logic.verdict(11, 3, 0.5) == "#12: 3? · 50%"  # unsure below CONFIDENT
    assert logic.verdicts(np.array([1, 2]), np.array([0.99, 0.2])) == ["#1: 1 · 99%", "#2: 2? · 20%"]
    assert logic.confident_share(np.array([0.95, 0.5, 0.91, 0.9])) == "50%"  # 0.9 itself is not sure
    assert logic.sample_file_name("vae", 3, 1.25, "grid") == "vae_seed3_t1.2_grid.png"
    assert "In 16 dimensions" in logic.why_two_paths(16) and "\\approx 4.0$" in logic.why_two_paths(16)


def test_upload_names_are_unique():
    taken = {"Built-in 3", "a.png"}
    assert logic.unique_names(["a.png", "b.png", "a.png", "Built-in 3"], taken) == [
        "a.png (2)", "b.png", "a.png (3)", "Built-in 3 (2)",
    ]
    assert logic.unique_names([], taken) == []
    assert taken == {"Built-in 3", "a.png"}  # the caller's set is left alone


def test_examples_members_and_slider_values():
    labels = np.array(["3", "1", "3", "x", "1"])
    images = [np.full((2, 2), i, dtype=np.float32) for i in range(5)]
    found = logic.first_of_each_digit(images, labels)
    assert list(found) == ["Built-in 1", "Built-in 3"]
    assert found["Built-in 3"][0, 0] == 0 and found["Built-in 1"][0, 0] == 1
    members = logic.members_by_digit(np.array([2, 0, 2, 9]))
    assert len(members) == 10 and list(members[2]) == [0, 2] and list(members[9]) == [3] and not len(members[5])
    assert logic.slider_values(np.array([0.123, -7.0, 5.5, -1.005])) == [0.12, -4.0, 4.0, -1.0]


def test_manifold_picture_tiles_the_cells_row_by_row():
    cells = np.arange(6, dtype=np.float32)[:, None, None] * np.ones((6, 28, 28), dtype=np.float32)
    picture = logic.manifold_picture(cells[:4], 2)
    assert picture.shape == (56, 56)
    assert [picture[0, 0], picture[0, 28], picture[28, 0], picture[55, 55]] == [0, 1, 2, 3]


def test_project_2d_is_scikit_learns_pca():
    from sklearn.decomposition import PCA

    codes = np.random.default_rng(0).normal(size=(300, 16)).astype(np.float32) * np.linspace(3, 0.5, 16)
    points, kept = logic.project_2d(codes)
    pca = PCA(n_components=2, random_state=0).fit(codes)
    np.testing.assert_allclose(points, pca.transform(codes), atol=1e-4)  # signs included
    assert kept == pytest.approx(float(pca.explained_variance_ratio_.sum()), rel=1e-5)
    two = codes[:, :2]
    assert logic.project_2d(two)[0] is two and logic.project_2d(two)[1] is None  # already 2-D


def test_beta_story_follows_the_numbers():
    low = {"kl": 20.0, "reconstruction": 60.0, "negative_elbo": 80.0, "rebuilt_sharpness": 0.2, "roughness": 1.5}
    high = {"kl": 10.0, "reconstruction": 75.0, "negative_elbo": 85.0, "rebuilt_sharpness": 0.1, "roughness": 1.2}
    story = logic.beta_story(low, high)
    assert "lowers the KL from 20.0 to 10.0 nats" in story
    assert "raises the reconstruction term from 60.0 to 75.0" in story
    assert "are blurrier (sharpness 0.100 against 0.200)" in story and "measure smoother (1.20" in story
    assert "$\\beta = 1$ explains held-out digits better (80.0 against 85.0 nats)" in story
    story = logic.beta_story(high, low)  # the other way round
    assert "raises the KL" in story and "sharper" in story and "rougher" in story and "$\\beta = 4$ explains" in story


def test_beta_table_and_figures():
    reports = {
        model: {entry: float(i + 1) for entry, _ in logic.BETA_COLUMNS.values()}
        for i, model in enumerate(logic.BETA_MODELS)
    }
    table = logic.beta_table(reports)
    assert table["Model"] == ["β = 1", "β = 4"]
    assert list(table)[1:] == list(logic.BETA_COLUMNS) and table["KL (nats)"] == [1.0, 2.0]
    elbo = logic.elbo_chart(reports).to_dict()
    rows = pd.DataFrame(next(iter(elbo["datasets"].values())))
    assert rows.groupby("model").nats.sum().to_dict() == {"β = 1": 2.0, "β = 4": 4.0}   # the two terms stacked
    reports[engine.DEFAULT_VAE]["kl"] = 7.0
    rows = pd.DataFrame(next(iter(logic.elbo_chart(reports).to_dict()["datasets"].values())))
    assert rows.set_index(["model", "term"]).nats.to_dict() == {("β = 1", "reconstruction"): 1.0, ("β = 1", "KL"): 7.0,
                                                               ("β = 4", "reconstruction"): 2.0, ("β = 4", "KL"): 2.0}
    assert elbo["encoding"]["color"]["sort"] == ["reconstruction", "KL"] and set(rows.term) == {"reconstruction", "KL"}
    code = logic.code_chart(np.array([0.5, 0.0, -1.0]), np.log(np.full(3, 4.0))).to_dict()
    band, _, bars, errors = (pd.DataFrame(code["datasets"][layer["data"]["name"]]) for layer in code["layer"])
    assert band[["low", "high"]].values.tolist() == [[-1.0, 1.0]]          # the prior's 0 ± 1
    assert bars.number.tolist() == ["z1", "z2", "z3"] and bars["mean"].tolist() == [0.5, 0.0, -1.0]
    assert errors.low.tolist() == [-1.5, -2.0, -3.0] and errors.high.tolist() == [2.5, 2.0, 1.0]   # ± 2
    shares = logic.shares_chart(np.array([1, 1, 3, 9])).to_dict()
    assert [row["share"] for row in next(iter(shares["datasets"].values()))] == [0, 0.5, 0, 0.25, 0, 0, 0, 0, 0, 0.25]
    lengths = logic.lengths_chart({"a": np.ones(4), "b": np.zeros(4)}, 4).to_dict()
    rows = pd.DataFrame(next(iter(lengths["datasets"].values())))
    assert rows.path.tolist() == ["a"] * 4 + ["b"] * 4 and rows.t.tolist() == pytest.approx([0, 1 / 3, 2 / 3, 1] * 2)


def test_map_and_manifold_figures():
    points = np.random.default_rng(1).normal(size=(6, 2))
    members = logic.members_by_digit(np.array([0, 1, 1, 2, 0, 9]))
    chart = logic.map_chart(points, members, projected=False).to_dict()
    rows = pd.DataFrame(next(iter(chart["datasets"].values())))
    assert rows.digit.tolist() == ["0", "1", "1", "2", "0", "9"] and rows["index"].tolist() == list(range(6))
    assert np.allclose(rows[["x", "y"]], points)
    pick = next(param for param in chart["params"] if param["name"] == logic.MAP_PICK)
    assert pick["select"]["fields"] == ["index"] and pick["select"]["on"] == "click"   # a click selects its index
    ring = chart["encoding"]["stroke"]["condition"]
    assert ring == {"param": logic.MAP_PICK, "empty": False, "value": "black"}   # the clicked point ringed, none before
    assert chart["encoding"]["x"]["title"] == "z1"
    assert logic.map_chart(points, members, projected=True).to_dict()["encoding"]["x"]["title"] == "PCA 1"
    manifold = logic.manifold_chart(np.zeros((84, 84), dtype=np.float32), np.array([-1.2, 0.0, 0.4]), side=300).to_dict()
    (image,) = next(iter(manifold["datasets"].values()))
    assert image["url"].startswith("data:image/png;base64,") and (image["z1"], image["z2"]) == (1.5, 1.5)   # centred
    for axis in ("x", "y"):   # a tick at each cell's centre, labelled with its value (z2 rises from the bottom)
        scale, ticks = manifold["encoding"][axis]["scale"], manifold["encoding"][axis]["axis"]
        assert scale["domain"] == [0, 3] and ticks["values"] == [0.5, 1.5, 2.5]
        label = ticks["labelExpr"].replace("[floor(datum.value)]", "")
        assert [json.loads(label)[int(np.floor(value))] for value in ticks["values"]] == ["-1.2", "0.0", "0.4"]
    assert (manifold["mark"]["width"], manifold["width"], manifold["height"]) == (300, 300, 300)


def test_a_drawn_digit_and_a_photographed_one_join_the_choices(monkeypatch):
    import io

    from page_helpers import FakeCanvas
    from PIL import Image

    from app_pages.parts import char_sources
    from engine.core import capture_corpus

    monkeypatch.setattr(char_sources, "canvas", FakeCanvas([[(20, 12), (55, 12), (32, 60)]]))   # a 7
    at = open_generate("Your digit & beta")
    at.button_group(key="generate_source").set_value(["draw", "camera"]).run()
    capture = capture_corpus.render_capture("3", np.random.default_rng(4), force={"light_on_dark": False})
    buffer = io.BytesIO()
    Image.fromarray(np.round(capture.image * 255).astype(np.uint8)).save(buffer, "JPEG")
    at.camera_input(key="generate_camera").set_value(("shot.jpg", buffer.getvalue(), "image/jpeg")).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    options = at.selectbox(key="own_digit").options
    assert "Your drawing" in options and "Your photo" in options
    at.selectbox(key="own_digit").set_value("Your photo").run()
    assert not at.exception and not at.error
    assert any("What the models see of Your photo" in e.label for e in at.expander)


# --- Clothes (Fashion-MNIST) -------------------------------------------------------------------
KIND_VERDICT = re.compile(r"^#(\d+): (.+?)(\??) · (\d+)%$")


def open_clothes(tab: str | None = None) -> AppTest:
    at = open_generate()
    assert at.segmented_control(key="generate_data").value == "digits"
    at.segmented_control(key="generate_data").set_value("clothes").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    if tab is not None:
        at.session_state["generate_tab_clothes"] = tab
        at.run()
        assert not at.exception and not at.error, [e.value for e in at.error]
    return at


def test_clothes_are_sampled_and_judged_by_kind(fake_fashion):
    at = open_clothes()
    kinds = [KIND_VERDICT.match(caption) for caption, _ in images_by_caption(at)]
    kinds = [m[2] for m in kinds if m]
    assert len(kinds) == 16 and set(kinds) <= set(engine.FASHION_CLASSES)
    expected = engine.judge_samples(engine.vae_sample(16, seed=0, model="fashion_vae", prior="learned"),
                                    engine.FASHION_JUDGE)
    assert kinds == [engine.FASHION_CLASSES[k] for k in expected.predicted]
    shares = next(chart for chart in charts(at) if chart["name"] == "Which kinds the judge sees")
    assert shares["layers"][0].kind.tolist() == list(engine.FASHION_CLASSES)
    assert at.tabs[0].label == "Sample" and "Choose a kind" in [tab.label for tab in at.tabs]
    assert "Your digit & beta" not in [tab.label for tab in at.tabs]        # uploads are digits


def test_the_conditional_vae_draws_the_kind_asked_for(fake_fashion):
    at = open_clothes("Choose a kind")
    at.segmented_control(key="cvae_digit_clothes").set_value(1).run()     # trousers
    assert not at.exception and not at.error
    drawn = [m[2] for m in (KIND_VERDICT.match(c) for c, _ in images_by_caption(at)) if m]
    assert len(drawn) == 12 and drawn.count("Trouser") > 6
    assert metric(at, "Judged Trouser") == f"{drawn.count('Trouser') / 12:.0%}"
    every = [caption for caption, _ in images_by_caption(at) if caption in engine.FASHION_CLASSES]
    assert every == list(engine.FASHION_CLASSES)


def test_the_clothes_map_walk_and_interpolation(fake_fashion):
    at = open_clothes("Map")
    (points,) = charts(at)[0]["layers"]
    assert set(points.kind) <= set(engine.FASHION_CLASSES) and len(points) == 200   # the little test set written here
    at.session_state["generate_tab_clothes"] = "Walk"
    at.run()
    assert not at.exception and not at.error
    assert charts(at)[0]["mark"]["type"] == "image"
    assert len([s for s in at.slider if s.key and s.key.startswith("walk_z")]) == 16
    assert next(c for c, _ in images_by_caption(at) if c.startswith("The judge reads"))
    at.session_state["generate_tab_clothes"] = "Interpolate"
    at.run()
    assert not at.exception and not at.error
    assert at.selectbox(key="interp_start_clothes").value == "Built-in Sneaker"
    assert sum(caption.startswith("t = ") for caption, _ in images_by_caption(at)) == 2 * 8
    at.segmented_control(key="generate_data").set_value("digits").run()     # back: the digits' tabs and choices
    assert not at.exception and "Your digit & beta" in [tab.label for tab in at.tabs]


def test_without_fashion_mnist_the_page_offers_digits_and_says_how_to_add_it(no_fashion):
    at = open_generate()
    assert "generate_data" not in [widget.key for widget in at.segmented_control]
    assert any("dataset-fashion-mnist" in caption.value for caption in at.caption)
    assert len(verdicts(at)) == 16


# --- Adversarial AE ----------------------------------------------------------------------------
def test_the_adversarial_autoencoder_beside_the_vae():
    at = open_generate("Adversarial AE")
    assert not at.error, [e.value for e in at.error]
    figures = charts(at)
    maps = figures[:2]
    assert [chart["name"] for chart in maps] == ["VAE (the mean of each code)", "Adversarial autoencoder"]
    assert all(sorted(chart["layers"][1].radius.unique()) == [1, 2] for chart in maps)   # the prior's two circles
    assert all(len(chart["layers"][0]) == 1000 for chart in maps)
    assert not maps[0]["layers"][0][["x", "y"]].equals(maps[1]["layers"][0][["x", "y"]])   # each model's own codes
    radii = next(chart for chart in figures if chart["name"].startswith("Length of"))
    assert radii["layers"][0].codes.unique().tolist() == ["prior N(0, I)", "VAE", "Adversarial autoencoder"]
    found = verdicts(at)
    assert len(found) == 32                                                        # 16 samples of each
    assert [m.label for m in at.metric].count("Held-out reconstruction") == 2
    expected = engine.judge_samples(engine.vae_sample(16, seed=0, model="aae"))
    assert [digit for _, digit, _ in found[16:]] == list(expected.predicted)       # the same codes, N(0, I)
    first = sample_urls(at)
    at.number_input(key="aae_seed").set_value(3).run()
    assert not at.exception and not set(sample_urls(at)) & set(first)


def test_families_priors_and_the_aae_figures():
    assert logic.verdict(0, 7, 0.95, logic.CLOTHES) == "#1: Sneaker · 95%"
    assert logic.verdict(2, 3, 0.5) == "#3: 3? · 50%"
    assert logic.widget_key(logic.DIGITS, "sample_model") == "sample_model"
    assert logic.widget_key(logic.CLOTHES, "sample_model") == "sample_model_clothes"
    assert logic.family_of("fashion_cvae") is logic.CLOTHES and logic.family_of("aae") is logic.DIGITS
    assert logic.CLOTHES.default == "fashion_vae" and logic.CLOTHES.name(9) == "Ankle boot"
    assert logic.sample_file_name("vae", 3, 1.0, "grid", "learned") == "vae_learned_seed3_t1.0_grid.png"
    shares = pd.DataFrame(next(iter(logic.shares_chart(np.array([0, 0, 9]), logic.CLOTHES).to_dict()["datasets"].values())))
    assert shares.kind.tolist() == list(engine.FASHION_CLASSES) and shares.share[0] == pytest.approx(2 / 3)
    points = np.array([[0.0, 0.5], [4.0, -1.0]])
    chart = logic.prior_map_chart(points, [np.array([0]), np.array([1])], "AAE").to_dict()
    dots, rings = (pd.DataFrame(chart["datasets"][layer["data"]["name"]]) for layer in chart["layer"])
    for radius, ring in rings.groupby("radius"):   # closed circles of radius 1 and 2
        assert np.allclose(np.hypot(ring.x, ring.y), radius) and np.allclose(ring.iloc[0][["x", "y"]], ring.iloc[-1][["x", "y"]])
    assert sorted(rings.radius.unique()) == [1, 2] and dots.digit.tolist() == ["0", "1"]
    assert chart["layer"][0]["encoding"]["x"]["scale"]["domain"] == pytest.approx([-4.2, 4.2])
    assert chart["width"] == chart["height"] and chart["autosize"] == {"type": "pad"}   # a square plot: round circles
    chart = logic.radius_chart({"a": np.ones(5), "b": np.full(5, 4.0)}, 16).to_dict()
    bars, rule, _ = (pd.DataFrame(chart["datasets"][layer["data"]["name"]]) for layer in chart["layer"])
    assert bars.codes.unique().tolist() == ["a", "b"] and rule.x.tolist() == [4.0]
    for _, group in bars.groupby("codes"):   # each a density on the shared bins: its area is 1
        assert ((group.high - group.low) * group.density).sum() == pytest.approx(1.0)
