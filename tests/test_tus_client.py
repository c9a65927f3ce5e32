"""Tests of bifoga.transfer.tus_client: unit tests on an in-memory fake server with a simulated
clock, then integration tests against the real reference server (``python -m server``)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import random
import time
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bifoga.transfer.tus_client import (
    Response,
    TusError,
    Upload,
    decode_metadata,
    encode_metadata,
    parse_offset,
)
from tests.live_server import (
    CuttingProxy,
    Recorder,
    ServerProcess,
    Visit,
    pdf_like,
    run_async,
)
from tests.media import media_path
from tests.micropython_runner import (
    REPO,
    assert_fits_micropython,
    micropython_available,
    repo_files,
    run_micropython,
)
from tests.tus_io import Drop, FakeClock, Hang, HttpxTusIO, MemoryTusIO

ROOT = Path(__file__).resolve().parent.parent

ENDPOINT = "https://care.example/api/visits/v1/uploads"
AUTH = {"Authorization": "Bearer secret-token"}
SCHEDULE_TO_GIVE_UP = [0.5, 1, 3, 5] + [10] * 11 + [0.5]  # last wait cut to hit 120 s exactly


def run(coro):
    return run_async(coro)  # asyncio.run in a thread of its own (see tests/live_server.py)


def blob(n: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(n)


def make_upload(io: MemoryTusIO, rec: Recorder | None = None, **kw) -> Upload:
    rec = rec or Recorder()
    kw.setdefault("metadata", {"filename": "Remiss åäö.pdf", "filetype": "application/pdf"})
    kw.setdefault("headers", AUTH)
    return Upload(
        io,
        ENDPOINT,
        len(io.file_bytes),
        on_progress=rec.on_progress,
        on_state=rec.on_state,
        **kw,
    )


def only_upload(io: MemoryTusIO):
    assert len(io.uploads) == 1
    return next(iter(io.uploads.values()))


# =============================================================== helpers


def test_encode_metadata_non_ascii_filename():
    value = encode_metadata({"filename": "Remiss åäö.pdf", "filetype": "application/pdf"})
    name_b64 = base64.b64encode("Remiss åäö.pdf".encode()).decode()
    assert value == f"filename {name_b64},filetype {base64.b64encode(b'application/pdf').decode()}"
    assert value.isascii()
    assert decode_metadata(value) == {"filename": "Remiss åäö.pdf", "filetype": "application/pdf"}


def test_encode_metadata_empty_value_and_empty_dict():
    assert encode_metadata({}) == ""
    assert encode_metadata({"is_confidential": ""}) == "is_confidential"
    assert decode_metadata("is_confidential") == {"is_confidential": ""}


@pytest.mark.parametrize("key", ["", "file name", "a,b", "filnamn_ä", "tab\tkey"])
def test_encode_metadata_rejects_bad_keys(key):
    with pytest.raises(ValueError):
        encode_metadata({key: "x"})


@given(
    st.dictionaries(
        st.text(
            alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=","),
            min_size=1,
            max_size=20,
        ),
        st.text(max_size=60),
        max_size=5,
    )
)
def test_metadata_round_trip(d):
    assert decode_metadata(encode_metadata(d)) == d


@pytest.mark.parametrize(
    "headers,expected",
    [
        ({"upload-offset": "0"}, 0),
        ({"upload-offset": "10485760"}, 10485760),
        ({"Upload-Offset": "42"}, 42),
        ({"UPLOAD-OFFSET": " 7 "}, 7),
    ],
)
def test_parse_offset(headers, expected):
    assert parse_offset(headers) == expected


@pytest.mark.parametrize("value", ["", "-1", "1.5", "abc", "+3", "0x10", "１２", "1 2", "9" * 30])
def test_parse_offset_rejects_garbage(value):
    with pytest.raises(TusError) as err:
        parse_offset({"upload-offset": value})
    assert err.value.code == "protocol"


def test_parse_offset_missing():
    with pytest.raises(TusError) as err:
        parse_offset({"upload-length": "5"})
    assert err.value.code == "protocol"


@given(st.integers(min_value=0, max_value=2**63))
def test_parse_offset_round_trip(n):
    assert parse_offset({"upload-offset": str(n)}) == n


# =============================================================== unit: happy paths


def test_single_patch_by_default():
    data = blob(3 * 1024 * 1024 + 17)
    io = MemoryTusIO(data)
    rec = Recorder()
    up = make_upload(io, rec)
    url = run(up.start())
    assert url == "https://care.example/api/visits/v1/uploads/u1"  # relative Location resolved
    assert up.url == url and up.offset == len(data)
    assert io.methods() == ["POST", "PATCH"]
    post, patch = io.log
    assert post[2]["Tus-Resumable"] == "1.0.0"
    assert post[2]["Authorization"] == "Bearer secret-token"
    assert post[2]["Upload-Length"] == str(len(data))
    assert decode_metadata(post[2]["Upload-Metadata"])["filename"] == "Remiss åäö.pdf"
    assert patch[3] == (0, len(data))
    assert patch[2]["Upload-Offset"] == "0"
    assert patch[2]["Authorization"] == "Bearer secret-token"
    assert only_upload(io).data == data
    assert only_upload(io).metadata["filename"] == "Remiss åäö.pdf"
    assert rec.states == ["uploading", "done"]
    assert rec.progress[0] == (0, len(data)) and rec.progress[-1] == (len(data), len(data))
    assert len(rec.progress) > 10  # progress within the PATCH, not only at its end
    assert io.sleeps == []


def test_chunked_when_chunk_size_set():
    mib = 1024 * 1024
    data = blob(2 * mib + mib // 2)
    io = MemoryTusIO(data)
    up = make_upload(io, chunk_size=mib)
    run(up.start())
    assert [e[3] for e in io.log if e[0] == "PATCH"] == [
        (0, mib),
        (mib, 2 * mib),
        (2 * mib, 2 * mib + mib // 2),
    ]
    assert [e[2]["Upload-Offset"] for e in io.log if e[0] == "PATCH"] == ["0", "1048576", "2097152"]
    assert only_upload(io).data == data


def test_empty_file_needs_no_patch():
    io = MemoryTusIO(b"")
    rec = Recorder()
    run(make_upload(io, rec).start())
    assert io.methods() == ["POST"]
    assert rec.progress == [(0, 0)]
    assert rec.states == ["uploading", "done"]


def test_caller_cannot_override_protocol_headers():
    io = MemoryTusIO(blob(1000))
    up = make_upload(io, headers={**AUTH, "tus-resumable": "0.2.2", "Upload-Offset": "99"})
    run(up.start())
    for _, _, headers, _ in io.log:
        assert headers["Tus-Resumable"] == "1.0.0"
        assert "tus-resumable" not in headers
    assert io.log[1][2]["Upload-Offset"] == "0"


def test_resume_with_url_of_existing_upload():
    data = blob(700_000)
    io = MemoryTusIO(data)
    first = make_upload(io, chunk_size=300_000)
    io.script["PATCH"].extend([None, Hang()])  # 1st chunk goes through, 2nd never answers

    async def first_half():
        task = asyncio.ensure_future(first.start())
        while io.script["PATCH"]:  # until the 2nd PATCH hangs
            await asyncio.sleep(0)
        task.cancel()  # the page is closed: no DELETE
        with pytest.raises(asyncio.CancelledError):
            await task

    run(first_half())
    assert first.state == "failed"  # stopped, not terminated: no DELETE
    assert "DELETE" not in io.methods()
    assert len(only_upload(io).data) == 300_000
    io.log.clear()
    rec = Recorder()
    second = make_upload(io, rec, url=first.url)
    assert run(second.start()) == first.url
    assert io.methods() == ["HEAD", "PATCH"]
    assert io.log[1][3] == (300_000, 700_000)
    assert only_upload(io).data == data
    assert rec.progress[0] == (300_000, 700_000)
    assert rec.states == ["uploading", "done"]


# =============================================================== unit: failures and retries


def test_retry_schedule_then_gives_up_after_120_s():
    io = MemoryTusIO(blob(5000))
    io.down_until = float("inf")
    rec = Recorder()
    up = make_upload(io, rec)
    t0 = io.now()
    with pytest.raises(TusError) as err:
        run(up.start())
    assert err.value.code == "gave_up"
    assert io.sleeps == SCHEDULE_TO_GIVE_UP
    assert sum(io.sleeps) == 120
    assert io.now() - t0 == 120
    assert io.methods() == ["POST"] * (len(SCHEDULE_TO_GIVE_UP) + 1)  # last try at exactly 120 s
    assert rec.states == ["uploading", "reconnecting", "failed"]


def test_give_up_counts_time_spent_in_requests():
    io = MemoryTusIO(blob(5000), latency=20.0)  # every failing request takes 20 s
    io.down_until = float("inf")
    with pytest.raises(TusError) as err:
        run(make_upload(io).start())
    assert err.value.code == "gave_up"
    # the streak starts when the first POST fails (t=20); then: sleep .5, fail at 40.5 (20.5 s
    # into the streak), sleep 1, fail 41.5, sleep 3, fail 64.5, sleep 5, fail 89.5, sleep 10,
    # fail 119.5, sleep the remaining .5, fail 140 -> give up
    assert io.sleeps == [0.5, 1, 3, 5, 10, 0.5]


def test_custom_schedule():
    io = MemoryTusIO(blob(10))
    io.down_until = float("inf")
    up = make_upload(io, retry_delays=(1, 2), retry_every=4, give_up_after=15)
    with pytest.raises(TusError):
        run(up.start())
    assert io.sleeps == [1, 2, 4, 4, 4]


def test_network_back_before_giving_up():
    data = blob(200_000)
    io = MemoryTusIO(data)
    io.down_until = io.now() + 20
    rec = Recorder()
    run(make_upload(io, rec).start())
    assert io.sleeps == [0.5, 1, 3, 5, 10, 10]
    assert only_upload(io).data == data
    assert rec.states == ["uploading", "reconnecting", "uploading", "done"]


def test_resumes_from_head_offset_after_drop():
    data = blob(1_000_000)
    io = MemoryTusIO(data)
    io.script["PATCH"].append(Drop(after=400_000, kept=262_144))
    rec = Recorder()
    run(make_upload(io, rec).start())
    assert io.methods() == ["POST", "PATCH", "HEAD", "PATCH"]
    assert [e[3] for e in io.log if e[0] == "PATCH"] == [(0, 1_000_000), (262_144, 1_000_000)]
    assert io.sleeps == [0.5]
    assert only_upload(io).data == data
    assert rec.states == ["uploading", "reconnecting", "uploading", "done"]
    values = [n for n, _ in rec.progress]
    assert values == sorted(values) and values[-1] == len(data)
    assert 400_000 in values  # sent bytes were reported, then held until passed again


def test_lost_response_after_last_byte_needs_no_second_patch():
    data = blob(100_000)
    io = MemoryTusIO(data)
    io.script["PATCH"].append(Drop(after=100_000))  # server has it all, the 204 is lost
    run(make_upload(io).start())
    assert io.methods() == ["POST", "PATCH", "HEAD"]
    assert only_upload(io).data == data


def test_schedule_resets_after_progress():
    data = blob(1_000_000)
    io = MemoryTusIO(data)
    io.script["PATCH"].extend([Drop(after=300_000), Drop(after=300_000), Drop(after=300_000)])
    run(make_upload(io).start())
    assert io.sleeps == [0.5, 0.5, 0.5]
    assert only_upload(io).data == data


def test_no_reset_while_server_answers_head_but_patch_fails():
    io = MemoryTusIO(blob(1000))
    io.script["PATCH"].extend(Response(500) for _ in range(100))
    rec = Recorder()
    with pytest.raises(TusError) as err:
        run(make_upload(io, rec).start())
    assert err.value.code == "gave_up" and err.value.status == 500
    assert io.sleeps == SCHEDULE_TO_GIVE_UP
    assert rec.states[-1] == "failed"
    assert "reconnecting" in rec.states and rec.states.count("uploading") > 2


@pytest.mark.parametrize("status", [500, 502, 503, 504, 423, 408, 429])
def test_transient_statuses_are_retried(status):
    data = blob(5000)
    io = MemoryTusIO(data)
    io.script["POST"].append(Response(status))
    io.script["PATCH"].append(Response(status))
    io.script["HEAD"].append(Response(status))
    run(make_upload(io).start())
    assert io.methods() == ["POST", "POST", "PATCH", "HEAD", "HEAD", "PATCH"]
    assert io.sleeps == [0.5, 0.5, 1]
    assert only_upload(io).data == data


def test_os_errors_are_retried():
    io = MemoryTusIO(blob(5000))
    io.script["POST"].extend([TimeoutError("timed out"), OSError("unreachable")])
    run(make_upload(io).start())
    assert io.sleeps == [0.5, 1]


def test_retry_after_lengthens_a_wait():
    io = MemoryTusIO(blob(5000))
    io.script["POST"].append(Response(429, {"retry-after": "7"}))
    io.script["POST"].append(Response(503, {"retry-after": "1000"}))  # capped by the deadline
    run(make_upload(io).start())
    assert io.sleeps == [7, 113]


def test_409_offset_mismatch_resyncs_via_head():
    data = blob(50_000)
    io = MemoryTusIO(data)
    io.script["PATCH"].append(Response(409, {}, b'{"error": "offset_mismatch"}'))
    run(make_upload(io).start())
    assert io.methods() == ["POST", "PATCH", "HEAD", "PATCH"]
    assert io.sleeps == [0.5]
    assert only_upload(io).data == data


def test_409_with_other_code_is_permanent():
    io = MemoryTusIO(blob(50_000))
    io.script["PATCH"].append(Response(409, {}, b'{"error": "visit_ended", "message": "ended"}'))
    with pytest.raises(TusError) as err:
        run(make_upload(io).start())
    assert (err.value.code, err.value.status, str(err.value)) == ("visit_ended", 409, "ended")
    assert io.sleeps == []


def test_413_at_creation_is_too_large():
    io = MemoryTusIO(blob(2000), max_size=1000)
    rec = Recorder()
    with pytest.raises(TusError) as err:
        run(make_upload(io, rec).start())
    assert (err.value.code, err.value.status) == ("too_large", 413)
    assert io.methods() == ["POST"] and io.sleeps == []
    assert rec.states == ["uploading", "failed"]


@pytest.mark.parametrize(
    "body,code",
    [
        (
            b'{"error": "audio_not_allowed", "message": "Ljud kan inte skickas"}',
            "audio_not_allowed",
        ),
        (b'{"error": "type_not_allowed", "message": "no"}', "type_not_allowed"),
        (b"", "type_not_allowed"),
        (b"<html>Unsupported</html>", "type_not_allowed"),
    ],
)
def test_415_at_creation(body, code):
    io = MemoryTusIO(blob(10))
    io.script["POST"].append(Response(415, {"content-type": "application/json"}, body))
    with pytest.raises(TusError) as err:
        run(make_upload(io).start())
    assert (err.value.code, err.value.status) == (code, 415)
    assert io.methods() == ["POST"]


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_insufficient_storage_507_is_permanent(method):
    io = MemoryTusIO(blob(10))
    io.script[method].append(Response(507, {}, b'{"error": "insufficient_storage"}'))
    with pytest.raises(TusError) as err:
        run(make_upload(io).start())
    assert (err.value.code, err.value.status) == ("insufficient_storage", 507)
    assert io.sleeps == []


def test_too_many_uploads_429_is_permanent():
    io = MemoryTusIO(blob(10))
    io.script["POST"].append(Response(429, {}, b'{"error": "too_many_uploads"}'))
    with pytest.raises(TusError) as err:
        run(make_upload(io).start())
    assert (err.value.code, err.value.status) == ("too_many_uploads", 429)
    assert io.sleeps == []


@pytest.mark.parametrize(
    "status,code",
    [(401, "unauthorized"), (403, "forbidden"), (404, "not_found"), (400, "bad_request")],
)
def test_auth_and_client_errors_are_not_retried(status, code):
    io = MemoryTusIO(blob(10))
    io.script["POST"].append(Response(status))
    with pytest.raises(TusError) as err:
        run(make_upload(io).start())
    assert (err.value.code, err.value.status) == (code, status)
    assert io.methods() == ["POST"] and io.sleeps == []


def test_unknown_4xx_uses_body_code_or_status():
    io = MemoryTusIO(blob(10))
    io.script["POST"].append(Response(422, {}, b'{"error": "bad_metadata"}'))
    with pytest.raises(TusError) as err:
        run(make_upload(io).start())
    assert err.value.code == "bad_metadata"
    io.script["POST"].append(Response(418))
    with pytest.raises(TusError) as err:
        run(make_upload(io).start())
    assert err.value.code == "http_418"


@pytest.mark.parametrize("status", [404, 410])
def test_head_gone(status):
    io = MemoryTusIO(blob(10))
    io.script["HEAD"].append(Response(status))
    up = make_upload(io, url=ENDPOINT + "/expired")
    with pytest.raises(TusError) as err:
        run(up.start())
    assert (err.value.code, err.value.status) == ("gone", status)


def test_upload_expired_during_reconnect_is_gone():
    io = MemoryTusIO(blob(100_000))
    io.script["PATCH"].append(ConnectionError("reset"))
    io.script["HEAD"].append(Response(410))
    with pytest.raises(TusError) as err:
        run(make_upload(io).start())
    assert err.value.code == "gone"


def test_unauthorized_on_patch_not_retried():
    io = MemoryTusIO(blob(100))
    io.script["PATCH"].append(Response(401, {}, b'{"error": "unauthorized"}'))
    with pytest.raises(TusError) as err:
        run(make_upload(io).start())
    assert err.value.code == "unauthorized" and io.sleeps == []


@pytest.mark.parametrize(
    "method,resp",
    [
        ("POST", Response(201, {})),  # no Location
        ("PATCH", Response(204, {})),  # no Upload-Offset
        ("PATCH", Response(204, {"upload-offset": "0"})),  # no progress
        ("PATCH", Response(204, {"upload-offset": "999999"})),  # past the end
    ],
)
def test_protocol_errors(method, resp):
    io = MemoryTusIO(blob(100))
    io.script[method].append(resp)
    with pytest.raises(TusError) as err:
        run(make_upload(io).start())
    assert err.value.code == "protocol"


def test_head_length_mismatch_is_protocol_error():
    io = MemoryTusIO(blob(100))
    io.script["HEAD"].append(Response(200, {"upload-offset": "0", "upload-length": "50"}))
    with pytest.raises(TusError) as err:
        run(make_upload(io, url=ENDPOINT + "/x").start())
    assert err.value.code == "protocol"


def test_start_again_after_giving_up_resumes():
    data = blob(300_000)
    io = MemoryTusIO(data)
    up = make_upload(io)
    io.script["PATCH"].append(Drop(after=200_000))
    io.script["HEAD"].extend(ConnectionError("down") for _ in range(40))
    with pytest.raises(TusError) as err:
        run(up.start())
    assert err.value.code == "gave_up"
    io.script["HEAD"].clear()
    io.log.clear()
    assert run(up.start()) == up.url  # the "try again" button
    assert io.methods() == ["HEAD", "PATCH"]
    assert only_upload(io).data == data


# =============================================================== unit: cancel


def test_cancel_during_patch_sends_delete():
    io = MemoryTusIO(blob(100_000))
    io.script["PATCH"].append(Hang())
    rec = Recorder()
    up = make_upload(io, rec)

    async def scenario():
        task = asyncio.ensure_future(up.start())
        while io.methods()[-1:] != ["PATCH"]:
            await asyncio.sleep(0)
        for _ in range(5):
            await asyncio.sleep(0)
        await up.cancel()
        with pytest.raises(TusError) as err:
            await task
        assert err.value.code == "cancelled"

    run(scenario())
    assert io.methods() == ["POST", "PATCH", "DELETE"]
    assert io.log[-1][1] == up.url and io.log[-1][2]["Authorization"] == "Bearer secret-token"
    assert io.uploads == {}
    assert rec.states == ["uploading", "cancelled"]


def test_cancel_while_reconnecting():
    io = MemoryTusIO(blob(100_000))
    io.script["PATCH"].extend([ConnectionError("reset")] * 3)
    io.script["HEAD"].extend([ConnectionError("down")] * 50)
    up = make_upload(io)

    async def scenario():
        task = asyncio.ensure_future(up.start())
        while len(io.sleeps) < 3:
            await asyncio.sleep(0)
        await up.cancel()
        with pytest.raises(TusError) as err:
            await task
        assert err.value.code == "cancelled"

    run(scenario())
    assert io.methods()[-1] == "DELETE"
    assert up.state == "cancelled"


def test_cancel_before_start():
    io = MemoryTusIO(blob(10))
    up = make_upload(io)
    run(up.cancel())
    with pytest.raises(TusError) as err:
        run(up.start())
    assert err.value.code == "cancelled"
    assert io.log == []


def test_cancel_before_the_started_upload_ran_a_step():
    """start() has made its task, and cancel() comes before that task ran: start() still says
    "cancelled", cancel() returns, and nothing reached the server."""
    io = MemoryTusIO(blob(10))
    rec = Recorder()
    up = make_upload(io, rec)

    async def scenario():
        task = asyncio.ensure_future(up.start())
        # Runs right after start() has made its task, before that task's first step.
        cancelling = asyncio.ensure_future(up.cancel())
        with pytest.raises(TusError) as err:
            await asyncio.wait_for(task, 1)
        await asyncio.wait_for(cancelling, 1)
        assert err.value.code == "cancelled"

    run(scenario())
    assert io.log == [] and rec.states[-1:] == ["cancelled"]


def test_cancel_ignores_network_error_on_delete():
    io = MemoryTusIO(blob(10))
    up = make_upload(io, url=ENDPOINT + "/u9")
    io.script["DELETE"].append(ConnectionError("offline"))
    run(up.cancel())
    assert up.state == "cancelled"


# =============================================================== unit: properties


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    size=st.integers(min_value=1, max_value=400_000),
    chunk=st.one_of(st.none(), st.integers(min_value=1000, max_value=300_000)),
    faults=st.lists(
        st.tuples(st.floats(0, 1), st.floats(0, 1)),
        max_size=6,
    ),
)
def test_any_drops_end_with_intact_file_and_monotonic_progress(size, chunk, faults):
    data = blob(size, seed=size)
    io = MemoryTusIO(data, piece=16 * 1024)
    for after, kept in faults:
        a = int(after * size)
        io.script["PATCH"].append(Drop(after=a, kept=int(kept * a)))
    rec = Recorder()
    run(make_upload(io, rec, chunk_size=chunk).start())
    assert only_upload(io).data == data
    values = [n for n, _ in rec.progress]
    assert values == sorted(values)
    assert values[-1] == size and all(0 <= v <= size for v in values)
    assert rec.states[-1] == "done"


def test_fake_clock_records_sleeps():
    clock = FakeClock(0)
    run(clock.sleep(2.5))
    assert clock.now() == 2.5 and clock.sleeps == [2.5]


# =============================================================== integration: the real server

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``python -m server`` on a free port (demo mode); yields its base URL."""
    proc = ServerProcess(tmp_path_factory.mktemp("tus_server") / "data")
    proc.start()
    try:
        yield proc.base
    finally:
        proc.stop()


