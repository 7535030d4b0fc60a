"""Everything PetSeg draws, shared by the CLI's output files and the dashboard: the coloured mask,
the overlay, the label-map PNG, previews, and cut-outs made from a matte (transparent PNG, or the
pet on a colour, the photo's own background blurred, or another picture; optionally cropped).

`core.data.imaging` reads photos safely; this module only draws. `Segmentation` is data: its trimap,
probabilities and photo go in here."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from scipy import ndimage

from core.data.imaging import ImageError, Photo
from core.data.labels import CLASS_COLOURS, NUM_CLASSES, Class, TrimapValue, to_class_index
from core.errors import PetSegError
from core.inference.effects import Outline, decorate
from core.inference.marks import Mark
from core.inference.matte import PET_THRESHOLD, Matte

HEX_COLOUR = re.compile(r"^#([0-9a-fA-F]{6})$")
BLUR_SIDE = 512
"""The photo's background is blurred at this longer side, then scaled back up (a 12 MP Gaussian blur is slow)."""


def colourise(trimap: np.ndarray) -> Image.Image:
    """An RGB picture of a trimap (values 1 pet, 2 background, 3 border)."""
    index = np.clip(to_class_index(trimap.astype(np.int64)), 0, NUM_CLASSES - 1)
    return Image.fromarray(CLASS_COLOURS[index])


def overlay(photo: Image.Image, trimap: np.ndarray, alpha: float = 0.5) -> Image.Image:
    """The photo with pet and border tinted by their class colour; background left as is."""
    if photo.size != (trimap.shape[1], trimap.shape[0]):
        raise ValueError(f"photo size {photo.size} does not match mask size {trimap.shape[::-1]}")
    base = np.asarray(photo.convert("RGB"), dtype=np.float32)
    colours = np.asarray(colourise(trimap), dtype=np.float32)
    weight = np.where(trimap == TrimapValue.BACKGROUND, 0.0, float(alpha)).astype(np.float32)[..., None]
    blended = base * (1.0 - weight) + colours * weight
    return Image.fromarray(blended.round().astype(np.uint8))


def trimap_png(trimap: np.ndarray) -> bytes:
    """A single-channel PNG of the trimap with values 1/2/3."""
    buffer = io.BytesIO()
    Image.fromarray(trimap.astype(np.uint8), mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


FAST_PNG_PIXELS = 2_000_000
"""Pictures larger than this are PNG-encoded at zlib level 1: a 12 MP RGBA cut-out in 1.4 s instead
of 5.6 s at the default level 6, for files about 13% larger (measured, bench/RESULTS.md)."""


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1 if image.width * image.height > FAST_PNG_PIXELS else 6)
    return buffer.getvalue()


class BackgroundError(PetSegError, ValueError):
    """A `--background` value that is neither transparent, blur, #RRGGBB nor a readable image."""


@dataclass(frozen=True)
class Background:
    """What the cut-out is placed on: `transparent`, `blur`, a `colour` or an `image`."""

    kind: str = "transparent"
    colour: tuple[int, int, int] = (255, 255, 255)
    image: Image.Image | None = None

    @classmethod
    def parse(cls, text: str, files: bool = True) -> Background:
        """`transparent`, `blur`, `#RRGGBB` or (with `files`, not for a network client) the path of an image file."""
        value = text.strip()
        if value.lower() in ("transparent", "blur"):
            return cls(value.lower())
        match = HEX_COLOUR.match(value)
        if match:
            code = match.group(1)
            return cls("colour", colour=tuple(int(code[index : index + 2], 16) for index in (0, 2, 4)))
        if value.startswith("#"):
            raise BackgroundError(f"--background {text!r}: a colour is written #RRGGBB, e.g. #00ff00")
        if not files:
            raise BackgroundError(f"background {text!r}: use transparent, blur or a colour #RRGGBB, e.g. #00ff00")
        path = Path(value)
        if not path.exists():
            raise BackgroundError(
                f"--background {text!r}: no such file; use transparent, blur, a colour #RRGGBB or an image file"
            )
        try:
            return cls("image", image=Photo.open(path).rgb)
        except ImageError as error:
            raise BackgroundError(f"--background {text!r}: {error}") from None

    @property
    def transparent(self) -> bool:
        return self.kind == "transparent"


