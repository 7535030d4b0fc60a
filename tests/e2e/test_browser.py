"""The served dashboard in headless Chromium: upload, mask, download, gallery, history."""

import numpy as np
import pytest
from PIL import Image

from tests.e2e.conftest import ARTIFACTS, assert_no_exception, wait_for_script
from tests.helpers import synthetic_pet

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_upload_gallery_history_in_a_real_browser(streamlit_server, browser, tmp_path):
    url, _ = streamlit_server
    photo = tmp_path / "my_cat.jpg"
    synthetic_pet(320, 240, seed=4)[0].save(photo)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url)
    wait_for_script(page)
    page.get_by_text("Upload a photo of your cat or dog").wait_for()

    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(photo))
    page.get_by_text("Download mask").wait_for(timeout=120_000)
    wait_for_script(page)
    pet_share = page.locator('[data-testid="stMetric"]', has_text="Pet share").locator('[data-testid="stMetricValue"]')
    assert pet_share.inner_text().endswith("%")
    assert page.locator('[data-testid="stDownloadButton"]').count() >= 2
    with page.expect_download() as download:
        page.get_by_text("Download mask").click()
    assert download.value.suggested_filename == "my_cat_mask.png"
    assert_no_exception(page)
    page.screenshot(path=str(ARTIFACTS / "segment.png"), full_page=True)

    page.get_by_text("Cut-out", exact=True).click()  # the view control
    page.get_by_text("edges refined in").wait_for(timeout=120_000)
    wait_for_script(page)
    with page.expect_download() as download:
        page.get_by_text("Download cut-out").click()
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
    """`.streamlit/config.toml` sets maxUploadSize = 20 (MB): a 21 MB file never reaches the app."""
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
    assert page.get_by_text("Download mask").count() == 0
    page.screenshot(path=str(ARTIFACTS / "over-limit.png"))
    page.close()
