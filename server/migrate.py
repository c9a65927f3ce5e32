"""Schema migrations with Alembic: one history (server/migrations/versions/) for PostgreSQL.

`python -m server.migrate` upgrades the database named by DATABASE_URL to the newest revision;
a node also does it when it starts (concurrent starts wait for each other: see env.py).
SQLAlchemy Core is only Alembic's engine here: the store itself speaks SQL through psycopg.
"""

from __future__ import annotations

import os
from pathlib import Path

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def sqlalchemy_url(database_url: str) -> str:
    """postgresql://... as SQLAlchemy names the psycopg 3 driver."""
    scheme, sep, rest = database_url.partition("://")
    if scheme in ("postgresql", "postgres"):
        return f"postgresql+psycopg://{rest}"
    return database_url


def upgrade(database_url: str, revision: str = "head") -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # Alembic's config is a ConfigParser: a '%' in a password must be doubled.
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(database_url).replace("%", "%%"))
    command.upgrade(config, revision)


if __name__ == "__main__":
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        raise SystemExit("DATABASE_URL is not set (postgresql://USER@HOST:PORT/DB)")
    upgrade(url)
    print("schema at head")
