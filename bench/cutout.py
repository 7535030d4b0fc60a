"""Cut-out quality and speed: the old mask vs the `fast` and `matting` mattes, in one run.

    python -m bench.cutout [--data-dir ../shared/data/oxford-iiit-pet] [--model models/petseg.keras ...] [--tta]

1. Binary quality at the photo's own resolution, on the validation pairs that keep their
   original aspect (not in `annotations/square_128.txt`): IoU of pet vs background, leaving out
   the ground truth's border band (the pixels the annotators left undecided). Old mask: pet +
   predicted border (the trimap upscaled); `fast` and `matting`: alpha >= 0.5.
2. Soft-edge quality where the true alpha is known: each of those photos' ground-truth pet
   (trimap value 1) composited onto a pet-free background (the largest all-background square of
   another validation photo, scaled to cover), so the true alpha is exactly the pet's mask; SAD
   (sum of |alpha - truth| / 1000 per image) and MSE of the alpha, for each method; the edge
   colour error: the cut-out on white against the true pet on white, mean |difference| (0-255)
   over the pixels within 3 px of the true outline (a background-coloured halo or a step shows here).
   `fast (grid upscale)` is the plain `fast` of before issue 30 (`MatteConfig(fast_guided=False)`).
   And how often a cut-out is see-through: more than 5% of the true pet at alpha < 0.5, and how
   much of what those lose the model itself called background (matting cannot bring it back);
   thin parts: the recall of true pet pixels within 3 px of the pet's outline (tails, legs, ears
   and every edge: what a coarse mask rounds away), pooled; `--photos` prints named photos' IoU.
3. Two pets side by side: 45 pairs of 10 bundled pet photos (5 cats, 5 dogs) pasted side by
   side; a pet counts as found when its half of the mask holds at least half the pet area the
   model finds in its photo alone.
4. Time on this CPU for a 12-megapixel photo: photo -> mask (the plain path), -> `fast` cut-out,
   -> `matting` cut-out (the RGBA image; PNG encoding reported apart), and the mattes the dashboard's
   Cut-out view makes (1024 px), medians; first model only, skipped with `--repeats 0`.

Several `--model`s, `--tta` (each model also with flip test-time augmentation) and `--whole-only`
(each model also seeing the whole photo only, without `core.inference.views`' square crops) put the
variants side by side in one table.
"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from scipy import ndimage  # noqa: E402

from bench.measure import median_seconds  # noqa: E402
from core.config import DEFAULT_MODEL_PATH, WHOLE_PHOTO_ONLY, MatteConfig  # noqa: E402
from core.data.dataset import find_pairs, reference_split  # noqa: E402
from core.data.imaging import load_trimap  # noqa: E402
from core.inference import render  # noqa: E402
from core.inference.matte import Matte, compute_matte  # noqa: E402
from core.inference.predict import Segmenter  # noqa: E402
from core.inference.render import png_bytes  # noqa: E402

METHODS = ("old mask", "fast (grid upscale)", "fast", "matting")
PLAIN_FAST = MatteConfig(fast_guided=False)
SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "pets" / "images"
PAIRED_PETS = (
    "Ragdoll_100", "american_bulldog_108", "Abyssinian_1", "beagle_100", "Birman_102",
    "boxer_1", "Persian_10", "pug_10", "Siamese_109", "samoyed_1",
)  # fmt: skip
MIN_BACKGROUND_SIDE = 48
VIEW_SIDE = 1024
"""The dashboard's preview side (`AppConfig.preview_side`): its Cut-out view's matte is made at this size."""
THIN_PART_PHOTOS = ("american_bulldog_181", "Bengal_37", "Bengal_113", "Abyssinian_151", "Bengal_29")
"""Issue 28: photos where u2netp's mask beat PetSeg's by the most, mostly on tails, legs and ears."""


def native_validation_pairs(data_dir: Path):
    pairs, _ = find_pairs(data_dir)
    _, validation = reference_split(pairs)
    squares = set((data_dir / "annotations" / "square_128.txt").read_text().split())
    return [pair for pair in validation if pair.stem not in squares]


def mattes(segmenter: Segmenter, photo) -> tuple[dict[str, Matte], np.ndarray]:
    """The matte of each method for one photo (a path or a Pillow image), and the model's trimap at
    the photo's size."""
    result = segmenter.segment(photo)
    old = Matte(np.where(result.trimap != 2, 255, 0).astype(np.uint8), None, "old mask", 0.0)
    plain_fast = compute_matte(result.photo.rgb, result.resolved, "fast", PLAIN_FAST)
    found = {"old mask": old, "fast (grid upscale)": plain_fast}
    for refine in ("fast", "matting"):
        found[refine] = result.matte(refine)
    return found, result.trimap


