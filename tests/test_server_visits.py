"""Visits, token auth, visit state, text messages and long polling."""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

import server.common
from tests.conftest import VisitHandle

# Every test here runs on SQLite and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.both_storages

# --- creating visits ---------------------------------------------------------------------


def test_create_visit_demo(server_client: Any, storage_view: Any) -> None:
    r = server_client.post("/api/visits", json={})
    assert r.status_code == 201
    body = r.json()
    assert set(body) == {"visit_id", "patient_url", "clinician_url", "patient_token",
                         "clinician_token"}
    for role in ("patient", "clinician"):
        url = urlsplit(body[f"{role}_url"])
        assert f"{url.scheme}://{url.netloc}" == "http://testserver"
        assert url.path == "/" and not url.query  # secrets only in the fragment
        frag = parse_qs(url.fragment)
        assert frag == {"visit": [body["visit_id"]], "token": [body[f"{role}_token"]]}
        assert len(body[f"{role}_token"]) >= 43  # token_urlsafe(32)
    assert body["patient_token"] != body["clinician_token"]
    # Only hashes are stored.
    (row,) = storage_view.rows("SELECT patient_token_hash, clinician_token_hash, patient_name, "
                             "clinician_name FROM visits WHERE id = ?", body["visit_id"])
    assert row["patient_token_hash"] == hashlib.sha256(body["patient_token"].encode()).hexdigest()
    assert row["clinician_token_hash"] == hashlib.sha256(
        body["clinician_token"].encode()).hexdigest()
    assert (row["patient_name"], row["clinician_name"]) == ("Alex Patient", "Dr Sara Lind")
    dump = "\n".join(str(r) for r in storage_view.rows("SELECT * FROM visits"))
    assert body["patient_token"] not in dump and body["clinician_token"] not in dump


def test_create_visit_with_names(server_client: Any, new_visit: Any) -> None:
    v = new_visit(patient_name="  Åsa\u202e Öberg ", clinician_name="Dr Ängel")
    r = server_client.get(v.url(), headers=v.patient)
    assert r.json()["participants"] == {"patient": "Åsa Öberg", "clinician": "Dr Ängel"}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"patient_name": 5}, 400, "invalid_field"),
        ({"clinician_name": ["x"]}, 400, "invalid_field"),
        ({"patient_name": "x" * 101}, 400, "invalid_field"),
        # openapi.yaml: a string (null is not one) of at most 100 characters as sent
        ({"patient_name": None}, 400, "invalid_field"),
        ({"clinician_name": "x" + " " * 100}, 400, "invalid_field"),
    ],
)
def test_create_visit_bad_names(server_client: Any, body: Any, status: int, code: str) -> None:
    r = server_client.post("/api/visits", json=body)
    assert (r.status_code, r.json()["error"]) == (status, code)


def test_create_visit_off_without_demo(make_server_client: Any) -> None:
    client = make_server_client(demo=False)
    r = client.post("/api/visits", json={})
    assert r.status_code == 404
    assert r.json()["error"] == "not_found"


def test_demo_seeds_a_visit_at_startup(make_server_client: Any) -> None:
    client = make_server_client()
    links = client.app.state.demo_links
    assert links is not None
    frag = parse_qs(urlsplit(links.clinician_url).fragment)
    r = client.get(f"/api/visits/{frag['visit'][0]}",
                   headers={"Authorization": f"Bearer {frag['token'][0]}"})
    assert r.json()["role"] == "clinician"


def test_no_seed_without_demo(make_server_client: Any) -> None:
    assert make_server_client(demo=False).app.state.demo_links is None


# --- auth ----------------------------------------------------------------------------------


