"""The SPA uses only what openapi.yaml declares: the upload endpoint from the config, and
request headers the spec names for the operation they are sent to.

- bifoga/transfer/tus_client.py (the worker's tus client) runs for real against the app in process:
every   request it makes must be an operation of the spec, and every header it sends a declared
  parameter of that operation (values valid), the bearer token, or the declared body type.
- adapters/api_client.py, worker.py and bifoga/transfer/tus_client.py are read for the header names
  they put in requests (string dict keys and subscripts in Header-Case): each must be declared.
"""

from __future__ import annotations

import ast
import asyncio
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import schemathesis
import yaml

from bifoga.transfer.tus_client import Upload
from server.app import create_app
from tests.tus_io import HttpxTusIO

REPO = Path(__file__).resolve().parent.parent
SPEC_PATH = REPO / "openapi.yaml"
SPA_MODULES = ("adapters/api_client.py", "worker.py", "bifoga/transfer/tus_client.py")
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch"}
# A header name as the SPA writes one: Authorization, Content-Type, Upload-Offset...
_HEADER_NAME = re.compile(r"[A-Z][A-Za-z0-9]*(?:-[A-Z][A-Za-z0-9]*)*")


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def st_schema() -> Any:
    return schemathesis.openapi.from_path(SPEC_PATH)


def find_operation(spec: dict[str, Any], method: str, path: str) -> tuple[str, dict[str, Any]]:
    for template, item in spec["paths"].items():
        regex = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if method.lower() in item and re.match(regex, path):
            return template, item[method.lower()]
    raise AssertionError(f"{method} {path} is not an operation of openapi.yaml")


def request_media_types(spec: dict[str, Any]) -> set[str]:
    return {media for item in spec["paths"].values() for method, op in item.items()
            if method in HTTP_METHODS for media in op.get("requestBody", {}).get("content", {})}


def declared_header_names(spec: dict[str, Any]) -> set[str]:
    """Header parameters anywhere in the spec, plus Authorization (the bearer scheme) and
    Content-Type (request bodies declare theirs)."""
    names = {"authorization", "content-type"}
    for item in spec["paths"].values():
        for method, op in item.items():
            if method in HTTP_METHODS:
                for p in [*item.get("parameters", []), *op.get("parameters", [])]:
                    if "$ref" in p:
                        p = spec["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]]
                    if p["in"] == "header":
                        names.add(p["name"].lower())
    return names


class RecordingTusIO(HttpxTusIO):
    """What the tus client hands its adapter (the browser adds nothing else of its own)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[tuple[str, str, dict[str, str]]] = []

    async def control(self, method: str, url: str, headers: dict[str, str],
                      body: bytes = b"") -> Any:
        self.sent.append((method, url, dict(headers)))
        return await super().control(method, url, headers, body)

    async def send(self, url: str, headers: dict[str, str], start: int, end: int,
                   on_progress: Any) -> Any:
        self.sent.append(("PATCH", url, dict(headers)))
        return await super().send(url, headers, start, end, on_progress)


def run_tus_client(server_settings: Any) -> tuple[str, list[tuple[str, str, dict[str, str]]]]:
    """Create, send in two chunks, resume (HEAD) and terminate (DELETE) one upload; the
    endpoint comes from GET /api/config's upload_endpoint_template, as in the SPA."""
    app = create_app(server_settings)
    data = b"%PDF-1.4\n" + bytes(range(256)) * 40

    async def scenario() -> tuple[str, list[tuple[str, str, dict[str, str]]]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            visit = (await client.post("/api/visits", json={})).json()
            config = (await client.get("/api/config")).json()
            endpoint = "http://testserver" + config["upload_endpoint_template"].format(
                visit_id=visit["visit_id"])
            auth = {"Authorization": f"Bearer {visit['patient_token']}"}
            io = RecordingTusIO(data, client)
            # filetype "" is sent as a bare key, as the worker does for an unknown type.
            meta = {"filename": "Remiss åäö.pdf", "filetype": ""}
            first = Upload(io, endpoint, len(data), meta, headers=auth, chunk_size=6000)
            url = await first.start()
            again = Upload(io, endpoint, len(data), meta, headers=auth, url=url)
            assert await again.start() == url
            await again.cancel()
            return config["upload_endpoint_template"], io.sent

    return asyncio.run(scenario())


def test_tus_client_sends_only_declared_headers(spec: dict[str, Any], st_schema: Any,
                                                server_settings: Any) -> None:
    template, sent = run_tus_client(server_settings)
    assert find_operation(spec, "POST", template)[0] == template  # the creation endpoint
    assert [method for method, _, _ in sent] == ["POST", "PATCH", "PATCH", "HEAD", "DELETE"]
    for method, url, headers in sent:
        path_template, op = find_operation(spec, method, urlsplit(url).path)
        parameters = {p.name.lower(): p for p in st_schema[path_template][method.upper()]
                      .iter_parameters() if p.location.value == "header"}
        body_types = set(op.get("requestBody", {}).get("content", {}))
        for name, value in headers.items():
            lname = name.lower()
            if lname == "authorization":
                assert op.get("security", spec["security"]) and value.startswith("Bearer ")
            elif lname == "content-type":
                assert value in body_types, (method, path_template, value)
            else:
                assert lname in parameters, f"{method} {path_template}: {name} is undeclared"
                declared = parameters[lname]
                parsed: Any = int(value) if declared.optimized_schema.get(
                    "type") == "integer" else value
                assert declared.is_valid(parsed), (method, path_template, name, value)
        missing = {n for n, p in parameters.items() if p.is_required} - {
            n.lower() for n in headers}
        assert not missing - {"authorization"}, (method, path_template, missing)


def sent_header_names(source: str) -> set[tuple[str, int]]:
    """Header-Case strings used as dict keys or subscripts in a module: what it sends."""
    found: set[tuple[str, int]] = set()
    for node in ast.walk(ast.parse(source)):
        keys: list[ast.expr | None] = []
        if isinstance(node, ast.Dict):
            keys = list(node.keys)
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store):
            keys = [node.slice]
        for key in keys:
            if (isinstance(key, ast.Constant) and isinstance(key.value, str)
                    and _HEADER_NAME.fullmatch(key.value)):
                found.add((key.value, key.lineno))
    return found


@pytest.mark.parametrize("module", SPA_MODULES)
def test_spa_modules_send_only_declared_headers(spec: dict[str, Any], module: str) -> None:
    source = (REPO / module).read_text(encoding="utf-8")
    names = sent_header_names(source)
    assert any(name == "Authorization" for name, _ in names) or module.endswith("tus_client.py")
    undeclared = {(n, line) for n, line in names if n.lower() not in declared_header_names(spec)}
    assert not undeclared, f"{module} sends headers openapi.yaml does not declare: {undeclared}"
    # The body types the SPA names are request body types of the spec.
    for media in re.findall(r'"Content-Type"[^"]*"([^"]+)"', source):
        assert media in request_media_types(spec), (module, media)
