"""Serves the single-page app from a short whitelist of paths; everything else is 404.

The repository root also holds server/, data/, .venv and .git, so nothing is served by default.
"""

from __future__ import annotations

import mimetypes
import os
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Match, Route
from starlette.types import Scope

from server.errors import NotFound

ROOT_FILES = {
    "": "index.html",
    "index.html": "index.html",
    "main.py": "main.py",
    "worker.py": "worker.py",
    "worker_start.py": "worker_start.py",
    "light_start.py": "light_start.py",
    "light.toml": "light.toml",
    "pyscript.toml": "pyscript.toml",
    "worker.toml": "worker.toml",
}
PYTHON_PACKAGES = ("components", "adapters", "bifoga")
_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\.py")
_PACKAGE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SEGMENT = re.compile(r"[A-Za-z0-9_@+~=,-][A-Za-z0-9_.@+~=,-]*")

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".py": "text/plain; charset=utf-8",
    ".toml": "text/plain; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".wasm": "application/wasm",
    ".whl": "application/zip",
    ".zip": "application/zip",
    ".tar": "application/x-tar",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
}
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"


def resolve(app_dir: Path, path: str) -> Path | None:
    """Map a URL path (without the leading slash) to a whitelisted file, or None."""
    if path in ROOT_FILES:
        return app_dir / ROOT_FILES[path]
    parts = path.split("/")
    # A module of a package, or of one of its sub-packages (bifoga/media/sniff.py).
    if (2 <= len(parts) <= 3 and parts[0] in PYTHON_PACKAGES and _MODULE.fullmatch(parts[-1])
            and all(_PACKAGE.fullmatch(p) for p in parts[1:-1])):
        return app_dir.joinpath(*parts)
    # Every segment is checked, so "..", hidden files and backslashes never get through.
    if parts[0] == "static" and len(parts) > 1 and all(_SEGMENT.fullmatch(p) for p in parts[1:]):
        return app_dir.joinpath(*parts)
    return None


# Precompressed copies, best first: brotli is about a fifth smaller than gzip on the runtime.
PRECOMPRESSED = (("br", ".br"), ("gzip", ".gz"))


def accepted_encodings(header: str) -> set[str]:
    """The codings an Accept-Encoding header allows ("gzip, br;q=0" allows gzip only)."""
    accepted = set()
    for item in header.split(","):
        name, _, params = item.strip().partition(";")
        quality = params.strip().removeprefix("q=").strip() if params else "1"
        try:
            if float(quality) > 0 and name.strip():
                accepted.add(name.strip().lower())
        except ValueError:
            continue
    return accepted


def content_type(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in CONTENT_TYPES:
        return CONTENT_TYPES[suffix]
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def static_endpoint(app_dir: Path) -> Callable[[Request], Awaitable[Response]]:
    async def serve(request: Request) -> Response:
        path: str = request.path_params.get("path", "")
        target = resolve(app_dir, path)
        if target is None:
            raise NotFound()
        try:
            stat = os.stat(target)
        except OSError:
            raise NotFound() from None
        if not os.path.isfile(target):
            raise NotFound()
        # The runtime under static/vendor/ is versioned by directory name, so it never changes.
        vendored = path.startswith("static/vendor/")
        cache = IMMUTABLE if vendored else REVALIDATE
        headers = {"Cache-Control": cache}
        body, body_stat = target, stat
        # The set-up step wrote .br and .gz copies of the runtime (scripts/vendor_runtime.py)
        # and of the worker's memory snapshot (scripts/bundle_app.py): send the smallest the
        # client takes, as it is, rather than compress megabytes on every cold load.
        if vendored or path.startswith("static/build/"):
            accepted = accepted_encodings(request.headers.get("accept-encoding", ""))
            for encoding, suffix in PRECOMPRESSED:
                packed = target.with_name(target.name + suffix)
                if encoding in accepted and packed.is_file():
                    body, body_stat = packed, os.stat(packed)
                    headers.update({"Content-Encoding": encoding, "Vary": "Accept-Encoding"})
                    break
        response = FileResponse(body, stat_result=body_stat, media_type=content_type(target),
                                headers=headers)
        etag = response.headers.get("etag")
        if etag and etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers={"ETag": etag, "Cache-Control": cache})
        return response

    return serve


class AppFileRoute(Route):
    """The catch-all route of the app's files. It never matches an /api path: a GET on an API
    path that has no GET is then a 405 of the API route (with Allow), not a 404 of this one,
    and an unknown API path is a plain 404."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path = scope.get("path", "")
        if path == "/api" or path.startswith("/api/"):
            return Match.NONE, {}
        return super().matches(scope)


def routes(app_dir: Path) -> list[Route]:
    # Last route of the app, GET/HEAD only.
    return [AppFileRoute("/{path:path}", static_endpoint(app_dir), methods=["GET", "HEAD"])]
