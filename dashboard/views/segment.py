"""Segment page: upload photos (or pick an example), see the mask, overlay and cut-out, download."""

from __future__ import annotations

from dataclasses import dataclass, replace

import streamlit as st

from core.config import ClipLimits
from core.data.dataset import Pair
from core.data.imaging import (
    MAX_FILE_BYTES,
    MAX_PIXELS,
    ImageError,
    Photo,
    load_trimap,
    preview,
    resize_mask,
)
from core.data.labels import to_class_index
from core.data.sample import sample_pairs
from core.evaluation.compare import disagreement_image, pet_disagreement
from core.inference import render
from core.inference.effects import Outline
from core.inference.marks import Mark
from core.inference.matte import Matte
from core.inference.outputs import output_makers, output_stems, zip_outputs
from core.inference.predict import Segmentation
from core.inference.render import Background, CutoutOptions, colourise, overlay
from core.model.metrics import image_scores
from core.serving.catalog import ModelEntry
from core.video.clip import looks_like_clip
from dashboard import clip, state, touchup
from dashboard.legend import show_legend

CLIP_LIMITS = ClipLimits()

VIEWS = ["Side by side", "Overlay", "Mask", "Cut-out"]
# The Cut-out view's matte is made at the page's preview size (1024 px), whatever the photo's size.
# `python -m bench.page_waits` (a real browser, 12 MP photos, idle 2-core AVX2 server): choosing the
# view to a settled page took 2.2-4.0 s with matting (its own 1.2-3.0 s follow the width of the
# predicted border, not the photo's size) and 1.7-1.8 s with fast (0.14-0.18 s of it the matte; the
# rest is the page's run and the browser receiving two pictures). Downloads are made at full size.
REFINE_LABELS = {"Matting (fur; 2-4 s)": "matting", "Fast (about 2 s)": "fast"}
REFINE_HELP = (
    "Matting solves the pet's soft edges (fur) on the photo itself: 2-4 s from choosing it to the cut-out on "
    "screen, for any photo size (the view is made at 1024 px; a download at the photo's size takes longer). "
    "Fast fits the prediction's edge to the photo's edges: about 2 s to the screen."
)
OUTLINE_WIDTHS = (2, 200)  # the outline slider's range, in the photo's own pixels (as the CLI's and API's `outline`)
LARGE_PHOTO_PIXELS = 4_000_000  # above this, the page says that downloads are made when clicked and take seconds
BACKGROUNDS = ["Transparent", "Colour", "Blurred photo", "Image"]
DOWNLOAD_FORMATS = ("cutout", "alpha", "colour", "overlay", "mask")
NO_PET_FORMATS = ("colour", "overlay", "mask")  # no empty cut-out or all-black matte offered for a photo without a pet
DOWNLOAD_LABELS = {  # each names its file: <photo>_cutout.png, _alpha.png, _mask_colour.png, _overlay.png, _mask.png
    "cutout": "Download cut-out",
    "alpha": "Download alpha matte",
    "colour": "Download coloured mask",
    "overlay": "Download overlay",
    "mask": "Download label map",
}
DOWNLOAD_HELP = {
    "cutout": "The pet cut out at the photo's size, or cropped to the pet with Crop to pet "
    "(PNG; transparent unless a background is chosen in Cut-out).",
    "alpha": "The cut-out's alpha matte in black and white: white is pet, black background, grey the soft edges "
    "(8-bit PNG, the photo's size, or cropped as the cut-out is).",
    "colour": "The mask in the colours shown here.",
    "overlay": "The photo with the mask tinted over it.",
    "mask": "For training tools, not for viewing: values 1 pet, 2 background, 3 border (the Oxford-IIIT Pet "
    "trimap format), so an image viewer shows it near-black. The coloured mask is the one to look at.",
}
TINY_SIDE = 64
NO_EXAMPLE = "(none)"
NO_COMPARISON = "(no comparison)"


CAMERA_NAME = "camera.jpg"


def camera_shot() -> tuple[str, bytes] | None:
    """A photo from the device's camera, as a second source beside the uploader. Behind a toggle,
    so the page does not ask for the camera until the person wants it."""
    if not st.toggle("Take a photo with the camera", key="use_camera"):
        return None
    shot = st.camera_input("Camera", key="camera", label_visibility="collapsed")
    return (CAMERA_NAME, shot.getvalue()) if shot is not None else None


