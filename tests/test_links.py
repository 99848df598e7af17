"""Links that share a setup (issue 19): every page's settings live in its URL. Each page is opened
under AppTest with a link that sets every bound widget to another of its values, and must show
those values; a link of garbage and stale names opens each page with its defaults and a short
note, never an error. (The browser writing the URL as a user changes a widget is checked in
tests/test_browser_careful.py.)"""
import math
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app_pages.logic.links import unused_note, unused_parameters

pytestmark = pytest.mark.slow   # every test but the first drives the app under AppTest

APP = Path(__file__).resolve().parent.parent / "streamlit_app.py"

# each page, and settings its link must carry (the others it binds are found by walking the page)
PAGES = {
    "app_pages/denoising.py": {"denoise_mode", "example", "input_mode", "noise_kind_character", "noise_amount_character",
                               "noise_seed"},
    "app_pages/colorize.py": {"colour_mode", "example"},
    "app_pages/anomaly.py": {"scoring", "false_positive_rate"},
    "app_pages/search.py": {"gallery_source", "builtin", "space", "metric", "k", "query_mode"},
    "app_pages/generate.py": {"sample_model", "sample_seed", "sample_temperature", "sample_grid"},
    "app_pages/studio.py": {"studio_family", "studio_code", "studio_epochs", "studio_lr", "studio_data"},
    "app_pages/sequence.py": {"seq_hours"},   # the anomaly settings are in the second tab: checked below
    "app_pages/semisupervised.py": {"labels_per_digit"},
    "app_pages/impute.py": {"mask_kind", "impute_example", "table_name", "table_fraction"},
}
# settings that reshape the page (the other mode's widgets replace these ones): left at their
# defaults in the link that changes every other setting, and checked on their own below
RESHAPING = {"app_pages/denoising.py": {"denoise_mode", "input_mode"}}
OPTION_WIDGETS = ("selectbox", "radio", "select_slider", "button_group", "multiselect")
WIDGETS = (*OPTION_WIDGETS, "slider", "number_input", "checkbox", "toggle")


def test_unused_parameters_are_the_names_no_widget_took():
    assert unused_parameters({"k": "3", "stale": "1", "embed": "true"}, {"k"}) == ["stale"]
    assert unused_parameters({}, set()) == []
    note = unused_note(["stale", "old"])
    assert "`stale`, `old` are not settings" in note and "them" in note
    assert "`stale` is not a setting" in unused_note(["stale"])


def open_page(page: str, params: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180).run()
    at.query_params.update(params or {})
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def bound_widgets(at: AppTest) -> dict:
    """The page's widgets bound to the URL, by their parameter name."""
    found = {}
    for kind in WIDGETS:
        for widget in at.get(kind):
            name = getattr(widget.proto, "query_param_key", "")
            if name:
                found[name] = widget
    return found


def _number(label: str) -> float | None:
    try:
        return float(label.replace(",", "").split("x")[0])
    except ValueError:
        return None


def another_value(widget) -> tuple[str | list[str], object] | None:
    """A value other than the shown one, as the link writes it and as the widget should then
    hold it: (text in the URL, what to compare with). None where the widget has no other."""
    kind = widget.type
    if kind in ("selectbox", "radio"):
        others = [i for i in range(len(widget.options)) if i != widget.index]
        return (widget.options[others[-1]], ("index", others[-1])) if others else None
    if kind == "select_slider":
        current = list(widget.proto.default)
        others = [i for i, label in enumerate(widget.options) if i not in current and _number(label) is not None]
        if not others or len(current) != 1:
            return None
        label = widget.options[others[0]]
        return label, ("number", _number(label))
    if kind in ("button_group", "multiselect"):
        chosen = set(widget.indices) if hasattr(widget, "indices") else set(widget.proto.default)
        others = [i for i in range(len(widget.options)) if i not in chosen]
        if not others:
            return None
        label = widget.options[others[-1]]
        label = getattr(label, "content", label)
        return label, ("label", label)
    if kind == "slider":
        low, high, step = widget.proto.min, widget.proto.max, widget.proto.step
        if not isinstance(widget.value, int | float):
            return None   # a range (the impute page's rectangle is checked below), or a date
        value = widget.value + step if widget.value + step <= high else widget.value - step
        if value < low:
            return None
        integer = widget.proto.data_type == widget.proto.INT
        value = int(round(value)) if integer else round(value, 6)
        return str(value), ("number", value)
    if kind == "number_input":
        step = widget.proto.step or 1
        fits = not widget.proto.has_max or widget.value + step <= widget.proto.max
        value = widget.value + step if fits else widget.value - step
        value = int(value) if float(value).is_integer() else value
        return str(value), ("number", value)
    if kind in ("checkbox", "toggle"):
        return ("false" if widget.value else "true"), ("number", float(not widget.value))
    return None


