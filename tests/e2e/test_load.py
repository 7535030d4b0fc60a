"""Several people at once: browser sessions each upload their own photo and must get their own mask.

PETSEG_LOAD_SESSIONS sets the number of simultaneous sessions (default 8).
"""

import asyncio
import io
import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from tests.e2e.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from tests.helpers import synthetic_pet

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
SESSIONS = int(os.environ.get("PETSEG_LOAD_SESSIONS", "8"))
READY = '[data-testid="stApp"][data-test-script-state="notRunning"]'  # the script has finished its run


def peak_memory_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def one_session(browser, url: str, photo_path, index: int) -> tuple[bytes, float]:
    context = await browser.new_context(accept_downloads=True)
    page = await context.new_page()
    started = time.perf_counter()
    await page.goto(url, timeout=180_000)  # eight sessions at once on two cores: correctness, not latency
    await page.wait_for_selector(READY, timeout=180_000)
    await page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(photo_path))
    await page.get_by_role("button", name="Download label map").wait_for(timeout=180_000)
    elapsed = time.perf_counter() - started
    # The button shows while the run still goes on; a click then can hold a download id that the
    # run replaces (Streamlit drops a session's deferred downloads when its next run starts). A
    # click after the run is safe even while the other sessions run: dashboard/streamlit_fixes.py.
    await page.wait_for_selector(READY, timeout=180_000)
    assert await page.locator('[data-testid="stException"]').count() == 0
    assert await page.locator('[data-testid="stAlertContentError"]').count() == 0
    async with page.expect_download() as info:
        await page.get_by_role("button", name="Download label map").click()
    download = await info.value
    payload = open(await download.path(), "rb").read()
    await page.screenshot(path=str(ARTIFACTS / f"load-session-{index}.png"))
    await context.close()
    return payload, elapsed


def test_simultaneous_sessions_each_get_their_own_mask(streamlit_server, e2e_models, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed")
    from playwright.async_api import async_playwright

    from core.inference.predict import Segmenter

    url, process = streamlit_server
    photos = []
    for index in range(SESSIONS):
        path = tmp_path / f"pet_{index}.jpg"
        synthetic_pet(200 + 17 * index, 150 + 11 * index, seed=100 + index)[0].save(path)
        photos.append(path)
    segmenter = Segmenter(e2e_models / "petseg.keras")
    expected = [segmenter.segment(path).trimap for path in photos]

    async def run() -> list[tuple[bytes, float]]:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                return await asyncio.gather(*(one_session(browser, url, photo, i) for i, photo in enumerate(photos)))
            finally:
                await browser.close()

    started = time.perf_counter()
    # Its own thread: the session's sync Playwright (other browser tests) keeps an event loop in this one.
    with ThreadPoolExecutor(1) as pool:
        results = pool.submit(asyncio.run, run()).result()
    total = time.perf_counter() - started
    for index, (payload, _) in enumerate(results):
        mask = np.asarray(Image.open(io.BytesIO(payload)))
        assert mask.shape == expected[index].shape, f"session {index} got another photo's mask"
        assert np.array_equal(mask, expected[index]), f"session {index} mask differs from a direct prediction"
    slowest = max(elapsed for _, elapsed in results)
    print(
        f"{SESSIONS} sessions: all masks after {total:.1f} s (slowest session {slowest:.1f} s); "
        f"server peak resident memory {peak_memory_mb(process.pid):.0f} MB"
    )
