"""The real app, started with `streamlit run`, opened in headless Chromium (Debian's): every
page shows its result, and uploads go through the real file input."""

import json

import pytest
from browser import CHARTS_AT_LEAST, SCRIPT_FINISHED, VISITS

pytestmark = [pytest.mark.browser, pytest.mark.slow]   # a real server and Chromium


def assert_result_rendered(page, tmp_path, slug: str, result: str = '[data-testid="stDataFrame"]') -> None:
    """The page's result (by default its first table) is visible, with no exception or error
    element, at its own URL."""
    page.locator(result).first.wait_for()
    page.screenshot(path=tmp_path / f"{slug}.png", full_page=True)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0
    assert f"/{slug}" in page.url


def test_home_then_denoising(page, app_url, tmp_path):
    page.goto(app_url)
    page.get_by_role("heading", name="Autoencoder Playground").wait_for()
    page.screenshot(path=tmp_path / "home.png", full_page=True)

    page.locator('[data-testid="stPageLink"] a', has_text="Denoising").click()
    page.get_by_role("heading", name="Denoising", exact=True).wait_for()
    page.wait_for_function(SCRIPT_FINISHED)
    page.wait_for_function("document.querySelectorAll('[data-testid=\"stImage\"] img').length >= 4")
    assert_result_rendered(page, tmp_path, "denoising")


def test_home_then_anomaly_detection(page, app_url, tmp_path):
    page.goto(app_url)
    page.locator('[data-testid="stPageLink"] a', has_text="Anomaly detection").click()
    page.get_by_role("heading", name="Anomaly detection", exact=True).wait_for()
    examples = page.locator('[data-testid="stMultiSelect"]')
    page.wait_for_function("document.querySelectorAll('[data-testid=\"stImage\"] img').length >= 5")
    page.wait_for_function(SCRIPT_FINISHED)
    examples.locator("[data-tag]").first.wait_for()
    chosen = examples.locator("[data-tag]").count()
    assert chosen > 0  # some built-in examples are chosen to start with

    # Add one more built-in example: five more images (input, and reconstruction and error per model).
    examples.get_by_role("combobox").click()
    page.get_by_role("option", name="'x' (letter)").click()
    page.keyboard.press("Escape")
    images = 5 * (chosen + 1)
    page.wait_for_function(f"document.querySelectorAll('[data-testid=\"stImage\"] img').length >= {images}")
    page.wait_for_function(SCRIPT_FINISHED)
    # Every character in a table, drawn when its expander is opened (its data grid is not drawn before).
    assert page.locator(TABLE).count() == 0
    page.get_by_text("Every character as a table", exact=True).click()
    page.locator(TABLE).first.wait_for()
    page.wait_for_function(SCRIPT_FINISHED)
    # The evaluation has a tab of its own, run when it is opened: a histogram a model and one ROC chart of
    # both models, in Vega-Lite (drawn: their marks are there).
    page.get_by_role("tab", name="How well each model tells digits from letters", exact=True).click()
    page.wait_for_function(CHARTS_AT_LEAST.format(3))
    page.wait_for_function(SCRIPT_FINISHED)
    assert_result_rendered(page, tmp_path, "anomaly", result='[data-testid="stTable"]')   # a confusion table per model
    assert page.locator('[data-testid="stTable"]').count() == 2
    assert page.locator('[data-testid="stVegaLiteChart"] .marks').count() == 3
    assert page.locator('[data-testid="stVegaLiteChart"] .mark-rect').count() == 2   # bars, in a chart a model
    # Digit-like letters start faint; a click on them in a histogram's legend shows them alone there.
    histogram = page.locator('[data-testid="stVegaLiteChart"]').first
    assert _bar_opacities(histogram) == {"#3b6fd4": {"0.6"}, "#e4572e": {"0.6"}, "#8a8a8a": {"0.08"}}
    histogram.get_by_text("digit-like letters", exact=True).click()
    page.wait_for_function("""c => c.querySelector('.mark-rect path[fill="#8a8a8a"]').getAttribute('opacity') === '0.6'""",
                           arg=histogram.element_handle())
    assert _bar_opacities(histogram) == {"#3b6fd4": {"0.08"}, "#e4572e": {"0.08"}, "#8a8a8a": {"0.6"}}


