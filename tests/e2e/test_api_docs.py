"""The API's /docs and /redoc pages in headless Chromium with every request beyond 127.0.0.1 refused (offline)."""

from urllib.parse import urlparse

import pytest

from tests.api_server import api_server
from tests.e2e.conftest import ARTIFACTS

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_the_docs_render_every_endpoint_offline(browser, tmp_path):
    refused: list[str] = []

    def only_loopback(route):
        if urlparse(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    with api_server(log=tmp_path / "server.log") as server:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.route("**/*", only_loopback)
        page.goto(f"http://127.0.0.1:{server.port}/docs")
        page.wait_for_selector(".opblock-summary-path", timeout=60_000)
        paths = {element.inner_text().strip() for element in page.query_selector_all(".opblock-summary-path")}
        page.get_by_text("/v1/segment").first.click()  # an endpoint opens with its parameters
        page.wait_for_selector(".parameters-container", timeout=10_000)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "api_docs_offline.png"))
        page.close()
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.route("**/*", only_loopback)
        page.goto(f"http://127.0.0.1:{server.port}/redoc")
        page.get_by_text("Segment one photo").first.wait_for(timeout=60_000)  # ReDoc's menu lists the endpoints
        page.close()
    # Nothing the pages need comes from a CDN; ReDoc's "powered by" footer asks for its logo, which is
    # cosmetic (the page renders without it).
    assert [url for url in refused if not url.endswith("/redoc/logo-mini.svg")] == [], refused
    assert {"/healthz", "/v1/models", "/v1/segment"} <= {path.replace("\u200b", "") for path in paths}