def on_white(photo: Image.Image, matte: Matte) -> np.ndarray:
    """The cut-out composited on white, float RGB."""
    return np.asarray(
        render.cutout(photo, matte, render.CutoutOptions(background=render.Background("colour"))), np.float32
    )


def iou(alpha: np.ndarray, truth: np.ndarray) -> tuple[int, int]:
    """(intersection, union) of pet vs background, the ground truth's border left out."""
    scored = truth != 3
    predicted, pet = (alpha >= 0.5) & scored, (truth == 1)
    return int((predicted & pet).sum()), int((predicted | pet).sum())


def largest_background_square(trimap: np.ndarray) -> tuple[int, int, int]:
    """(top, left, side) of the largest square whose trimap is background everywhere."""
    background = trimap == 2
    sides = np.zeros(trimap.shape, np.int32)
    best = (0, 0, 0)
    for row in range(trimap.shape[0]):
        for column in range(trimap.shape[1]):
            if background[row, column]:
                sides[row, column] = (
                    1
                    if row == 0 or column == 0
                    else 1 + min(sides[row - 1, column], sides[row, column - 1], sides[row - 1, column - 1])
                )
                if sides[row, column] > best[2]:
                    best = (row - sides[row, column] + 1, column - sides[row, column] + 1, int(sides[row, column]))
    return best


def pet_free_backgrounds(pairs) -> list[Image.Image]:
    backgrounds = []
    for pair in pairs:
        top, left, side = largest_background_square(load_trimap(pair.trimap))
        if side >= MIN_BACKGROUND_SIDE:
            backgrounds.append(Image.open(pair.image).convert("RGB").crop((left, top, left + side, top + side)))
    return backgrounds


SEE_THROUGH_SHARE = 0.05
"""A photo's cut-out is see-through when more than this share of the true pet (trimap value 1) gets alpha < 0.5."""


def see_through(alpha: np.ndarray, truth: np.ndarray) -> bool:
    pet = truth == 1
    return bool(pet.any() and (alpha[pet] < 0.5).mean() > SEE_THROUGH_SHARE)


THIN_PX = 3
"""Thin parts: true pet pixels at most this far (photo pixels) from the pet's outline."""


def near_outline(truth: np.ndarray, distance: int = THIN_PX) -> np.ndarray:
    """True pet pixels (trimap value 1) within `distance` px of a pixel that is not pet."""
    pet = truth == 1
    return pet & (ndimage.distance_transform_edt(pet) <= distance)


