"""The FastAPI application: `POST /v1/segment`, `GET /v1/models`, `GET /healthz`, docs at `/docs`.

Every answer to a request PetSeg cannot serve is a 4xx (or a 503 when full) with a JSON body
`{"error": "..."}` in the CLI's words; the model is loaded once, at start-up; decoding, the
model and the rendering run off the event loop; photos that arrive together share a model call.
"""

from __future__ import annotations

import asyncio
import hmac
import io
import json
import logging
import os
import time
from contextlib import asynccontextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from core.config import RuntimeConfig, ServeConfig
from core.errors import PetSegError
from core.inference.effects import OptionError, Outline
from core.inference.outputs import output_makers, output_stems
from core.inference.render import Background, BackgroundError, CutoutOptions
from core.serving.api.batching import Overloaded
from core.serving.api.docs import install_docs
from core.serving.api.limits import BodyLimit, BodyTooLarge, PhotoSlots
from core.serving.api.models import ModelPool, UnknownModel
from core.video.clip import ClipError, ClipTooLarge, looks_like_clip
from core.video.segment_clip import CLIP_FORMATS, ClipRequest, segment_clip_bytes

CONFIG_ENVIRONMENT = "PETSEG_SERVE_CONFIG"
"""The server's `ServeConfig` as JSON, for the worker processes uvicorn starts."""
API_FORMATS = ("mask", "overlay", "cutout", "alpha", "colour")
Format = Literal["mask", "overlay", "cutout", "alpha", "colour"]
Refine = Literal["fast", "matting"]
VideoFormat = Literal["webm", "mov", "gif"]
VIDEO_TYPES = {".webm": "video/webm", ".mov": "video/quicktime", ".mp4": "video/mp4", ".gif": "image/gif"}
PHOTO_FIELD = "file"
MODEL_EXAMPLE = {"name": "petseg", "default": True, "preset": "lean", "mean_iou": 0.7525, "pet_iou": 0.8762}
log = logging.getLogger("petseg.api")


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    """A parameter error in the CLI's words: `invalid format 'x' (choose from mask, overlay, ...)`."""
    parts = []
    for problem in exc.errors():
        name = str(problem.get("loc", ["", "request"])[-1])
        expected = (problem.get("ctx") or {}).get("expected")
        given = problem.get("input")
        if expected:
            parts.append(f"invalid {name} {given!r} (choose from {expected.replace(' or ', ', ')})")
        else:
            parts.append(f"invalid {name} {given!r}: {problem.get('msg', 'not accepted')}")
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI, config: ServeConfig) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_parameter(request: Request, exc: RequestValidationError):
        return error(422, _validation_message(exc))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        return error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(BodyTooLarge)
    async def too_large(request: Request, exc: BodyTooLarge):
        return error(413, str(exc))

    @app.exception_handler(Overloaded)
    async def overloaded(request: Request, exc: Overloaded):
        return error(503, str(exc), {"Retry-After": str(config.retry_after_seconds)})

    @app.exception_handler(ClipTooLarge)
    async def clip_too_large(request: Request, exc: ClipTooLarge):
        return error(413, str(exc))

    @app.exception_handler(ClipError)
    async def unreadable_clip(request: Request, exc: ClipError):
        return error(422, str(exc))

    @app.exception_handler(UnknownModel)
    @app.exception_handler(BackgroundError)
    @app.exception_handler(OptionError)
    async def unknown_value(request: Request, exc: PetSegError):
        return error(422, str(exc))

    @app.exception_handler(PetSegError)
    async def bad_input(request: Request, exc: PetSegError):  # a photo that is not one, a bad background
        return error(400, str(exc))

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception):
        log.exception("unexpected error on %s", request.url.path)
        return error(500, "internal error: the server's log has the details")


def api_key_check(key: str | None):
    """A dependency that refuses /v1 requests without the key (constant-time comparison)."""

    async def check(request: Request) -> None:
        if key is None:
            return
        given = request.headers.get("x-api-key") or request.headers.get("authorization", "").removeprefix("Bearer ")
        if not hmac.compare_digest(given.strip().encode(), key.encode()):
            raise HTTPException(401, "missing or wrong API key: send it as 'Authorization: Bearer KEY' or 'X-API-Key'")

    return check


