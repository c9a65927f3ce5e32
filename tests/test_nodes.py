"""Two stateless nodes (`python -m server` with DATABASE_URL) on one PostgreSQL.

* A message posted on one node answers a long poll already waiting on the other, both ways.
* `kill -9` of node A in the middle of a PATCH: HEAD on B gives the offset A stored, the upload
  is resumed and finalised on B, and after A restarts both serve the same bytes (sha256).
* 20 parallel uploads and 200 messages spread over both nodes and both roles: nothing lost,
  nothing twice, both nodes list the same chat.
* `kill -9` during finalisations: no attachment row without its bytes, no bytes without their
  row (tests/storage_view.py: PgView.invariants), and the repeat on the other node finishes it.
* Neither node writes anything to its data directory.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import tus_metadata
from tests.live_server import MiB, ServerProcess, Visit, make_pdf, run_async, sha256
from tests.storage_view import PgView

pytestmark = pytest.mark.timeout(240)
TUS = {"Tus-Resumable": "1.0.0"}
_names = itertools.count(1)


class Cluster:
    def __init__(self, url: str, a: ServerProcess, b: ServerProcess) -> None:
        self.url, self.a, self.b = url, a, b
        self.view = PgView(url)


@pytest.fixture(scope="module")
def nodes(pg_cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Nodes A and B on a new, empty database: started together, they also race to migrate
    it (the first takes the migration lock, the second finds the schema at head). Shared by
    the tests of this module (starting two nodes takes a while); each test makes its own
    visits and restarts what it kills."""
    name = f"nodes_{next(_names)}"
    pg_cluster.sql(f"CREATE DATABASE {name}")
    url = pg_cluster.url(name)
    env = {"DATABASE_URL": url, "BIFOGA_RATE_LIMIT_PER_SECOND": "0"}
    tmp_path = tmp_path_factory.mktemp("nodes")
    a = ServerProcess(tmp_path / "a" / "data", **env)
    b = ServerProcess(tmp_path / "b" / "data", **env)
    starts = [threading.Thread(target=n.start) for n in (a, b)]
    for t in starts:
        t.start()
    for t in starts:
        t.join()
    try:
        for n in (a, b):  # a start that failed in its thread
            assert n.proc is not None and n.proc.poll() is None, n.log_tail()
        yield Cluster(url, a, b)
        # Stateless: nothing on local disk, on either node.
        assert list(a.data_dir.iterdir()) == [] and list(b.data_dir.iterdir()) == []
    finally:
        a.stop(kill=True)
        b.stop(kill=True)


def _messages(base: str, visit: Visit, role: str, after: int = 0, wait: float = 0
              ) -> httpx.Response:
    return httpx.get(f"{base}/api/visits/{visit.id}/messages", headers=visit.auth_of(role),
                     params={"after": after, "wait": wait}, timeout=40)


def test_message_reaches_a_long_poll_on_the_other_node(nodes: Cluster) -> None:
    visit = Visit(nodes.a.base)
    cases = [(nodes.a, nodes.b, "patient", "clinician"), (nodes.b, nodes.a, "clinician",
                                                            "patient")]
    for sender, poller, role, poll_role in cases:
        cursor = _messages(poller.base, visit, poll_role).json()["cursor"]
        answer: dict[str, Any] = {}

        def poll(base: str = poller.base, after: int = cursor, who: str = poll_role,
                 out: dict[str, Any] = answer) -> None:
            out["response"] = _messages(base, visit, who, after=after, wait=20)
            out["at"] = time.monotonic()

        waiting = threading.Thread(target=poll)
        waiting.start()
        time.sleep(0.5)  # the poll is in, waiting on its node
        assert "response" not in answer
        text = f"from {role} on port {sender.port}"
        sent_at = time.monotonic()
        r = httpx.post(f"{sender.base}/api/visits/{visit.id}/messages", json={"text": text},
                       headers=visit.auth_of(role), timeout=10)
        assert r.status_code == 201, r.text
        waiting.join(30)
        body = answer["response"].json()
        assert [m["text"] for m in body["messages"]] == [text]
        # A 20 s poll answered this early was woken by the other node's NOTIFY (the bench
        # measures the delay: p50/p99 in README); without it the poll would time out empty.
        assert answer["at"] - sent_at < 5, answer["at"] - sent_at