def cutout_controls() -> CutoutOptions:
    """Refinement, background, crop and the sticker effects of the cut-out view, in rows above the
    cut-out: always in view beside what they change (a popover covered two thirds of the cut-out);
    a phone stacks them."""
    edges, backdrop, cropping = st.columns([5, 4, 2], vertical_alignment="bottom")
    refine_label = edges.segmented_control(
        "Refine edges", list(REFINE_LABELS), default=next(iter(REFINE_LABELS)), key="refine", help=REFINE_HELP
    ) or next(iter(REFINE_LABELS))
    choice = backdrop.selectbox("Background", BACKGROUNDS, key="background")
    crop = cropping.toggle("Crop to pet", key="crop")
    background = Background()
    if choice == "Colour":
        code = backdrop.color_picker("Background colour", "#3a7bd5", key="background_colour")
        background = Background.parse(code)
    elif choice == "Blurred photo":
        background = Background("blur")
    elif choice == "Image":
        upload = st.file_uploader("Background picture", key="background_image")
        if upload is not None:
            try:
                background = Background("image", image=Photo.open(upload.getvalue()).rgb)
            except ImageError as error:
                st.error(f"Cannot use {upload.name} as background: {error}")
    shadow_column, outline_column, width_column, colour_column = st.columns([2, 2, 4, 2], vertical_alignment="bottom")
    shadow = shadow_column.toggle("Shadow", key="shadow", help="A soft drop shadow under the pet.")
    outline = None
    if outline_column.toggle("Outline", key="outline", help="A sticker outline around the pet."):
        width = width_column.slider("Outline width (photo px)", *OUTLINE_WIDTHS, 12, key="outline_width")
        colour = colour_column.color_picker("Outline colour", "#ffffff", key="outline_colour")
        outline = Outline.parse(f"{width}px,{colour}")
    return CutoutOptions(REFINE_LABELS[refine_label], background, crop, shadow, outline)


def display_controls(view: str) -> tuple[bool, bool, float, CutoutOptions]:
    """Clean-up, quality and opacity in the sidebar (beside the results on a wide screen, one tap away
    on a phone, where the sidebar starts closed and the result comes right after the upload); the
    cut-out's own options in a row just above the cut-out."""
    with st.sidebar:
        st.subheader("Display")
        cleanup = st.toggle(
            "Drop stray pet specks",
            key="cleanup",
            help="Turns pet regions smaller than a tenth of the largest one into background (specks, "
            "reflections); every pet at least that big, a second pet too, is kept.",
        )
        tta = st.toggle(
            "Higher quality, about 2x slower",
            key="tta",
            help="Averages the prediction with that of the mirrored photo (flip test-time augmentation).",
        )
        alpha = st.slider("Overlay opacity", 0.0, 1.0, 0.5, 0.05, key="alpha")
    if view != "Cut-out":
        return cleanup, tta, alpha, CutoutOptions()
    return cleanup, tta, alpha, cutout_controls()  # on the page: a phone's sidebar would cover the result


def comparison_choice() -> ModelEntry | None:
    """Another shipped model to compare with (sidebar), when there is one."""
    others = {entry.label: entry for entry in state.other_models()}
    if not others:
        return None
    picked = st.sidebar.selectbox(
        "Compare with",
        [NO_COMPARISON, *others],
        key="compare_with",
        help="Shows the other model's mask beside this one's and, in magenta, where they disagree on what is pet.",
    )
    return others.get(picked)


def show_comparison(result: Segmentation, data: bytes, name: str, display: Display, other: ModelEntry) -> None:
    """The selected model's mask, the other model's, and where they disagree on pet vs background."""
    with st.spinner(f"Segmenting {name} with {other.label}…"):
        theirs = state.segment(data, name, display.cleanup, display.tta, entry=other)
    share = float(pet_disagreement(result.trimap, theirs.trimap).mean())
    photo = preview(result.photo.rgb, state.settings().preview_side)
    ours_shown, theirs_shown = (render.scaled_trimap(r.trimap, photo.size) for r in (result, theirs))
    columns = st.columns(3)
    columns[0].image(colourise(ours_shown), caption=f"Mask: {state.selected_model().label}", width="stretch")
    columns[1].image(colourise(theirs_shown), caption=f"Mask: {other.label}", width="stretch")
    columns[2].image(
        disagreement_image(photo, pet_disagreement(ours_shown, theirs_shown)),
        caption=f"Where they differ (magenta): {share:.1%} of the photo",
        width="stretch",
    )


