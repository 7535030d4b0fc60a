"""Video clips: real containers in and out (PyAV), limits, damaged files, steadying, rotation.

Clips are made here from a bundled photo and its trimap (`bench.clips`): a pan, a still shot with
sensor noise, a walking pet, so every frame's true mask is known."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.clips import synthetic_frames, write_mp4
from core.config import ClipLimits, SteadyConfig
from core.data.imaging import load_trimap
from core.video.clip import ClipError, ClipTooLarge, check_limits, looks_like_clip, probe, read_frames
from core.video.segment_clip import ClipRequest, segment_clip

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "pets"
LEAN = Path(__file__).resolve().parents[1] / "models" / "petseg-lean.keras"
SIZE = (192, 128)


def sample(stem: str = "Abyssinian_1") -> tuple[Image.Image, np.ndarray]:
    photo = Image.open(SAMPLES / "images" / f"{stem}.jpg").convert("RGB")
    return photo, load_trimap(SAMPLES / "annotations" / "trimaps" / f"{stem}.png")


def make_clip(tmp_path: Path, motion: str, frames: int = 10, tone: bool = False, name: str | None = None):
    photo, trimap = sample()
    pairs = list(synthetic_frames(photo, trimap, motion, frames, SIZE))
    path = write_mp4(tmp_path / (name or f"{motion}.mp4"), [frame for frame, _ in pairs], 15, 440.0 if tone else None)
    return path, [truth for _, truth in pairs]


@pytest.fixture(scope="module")
def lean():
    from core.inference.predict import Segmenter

    return Segmenter(LEAN)


def decoded_alphas(path: Path) -> list[np.ndarray]:
    """Every frame's alpha plane, read with libvpx's decoder (FFmpeg's own `vp9` drops alpha)."""
    import av

    alphas = []
    with av.open(str(path)) as container:
        decoder = av.CodecContext.create("libvpx-vp9", "r")
        for packet in container.demux(container.streams.video[0]):
            alphas.extend(frame.to_ndarray(format="rgba")[..., 3] for frame in decoder.decode(packet))
    return alphas


def test_an_mp4_becomes_a_transparent_webm_with_the_pet_opaque_and_its_audio_kept(tmp_path, lean):
    clip, truths = make_clip(tmp_path, "pan", tone=True)
    done = []
    summary = segment_clip(
        lean,
        clip,
        tmp_path / "out",
        "pan",
        ClipRequest(("cutout", "alpha", "overlay")),
        progress=lambda d, t: done.append((d, t)),
    )
    assert summary.frames == 10 and done[-1] == (10, 10)
    assert {path.name for path in summary.outputs.values()} == {"pan_cutout.webm", "pan_alpha.mp4", "pan_overlay.mp4"}
    alphas = decoded_alphas(summary.outputs["cutout"])
    assert len(alphas) == 10 and alphas[0].shape == (SIZE[1], SIZE[0])
    for alpha, truth in zip(alphas, truths):
        assert (alpha[truth == 1] > 128).mean() > 0.9 and (alpha[truth == 2] > 128).mean() < 0.1
    import av

    with av.open(str(summary.outputs["cutout"])) as container:
        assert container.streams.audio[0].codec_context.name == "opus"
        assert container.streams.video[0].codec_context.name in ("vp9", "libvpx-vp9")
    with av.open(str(summary.outputs["alpha"])) as container:
        assert container.streams.audio[0].codec_context.name == "aac"
        grey = next(container.decode(video=0)).to_ndarray(format="rgb24")
        assert grey.shape == (SIZE[1], SIZE[0], 3) and (grey[truths[0] == 1] > 128).mean() > 0.9


@pytest.mark.parametrize("kind", ["mov", "gif"])
def test_prores_and_gif_cutouts_are_transparent_where_there_is_no_pet(tmp_path, lean, kind):
    clip, truths = make_clip(tmp_path, "still", frames=6)
    summary = segment_clip(lean, clip, tmp_path, "still", ClipRequest(video_format=kind))
    path = summary.outputs["cutout"]
    assert path.name == f"still_cutout.{kind}"
    if kind == "gif":
        with Image.open(path) as gif:
            assert gif.n_frames >= 1 and gif.info.get("loop") == 0
            alpha = np.asarray(gif.convert("RGBA"))[..., 3]
    else:
        import av

        with av.open(str(path)) as container:
            frame = next(container.decode(video=0))
            assert frame.format.name.startswith("yuva444p")  # ProRes 4444 with its alpha
            alpha = frame.to_ndarray(format="rgba")[..., 3]
    truth = np.asarray(Image.fromarray(truths[0]).resize((alpha.shape[1], alpha.shape[0]), Image.NEAREST))
    assert (alpha[truth == 2] < 128).mean() > 0.9 and (alpha[truth == 1] >= 128).mean() > 0.8


def test_a_clip_with_no_pet_gives_an_empty_cutout(tmp_path, lean):
    sky = [Image.new("RGB", SIZE, (90 + i, 150, 220)) for i in range(5)]
    clip = write_mp4(tmp_path / "sky.mp4", sky)
    summary = segment_clip(lean, clip, tmp_path, "sky", ClipRequest())
    assert summary.frames == 5 and all(alpha.max() < 128 for alpha in decoded_alphas(summary.outputs["cutout"]))


def test_a_damaged_clip_or_a_non_video_is_one_clear_error_and_writes_nothing(tmp_path, lean):
    clip, _ = make_clip(tmp_path, "still", frames=4)
    (tmp_path / "notes.mp4").write_bytes(b"this is not a video at all" * 10)
    with pytest.raises(ClipError, match="notes.mp4: not a video PetSeg can read"):
        segment_clip(lean, tmp_path / "notes.mp4", tmp_path / "out", "notes")
    (tmp_path / "cut.mp4").write_bytes(clip.read_bytes()[:200])
    with pytest.raises(ClipError, match="cut.mp4"):
        segment_clip(lean, tmp_path / "cut.mp4", tmp_path / "out", "cut")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize(
    ("limits", "words"),
    [
        (ClipLimits(max_seconds=0.5), "is over the 0.5 s limit; cut it: ffmpeg -i still.mp4 -t 0.5"),
        (ClipLimits(max_frames=5), "10 frames is over the 5 frame limit"),
        (ClipLimits(max_long_side=160), "192x128 is over the 4K limit (160x2160); scale it down"),
    ],
)
def test_a_clip_over_a_limit_is_refused_before_decoding(tmp_path, limits, words):
    clip, _ = make_clip(tmp_path, "still")
    info = probe(clip)
    assert (info.width, info.height, info.frames, info.fps) == (192, 128, 10, Fraction(15))
    with pytest.raises(ClipTooLarge) as raised:
        check_limits(info, limits)
    assert words in str(raised.value)


def test_the_display_rotation_of_a_phone_clip_is_applied(tmp_path):
    import av

    path = tmp_path / "portrait.mp4"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 32, "yuv420p"
        stream.set_display_rotation(90)
        picture = np.zeros((32, 64, 3), np.uint8)
        picture[:, :32] = 255  # the stored frame's left half is white
        for index in range(3):
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    info = probe(path)
    assert (info.width, info.height, info.rotation) == (32, 64, 90)
    first = np.asarray(next(read_frames(path)))
    assert first.shape == (64, 32, 3) and first[60, 16].mean() > 200 and first[4, 16].mean() < 50


def test_steadying_cuts_flicker_on_a_still_clip_and_keeps_up_with_a_walking_pet(tmp_path, lean):
    from bench.video import clip_scores

    still, still_truths = make_clip(tmp_path, "still", frames=10)
    walk, walk_truths = make_clip(tmp_path, "walk", frames=10)
    steady, plain = SteadyConfig(), SteadyConfig(enabled=False)
    flicker = {config.enabled: clip_scores(lean, still, still_truths, config)["flicker"] for config in (steady, plain)}
    assert flicker[True] < 0.7 * flicker[False], flicker
    walked = {config.enabled: clip_scores(lean, walk, walk_truths, config)["iou"] for config in (steady, plain)}
    assert walked[True] > walked[False] - 0.01, walked
    lagging = clip_scores(lean, walk, walk_truths, SteadyConfig(motion_gain=0.0))["iou"]  # a fixed 0.3 average
    assert lagging < walked[True] - 0.01, (lagging, walked)


def test_clips_are_told_from_photos_by_their_first_bytes(tmp_path):
    clip, _ = make_clip(tmp_path, "still", frames=2)
    assert looks_like_clip(clip.read_bytes()[:16])
    assert looks_like_clip(b"\x1a\x45\xdf\xa3" + bytes(12))  # WebM / Matroska
    assert not looks_like_clip(b"\x00\x00\x00\x18ftypheic" + bytes(4))  # a HEIF photo
    assert not looks_like_clip(b"\xff\xd8\xff\xe0" + bytes(12))  # a JPEG


def test_predict_takes_clips_beside_photos_resumes_and_lists_a_bad_clip(tmp_path, capsys):
    from core.cli import main

    folder = tmp_path / "pets"
    folder.mkdir()
    make_clip(folder, "pan", frames=6, name="walk.mp4")
    sample()[0].save(folder / "cat.jpg")
    args = ["predict", str(folder), "--model", str(LEAN), "--format", "cutout,alpha", "--out", str(tmp_path / "out")]
    assert main(args) == 0
    written = sorted(path.name for path in (tmp_path / "out").iterdir())
    assert written == ["cat_alpha.png", "cat_cutout.png", "walk_alpha.mp4", "walk_cutout.webm"]
    assert "clips: 1 segmented (6 frames" in capsys.readouterr().out
    before = (tmp_path / "out" / "walk_cutout.webm").stat().st_mtime_ns
    (folder / "broken.mov").write_bytes(b"\x00\x00\x00\x18ftypqt  " + bytes(64))
    assert main([*args, "--video-format", "webm"]) == 2  # the broken clip fails; the rest is already done
    captured = capsys.readouterr()
    assert "error: broken.mov: not a video PetSeg can read" in captured.err
    assert "clips: 0 segmented" in captured.out and "1 already done, 1 failed" in captured.out
    assert (tmp_path / "out" / "walk_cutout.webm").stat().st_mtime_ns == before
    assert main(["predict", str(folder / "walk.mp4"), "--model", str(LEAN), "--format", "mask",
                 "--out", str(tmp_path / "masks")]) == 2  # fmt: skip
    assert "a clip is written as cutout, alpha, overlay or colour" in capsys.readouterr().err