def _bar_opacities(chart) -> dict[str, set[str]]:
    """A Vega-Lite chart's bars: fill colour -> the opacities they are drawn with."""
    found: dict[str, set[str]] = {}
    for fill, opacity in chart.locator(".mark-rect path").evaluate_all(
            "paths => paths.map(p => [p.getAttribute('fill'), p.getAttribute('opacity')])"):
        found.setdefault(fill, set()).add(opacity)
    return found



def test_the_studio_surfaces_turn_in_the_browser(page, app_url):
    """The PCA tab's 3-D views are Vega-Lite charts turned by their own sliders: moving one redraws
    its chart in the browser, with no rerun of the page."""
    from browser import RUN_WATCH
    from browser_controls import open_page

    page.add_init_script(RUN_WATCH)   # counts the server's messages: a rerun would send some
    open_page(page, app_url, "studio")
    page.get_by_role("tab", name="PCA vs autoencoders", exact=True).click()
    page.wait_for_function(CHARTS_AT_LEAST.format(2))
    page.wait_for_function(SCRIPT_FINISHED)
    assert page.locator('[data-testid="stPlotlyChart"]').count() == 0   # no plotly (nor WebGL) on the tab
    page.locator('[data-testid="stCheckbox"]').filter(has=page.get_by_role("switch", name="Rotate in 3-D")).get_by_text(
        "Rotate in 3-D", exact=True).click()
    sliders = page.locator('[data-testid="stVegaLiteChart"] .vega-bindings input[type=range]')
    page.wait_for_function("document.querySelectorAll('[data-testid=\"stVegaLiteChart\"] .vega-bindings input[type=range]')"
                           ".length === 4")
    page.wait_for_function(SCRIPT_FINISHED)
    chart = page.locator('[data-testid="stVegaLiteChart"]').first
    chart.locator("canvas.marks").wait_for()
    before, messages = chart.locator("canvas.marks").evaluate("c => c.toDataURL()"), page.evaluate(SERVER_MESSAGES)
    sliders.first.fill("120")   # turn the plane
    page.wait_for_function("([c, before]) => c.querySelector('canvas.marks').toDataURL() !== before",
                           arg=[chart.element_handle(), before])
    assert page.evaluate(SERVER_MESSAGES) == messages   # drawn in the browser: the page did not rerun
    assert sliders.nth(2).input_value() == "35"   # the other chart keeps its own angle


# The number of messages the page has had from the server (RUN_WATCH counts them).
SERVER_MESSAGES = "window.__stRuns.messages"


# What shows that each page's result is there, after the upload.
TABLE, CHART = '[data-testid="stDataFrame"]', '[data-testid="stPlotlyChart"]'
RESULTS = {"denoising": TABLE, "colorize": TABLE, "anomaly": '[data-testid="stImage"]',
           "search": '[data-testid="stVegaLiteChart"] .marks', "generate": TABLE,
           "sequence": CHART, "semisupervised": CHART, "impute": TABLE}


@pytest.mark.parametrize("slug", list(VISITS))
def test_open_each_page_then_upload_through_the_file_input(page, app_url, tmp_path, slug):
    times = VISITS[slug](page, app_url)
    assert set(times) == {"open", "upload"} and all(t > 0 for t in times.values())
    assert_result_rendered(page, tmp_path, slug, result=RESULTS[slug])
    if slug == "search":  # the drawn '7' finds sevens
        assert "labelled 7" in page.get_by_text("neighbours are labelled").inner_text()