def single_view():
    """Where one big view goes: two thirds of the page (a 128 px example and a 12 MP photo alike,
    with the controls still in view), the whole width on a phone, where columns stack."""
    return st.columns([2, 1])[0]


@dataclass(frozen=True)
class Display:
    """How results are shown: the view, and the options of the sidebar."""

    view: str
    cleanup: bool
    tta: bool
    alpha: float
    cutout: CutoutOptions


def run() -> None:
    st.header("Segment a pet photo")  # a title takes two lines of a phone's first screen
    segmenter = state.segmenter()
    if segmenter is None:
        st.stop()
    uploads = st.file_uploader(  # any type: a file PetSeg cannot read gets its reason on the page, not in a tooltip
        "Upload one or more photos or video clips", accept_multiple_files=True, key="uploads"
    )
    st.caption(  # on the page, not in a tooltip: the uploader's own size error shows on hover only
        f"Photos: JPEG, PNG, WebP, GIF, BMP, TIFF; up to {MAX_FILE_BYTES // 2**20} MB, "
        f"{MAX_PIXELS // 1_000_000} megapixels. Clips: MP4, MOV, WebM; up to {CLIP_LIMITS.max_seconds:g} s, "
        f"{CLIP_LIMITS.max_frames:,} frames, 4K."
    )
    examples = {pair.stem: pair for pair in sample_pairs()}
    # the other sources folded away: on a phone the first screen after an upload shows the result
    with st.expander("…or take a photo with the camera, or try an example", expanded=not uploads):
        shot = camera_shot()
        example = st.selectbox(
            "Example from the validation set",
            [NO_EXAMPLE, *examples],
            key="example",
            help="Bundled validation images the model never trained on.",
        )
    display = display_choices()
    other = comparison_choice()
    example_pair = examples.get(example)
    if display.view != "Cut-out" or example_pair is not None:  # a cut-out alone shows no class colours
        show_legend()
    items: list[tuple[str, bytes]] = [(upload.name, upload.getvalue()) for upload in uploads or []]
    if shot is not None:
        items.append(shot)
    if example_pair is not None:
        if items:
            st.info(
                f"Showing your {len(items)} photo(s) and the example {example}: "
                f"set the example back to {NO_EXAMPLE} to see only yours."
            )
        items.append((example_pair.image.name, example_pair.image.read_bytes()))
    if not items:
        st.info("Upload a photo of your cat or dog to see it segmented.")
        st.stop()

    zip_slot = st.container()  # failures and the batch download go above the results, filled once they are known
    progress = st.progress(0.0, text="Segmenting…") if len(items) > 1 else None
    stems = output_stems([name for name, _ in items])  # the CLI's naming rule: same-stem photos keep their extension
    done: dict[str, Segmentation] = {}
    failed: list[str] = []
    done_marks: dict[str, list[Mark]] = {}
    model = state.selected_model()
    made_by = model.describe()
    for index, ((name, data), stem) in enumerate(zip(items, stems)):
        if len(items) > 1:  # one photo's name is on its file chip just above
            st.subheader(name)
        if looks_like_clip(data[:16]):  # a video clip: cut out frame by frame (`dashboard.clip`)
            if not clip.show_clip(index, name, data, display.cutout):
                failed.append(name)
            if progress is not None:
                progress.progress((index + 1) / len(items), text=f"Segmented {index + 1} of {len(items)}")
            continue
        try:
            with st.spinner(f"Segmenting {name}…"):  # decoding a 12 MP photo alone takes a second
                result = state.segment(data, name, display.cleanup, display.tta)
        except ImageError as error:  # its message starts with the file's name
            st.error(f"Cannot segment {error}")
            failed.append(str(error))
            continue
        finally:
            if progress is not None:
                progress.progress((index + 1) / len(items), text=f"Segmented {index + 1} of {len(items)}")
        done[stem] = result
        done_marks[stem] = touchup.marks_of(touchup.photo_key(name, data))
        matte = show_views(result, data, name, display, index)
        if other is not None:
            show_comparison(result, data, name, display, other)
        if example_pair is not None and name == example_pair.image.name:
            show_ground_truth(example_pair, result)
        explain_if_no_pet(result, segmenter.input_size)
        show_figures_and_downloads(index, stem, result, display, matte, done_marks[stem])
        st.caption(f"Model: {model.label}")
    if done:
        st.caption(f"Made by {made_by}")  # the model's one-line card, once per page
    if progress is not None:
        progress.empty()
    if failed and len(items) > 1:
        left_out = " (the ZIP below leaves them out)" if len(done) > 1 else ""
        names = ", ".join(name for (name, _), stem in zip(items, stems) if stem not in done)
        count = f"{len(failed)} of {len(items)} files could not be segmented{left_out}"
        zip_slot.error(f"{count}: {names}. Each one's reason is below.")
    if len(done) > 1:
        zip_slot.download_button(
            f"Download all {len(done)} results (ZIP)",
            lambda: zip_outputs(
                done, display.alpha, DOWNLOAD_FORMATS, display.cutout, f"Made by {made_by}", done_marks
            ),
            file_name=f"petseg-results-{model.label}.zip",
            mime="application/zip",
            key="download-zip",
            type="primary",
            on_click="ignore",
        )