async def read_photo(request: Request, limit: int) -> tuple[str, bytes]:
    """The photo's file name and bytes: multipart field `file`, or the whole body."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=4, max_part_size=limit)
        upload = form.get(PHOTO_FIELD)
        if upload is None or isinstance(upload, str):
            raise HTTPException(400, f"no photo in the form: send it in the multipart field '{PHOTO_FIELD}'")
        return upload.filename or "photo", await upload.read()
    body = await request.body()
    name = request.query_params.get("name") or "photo"
    return name, body


SEGMENT_BODY = {
    "requestBody": {
        "required": True,
        "description": f"The photo: a multipart upload (field `{PHOTO_FIELD}`) or the raw file as the body.",
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {PHOTO_FIELD: {"type": "string", "format": "binary"}},
                    "required": [PHOTO_FIELD],
                }
            },
            "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
            "image/png": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}
SEGMENT_RESPONSES = {
    200: {
        "description": "The PNG (or, with `Accept: application/json`, the figures). Headers: "
        "`X-PetSeg-Found-Pet`, `X-PetSeg-Pet-Share`, `X-PetSeg-Seconds`, `X-PetSeg-Model`.",
        "content": {
            "image/png": {},
            "application/json": {
                "example": {
                    "file_name": "cat_cutout.png",
                    "found_pet": True,
                    "pet_share": 0.4213,
                    "width": 640,
                    "height": 480,
                    "model": "petseg",
                    "seconds": 0.21,
                }
            },
        },
    },
    400: {
        "description": "Not an image (or one too large in pixels)",
        "content": {"application/json": {"example": {"error": "notes.jpg: not an image (unrecognised format)"}}},
    },
    401: {"description": "API key missing or wrong"},
    413: {"description": "Body over the size limit, or a clip over a limit (60 s, 1,800 frames, 4K)"},
    422: {"description": "Unknown parameter value, background or model; a clip that cannot be read"},
    503: {"description": "Full: retry after `Retry-After` seconds"},
}


HEALTH_EXAMPLE = {"status": "ok", "model": "petseg", "runtime": "openvino", "precision": "int8"}


def create_app(config: ServeConfig) -> FastAPI:
    pool = ModelPool(
        config.model,
        config.max_batch,
        config.batch_window_ms / 1000,
        RuntimeConfig(config.runtime, precision=config.precision),
    )
    slots = PhotoSlots(config.max_photos)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await pool.get(None, tta=False)  # loaded and warmed before the first request is accepted
        yield
        await pool.close()

    app = FastAPI(
        title="PetSeg",
        summary="Cat and dog segmentation: masks and cut-outs at the photo's own size.",
        version="1",
        lifespan=lifespan,
        docs_url=None,  # install_docs serves /docs from installed files (offline)
        redoc_url=None,
    )
    install_docs(app)
    app.add_middleware(BodyLimit, limit=config.max_body_bytes)
    install_error_handlers(app, config)
    authorised = [Depends(api_key_check(config.api_key))]

    @app.get(
        "/healthz",
        summary="Ready once the default model is loaded (a readiness probe)",
        responses={200: {"content": {"application/json": {"example": HEALTH_EXAMPLE}}}},
    )
    async def healthz() -> dict:
        served = await pool.get(None, tta=False)
        network = served.segmenter.network
        return {"status": "ok", "model": pool.default.label, "runtime": network.runtime, "precision": network.precision}

    @app.get(
        "/v1/models",
        dependencies=authorised,
        summary="The models this server offers, with their validation scores",
        responses={200: {"content": {"application/json": {"example": [MODEL_EXAMPLE]}}}},
    )
    async def models() -> list[dict]:
        out = []
        for name, entry in pool.entries.items():
            metrics = entry.metrics() or {}
            record = entry.run_record() or {}
            out.append(
                {
                    "name": name,
                    "default": name == pool.default.label,
                    "preset": (record.get("config") or {}).get("preset"),
                    **{key: metrics.get(key) for key in ("mean_iou", "pet_iou", "dice", "pixel_accuracy")},
                }
            )
        return out

    @app.post(
        "/v1/segment",
        dependencies=authorised,
        summary="Segment one photo: a mask, overlay, cut-out or matte PNG at the photo's size",
        openapi_extra=SEGMENT_BODY,
        responses=SEGMENT_RESPONSES,
        response_class=Response,
    )
    async def segment(
        request: Request,
        format: Annotated[Format, Query(description="What to answer: the CLI's --format of one file")] = "cutout",
        refine: Annotated[
            Refine | None,
            Query(description="Cut-out and alpha edges: fast or matting (default: matting; fast for clips)"),
        ] = None,
        video_format: Annotated[
            VideoFormat, Query(description="A clip's transparent cut-out: webm (VP9 alpha), mov (ProRes 4444) or gif")
        ] = "webm",
        background: Annotated[str, Query(description="transparent, blur or #RRGGBB")] = "transparent",
        crop: Annotated[bool, Query(description="Crop the cut-out to the pet")] = False,
        shadow: Annotated[bool, Query(description="A soft drop shadow under the cut-out pet")] = False,
        outline: Annotated[
            str | None, Query(description="A sticker outline around the cut-out pet: WIDTHpx[,#RRGGBB], e.g. 12px")
        ] = None,
        cleanup: Annotated[bool, Query(description="Drop pet regions under a tenth of the largest")] = False,
        tta: Annotated[bool, Query(description="Average with the mirrored photo: better, 2x compute")] = False,
        whole_photo_only: Annotated[
            bool, Query(description="No square crops of a wide photo: faster on small photos, more pets missed")
        ] = False,
        model: Annotated[str | None, Query(description="A model of GET /v1/models; default: the server's")] = None,
    ) -> Response:
        started = time.perf_counter()
        stroke = Outline.parse(outline) if outline else None
        backdrop = Background.parse(background, files=False)
        options = CutoutOptions(refine or "matting", backdrop, crop, shadow, stroke)
        served = await pool.get(model, tta, whole_photo_only)
        name, data = await read_photo(request, config.max_body_bytes)
        if not data:
            raise HTTPException(400, f"no photo: send it as the body or in the multipart field '{PHOTO_FIELD}'")
        if await request.is_disconnected():  # the client left while uploading: nothing to decode or segment
            return Response(status_code=499)
        if looks_like_clip(data[:16]):
            clip_options = CutoutOptions(refine or "fast", backdrop, False, shadow, stroke)
            return await answer_clip(served, name, data, format, clip_options, video_format, cleanup, started)
        async with slots.hold():
            upload = io.BytesIO(data)
            upload.name = name  # errors name the file: "cat.jpg: not an image"
            photo, model_input = await asyncio.to_thread(served.segmenter.decode_for_model, upload)
            view_probabilities = await served.batcher.predict(model_input)
            result = served.segmenter.segmentation(photo, view_probabilities, cleanup, started)
            ((file_name, make),) = output_makers(output_stems([name])[0], result, 0.5, (format,), options).items()
            wants_json = "application/json" in request.headers.get("accept", "")
            payload = None if wants_json else await asyncio.to_thread(make)
            share = await asyncio.to_thread(lambda: result.pet_fraction if result.found_pet else 0.0)
        figures = {
            "file_name": file_name,
            "found_pet": result.found_pet,
            "pet_share": round(share, 4),
            "width": photo.size[0],
            "height": photo.size[1],
            "model": served.entry.label,
            "seconds": round(time.perf_counter() - started, 4),
        }
        if wants_json:
            return JSONResponse(figures)
        headers = {
            "Content-Disposition": f'inline; filename="{file_name}"',
            "X-PetSeg-Found-Pet": str(result.found_pet).lower(),
            "X-PetSeg-Pet-Share": f"{share:.4f}",
            "X-PetSeg-Seconds": f"{figures['seconds']:.4f}",
            "X-PetSeg-Model": served.entry.label,
        }
        return Response(payload, media_type="image/png", headers=headers)

    async def answer_clip(served, name, data, format, options, video_format, cleanup, started) -> Response:
        """A clip posted to /v1/segment: the CLI's video for one format. One clip at a time per
        process (503 beyond it); still photos are answered meanwhile, between the clip's batches."""
        if format not in CLIP_FORMATS:
            raise HTTPException(422, f"a clip is answered as {', '.join(CLIP_FORMATS)}, not {format!r}")
        if clip_slot.locked():
            raise Overloaded("busy with another clip: one clip at a time; photos are still answered")
        async with clip_slot:
            request = ClipRequest((format,), options, video_format, cleanup=cleanup)
            summary, videos = await asyncio.to_thread(segment_clip_bytes, served.segmenter, data, name, request)
        file_name = summary.outputs[format].name
        headers = {
            "Content-Disposition": f'inline; filename="{file_name}"',
            "X-PetSeg-Frames": str(summary.frames),
            "X-PetSeg-Seconds": f"{time.perf_counter() - started:.4f}",
            "X-PetSeg-Model": served.entry.label,
        }
        return Response(videos[format], media_type=VIDEO_TYPES[summary.outputs[format].suffix], headers=headers)

    clip_slot = asyncio.Lock()
    app.state.pool, app.state.slots = pool, slots
    return app


def app_from_environment() -> FastAPI:
    """The factory uvicorn calls in each worker process (`core.serving.api.server` sets the variable)."""
    values = json.loads(os.environ[CONFIG_ENVIRONMENT])
    return create_app(ServeConfig(**{**values, "model": Path(values["model"])}))


def config_to_environment(config: ServeConfig) -> str:
    return json.dumps({**asdict(config), "model": str(config.model)})
