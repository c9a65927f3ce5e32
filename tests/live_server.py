"""Helpers for tests against the real server process (`python -m server` in a subprocess).

Shared by tests/test_tus_client.py (integration part), tests/test_faults.py, tests/test_load.py
and tests/test_security.py:

* :class:`ServerProcess` -- start, ``kill -9``, restart on the same port and data directory.
* :class:`Visit` -- a demo visit with both roles' tokens, finalise/download helpers.
* :func:`pdf_like`, :func:`make_pdf` -- test documents; :class:`ThrottledTusIO` -- the tus
  client's httpx adapter with a speed limit (so a kill lands in the middle of a body);
  :class:`CuttingProxy` -- a TCP proxy that cuts a connection after N bytes.
* :func:`storage_invariants` -- reads the SQLite file and the data directory directly and asserts
  that nothing is half-done: no attachment row without its (intact) file, no file without its
  row, no chat entry pointing at a missing attachment.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import os
import random
import re
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bifoga.transfer.tus_client import Response
from tests.storage_view import check_announced, counts
from tests.tus_io import HttpxTusIO

ROOT = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024


def run_async(coro: Any) -> Any:
    """``asyncio.run`` in a fresh thread. Works even when this thread already has a running
    event loop: Playwright's sync API (the e2e tests, which run first) leaves one behind for
    the rest of the session, and plain ``asyncio.run`` then raises RuntimeError."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """``python -m server`` (demo mode) on a fixed port with its own data directory.

    ``kill()`` is SIGKILL: no shutdown code runs, as in a crash. ``start()`` again reuses the
    port and the data directory. Extra keyword arguments become environment variables.
    """

    def __init__(self, data_dir: Path, port: int | None = None, **env: str) -> None:
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.log_path = data_dir.parent / f"server-{self.port}.log"
        self.env = {**os.environ, "PORT": str(self.port), "HOST": "127.0.0.1",
                    "DATA_DIR": str(data_dir), "BIFOGA_DEMO": "1", **env}
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, timeout: float = 30) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "server"], cwd=ROOT,
                                         env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.starts += 1
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited:\n{self.log_tail()}")
            try:
                if httpx.get(self.base + "/api/config", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not answer within {timeout} s:\n"
                                   f"{self.log_tail()}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL, like a crash: no cleanup, no graceful shutdown."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    @property
    def origin(self) -> str:
        return self.base

    def stop(self, kill: bool = False) -> None:
        """SIGTERM, and the server must be gone within 15 s (or SIGKILL with ``kill=True``)."""
        if kill:
            self.kill()
            return
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                raise AssertionError("the server did not stop within 15 s of SIGTERM") from None

    def new_visit(self) -> dict[str, Any]:
        """A fresh demo visit: visit_id, both tokens and both links."""
        response = httpx.post(self.base + "/api/visits", json={}, timeout=10)
        response.raise_for_status()
        return response.json()

    def api(self, path: str, token: str) -> Any:
        """GET an API path with a visit token; the JSON answer."""
        response = httpx.get(self.base + path, timeout=10,
                             headers={"Authorization": f"Bearer {token}"})
        response.raise_for_status()
        return response.json()

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Visit:
    """A visit made through ``POST /api/visits`` (demo mode); ``auth`` is the patient's."""

    def __init__(self, base: str) -> None:
        resp = httpx.post(base + "/api/visits", json={}, timeout=10)
        assert resp.status_code == 201, resp.text
        body = resp.json()
        self.base = base
        self.id = body["visit_id"]
        self.patient_token = body["patient_token"]
        self.clinician_token = body["clinician_token"]
        self.auth = {"Authorization": f"Bearer {self.patient_token}"}
        self.endpoint = f"{base}/api/visits/{self.id}/uploads"

    def auth_of(self, role: str) -> dict[str, str]:
        token = self.patient_token if role == "patient" else self.clinician_token
        return {"Authorization": f"Bearer {token}"}

    async def finalise(self, client: httpx.AsyncClient, url: str) -> dict:
        upload_id = url.rstrip("/").rsplit("/", 1)[1]
        resp = await client.post(
            f"{self.base}/api/visits/{self.id}/attachments",
            json={"upload_id": upload_id},
            headers=self.auth,
        )
        assert resp.status_code == 201, resp.text
        return resp.json()

    async def download(self, client: httpx.AsyncClient, message: dict) -> bytes:
        resp = await client.get(self.base + message["attachment"]["url"], headers=self.auth)
        assert resp.status_code == 200, resp.text
        return resp.content

    async def head(self, client: httpx.AsyncClient, url: str) -> httpx.Response:
        return await client.head(url, headers={**self.auth, "Tus-Resumable": "1.0.0"})

    def messages(self, role: str = "patient") -> list[dict]:
        """Every message of the visit, following the cursor (no long poll)."""
        out: list[dict] = []
        after = 0
        while True:
            resp = httpx.get(f"{self.base}/api/visits/{self.id}/messages",
                             params={"after": after}, headers=self.auth_of(role), timeout=10)
            assert resp.status_code == 200, resp.text
            body = resp.json()
            out += body["messages"]
            if not body["messages"]:
                return out
            after = body["cursor"]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pdf_like(n: int, seed: int = 7) -> bytes:
    """A PDF of exactly `n` bytes whose bulk is random (the server reads PDFs with qpdf, so a
    test document must be a real one)."""
    return make_pdf(n, seed)