def display_choices() -> Display:
    """The view control and the sidebar's options."""
    view = (
        st.segmented_control(
            "View",
            VIEWS,
            default=VIEWS[0],
            key="view",
            help="More options (quality, opacity, cut-out background) are in the sidebar.",
        )
        or VIEWS[0]
    )
    cleanup, tta, alpha, cutout = display_controls(view)
    return Display(view, cleanup, tta, alpha, cutout)


def show_views(result: Segmentation, data: bytes, name: str, display: Display, index: int) -> Matte | None:
    """The chosen view, drawn at screen size (not 12 MP); returns the cut-out's matte when it was made
    at the photo's full size (a small photo), for the downloads to reuse; they make it otherwise."""
    photo = preview(result.photo.rgb, state.settings().preview_side)
    shown = render.scaled_trimap(result.trimap, photo.size)
    if display.view == "Side by side":  # one picture: side by side on a phone too (columns would stack)
        panels = render.side_by_side([photo, colourise(shown), overlay(photo, shown, display.alpha)])
        st.image(panels, caption="Photo · Mask · Overlay", width="stretch")
        return None
    if display.view == "Overlay":
        single_view().image(overlay(photo, shown, display.alpha), caption="Overlay", width="stretch")
        return None
    if display.view == "Mask":
        single_view().image(colourise(shown), caption="Mask", width="stretch")
        return None
    options = display.cutout
    scale = photo.width / result.photo.size[0]
    marks = touchup.current_marks(index, name, data, 1 / scale)
    waiting = "Refining the edges (matting: a few seconds)…" if options.refine == "matting" else "Refining the edges…"
    with st.spinner(waiting):
        matte = state.view_matte(data, name, display.cleanup, display.tta, options.refine, tuple(marks))
    cut_column, touch_column = st.columns(2)  # the cut-out in view beside the touch-up surface; a phone stacks them
    cut = render.cutout(photo, render.scaled(matte, photo.size), view_options(options, scale))
    shown_cut = render.on_checkerboard(cut) if options.background.transparent else cut
    share = cut_column.slider(
        "Before / after", 0, 100, 0, format="%d%%", key=f"before-after-{index}",
        help="Drag to show the photo left of the line and the cut-out right of it.",
    )  # fmt: skip
    if share and not options.crop:
        shown_cut = render.before_after(photo, shown_cut, share / 100)
    full_size = matte.alpha8.shape[::-1] == result.photo.size
    cut_column.image(
        shown_cut,
        width="stretch",
        caption=f"Cut-out ({matte.refine}, edges refined in {matte.seconds * 1000:.0f} ms"
        + (f", {len(marks)} touch-up mark(s)" if marks else "")
        + (")" if full_size else f"; shown at {photo.width}×{photo.height}, downloads at the photo's full size)"),
    )
    if matte.is_empty and result.found_pet:
        cut_column.warning("The pet found is too faint to cut out: the cut-out is empty.")
    with touch_column:
        surface = render.touchup_surface(photo, render.scaled(matte, photo.size).alpha8, marks, scale)
        touchup.controls(index, name, data, surface)
    return matte if full_size else None