def quality(segmenter: Segmenter, pairs, fast_iou: dict[str, float] | None = None) -> dict[str, dict[str, float]]:
    """Per method: IoU, SAD, MSE, see-through photos, thin-part recall (`near_outline`) and
    `lost_as_background`: of the true-pet pixels the see-through cut-outs lose (alpha < 0.5), the
    share the model itself called background (out of the matting's reach: it solves only the
    predicted border and the outline). `per_photo`, when given, receives each photo's `fast` IoU."""
    totals = {method: [0, 0] for method in METHODS}
    thin = {method: [0, 0] for method in METHODS}  # (kept, all) true pet pixels near the outline
    ghostly = dict.fromkeys(METHODS, 0)
    lost = {method: [0, 0] for method in METHODS}  # (called background by the model, all lost)
    errors: dict[str, list[tuple[float, float, float]]] = {method: [] for method in METHODS}
    backgrounds = pet_free_backgrounds(pairs)
    for index, pair in enumerate(pairs):
        truth = load_trimap(pair.trimap)
        edge = near_outline(truth)
        found, predicted = mattes(segmenter, pair.image)
        for method, matte in found.items():
            alpha = matte.alpha
            inter, union = iou(alpha, truth)
            totals[method][0] += inter
            totals[method][1] += union
            thin[method][0] += int((alpha[edge] >= 0.5).sum())
            thin[method][1] += int(edge.sum())
            if fast_iou is not None and method == "fast":
                fast_iou[pair.stem] = inter / max(union, 1)
            if see_through(alpha, truth):
                ghostly[method] += 1
                gone = (truth == 1) & (alpha < 0.5)
                lost[method][0] += int((predicted[gone] == 2).sum())
                lost[method][1] += int(gone.sum())
        photo = Image.open(pair.image).convert("RGB")
        background = render.cover(backgrounds[index % len(backgrounds)], photo.size)
        true_alpha = (truth == 1).astype(np.float32)
        composite = Image.composite(photo, background, Image.fromarray((true_alpha * 255).astype(np.uint8)))
        true_matte = Matte((true_alpha * 255).astype(np.uint8), None, "truth", 0.0)
        truth_on_white = on_white(composite, true_matte)
        outline = ndimage.distance_transform_edt(truth == 1) + ndimage.distance_transform_edt(truth != 1) <= THIN_PX + 1
        for method, matte in mattes(segmenter, composite)[0].items():
            alpha = matte.alpha
            edge_error = float(np.abs(on_white(composite, matte) - truth_on_white)[outline].mean())
            errors[method].append(
                (float(np.abs(alpha - true_alpha).sum()) / 1000, float(np.mean((alpha - true_alpha) ** 2)), edge_error)
            )
    return {
        method: {
            "iou": totals[method][0] / max(totals[method][1], 1),
            "sad": statistics.mean(e[0] for e in errors[method]),
            "mse": statistics.mean(e[1] for e in errors[method]),
            "edge_colour": statistics.mean(e[2] for e in errors[method]),
            "see_through": ghostly[method],
            "thin_recall": thin[method][0] / max(thin[method][1], 1),
            "lost_as_background": lost[method][0] / max(lost[method][1], 1),
        }
        for method in METHODS
    }


def pets_found_in_pairs(segmenter: Segmenter, height: int = 256) -> tuple[int, int]:
    """(pets found, pets) over every pair of `PAIRED_PETS` pasted side by side at `height`."""
    photos = {}
    for name in PAIRED_PETS:
        photo = Image.open(SAMPLES / f"{name}.jpg").convert("RGB")
        photos[name] = photo.resize((round(photo.width * height / photo.height), height))
    alone = {name: float((segmenter.segment(photo).trimap != 2).mean()) for name, photo in photos.items()}
    found = total = 0
    for index, left in enumerate(PAIRED_PETS):
        for right in PAIRED_PETS[index + 1 :]:
            both = Image.new("RGB", (photos[left].width + photos[right].width, height))
            both.paste(photos[left], (0, 0))
            both.paste(photos[right], (photos[left].width, 0))
            pet = segmenter.segment(both).trimap != 2
            cut = photos[left].width
            for share, name in ((pet[:, :cut].mean(), left), (pet[:, cut:].mean(), right)):
                found += share >= 0.5 * alone[name]
                total += 1
    return found, total


def twelve_megapixel(photo: Path) -> Image.Image:
    """A real pet photo scaled to 4000x3000 with sensor-like noise (so matting sees texture)."""
    big = Image.open(photo).convert("RGB").resize((4000, 3000), Image.BICUBIC)
    noise = np.random.default_rng(0).normal(0, 4, (3000, 4000, 3))
    return Image.fromarray(np.clip(np.asarray(big, np.float32) + noise, 0, 255).astype(np.uint8))


