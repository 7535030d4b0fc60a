"""The API's interactive docs (`/docs`, `/redoc`), served from installed files so that they render offline.

FastAPI's default pages load Swagger UI's and ReDoc's JavaScript and CSS from a CDN: on a machine
without internet they stay blank. Here the files come from the pinned `fastapi-offline` package
(MIT; it ships Swagger UI 5, which reads FastAPI's OpenAPI 3.1, and ReDoc), mounted as static
files, as FastAPI documents for self-hosting them. Only the files are used, not its app factory.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs-assets"


def assets_folder() -> Path:
    import fastapi_offline

    return Path(fastapi_offline.__file__).parent / "static"


def install_docs(app: FastAPI) -> None:
    """`/docs` and `/redoc` from `ASSETS` (create the app with `docs_url=None, redoc_url=None`)."""
    app.mount(ASSETS, StaticFiles(directory=assets_folder()), name="docs-assets")
    title = f"{app.title} API"

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title=title,
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=app.openapi_url,
            title=title,
            redoc_js_url=f"{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS}/favicon.png",
            with_google_fonts=False,
        )
