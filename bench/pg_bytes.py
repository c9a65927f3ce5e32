"""`python -m bench.pg_bytes`: attachment bytes in PostgreSQL, bytea rows of 1 MiB against large
objects, on a throwaway server with durable settings. The reason for server/pg_storage.py's
choice (bytea chunks); prints a Markdown table.

Each way writes FILES attachments of SIZE random (incompressible, like photos) bytes, each in
its own transaction as a finalisation does, then reads them all back, then deletes them:

* bytea: INSERT one row per 1 MiB (the column stored EXTERNAL: out of line, not compressed);
  read row by row; DELETE the rows.
* large objects: lo_from_bytea per 1 MiB piece appended with lo_put into one object, its oid in
  a row; read with lo_get per 1 MiB; delete the row AND lo_unlink (or it leaks: large objects
  are not deleted with the row that names them).
"""

from __future__ import annotations

import os
import time

import psycopg

from tests.pg import PgCluster

FILES, SIZE, CHUNK = 20, 10 * 1024 * 1024, 1024 * 1024


def bytea(conn: psycopg.Connection, blobs: list[bytes]) -> tuple[float, float, float]:
    conn.execute("CREATE TABLE c (name int, seq int, data bytea, PRIMARY KEY (name, seq))")
    conn.execute("ALTER TABLE c ALTER COLUMN data SET STORAGE EXTERNAL")
    t0 = time.perf_counter()
    for n, blob in enumerate(blobs):
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany("INSERT INTO c VALUES (%s, %s, %s)",
                            [(n, i // CHUNK, blob[i:i + CHUNK]) for i in range(0, SIZE, CHUNK)])
    t1 = time.perf_counter()
    for n, blob in enumerate(blobs):
        got = b"".join(conn.execute("SELECT data FROM c WHERE name = %s AND seq = %s",
                                    (n, s), binary=True).fetchone()[0]
                       for s in range(SIZE // CHUNK))
        assert got == blob
    t2 = time.perf_counter()
    for n in range(len(blobs)):
        conn.execute("DELETE FROM c WHERE name = %s", (n,))
    return t1 - t0, t2 - t1, time.perf_counter() - t2


def large_objects(conn: psycopg.Connection, blobs: list[bytes]) -> tuple[float, float, float]:
    conn.execute("CREATE TABLE l (name int PRIMARY KEY, oid oid)")
    t0 = time.perf_counter()
    for n, blob in enumerate(blobs):
        with conn.transaction():
            oid = conn.execute("SELECT lo_from_bytea(0, %s)", (blob[:CHUNK],)).fetchone()[0]
            for i in range(CHUNK, SIZE, CHUNK):
                conn.execute("SELECT lo_put(%s, %s, %s)", (oid, i, blob[i:i + CHUNK]))
            conn.execute("INSERT INTO l VALUES (%s, %s)", (n, oid))
    t1 = time.perf_counter()
    for n, blob in enumerate(blobs):
        oid = conn.execute("SELECT oid FROM l WHERE name = %s", (n,)).fetchone()[0]
        got = b"".join(conn.execute("SELECT lo_get(%s, %s, %s)", (oid, i, CHUNK),
                                    binary=True).fetchone()[0] for i in range(0, SIZE, CHUNK))
        assert got == blob
    t2 = time.perf_counter()
    for n in range(len(blobs)):
        with conn.transaction():
            oid = conn.execute("DELETE FROM l WHERE name = %s RETURNING oid", (n,)).fetchone()[0]
            conn.execute("SELECT lo_unlink(%s)", (oid,))
    return t1 - t0, t2 - t1, time.perf_counter() - t2


def main() -> int:
    blobs = [os.urandom(SIZE) for _ in range(FILES)]
    mib = FILES * SIZE / 1024 / 1024
    lines = ["| bytes as | write MiB/s | read MiB/s | delete s |", "| --- | ---: | ---: | ---: |"]
    with PgCluster(durable=True) as pg:
        for name, fn in (("bytea, 1 MiB rows", bytea), ("large objects", large_objects)):
            with psycopg.connect(pg.url(), autocommit=True) as conn:
                write, read, delete = fn(conn, blobs)
            lines.append(f"| {name} | {mib / write:.0f} | {mib / read:.0f} | {delete:.2f} |")
            print(lines[-1], flush=True)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