def real_upload(io, visit: Visit, size: int, name: str, filetype: str, rec=None, **kw) -> Upload:
    rec = rec or Recorder()
    return Upload(
        io,
        visit.endpoint,
        size,
        {"filename": name, "filetype": filetype},
        headers=visit.auth,
        on_progress=rec.on_progress,
        on_state=rec.on_state,
        **kw,
    )


async def timed_upload(base: str, data: bytes, chunk_size: int | None) -> tuple[float, Upload]:
    """Upload ``data`` to a new visit; returns (MB/s, the finished Upload)."""
    visit = Visit(base)
    async with httpx.AsyncClient(timeout=30) as client:
        io = HttpxTusIO(data, client)
        up = real_upload(io, visit, len(data), "big.pdf", "application/pdf", chunk_size=chunk_size)
        t0 = time.perf_counter()
        await up.start()
        elapsed = time.perf_counter() - t0
        head = await visit.head(client, up.url)
        assert head.headers["upload-offset"] == str(len(data))
    return len(data) / elapsed / 1e6, up


def test_real_clip_in_one_patch(server):
    clip = media_path("clip.mp4").read_bytes()
    visit = Visit(server)

    async def scenario():
        async with httpx.AsyncClient(timeout=30) as client:
            io = HttpxTusIO(clip, client)
            rec = Recorder()
            up = real_upload(io, visit, len(clip), "clip.mp4", "video/mp4", rec)
            url = await up.start()
            assert url.startswith(visit.endpoint + "/")  # relative Location resolved
            assert [m for m, _ in io.requests] == ["POST", "PATCH"]
            assert rec.states == ["uploading", "done"]
            assert rec.progress[-1] == (len(clip), len(clip))
            message = await visit.finalise(client, url)
            assert message["attachment"]["category"] == "video"
            assert await visit.download(client, message) == clip

    run(scenario())