def test_visit_state_per_role(server_client: Any, visit: VisitHandle) -> None:
    for role in ("patient", "clinician"):
        r = server_client.get(visit.url(), headers=visit.headers(role))
        assert r.status_code == 200
        assert r.json() == {
            "visit_id": visit.id, "demo": True, "role": role, "state": "open", "ended_at": None,
            "participants": {"patient": "Alex Patient", "clinician": "Dr Sara Lind"},
        }
        assert r.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    "auth",
    [None, "", "Bearer", "Bearer ", "Basic abc", "Bearer wrong-token", "bearer x" * 100,
     "Token abc"],
)
@pytest.mark.parametrize("suffix", ["", "/messages", "/attachments/abc"])
def test_missing_or_wrong_token(server_client: Any, visit: VisitHandle, auth: str | None,
                                suffix: str) -> None:
    headers = {"Authorization": auth} if auth is not None else {}
    r = server_client.get(visit.url(suffix), headers=headers)
    assert r.status_code == 401
    assert r.json() == {"error": "unauthorized", "message": "Missing or invalid token."}


def test_unknown_visit_wrong_token_is_401(server_client: Any) -> None:
    r = server_client.get("/api/visits/nope", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401


def test_token_of_another_visit_is_404(server_client: Any, new_visit: Any) -> None:
    a, b = new_visit(), new_visit()
    for suffix in ("", "/messages"):
        r = server_client.get(b.url(suffix), headers=a.patient)
        assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = server_client.post(b.url("/messages"), headers=a.clinician, json={"text": "hej"})
    assert r.status_code == 404
    # The same answer when the visit does not exist at all: existence is not revealed.
    r = server_client.get("/api/visits/doesnotexist", headers=a.patient)
    assert r.status_code == 404 and r.json()["error"] == "not_found"


def test_compare_digest_is_used(server_client: Any, visit: VisitHandle,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str]] = []
    real = server.common.hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(server.common.hmac, "compare_digest", spy)
    assert server_client.get(visit.url(), headers=visit.clinician).status_code == 200
    # Both role hashes are compared, every time, whatever matched.
    assert len(calls) == 2
    assert all(len(a) == 64 and len(b) == 64 for a, b in calls)


# --- ending a visit ----------------------------------------------------------------------


def test_end_visit(server_client: Any, visit: VisitHandle) -> None:
    r = server_client.post(visit.url("/end"), headers=visit.patient)
    assert (r.status_code, r.json()["error"]) == (403, "forbidden")
    r = server_client.post(visit.url("/end"), headers=visit.clinician)
    assert r.status_code == 200
    assert r.json()["state"] == "ended" and r.json()["ended_at"].endswith("Z")
    ended_at = r.json()["ended_at"]
    # Idempotent: ending again keeps the first time.
    assert server_client.post(visit.url("/end"), headers=visit.clinician).json()["ended_at"] \
        == ended_at
    assert server_client.get(visit.url(), headers=visit.patient).json()["state"] == "ended"
    r = server_client.post(visit.url("/messages"), headers=visit.patient, json={"text": "hej"})
    assert (r.status_code, r.json()["error"]) == (409, "visit_ended")
    r = server_client.get(visit.url("/messages"), headers=visit.patient)
    assert r.json()["state"] == "ended"


# --- messages ------------------------------------------------------------------------------


def test_post_and_list_messages(server_client: Any, visit: VisitHandle) -> None:
    r = server_client.post(visit.url("/messages"), headers=visit.patient,
                           json={"text": "  Hej doktorn, åäö!  "})
    assert r.status_code == 201
    m1 = r.json()
    assert m1["sender_role"] == "patient" and m1["sender_name"] == "Alex Patient"
    assert m1["kind"] == "text" and m1["text"] == "Hej doktorn, åäö!"
    assert m1["attachment"] is None
    assert m1["sent_at"].endswith("Z") and "T" in m1["sent_at"]
    m2 = server_client.post(visit.url("/messages"), headers=visit.clinician,
                            json={"text": "Hej!"}).json()
    assert m2["id"] > m1["id"] and m2["sender_name"] == "Dr Sara Lind"

    r = server_client.get(visit.url("/messages"), headers=visit.clinician)
    assert r.json() == {"messages": [m1, m2], "cursor": m2["id"], "state": "open"}
    r = server_client.get(visit.url(f"/messages?after={m1['id']}"), headers=visit.patient)
    assert r.json()["messages"] == [m2]
    r = server_client.get(visit.url(f"/messages?after={m2['id']}"), headers=visit.patient)
    assert r.json() == {"messages": [], "cursor": m2["id"], "state": "open"}


