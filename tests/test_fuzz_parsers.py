"""Hypothesis fuzzing of what the server parses from the network, through the ASGI app.

Any input must get a 2xx or a 4xx with the JSON error shape {"error", "message"}, never a 500
(and never a hang). Targets: tus headers (Upload-Metadata, Upload-Length, Upload-Offset,
Upload-Checksum, Content-Type, Tus-Resumable), JSON bodies of every JSON endpoint, and the
messages query (after/wait). The file-name sanitiser gets adversarial alphabets on top of the
plain-text properties in tests/test_server_names.py.

Examples per run: 4 x MAX_EXAMPLES (100) for the API parsers, 40 names through the whole API,
450 names into the sanitiser, plus the explicit @example cases.
"""

from __future__ import annotations

import base64
import json
import unicodedata
import warnings
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, unquote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from server.config import Settings
from server.names import (
    MAX_NAME_CHARS,
    ascii_fallback,
    content_disposition,
    name_for_type,
    sanitize_display_name,
)
from server.tus import parse_metadata
from tests.conftest import VisitHandle, tus_metadata
from tests.live_server import pdf_like

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

MAX_EXAMPLES = 100
FUZZ = settings(max_examples=MAX_EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = "application/offset+octet-stream"

# What may appear in an HTTP header value (RFC 9110 field-vchar, SP, HTAB, obs-text).
header_text = st.text(
    alphabet=st.sampled_from([chr(c) for c in (9, *range(0x20, 0x7F), *range(0x80, 0x100))]),
    max_size=80,
).map(str.strip)
digits_like = st.one_of(
    header_text,
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(["", "0", "00", "+1", "-0", "1e3", "0x10", "１２", "٣", "10485760",
                     "10485761", "9" * 19, "9" * 20, " 5 ", "5,5", "NaN", "inf", "1.0"]),
)
b64 = st.binary(max_size=40).map(lambda b: base64.b64encode(b).decode())
meta_key = st.one_of(st.sampled_from(["filename", "filetype", "name", "type", ""]),
                     st.text(alphabet="abcXYZ09_.-é ,", max_size=8))
metadata = st.one_of(
    header_text,
    st.lists(st.tuples(meta_key, st.one_of(st.none(), b64, header_text)), max_size=4).map(
        lambda pairs: ",".join(k if v is None else f"{k} {v}" for k, v in pairs)),
)


@pytest.fixture(scope="module")
def app_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One app for the whole module (hypothesis runs many examples per test): demo on, no rate
    limiting, long polls capped at 0 s so a fuzzed `wait` never holds a request."""
    settings_ = Settings(data_dir=tmp_path_factory.mktemp("fuzz") / "data", demo=True,
                         rate_limit_enabled=False, long_poll_max_seconds=0,
                         public_origin="http://testserver", max_open_uploads_per_role=10_000)
    # Durability is not what is fuzzed here: skip the fsyncs so the examples run quickly.
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("os.fsync", lambda fd: None)
        with TestClient(create_app(settings_), raise_server_exceptions=False) as client:
            client.app.state.ctx.storage._conn.execute("PRAGMA synchronous=OFF")
            yield client


def create_app(s: Settings) -> Any:
    from server.app import create_app as make

    return make(s)


@pytest.fixture(scope="module")
def fuzz_visit(app_client: TestClient) -> VisitHandle:
    return VisitHandle(app_client.post("/api/visits", json={}).json())


def check(resp: Any) -> None:
    """2xx, or 4xx with the contract's JSON error; never 5xx."""
    assert resp.status_code < 500, (resp.request.method, resp.request.url, resp.text[:300])
    if resp.status_code >= 400 and resp.request.method != "HEAD":
        body = resp.json()
        assert set(body) == {"error", "message"}, body
        assert isinstance(body["error"], str) and body["error"]
        assert "Traceback" not in body["message"]


def latin1(headers: dict[str, str]) -> dict[str, bytes]:
    """Header values as bytes: latin-1 where possible (obs-text), else UTF-8 (what a client
    putting "１２" in a header sends)."""
    out = {}
    for k, v in headers.items():
        try:
            out[k] = v.encode("latin-1")
        except UnicodeEncodeError:
            out[k] = v.encode("utf-8")
    return out


def new_upload(client: TestClient, visit: VisitHandle, length: int = 100) -> str:
    r = client.post(visit.url("/uploads"), headers={**visit.patient, **TUS,
                    "Upload-Length": str(length),
                    "Upload-Metadata": tus_metadata(filename="f.pdf")})
    assert r.status_code == 201
    return r.headers["location"]


@FUZZ
@given(length=digits_like, meta=metadata, tus=st.one_of(st.just("1.0.0"), header_text),
       defer=st.booleans())
@example(length="10", meta="filename " + base64.b64encode("å\x00/../x".encode()).decode(),
         tus="1.0.0", defer=False)
@example(length="10", meta="filename ////", tus="1.0.0", defer=False)
@example(length="10", meta="filename " + base64.b64encode(b"\xff\xfe").decode(), tus="1.0.0",
         defer=False)
@example(length="10", meta="filetype " + base64.b64encode(b"audio/mpeg").decode(),
         tus="1.0.0", defer=False)
@example(length="99999999999999999999", meta="filename YQ==", tus="1.0.0", defer=False)
# Found by this test: a non-ASCII metadata value made base64 raise ValueError -> 500.
@example(length="10", meta="filename é", tus="1.0.0", defer=False)
def test_fuzz_upload_creation(app_client: TestClient, fuzz_visit: VisitHandle, length: str,
                              meta: str, tus: str, defer: bool) -> None:
    headers = {**fuzz_visit.patient, "Tus-Resumable": tus, "Upload-Length": length,
               "Upload-Metadata": meta}
    if defer:
        headers["Upload-Defer-Length"] = "1"
    r = app_client.post(fuzz_visit.url("/uploads"), headers=latin1(headers))
    check(r)
    assert r.status_code in (201, 400, 412, 413, 415), r.text
    if r.status_code == 201:
        name = parse_metadata(meta)["filename"]
        head = app_client.head(r.headers["location"], headers={**fuzz_visit.patient, **TUS})
        assert head.headers["upload-length"] == str(int(length))
        app_client.delete(r.headers["location"], headers={**fuzz_visit.patient, **TUS})
        assert sanitize_display_name(name)  # the name it was stored under


@FUZZ
@given(offset=digits_like, content_type=st.one_of(st.just(OCTETS), header_text),
       checksum=st.one_of(st.none(), header_text, b64.map(lambda v: "sha256 " + v)),
       body=st.binary(max_size=300), tus=st.one_of(st.just("1.0.0"), header_text),
       method=st.sampled_from(["PATCH", "POST-override", "HEAD", "DELETE"]))
@example(offset="0", content_type=OCTETS, checksum=None, body=b"x" * 101, tus="1.0.0",
         method="PATCH")
@example(offset="0", content_type=OCTETS + "; charset=x", checksum="sha256 !!!", body=b"x",
         tus="1.0.0", method="PATCH")
@example(offset="0", content_type=OCTETS, checksum="md5 AAAA", body=b"x", tus="1.0.0",
         method="POST-override")
@example(offset="0", content_type=OCTETS, checksum="sha256 é", body=b"x", tus="1.0.0",
         method="PATCH")  # the same ValueError in Upload-Checksum
def test_fuzz_patch_headers(app_client: TestClient, fuzz_visit: VisitHandle, offset: str,
                            content_type: str, checksum: str | None, body: bytes, tus: str,
                            method: str) -> None:
    location = new_upload(app_client, fuzz_visit)
    headers = {**fuzz_visit.patient, "Tus-Resumable": tus, "Upload-Offset": offset,
               "Content-Type": content_type}
    if checksum is not None:
        headers["Upload-Checksum"] = checksum
    if method == "POST-override":
        method = "POST"
        headers["X-HTTP-Method-Override"] = "PATCH"
    r = app_client.request(method, location, headers=latin1(headers), content=body)
    check(r)
    # Whatever happened, the upload's state is still coherent.
    head = app_client.head(location, headers={**fuzz_visit.patient, **TUS})
    if head.status_code == 200:
        assert 0 <= int(head.headers["upload-offset"]) <= 100
    app_client.delete(location, headers={**fuzz_visit.patient, **TUS})


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30)),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=12,
)
json_objects = st.dictionaries(
    st.sampled_from(["text", "upload_id", "mark", "patient_name", "clinician_name", "x"]),
    json_values, max_size=3)