@pytest.mark.parametrize("chunk_size", [None, MiB], ids=["one-patch", "1MiB-chunks"])
def test_real_9_5_mb_upload(server, chunk_size):
    data = pdf_like(9_500_000)
    mbps, up = run(timed_upload(server, data, chunk_size))
    print(f"\n9.5 MB, chunk_size={chunk_size}: {mbps:.1f} MB/s")
    assert up.offset == len(data) and up.state == "done"


def test_real_document_end_to_end_with_non_ascii_name(server):
    pdf = media_path("document.pdf").read_bytes()
    visit = Visit(server)

    async def scenario():
        async with httpx.AsyncClient(timeout=30) as client:
            up = real_upload(
                HttpxTusIO(pdf, client), visit, len(pdf), "Remiss åäö.pdf", "application/pdf"
            )
            message = await visit.finalise(client, await up.start())
            att = message["attachment"]
            assert (att["name"], att["size"], att["mime"]) == (
                "Remiss åäö.pdf",
                len(pdf),
                "application/pdf",
            )
            assert await visit.download(client, message) == pdf

    run(scenario())


class StopAfterPatches:
    """Wraps a TusIO: the ``n``-th PATCH raises (a non-network error: the page went away)."""

    class Stop(Exception):
        pass

    def __init__(self, inner, n: int) -> None:
        self.inner, self.n, self.patches = inner, n, 0

    async def control(self, *args, **kw):
        return await self.inner.control(*args, **kw)

    async def send(self, *args, **kw):
        self.patches += 1
        if self.patches == self.n:
            raise self.Stop()
        return await self.inner.send(*args, **kw)

    async def sleep(self, seconds):
        await self.inner.sleep(seconds)

    def now(self):
        return self.inner.now()


