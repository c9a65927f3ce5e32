"""The still-image remover as the browser's light worker runs it: under MicroPython 1.27 (the
PyScript build, in node), bifoga.media.metadata.strip_source gives exactly the Plan CPython
gives."""

from __future__ import annotations

import binascii

import pytest

from bifoga.media import metadata
from bifoga.media.source import BytesSource
from tests import fixtures_images as fx
from tests import hostile_images as hostile
from tests.media import media_path
from tests.micropython_runner import (
    REPO,
    assert_fits_micropython,
    micropython_available,
    repo_files,
    run_micropython,
)

LIGHT_MODULES = ("source.py", "metadata.py", "meta_common.py", "meta_error.py",
                 "exif.py", "isobmff.py", "jpeg_meta.py", "png_meta.py", "webp_meta.py",
                 "gif_meta.py")


@pytest.mark.parametrize("name", LIGHT_MODULES)
def test_light_modules_avoid_what_micropython_lacks(name):
    imported = assert_fits_micropython(REPO / "bifoga" / "media" / name)
    # only each other and what MicroPython has; HEIF and film parsers are imported lazily
    allowed = {"bifoga.media." + m[:-3] for m in LIGHT_MODULES} | {"binascii", "struct"}
    allowed |= {"bifoga.media.heif_meta", "bifoga.media.film_meta", "bifoga.media.film_ebml",
                "bifoga.media.meta_location"} if name == "metadata.py" else set()
    assert imported <= allowed


def _cases() -> dict[str, bytes]:
    cases = {
        "phone.jpg": media_path("photo_gps.jpg").read_bytes(),
        "rich.jpg": fx.rich_jpeg(),
        "progressive.jpg": hostile.progressive_jpeg_with_restarts((1200, 900)),
        "rich.png": fx.rich_png(),
        "rich.webp": fx.rich_webp(),
        "lossless.webp": fx.rich_webp(lossless=True, mode="RGBA"),
        "meta.gif": hostile.gif_with_metadata(frames=3, tail=b"tail"),
    }
    cases.update({name: make() for name, make in hostile.HOSTILE.items()})
    broken = fx.rich_png()
    cases["bad_crc.png"] = broken[:60] + bytes((broken[60] ^ 1,)) + broken[61:]
    cases["cut.jpg"] = fx.rich_jpeg(trailer=False)[:-500]
    cases["cut.gif"] = cases["meta.gif"][:-40]
    return cases


_PROGRAM = """
import sys, binascii
sys.path.append('/')
from bifoga.media.metadata import strip_source, MetadataError
from bifoga.media.source import BytesSource
print(sys.implementation.name)
for name in NAMES:
    data = open('/cases/' + name, 'rb').read()
    for keep in (False, True):
        try:
            r = strip_source(BytesSource(data), keep)
        except MetadataError:
            print(name, keep, 'MetadataError')
            continue
        pieces = [p if p[0] == 'range' else ('bytes', binascii.hexlify(p[1]).decode())
                  for p in r.plan.pieces]
        print(name, keep, repr(pieces), repr(r.removed), repr(r.orientation))
from bifoga.media.metadata import LIGHT_FORMATS, detect_format
print('light formats:', all(detect_format(open('/cases/' + n, 'rb').read(64)) in LIGHT_FORMATS
                            for n in NAMES))
print('heavy parsers imported:', 'bifoga.media.heif_meta' in sys.modules,
      'bifoga.media.film_meta' in sys.modules)
"""


def _cpython_line(name: str, data: bytes, keep: bool) -> str:
    try:
        r = metadata.strip_source(BytesSource(data), keep)
    except metadata.MetadataError:
        return name + " " + str(keep) + " MetadataError"
    pieces = [p if p[0] == "range" else ("bytes", binascii.hexlify(p[1]).decode())
              for p in r.plan.pieces]
    return " ".join((name, str(keep), repr(pieces), repr(r.removed), repr(r.orientation)))


@pytest.mark.skipif(not micropython_available(),
                    reason="node or node_modules/@micropython/... is missing (npm ci)")
def test_micropython_plans_exactly_as_cpython():
    cases = _cases()
    files = repo_files(*("bifoga.media." + n[:-3] for n in LIGHT_MODULES))
    code = "NAMES = " + repr(sorted(cases)) + "\n" + _PROGRAM
    out = run_micropython(code, files, timeout=180, binary_files={
        "/cases/" + n: d for n, d in cases.items()}).splitlines()
    assert out[0] == "micropython"
    expected = [_cpython_line(n, cases[n], keep) for n in sorted(cases) for keep in (False, True)]
    assert out[1:-2] == expected
    assert out[-2] == "light formats: True"
    assert out[-1] == "heavy parsers imported: False False"
    assert any(line.endswith("MetadataError") for line in expected)