@dataclass(frozen=True)
class CutoutOptions:
    """How cut-outs are made: the matte's refinement, the background, cropped to the pet or not, and
    the sticker effects (`core.inference.effects`): a drop shadow, an outline."""

    refine: str = "matting"
    background: Background = Background()
    crop: bool = False
    shadow: bool = False
    outline: Outline | None = None


def cover(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """`image` scaled to cover `size` = (width, height) and cropped to it, centred."""
    width, height = size
    scale = max(width / image.width, height / image.height)
    scaled = image.resize(
        (max(width, round(image.width * scale)), max(height, round(image.height * scale))), Image.BILINEAR
    )
    left, top = (scaled.width - width) // 2, (scaled.height - height) // 2
    return scaled.crop((left, top, left + width, top + height))


def blurred(photo: Image.Image) -> Image.Image:
    """The photo strongly blurred (a portrait-mode look), computed at a reduced size."""
    small = photo.copy()
    small.thumbnail((BLUR_SIDE, BLUR_SIDE), Image.BILINEAR)
    radius = max(small.size) / 40
    return small.filter(ImageFilter.GaussianBlur(radius)).resize(photo.size, Image.BILINEAR)


def background_image(background: Background, photo: Image.Image) -> Image.Image:
    if background.kind == "blur":
        return blurred(photo)
    if background.kind == "image" and background.image is not None:
        return cover(background.image.convert("RGB"), photo.size)
    return Image.new("RGB", photo.size, background.colour)


def crop_box(alpha: np.ndarray, margin: float = 0.05, threshold: float = PET_THRESHOLD) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) around every pixel with alpha > `threshold`, widened by `margin` of
    the box's size on each side; the whole photo when there is no pet."""
    rows = np.flatnonzero((alpha > threshold).any(axis=1))
    columns = np.flatnonzero((alpha > threshold).any(axis=0))
    height, width = alpha.shape
    if not len(rows):
        return 0, 0, width, height
    pad_y = round((rows[-1] - rows[0] + 1) * margin)
    pad_x = round((columns[-1] - columns[0] + 1) * margin)
    return (
        max(0, columns[0] - pad_x),
        max(0, rows[0] - pad_y),
        min(width, columns[-1] + 1 + pad_x),
        min(height, rows[-1] + 1 + pad_y),
    )


EFFECT_CROP_THRESHOLD = 0.1
"""A cut-out with a shadow or outline is cropped around what shows of them too (the shadow is faint)."""


def _crop_of(alpha8: np.ndarray, options: CutoutOptions, margin: float) -> tuple[int, int, int, int]:
    """The crop around a cut-out's alpha (`alpha8`, with its effects when `options` draw them)."""
    decorated = options.shadow or options.outline is not None
    return crop_box(alpha8 / 255.0, margin, EFFECT_CROP_THRESHOLD if decorated else PET_THRESHOLD)


def cutout_box(matte: Matte, options: CutoutOptions, margin: float = 0.05) -> tuple[int, int, int, int]:
    """The crop of a cut-out made with `options`: around the pet, or around the pet, its outline and
    its shadow when they are drawn (so the alpha file, cropped the same, lines up with the cut-out)."""
    alpha8 = matte.alpha8
    if options.shadow or options.outline is not None:
        _, alpha8 = decorate(np.zeros((*alpha8.shape, 3), np.uint8), alpha8, options.outline, options.shadow)
    return _crop_of(alpha8, options, margin)


def cutout(
    photo: Image.Image, matte: Matte, options: CutoutOptions = CutoutOptions(), margin: float = 0.05
) -> Image.Image:
    """The pet cut out as `options` say: RGBA on a transparent background, else RGB on the chosen
    background; with its outline and drop shadow when asked for; cropped to them when asked."""
    foreground = np.asarray(photo.convert("RGB")) if matte.foreground is None else matte.foreground
    alpha8 = matte.alpha8
    if options.shadow or options.outline is not None:
        foreground, alpha8 = decorate(foreground, alpha8, options.outline, options.shadow)
    colours, alpha = Image.fromarray(foreground), Image.fromarray(alpha8, mode="L")
    if options.background.transparent:
        result = colours.convert("RGBA")
        result.putalpha(alpha)
    else:
        result = Image.composite(colours, background_image(options.background, photo.convert("RGB")), alpha)
    return result.crop(_crop_of(alpha8, options, margin)) if options.crop else result