def _create(base: str, visit: Visit, size: int, name: str, role: str = "patient") -> str:
    r = httpx.post(f"{base}/api/visits/{visit.id}/uploads", timeout=10, headers={
        **visit.auth_of(role), **TUS, "Upload-Length": str(size),
        "Upload-Metadata": tus_metadata(filename=name, filetype="application/pdf")})
    assert r.status_code == 201, r.text
    return str(r.headers["location"])


def _patch(base: str, visit: Visit, path: str, data: Any, offset: int, length: int,
           role: str = "patient") -> httpx.Response:
    headers = {**visit.auth_of(role), **TUS, "Upload-Offset": str(offset),
               "Content-Type": "application/offset+octet-stream", "Content-Length": str(length)}
    for _ in range(50):
        r = httpx.patch(base + path, content=data, headers=headers, timeout=60)
        if r.status_code != 423:  # the dead node's lock goes with its connection
            return r
        time.sleep(0.1)
    return r


def _finalise(base: str, visit: Visit, path: str, role: str = "patient") -> httpx.Response:
    return httpx.post(f"{base}/api/visits/{visit.id}/attachments", headers=visit.auth_of(role),
                      json={"upload_id": path.rsplit("/", 1)[1]}, timeout=60)


def _download(base: str, visit: Visit, message: dict[str, Any]) -> bytes:
    r = httpx.get(base + message["attachment"]["url"], headers=visit.auth, timeout=30)
    assert r.status_code == 200, r.text
    return r.content


def test_kill_9_mid_patch_resumes_on_the_other_node(nodes: Cluster) -> None:
    a, b = nodes.a, nodes.b
    data = make_pdf(6 * MiB, seed=11)
    visit = Visit(a.base)
    before = nodes.view.invariants()
    path = _create(a.base, visit, len(data), "Remiss.pdf")
    sent = [0]

    def slow_body() -> Iterator[bytes]:  # about 2 MB/s, so the kill lands mid-body
        for i in range(0, len(data), 64 * 1024):
            yield data[i:i + 64 * 1024]
            sent[0] = i + 64 * 1024
            time.sleep(0.03)

    def patch_on_a() -> None:
        try:
            _patch(a.base, visit, path, slow_body(), 0, len(data))
        except httpx.TransportError:
            pass  # A died under it

    patching = threading.Thread(target=patch_on_a)
    patching.start()
    deadline = time.monotonic() + 60
    while sent[0] < 3 * MiB and time.monotonic() < deadline:
        time.sleep(0.01)
    a.kill()
    patching.join(30)
    assert sent[0] < len(data)

    head = httpx.head(b.base + path, headers={**visit.auth, **TUS}, timeout=10)
    assert head.status_code == 200, head.text
    offset = int(head.headers["upload-offset"])
    # A counted bytes as they landed (about every half second); nothing it did not receive.
    assert 0 < offset <= sent[0], (offset, sent[0])
    assert nodes.view.upload_bytes(path.rsplit("/", 1)[1])[:offset] == data[:offset]

    r = _patch(b.base, visit, path, data[offset:], offset, len(data) - offset)
    assert r.status_code == 204 and r.headers["upload-offset"] == str(len(data)), r.text
    done = _finalise(b.base, visit, path)
    assert done.status_code == 201, done.text

    a.start()
    from_a = _download(a.base, visit, done.json())
    from_b = _download(b.base, visit, done.json())
    assert sha256(from_a) == sha256(from_b) == sha256(data)
    after = nodes.view.invariants()
    assert (after["attachments"] - before["attachments"], after["uploads"],
            after["bytes"] - before["bytes"]) == (1, 0, len(data))


