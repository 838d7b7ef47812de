"""Uploaded pictures: prove they are images, strip every piece of metadata, make a thumbnail.

Pure and synchronous (CPU-bound: forum.web.uploads runs it in two threads of its own, where its memory is bounded).
Nothing uploaded is ever stored as sent: the pixels are decoded and encoded again, so EXIF (camera, time, GPS
position), XMP, ICC profiles, comments and anything hidden after the image data are all gone. Output formats:

- pictures without transparency become JPEG (quality 85, optimised): photos, the common case, stay small;
- pictures with transparency (PNG, GIF, WebP with alpha) become PNG, so the transparency survives;
- animated GIF and WebP keep their first frame only.

The full picture is scaled down to fit FULL_MAX_PX (phones upload 4000-8000 px photos that nobody needs at that
size on a forum; for most pictures before anything else), the thumbnail to fit THUMB_MAX_PX. An EXIF orientation is
applied to the pixels, so the picture stands the right way up without the tag.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from forum.i18n import N_

ACCEPTED_FORMATS = ("JPEG", "PNG", "GIF", "WEBP")
# A decompression bomb is a small file that decodes to a huge bitmap: the pixel count is read from the header
# and checked before anything is decoded. 50 megapixels admits the 48 and 50 MP phone cameras.
MAX_PIXELS = 50_000_000
FULL_MAX_PX = 2048
THUMB_MAX_PX = 400
JPEG_QUALITY = 85

# Pillow's own guard warns above MAX_IMAGE_PIXELS and refuses at twice that. Ours (below) refuses first, with a
# clear message; setting Pillow's to the same value makes its refusal a second line of defence.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

# Modes whose pixels resample correctly as decoded (Pillow premultiplies RGBA's alpha while resizing); a picture in
# any other mode is converted to RGB or RGBA first.
_RESAMPLED_AS_DECODED = frozenset({"RGB", "RGBA", "L", "CMYK"})

_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


class ImageRejected(Exception):
    """The upload is not an image we accept. `message` is an English msgid with `params`, translated where shown;
    the caller adds `name`, the picture's file name as the uploader knows it."""

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message)
        self.message = message
        self.params = params


@dataclass(frozen=True)
class PreparedImage:
    """A re-encoded picture and its thumbnail, ready to store: no metadata, the right way up."""

    data: bytes
    thumb: bytes
    content_type: str  # "image/jpeg" or "image/png", the same for both
    width: int
    height: int
    thumb_width: int
    thumb_height: int

    @property
    def extension(self) -> str:
        return "png" if self.content_type == "image/png" else "jpg"


def prepare_image(raw: bytes, *, max_pixels: int = MAX_PIXELS) -> PreparedImage:
    """Decode `raw`, check it, and re-encode it without metadata. Raises ImageRejected with the reason."""
    try:
        image = Image.open(io.BytesIO(raw), formats=ACCEPTED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise _too_many_pixels(max_pixels) from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise ImageRejected(N_("“%(name)s” is not a JPEG, PNG, GIF or WebP picture.")) from error
    with image:
        width, height = image.size
        if width < 1 or height < 1:
            raise ImageRejected(N_("“%(name)s” could not be read as a picture; the file may be damaged."))
        if width * height > max_pixels:
            raise _too_many_pixels(max_pixels)
        try:
            if image.format == "JPEG":
                # Decode a large JPEG at a reduced scale straight away (DCT scaling): a fraction of the time and
                # memory, and never smaller than the box.
                image.draft("RGB", (FULL_MAX_PX, FULL_MAX_PX))
            image.load()
            return _encode(image)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
            raise ImageRejected(N_("“%(name)s” could not be read as a picture; the file may be damaged.")) from error


def _too_many_pixels(max_pixels: int) -> ImageRejected:
    return ImageRejected(N_("“%(name)s” has too many pixels: at most %(max)d megapixels."), max=max_pixels // 1_000_000)


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in {"RGBA", "LA", "PA", "La", "RGBa"} or "transparency" in image.info


def _to_srgb(image: Image.Image, mode: str) -> Image.Image:
    """Pixels in `mode` (RGB or RGBA), converted from the picture's colour profile to sRGB when it has one, so
    that dropping the profile does not change the colours (iPhone photos are Display P3)."""
    profile = image.info.get("icc_profile")
    if profile and image.mode in {"RGB", "RGBA", "CMYK"}:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
            if image.mode == "CMYK":
                converted = ImageCms.profileToProfile(image, source, _SRGB, outputMode="RGB")
            else:
                converted = ImageCms.profileToProfile(image, source, _SRGB, outputMode=image.mode)
            if converted is not None:
                return converted if converted.mode == mode else converted.convert(mode)
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # an unusable profile: take the pixel values as they are
    return image.convert(mode)


def _encode(image: Image.Image) -> PreparedImage:
    """Shrink, turn upright, convert to sRGB, then copy the pixels alone. `image` (loaded) is changed in place."""
    alpha = _has_alpha(image)
    if image.mode in _RESAMPLED_AS_DECODED and "transparency" not in image.info:
        # Shrink first, in place: the decoded bitmap (40 MB for a 40 MP JPEG decoded at half scale) is released
        # as soon as the stored size exists, and the copies below are of the small picture. The box is square,
        # so turning the picture upright afterwards does not change how it fits.
        _shrink(image)
    ImageOps.exif_transpose(image, in_place=True)
    pixels = _to_srgb(image, "RGBA" if alpha else "RGB")  # always a new image, so resizing it in place is safe
    _shrink(pixels)  # the other modes (palettes, 16-bit, a transparent colour) are only resampled as RGB(A)
    # A new image holds only pixels: no info dict (EXIF, XMP, ICC, comments), so nothing else can be written out.
    clean = Image.new(pixels.mode, pixels.size)
    clean.paste(pixels)
    del pixels
    thumb = clean.copy()
    thumb.thumbnail((THUMB_MAX_PX, THUMB_MAX_PX), Image.Resampling.LANCZOS)
    content_type = "image/png" if alpha else "image/jpeg"
    return PreparedImage(
        data=_save(clean, alpha),
        thumb=_save(thumb, alpha),
        content_type=content_type,
        width=clean.width,
        height=clean.height,
        thumb_width=thumb.width,
        thumb_height=thumb.height,
    )


def _shrink(image: Image.Image) -> None:
    # Bicubic for the big step: as good as Lanczos to the eye when shrinking a photo, at a third of the CPU.
    image.thumbnail((FULL_MAX_PX, FULL_MAX_PX), Image.Resampling.BICUBIC)


def _save(image: Image.Image, alpha: bool) -> bytes:
    out = io.BytesIO()
    if alpha:
        image.save(out, format="PNG")
    else:
        # Optimised Huffman tables: 5-10 % smaller for little CPU (progressive would cost three times as much).
        image.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()