def speed(segmenter: Segmenter, photo_path: Path, repeats: int) -> dict[str, float]:
    import io

    big = twelve_megapixel(photo_path)
    buffer = io.BytesIO()
    big.save(buffer, "JPEG", quality=90)
    jpeg = buffer.getvalue()

    def cut(method: str) -> Image.Image:
        result = segmenter.segment(jpeg)
        if method == "fast (grid upscale)":
            return render.cutout(result.photo.rgb, compute_matte(result.photo.rgb, result.resolved, "fast", PLAIN_FAST))
        return render.cutout(result.photo.rgb, result.matte(method))

    figures = {"mask": median_seconds(lambda: segmenter.segment(jpeg).trimap, repeats)}
    for method in METHODS[1:]:
        figures[f"{method} cut-out"] = median_seconds(lambda method=method: cut(method), repeats)
    result = segmenter.segment(jpeg)
    for refine in ("fast", "matting"):  # what the dashboard's Cut-out view makes (its preview size)
        figures[f"{refine} matte for a {VIEW_SIDE} px view"] = median_seconds(
            lambda refine=refine: result.matte(refine, max_side=VIEW_SIDE), repeats
        )
    image = cut("fast")
    figures["PNG encoding of the 12 MP RGBA cut-out"] = median_seconds(
        lambda: png_bytes(image), max(1, repeats // 2), 1
    )
    return figures


def segmenters(models: list[Path], tta: bool, whole_only: bool) -> dict[str, Segmenter]:
    """Each model, and with `tta` each model again with flip TTA, with `whole_only` again seeing the
    whole photo only (the same weights), by row label."""
    found = {}
    names = [path.name for path in models]
    for path in models:
        label = path.name if names.count(path.name) == 1 else f"{path.parent.name}/{path.name}"  # run folders
        plain = Segmenter(path).warm_up()
        found[label] = plain
        if tta:
            found[f"{label} + TTA"] = Segmenter(path, model=plain.model, tta=True).warm_up()
        if whole_only:
            found[f"{label}, whole photo only"] = Segmenter(path, model=plain.model, views=WHOLE_PHOTO_ONLY).warm_up()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data/oxford-iiit-pet"))
    parser.add_argument("--model", type=Path, nargs="+", default=[DEFAULT_MODEL_PATH])
    parser.add_argument("--tta", action="store_true", help="also each model with flip test-time augmentation")
    parser.add_argument("--whole-only", action="store_true", help="also each model seeing the whole photo only")
    parser.add_argument("--repeats", type=int, default=5, help="timing repeats; 0 skips the 12 MP timing")
    parser.add_argument("--limit", type=int, default=None, help="score only the first N native-aspect pairs")
    parser.add_argument(
        "--photos", nargs="*", default=list(THIN_PART_PHOTOS), help="print these photos' `fast` IoU per model"
    )
    args = parser.parse_args()
    pairs = native_validation_pairs(args.data_dir)[: args.limit]
    models = segmenters(args.model, args.tta, args.whole_only)
    print(f"{len(pairs)} native-aspect validation pairs from {args.data_dir}")
    print(
        "| model | method | IoU at photo size (border left out) | composite SAD/1000 | composite MSE "
        f"| see-through photos (> {SEE_THROUGH_SHARE:.0%} of the pet at alpha < 0.5) "
        f"| thin-part recall (pet within {THIN_PX} px of its outline) | their lost pet the model called background "
        f"| edge colour error on white (within {THIN_PX} px of the outline, 0-255) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    per_photo: dict[str, dict[str, float]] = {label: {} for label in models}
    for label, segmenter in models.items():
        for method, scores in quality(segmenter, pairs, per_photo[label]).items():
            print(
                f"| {label} | {method} | {scores['iou']:.4f} | {scores['sad']:.3f} | {scores['mse']:.4f} "
                f"| {scores['see_through']} | {scores['thin_recall']:.4f} | {scores['lost_as_background']:.0%} "
                f"| {scores['edge_colour']:.1f} |"
            )
    named = [stem for stem in args.photos if any(stem in scores for scores in per_photo.values())]
    if named:
        print("\n`fast` IoU of named photos (border left out), " + " | ".join(per_photo) + ":")
        for stem in named:
            print(
                f"  {stem:<24} " + "  ".join(f"{scores.get(stem, float('nan')):.3f}" for scores in per_photo.values())
            )
    print("\nTwo pets side by side (45 pairs of 10 bundled pets), pets found:")
    for label, segmenter in models.items():
        found, total = pets_found_in_pairs(segmenter)
        print(f"  {label:<44} {found} of {total}")
    if args.repeats > 0:
        label, segmenter = next(iter(models.items()))
        print(f"\n12-megapixel photo (4000x3000 JPEG), {label}, median seconds:")
        figures = speed(segmenter, pairs[0].image, args.repeats)
        for name, seconds in figures.items():
            print(f"  {name:<42} {seconds * 1000:7.0f} ms  ({seconds / figures['mask']:.1f}x the mask)")


if __name__ == "__main__":
    main()
