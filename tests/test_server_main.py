"""`python -m server`: the printed links work, and SIGTERM does not wait for long polls."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, token: str, timeout: float = 10) -> dict:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=timeout) as resp:
        return json.loads(resp.read())


@pytest.mark.timeout(60)
def test_python_m_server(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "BIFOGA_DEMO": "1",
           "DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen([sys.executable, "-m", "server"], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().rstrip("\n") for _ in range(2)]
        assert lines[0].startswith("Patient:    http://127.0.0.1:")
        assert lines[1].startswith("Clinician:  http://127.0.0.1:")
        urls = [line.split()[-1] for line in lines]
        origin = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(origin + "/api/config", timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        roles = []
        for url in urls:
            assert url.startswith(origin + "/#visit=")
            frag = parse_qs(urlsplit(url).fragment)
            visit = _get(f"{origin}/api/visits/{frag['visit'][0]}", frag["token"][0])
            roles.append(visit["role"])
        assert roles == ["patient", "clinician"]

        # A long poll is held; SIGTERM must release it rather than wait 25 s.
        frag = parse_qs(urlsplit(urls[0]).fragment)
        result: dict = {}
        poll = threading.Thread(target=lambda: result.update(_get(
            f"{origin}/api/visits/{frag['visit'][0]}/messages?wait=25", frag["token"][0], 30)))
        poll.start()
        time.sleep(0.5)
        start = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        poll.join(timeout=10)
        assert time.monotonic() - start < 5
        assert result.get("messages") == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
