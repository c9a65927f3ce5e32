"""`python -m bench.finalise`: what the server's second look costs at finalisation.

An ordinary phone photo of about 3 MB (4.3 MP, as the app sends it: metadata removed by
bifoga.media.metadata.strip) is uploaded over tus to the real app (in process, httpx's ASGI
transport) and finalised again and again, alternately with the first stage only (the sniffer,
the metadata walk, Pillow's decode: the checks before server.inspection) and with everything
(plus ExifTool and the rest of server.inspection). Only POST /attachments is timed. Prints the
medians and their ratio (target: at most 1.5x), as JSON and as a line of text.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import logging
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import piexif
from PIL import Image

TARGET_BYTES = 3_000_000
RATIO_TARGET = 1.5


def phone_photo(target: int = TARGET_BYTES) -> bytes:
    """A 2400x1800 photo with structure and sensor-like noise, EXIF with a GPS position,
    saved at the quality that lands nearest `target`, then stripped as the app does."""
    from bifoga.media.metadata import strip

    w, h = 2400, 1800
    rng = random.Random(3)
    gradient = Image.linear_gradient("L").resize((w, h))
    noise = Image.frombytes("L", (w, h), rng.randbytes(w * h))
    picture = Image.merge("RGB", (gradient, Image.blend(noise, gradient, 0.5), noise))
    exif = piexif.dump({
        "0th": {piexif.ImageIFD.Make: b"Google", piexif.ImageIFD.Model: b"Pixel 8",
                piexif.ImageIFD.Orientation: 6},
        "GPS": {piexif.GPSIFD.GPSLatitudeRef: b"N",
                piexif.GPSIFD.GPSLatitude: ((59, 1), (19, 1), (48, 1)),
                piexif.GPSIFD.GPSLongitudeRef: b"E",
                piexif.GPSIFD.GPSLongitude: ((18, 1), (3, 1), (36, 1))}})
    best = b""
    for quality in (80, 85, 88, 90, 92, 94):
        out = io.BytesIO()
        picture.save(out, "JPEG", quality=quality, exif=exif)
        if not best or abs(out.tell() - target) < abs(len(best) - target):
            best = out.getvalue()
    return strip(best).data


async def _finalise_times(photo: bytes, rounds: int) -> dict[str, list[float]]:
    import server.api
    from server.app import create_app
    from server.config import Settings

    second_look = server.api.inspect_upload

    def first_stage_only(*_: Any) -> None:
        return None

    times: dict[str, list[float]] = {"first_stage": [], "with_reference_parsers": []}
    logging.getLogger("bifoga.server").setLevel(logging.ERROR)  # the demo visit's links
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(Settings(data_dir=Path(folder), demo=True, rate_limit_enabled=False,
                                  min_free_bytes=0))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench",
                                         timeout=60) as client:
                visit = (await client.post("/api/visits", json={})).json()
                auth = {"Authorization": f"Bearer {visit['patient_token']}"}
                base = f"/api/visits/{visit['visit_id']}"

                async def once() -> float:
                    created = await client.post(f"{base}/uploads", headers={
                        **auth, "Tus-Resumable": "1.0.0", "Upload-Length": str(len(photo)),
                        "Upload-Metadata": "filename SU1HXzAwMDEuanBn"})
                    location = created.headers["location"]
                    await client.patch(location, content=photo, headers={
                        **auth, "Tus-Resumable": "1.0.0", "Upload-Offset": "0",
                        "Content-Type": "application/offset+octet-stream"})
                    t0 = time.perf_counter()
                    r = await client.post(f"{base}/attachments", headers=auth,
                                          json={"upload_id": location.rsplit("/", 1)[1]})
                    elapsed = time.perf_counter() - t0
                    if r.status_code != 201:
                        raise RuntimeError(f"finalisation answered {r.status_code}: {r.text}")
                    return elapsed

                await once()  # warm-up: ExifTool's start, imports, caches
                for i in range(2 * rounds):
                    first = i % 2 == 0
                    server.api.inspect_upload = first_stage_only if first else second_look
                    try:
                        t = await once()
                    finally:
                        server.api.inspect_upload = second_look
                    times["first_stage" if first else "with_reference_parsers"].append(t)
    return times


def measure(rounds: int = 15) -> dict[str, Any]:
    photo = phone_photo()
    times = asyncio.run(_finalise_times(photo, rounds))
    before = statistics.median(times["first_stage"])
    after = statistics.median(times["with_reference_parsers"])
    return {
        "photo_bytes": len(photo),
        "rounds": rounds,
        "first_stage_ms": round(before * 1000, 1),
        "with_reference_parsers_ms": round(after * 1000, 1),
        "ratio": round(after / before, 2),
        "target_ratio": RATIO_TARGET,
        "met": after / before <= RATIO_TARGET,
        "all_ms": {k: [round(x * 1000, 1) for x in v] for k, v in times.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.finalise",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="finalisations of each kind")
    args = parser.parse_args(argv)
    result = measure(args.rounds)
    print(json.dumps({k: v for k, v in result.items() if k != "all_ms"}, indent=2))
    print(summary(result))
    return 0


def summary(result: dict[str, Any]) -> str:
    return (f"Server finalisation of a {result['photo_bytes']:,} byte phone photo (median of "
            f"{result['rounds']}): {result['first_stage_ms']} ms with the first stage only, "
            f"{result['with_reference_parsers_ms']} ms with the reference parsers: "
            f"{result['ratio']}x (target <= {RATIO_TARGET}x)")


if __name__ == "__main__":
    sys.exit(main())