raw_bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    json_objects.map(lambda v: json.dumps(v).encode()),
    json_objects.map(lambda v: json.dumps(v, ensure_ascii=False).encode("utf-16")),
    st.sampled_from([b"[" * 60_000, b'{"text": "\\ud800"}', b'{"text": NaN}',
                     b'{"text": 1e999}', b'{"text": "a", "text": 5}', b"\xef\xbb\xbf{}",
                     b'{"upload_id": "../../uploads/x"}', b'{"mark": null}']),
)


@FUZZ
@given(endpoint=st.sampled_from(["visits", "messages", "attachments", "end", "mark"]),
       body=raw_bodies, role=st.sampled_from(["patient", "clinician"]))
def test_fuzz_json_bodies(app_client: TestClient, endpoint: str, body: bytes, role: str
                          ) -> None:
    # A fresh visit each time: a fuzzed body may legitimately end the visit or post a message.
    visit = VisitHandle(app_client.post("/api/visits", json={}).json())
    url = {
        "visits": "/api/visits",
        "messages": visit.url("/messages"),
        "attachments": visit.url("/attachments"),
        "end": visit.url("/end"),
        "mark": visit.url("/attachments/nope/mark"),
    }[endpoint]
    method = "PUT" if endpoint == "mark" else "POST"
    r = app_client.request(method, url, content=body, headers={
        **visit.headers(role), "Content-Type": "application/json"})
    if endpoint == "mark" and r.status_code == 405:
        pytest.skip("no filing marks in this build")
    check(r)


query_values = st.one_of(digits_like, st.text(max_size=20),
                         st.floats(allow_nan=True, allow_infinity=True).map(str))


