"""The HTTP API against a real server on 127.0.0.1: endpoints, parameters, the same PNGs as
`python -m core predict`, bad input as 4xx JSON, body and photo limits, the API key."""

from __future__ import annotations

import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from core.cli import main
from core.inference.runtime import int8_keeps_quality
from tests.api_server import api_server
from tests.helpers import ODD_INPUT_NAMES, odd_inputs

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "samples" / "pets" / "images" / "Abyssinian_1.jpg"  # 256x171, one of the native-aspect photos


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with api_server(log=tmp_path_factory.mktemp("api") / "server.log") as running:
        yield running


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    """With an API key (from the environment, as in a Deployment) and room for one photo at a time."""
    options = ("--max-photos", "1", "--batch-window-ms", "300")
    with api_server(*options, env={"PETSEG_API_KEY": "s3cret-key"}) as running:
        yield running


def test_health_and_the_models_with_their_scores(server):
    health = server.request("GET", "/healthz").json()
    precision = "int8" if int8_keeps_quality() else "f32"  # auto: int8 where this CPU keeps its masks
    assert health == {"status": "ok", "model": "petseg", "runtime": "openvino", "precision": precision}
    models = {entry["name"]: entry for entry in server.request("GET", "/v1/models").json()}
    for name, entry in models.items():
        metrics = json.loads((ROOT / "models" / f"{name}.metrics.json").read_text())
        assert entry["mean_iou"] == metrics["mean_iou"] and entry["pet_iou"] == metrics["pet_iou"]
    assert models["petseg"]["default"] and sum(entry["default"] for entry in models.values()) == 1
    assert set(models) == {path.stem for path in (ROOT / "models").glob("*.keras")}


CLI_CASES = [
    ("mask", {}, []),
    ("colour", {"cleanup": "true"}, ["--cleanup"]),
    ("overlay", {}, []),
    ("alpha", {"refine": "fast"}, ["--refine", "fast"]),
    ("cutout", {"background": "#00ff00", "crop": "true"}, ["--background", "#00ff00", "--crop"]),
    ("cutout", {"tta": "true", "background": "blur"}, ["--tta", "--background", "blur"]),
    ("mask", {"model": "petseg-lean"}, ["--model", str(ROOT / "models" / "petseg-lean.keras")]),
    ("mask", {"whole_photo_only": "true"}, ["--whole-photo-only"]),
    ("cutout", {"refine": "fast", "shadow": "true", "outline": "6px,#ff8800", "crop": "true"},
     ["--refine", "fast", "--shadow", "--outline", "6px,#ff8800", "--crop"]),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "query", "flags"), CLI_CASES)
def test_the_png_is_byte_for_byte_what_predict_writes(server, tmp_path, kind, query, flags):
    from urllib.parse import urlencode

    answer = server.post_multipart(PHOTO.name, PHOTO.read_bytes(), "?" + urlencode({"format": kind, **query}))
    assert answer.status == 200, answer.body[:300]
    assert answer.headers["content-type"] == "image/png"
    file_name = f"{PHOTO.stem}_{'mask_colour' if kind == 'colour' else kind}.png"
    assert answer.headers["content-disposition"] == f'inline; filename="{file_name}"'
    assert main(["predict", str(PHOTO), "--out", str(tmp_path), "--format", kind, *flags]) == 0
    assert answer.body == (tmp_path / file_name).read_bytes()


def test_raw_body_and_multipart_answer_alike_with_the_figures(server):
    photo = PHOTO.read_bytes()
    raw = server.post_photo(photo, "?format=mask&name=garden.jpg")
    form = server.post_multipart("garden.jpg", photo, "?format=mask")
    assert raw.status == form.status == 200 and raw.body == form.body
    assert raw.headers["content-disposition"] == 'inline; filename="garden_mask.png"'
    assert raw.headers["x-petseg-found-pet"] == "true" and raw.headers["x-petseg-model"] == "petseg"
    assert 0.05 < float(raw.headers["x-petseg-pet-share"]) < 0.6 and float(raw.headers["x-petseg-seconds"]) > 0
    figures = server.post_photo(photo, "?format=mask", {"Accept": "application/json"}).json()
    assert figures["found_pet"] is True and (figures["width"], figures["height"]) == (256, 171)
    assert figures["pet_share"] == pytest.approx(float(raw.headers["x-petseg-pet-share"]), abs=1e-4)


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("?format=npy", "invalid format 'npy' (choose from 'mask', 'overlay', 'cutout', 'alpha', 'colour')"),
        ("?refine=best", "invalid refine 'best' (choose from 'fast', 'matting')"),
        ("?tta=sometimes", "invalid tta 'sometimes'"),
        ("?background=%23abc", "a colour is written #RRGGBB"),
        ("?background=/etc/hostname", "use transparent, blur or a colour #RRGGBB"),
        ("?model=huge", "unknown model 'huge'; choose from petseg"),
        ("?outline=thick", "write WIDTHpx or WIDTHpx,#RRGGBB"),
        ("?outline=900px", "use 1 to 200 px"),
    ],
)
def test_unknown_parameter_values_are_422_with_the_reason(server, query, words):
    answer = server.post_photo(PHOTO.read_bytes(), query)
    assert answer.status == 422 and answer.headers["content-type"] == "application/json"
    assert words in answer.json()["error"]


