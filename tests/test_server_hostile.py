"""The hostile corpus (tests/hostile/) against the real server app, over tus: every hostile
file is refused with its 4xx code, every plain control of each kind is stored (201). The
second stage (server.inspection: qpdf, oletools, ExifTool, libheif) is also run alone, without
the first-stage sniffer in front of it, so that each class is shown to be caught by the
reference parsers themselves."""

from __future__ import annotations

import time
from typing import Any

import pytest

from bifoga.media.sniff import classify
from server.errors import ApiError
from server.inspection import DOCUMENT_SECONDS, inspect_document, inspect_upload
from server.inspection.location import ExifToolFailed, ExifToolPool
from tests.conftest import VisitHandle
from tests.hostile import Case
from tests.hostile.documents import office_cases, pdf_cases
from tests.hostile.media import heic_photo, media_cases

DOCUMENTS: dict[str, Case] = {**pdf_cases(), **office_cases()}
_media: dict[str, Case] = {}


def media() -> dict[str, Case]:
    if not _media:  # ffmpeg and pillow-heif: made once, on first use
        _media.update(media_cases())
    return _media


ALL_MEDIA = [
    # names are listed here so that collection does not run ffmpeg
    "jpeg phone photo after the device's remover", "jpeg with plain XMP", "png plain",
    "webp plain", "gif plain", "gif with plain XMP", "heic plain", "mp4 plain",
    "jpeg GPS behind an IFD0 entry with a bad offset",
    "jpeg APP13 Photoshop block carrying Exif", "jpeg APP13 Photoshop block carrying XMP",
    "jpeg extended XMP split mid-word", "jpeg DJI drone-dji:GpsLatitude",
    "jpeg GPSDest* in the GPS IFD only", "jpeg GPSDest* in XMP only",
    "jpeg camera body serial only", "png eXIf GPS behind a bad offset",
    "png raw profile: hex XMP", "png raw profile: 8BIM with Exif",
    "webp simple format followed by an EXIF chunk",
    "webp simple format followed by an XMP chunk", "gif XMP with a position",
    "heic Exif GPS behind a bad offset", "heic XMP with a position",
    "heic deflate-compressed XMP item", "heic Exif item split over two extents",
    "heic 1,001 free boxes before ftyp", "heic 60000 px ispe", "mp4 GoPro GPMF GPS track",
    "mp4 \u00a9xyz under an avif compatible brand", "3gp loci under a mif1 compatible brand",
]


def assert_answer(r: Any, case: Case) -> None:
    if case.status == 201:
        assert r.status_code == 201, r.text
        assert r.json()["attachment"]["mime"] == case.code
    else:
        assert r.status_code == case.status, r.text
        assert r.json()["error"] in case.code.split("|"), r.text


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_documents_over_tus(name: str, visit: VisitHandle, send_attachment: Any) -> None:
    case = DOCUMENTS[name]
    assert_answer(send_attachment(visit, case.data, case.name), case)


def test_every_media_case_is_listed() -> None:
    assert sorted(media()) == sorted(ALL_MEDIA)


@pytest.mark.parametrize("name", ALL_MEDIA)
def test_media_over_tus(name: str, visit: VisitHandle, send_attachment: Any) -> None:
    case = media()[name]
    assert_answer(send_attachment(visit, case.data, case.name), case)