@FUZZ
@given(after=st.one_of(st.none(), query_values), wait=st.one_of(st.none(), query_values),
       extra=st.one_of(st.none(), st.text(max_size=20)))
@example(after="9" * 30, wait="1e309", extra=None)
@example(after="-1", wait="-0.0", extra=None)
@example(after="4611686018427387905", wait="nan", extra="&after=1")
def test_fuzz_messages_query(app_client: TestClient, fuzz_visit: VisitHandle,
                             after: str | None, wait: str | None, extra: str | None) -> None:
    parts = [f"{k}={quote(v, safe='')}" for k, v in (("after", after), ("wait", wait))
             if v is not None]
    if extra is not None:
        parts.append(quote(extra, safe="=&"))
    r = app_client.get(fuzz_visit.url("/messages") + "?" + "&".join(parts),
                       headers=fuzz_visit.patient)
    check(r)
    assert r.status_code in (200, 400)
    if r.status_code == 200:
        body = r.json()
        assert isinstance(body["cursor"], int) and body["cursor"] >= 0
    else:
        assert r.json()["error"] == "bad_query"


# ------------------------------------------------------------------------ the name sanitiser

# The characters that make names dangerous, far more often than st.text() draws them.
hostile_chars = st.sampled_from(list(
    "/\\.:*?\"<>|%~ \t\r\n\x00\x01\x1b\x7f\x85\xa0\u2028\u2029"
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
    "\u0301\u0308\ufeff\ud800åÅéß日ЖaZ09-_"))
hostile_names = st.text(alphabet=hostile_chars, max_size=300)


@settings(max_examples=300, deadline=None)
@given(raw=hostile_names)
@example(raw="../../etc/passwd")
@example(raw="..\\..\\x")
@example(raw="a" * 1000)
def test_fuzz_sanitiser_hostile_alphabet(raw: str) -> None:
    name = sanitize_display_name(raw)
    assert 1 <= len(name) <= MAX_NAME_CHARS
    assert name not in (".", "..") and not name.startswith(".") and name == name.strip(" .")
    assert not any(ch in "/\\\r\n\t\x00\x85\u2028\u2029" for ch in name)
    assert not any(unicodedata.category(ch) in ("Cc", "Cs") for ch in name)
    assert not any("\u202a" <= ch <= "\u202e" or "\u2066" <= ch <= "\u2069" for ch in name)
    assert unicodedata.is_normalized("NFC", name)
    assert sanitize_display_name(name) == name
    header = content_disposition(name)
    assert header.isascii() and "\r" not in header and "\n" not in header
    fallback = ascii_fallback(name)
    assert fallback and not any(ch in fallback for ch in '"\\/;')
    assert unquote(header.split("filename*=UTF-8''", 1)[1]) == name


@settings(max_examples=150, deadline=None)
@given(junk=hostile_names, stem=st.text(alphabet=hostile_chars, max_size=250),
       ext=st.sampled_from(["pdf", "jpg", "mp4", "docx", "heic"]))
def test_fuzz_sanitiser_keeps_a_real_extension(junk: str, stem: str, ext: str) -> None:
    """A name whose last part has a letter before its extension keeps that extension, however
    long or hostile the rest (path, control, bidi characters)."""
    raw = f"{junk}/x{stem.replace('/', '').replace(chr(92), '')}.{ext}"
    name = sanitize_display_name(raw)
    assert name.endswith("." + ext) and len(name) <= MAX_NAME_CHARS


FUZZ_NAME_PDF = pdf_like(2000)  # a real PDF: the server opens every PDF with qpdf


@settings(FUZZ, max_examples=40)
@given(raw=hostile_names)
def test_fuzz_names_through_the_api(app_client: TestClient, fuzz_visit: VisitHandle,
                                    raw: str) -> None:
    """The name travels as tus metadata and comes back sanitised in the message and in a safe
    Content-Disposition."""
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates cannot be sent as UTF-8 metadata at all
        return
    data = FUZZ_NAME_PDF
    location = app_client.post(fuzz_visit.url("/uploads"), headers={
        **fuzz_visit.patient, **TUS, "Upload-Length": str(len(data)),
        "Upload-Metadata": "filename " + base64.b64encode(raw.encode()).decode()})
    check(location)
    assert location.status_code == 201
    url = location.headers["location"]
    assert app_client.patch(url, content=data, headers={
        **fuzz_visit.patient, **TUS, "Upload-Offset": "0", "Content-Type": OCTETS},
    ).status_code == 204
    r = app_client.post(fuzz_visit.url("/attachments"), headers=fuzz_visit.patient,
                        json={"upload_id": url.rsplit("/", 1)[1]})
    check(r)
    assert r.status_code == 201
    attachment = r.json()["attachment"]
    # Sanitised, and its extension made to match the detected type (a PDF ends in .pdf).
    assert attachment["name"] == name_for_type(sanitize_display_name(raw), "application/pdf")
    d = app_client.get(attachment["url"], headers=fuzz_visit.patient)
    assert d.headers["content-disposition"] == content_disposition(attachment["name"])
