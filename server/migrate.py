"""Schema migrations with Alembic: one history (server/migrations/versions/) for PostgreSQL.

`python -m server.migrate` upgrades the database named by DATABASE_URL to the newest revision;
a node also does it when it starts (concurrent starts wait for each other: see env.py).
SQLAlchemy Core is only Alembic's engine here: PgStorage itself speaks SQL through psycopg.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def sqlalchemy_url(database_url: str) -> str:
    """postgresql://... as SQLAlchemy names the psycopg 3 driver."""
    scheme, sep, rest = database_url.partition("://")
    if scheme in ("postgresql", "postgres"):
        return f"postgresql+psycopg://{rest}"
    return database_url


def _config(database_url: str) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # Alembic's config is a ConfigParser: a '%' in a password must be doubled.
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(database_url).replace("%", "%%"))
    return config


def at_head(database_url: str) -> bool:
    """Whether the database's schema is the newest (one query; no engine, no env.py)."""
    import psycopg
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config(database_url)).get_current_head()
    try:
        with psycopg.connect(database_url) as conn:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except psycopg.errors.UndefinedTable:
        return False
    return row is not None and row[0] == head


def upgrade(database_url: str, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(_config(database_url), revision)


def ensure_schema(database_url: str) -> None:
    """What a node does at start: upgrade unless the schema is at head already."""
    if not at_head(database_url):
        upgrade(database_url)


if __name__ == "__main__":
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        raise SystemExit("DATABASE_URL is not set (postgresql://USER@HOST:PORT/DB)")
    upgrade(url)
    print("schema at head")