def scaled(matte: Matte, size: tuple[int, int]) -> Matte:
    """The matte at another size (a screen preview), bilinearly."""
    if (matte.alpha8.shape[1], matte.alpha8.shape[0]) == tuple(size):
        return matte
    alpha = np.asarray(Image.fromarray(matte.alpha8, mode="L").resize(size, Image.BILINEAR))
    foreground = (
        None if matte.foreground is None else np.asarray(Image.fromarray(matte.foreground).resize(size, Image.BILINEAR))
    )
    return Matte(alpha, foreground, matte.refine, matte.seconds)


def scaled_trimap(trimap: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A trimap at another size (a screen preview), nearest-neighbour: labels are never blended."""
    if (trimap.shape[1], trimap.shape[0]) == tuple(size):
        return trimap
    return np.asarray(Image.fromarray(trimap).resize(size, Image.NEAREST))


def on_checkerboard(image: Image.Image, square: int = 12) -> Image.Image:
    """An RGBA image over a grey checkerboard, the usual way to show what is transparent."""
    width, height = image.size
    rows, columns = np.mgrid[0:height, 0:width]
    board = np.where(((rows // square + columns // square) % 2 == 0)[..., None], 204, 255).astype(np.uint8)
    background = Image.fromarray(np.repeat(board, 3, axis=-1)).convert("RGBA")
    background.alpha_composite(image.convert("RGBA"))
    return background.convert("RGB")


def alpha_image(matte: Matte, options: CutoutOptions = CutoutOptions(), margin: float = 0.05) -> Image.Image:
    """The pet's matte as an 8-bit greyscale picture (0 background .. 255 pet), at the photo's size,
    or, with `options.crop`, cropped exactly as `cutout` crops (so the two files line up pixel for pixel)."""
    image = Image.fromarray(matte.alpha8, mode="L")
    return image.crop(cutout_box(matte, options, margin)) if options.crop else image


def before_after(before: Image.Image, after: Image.Image, share: float, line: int = 2) -> Image.Image:
    """One picture: `before` left of a white line at `share` of the width, `after` right of it (a
    before/after slider drawn by the server; both pictures of one size)."""
    result = after.convert("RGB").copy()
    split = round(share * result.width)
    if split > 0:
        result.paste(before.convert("RGB").crop((0, 0, split, result.height)), (0, 0))
    if 0 < split < result.width:
        result.paste(
            (255, 255, 255), (max(0, split - line // 2), 0, min(result.width, split + line - line // 2), result.height)
        )
    return result


def side_by_side(images: list[Image.Image], gap: int = 6) -> Image.Image:
    """Pictures of one height in a row, `gap` white pixels apart: one image that stays a row on any screen."""
    height = images[0].height
    width = sum(image.width for image in images) + gap * (len(images) - 1)
    row = Image.new("RGB", (width, height), (255, 255, 255))
    left = 0
    for image in images:
        row.paste(image.convert("RGB"), (left, 0))
        left += image.width + gap
    return row


OUTLINE_COLOUR = (255, 0, 255)
"""The cut-out's outline on the touch-up surface: magenta, unlike any class colour or most photos."""


def touchup_surface(photo: Image.Image, alpha8: np.ndarray, marks: list[Mark], scale: float = 1.0) -> Image.Image:
    """What touch-up draws on: the photo with the cut-out's current outline (magenta, where alpha
    crosses one half; `alpha8` at the photo's size) and every mark filled faintly and outlined in its
    class colour (`marks` in photo pixels, `scale` = this photo's size over theirs), later marks on top."""
    pet = alpha8 >= 128
    thickness = max(1, round(max(photo.size) / 400))
    edge = pet & ~ndimage.binary_erosion(pet, iterations=thickness, border_value=1)
    base = np.asarray(photo.convert("RGB")).copy()
    base[edge] = OUTLINE_COLOUR
    surface = Image.fromarray(base).convert("RGBA")
    layer = Image.new("RGBA", surface.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    for mark in marks:
        colour = tuple(int(c) for c in CLASS_COLOURS[Class.PET if mark.label == "pet" else Class.BACKGROUND])
        points = [(x * scale, y * scale) for x, y in mark.points]
        draw.polygon(points, fill=(*colour, 90), outline=(*colour, 255), width=max(2, thickness * 2))
    surface.alpha_composite(layer)
    return surface.convert("RGB")
