"""The served dashboard in headless Chromium: upload, mask, download, gallery, history."""

import re

import numpy as np
import pytest
from PIL import Image

from tests.e2e.conftest import ARTIFACTS, assert_no_exception, serving, wait_for_script, wait_until_idle
from tests.helpers import real_pet

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# Records every spinner's text each time the page changes: the most shown at once, per text.
RECORD_SPINNERS = """
window.spinnersAtOnce = {};
new MutationObserver(() => {
  const counts = {};
  for (const spinner of document.querySelectorAll('[data-testid="stSpinner"]')) {
    const text = spinner.innerText.trim();
    counts[text] = (counts[text] || 0) + 1;
  }
  for (const [text, count] of Object.entries(counts)) {
    window.spinnersAtOnce[text] = Math.max(window.spinnersAtOnce[text] || 0, count);
  }
}).observe(document, {childList: true, subtree: true, characterData: true});
"""


def test_a_cold_start_says_what_it_is_loading_once(e2e_env, browser):
    """A fresh server's first visitor waits for TensorFlow, then the model: never the same message
    twice at once (Streamlit shows a spinner only after 0.5 s, so a fast model load may show none)."""
    with serving(e2e_env, "streamlit-cold.log") as (url, _):
        page = browser.new_page()
        page.add_init_script(RECORD_SPINNERS)
        page.goto(url)
        page.get_by_text("Upload a photo of your cat or dog").wait_for(timeout=120_000)
        wait_for_script(page)
        shown = page.evaluate("window.spinnersAtOnce")
        assert shown.get("Starting PetSeg: loading TensorFlow…") == 1, shown  # importing it takes seconds
        assert set(shown.values()) == {1}, shown
        assert_no_exception(page)
        page.close()


def test_upload_gallery_history_in_a_real_browser(streamlit_server, browser, tmp_path):
    url, _ = streamlit_server
    photo = tmp_path / "my_cat.jpg"
    real_pet(320, 240).save(photo)  # the shipped model must find a pet in it
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url)
    wait_for_script(page)
    page.get_by_text("Upload a photo of your cat or dog").wait_for()

    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(photo))
    page.get_by_role("button", name="Download label map").wait_for(timeout=120_000)
    wait_for_script(page)
    figures = page.locator('[data-testid="stMarkdownContainer"]', has_text="Pet share").first.inner_text()
    assert re.search(r"Pet share [\d.]+% · prediction \d+ ms · photo \d+×\d+ \([\d.]+ MP\)", figures), figures
    assert page.locator('[data-testid="stDownloadButton"]').count() >= 2
    with page.expect_download() as download:
        page.get_by_role("button", name="Download label map").click()
    assert download.value.suggested_filename == "my_cat_mask.png"
    assert set(np.unique(np.asarray(Image.open(download.value.path())))) <= {1, 2, 3}
    with page.expect_download() as download:
        page.get_by_role("button", name="Download coloured mask").click()  # what people can see: not near-black
    assert download.value.suggested_filename == "my_cat_mask_colour.png"
    assert np.asarray(Image.open(download.value.path()).convert("L")).mean() > 60
    with page.expect_download() as download:
        page.get_by_role("button", name="Download alpha matte").click()  # black and white
    pet_mask = np.asarray(Image.open(download.value.path()))
    assert pet_mask.ndim == 2 and pet_mask.min() == 0 and pet_mask.max() == 255
    assert_no_exception(page)
    page.screenshot(path=str(ARTIFACTS / "segment.png"), full_page=True)

    wait_until_idle(page)
    page.get_by_text("Cut-out", exact=True).click()  # the view control
    page.get_by_text("edges refined in").wait_for(timeout=120_000)
    wait_for_script(page)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download cut-out").click()
    assert download.value.suggested_filename == "my_cat_cutout.png"
    cutout = Image.open(download.value.path())
    assert cutout.mode == "RGBA" and cutout.size == (320, 240)
    alpha = np.asarray(cutout)[..., 3]
    assert alpha.min() == 0 and alpha.max() == 255  # transparent background, opaque pet
    assert_no_exception(page)
    page.screenshot(path=str(ARTIFACTS / "cutout.png"), full_page=True)

    page.get_by_role("link", name="Validation gallery").click()
    page.get_by_text("Pixel accuracy").first.wait_for(timeout=120_000)
    wait_for_script(page)
    assert_no_exception(page)
    page.screenshot(path=str(ARTIFACTS / "gallery.png"), full_page=True)

    page.get_by_role("link", name="Training history").click()
    page.locator('[data-testid="stPlotlyChart"]').first.wait_for(timeout=120_000)
    wait_for_script(page)
    assert page.locator('[data-testid="stPlotlyChart"]').count() == 6
    assert_no_exception(page)
    page.screenshot(path=str(ARTIFACTS / "history.png"), full_page=True)
    page.close()


