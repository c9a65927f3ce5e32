"""Scan-bomb JPEGs: refused from their headers, and a slow image check never
holds up ordinary photos of other visits."""

from __future__ import annotations

import asyncio
import io
import time
from typing import Any

import httpx
import pytest
from PIL import Image

from server.app import create_app
from server.images import (
    MAX_JPEG_SCANS,
    MAX_JPEG_STEPS,
    ImageDoesNotDecode,
    check_image,
    jpeg_scan_count,
    precheck,
)
from tests.conftest import VisitHandle, tus_metadata
from tests.hostile.media import heic_photo as small_heic


def _scan_end(data: bytes, sos: int) -> int:
    """Where the scan starting at `sos` (its FFDA) ends: the next marker that is not RST."""
    i = sos + 2 + int.from_bytes(data[sos + 2:sos + 4], "big")
    while True:
        i = data.index(b"\xff", i)
        if data[i + 1] == 0 or 0xD0 <= data[i + 1] <= 0xD7:
            i += 2
            continue
        return i


def scan_bomb(side: int = 2000, scans: int = 5000) -> bytes:
    """A progressive greyscale JPEG of one grey whose last AC scan (about 30 bytes: one
    end-of-band run over every block) is repeated `scans` times. libjpeg only warns; each
    repeat costs a pass over the whole picture."""
    out = io.BytesIO()
    Image.new("L", (side, side), 128).save(out, "JPEG", progressive=True, quality=90)
    data = out.getvalue()
    last = data.rindex(b"\xff\xda")
    end = _scan_end(data, last)
    return data[:end] + data[last:end] * scans + data[end:]


def photo(seed: int, size: tuple[int, int] = (1024, 768), **save: Any) -> bytes:
    noise = Image.effect_noise(size, 40 + seed)
    im = Image.merge("RGB", (noise, noise.rotate(90, expand=False), noise.transpose(0)))
    out = io.BytesIO()
    im.save(out, "JPEG", quality=85, **save)
    return out.getvalue()


def test_scan_counts_of_ordinary_jpegs() -> None:
    assert jpeg_scan_count(photo(1)) == 1
    assert jpeg_scan_count(photo(1, progressive=True)) == 10
    assert jpeg_scan_count(photo(1, progressive=True, restart_marker_rows=1)) == 10
    assert jpeg_scan_count(scan_bomb(64, 100), 10**6) == 100 + 6
    # Stops at EOI: a preview appended after the picture (MPF) is another picture.
    assert jpeg_scan_count(photo(1) + photo(2)) == 1


@pytest.mark.parametrize("data", [
    b"\xff\xd8\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00" + b"\xff" * 5_000_000,  # fill
    b"\xff\xd8" + b"\xff\xe0\x00\x02" * 2_500_000,  # 2.5 million empty segments
    b"\xff\xd8" + b"\xff" * 10_000_000,
])
def test_scan_count_is_cheap_on_hostile_markers(data: bytes) -> None:
    t0 = time.monotonic()
    jpeg_scan_count(data)
    # Generous: well under a second (a backtracking pattern took 9 s for 20,000 FF bytes,
    # the unbounded segment walk 8 s).
    assert time.monotonic() - t0 < 5


@pytest.mark.parametrize("scans", [MAX_JPEG_SCANS, 200, 50_000])
def test_scan_bomb_refused_before_decoding(scans: int) -> None:
    bomb = scan_bomb(2000, scans - 6)
    # Counting stops after MAX_JPEG_SCANS + 1 scans, or after MAX_JPEG_STEPS segments.
    assert jpeg_scan_count(bomb) == min(scans, MAX_JPEG_SCANS + 1)
    if scans <= MAX_JPEG_STEPS:
        assert jpeg_scan_count(bomb, 10**6) == scans
    if scans <= MAX_JPEG_SCANS:
        # Legal, and 4 MP x 32 scans is still an ordinary check.
        assert precheck(bomb, "image/jpeg", 89_478_485) is False
        return
    t0 = time.monotonic()
    with pytest.raises(ImageDoesNotDecode, match="scans"):
        precheck(bomb, "image/jpeg", 89_478_485)
    with pytest.raises(ImageDoesNotDecode):
        check_image(bomb, "image/jpeg", 89_478_485)
    assert time.monotonic() - t0 < 10  # header reads: milliseconds (decoding took minutes)