def test_colour_points_are_placed_by_clicking_on_the_photo(page, app_url, tmp_path):
    """The colorization page's hint mode: a click with the mouse on the photo (a Streamlit
    component in its own frame) places a colour point, and the hinted colours appear."""
    page.goto(f"{app_url}/colorize")
    page.get_by_role("heading", name="Colorization", exact=True).wait_for()
    page.wait_for_function(SCRIPT_FINISHED)
    page.get_by_role("radio", name="From my colour points").click()
    picture = page.frame_locator('[data-testid="stCustomComponentV1"]').locator("img")
    picture.wait_for()
    page.get_by_text("(0 placed)").wait_for()
    box = picture.bounding_box()
    assert box and box["width"] > 100 and box["height"] > 100
    picture.click(position={"x": box["width"] * 0.3, "y": box["height"] * 0.4})
    page.get_by_text("(1 placed)").wait_for()
    page.wait_for_function(SCRIPT_FINISHED)
    page.get_by_text("Autoencoder + your 1 hint", exact=True).first.wait_for()
    assert_result_rendered(page, tmp_path, "colorize")


def test_a_character_drawn_with_the_mouse_is_scored(page, app_url, tmp_path):
    """The anomaly page's canvas (streamlit-drawable-canvas): a '7' drawn with the mouse goes
    through the character preparation, is shown as the model sees it, and gets a row of scores."""
    page.goto(f"{app_url}/anomaly")
    page.get_by_role("heading", name="Anomaly detection", exact=True).wait_for()
    page.wait_for_function(SCRIPT_FINISHED)
    page.get_by_role("button", name="Draw").click()
    page.wait_for_function(SCRIPT_FINISHED)
    canvas = page.locator("canvas.upper-canvas").first
    canvas.wait_for()
    box = canvas.bounding_box()
    assert box and box["width"] > 100 and box["height"] > 100

    def at(x: float, y: float) -> tuple[float, float]:
        return box["x"] + x * box["width"], box["y"] + y * box["height"]

    page.mouse.move(*at(0.25, 0.2))
    page.mouse.down()
    for x, y in ((0.45, 0.2), (0.7, 0.2), (0.6, 0.45), (0.5, 0.65), (0.42, 0.85)):   # the bar, then the stem
        page.mouse.move(*at(x, y), steps=8)
    page.mouse.up()
    page.get_by_text("what the model sees", exact=True).first.wait_for()
    page.wait_for_function(SCRIPT_FINISHED)
    page.get_by_text("drawing", exact=True).first.wait_for()   # its name above its reconstructions
    assert_result_rendered(page, tmp_path, "anomaly", result='[data-testid="stImage"]')


HEALTH_BOUND_S = 5.0


def test_hostile_uploads_never_stall_another_visitor(page, app_url):
    """Issue 22: while one visitor uploads each costly file (thousands of JPEG scans, millions of
    TIFF strips, strips of one pixel, pixel-bomb zips, hostile CSVs), the health endpoint that
    every other visitor's browser polls keeps answering, and the uploader gets a page with no
    exception. What is asserted is the failure this guards against, a parse that holds the
    interpreter lock for many seconds (csv.Sniffer held it for 22 s and more): a bound of
    HEALTH_BOUND_S, not the 1 s the benchmark shows with nothing else running
    (`python tests/browser_bench.py hostile`: 0.31 s), because a busy machine running the other
    tests beside this one delays every answer without any lock being held (1.06 s was seen)."""
    from browser import HealthWatch, hostile_uploads, upload_answer

    uploads = hostile_uploads()
    assert {slug for slug, _, _ in uploads} == {"denoising", "search", "sequence"}
    answered, stalls = {}, {}
    with HealthWatch(app_url) as health:
        for slug, name, data in uploads:
            health.since_mark()
            answered[name] = upload_answer(page, app_url, slug, name, data)
            stalls[name] = health.since_mark()
    assert health.requests > len(uploads)
    slowest = max(stalls, key=stalls.get)
    assert health.longest < HEALTH_BOUND_S, f"the health endpoint took {health.longest:.2f} s (worst during {slowest})"
    refused = [name for name, (_, alerts) in answered.items() if alerts]
    assert len(refused) >= len(uploads) // 2, answered   # most are refused with a message
    assert all(name in refused for slug, name, _ in uploads if slug == "search"), answered