MIMES = {"pdf": "application/pdf", "rtf": "application/rtf",
         "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         "xls": "application/vnd.ms-excel", "odt": "application/vnd.oasis.opendocument.text"}


@pytest.mark.parametrize("name", sorted(n for n, c in DOCUMENTS.items()
                                        if c.code != "type_not_allowed"))
def test_documents_reference_parsers_alone(name: str) -> None:
    """The second stage on its own, given the type the name claims: the sniffer's verdict is
    not needed for a hostile document to be refused."""
    case = DOCUMENTS[name]
    mime = MIMES[case.name.rsplit(".", 1)[1]]
    deadline = time.monotonic() + DOCUMENT_SECONDS
    if case.status == 201:
        inspect_document(case.data, mime, deadline, 0)
    else:
        with pytest.raises(ApiError) as refused:
            inspect_document(case.data, mime, deadline, 0)
        assert refused.value.status == case.status
        assert refused.value.code == case.code.split("|")[0]


@pytest.mark.parametrize("name", ALL_MEDIA)
def test_media_reference_parsers_alone(name: str) -> None:
    """ExifTool (and libheif) alone find what the first stage's walk may miss."""
    case = media()[name]
    verdict = classify(case.data, case.name)
    if not verdict.ok:  # refused by the sniffer already (a 4xx, as the case expects)
        assert case.status != 201
        return
    if case.status == 201:
        inspect_upload(case.data, verdict.mime, verdict.category, 89_478_485)
    else:
        with pytest.raises(ApiError) as refused:
            inspect_upload(case.data, verdict.mime, verdict.category, 89_478_485)
        assert refused.value.code in case.code.split("|")


def test_a_hung_exiftool_is_killed_and_replaced() -> None:
    """An answer that does not come in time is a failure (the file is refused), the process
    is killed, and the next check gets a fresh one."""
    pool = ExifToolPool(workers=1, answer_seconds=0.0005)
    try:
        with pytest.raises(ExifToolFailed):
            pool.read(media()["mp4 GoPro GPMF GPS track"].data)
        pool.answer_seconds = 10
        assert pool.read(media()["mp4 GoPro GPMF GPS track"].data).carries_position
        assert not pool.read(heic_photo()).carries_position
    finally:
        pool.close()


def test_a_warmed_pool_has_exiftool_running_before_the_first_check() -> None:
    pool = ExifToolPool(workers=2)
    try:
        pool.warm()
        pool._launcher.submit(lambda: None).result(timeout=60)  # after the warm start
        assert [p.running for p in pool._all] == [True]
        assert not pool.read(heic_photo()).carries_position
        assert len(pool._all) == 1  # the check used the warm process, started no other
    finally:
        pool.close()


def test_exiftool_busy_is_a_retry_not_an_acceptance() -> None:
    pool = ExifToolPool(workers=1, wait_seconds=0.05)
    try:
        with pool._process():  # the only process, held
            from server.inspection.location import ExifToolUnavailable

            with pytest.raises(ExifToolUnavailable):
                pool.read(heic_photo())
    finally:
        pool.close()


def test_a_document_too_slow_to_check_is_refused_in_time(visit: VisitHandle,
                                                          send_attachment: Any) -> None:
    """10 MB of objects without a cross-reference table: qpdf rebuilds it object by object,
    which took about 40 s in the server's own thread. The check's child is killed in time and
    the document refused; the server answers other requests meanwhile."""
    data = b"%PDF-1.4\n" + b"".join(b"%d 0 obj <</A %d>> endobj\n" % (i, i)
                                    for i in range(1, 300_000))
    t0 = time.monotonic()
    r = send_attachment(visit, data, "slow.pdf")
    elapsed = time.monotonic() - t0
    assert (r.status_code, r.json()["error"]) == (415, "document_unreadable"), r.text
    assert elapsed < 15, elapsed  # the child is killed after 7 s; upload and transfer on top


def test_busy_exiftool_answers_429_and_keeps_the_upload(visit: VisitHandle, tus_upload: Any,
                                                        server_client: Any) -> None:
    """Every ExifTool process of the server busy: 429 with Retry-After (the browser retries),
    and the upload is kept, so the retry is stored."""
    from contextlib import ExitStack

    from server.inspection import location

    pool = location.pool()
    photo = media()["jpeg phone photo after the device's remover"].data
    upload_id = tus_upload(visit, photo, "IMG_0001.jpg").rsplit("/", 1)[1]
    wait, pool.wait_seconds = pool.wait_seconds, 0.05
    try:
        with ExitStack() as held:
            for _ in range(pool.workers):
                held.enter_context(pool._process())
            r = server_client.post(visit.url("/attachments"), headers=visit.patient,
                                   json={"upload_id": upload_id})
            assert r.status_code == 429, r.text
            assert r.headers["retry-after"] == "2"
    finally:
        pool.wait_seconds = wait
    r = server_client.post(visit.url("/attachments"), headers=visit.patient,
                           json={"upload_id": upload_id})
    assert r.status_code == 201, r.text


@pytest.mark.both_storages
@pytest.mark.parametrize("name", ["pdf with a link annotation (URI on a click)",
                                  "pdf encrypted (empty password), JavaScript in an object stream",
                                  "docx remote template (attachedTemplate)"])
def test_documents_on_both_storages(name: str, visit: VisitHandle, send_attachment: Any) -> None:
    case = DOCUMENTS[name]
    assert_answer(send_attachment(visit, case.data, case.name), case)