def test_heavy_checks_take_their_own_lane() -> None:
    assert precheck(photo(1), "image/jpeg", 89_478_485) is False
    assert precheck(photo(1, progressive=True), "image/jpeg", 89_478_485) is False
    assert precheck(scan_bomb(2000, 10), "image/jpeg", 89_478_485) is False  # 4 MP x 16
    assert precheck(scan_bomb(3000, MAX_JPEG_SCANS - 6), "image/jpeg", 89_478_485) is True
    big = io.BytesIO()
    Image.new("L", (5000, 5000), 128).save(big, "JPEG")  # 25 MP baseline
    assert precheck(big.getvalue(), "image/jpeg", 89_478_485) is True
    assert precheck(small_heic(), "image/heic", 89_478_485) is False  # libheif, light lane


async def as_a_client_would(request: Any) -> httpx.Response:
    """The request, again after a 429 (each role may write only a few uploads at once), after
    the Retry-After the server gives, as bifoga.transfer.retry does."""
    while True:
        r = await request()
        if r.status_code != 429:
            return r
        await asyncio.sleep(float(r.headers.get("retry-after", "1")))


def test_two_scan_bombs_do_not_hold_up_twenty_photos(server_settings: Any) -> None:
    """Two bombs (in two visits) and 20 ordinary photos (in four others) at the same time:
    the bombs are refused with 415 at once, every photo is accepted. Was: the bombs were
    accepted after minutes of decoding, holding both image-check slots meanwhile."""
    app = create_app(server_settings)
    bombs = [scan_bomb(4000, 2000), scan_bomb(4000, 2000)]
    photos = [photo(i) for i in range(20)]

    async def send(client: httpx.AsyncClient, visit: VisitHandle, data: bytes,
                   name: str) -> tuple[int, str, float]:
        created = await client.post(visit.url("/uploads"), headers=visit.headers(
            Tus_Resumable="1.0.0", Upload_Length=str(len(data)),
            Upload_Metadata=tus_metadata(filename=name, filetype="image/jpeg")))
        location = created.headers["location"]
        r = await as_a_client_would(lambda: client.patch(location, content=data,
                                                         headers=visit.headers(
            Tus_Resumable="1.0.0", Upload_Offset="0",
            Content_Type="application/offset+octet-stream")))
        assert r.status_code == 204, r.text
        t0 = time.monotonic()
        r = await as_a_client_would(lambda: client.post(
            visit.url("/attachments"), headers=visit.patient,
            json={"upload_id": location.rsplit("/", 1)[1]}))
        return r.status_code, r.json().get("error", ""), time.monotonic() - t0

    async def scenario() -> tuple[list[Any], list[Any]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t",
                                     timeout=300) as client:
            visits = [VisitHandle((await client.post("/api/visits", json={})).json())
                      for _ in range(6)]
            bomb_runs = [send(client, visits[i], b, f"bomb{i}.jpg") for i, b in enumerate(bombs)]
            photo_runs = [send(client, visits[2 + i % 4], p, f"photo{i}.jpg")
                          for i, p in enumerate(photos)]
            results = await asyncio.gather(*bomb_runs, *photo_runs)
        return results[:2], results[2:]

    bomb_results, photo_results = asyncio.run(scenario())
    times = sorted(t for _, _, t in photo_results)
    print(f"\nscan bombs: {[(s, e, round(t, 3)) for s, e, t in bomb_results]}")
    print(f"20 ordinary photos, finalisation seconds: min {times[0]:.3f} "
          f"median {times[10]:.3f} max {times[-1]:.3f}")
    assert [(s, e) for s, e, _ in bomb_results] == [(415, "image_does_not_decode")] * 2
    assert [s for s, _, _ in photo_results] == [201] * 20
    # Generous: the bombs are refused from their headers (milliseconds), not decoded.
    assert max(t for _, _, t in bomb_results) < 30
