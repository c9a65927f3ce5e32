"""HEIC/HEIF decoding in the Pyodide worker, with libheif-js (Emscripten's build of libheif).

Browser glue only (imports js): the worker calls `decode_heic(data)` when a HEIC is picked and
gets the primary image's pixels, upright (libheif applies the file's irot/imir/clap, which is
how HEIF stores orientation), as RGBA. Pillow then makes the JPEG. libheif-js is served by
Bifoga itself from static/vendor/libheif-<version>/ (scripts/vendor_runtime.py copies it from
node_modules) and loaded on the first call only: nothing of it is fetched at start-up.

Cost, measured in Chromium (docs/heic-decoder.md): about 0.5 MB fetched (gzip) once, then the
decode of a 12 MP photo.
"""

import js
from pyodide.ffi import to_js

LIBHEIF_VERSION = "1.23.2"
LIBHEIF_DIR = f"/static/vendor/libheif-{LIBHEIF_VERSION}/"

# libheif.js is a classic script (UMD); a module worker cannot importScripts it, so it is run
# through Function (the CSP allows it for Pyodide already). The wasm is compiled streaming.
_LOADER = """
const source = await (await fetch(base + "libheif.js")).text();
const factory = new Function(source + "\\nreturn libheif;")();
return await new Promise((resolve, reject) => {
  // Emscripten fills in and returns this very object: the module.
  const module = {
    locateFile: (path) => base + path,
    onRuntimeInitialized: () => resolve(module),
    onAbort: (what) => reject(new Error("libheif: " + what)),
    print: () => {}, printErr: () => {},
  };
  factory(module);
});
"""

_libheif = None  # the promise of the initialised module, made on the first HEIC


class HeicError(ValueError):
    """The file is not a HEIC/HEIF libheif can decode."""


def _absolute(path):
    return str(js.URL.new(path, js.location.origin).href)


async def load_libheif():
    """libheif-js, fetched and compiled once, on first need."""
    global _libheif
    if _libheif is None:
        async_function = js.Function("return (async function () {}).constructor")()
        _libheif = async_function.new("base", _LOADER)(_absolute(LIBHEIF_DIR))
    return await _libheif


async def decode_heic(data):
    """(rgba bytes, width, height) of the primary image of a HEIC/HEIF file's bytes."""
    lib = await load_libheif()
    decoder = lib.HeifDecoder.new()
    images = decoder.decode(to_js(bytes(data)))
    try:
        if not images.length:
            raise HeicError("no image in this HEIF file")
        primary = next((im for im in images if im.is_primary()), images[0])
        decoded = lib.heif_js_decode_image2(primary.handle, lib.heif_colorspace.heif_colorspace_RGB,
                                            lib.heif_chroma.heif_chroma_interleaved_RGBA)
        if hasattr(decoded, "then"):
            decoded = await decoded
        if not decoded or getattr(decoded, "code", 0):
            raise HeicError("libheif could not decode the image")
        try:
            channel = next(c for c in decoded.channels
                           if c.id == lib.heif_channel.heif_channel_interleaved)
            width, height, stride = int(channel.width), int(channel.height), int(channel.stride)
            pixels = channel.data.to_bytes()
        finally:
            lib.heif_image_release(decoded.image)
    finally:
        for image in images:
            image.free()
        if decoder.decoder:
            lib.heif_context_free(decoder.decoder)
    row = width * 4
    if stride != row:
        view = memoryview(pixels)
        pixels = b"".join(view[y * stride:y * stride + row] for y in range(height))
    return pixels, width, height