def test_real_resume_with_new_upload_object(server):
    data = pdf_like(2 * MiB + 12345, seed=3)
    half = len(data) // 2 + 1
    visit = Visit(server)

    async def scenario():
        async with httpx.AsyncClient(timeout=30) as client:
            first_io = StopAfterPatches(HttpxTusIO(data, client), 2)
            first = real_upload(
                first_io, visit, len(data), "a.pdf", "application/pdf", chunk_size=half
            )
            with pytest.raises(StopAfterPatches.Stop):
                await first.start()
            assert first.offset == half
            assert (await visit.head(client, first.url)).headers["upload-offset"] == str(half)

        async with httpx.AsyncClient(timeout=30) as client:  # a new page
            io = HttpxTusIO(data, client)
            rec = Recorder()
            second = real_upload(
                io, visit, len(data), "a.pdf", "application/pdf", rec, url=first.url
            )
            assert await second.start() == first.url
            assert [m for m, _ in io.requests] == ["HEAD", "PATCH"]
            assert rec.progress[0] == (half, len(data))
            message = await visit.finalise(client, first.url)
            assert await visit.download(client, message) == data

    run(scenario())


def test_real_connection_drop_resumes_via_head(server):
    data = pdf_like(2 * MiB + 777, seed=5)
    visit = Visit(server)
    server_port = int(server.rsplit(":", 1)[1])

    class Recording(HttpxTusIO):
        def __init__(self, *a):
            super().__init__(*a)
            self.patch_starts: list[int] = []

        async def send(self, url, headers, start, end, on_progress):
            self.patch_starts.append(start)
            return await super().send(url, headers, start, end, on_progress)

    async def scenario():
        async with CuttingProxy(server_port, cut_after=MiB) as proxy:
            via_proxy = f"http://127.0.0.1:{proxy.port}/api/visits/{visit.id}/uploads"
            async with httpx.AsyncClient(timeout=30) as client:
                io = Recording(data, client)
                rec = Recorder()
                up = Upload(
                    io,
                    via_proxy,
                    len(data),
                    {"filename": "drop.pdf", "filetype": "application/pdf"},
                    headers=visit.auth,
                    on_progress=rec.on_progress,
                    on_state=rec.on_state,
                )
                url = await up.start()
            assert proxy.cuts == 1 and proxy.connections >= 2
        assert "reconnecting" in rec.states and rec.states[-1] == "done"
        assert "HEAD" in [m for m, _ in io.requests]
        assert io.patch_starts[0] == 0 and max(io.patch_starts) > 0  # resumed, not restarted
        values = [n for n, _ in rec.progress]
        assert values == sorted(values) and values[-1] == len(data)
        async with httpx.AsyncClient(timeout=30) as client:
            message = await visit.finalise(
                client, url.replace(f":{proxy.port}/", f":{server_port}/")
            )
            stored = await visit.download(client, message)
        assert hashlib.sha256(stored).hexdigest() == hashlib.sha256(data).hexdigest()

    run(scenario())