def test_parallel_uploads_and_messages_over_both_nodes(nodes: Cluster) -> None:
    """20 uploads (created on one node, half sent on each, finalised on the other) and 200
    messages, alternating nodes and roles, all at once."""
    bases = [nodes.a.base, nodes.b.base]
    roles = ["patient", "clinician"]
    visits = [Visit(nodes.a.base), Visit(nodes.b.base)]
    files = {f"doc-{i}.pdf": make_pdf(200_000 + 7919 * i, seed=i) for i in range(20)}
    before = nodes.view.invariants()

    async def send_message(client: httpx.AsyncClient, i: int) -> None:
        visit, base, role = visits[i % 2], bases[(i // 2) % 2], roles[(i // 4) % 2]
        r = await client.post(f"{base}/api/visits/{visit.id}/messages", timeout=30,
                              headers=visit.auth_of(role), json={"text": f"message {i}"})
        assert r.status_code == 201, r.text

    async def send_file(client: httpx.AsyncClient, i: int, name: str, data: bytes) -> None:
        visit, role = visits[i % 2], roles[(i // 2) % 2]
        first, other = bases[(i // 4) % 2], bases[1 - (i // 4) % 2]
        auth = visit.auth_of(role)
        r = await client.post(f"{first}/api/visits/{visit.id}/uploads", timeout=30, headers={
            **auth, **TUS, "Upload-Length": str(len(data)),
            "Upload-Metadata": tus_metadata(filename=name, filetype="application/pdf")})
        assert r.status_code == 201, r.text
        path = r.headers["location"]
        half = len(data) // 2
        for base, start, end in ((first, 0, half), (other, half, len(data))):
            r = await client.patch(base + path, content=data[start:end], timeout=60, headers={
                **auth, **TUS, "Upload-Offset": str(start),
                "Content-Type": "application/offset+octet-stream"})
            assert r.status_code == 204, r.text
        r = await client.post(f"{other}/api/visits/{visit.id}/attachments", timeout=60,
                              headers=auth, json={"upload_id": path.rsplit("/", 1)[1]})
        assert r.status_code == 201, r.text

    async def run() -> None:
        limits = httpx.Limits(max_connections=60)
        async with httpx.AsyncClient(limits=limits) as client:
            await asyncio.gather(
                *(send_message(client, i) for i in range(200)),
                *(send_file(client, i, name, data)
                  for i, (name, data) in enumerate(files.items())))

    run_async(run())

    texts: Counter[str] = Counter()
    names: Counter[str] = Counter()
    for visit in visits:
        # Every node and role sees the same chat, in the same order.
        seen = [Visit.messages(_on(visit, base), role) for base in bases for role in roles]
        assert all(s == seen[0] for s in seen)
        ids = [m["id"] for m in seen[0]]
        assert ids == sorted(set(ids))
        for m in seen[0]:
            if m["kind"] == "text":
                texts[m["text"]] += 1
            else:
                names[m["attachment"]["name"]] += 1
                data = _download(bases[m["id"] % 2], visit, m)
                assert sha256(data) == sha256(files[m["attachment"]["name"]])
    assert texts == Counter(f"message {i}" for i in range(200))
    assert names == Counter(list(files))
    after = nodes.view.invariants()
    assert (after["attachments"] - before["attachments"], after["uploads"]) == (20, 0)
    assert after["bytes"] - before["bytes"] == sum(len(d) for d in files.values())


def _on(visit: Visit, base: str) -> Visit:
    """The same visit, reached through another node."""
    other = object.__new__(Visit)
    other.__dict__.update(visit.__dict__, base=base)
    return other


def test_kill_9_during_finalisation_leaves_nothing_half_done(nodes: Cluster) -> None:
    a, b = nodes.a, nodes.b
    visit = Visit(b.base)
    data = make_pdf(9 * MiB, seed=5)
    outcomes: Counter[int] = Counter()
    before = nodes.view.invariants()
    for i in range(4):
        path = _create(b.base, visit, len(data), f"doc-{i}.pdf")
        assert _patch(b.base, visit, path, data, 0, len(data)).status_code == 204

        def finalise_on_a(p: str = path) -> None:
            try:
                _finalise(a.base, visit, p)
            except httpx.TransportError:
                pass

        finishing = threading.Thread(target=finalise_on_a)
        finishing.start()
        time.sleep(0.05 + 0.15 * i)  # from inside the checks to around the commit
        a.kill()
        finishing.join(30)
        nodes.view.invariants()  # whatever the moment: all of it or none of it
        again = _finalise(b.base, visit, path)  # 201, or 200 if A committed it
        assert again.status_code in (200, 201), again.text
        outcomes[again.status_code] += 1
        a.start()
    after = nodes.view.invariants()
    assert (after["attachments"] - before["attachments"],
            after["attachment_messages"] - before["attachment_messages"],
            after["uploads"]) == (4, 4, 0)
    names = [m["attachment"]["name"] for m in Visit.messages(_on(visit, a.base), "clinician")]
    assert names == [f"doc-{i}.pdf" for i in range(4)]
