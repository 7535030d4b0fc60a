"""Writing the videos a clip is turned into, with PyAV's FFmpeg encoders.

- `webm`: VP9 with an alpha plane (`yuva420p`), what browsers play transparent; libvpx at its
  real-time speed (the default `good` deadline took 2.3x as long per frame here, bench/video.py).
  FFmpeg's built-in `vp9` decoder drops the alpha plane: read it back with `libvpx-vp9`.
- `mov`: ProRes 4444 with alpha (`yuva444p10le`), what video editors take.
- `mp4`: H.264 (`yuv420p`), for every picture without transparency (overlay, mask colours, the
  alpha matte as grey, the cut-out on a background).
- `gif`: a short transparent loop (Pillow; at most 12 frames/s and 480 px: GIF is for stickers).

The audio track, where the clip has one, is re-encoded into the container's own codec (Opus in
WebM, AAC in MOV and MP4) and interleaved with the frames; a GIF has none. Files are written under
a temporary name and renamed (`core.files.atomic_path`): a killed run leaves no half video.
"""

from __future__ import annotations

import contextlib
from collections import deque
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from core.files import atomic_path
from core.video.clip import ClipSource, _open

CONTAINERS = {
    "webm": ("webm", "libvpx-vp9", "yuva420p", {"deadline": "realtime", "cpu-used": "8", "crf": "30", "b": "0"}),
    "mov": ("mov", "prores_ks", "yuva444p10le", {"profile": "4444"}),
    "mp4": ("mp4", "libx264", "yuv420p", {"preset": "veryfast", "crf": "20"}),
}
AUDIO_CODECS = {"webm": ("libopus", 48000), "mov": ("aac", 44100), "mp4": ("aac", 44100)}
TRANSPARENT_KINDS = ("webm", "mov", "gif")
VIDEO_KINDS = TRANSPARENT_KINDS
"""`--video-format`: the transparent cut-out's container (every other video is MP4)."""
GIF_MAX_FPS = 12
GIF_MAX_SIDE = 480


def even_size(size: tuple[int, int]) -> tuple[int, int]:
    """H.264 and VP9 in 4:2:0 need even sides: the last odd row or column is left out."""
    return max(2, size[0] - size[0] % 2), max(2, size[1] - size[1] % 2)


class VideoWriter:
    """One output video: `write` pictures (RGB, or RGBA for a transparent kind) in order, then `close`.
    Use as a context manager; on an exception nothing is left at `path`."""

    def __init__(
        self, path: Path, kind: str, fps: Fraction, size: tuple[int, int], audio_from: ClipSource | None = None
    ) -> None:
        self.path, self.kind, self.fps = Path(path), kind, Fraction(fps)
        self._atomic = atomic_path(self.path)
        self._temporary = self._atomic.__enter__()
        self._frames = 0
        if kind == "gif":
            self._gif: list[Image.Image] = []
            self._gif_step = max(1, round(float(self.fps) / GIF_MAX_FPS))
            return
        try:
            self._open_container(size, audio_from)
        except BaseException as error:
            self._atomic.__exit__(type(error), error, None)  # the temporary file goes
            raise

    def _open_container(self, size: tuple[int, int], audio_from: ClipSource | None) -> None:
        import av

        container_format, codec, pixel_format, options = CONTAINERS[self.kind]
        self._container = av.open(
            str(self._temporary),
            mode="w",
            format=container_format,
            options={"movflags": "+faststart"} if self.kind == "mp4" else {},
        )
        self._size = even_size(size)
        self._video = self._container.add_stream(codec, rate=self.fps, options=options)
        self._video.width, self._video.height = self._size
        self._video.pix_fmt = pixel_format
        self._audio: deque = deque()
        if audio_from is not None:
            self._audio = self._encoded_audio(audio_from)

    def _encoded_audio(self, source: ClipSource) -> deque:
        """Every audio packet of `source`, re-encoded for this container, held to be interleaved."""
        import av

        codec, rate = AUDIO_CODECS[self.kind]
        packets: deque = deque()
        with _open(source) as clip:
            if not clip.streams.audio:
                return packets
            stream = self._container.add_stream(codec, rate=rate, layout="stereo")
            resampler = av.AudioResampler(format=stream.format, layout="stereo", rate=rate)
            samples = 0

            def encode(ready) -> None:  # timed by its samples from the clip's start, as the frames are
                nonlocal samples
                ready.pts, ready.time_base = samples, Fraction(1, rate)
                samples += ready.samples
                packets.extend(stream.encode(ready))

            for frame in clip.decode(clip.streams.audio[0]):
                frame.pts = None
                for ready in resampler.resample(frame):
                    encode(ready)
            for ready in resampler.resample(None):
                encode(ready)
            packets.extend(stream.encode(None))
        return packets

    def _mux_audio_until(self, seconds: float | None) -> None:
        while self._audio and (seconds is None or float(self._audio[0].pts * self._audio[0].time_base) <= seconds):
            self._container.mux(self._audio.popleft())

    def write(self, picture: Image.Image) -> None:
        index, self._frames = self._frames, self._frames + 1
        if self.kind == "gif":
            if index % self._gif_step == 0:
                shown = picture.convert("RGBA")
                shown.thumbnail((GIF_MAX_SIDE, GIF_MAX_SIDE), Image.BILINEAR)
                self._gif.append(shown)
            return
        import av

        mode = "RGBA" if self.kind in TRANSPARENT_KINDS else "RGB"
        picture = picture.convert(mode)
        if picture.size != self._size:
            picture = picture.crop((0, 0, *self._size))
        frame = av.VideoFrame.from_ndarray(np.asarray(picture), format="rgba" if mode == "RGBA" else "rgb24")
        frame.pts = index
        self._mux_audio_until(index / float(self.fps))
        for packet in self._video.encode(frame):
            self._container.mux(packet)

    def close(self) -> None:
        if self.kind == "gif":
            self._save_gif()
        else:
            for packet in self._video.encode(None):
                self._container.mux(packet)
            self._mux_audio_until(None)
            self._container.close()
        self._atomic.__exit__(None, None, None)

    def _save_gif(self) -> None:
        if not self._gif:
            raise ValueError("a GIF needs at least one frame")
        duration = round(1000 * self._gif_step / float(self.fps))
        first, *rest = self._gif
        first.save(
            self._temporary, format="GIF", save_all=True, append_images=rest, duration=duration, loop=0, disposal=2
        )

    def abort(self) -> None:
        if self.kind != "gif":
            with contextlib.suppress(Exception):
                self._container.close()
        self._atomic.__exit__(RuntimeError, RuntimeError("aborted"), None)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()