def test_bad_upload_shows_an_error_and_the_page_keeps_working(streamlit_server, browser, tmp_path):
    url, _ = streamlit_server
    bad = tmp_path / "fake.jpg"
    bad.write_text("<html>not a photo</html>")
    page = browser.new_page()
    page.goto(url)
    wait_for_script(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(bad))
    page.get_by_text("Cannot segment fake.jpg").wait_for(timeout=60_000)
    assert_no_exception(page)
    page.close()


def test_over_limit_upload_is_rejected_by_the_server_config(streamlit_server, browser, tmp_path):
    """`.streamlit/config.toml` sets maxUploadSize (MB): a larger file never reaches the app, and the
    page states the limit where people can read it (the uploader's own error shows on hover only)."""
    import tomllib

    from tests.e2e.conftest import ROOT

    limit = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]["maxUploadSize"]
    url, _ = streamlit_server
    big = tmp_path / "huge.jpg"
    big.write_bytes(b"\xff\xd8" + b"\x00" * (limit + 1) * 1024 * 1024)
    page = browser.new_page()
    page.goto(url)
    wait_for_script(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(big))
    page.get_by_text(f"{limit:.1f}MB", exact=False).first.wait_for(timeout=30_000)
    wait_for_script(page)
    assert page.get_by_text("Cannot segment huge.jpg").count() == 0  # rejected before the app saw it
    assert page.get_by_role("button", name="Download label map").count() == 0
    assert page.get_by_text(f"up to {limit} MB", exact=False).count() == 1
    page.screenshot(path=str(ARTIFACTS / "over-limit.png"))
    page.close()


def test_unreadable_and_pet_free_uploads_say_why_on_the_page(streamlit_server, browser, tmp_path):
    """A HEIC photo, a gradient and a 16 px image: each gets its reason in words on the page."""
    url, _ = streamlit_server
    heic = tmp_path / "IMG_0001.heic"
    heic.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(200))
    gradient = tmp_path / "gradient.png"
    Image.fromarray(np.tile(np.linspace(0, 255, 300, dtype=np.uint8), (200, 1))).convert("RGB").save(gradient)
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (16, 16), (120, 130, 140)).save(tiny)
    page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
    page.goto(url)
    wait_for_script(page)
    uploader = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
    uploader.set_input_files(str(gradient))
    page.get_by_text("No cat or dog found in this photo").wait_for(timeout=120_000)
    wait_for_script(page)
    page.screenshot(path=str(ARTIFACTS / "phone-first-screen.png"))
    first = page.locator('[data-testid="stImage"]').first.bounding_box()
    assert first is not None and first["y"] < 650  # the result starts on the first screen (before: below 1,000 px)
    option = page.locator('[data-testid="stSidebar"]').get_by_text("Overlay opacity").bounding_box()
    assert option is not None and option["x"] + option["width"] <= 0, option  # in the closed sidebar, one tap away
    uploader.set_input_files([str(heic), str(tiny)])  # added to the gradient already there
    page.get_by_text("Cannot segment IMG_0001.heic: HEIC/AVIF photos").wait_for(timeout=120_000)
    wait_for_script(page)
    page.get_by_text("No cat or dog found in this photo").first.wait_for(timeout=60_000)
    alerts = page.locator('[data-testid="stAlert"]').all_inner_texts()
    assert sum("No cat or dog found in this photo" in alert for alert in alerts) == 2, alerts
    assert page.get_by_text("It is only 16×16 px").count() == 1
    assert_no_exception(page)
    page.screenshot(path=str(ARTIFACTS / "no-pet-phone.png"), full_page=True)
    page.close()


def test_the_bare_streamlit_run_command_works_from_another_folder(e2e_env, browser, tmp_path):
    """`streamlit run dashboard/app.py` (no `python -m`) put only dashboard/ on the import path and
    showed `ModuleNotFoundError: No module named 'dashboard'`; the installed project imports anywhere."""
    with serving(e2e_env, "streamlit-bare.log", bare_from=tmp_path) as (url, _):
        page = browser.new_page()
        page.goto(url)
        page.get_by_text("Upload a photo of your cat or dog").wait_for(timeout=120_000)
        wait_for_script(page)
        assert page.get_by_role("heading", name="Segment a pet photo").count() == 1
        assert_no_exception(page)
        page.close()


CHART_AT_REST = """() => {
  const chart = document.querySelector('[data-testid="stPlotlyChart"] .js-plotly-plot');
  const drag = chart && chart.querySelector(".nsewdrag");
  if (!drag || !chart._fullLayout || chart._fullLayout.dragmode !== "lasso") return null;
  const r = drag.getBoundingClientRect(), now = performance.now(), where = [r.x, r.y, r.width].join();
  if (window.chartWhere !== where) { window.chartWhere = where; window.chartSince = now; return null; }
  const reached = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2) === drag;
  return now - window.chartSince >= 500 && reached ? {x: r.x, y: r.y, width: r.width} : null;
}"""
"""The touch-up chart's drag area once it is in lasso mode, has not moved for 0.5 s and is what a press
reaches: after an upload and the expander's opening the page keeps re-laying itself out for a while,
and a stroke begun meanwhile lands beside the chart (no lasso, no mark)."""


