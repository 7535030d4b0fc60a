"""Screenshots of the dashboard pages for the README (served app, headless Chromium).

.venv/bin/python scripts/screenshots.py --data-dir ../shared/data/oxford-iiit-pet --photo PHOTO [--clip CLIP.mp4]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, serving  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--photo", type=Path, required=True)
    parser.add_argument("--clip", type=Path, default=None, help="a clip for the clip page's screenshot")
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args()
    args.out.mkdir(exist_ok=True)
    with serving({"PETSEG_DATA_DIR": str(args.data_dir)}, "screenshots-streamlit.log") as (url, _):
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            ready = '[data-testid="stApp"][data-test-script-state="notRunning"]'
            page.goto(url)
            page.wait_for_selector(ready, timeout=120_000)
            page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(args.photo))
            page.get_by_role("button", name="Download label map").wait_for(timeout=120_000)
            page.wait_for_selector(ready)
            page.screenshot(path=str(args.out / "segment.png"))
            page.get_by_text("Cut-out", exact=True).click()
            page.get_by_text("edges refined in").wait_for(timeout=120_000)
            page.wait_for_selector(ready)
            for toggle in ("Shadow", "Outline"):  # the sticker look, beside the touch-up surface
                page.get_by_text(toggle, exact=True).click()
                page.wait_for_timeout(500)
                page.wait_for_selector(ready, timeout=120_000)
            page.get_by_text("Touch up: mark a region as pet or background").click()
            page.wait_for_selector(ready)
            page.wait_for_timeout(1500)  # the expander's opening animation
            page.screenshot(path=str(args.out / "cutout-page.png"), full_page=True)
            page.get_by_text("Side by side", exact=True).click()
            page.wait_for_selector(ready)
            page.get_by_role("link", name="Validation gallery").click()
            page.get_by_text("Pixel accuracy").first.wait_for(timeout=300_000)
            page.wait_for_selector(ready)
            page.screenshot(path=str(args.out / "gallery.png"))
            page.get_by_role("link", name="Training history").click()
            page.locator('[data-testid="stPlotlyChart"]').first.wait_for(timeout=120_000)
            page.wait_for_selector(ready)
            page.wait_for_timeout(1500)
            page.screenshot(path=str(args.out / "history.png"))
            phone = browser.new_page(viewport={"width": 390, "height": 844})
            phone.goto(url)
            phone.wait_for_selector(ready, timeout=120_000)
            phone.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(args.photo))
            phone.get_by_text("Pet share").wait_for(timeout=120_000)
            phone.wait_for_selector(ready)
            phone.screenshot(path=str(args.out / "segment-phone.png"))  # the first screen after an upload
            if args.clip is not None:
                page.goto(url)
                page.wait_for_selector(ready, timeout=120_000)
                page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(args.clip))
                page.get_by_role("button", name="Download cut-out video").wait_for(timeout=300_000)
                page.wait_for_selector(ready)
                page.screenshot(path=str(args.out / "clip-page.png"), full_page=True)
            browser.close()
    print(f"screenshots in {args.out}")


if __name__ == "__main__":
    main()
