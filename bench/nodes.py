"""`python -m bench.nodes` (`make bench-nodes`): throughput of one SQLite node, one and two
PostgreSQL nodes, and the delay of live delivery from one node to a long poll on the other.

Everything on loopback, on this machine: a throwaway PostgreSQL with durable settings (fsync
on, as the SQLite node syncs too), the nodes as `python -m server` processes, the load from
this process (httpx, asyncio). Each measure runs for a few seconds. The machine is shared and
noisy: compare the rows with each other (ratios), not with other machines.

* messages/s: CLIENTS concurrent senders post text messages for SECONDS, spread round-robin
  over the nodes of the setup, over VISITS visits and both roles.
* uploads/s: UPLOADERS concurrent senders each repeat a whole upload (tus creation, one PATCH
  of a 256 KB PDF, finalisation) for SECONDS; with two nodes, each step on the next node.
* live delivery: a long poll waits on node B, a message is posted on node A (and the other way
  round, alternately); the delay is from sending the POST to the poll's answer arriving.
  For reference the same with poll and post on the one SQLite node.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import tus_metadata
from tests.live_server import ServerProcess, Visit, make_pdf
from tests.pg import PgCluster

RESULTS = Path(__file__).resolve().parent / "results"
CLIENTS, UPLOADERS, SECONDS, VISITS = 16, 8, 4.0, 16
FILE = make_pdf(256 * 1024, seed=3)
TUS = {"Tus-Resumable": "1.0.0"}


def _visits(bases: list[str]) -> list[Visit]:
    # A region's load is many visits with a few messages each: one visit per sender (a visit's
    # writes are serialised by its row lock on PostgreSQL, by SQLite's one writer on SQLite).
    return [Visit(bases[i % len(bases)]) for i in range(VISITS)]


async def messages_per_second(bases: list[str], seconds: float) -> float:
    visits = _visits(bases)
    turn = itertools.count()
    done = 0

    async def sender(client: httpx.AsyncClient, stop: float) -> None:
        nonlocal done
        while time.perf_counter() < stop:
            i = next(turn)
            visit, base = visits[i % VISITS], bases[i % len(bases)]
            role = ("patient", "clinician")[(i // 2) % 2]
            r = await client.post(f"{base}/api/visits/{visit.id}/messages",
                                  json={"text": f"bench {i}"}, headers=visit.auth_of(role))
            assert r.status_code == 201, r.text
            done += 1

    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=64)) as c:
        start = time.perf_counter()
        await asyncio.gather(*(sender(c, start + seconds) for _ in range(CLIENTS)))
        return done / (time.perf_counter() - start)


async def uploads_per_second(bases: list[str], seconds: float) -> float:
    visits = _visits(bases)
    turn = itertools.count()
    done = 0

    async def uploader(client: httpx.AsyncClient, stop: float) -> None:
        nonlocal done
        while time.perf_counter() < stop:
            i = next(turn)
            visit = visits[i % VISITS]
            on = [bases[(i + k) % len(bases)] for k in range(3)]
            auth = visit.auth_of(("patient", "clinician")[(i // 2) % 2])
            r = await client.post(f"{on[0]}/api/visits/{visit.id}/uploads", headers={
                **auth, **TUS, "Upload-Length": str(len(FILE)),
                "Upload-Metadata": tus_metadata(filename=f"b{i}.pdf",
                                                filetype="application/pdf")})
            assert r.status_code == 201, r.text
            path = r.headers["location"]
            r = await client.patch(on[1] + path, content=FILE, headers={
                **auth, **TUS, "Upload-Offset": "0",
                "Content-Type": "application/offset+octet-stream"})
            assert r.status_code == 204, r.text
            r = await client.post(f"{on[2]}/api/visits/{visit.id}/attachments", headers=auth,
                                  json={"upload_id": path.rsplit("/", 1)[1]})
            assert r.status_code == 201, r.text
            done += 1

    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=64)) as c:
        start = time.perf_counter()
        await asyncio.gather(*(uploader(c, start + seconds) for _ in range(UPLOADERS)))
        return done / (time.perf_counter() - start)


async def live_delays(poll_bases: list[str], post_bases: list[str], samples: int
                      ) -> list[float]:
    visit = Visit(post_bases[0])
    delays = []
    async with httpx.AsyncClient(timeout=40) as client:
        cursor = 0
        for i in range(samples):
            poll_on, post_on = poll_bases[i % len(poll_bases)], post_bases[i % len(post_bases)]
            url = f"/api/visits/{visit.id}/messages"
            poll = asyncio.ensure_future(client.get(
                poll_on + url, params={"after": cursor, "wait": 20},
                headers=visit.auth_of("clinician")))
            await asyncio.sleep(0.1)  # the poll is in and waiting
            assert not poll.done()
            sent = time.perf_counter()
            r = await client.post(post_on + url, json={"text": f"live {i}"}, headers=visit.auth)
            assert r.status_code == 201, r.text
            answer = await poll
            delays.append(time.perf_counter() - sent)
            body = answer.json()
            assert [m["text"] for m in body["messages"]] == [f"live {i}"], body
            cursor = body["cursor"]
    return delays


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.nodes",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=SECONDS)
    parser.add_argument("--samples", type=int, default=100, help="live delivery samples")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bifoga-bench-nodes-"))
    env = {"BIFOGA_RATE_LIMIT_PER_SECOND": "0", "BIFOGA_DB_POOL_SIZE": "20"}
    rows: list[dict[str, Any]] = []
    with PgCluster(durable=True) as pg:
        pg.sql("CREATE DATABASE bench")
        url = pg.url("bench")
        sqlite = ServerProcess(work / "sqlite" / "data", **env)
        a = ServerProcess(work / "a" / "data", DATABASE_URL=url, **env)
        b = ServerProcess(work / "b" / "data", DATABASE_URL=url, **env)
        try:
            for node in (sqlite, a, b):
                node.start(timeout=120)
            for name, bases in (("SQLite, 1 node", [sqlite.base]),
                                ("PostgreSQL, 1 node", [a.base]),
                                ("PostgreSQL, 2 nodes", [a.base, b.base])):
                msgs = asyncio.run(messages_per_second(bases, args.seconds))
                ups = asyncio.run(uploads_per_second(bases, args.seconds))
                rows.append({"setup": name, "messages_per_s": round(msgs, 1),
                             "uploads_per_s": round(ups, 2)})
                print(rows[-1], flush=True)
            cross = asyncio.run(live_delays([b.base, a.base], [a.base, b.base], args.samples))
            local = asyncio.run(live_delays([sqlite.base], [sqlite.base], args.samples))
        finally:
            for node in (sqlite, a, b):
                node.stop(kill=True)
    live = {
        "cross_node_pg": {"p50_ms": round(statistics.median(cross) * 1000, 1),
                          "p99_ms": round(percentile(cross, 99) * 1000, 1),
                          "max_ms": round(max(cross) * 1000, 1), "samples": len(cross)},
        "same_node_sqlite": {"p50_ms": round(statistics.median(local) * 1000, 1),
                             "p99_ms": round(percentile(local, 99) * 1000, 1),
                             "max_ms": round(max(local) * 1000, 1), "samples": len(local)},
    }
    lines = [
        "| setup | messages/s | uploads/s (256 KB) |",
        "| --- | ---: | ---: |",
        *(f"| {r['setup']} | {r['messages_per_s']} | {r['uploads_per_s']} |" for r in rows),
        "",
        "| live delivery (POST sent → long poll answered) | p50 ms | p99 ms | max ms |",
        "| --- | ---: | ---: | ---: |",
        "| PostgreSQL, posted on one node, poll on the other | "
        f"{live['cross_node_pg']['p50_ms']} | {live['cross_node_pg']['p99_ms']} | "
        f"{live['cross_node_pg']['max_ms']} |",
        "| SQLite, post and poll on the one node | "
        f"{live['same_node_sqlite']['p50_ms']} | {live['same_node_sqlite']['p99_ms']} | "
        f"{live['same_node_sqlite']['max_ms']} |",
    ]
    table = "\n".join(lines)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "nodes.md").write_text(table + "\n")
    (args.out / "nodes.json").write_text(json.dumps(
        {"throughput": rows, "live": live, "clients": CLIENTS, "uploaders": UPLOADERS,
         "seconds": args.seconds}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