def test_real_cancel_terminates_upload(server):
    data = pdf_like(300_000)
    visit = Visit(server)

    class HangingPatch(HttpxTusIO):
        async def send(self, *a, **kw):
            self.requests.append(("PATCH", a[0]))
            await asyncio.Event().wait()

    async def scenario():
        async with httpx.AsyncClient(timeout=30) as client:
            io = HangingPatch(data, client)
            up = real_upload(io, visit, len(data), "x.pdf", "application/pdf")
            task = asyncio.ensure_future(up.start())
            while [m for m, _ in io.requests] != ["POST", "PATCH"]:
                await asyncio.sleep(0.01)
            await up.cancel()
            with pytest.raises(TusError) as err:
                await task
            assert err.value.code == "cancelled"
            assert [m for m, _ in io.requests] == ["POST", "PATCH", "DELETE"]
            assert (await visit.head(client, up.url)).status_code == 404

    run(scenario())


@pytest.mark.parametrize(
    "size,filetype,token,code,status",
    [
        (10 * MiB + 1, "application/pdf", "patient", "too_large", 413),
        (16553, "audio/mpeg", "patient", "audio_not_allowed", 415),
        (1000, "application/x-msdownload", "patient", "type_not_allowed", 415),
        (1000, "application/pdf", "bad", "unauthorized", 401),
        (1000, "application/pdf", "other-visit", "not_found", 404),
    ],
)
def test_real_refusals_at_creation(server, size, filetype, token, code, status):
    visit = Visit(server)
    if token == "bad":
        visit.auth = {"Authorization": "Bearer " + "x" * 43}
    elif token == "other-visit":
        visit.auth = Visit(server).auth

    async def scenario():
        async with httpx.AsyncClient(timeout=30) as client:
            io = HttpxTusIO(b"", client)
            up = real_upload(io, visit, size, "f", filetype)
            with pytest.raises(TusError) as err:
                await up.start()
            assert (err.value.code, err.value.status) == (code, status)
            assert [m for m, _ in io.requests] == ["POST"]
            assert up.state == "failed"

    run(scenario())