def view_options(options: CutoutOptions, scale: float) -> CutoutOptions:
    """The cut-out options for a view `scale` times the photo's size: the outline's width is in the
    photo's pixels (as in the downloads), so a smaller view draws it in proportion."""
    if options.outline is None or scale == 1:
        return options
    return replace(options, outline=Outline(max(1, round(options.outline.width * scale)), options.outline.colour))


def show_ground_truth(pair: Pair, result: Segmentation) -> None:
    """A bundled validation example: its annotation and the prediction's scores against it."""
    truth = load_trimap(pair.trimap)
    height, width = result.probabilities.shape[:2]  # the model's grid (`core.inference.views`)
    scores = image_scores(to_class_index(resize_mask(truth, (width, height))), result.probabilities)
    columns = st.columns([1, 2])
    columns[0].image(
        colourise(render.scaled_trimap(truth, (256, round(256 * truth.shape[0] / truth.shape[1])))),
        caption="Ground truth (the dataset's annotation)",
        width="stretch",
    )
    columns[1].markdown(
        f"**Scores against the ground truth** (at the model's scale, {width}×{height}):  \n"
        f"Dice {scores['dice']:.3f} · mean IoU {scores['mean_iou']:.3f} · pet IoU {scores['pet_iou']:.3f} · "
        f"pixel accuracy {scores['pixel_accuracy']:.3f}  \n" + score_sentence(scores["mean_iou"])
    )


def score_sentence(mean_iou: float) -> str:
    """What the scores mean, in one plain sentence, against the model's own validation average."""
    average = (state.selected_model().metrics() or {}).get("mean_iou")
    text = "Each score is 1 for a mask that matches the annotation exactly and 0 for one that misses it entirely."
    if average is None:
        return text
    verdict = "better than" if mean_iou > average + 0.02 else "worse than" if mean_iou < average - 0.02 else "about"
    return f"{text} This photo's mean IoU is {verdict} this model's average on 1000 validation photos ({average:.3f})."


def explain_if_no_pet(result: Segmentation, input_size: int) -> None:
    width, height = result.photo.size
    if not result.found_pet:
        st.warning(
            "No cat or dog found in this photo: the model is nowhere sure of one."
            + (
                f" It is only {width}×{height} px: the model looks at photos at {input_size} px, "
                "so a photo this small holds too little detail."
                if min(width, height) < TINY_SIDE
                else ""
            )
        )


def show_figures_and_downloads(
    index: int, stem: str, result: Segmentation, display: Display, matte: Matte | None, marks: list[Mark]
) -> None:
    width, height = result.photo.size
    st.markdown(  # one line, not three metric cards: on a phone the figures share the first screen with the result
        f"**Pet share** {result.pet_fraction:.1%} · **prediction** {result.seconds * 1000:.0f} ms · "
        f"**photo** {width}×{height} ({width * height / 1e6:.1f} MP)"
    )
    if width * height > LARGE_PHOTO_PIXELS:
        st.caption(
            f"Each download of this {width * height / 1e6:.1f} MP photo is made when you click it: a few "
            "seconds each (the button shows a spinner meanwhile)."
        )
    formats = DOWNLOAD_FORMATS if result.found_pet or marks else NO_PET_FORMATS  # marks can make a pet
    makers = output_makers(stem, result, display.alpha, formats, display.cutout, matte, marks)
    buttons = st.columns(len(makers))
    for column, kind, (file_name, make) in zip(buttons, formats, makers.items()):
        column.download_button(  # encoded only when clicked (a 12 MP PNG takes seconds)
            DOWNLOAD_LABELS[kind],
            make,
            file_name=file_name,
            mime="image/png",
            help=DOWNLOAD_HELP[kind],
            key=f"download-{index}-{file_name}",
            on_click="ignore",
        )


run()