def draw(page, points: list[tuple[float, float]], touch: bool) -> None:
    """A stroke through `points` (page pixels): the mouse with its button held, or one finger
    (Chrome's touch events through the DevTools protocol, as a phone's screen sends them)."""
    if not touch:
        page.mouse.move(*points[0])
        page.mouse.down()
        for x, y in points[1:]:
            page.mouse.move(x, y, steps=8)
        page.mouse.up()
        return
    cdp = page.context.new_cdp_session(page)
    finger = lambda x, y: [{"x": x, "y": y}]  # noqa: E731
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": finger(*points[0])})
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        for t in np.linspace(0, 1, 9)[1:]:
            move = finger(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t)
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": move})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_a_lasso_drawn_on_the_cut_out_changes_its_alpha_exactly_there(streamlit_server, browser, tmp_path, device):
    """Touch-up in a real browser: a lasso over a corner of the background, marked as pet, makes
    that corner opaque in the downloaded cut-out and leaves the far side of the photo as it was.
    On a phone (390 px, touch screen) the lasso is drawn with a finger."""
    url, _ = streamlit_server
    photo = tmp_path / "corner_cat.jpg"
    real_pet(320, 240).save(photo)  # a cat the model finds (its top-left corner is background)
    phone = device == "phone"
    context = browser.new_context(
        viewport={"width": 390, "height": 844} if phone else {"width": 1400, "height": 1000},
        has_touch=phone, is_mobile=phone,
    )  # fmt: skip
    page = context.new_page()
    page.goto(url)
    wait_for_script(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(photo))
    page.get_by_text("Cut-out", exact=True).wait_for(timeout=120_000)
    wait_until_idle(page)  # a click while a run re-draws the page can be lost
    page.get_by_text("Cut-out", exact=True).click()
    page.get_by_text("edges refined in").wait_for(timeout=120_000)
    wait_for_script(page)

    def cutout_alpha() -> np.ndarray:
        with page.expect_download() as download:
            page.get_by_role("button", name="Download cut-out").click()
        return np.asarray(Image.open(download.value.path()))[..., 3]

    before = cutout_alpha()
    wait_until_idle(page)
    page.get_by_text("Touch up: mark a region as pet or background").click()
    assert page.locator('[data-testid="stPlotlyChart"]').count() == 0  # Draw off: a picture, a swipe scrolls
    page.get_by_text("Draw", exact=True).click()  # drawing is a mode the person turns on
    plot = page.locator('[data-testid="stPlotlyChart"] .nsewdrag').first
    plot.wait_for(timeout=60_000)
    plot.scroll_into_view_if_needed()
    box = page.wait_for_function(CHART_AT_REST, timeout=60_000).json_value()
    scale = box["width"] / 320  # the chart shows the whole photo's width
    corner = [(4, 4), (70, 4), (70, 50), (4, 50), (4, 6)]  # photo pixels: the top-left background
    draw(page, [(box["x"] + x * scale, box["y"] + y * scale) for x, y in corner], touch=phone)
    page.get_by_text("1 mark(s) on this photo").wait_for(timeout=120_000)
    wait_for_script(page)
    after = cutout_alpha()
    assert (before[12:42, 12:62] < 128).all() and (after[12:42, 12:62] == 255).all()  # inside the lasso
    assert np.array_equal(before[:, 160:], after[:, 160:])  # far from it, nothing changed
    assert_no_exception(page)
    page.screenshot(path=str(ARTIFACTS / f"touchup-{device}.png"), full_page=True)
    context.close()


def test_a_clip_uploaded_in_the_browser_downloads_as_a_transparent_webm(streamlit_server, browser, tmp_path):
    """A phone-like clip (a pan over a bundled cat) uploaded on the Segment page: both videos play
    side by side, and the downloaded WebM's alpha (read with libvpx) is opaque where the moved trimap
    says pet and clear where it says background."""
    from tests.test_video import decoded_alphas, make_clip

    url, _ = streamlit_server
    clip, truths = make_clip(tmp_path, "pan", frames=8)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url)
    wait_for_script(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(clip))
    page.get_by_text("Cut-out (8 frames in").wait_for(timeout=180_000)
    wait_for_script(page)
    assert page.locator('[data-testid="stVideo"]').count() == 2
    with page.expect_download() as download:
        page.get_by_role("button", name="Download cut-out video").click()
    saved = tmp_path / "downloaded.webm"
    download.value.save_as(saved)
    alphas = decoded_alphas(saved)
    assert len(alphas) == 8
    for alpha, truth in zip(alphas, truths):
        assert (alpha[truth == 1] > 128).mean() > 0.9 and (alpha[truth == 2] > 128).mean() < 0.1
    assert_no_exception(page)
    page.screenshot(path=str(ARTIFACTS / "clip-page.png"), full_page=True)
    page.close()