def test_messages_are_per_visit(server_client: Any, new_visit: Any) -> None:
    a, b = new_visit(), new_visit()
    server_client.post(a.url("/messages"), headers=a.patient, json={"text": "only a"})
    assert server_client.get(b.url("/messages"), headers=b.patient).json()["messages"] == []


def test_messages_paging(make_server_client: Any) -> None:
    client = make_server_client(max_messages_per_page=3)
    v = VisitHandle(client.post("/api/visits", json={}).json())
    for i in range(7):
        client.post(v.url("/messages"), headers=v.patient, json={"text": str(i)})
    seen: list[str] = []
    cursor = 0
    while True:
        page = client.get(v.url(f"/messages?after={cursor}"), headers=v.patient).json()
        if not page["messages"]:
            break
        seen += [m["text"] for m in page["messages"]]
        cursor = page["cursor"]
    assert seen == [str(i) for i in range(7)]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 400, "missing_field"),
        ({"text": None}, 400, "missing_field"),
        ({"txt": "x"}, 400, "missing_field"),
        ({"text": 42}, 400, "invalid_field"),
        ({"text": ""}, 400, "invalid_field"),
        ({"text": "   \n "}, 400, "invalid_field"),
        ({"text": "x" * 4001}, 400, "invalid_field"),
        ({"text": "\x01\u3000\u2028"}, 400, "invalid_field"),
        ({"text": "x" + "\x00" * 4000}, 400, "invalid_field"),  # 4001 as sent
    ],
)
def test_post_message_bad_bodies(server_client: Any, visit: VisitHandle, body: Any,
                                 status: int, code: str) -> None:
    r = server_client.post(visit.url("/messages"), headers=visit.patient, json=body)
    assert (r.status_code, r.json()["error"]) == (status, code)


def test_post_message_4000_chars(server_client: Any, visit: VisitHandle) -> None:
    r = server_client.post(visit.url("/messages"), headers=visit.patient, json={"text": "å" * 4000})
    assert r.status_code == 201


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        (b"{", 400, "bad_json"),
        (b"not json", 400, "bad_json"),
        (b'["text"]', 400, "bad_json"),
        (b'"text"', 400, "bad_json"),
        (b"\xff\xfe", 400, "bad_json"),
        (b"[" * 100_000, 413, "body_too_large"),
        (b'{"text": "' + b"x" * 70_000 + b'"}', 413, "body_too_large"),
        (b"[" * 30_000 + b"]" * 30_000, 400, "bad_json"),
    ],
)
def test_post_message_bad_json(server_client: Any, visit: VisitHandle, raw: bytes,
                               status: int, code: str) -> None:
    r = server_client.post(visit.url("/messages"), content=raw,
                           headers={**visit.patient, "Content-Type": "application/json"})
    assert (r.status_code, r.json()["error"]) == (status, code)
    assert set(r.json()) == {"error", "message"}


def test_json_too_big_streamed(server_client: Any, visit: VisitHandle) -> None:
    # No Content-Length: the limit still applies while reading.
    def chunks() -> Any:
        for _ in range(100):
            yield b"x" * 1000

    r = server_client.post(visit.url("/messages"), content=chunks(), headers=visit.patient)
    assert (r.status_code, r.json()["error"]) == (413, "body_too_large")


@pytest.mark.parametrize("query", ["after=x", "after=-1", "wait=abc", "wait=-2", "wait=nan",
                                   "after=1e3", "after=" + "9" * 30, "wait=inf",
                                   # openapi.yaml: integers, decimal digits only
                                   "wait=11.0", "wait=0.5", "wait=", "after=+1", "after=%201",
                                   "after=" + str(2**63)])