def test_every_input_of_the_bad_input_matrix_is_answered(server, tmp_path):
    """Refused files are a 4xx naming the file; the rest are PNGs of the photo's displayed size."""
    from PIL import Image

    for name in ODD_INPUT_NAMES:
        path, size = odd_inputs(tmp_path)[name]
        if not path.is_file():
            continue  # a missing file or a folder cannot be sent
        answer = server.post_multipart(name, path.read_bytes(), "?format=mask")
        if size is None:
            assert 400 <= answer.status < 500, (name, answer.status)
            assert answer.headers["content-type"] == "application/json" and "Traceback" not in answer.body.decode()
            assert name in answer.json()["error"] or "no photo" in answer.json()["error"], answer.json()
        else:
            assert answer.status == 200, (name, answer.body[:200])
            with Image.open(__import__("io").BytesIO(answer.body)) as mask:
                assert mask.size == size, name


def read_until_closed(sock: socket.socket) -> str:
    """Everything the server sends before it closes the connection (it answers 413 with `connection: close`)."""
    parts = []
    while part := sock.recv(65536):
        parts.append(part)
    return b"".join(parts).decode("latin-1")


def test_an_oversize_body_is_refused_before_it_is_sent(server):
    """Only the headers go out (Content-Length 200 MB): the 413 comes back at once."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/segment HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\n"
            b"Content-Length: 209715200\r\n\r\n" + bytes(1000)
        )
        started = time.monotonic()
        reply = read_until_closed(sock)  # the headers and the body may come in separate segments
    assert reply.startswith("HTTP/1.1 413") and time.monotonic() - started < 5
    assert "larger than 25 MB" in reply


def test_a_chunked_body_is_cut_off_at_the_limit():
    """No Content-Length (chunked): the app reads up to the limit and no further, then answers 413.
    Driven through ASGI directly, where the chunks read can be counted."""
    import asyncio

    from core.config import ServeConfig
    from core.serving.api.app import create_app

    app = create_app(ServeConfig(max_body_bytes=3 * 2**20))
    chunks_read, sent = 0, []

    async def receive():
        nonlocal chunks_read
        chunks_read += 1
        return {"type": "http.request", "body": bytes(2**20), "more_body": chunks_read < 100}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/v1/segment", "raw_path": b"/v1/segment", "query_string": b"format=mask", "root_path": "",
        "headers": [(b"content-type", b"image/jpeg"), (b"transfer-encoding", b"chunked")],
        "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000),
    }  # fmt: skip
    with ThreadPoolExecutor(1) as thread:  # its own event loop: Playwright's sync API may hold this thread's
        thread.submit(asyncio.run, app(scope, receive, send)).result()
    assert sent[0]["status"] == 413 and chunks_read == 4  # 3 MB allowed: the 4th chunk crosses the limit
    assert "larger than 3 MB" in json.loads(sent[1]["body"])["error"]


def test_the_api_key_is_required_when_set(guarded):
    photo = PHOTO.read_bytes()
    assert guarded.request("GET", "/healthz").status == 200  # the readiness probe needs no key
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"X-API-Key": "s3cret-ke"}):
        answer = guarded.post_photo(photo, "?format=mask", headers)
        assert answer.status == 401 and "API key" in answer.json()["error"]
    assert guarded.request("GET", "/v1/models").status == 401
    assert guarded.post_photo(photo, "?format=mask", {"Authorization": "Bearer s3cret-key"}).status == 200
    assert guarded.request("GET", "/v1/models", headers={"X-API-Key": "s3cret-key"}).status == 200


def test_a_full_server_answers_503_with_retry_after_not_a_timeout(guarded):
    """Room for one photo, held at least 300 ms (the batching window): of 6 sent at once, the first
    is segmented and the others are told to come back, at once."""
    photo, key = PHOTO.read_bytes(), {"X-API-Key": "s3cret-key"}
    with ThreadPoolExecutor(6) as pool:
        started = time.monotonic()
        answers = list(pool.map(lambda _: guarded.post_photo(photo, "?format=mask", key), range(6)))
    statuses = sorted(answer.status for answer in answers)
    assert statuses.count(200) >= 1 and statuses.count(503) >= 3, statuses
    assert set(statuses) <= {200, 503}
    refused = [answer for answer in answers if answer.status == 503]
    assert all(answer.headers["retry-after"] == "1" and "retry" in answer.json()["error"] for answer in refused)
    assert time.monotonic() - started < 30


def test_the_openapi_docs_describe_every_endpoint_with_an_example(server):
    spec = server.request("GET", "/openapi.json").json()
    assert set(spec["paths"]) == {"/healthz", "/v1/models", "/v1/segment"}
    for path, method in (("/healthz", "get"), ("/v1/models", "get"), ("/v1/segment", "post")):
        answer = spec["paths"][path][method]["responses"]["200"]["content"]["application/json"]
        assert "example" in answer, path
    segment = spec["paths"]["/v1/segment"]["post"]
    assert {"multipart/form-data", "image/jpeg"} <= set(segment["requestBody"]["content"])
    formats = next(p for p in segment["parameters"] if p["name"] == "format")["schema"]["enum"]
    assert formats == ["mask", "overlay", "cutout", "alpha", "colour"]
    assert server.request("GET", "/docs").status == 200


def test_several_worker_processes_serve_alike():
    with api_server("--workers", "2") as served:
        answers = [served.post_photo(PHOTO.read_bytes(), "?format=mask") for _ in range(4)]
    assert {answer.status for answer in answers} == {200} and len({answer.body for answer in answers}) == 1


def test_serve_without_a_model_file_is_one_error_line(tmp_path, capsys):
    assert main(["serve", "--model", str(tmp_path / "gone.keras")]) == 2
    assert capsys.readouterr().err.startswith(f"error: model file {tmp_path / 'gone.keras'} not found")


def test_a_slow_client_holds_no_photo_slot(guarded):
    """Room for one photo: a client stuck halfway through its upload does not take it from others."""
    photo, key = PHOTO.read_bytes(), {"X-API-Key": "s3cret-key"}
    with socket.create_connection(("127.0.0.1", guarded.port), timeout=10) as slow:
        slow.sendall(
            b"POST /v1/segment?format=mask HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: s3cret-key\r\n"
            + f"Content-Type: image/jpeg\r\nContent-Length: {len(photo)}\r\n\r\n".encode()
            + photo[: len(photo) // 2]
        )
        time.sleep(0.5)
        assert guarded.post_photo(photo, "?format=mask", key).status == 200


def test_the_readme_python_example_retries_a_full_server_until_every_photo_is_answered(guarded, tmp_path, monkeypatch):
    """The README's example, as printed (only the address, key and photo put in), run by 8 clients at
    once against a server that holds one photo at a time: the 503s are retried, nothing is lost."""
    import re
    from concurrent.futures import ThreadPoolExecutor

    import requests

    readme = (ROOT / "README.md").read_text()
    (example,) = [block for block in re.findall(r"```python\n(.*?)```", readme, re.S) if "def segment(" in block]
    example = example.replace("http://127.0.0.1:8000", f"http://127.0.0.1:{guarded.port}").replace("KEY", "s3cret-key")
    statuses: list[int] = []
    post = requests.post

    def counted_post(*args, **kwargs):
        answer = post(*args, **kwargs)
        statuses.append(answer.status_code)
        return answer

    monkeypatch.setattr(requests, "post", counted_post)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cat.jpg").write_bytes(PHOTO.read_bytes())

    def client(index: int) -> bytes:
        namespace: dict = {}
        exec(compile(example.replace("cat_alpha.png", f"cat_alpha_{index}.png"), "README.md", "exec"), namespace)
        return (tmp_path / f"cat_alpha_{index}.png").read_bytes()

    with ThreadPoolExecutor(8) as pool:
        alphas = list(pool.map(client, range(8)))
    assert len(set(alphas)) == 1 and alphas[0].startswith(b"\x89PNG")  # every client got the same matte
    assert 503 in statuses and statuses.count(200) == 8, statuses  # refused at first, answered in the end


def clip_file(folder: Path, frames: int, size=(192, 128), fps: int = 15) -> Path:
    from bench.clips import synthetic_frames, write_mp4
    from core.data.imaging import load_trimap

    stem = "Abyssinian_1"
    photo = ROOT / "samples" / "pets" / "images" / f"{stem}.jpg"
    trimap = load_trimap(ROOT / "samples" / "pets" / "annotations" / "trimaps" / f"{stem}.png")
    from PIL import Image

    made = [frame for frame, _ in synthetic_frames(Image.open(photo), trimap, "pan", frames, size)]
    return write_mp4(folder / f"pan{frames}.mp4", made, fps)


def video_frames(data: bytes) -> list:
    import io

    import av

    with av.open(io.BytesIO(data)) as container:
        decoder = av.CodecContext.create("libvpx-vp9", "r")
        return [
            frame.to_ndarray(format="rgba")
            for packet in container.demux(container.streams.video[0])
            for frame in decoder.decode(packet)
        ]


def test_a_clip_is_answered_with_the_clis_video(server, tmp_path):
    import numpy as np

    clip = clip_file(tmp_path, 6)
    answer = server.post_multipart(clip.name, clip.read_bytes(), "?format=cutout")
    assert answer.status == 200, answer.body[:300]
    assert answer.headers["content-type"] == "video/webm" and answer.headers["x-petseg-frames"] == "6"
    assert answer.headers["content-disposition"] == 'inline; filename="pan6_cutout.webm"'
    assert main(["predict", str(clip), "--out", str(tmp_path / "cli"), "--format", "cutout"]) == 0
    ours, theirs = video_frames(answer.body), video_frames((tmp_path / "cli" / "pan6_cutout.webm").read_bytes())
    assert len(ours) == len(theirs) == 6
    assert all(np.abs(a.astype(int) - b.astype(int)).max() <= 2 for a, b in zip(ours, theirs))


@pytest.mark.parametrize(
    ("case", "status", "words"),
    [
        ("long", 413, "is over the 60 s limit; cut it: ffmpeg -i long.mp4 -t 60"),
        ("broken", 422, "broken.mov: not a video PetSeg can read"),
        ("mask", 422, "a clip is answered as cutout, alpha, overlay, colour, not 'mask'"),
    ],
)
def test_a_clip_over_a_limit_unreadable_or_asked_as_a_mask_is_refused(server, tmp_path, case, status, words):
    if case == "long":
        from PIL import Image

        from bench.clips import write_mp4

        clip = write_mp4(tmp_path / "long.mp4", [Image.new("RGB", (32, 32), (i, 0, 0)) for i in range(62)], fps=1)
    elif case == "broken":
        clip = tmp_path / "broken.mov"
        clip.write_bytes(b"\x00\x00\x00\x18ftypqt  " + bytes(200))
    else:
        clip = clip_file(tmp_path, 2)
    query = "?format=mask" if case == "mask" else ""
    answer = server.post_multipart(clip.name, clip.read_bytes(), query)
    assert answer.status == status and words in answer.json()["error"]


def test_one_clip_at_a_time_while_photos_are_still_answered(server, tmp_path):
    long_clip, short_clip = clip_file(tmp_path, 150, (256, 192)), clip_file(tmp_path, 2)
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(server.post_multipart, long_clip.name, long_clip.read_bytes(), "?format=alpha")
        time.sleep(1.0)  # the long clip is uploaded in milliseconds and then takes seconds
        busy = server.post_multipart(short_clip.name, short_clip.read_bytes(), "")
        photo = server.post_photo(PHOTO.read_bytes(), "?format=mask")
        still_running = not running.done()
        finished = running.result(timeout=300)
    assert still_running, "the long clip finished too soon for this test to mean anything"
    assert busy.status == 503 and "one clip at a time" in busy.json()["error"] and busy.headers["retry-after"] == "1"
    assert photo.status == 200  # a photo answered while the clip runs
    assert finished.status == 200 and finished.headers["content-type"] == "video/mp4"
    assert finished.headers["x-petseg-frames"] == "150"