def holds(widget, expected: tuple[str, object]) -> bool:
    how, value = expected
    if how == "index":
        return widget.index == value
    if how == "label":
        shown = widget.value if isinstance(widget.value, list | tuple) else [widget.value]
        return any(str(v) == value or getattr(widget, "format_func", str)(v) == value for v in shown) or \
            value in [widget.options[i] for i in (getattr(widget, "indices", None) or [])]
    return math.isclose(float(widget.value), float(value), rel_tol=1e-6, abs_tol=1e-9)


@pytest.mark.parametrize("page", list(PAGES))
def test_a_link_opens_the_page_with_the_settings_it_carries(page):
    first = bound_widgets(open_page(page))
    assert PAGES[page] <= set(first), f"not in the page's URL: {PAGES[page] - set(first)}"
    link = {name: another_value(widget) for name, widget in first.items()}
    link = {name: value for name, value in link.items() if value is not None and name not in RESHAPING.get(page, ())}
    at = open_page(page, {name: text for name, (text, _) in link.items()})
    now = bound_widgets(at)
    # a setting can hide another (the mode hides the other mode's widgets); each still drawn,
    # with the same options as before, holds the link's value
    compared = [name for name in link
                if name in now and getattr(now[name], "options", None) == getattr(first[name], "options", None)]
    assert len(compared) >= min(2, len(link)), compared
    wrong = {name: (link[name][0], now[name].value) for name in compared if not holds(now[name], link[name][1])}
    assert not wrong, wrong


@pytest.mark.parametrize("page", [*PAGES, "app_pages/home.py", "app_pages/sources.py"])
def test_a_link_of_garbage_opens_the_page_with_its_defaults_and_a_note(page):
    first = open_page(page)
    defaults = {name: widget.value for name, widget in bound_widgets(first).items()}
    garbage = {name: "§no such value§" for name in defaults} | {"zz_stale_setting": "1"}
    at = open_page(page, garbage)
    now = bound_widgets(at)
    changed = {name: (defaults[name], now[name].value) for name in defaults if name in now and now[name].value != defaults[name]}
    assert not changed, changed
    notes = [c.value for c in at.caption if "zz_stale_setting" in c.value]
    assert notes and "not a setting of this page" in notes[0]


def test_a_range_and_a_tab_travel_in_the_link():
    at = open_page("app_pages/impute.py", {"mask_kind": "A rectangle (sliders)", "rect_rows": ["3", "9"]})
    assert at.slider(key="rect_rows").value == (3, 9)
    at = open_page("app_pages/generate.py", {"generate_tab": "Interpolate"})
    assert at.selectbox(key="interp_start")   # only the open tab runs, so its widgets exist
    at = open_page("app_pages/sequence.py", {"seq_tab": "2. Find anomalous days", "seq_kind": "dropout",
                                             "seq_percentile": "99.9"})
    assert at.selectbox(key="seq_kind").value == "dropout" and at.select_slider(key="seq_percentile").value == 99.9


def test_a_link_opens_the_other_mode_of_a_page():
    at = open_page("app_pages/denoising.py", {"denoise_mode": "Clean my photo as it is", "clean_close_up": "false"})
    assert at.button_group(key="denoise_mode").value == "clean"
    assert at.selectbox(key="clean_example") and at.toggle(key="clean_close_up").value is False