def test_list_messages_bad_query(server_client: Any, visit: VisitHandle, query: str) -> None:
    r = server_client.get(visit.url(f"/messages?{query}"), headers=visit.patient)
    assert (r.status_code, r.json()["error"]) == (400, "bad_query")


@pytest.mark.parametrize("query", ["after=" + str(2**63 - 1), "after=007", "wait=" + "9" * 5000])
def test_list_messages_large_query_values(make_server_client: Any, query: str) -> None:
    # The largest cursor SQLite holds is taken; any wait is capped, however long.
    client = make_server_client(long_poll_max_seconds=0)
    v = VisitHandle(client.post("/api/visits", json={}).json())
    r = client.get(v.url(f"/messages?{query}"), headers=v.patient)
    assert r.status_code == 200 and r.json()["messages"] == []


# --- long polling --------------------------------------------------------------------------


def test_long_poll_wakes_on_message(server_client: Any, visit: VisitHandle) -> None:
    def post_later() -> None:
        time.sleep(0.5)
        server_client.post(visit.url("/messages"), headers=visit.clinician,
                           json={"text": "svar"})

    thread = threading.Thread(target=post_later)
    start = time.monotonic()
    thread.start()
    r = server_client.get(visit.url("/messages?after=0&wait=5"), headers=visit.patient)
    elapsed = time.monotonic() - start
    thread.join()
    assert r.status_code == 200
    assert [m["text"] for m in r.json()["messages"]] == ["svar"]
    assert 0.4 <= elapsed < 4


def test_long_poll_times_out_empty(server_client: Any, visit: VisitHandle) -> None:
    start = time.monotonic()
    r = server_client.get(visit.url("/messages?after=0&wait=1"), headers=visit.patient)
    elapsed = time.monotonic() - start
    assert r.json() == {"messages": [], "cursor": 0, "state": "open"}
    assert 0.9 <= elapsed < 3


def test_long_poll_is_capped(make_server_client: Any) -> None:
    client = make_server_client(long_poll_max_seconds=1)
    v = VisitHandle(client.post("/api/visits", json={}).json())
    start = time.monotonic()
    r = client.get(v.url("/messages?wait=25"), headers=v.patient)
    assert r.json()["messages"] == [] and time.monotonic() - start < 3


def test_long_poll_returns_at_once_when_messages_exist(server_client: Any,
                                                       visit: VisitHandle) -> None:
    server_client.post(visit.url("/messages"), headers=visit.patient, json={"text": "a"})
    start = time.monotonic()
    r = server_client.get(visit.url("/messages?after=0&wait=5"), headers=visit.patient)
    assert len(r.json()["messages"]) == 1 and time.monotonic() - start < 1


def test_long_poll_wakes_when_visit_ends(server_client: Any, visit: VisitHandle) -> None:
    def end_later() -> None:
        time.sleep(0.5)
        server_client.post(visit.url("/end"), headers=visit.clinician)

    thread = threading.Thread(target=end_later)
    start = time.monotonic()
    thread.start()
    r = server_client.get(visit.url("/messages?wait=5"), headers=visit.patient)
    thread.join()
    assert r.json()["state"] == "ended" and time.monotonic() - start < 4


def test_long_poll_ignores_other_visits(server_client: Any, new_visit: Any) -> None:
    a, b = new_visit(), new_visit()

    def post_later() -> None:
        time.sleep(0.3)
        server_client.post(b.url("/messages"), headers=b.patient, json={"text": "b"})

    thread = threading.Thread(target=post_later)
    thread.start()
    r = server_client.get(a.url("/messages?wait=1"), headers=a.patient)
    thread.join()
    assert r.json()["messages"] == []


def test_long_poll_released_on_shutdown(server_client: Any, visit: VisitHandle) -> None:
    notifier = server_client.app.state.ctx.notifier
    thread = threading.Thread(target=lambda: (time.sleep(0.3), notifier.close()))
    start = time.monotonic()
    thread.start()
    r = server_client.get(visit.url("/messages?wait=5"), headers=visit.patient)
    thread.join()
    assert r.json()["messages"] == [] and time.monotonic() - start < 3