def pdf_file(objects: list[bytes], head: bytes = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n",
             trailer: bytes = b"") -> bytes:
    """A well-formed PDF of `objects` (numbered from 1; the first must be the catalog): header,
    objects, cross-reference table with their exact offsets, trailer (with `trailer`'s extra
    entries), %%EOF."""
    out = bytearray(head)
    offsets = []
    for i, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, trailer, xref)
    return bytes(out)


def make_pdf(n: int, seed: int = 7) -> bytes:
    """A well-formed one-page PDF 1.4 of exactly ``n`` bytes (an embedded binary stream of
    random bytes pads it)."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
        b"<< /Length 0 >>\nstream\n\nendstream",
    ]

    def build(pad: int) -> bytes:
        blob = random.Random(seed).randbytes(pad)
        return pdf_file(objects + [b"<< /Length %d >>\nstream\n" % pad + blob + b"\nendstream"])

    pad = max(0, n - len(build(0)))
    for _ in range(10):  # the lengths' digits shift the size a little: settle on exactly n
        pdf = build(pad)
        if len(pdf) == n:
            return pdf
        pad = max(0, pad + n - len(pdf))
    raise ValueError(f"cannot make a PDF of exactly {n} bytes")


class ThrottledTusIO(HttpxTusIO):
    """HttpxTusIO whose PATCH bodies flow at most ``bytes_per_second`` (None: full speed; may
    be changed while an upload runs). Records where every PATCH started."""

    def __init__(self, file_bytes: bytes, client: httpx.AsyncClient,
                 bytes_per_second: float | None = None, piece: int = 64 * 1024) -> None:
        super().__init__(file_bytes, client, piece)
        self.bytes_per_second = bytes_per_second
        self.patch_starts: list[int] = []
        self.sent = 0  # bytes of the file handed to the connection so far (the furthest)

    async def send(self, url: str, headers: dict[str, str], start: int, end: int,
                   on_progress: Callable[[int], None]) -> Response:
        self.patch_starts.append(start)
        return await super().send(url, headers, start, end, on_progress)

    def _handed_over(self, position: int) -> None:
        self.sent = max(self.sent, position)

    async def _pace(self, size: int) -> None:
        if self.bytes_per_second:
            await asyncio.sleep(size / self.bytes_per_second)


class Recorder:
    """on_progress / on_state callbacks of a tus Upload, kept for assertions."""

    def __init__(self) -> None:
        self.progress: list[tuple[int, int]] = []
        self.states: list[str] = []

    def on_progress(self, n: int, size: int) -> None:
        self.progress.append((n, size))

    def on_state(self, state: str) -> None:
        self.states.append(state)


class CuttingProxy:
    """TCP proxy to the server that resets its first connection after ``cut_after`` bytes
    from the client (later connections pass through)."""

    def __init__(self, target_port: int, cut_after: int) -> None:
        self.target_port = target_port
        self.cut_after = cut_after
        self.connections = 0
        self.cuts = 0
        self.port = 0
        self._server: asyncio.base_events.Server | None = None

    async def __aenter__(self):
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc):
        assert self._server is not None
        self._server.close()

    async def _handle(self, reader, writer):
        self.connections += 1
        limit = self.cut_after if self.connections == 1 else None
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)

        def abort():
            writer.transport.abort()
            up_writer.transport.abort()

        async def pipe(src, dst, limit):
            total = 0
            try:
                while data := await src.read(64 * 1024):
                    if limit is not None and total + len(data) >= limit:
                        dst.write(data[: limit - total])
                        await dst.drain()
                        self.cuts += 1
                        abort()
                        return
                    total += len(data)
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            abort()

        await asyncio.gather(pipe(reader, up_writer, limit), pipe(up_reader, writer, None))


# ------------------------------------------------------------------------------ invariants

_STORED_NAME = re.compile(r"[A-Za-z0-9_-]{16,64}")


def storage_invariants(data_dir: Path) -> dict[str, int]:
    """Assert the crash-consistency invariants on the SQLite file and the data directory.

    Call it while nothing is being written (after a restart, or once the clients are done).
    Returns counts: attachments, messages, attachment_messages, uploads, bytes.
    """
    conn = sqlite3.connect(data_dir / "bifoga.sqlite3", timeout=10)
    conn.row_factory = sqlite3.Row
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        attachments = conn.execute("SELECT * FROM attachments").fetchall()
        messages = conn.execute("SELECT * FROM messages").fetchall()
        uploads = conn.execute("SELECT * FROM uploads").fetchall()
    finally:
        conn.close()
    att_dir, up_dir = data_dir / "attachments", data_dir / "uploads"

    # Every attachment row has its complete, verified file under a generated name.
    total = 0
    for row in attachments:
        assert _STORED_NAME.fullmatch(row["stored_name"]), row["stored_name"]
        path = att_dir / row["stored_name"]
        assert path.is_file(), f"attachment {row['id']} points at a missing file"
        data = path.read_bytes()
        assert len(data) == row["size"], f"attachment {row['id']}: half a file"
        assert sha256(data) == row["sha256"], f"attachment {row['id']}: bytes changed"
        total += len(data)
    # ... and no file is there without its row (no temp file, no uncommitted attachment).
    stored = {row["stored_name"] for row in attachments}
    on_disk = {p.name for p in att_dir.iterdir()}
    assert on_disk == stored, f"files without rows: {sorted(on_disk - stored)}"

    announced = check_announced(messages, {a["id"] for a in attachments})

    # Unfinished uploads: a file for every row, holding at least the counted bytes.
    for row in uploads:
        path = up_dir / row["id"]
        assert path.is_file(), f"upload {row['id']} has no file"
        assert 0 <= row["offset"] <= row["length"]
        assert path.stat().st_size >= row["offset"], f"upload {row['id']}: counted bytes lost"
    on_disk_uploads = {p.name for p in up_dir.iterdir()}
    assert on_disk_uploads == {row["id"] for row in uploads}, \
        f"upload files without rows: {sorted(on_disk_uploads - {r['id'] for r in uploads})}"
    return counts(attachments, messages, announced, uploads, total)


def orphans_on_disk(data_dir: Path) -> list[str]:
    """Files a crash left behind without a committed row (what the startup sweep removes)."""
    conn = sqlite3.connect(data_dir / "bifoga.sqlite3", timeout=10)
    try:
        stored = {r[0] for r in conn.execute("SELECT stored_name FROM attachments")}
        uploads = {r[0] for r in conn.execute("SELECT id FROM uploads")}
    finally:
        conn.close()
    out = [f"attachments/{p.name}" for p in (data_dir / "attachments").iterdir()
           if p.name not in stored]
    out += [f"uploads/{p.name}" for p in (data_dir / "uploads").iterdir()
            if p.name not in uploads]
    return sorted(out)