def test_the_sequence_pages_controls_each_answer_in_their_tab(page, app_url):
    """The benchmark's visit of the sequence page (tests/browser_controls.py), as a test of what it
    does, not of its times: the page opens on the forecast, the anomaly tools work in their own tab,
    every control's rerun is seen to end with its result shown, and the server's answer comes before
    the result is seen."""
    from browser_controls import operate

    rows = operate(page, app_url, "sequence", timeout_s=90)
    failed = [row for row in rows if not row["ok"]]
    assert not failed, failed
    steps = [row["step"] for row in rows if "skipped" not in row]
    assert steps[:2] == ["open", "hours ahead: 3 h"] and "tab 2. Find anomalous days" in steps
    assert "button Inject anomaly" in steps and steps[-1] == "open from the sidebar"
    timed_rows = [row for row in rows if "skipped" not in row]
    assert all(row["seconds"] > 0 for row in timed_rows)
    # each step's rerun sent messages, the last of them (its end) before the result could be drawn
    assert all(row["server"] is not None and 0 < row["server"] <= row["seconds"] + 0.25 for row in timed_rows), timed_rows


def test_a_load_reports_its_figures_as_it_goes(tmp_path, monkeypatch):
    """`browser_bench.py load --json F` rewrites F as it goes, so a load stopped before its end
    (ten visitors' default rounds take hours on two cores) still leaves its figures so far."""
    import browser_bench
    from browser import ROOT

    reports = []
    final = browser_bench.run(1, 1, ["home"], ROOT, warmup=0, progress=reports.append)
    assert reports[0]["finished"] is False and reports[0]["interactions"] == 0
    assert "peak so far" in reports[0]["server memory (MB)"]
    assert reports[-1] == final and final["finished"] is True
    assert final["interactions"] > 0 and final["failed interactions"] == 0
    assert "after load" in final["server memory (MB)"] and "peak so far" not in final["server memory (MB)"]
    # one visitor's latency run does not wait for the session to expire; a load does (120 s by default)
    assert "after the sessions expired" not in final["server memory (MB)"] and browser_bench.session_ttl() > 0

    # The command line hands `run` a progress that writes each report to --json.
    written, seen = tmp_path / "load.json", []

    def fake_run(*args, **kwargs):
        progress = args[-1]
        progress({"finished": False})
        seen.append(json.loads(written.read_text()))
        return {"finished": True}

    monkeypatch.setattr(browser_bench, "run", fake_run)
    assert browser_bench.main(["load", "--pages", "home", "--json", str(written)]) == 0
    assert seen == [{"finished": False}] and json.loads(written.read_text()) == {"finished": True}


def test_a_visitor_without_a_browser_opens_every_page(app_url):
    """The crowd benchmark's browserless visitor (tests/protocol_visitor.py): through Streamlit's
    WebSocket protocol alone, each page's run ends with its elements sent and no exception."""
    from browser_controls import PAGES
    from protocol_visitor import ProtocolVisitor

    with ProtocolVisitor(app_url) as visitor:
        answers = {slug: visitor.open("" if slug == "home" else slug) for slug in PAGES}
    assert all(answer.deltas >= 10 and answer.exceptions == 0 for answer in answers.values()), answers
    assert answers["anomaly"].deltas > answers["home"].deltas   # each page's own elements, not the home page's


def test_a_crowd_is_one_browser_among_visitors_without_one(monkeypatch):
    """`browser_bench.py crowd`: the figures are one visitor's, in a browser, while the others open
    pages without one until it is done."""
    import browser_bench
    from browser import ROOT

    monkeypatch.setattr(browser_bench, "session_ttl", lambda: 0.0)   # no wait for the sessions to expire
    monkeypatch.setattr(browser_bench, "EXPIRY_MARGIN_S", browser_bench.DISCONNECT_WAIT_S)
    alone = browser_bench.run(1, 1, ["home"], ROOT, warmup=0)
    crowd = browser_bench.run(3, 1, ["home"], ROOT, warmup=0, crowd=True)
    assert crowd["failed interactions"] == 0 and not crowd["errors"], crowd["errors"]
    assert crowd["interactions"] == alone["interactions"] > 0          # one visitor's steps
    opens = crowd["browserless visitors' opens (s)"]
    assert opens["home open"]["n"] >= 2 and opens["all"]["failed"] == 0   # the others kept opening the page
    assert "browserless visitors' opens (s)" not in alone
