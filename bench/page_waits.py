"""What a person waits for on the Segment page, in a real browser: a 12 MP photo uploaded, then
its Cut-out view with matting, then with fast edges, each timed from the action to a settled page
(the script finished and every picture loaded), beside the caption's own "edges refined in" figure.

    python -m bench.page_waits [--photo samples/pets/images/american_bulldog_108.jpg]

The served dashboard (`make dashboard`'s app on the shipped model) in headless Chromium, as the
browser tests run it; the photo is a bundled one scaled to 4000x3000 with sensor-like noise.
"""

from __future__ import annotations

import argparse
import io
import re
import tempfile
import time
from pathlib import Path

from bench.cutout import twelve_megapixel
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, serving, wait_for_script

ROOT = Path(__file__).resolve().parents[1]
ALL_IMAGES_LOADED = "() => [...document.querySelectorAll('img')].every(image => image.complete)"


def settled(page, started: float) -> float:
    wait_for_script(page, timeout=300_000)
    page.wait_for_function(ALL_IMAGES_LOADED, timeout=120_000)
    return time.perf_counter() - started


def caption_ms(page) -> str:
    text = page.get_by_text("edges refined in").first.inner_text()
    found = re.search(r"edges refined in (\d+) ms", text)
    return f"{found.group(1)} ms" if found else "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photo", type=Path, default=ROOT / "samples" / "pets" / "images" / "american_bulldog_108.jpg")
    args = parser.parse_args()
    big = twelve_megapixel(args.photo)
    buffer = io.BytesIO()
    big.save(buffer, "JPEG", quality=90)
    with tempfile.TemporaryDirectory() as folder, serving({}, "page-waits-streamlit.log") as (url, _):
        photo = Path(folder) / f"{args.photo.stem}_12mp.jpg"
        photo.write_bytes(buffer.getvalue())
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            wait_for_script(page)
            started = time.perf_counter()
            page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(photo))
            page.get_by_role("button", name="Download label map").wait_for(timeout=300_000)
            size = photo.stat().st_size / 1e6
            print(f"12 MP photo ({size:.1f} MB JPEG) uploaded -> settled: {settled(page, started):.1f} s")
            started = time.perf_counter()
            page.get_by_text("Cut-out", exact=True).click()
            page.get_by_text("edges refined in").wait_for(timeout=300_000)
            print(f"Cut-out, matting -> settled: {settled(page, started):.1f} s (caption: {caption_ms(page)})")
            started = time.perf_counter()
            page.get_by_text("Fast (about 2 s)", exact=True).click()
            page.get_by_text("Cut-out (fast").wait_for(timeout=300_000)
            print(f"Cut-out, fast -> settled: {settled(page, started):.1f} s (caption: {caption_ms(page)})")
            browser.close()


if __name__ == "__main__":
    main()
