"""The allow-list remover against the keep-list one it replaced: on every still image the tests
make, it gives a valid image with the same decoded pixels and no metadata the old one did not
leave. The old remover is read from git (the commit below); without git history the comparison
with it is skipped, the checks against the original image still run."""

from __future__ import annotations

import importlib
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageSequence

from bifoga.media import metadata
from tests import fixtures_images as fx
from tests import hostile_images as hostile
from tests.media import media_path
from tests.micropython_runner import REPO

BEFORE = "6331144"  # the last commit with the keep-list remover (bytes in, bytes out)
_BEFORE_MODULES = ("__init__", "source", "metadata", "meta_common", "exif", "jpeg_meta",
                   "png_meta", "webp_meta", "heif_meta", "heif_boxes", "film_meta", "film_ebml")
# What ExifTool reports of any file, and what the remover keeps on purpose.
_NOT_METADATA_GROUPS = ("ExifTool", "System", "File", "Composite")


def _images() -> dict[str, bytes]:
    images = {
        "phone.jpg": media_path("photo_gps.jpg").read_bytes(),
        "rich.jpg": fx.rich_jpeg(),
        "rich_no_orientation.jpg": fx.rich_jpeg(orientation=None, trailer=False),
        "rich_orientation_3.jpg": fx.rich_jpeg(orientation=3),
        "thumbnail.jpg": fx.thumbnail_jpeg(),
        "progressive_restarts.jpg": hostile.progressive_jpeg_with_restarts(),
        "rich_rgba.png": fx.rich_png(),
        "rich_rgb.png": fx.rich_png(orientation=1, mode="RGB"),
        "rich_palette.png": fx.rich_png(orientation=8, mode="P"),
        "rich.webp": fx.rich_webp(),
        "rich_lossless.webp": fx.rich_webp(lossless=True),
        "rich_alpha.webp": fx.rich_webp(mode="RGBA"),
        "rich_lossless_alpha.webp": fx.rich_webp(lossless=True, mode="RGBA"),
    }
    images.update({name: make() for name, make in hostile.HOSTILE.items()})
    return images


@pytest.fixture(scope="module")
def before(tmp_path_factory):
    """The old bifoga.media.metadata, as a package `bifoga_before`, or None without git history."""
    if shutil.which("git") is None:
        return None
    root = tmp_path_factory.mktemp("before")
    package = root / "bifoga_before"
    package.mkdir()
    for name in _BEFORE_MODULES:
        proc = subprocess.run(["git", "show", BEFORE + ":bifoga/" + name + ".py"], cwd=REPO,
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            return None
        (package / (name + ".py")).write_text(proc.stdout.replace("bifoga.", "bifoga_before."))
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module("bifoga_before.metadata")
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m.startswith("bifoga_before")]:
            del sys.modules[name]


def frames(data: bytes) -> list[tuple[str, tuple[int, int], bytes]]:
    im = Image.open(io.BytesIO(data))
    return [(f.mode, f.size, f.convert("RGBA").tobytes()) for f in ImageSequence.Iterator(im)]


def exiftool_tags(paths: list[Path]) -> dict[str, set[str]]:
    proc = subprocess.run(["exiftool", "-j", "-ee", "-a", "-u", "-G1", *map(str, paths)],
                          capture_output=True, text=True, check=False, timeout=120)
    out = {}
    for record in json.loads(proc.stdout):
        out[Path(record["SourceFile"]).name] = {
            key for key in record
            if ":" in key and key.split(":")[0] not in _NOT_METADATA_GROUPS
            and not key.split(":")[0].startswith("File")}
    return out


def test_same_pixels_and_valid_images(before):
    for name, data in _images().items():
        out = metadata.strip(data).data
        assert frames(out) == frames(data), name
        Image.open(io.BytesIO(out)).verify()
        if before is not None and not name.endswith(".gif"):
            old = before.strip(data).data
            assert frames(out) == frames(old), name
            assert len(out) <= len(old), name


@pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool is missing")
def test_no_more_metadata_than_before(before, tmp_path):
    if before is None:
        pytest.skip("no git history: the old remover cannot be read")
    paths = []
    for name, data in _images().items():
        (tmp_path / ("new_" + name)).write_bytes(metadata.strip(data).data)
        (tmp_path / ("old_" + name)).write_bytes(before.strip(data).data)
        paths += [tmp_path / ("new_" + name), tmp_path / ("old_" + name)]
    tags = exiftool_tags(paths)
    assert {"IFD0:Orientation", "ICC-header:ProfileVersion"} <= tags["new_rich.jpg"]
    for name in _images():
        new, old = tags["new_" + name], tags["old_" + name]
        if name.endswith(".gif"):  # the old remover sent GIFs as they were
            assert new <= old and not any("XMP" in t or "Comment" in t for t in new), name
            continue
        assert new <= old, (name, new - old)
