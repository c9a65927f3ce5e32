"""Copy an image to the clipboard as image/png (the one image type the Clipboard API takes)."""

from pyscript import window
from pyscript.ffi import to_js


async def copy_image(img):
    """Draw the shown <img> at its natural size and put it on the clipboard as PNG."""
    width, height = int(img.naturalWidth), int(img.naturalHeight)
    if not width or not height:
        raise ValueError("image not loaded")
    canvas = window.OffscreenCanvas.new(width, height)
    canvas.getContext("2d").drawImage(img, 0, 0)
    blob = await canvas.convertToBlob(to_js({"type": "image/png"}))
    item = window.ClipboardItem.new(to_js({"image/png": blob}))
    await window.navigator.clipboard.write(to_js([item]))
