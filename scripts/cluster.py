"""`make cluster`: PostgreSQL, two stateless Bifoga nodes and nginx in front, on this machine.

Starts a throwaway PostgreSQL (tests/pg.py: initdb in a temporary folder, a free port), two
`python -m server` nodes with the same DATABASE_URL on free ports, and nginx (Debian's) on
127.0.0.1:PORT balancing between them; prints a patient link and a clinician link of a demo
visit, and runs until Ctrl-C, then stops everything and deletes the temporary folder (with the
database: this is a demonstration, see README "Running several nodes" for a real one).

Kill one node (its pid is printed) and go on chatting and uploading: nginx sends the next
requests to the other one, and the tus client resumes an interrupted upload there.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tests.pg import PgCluster, free_port

ROOT = Path(__file__).resolve().parent.parent

NGINX_CONF = """\
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream bifoga {{
        # A node that refuses connections is left alone for 5 s; requests go to the other.
        server 127.0.0.1:{port_a} max_fails=1 fail_timeout=5s;
        server 127.0.0.1:{port_b} max_fails=1 fail_timeout=5s;
        keepalive 16;
    }}
    server {{
        listen {host}:{port};
        # A tus PATCH carries at most one file (10 MB); JSON bodies are far smaller.
        client_max_body_size 11m;
        location / {{
            proxy_pass http://bifoga;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            # The client's own address, for the nodes' rate limiter (FORWARDED_ALLOW_IPS).
            proxy_set_header X-Forwarded-For $remote_addr;
            # Stream PATCH bodies to the node as they come (it counts bytes as they land) and
            # answers back (long polls, downloads) without buffering them on disk here.
            proxy_request_buffering off;
            proxy_buffering off;
            # Longer than the longest long poll (25 s).
            proxy_read_timeout 60s;
            proxy_send_timeout 60s;
            # Only a request that never reached a node is retried on the other; a PATCH or POST
            # cut halfway is the client's to resume (tus HEAD, idempotent finalisation).
            proxy_next_upstream error timeout;
        }}
    }}
}}
"""


def start_node(port: int, public: str, url: str, log: Path, demo_links: bool
               ) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "DATABASE_URL": url,
           "BIFOGA_DEMO": "1", "BIFOGA_PUBLIC_ORIGIN": public,
           "FORWARDED_ALLOW_IPS": "127.0.0.1",
           "DATA_DIR": str(log.parent / f"node-{port}-unused")}
    with open(log, "ab") as err:
        out = subprocess.PIPE if demo_links else subprocess.DEVNULL
        return subprocess.Popen([sys.executable, "-m", "server"], cwd=ROOT, env=env,
                                stdout=out, stderr=err)


def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"a node at {base} exited; see its log")
        try:
            if httpx.get(base + "/api/config", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{base} did not answer within {timeout} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        raise SystemExit("nginx is not installed: `make postgresql` installs it")

    work = Path(tempfile.mkdtemp(prefix="bifoga-cluster-"))
    public = f"http://{args.host}:{args.port}"
    pg = PgCluster(durable=True).start()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        pg.sql("CREATE DATABASE bifoga")
        url = pg.url("bifoga")
        port_a, port_b = free_port(), free_port()
        # Node A first: it creates the schema and prints the demo visit's links.
        node_a = start_node(port_a, public, url, work / "node-a.log", demo_links=True)
        procs.append(node_a)
        wait_ready(f"http://127.0.0.1:{port_a}", node_a)
        node_b = start_node(port_b, public, url, work / "node-b.log", demo_links=False)
        procs.append(node_b)
        wait_ready(f"http://127.0.0.1:{port_b}", node_b)
        conf = work / "nginx.conf"
        conf.write_text(NGINX_CONF.format(dir=work, host=args.host, port=args.port,
                                          port_a=port_a, port_b=port_b))
        lb = subprocess.Popen([nginx, "-c", str(conf), "-p", str(work), "-g", "daemon off;"])
        procs.append(lb)
        wait_ready(public, lb)
        assert node_a.stdout is not None
        links = [node_a.stdout.readline().decode().strip() for _ in range(2)]
        print(f"PostgreSQL:  {url}  (data in {pg.data})")
        print(f"Node A:      http://127.0.0.1:{port_a}  pid {node_a.pid}")
        print(f"Node B:      http://127.0.0.1:{port_b}  pid {node_b.pid}")
        print(f"nginx:       {public}  (logs in {work})")
        print("\n".join(links))
        print("Ctrl-C stops the cluster and deletes its data.", flush=True)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        while lb.poll() is None:  # a node may die (try it): the cluster goes on
            time.sleep(0.5)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