@pytest.mark.skipif(not micropython_available(), reason="npm ci has not run")
def test_the_client_runs_under_micropython():
    """The light worker runs the very module under MicroPython: create, a dropped PATCH, a
    resume from the server's offset (HEAD), the end; then a cancel that DELETEs."""
    files = repo_files("bifoga.transfer.retry", "bifoga.transfer.tus_client")
    for path in files:
        assert_fits_micropython(REPO / path.lstrip("/"))
    code = """
import sys
sys.path.insert(0, '/')
import asyncio
from bifoga.transfer.tus_client import Response, TusError, Upload, decode_metadata, encode_metadata

class IO:
    def __init__(self, size, drop_first=False, hold=False):
        self.offset, self.size, self.calls, self.drop = 0, size, [], drop_first
        self.clock, self.hold = 0.0, hold
    async def control(self, method, url, headers, body=b''):
        self.calls.append(method)
        if method == 'POST':
            print('meta', decode_metadata(headers['Upload-Metadata'])['filename'])
            return Response(201, {'location': '/files/u1'})
        if method == 'HEAD':
            return Response(200, {'upload-offset': str(self.offset),
                                  'upload-length': str(self.size)})
        return Response(204)
    async def send(self, url, headers, start, end, on_progress):
        self.calls.append('PATCH ' + url)
        if self.hold:
            await asyncio.sleep(10)
        if self.drop:
            self.drop = False
            self.offset = start + 3
            on_progress(3)
            raise OSError('dropped')
        on_progress(end - start)
        self.offset = end
        return Response(204, {'upload-offset': str(end)})
    async def sleep(self, seconds):
        self.clock += seconds
    def now(self):
        return self.clock

async def main():
    io = IO(10, drop_first=True)
    seen = []
    up = Upload(io, 'http://h/api/visits/v/files/', 10, {'filename': 'Bild å.jpg'},
                on_progress=lambda n, size: seen.append(n), on_state=seen.append)
    print(await up.start(), io.calls)
    print(seen)
    io = IO(10, hold=True)
    up = Upload(io, 'http://h/files/', 10, {'filename': 'a'})
    async def run():
        try:
            await up.start()
        except TusError as exc:
            return exc.code
    task = asyncio.create_task(run())
    await asyncio.sleep(0.05)
    await up.cancel()
    print(await task, io.calls[-1])
    print(encode_metadata({'a': ''}))

await main()
"""
    assert run_micropython(code, files, top_level_await=True).splitlines() == [
        "meta Bild å.jpg",
        "http://h/files/u1 ['POST', 'PATCH http://h/files/u1', 'HEAD', "
        "'PATCH http://h/files/u1']",
        "['uploading', 0, 3, 'reconnecting', 'uploading', 10, 'done']",
        "meta a",
        "cancelled DELETE",
        "a",
    ]
